/** Cinder v3: volumes (creating -> available | error, in-use while attached), types, AZs, limits, quotas. */
import type { SimCoreImpl } from '../core.js';
import type { Store, Volume, VolumeAttachment } from './store.js';
import { type Ctx, type Route, route, send, isoMicro, parseMicroversion, cmpVersion } from './util.js';

export const CINDER_MIN: [number, number] = [3, 0];
export const CINDER_MAX: [number, number] = [3, 70];
type V = [number, number];
const ge = (v: V, a: number, b: number): boolean => cmpVersion(v, [a, b]) >= 0;

function err(ctx: Ctx, status: number, message: string): void {
  const key = ({ 400: 'badRequest', 403: 'forbidden', 404: 'itemNotFound', 409: 'conflictingRequest', 413: 'overLimit' } as Record<number, string>)[status] ?? 'computeFault';
  send(ctx.res, status, { [key]: { code: status, message, ...(status === 413 ? { retryAfter: '0' } : {}) } });
}

/** /attachments exists from 3.27; below it Cinder answers as for an unknown resource */
const ATTACHMENTS_MIN: [number, number] = [3, 27];
const NOT_FOUND = 'The resource could not be found.';

const IN_USE_MSG = 'Invalid volume: Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached, belong to a group, have snapshots, awaiting a transfer, or be disassociated from snapshots after volume transfer.';

/** the one cinder-volume service of the simulated cloud */
const VOLUME_SERVICE_UUID = '5f0b1a8e-7c3d-4e2a-9b6f-1d2c3e4f5a6b';

export class Cinder {
  /** user messages (GET /v3/{project}/messages), newest last */
  private readonly messages: { project: string; body: Record<string, unknown> }[] = [];

  constructor(private readonly core: SimCoreImpl, private readonly store: Store) {}

