/** Cinder v3 (block-storage) calls, microversion 3.59 (see client.ts). */
import type { CinderLimits, CreateVolumeRequest, ServiceCaller, Volume, VolumeApi, VolumeAttachment, VolumeMessage } from './types.js';

export function createVolumeApi(c: ServiceCaller): VolumeApi {
  return {
    async createVolume(req: CreateVolumeRequest): Promise<Volume> {
      const volume: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(req)) if (v !== undefined) volume[k] = v;
      const r = await c.call<{ volume: Volume }>('block-storage', 'POST', '/volumes', { body: { volume }, ok: [200, 202] });
      return r!.volume;
    },
    async getVolume(id: string): Promise<Volume | null> {
      const r = await c.call<{ volume: Volume }>('block-storage', 'GET', `/volumes/${encodeURIComponent(id)}`, { notFoundNull: true });
      return r ? r.volume : null;
    },
    async listVolumes(q: { name?: string; status?: string; metadata?: Record<string, string> } = {}): Promise<Volume[]> {
      return c.list<Volume>('block-storage', '/volumes/detail', 'volumes', {
        name: q.name,
        status: q.status,
        // Cinder parses the metadata filter as a dict literal; JSON is one
        metadata: q.metadata && Object.keys(q.metadata).length ? JSON.stringify(q.metadata) : undefined,
      });
    },
    async deleteVolume(id: string): Promise<void> {
      await c.call('block-storage', 'DELETE', `/volumes/${encodeURIComponent(id)}`, { notFoundNull: true, ok: [202, 204] });
    },
    async listAttachments(volumeId: string): Promise<VolumeAttachment[]> {
      return c.list<VolumeAttachment>('block-storage', '/attachments', 'attachments', { volume_id: volumeId });
    },
    async deleteAttachment(id: string): Promise<void> {
      await c.call('block-storage', 'DELETE', `/attachments/${encodeURIComponent(id)}`, { notFoundNull: true, ok: [200, 202, 204] });
    },
    async getLimits(): Promise<CinderLimits> {
      const r = await c.call<{ limits: { absolute: CinderLimits } }>('block-storage', 'GET', '/limits');
      return r!.limits.absolute;
    },
    async listMessages(resourceId: string): Promise<VolumeMessage[]> {
      // resource_uuid is a filter from 3.5 (kadd asks 3.59); the answer is not paged by default
      const r = await c.call<{ messages?: VolumeMessage[] }>('block-storage', 'GET', '/messages', { query: { resource_uuid: resourceId } });
      return [...(r?.messages ?? [])].sort((a, b) => (a.created_at ?? '').localeCompare(b.created_at ?? ''));
    },
    async listVolumeTypes(): Promise<{ id: string; name: string }[]> {
      const r = await c.call<{ volume_types: { id: string; name: string }[] }>('block-storage', 'GET', '/types');
      return (r?.volume_types ?? []).map((t) => ({ id: t.id, name: t.name }));
    },
  };
}
