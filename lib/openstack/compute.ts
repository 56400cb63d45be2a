/** Nova (compute) calls, microversion 2.67 (see client.ts). */
import { PreflightError } from '../errors.js';
import type { AvailabilityZone, ComputeApi, CreateServerRequest, Flavor, Keypair, ListServersQuery, NovaLimits, Server } from './types.js';
import type { ServiceCaller } from './client.js';

/** Nova's limit on the base64-encoded user_data. */
export const MAX_USER_DATA_BYTES = 65535;

export function encodeUserData(plain: string): string {
  const b64 = Buffer.from(plain, 'utf8').toString('base64');
  if (b64.length > MAX_USER_DATA_BYTES) {
    throw new PreflightError(`user_data is ${b64.length} bytes after base64, over Nova's limit of ${MAX_USER_DATA_BYTES}`, {
      code: 'E_USER_DATA_SIZE',
      hint: 'shrink the cloud-init payload (gzip it, or move files out of it)',
    });
  }
  return b64;
}

/** The POST /servers body: scheduler hints sit next to "server", user_data is base64. */
export function serverCreateBody(req: CreateServerRequest): Record<string, unknown> {
  const { user_data, user_data_base64, 'OS-SCH-HNT:scheduler_hints': hints, ...rest } = req;
  const server: Record<string, unknown> = { ...rest };
  if (user_data !== undefined && user_data_base64 !== undefined) throw new Error('createServer: give user_data or user_data_base64, not both');
  if (user_data !== undefined) server.user_data = encodeUserData(user_data);
  if (user_data_base64 !== undefined) {
    // already encoded (e.g. gzip-compressed cloud-config): sent as is, size still checked
    if (user_data_base64.length > MAX_USER_DATA_BYTES) {
      throw new PreflightError(`user_data is ${user_data_base64.length} bytes after base64, over Nova's limit of ${MAX_USER_DATA_BYTES}`, { code: 'E_USER_DATA_SIZE' });
    }
    server.user_data = user_data_base64;
  }
  for (const k of Object.keys(server)) if (server[k] === undefined) delete server[k];
  const body: Record<string, unknown> = { server };
  if (hints && Object.keys(hints).length > 0) body['OS-SCH-HNT:scheduler_hints'] = hints;
  return body;
}

export function createComputeApi(c: ServiceCaller): ComputeApi {
  return {
    async listFlavors(): Promise<Flavor[]> {
      return c.list<Flavor>('compute', '/flavors/detail', 'flavors');
    },
    async getKeypair(name: string): Promise<Keypair | null> {
      const r = await c.call<{ keypair: Keypair }>('compute', 'GET', `/os-keypairs/${encodeURIComponent(name)}`, { notFoundNull: true });
      return r ? r.keypair : null;
    },
    async listAvailabilityZones(): Promise<AvailabilityZone[]> {
      const r = await c.call<{ availabilityZoneInfo: AvailabilityZone[] }>('compute', 'GET', '/os-availability-zone');
      return r?.availabilityZoneInfo ?? [];
    },
    async getLimits(): Promise<NovaLimits> {
      const r = await c.call<{ limits: { absolute: NovaLimits } }>('compute', 'GET', '/limits');
      return r!.limits.absolute;
    },
    async createServer(req: CreateServerRequest): Promise<{ id: string }> {
      const body = serverCreateBody(req);
      const r = await c.call<{ server: { id: string } }>('compute', 'POST', '/servers', { body, ok: [200, 202] });
      return { id: r!.server.id };
    },
    async listServers(q: ListServersQuery = {}): Promise<Server[]> {
      return c.list<Server>('compute', '/servers/detail', 'servers', {
        name: q.name,
        status: q.status,
        // Nova: tags=a,b matches servers carrying all of them
        tags: q.tags && q.tags.length ? q.tags.join(',') : undefined,
        limit: q.limit,
      });
    },
    async getServer(id: string): Promise<Server | null> {
      const r = await c.call<{ server: Server }>('compute', 'GET', `/servers/${encodeURIComponent(id)}`, { notFoundNull: true });
      return r ? r.server : null;
    },
    async deleteServer(id: string): Promise<void> {
      await c.call('compute', 'DELETE', `/servers/${encodeURIComponent(id)}`, { notFoundNull: true, ok: [202, 204] });
    },
    async getConsoleOutput(id: string, length?: number): Promise<string> {
      const action: Record<string, unknown> = {};
      if (length !== undefined) action.length = length;
      const r = await c.call<{ output: string }>('compute', 'POST', `/servers/${encodeURIComponent(id)}/action`, {
        body: { 'os-getConsoleOutput': action },
        // reading the console has no side effect: safe to repeat
        idempotent: true,
      });
      return r?.output ?? '';
    },
  };
}