  routes(): Route[] {
    const mv = (fn: (ctx: Ctx, p: string[], v: V) => void) => (ctx: Ctx, p: string[]) => {
      const r = parseMicroversion(ctx.req.headers, 'volume', undefined, CINDER_MIN, CINDER_MAX);
      if (r.error) return err(ctx, 406, r.error);
      ctx.res.setHeader('OpenStack-API-Version', `volume ${r.version.join('.')}`);
      ctx.res.setHeader('Vary', 'OpenStack-API-Version');
      const [project] = p;
      if (project !== ctx.token!.projectId) return err(ctx, 400, 'Malformed request url');
      return fn(ctx, p.slice(1), r.version);
    };
    return [
      route('GET', '', (ctx) => send(ctx.res, 300, { versions: [this.versionDoc(ctx)] })),
      route('GET', '/v3', (ctx) => send(ctx.res, 200, { versions: [this.versionDoc(ctx)] })),
      route('GET', '/v3/:project/volumes', mv((ctx, _p, v) => this.list(ctx, false, v))),
      route('GET', '/v3/:project/volumes/detail', mv((ctx, _p, v) => this.list(ctx, true, v))),
      route('POST', '/v3/:project/volumes', mv((ctx, _p, v) => this.create(ctx, v))),
      route('GET', '/v3/:project/volumes/:id', mv((ctx, [id], v) => {
        const vol = this.own(ctx, id!);
        if (!vol) return err(ctx, 404, `Volume ${id} could not be found.`);
        send(ctx.res, 200, { volume: this.body(ctx, vol, v) });
      })),
      route('PUT', '/v3/:project/volumes/:id', mv((ctx, [id], v) => {
        const vol = this.own(ctx, id!);
        if (!vol) return err(ctx, 404, `Volume ${id} could not be found.`);
        const b = (ctx.body as { volume?: { name?: string; description?: string; metadata?: Record<string, string> } })?.volume;
        if (!b) return err(ctx, 400, 'Missing required element \'volume\' in request body.');
        if (b.name !== undefined) vol.name = b.name;
        if (b.description !== undefined) vol.description = b.description;
        if (b.metadata !== undefined) vol.metadata = b.metadata;
        vol.updated = this.core.now();
        send(ctx.res, 200, { volume: this.body(ctx, vol, v) });
      })),
      route('DELETE', '/v3/:project/volumes/:id', mv((ctx, [id]) => {
        const vol = this.own(ctx, id!);
        if (!vol) return err(ctx, 404, `Volume ${id} could not be found.`);
        if (vol.attachments.length || !['available', 'error', 'error_restoring', 'error_extending', 'error_managing'].includes(vol.status))
          return err(ctx, 400, IN_USE_MSG);
        this.deleteInternal(vol);
        send(ctx.res, 202);
      })),
      route('POST', '/v3/:project/volumes/:id/action', mv((ctx, [id]) => {
        const vol = this.own(ctx, id!);
        if (!vol) return err(ctx, 404, `Volume ${id} could not be found.`);
        const b = ctx.body as Record<string, { bootable?: unknown }> | undefined;
        if (b && 'os-set_bootable' in b) {
          vol.bootable = String(b['os-set_bootable']?.bootable).toLowerCase() === 'true';
          return send(ctx.res, 200);
        }
        return err(ctx, 400, `Invalid request body`);
      })),
      route('GET', '/v3/:project/attachments', mv((ctx, _p, v) => this.listAttachments(ctx, false, v))),
      route('GET', '/v3/:project/attachments/detail', mv((ctx, _p, v) => this.listAttachments(ctx, true, v))),
      route('GET', '/v3/:project/attachments/:id', mv((ctx, [id], v) => {
        if (!ge(v, ...ATTACHMENTS_MIN)) return err(ctx, 404, NOT_FOUND);
        const f = this.ownAttachment(ctx, id!);
        if (!f) return err(ctx, 404, `Volume attachment could not be found with filter: attachment_id = ${id}.`);
        send(ctx.res, 200, { attachment: this.attachmentBody(f.vol, f.a, true) });
      })),
      route('DELETE', '/v3/:project/attachments/:id', mv((ctx, [id], v) => this.deleteAttachment(ctx, id!, v))),
      // user messages (3.3+), filterable by resource_uuid: what a volume in error went wrong with
      route('GET', '/v3/:project/messages', mv((ctx, _p, v) => {
        if (!ge(v, 3, 3)) return err(ctx, 404, NOT_FOUND);
        const uuid = ctx.query.get('resource_uuid');
        send(ctx.res, 200, { messages: this.messages.filter((m) => m.project === ctx.token!.projectId && (!uuid || m.body.resource_uuid === uuid)).map((m) => m.body) });
      })),
      route('GET', '/v3/:project/types', mv((ctx) => send(ctx.res, 200, { volume_types: [...this.store.volumeTypes.values()].map((t) => this.typeBody(t)) }))),
      route('GET', '/v3/:project/types/default', mv((ctx) => send(ctx.res, 200, { volume_type: this.typeBody([...this.store.volumeTypes.values()][0]!) }))),
      route('GET', '/v3/:project/types/:id', mv((ctx, [id]) => {
        const t = this.store.volumeTypes.get(id!);
        if (!t) return err(ctx, 404, `Volume type ${id} could not be found.`);
        send(ctx.res, 200, { volume_type: this.typeBody(t) });
      })),
      route('GET', '/v3/:project/os-availability-zone', mv((ctx) =>
        send(ctx.res, 200, { availabilityZoneInfo: this.store.azs.map((z) => ({ zoneName: z, zoneState: { available: true } })) }))),
      route('GET', '/v3/:project/limits', mv((ctx) => {
        const q = this.store.quotas;
        const u = this.store.volumeUsage(ctx.token!.projectId);
        send(ctx.res, 200, {
          limits: {
            rate: [],
            absolute: {
              totalSnapshotsUsed: 0, maxTotalBackups: 10, maxTotalVolumeGigabytes: q.gigabytes, maxTotalSnapshots: 10, maxTotalBackupGigabytes: 1000,
              totalBackupGigabytesUsed: 0, maxTotalVolumes: q.volumes, totalVolumesUsed: u.volumes, totalBackupsUsed: 0, totalGigabytesUsed: u.gigabytes,
            },
          },
        });
      })),
      route('GET', '/v3/:project/os-quota-sets/:target', mv((ctx, [target]) => {
        const q = this.store.quotas;
        const u = this.store.volumeUsage(target!);
        const usage = ctx.query.get('usage') === 'true';
        const item = (limit: number, used: number): unknown => (usage ? { limit, in_use: used, reserved: 0 } : limit);
        const qs: Record<string, unknown> = { id: target, volumes: item(q.volumes, u.volumes), gigabytes: item(q.gigabytes, u.gigabytes), snapshots: item(10, 0), backups: item(10, 0), backup_gigabytes: item(1000, 0), per_volume_gigabytes: item(-1, 0), groups: item(10, 0) };
        // per volume type, as real Cinder lists them (unlimited unless set): volumes_<type>, gigabytes_<type>, snapshots_<type>
        for (const t of this.store.volumeTypes.values()) {
          const mine = [...this.store.volumes.values()].filter((x) => x.projectId === target && x.volumeType === t.id);
          qs[`volumes_${t.name}`] = item(-1, mine.length);
          qs[`gigabytes_${t.name}`] = item(-1, mine.reduce((a, x) => a + x.size, 0));
          qs[`snapshots_${t.name}`] = item(-1, 0);
        }
        send(ctx.res, 200, { quota_set: qs });
      })),
    ];
  }

  private versionDoc(ctx: Ctx): unknown {
    return {
      id: 'v3.0', status: 'CURRENT', version: CINDER_MAX.join('.'), min_version: CINDER_MIN.join('.'), updated: '2023-08-31T00:00:00Z',
      links: [{ href: `${ctx.base}/v3/`, rel: 'self' }], 'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.volume+json;version=3' }],
    };
  }

  // ---------------------------------------------------------------- attachments (3.27+)
  private ownAttachment(ctx: Ctx, id: string): { vol: Volume; a: VolumeAttachment } | undefined {
    for (const vol of this.store.volumes.values()) {
      if (vol.projectId !== ctx.token!.projectId) continue;
      const a = vol.attachments.find((x) => x.attachmentId === id);
      if (a) return { vol, a };
    }
    return undefined;
  }

  /** cinder/api/v3/views/attachments.py: summary {id,status,instance,volume_id}; detail adds times ('' when unset), attach_mode, connection_info */
  attachmentBody(vol: Volume, a: VolumeAttachment, detail: boolean): Record<string, unknown> {
    const b: Record<string, unknown> = { id: a.attachmentId, status: a.status, instance: a.serverId, volume_id: vol.id };
    if (!detail) return b;
    b.attached_at = a.attachedAt === null ? '' : isoMicro(a.attachedAt);
    b.detached_at = a.detachedAt === null ? '' : isoMicro(a.detachedAt);
    b.attach_mode = a.attachMode;
    // a reserved attachment has no connection yet; an attached one the driver's (iSCSI, no CHAP credentials simulated)
    b.connection_info = a.status === 'attached'
      ? { driver_volume_type: 'iscsi', data: { target_discovered: false, target_iqn: `iqn.2010-10.org.openstack:volume-${vol.id}`, target_portal: '192.168.122.10:3260', target_lun: 0, volume_id: vol.id, access_mode: a.attachMode ?? 'rw', encrypted: false, qos_specs: null, cacheable: false }, attachment_id: a.attachmentId }
      : null;
    return b;
  }

  private listAttachments(ctx: Ctx, detail: boolean, v: V): void {
    if (!ge(v, ...ATTACHMENTS_MIN)) return err(ctx, 404, NOT_FOUND);
    const q = ctx.query;
    const volumeId = q.get('volume_id');
    const instance = q.get('instance_id');
    const status = q.get('attach_status') ?? q.get('status');
    const limit = q.get('limit') !== null ? Number(q.get('limit')) : undefined;
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) return err(ctx, 400, `Invalid input received: limit must be a non-negative integer`);
    const offset = q.get('offset') !== null ? Number(q.get('offset')) : 0;
    if (!Number.isInteger(offset) || offset < 0) return err(ctx, 400, `Invalid input received: offset must be a non-negative integer`);
    const rows: { vol: Volume; a: VolumeAttachment }[] = [];
    for (const vol of this.store.volumes.values()) {
      if (vol.projectId !== ctx.token!.projectId) continue;
      if (volumeId !== null && vol.id !== volumeId) continue;
      for (const a of vol.attachments) {
        if (instance !== null && a.serverId !== instance) continue;
        if (status !== null && a.status !== status) continue;
        rows.push({ vol, a });
      }
    }
    // Cinder's default sort: created_at desc (ties: id desc)
    rows.sort((x, y) => y.a.created - x.a.created || (y.a.attachmentId < x.a.attachmentId ? -1 : y.a.attachmentId > x.a.attachmentId ? 1 : 0));
    let start = offset;
    const marker = q.get('marker');
    if (marker) {
      const i = rows.findIndex((r) => r.a.attachmentId === marker);
      if (i < 0) return err(ctx, 404, `Volume attachment could not be found with filter: attachment_id = ${marker}.`);
      start = i + 1 + offset;
    }
    const page = rows.slice(start, start + Math.min(limit ?? 1000, 1000));
    // no attachments_links: the view builder has none
    send(ctx.res, 200, { attachments: page.map((r) => this.attachmentBody(r.vol, r.a, detail)) });
  }

  private deleteAttachment(ctx: Ctx, id: string, v: V): void {
    if (!ge(v, ...ATTACHMENTS_MIN)) return err(ctx, 404, NOT_FOUND);
    const f = this.ownAttachment(ctx, id);
    if (!f) return err(ctx, 404, `Volume attachment could not be found with filter: attachment_id = ${id}.`);
    const { vol, a } = f;
    // attachment_deletion_allowed (bug #2004555, CVE-2023-2088): a user may not pull a connected attachment from
    // under a live server whose Nova BDM still names it; a reserved one (no connection_info) or one whose server
    // is gone may go
    const s = this.store.servers.get(a.serverId);
    if (a.status === 'attached' && s && s.volumes.some((x) => x.id === vol.id))
      return err(ctx, 409, `Detach volume from instance ${a.serverId} using the Compute API`);
    vol.attachments = vol.attachments.filter((x) => x !== a);
    this.store.afterDetach(vol);
    this.core.record('volume.attachment.deleted', vol.name || vol.id, { attachment: a.attachmentId, server: a.serverId });
    // returns the attachments left on the volume (summary view)
    send(ctx.res, 200, { attachments: vol.attachments.map((x) => this.attachmentBody(vol, x, false)) });
  }

  private typeBody(t: NonNullable<ReturnType<Store['volumeTypes']['get']>>): unknown {
    return { id: t.id, name: t.name, description: t.description, is_public: t.isPublic, extra_specs: t.extraSpecs, 'os-volume-type-access:is_public': t.isPublic, qos_specs_id: null };
  }

  private own(ctx: Ctx, id: string): Volume | undefined {
    const v = this.store.volumes.get(id);
    return v && v.projectId === ctx.token!.projectId ? v : undefined;
  }

  body(ctx: Ctx, vol: Volume, v: V): Record<string, unknown> {
    const self = `${ctx.base}/v3/${vol.projectId}/volumes/${vol.id}`;
    const type = this.store.volumeTypes.get(vol.volumeType);
    const img = vol.imageId ? this.store.images.get(vol.imageId) : undefined;
    const b: Record<string, unknown> = {
      // Cinder lists only attach_status=attached here: a reserved attachment (Nova's boot-from-volume before spawning) is invisible
      attachments: vol.attachments.filter((a) => a.status === 'attached').map((a) => ({ server_id: a.serverId, attachment_id: a.attachmentId, attached_at: isoMicro(a.attachedAt ?? a.created), host_name: null, volume_id: vol.id, device: a.device, id: vol.id })),
      availability_zone: vol.az,
      bootable: String(vol.bootable),
      consistencygroup_id: null,
      created_at: isoMicro(vol.created),
      description: vol.description,
      encrypted: false,
      id: vol.id,
      links: [{ href: self, rel: 'self' }, { href: self.replace('/v3/', '/'), rel: 'bookmark' }],
      metadata: vol.metadata,
      migration_status: null,
      multiattach: false,
      name: vol.name,
      'os-vol-tenant-attr:tenant_id': vol.projectId,
      replication_status: null,
      size: vol.size,
      snapshot_id: null,
      source_volid: null,
      status: vol.status,
      updated_at: vol.updated === null ? null : isoMicro(vol.updated),
      user_id: vol.userId,
      volume_type: type?.name ?? null,
    };
    if (img) b.volume_image_metadata = { image_id: img.id, image_name: img.name, min_disk: String(img.minDisk), min_ram: String(img.minRam), disk_format: img.diskFormat, container_format: img.containerFormat, size: String(img.size), checksum: img.checksum };
    if (ge(v, 3, 13)) b.group_id = null;
    if (ge(v, 3, 48)) {
      // until the scheduler has placed it, a new volume has no service and the DB default shared_targets=true
      const placed = vol.status !== 'creating';
      b.shared_targets = !placed;
      b.service_uuid = placed ? VOLUME_SERVICE_UUID : null;
    }
    if (ge(v, 3, 63)) b.volume_type_id = type?.id ?? null;
    if (ge(v, 3, 65)) b.consumes_quota = true;
    return b;
  }

  private list(ctx: Ctx, detail: boolean, v: V): void {
    const q = ctx.query;
    const project = ctx.token!.projectId;
    let meta: Record<string, string> | undefined;
    if (q.get('metadata')) {
      try { meta = JSON.parse(q.get('metadata')!.replace(/'/g, '"')) as Record<string, string>; } catch { return err(ctx, 400, `Invalid input received: Invalid filter metadata`); }
    }
    const filters: Record<string, string> = {};
    for (const k of ['name', 'status', 'availability_zone', 'bootable']) if (q.get(k) !== null) filters[k] = q.get(k)!;
    const limit = q.get('limit') !== null ? Number(q.get('limit')) : undefined;
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) return err(ctx, 400, `Invalid input received: limit must be a non-negative integer`);
    const marker = q.get('marker') ?? undefined;
    const all = [...this.store.volumes.values()].reverse().filter((x) => {
      if (x.projectId !== project) return false;
      if (filters.name !== undefined && x.name !== filters.name) return false;
      if (filters.status !== undefined && x.status !== filters.status) return false;
      if (filters.availability_zone !== undefined && x.az !== filters.availability_zone) return false;
      if (filters.bootable !== undefined && String(x.bootable) !== filters.bootable.toLowerCase()) return false;
      if (meta && !Object.entries(meta).every(([k, val]) => x.metadata[k] === val)) return false;
      return true;
    });
    let start = 0;
    if (marker) {
      const i = all.findIndex((x) => x.id === marker);
      if (i < 0) return err(ctx, 404, `Marker ${marker} could not be found.`);
      start = i + 1;
    }
    const eff = Math.min(limit ?? 1000, 1000);
    const page = all.slice(start, start + eff);
    const volumes = page.map((x) => (detail ? this.body(ctx, x, v) : { id: x.id, links: (this.body(ctx, x, v).links), name: x.name }));
    const out: Record<string, unknown> = { volumes };
    if (page.length === eff && start + eff < all.length) {
      const next = new URLSearchParams(q);
      next.set('limit', String(eff));
      next.set('marker', page[page.length - 1]!.id);
      out.volumes_links = [{ href: `${ctx.base}/v3/${project}/volumes${detail ? '/detail' : ''}?${next}`, rel: 'next' }];
    }
    send(ctx.res, 200, out);
  }

  /** the Cinder 413 message for a new volume of `size` GiB, or undefined when within quota */
  quotaError(projectId: string, size: number): string | undefined {
    const q = this.store.quotas;
    const u = this.store.volumeUsage(projectId);
    if (q.volumes >= 0 && u.volumes + 1 > q.volumes) return `Maximum number of volumes allowed (${q.volumes}) exceeded for quota 'volumes'.`;
    if (q.gigabytes >= 0 && u.gigabytes + size > q.gigabytes)
      return `Requested volume or snapshot exceeds allowed gigabytes quota. Requested ${size}G, quota is ${q.gigabytes}G and ${u.gigabytes}G has been consumed.`;
    return undefined;
  }

  private create(ctx: Ctx, v: V): void {
    if (ctx.req.bodyError) return err(ctx, 400, 'Malformed request body');
    const b = (ctx.body as { volume?: Record<string, unknown> } | undefined)?.volume;
    if (!b || typeof b !== 'object') return err(ctx, 400, "Invalid input for field/attribute volume. Value: None. None is not of type 'object'");
    const size = typeof b.size === 'string' && /^\d+$/.test(b.size) ? Number(b.size) : b.size;
    if (b.size === undefined && !b.snapshot_id && !b.source_volid) return err(ctx, 400, "Invalid input for field/attribute size. Value: None. None is not of type 'integer', 'string'");
    if (typeof size !== 'number' || !Number.isInteger(size) || size < 1) return err(ctx, 400, `Invalid input for field/attribute size. Value: ${String(b.size)}. ${JSON.stringify(b.size)} is less than the minimum of 1`);
    let az = 'nova';
    if (b.availability_zone !== undefined && b.availability_zone !== null) {
      if (!this.store.azs.includes(String(b.availability_zone))) return err(ctx, 400, `Invalid input received: Availability zone '${String(b.availability_zone)}' is invalid.`);
      az = String(b.availability_zone);
    }
    let typeId: string | undefined;
    if (b.volume_type !== undefined && b.volume_type !== null) {
      const t = this.store.volumeTypes.get(String(b.volume_type)) ?? [...this.store.volumeTypes.values()].find((x) => x.name === b.volume_type);
      if (!t) return err(ctx, 404, `Volume type with name ${String(b.volume_type)} could not be found.`);
      typeId = t.id;
    }
    let imageId: string | undefined;
    const imageRef = b.imageRef ?? b.image_id;
    if (imageRef !== undefined && imageRef !== null) {
      const img = this.store.images.get(String(imageRef)) ?? [...this.store.images.values()].find((i) => i.name === imageRef);
      if (!img) return err(ctx, 400, `Invalid image identifier or unable to access requested image.`);
      if (size < img.minDisk) return err(ctx, 400, `Invalid input received: Volume size ${size}GB cannot be smaller than the image minDisk size ${img.minDisk}GB.`);
      imageId = img.id;
    }
    const metadata: Record<string, string> = {};
    if (b.metadata !== undefined && b.metadata !== null) {
      if (typeof b.metadata !== 'object' || Array.isArray(b.metadata)) return err(ctx, 400, `Invalid input for field/attribute metadata. Value: ${JSON.stringify(b.metadata)}. ${JSON.stringify(b.metadata)} is not of type 'object'`);
      for (const [k, val] of Object.entries(b.metadata as Record<string, unknown>)) {
        if (typeof val !== 'string' || k.length > 255 || val.length > 255) return err(ctx, 400, `Invalid input for field/attribute metadata. Value: ${JSON.stringify(b.metadata)}. Invalid metadata: key and value must be strings of at most 255 characters`);
        metadata[k] = val;
      }
    }
    const qe = this.quotaError(ctx.token!.projectId, size);
    if (qe) {
      this.core.record('cinder.quota.refused', String(b.name ?? ''), {});
      return err(ctx, 413, qe);
    }
    const vol = this.createInternal({ projectId: ctx.token!.projectId, userId: ctx.token!.userId, size, imageId, az, name: typeof b.name === 'string' ? b.name : null, description: typeof b.description === 'string' ? b.description : null, volumeType: typeId, metadata });
    send(ctx.res, 202, { volume: this.body(ctx, vol, v) });
  }

  /** create a volume record and schedule creating -> available | error (also used by Nova boot-from-image-to-volume) */
  createInternal(o: { projectId: string; userId: string; size: number; imageId?: string; az: string; name: string | null; description?: string | null; volumeType?: string; metadata?: Record<string, string> }): Volume {
    const now = this.core.now();
    const type = o.volumeType ? (this.store.volumeTypes.get(o.volumeType) ?? [...this.store.volumeTypes.values()].find((t) => t.name === o.volumeType)) : undefined;
    const vol: Volume = {
      id: this.store.uuid(), name: o.name, description: o.description ?? null, size: o.size, status: 'creating', az: o.az,
      volumeType: type?.id ?? [...this.store.volumeTypes.keys()][0]!, bootable: !!o.imageId, imageId: o.imageId, metadata: o.metadata ?? {}, attachments: [],
      created: now, updated: null, projectId: o.projectId, userId: o.userId,
    };
    this.store.volumes.set(vol.id, vol);
    const fails = this.store.takeFault(this.core.scenario.faults?.volumeError, this.store.volumeErrorBudget, vol.name ?? '');
    const ms = this.core.resourceRng('volume', vol.name || vol.id).latency(this.core.scenario.latency?.volumeCreate ?? { uniform: [1300, 2300] });
    this.core.record('volume.create', vol.name ?? vol.id, { createMs: Math.round(ms), willFail: !!fails });
    this.core.schedule(ms, () => {
      if (!this.store.volumes.has(vol.id) || vol.status !== 'creating' && vol.status !== 'reserved') return;
      if (fails) {
        vol.status = 'error';
        this.core.record('volume.error', vol.name ?? vol.id);
        // what Cinder's scheduler records for the owner when no backend fits (event VOLUME_VOLUME_001_003, seen on Zed)
        const msg = fails.message ?? 'schedule allocate volume:Could not find any available weighted backend.';
        const at = this.core.now();
        this.messages.push({
          project: vol.projectId,
          body: {
            id: this.store.uuid(), event_id: fails.message ? 'VOLUME_VOLUME_001_000' : 'VOLUME_VOLUME_001_003', user_message: msg, message_level: 'ERROR',
            resource_type: 'VOLUME', resource_uuid: vol.id, created_at: isoMicro(at), guaranteed_until: isoMicro(at + 30 * 86400_000), request_id: `req-${this.store.uuid()}`,
          },
        });
      } else {
        // a volume Nova reserved while it was still being created stays attached
        vol.status = vol.attachments.length ? (vol.status === 'reserved' ? 'reserved' : 'in-use') : 'available';
        this.core.record('volume.available', vol.name ?? vol.id);
      }
      vol.updated = this.core.now();
    });
    return vol;
  }

  deleteInternal(vol: Volume): void {
    vol.status = 'deleting';
    vol.updated = this.core.now();
    const ms = this.core.resourceRng('volume-delete', vol.name || vol.id).latency(this.core.scenario.latency?.volumeDelete ?? 500);
    this.core.record('volume.delete', vol.name ?? vol.id);
    this.core.schedule(ms, () => {
      this.store.volumes.delete(vol.id);
      this.core.record('volume.deleted', vol.name ?? vol.id);
    });
  }
}
