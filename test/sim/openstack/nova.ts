/** Nova (compute v2.1): flavors, keypairs, availability zones, limits, servers, server groups, console output. */
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import type { SimCoreImpl } from '../core.js';
import type { SimServerInfo } from '../contract.js';
import type { Store, Server, ServerGroup, Port, Volume } from './store.js';
import type { Cinder } from './cinder.js';
import { type Ctx, type Route, route, send, isoZ, parseMicroversion, cmpVersion, parseTime } from './util.js';

/** What cloud-init sees: base64-decoded, and inflated when gzip-compressed (cloud-init detects the magic bytes). */
export function decodeUserData(b64: string): string {
  const raw = Buffer.from(b64, 'base64');
  if (raw.length > 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      return gunzipSync(raw).toString('utf8');
    } catch {
      return raw.toString('latin1');
    }
  }
  return raw.toString('utf8');
}

export const NOVA_MIN: [number, number] = [2, 1];
export const NOVA_MAX: [number, number] = [2, 93];
const MAX_LIMIT = 1000;

type V = [number, number];
const ge = (v: V, maj: number, min: number): boolean => cmpVersion(v, [maj, min]) >= 0;

function err(ctx: Ctx, status: number, message: string): void {
  const key = ({ 400: 'badRequest', 403: 'forbidden', 404: 'itemNotFound', 409: 'conflictingRequest', 413: 'overLimit' } as Record<number, string>)[status] ?? 'computeFault';
  send(ctx.res, status, { [key]: { code: status, message } });
}
function schemaErr(ctx: Ctx, field: string, value: unknown, reason: string): void {
  err(ctx, 400, `Invalid input for field/attribute ${field}. Value: ${typeof value === 'string' ? value : JSON.stringify(value)}. ${reason}`);
}

/** a stable block-device-mapping uuid for (server, volume) */
function bdmUuid(serverId: string, volumeId: string): string {
  const h = createHash('sha1').update(`bdm/${serverId}/${volumeId}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const UUID_RE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
const GROUP_POLICIES = ['anti-affinity', 'affinity', 'soft-anti-affinity', 'soft-affinity'];
/** Nova's default quotas: server_groups and server_group_members */
const MAX_SERVER_GROUPS = 10;
const MAX_GROUP_MEMBERS = 10;
export const NO_VALID_HOST = 'No valid host was found. There are not enough hosts available.';

const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export class Nova {
  constructor(private readonly core: SimCoreImpl, private readonly store: Store, private readonly cinder: Cinder) {}

  /** nova base URL for links */
  private link(ctx: Ctx, rest: string): { self: string; bookmark: string } {
    return { self: `${ctx.base}/v2.1${rest}`, bookmark: `${ctx.base}${rest}` };
  }

  routes(): Route[] {
    const mv = (fn: (ctx: Ctx, p: string[], v: V) => void | Promise<void>) => (ctx: Ctx, p: string[]) => {
      const r = parseMicroversion(ctx.req.headers, 'compute', 'x-openstack-nova-api-version', NOVA_MIN, NOVA_MAX);
      if (r.error) return err(ctx, 406, r.error);
      const vs = r.version.join('.');
      ctx.res.setHeader('OpenStack-API-Version', `compute ${vs}`);
      ctx.res.setHeader('X-OpenStack-Nova-API-Version', vs);
      ctx.res.setHeader('Vary', 'OpenStack-API-Version, X-OpenStack-Nova-API-Version');
      return fn(ctx, p, r.version);
    };
    return [
      route('GET', '', (ctx) => send(ctx.res, 200, { versions: [this.versionDoc(ctx)] })),
      route('GET', '/v2.1', (ctx) => send(ctx.res, 200, { version: this.versionDoc(ctx) })),
      route('GET', '/v2.1/flavors', mv((ctx) => this.listFlavors(ctx, false))),
      route('GET', '/v2.1/flavors/detail', mv((ctx, _p, v) => this.listFlavors(ctx, true, v))),
      route('GET', '/v2.1/flavors/:id', mv((ctx, [id], v) => {
        const f = this.findFlavor(id!);
        if (!f) return err(ctx, 404, `Flavor ${id} could not be found.`);
        send(ctx.res, 200, { flavor: this.flavorBody(ctx, f, true, v) });
      })),
      route('GET', '/v2.1/os-keypairs', mv((ctx, _p, v) => {
        const list = [...this.store.keypairs.values()].filter((k) => k.userId === ctx.token!.userId);
        send(ctx.res, 200, { keypairs: list.map((k) => ({ keypair: { name: k.name, public_key: k.publicKey, fingerprint: k.fingerprint, ...(ge(v, 2, 2) ? { type: k.type } : {}) } })) });
      })),
      route('GET', '/v2.1/os-keypairs/:name', mv((ctx, [name], v) => {
        const k = this.store.keypairs.get(name!);
        if (!k || k.userId !== ctx.token!.userId) return err(ctx, 404, `Keypair ${name} not found for user ${ctx.token!.userId}`);
        send(ctx.res, 200, { keypair: { name: k.name, public_key: k.publicKey, fingerprint: k.fingerprint, user_id: k.userId, id: k.id, created_at: isoZ(k.created).replace('Z', '.000000'), deleted: false, deleted_at: null, updated_at: null, ...(ge(v, 2, 2) ? { type: k.type } : {}) } });
      })),
      route('POST', '/v2.1/os-keypairs', mv((ctx, _p, v) => this.createKeypair(ctx, v))),
      route('DELETE', '/v2.1/os-keypairs/:name', mv((ctx, [name]) => {
        const k = this.store.keypairs.get(name!);
        if (!k || k.userId !== ctx.token!.userId) return err(ctx, 404, `Keypair ${name} not found for user ${ctx.token!.userId}`);
        this.store.keypairs.delete(name!);
        send(ctx.res, ctx.token ? 202 : 204);
      })),
      route('GET', '/v2.1/os-availability-zone', mv((ctx) =>
        send(ctx.res, 200, { availabilityZoneInfo: this.store.azs.map((z) => ({ zoneName: z, zoneState: { available: true }, hosts: null })) }))),
      route('GET', '/v2.1/limits', mv((ctx, _p, v) => this.limits(ctx, v))),
      route('GET', '/v2.1/os-quota-sets/:project', mv((ctx, [p]) => this.quotaSet(ctx, p!, ctx.query.has('usage') ? false : true))),
      route('GET', '/v2.1/os-quota-sets/:project/detail', mv((ctx, [p]) => this.quotaSet(ctx, p!, false))),
      route('GET', '/v2.1/os-server-groups', mv((ctx, _p, v) => this.listServerGroups(ctx, v))),
      route('POST', '/v2.1/os-server-groups', mv((ctx, _p, v) => this.createServerGroup(ctx, v))),
      route('GET', '/v2.1/os-server-groups/:id', mv((ctx, [id], v) => {
        const g = this.ownGroup(ctx, id!);
        if (!g) return err(ctx, 404, `Instance group ${id} could not be found.`);
        send(ctx.res, 200, { server_group: this.groupBody(g, v) });
      })),
      route('DELETE', '/v2.1/os-server-groups/:id', mv((ctx, [id]) => {
        const g = this.ownGroup(ctx, id!);
        if (!g) return err(ctx, 404, `Instance group ${id} could not be found.`);
        this.store.serverGroups.delete(g.id);
        for (const sid of g.members) {
          const m = this.store.servers.get(sid);
          if (m?.groupId === g.id) m.groupId = undefined;
        }
        this.core.record('nova.servergroup.deleted', g.name);
        send(ctx.res, 204);
      })),
      route('GET', '/v2.1/servers', mv((ctx, _p, v) => this.listServers(ctx, false, v))),
      route('GET', '/v2.1/servers/detail', mv((ctx, _p, v) => this.listServers(ctx, true, v))),
      route('POST', '/v2.1/servers', mv((ctx, _p, v) => this.createServer(ctx, v))),
      route('GET', '/v2.1/servers/:id', mv((ctx, [id], v) => {
        const s = this.ownServer(ctx, id!);
        if (!s) return err(ctx, 404, `Instance ${id} could not be found.`);
        send(ctx.res, 200, { server: this.serverDetail(ctx, s, v) });
      })),
      route('DELETE', '/v2.1/servers/:id', mv((ctx, [id]) => this.deleteServer(ctx, id!))),
      route('POST', '/v2.1/servers/:id/action', mv((ctx, [id], v) => this.action(ctx, id!, v))),
      route('GET', '/v2.1/servers/:id/os-interface', mv((ctx, [id], v) => {
        const s = this.ownServer(ctx, id!);
        if (!s) return err(ctx, 404, `Instance ${id} could not be found.`);
        const ifs = s.ports.map((pid) => this.store.ports.get(pid)).filter((p): p is Port => !!p).map((p) => ({
          port_state: p.status, fixed_ips: p.fixedIps, port_id: p.id, net_id: p.networkId, mac_addr: p.mac, ...(ge(v, 2, 70) ? { tag: null } : {}),
        }));
        send(ctx.res, 200, { interfaceAttachments: ifs });
      })),
      route('GET', '/v2.1/servers/:id/os-volume_attachments', mv((ctx, [id], v) => {
        const s = this.ownServer(ctx, id!);
        if (!s) return err(ctx, 404, `Instance ${id} could not be found.`);
        send(ctx.res, 200, {
          volumeAttachments: s.volumes.map((sv, i) => ({
            device: i === 0 ? '/dev/vda' : `/dev/vd${String.fromCharCode(97 + i)}`, ...(ge(v, 2, 89) ? {} : { id: sv.id }), serverId: s.id, volumeId: sv.id,
            ...(ge(v, 2, 70) ? { tag: null } : {}), ...(ge(v, 2, 79) ? { delete_on_termination: sv.deleteOnTermination } : {}),
            ...(ge(v, 2, 89) ? { attachment_id: this.store.volumes.get(sv.id)?.attachments.find((a) => a.serverId === s.id)?.attachmentId ?? null, bdm_uuid: bdmUuid(s.id, sv.id) } : {}),
          })),
        });
      })),
      route('GET', '/v2.1/servers/:id/metadata', mv((ctx, [id]) => {
        const s = this.ownServer(ctx, id!);
        if (!s) return err(ctx, 404, `Instance ${id} could not be found.`);
        send(ctx.res, 200, { metadata: s.metadata });
      })),
      route('GET', '/v2.1/servers/:id/tags', mv((ctx, [id], v) => {
        if (!ge(v, 2, 26)) return err(ctx, 404, 'The resource could not be found.');
        const s = this.ownServer(ctx, id!);
        if (!s) return err(ctx, 404, `Instance ${id} could not be found.`);
        send(ctx.res, 200, { tags: s.tags });
      })),
    ];
  }

  private versionDoc(ctx: Ctx): unknown {
    return {
      id: 'v2.1', status: 'CURRENT', version: NOVA_MAX.join('.'), min_version: NOVA_MIN.join('.'), updated: '2013-07-23T11:33:21Z',
      links: [{ rel: 'self', href: `${ctx.base}/v2.1/` }],
      'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.compute+json;version=2.1' }],
    };
  }

  private findFlavor(idOrRef: string): ReturnType<Store['flavors']['get']> {
    const id = idOrRef.replace(/^.*\/flavors\//, '');
    return this.store.flavors.get(id);
  }

  private flavorBody(ctx: Ctx, f: NonNullable<ReturnType<Store['flavors']['get']>>, detail: boolean, v?: V): unknown {
    const l = this.link(ctx, `/flavors/${f.id}`);
    const base = { id: f.id, name: f.name, links: [{ href: l.self, rel: 'self' }, { href: l.bookmark, rel: 'bookmark' }], ...(v && ge(v, 2, 55) ? { description: f.description } : {}) };
    if (!detail) return base;
    return {
      ...base, ram: f.ram, disk: f.disk, vcpus: f.vcpus, swap: f.swap === 0 && !(v && ge(v, 2, 75)) ? '' : f.swap /* 2.75+: 0, not "" */, 'OS-FLV-EXT-DATA:ephemeral': f.ephemeral,
      'OS-FLV-DISABLED:disabled': false, 'os-flavor-access:is_public': f.isPublic, rxtx_factor: 1.0,
      ...(v && ge(v, 2, 61) ? { extra_specs: f.extraSpecs } : {}),
    };
  }

  private listFlavors(ctx: Ctx, detail: boolean, v?: V): void {
    let list = [...this.store.flavors.values()];
    const minRam = Number(ctx.query.get('minRam') ?? 0), minDisk = Number(ctx.query.get('minDisk') ?? 0);
    list = list.filter((f) => f.ram >= minRam && f.disk >= minDisk);
    send(ctx.res, 200, { flavors: list.map((f) => this.flavorBody(ctx, f, detail, v)) });
  }

  private createKeypair(ctx: Ctx, v: V): void {
    const b = (ctx.body as { keypair?: { name?: unknown; public_key?: unknown; type?: unknown } })?.keypair;
    if (!b) return schemaErr(ctx, 'keypair', null, "'keypair' is a required property");
    if (typeof b.name !== 'string' || !/^[a-zA-Z0-9 _.@-]{1,255}$/.test(b.name)) return schemaErr(ctx, 'name', b.name, 'Keypair name contains unsafe characters');
    if (this.store.keypairs.has(b.name)) return err(ctx, 409, `Key pair '${b.name}' already exists.`);
    if (typeof b.public_key !== 'string') {
      if (ge(v, 2, 92)) return schemaErr(ctx, 'keypair', b, "'public_key' is a required property");
      return err(ctx, 400, 'Key pair generation is not simulated; pass public_key');
    }
    const kp = { name: b.name, publicKey: b.public_key, fingerprint: fingerprint(b.public_key), type: typeof b.type === 'string' ? b.type : 'ssh', userId: ctx.token!.userId, created: this.store.now(), id: this.store.nextKeypairId() };
    this.store.keypairs.set(kp.name, kp);
    send(ctx.res, ge(v, 2, 2) ? 201 : 200, { keypair: { name: kp.name, public_key: kp.publicKey, fingerprint: kp.fingerprint, user_id: kp.userId, ...(ge(v, 2, 2) ? { type: kp.type } : {}) } });
  }

  private limits(ctx: Ctx, v: V): void {
    const q = this.store.quotas;
    const u = this.store.computeUsage(ctx.token!.projectId);
    const kp = [...this.store.keypairs.values()].filter((k) => k.userId === ctx.token!.userId).length;
    const absolute: Record<string, number> = {
      maxImageMeta: 128, maxPersonality: 5, maxPersonalitySize: 10240, maxServerMeta: q.metadata_items, maxServerGroupMembers: MAX_GROUP_MEMBERS, maxServerGroups: MAX_SERVER_GROUPS,
      maxTotalCores: q.cores, maxTotalInstances: q.instances, maxTotalKeypairs: q.key_pairs, maxTotalRAMSize: q.ram,
      totalCoresUsed: u.cores, totalInstancesUsed: u.instances, totalRAMUsed: u.ram, totalServerGroupsUsed: this.store.countByProject(this.store.serverGroups, ctx.token!.projectId),
      maxSecurityGroupRules: 20, maxSecurityGroups: 10, maxTotalFloatingIps: 10, totalFloatingIpsUsed: 0, totalSecurityGroupsUsed: 0,
    };
    if (ge(v, 2, 36)) for (const k of ['maxSecurityGroupRules', 'maxSecurityGroups', 'maxTotalFloatingIps', 'totalFloatingIpsUsed', 'totalSecurityGroupsUsed']) delete absolute[k];
    if (ge(v, 2, 57)) for (const k of ['maxPersonality', 'maxPersonalitySize']) delete absolute[k];
    void kp;
    send(ctx.res, 200, { limits: { absolute, rate: [] } });
  }

  private quotaSet(ctx: Ctx, projectId: string, plain: boolean): void {
    const q = this.store.quotas;
    const u = this.store.computeUsage(projectId);
    const item = (limit: number, used: number): unknown => (plain ? limit : { limit, in_use: used, reserved: 0 });
    send(ctx.res, 200, {
      quota_set: {
        id: projectId, cores: item(q.cores, u.cores), instances: item(q.instances, u.instances), ram: item(q.ram, u.ram), key_pairs: item(q.key_pairs, 0),
        metadata_items: item(q.metadata_items, 0), server_groups: item(MAX_SERVER_GROUPS, this.store.countByProject(this.store.serverGroups, projectId)), server_group_members: item(MAX_GROUP_MEMBERS, 0),
      },
    });
  }

  // ---------------------------------------------------------------- server groups
  private ownGroup(ctx: Ctx, id: string): ServerGroup | undefined {
    const g = this.store.serverGroups.get(id);
    return g && g.projectId === ctx.token!.projectId ? g : undefined;
  }

  /** 2.64+: policy + rules (no policies, no metadata); 2.13+: project_id, user_id; members: servers not deleted */
  private groupBody(g: ServerGroup, v: V): Record<string, unknown> {
    const body: Record<string, unknown> = { id: g.id, name: g.name };
    if (ge(v, 2, 64)) {
      body.policy = g.policy;
      body.rules = { ...g.rules };
      body.members = [...g.members];
    } else {
      body.policies = [g.policy];
      body.members = [...g.members];
      body.metadata = {};
    }
    if (ge(v, 2, 13)) {
      body.project_id = g.projectId;
      body.user_id = g.userId;
    }
    return body;
  }

  /** GET /os-server-groups: the project's groups, limit/offset like api.openstack.common.limited, no links */
  private listServerGroups(ctx: Ctx, v: V): void {
    const num = (k: string): number | undefined | null => {
      const raw = ctx.query.get(k);
      if (raw === null) return undefined;
      const n = Number(raw);
      return /^\d+$/.test(raw) && Number.isSafeInteger(n) ? n : null;
    };
    const limit = num('limit');
    const offset = num('offset');
    if (limit === null) return schemaErr(ctx, 'limit', ctx.query.get('limit'), `'${ctx.query.get('limit')}' does not match '^[0-9]*$'`);
    if (offset === null) return schemaErr(ctx, 'offset', ctx.query.get('offset'), `'${ctx.query.get('offset')}' does not match '^[0-9]*$'`);
    const all = [...this.store.serverGroups.values()].filter((g) => g.projectId === ctx.token!.projectId);
    const start = offset ?? 0;
    const page = all.slice(start, start + Math.min(limit ?? MAX_LIMIT, MAX_LIMIT));
    send(ctx.res, 200, { server_groups: page.map((g) => this.groupBody(g, v)) });
  }

  /** POST /os-server-groups: schema per microversion (policies list before 2.64, policy + rules after; soft-* from 2.15) */
  private createServerGroup(ctx: Ctx, v: V): void {
    if (ctx.req.bodyError) return err(ctx, 400, 'Malformed request body');
    const b = (ctx.body as { server_group?: Record<string, unknown> } | undefined)?.server_group;
    if (!b || typeof b !== 'object' || Array.isArray(b)) return schemaErr(ctx, 'server_group', b ?? 'None', "'server_group' is a required property");
    const allowed = ge(v, 2, 64) ? ['name', 'policy', 'rules'] : ['name', 'policies'];
    for (const k of Object.keys(b)) if (!allowed.includes(k)) return schemaErr(ctx, 'server_group', b, `Additional properties are not allowed ('${k}' was unexpected)`);
    const name = b.name;
    if (name === undefined) return schemaErr(ctx, 'server_group', b, "'name' is a required property");
    if (typeof name !== 'string') return schemaErr(ctx, 'name', name, `${JSON.stringify(name)} is not of type 'string'`);
    if (name.length < 1 || name.length > 255 || name.trim() !== name) return schemaErr(ctx, 'name', name, `'${name}' does not match '^(?! )[a-zA-Z0-9. _-]+(?<! )$'`);
    const known = ge(v, 2, 15) ? GROUP_POLICIES : GROUP_POLICIES.slice(0, 2);
    let policy: string;
    const rules: ServerGroup['rules'] = {};
    if (ge(v, 2, 64)) {
      if (b.policy === undefined) return schemaErr(ctx, 'server_group', b, "'policy' is a required property");
      if (typeof b.policy !== 'string' || !known.includes(b.policy)) return schemaErr(ctx, 'policy', b.policy, `'${String(b.policy)}' is not one of ${JSON.stringify(known).replace(/"/g, "'").replace(/,/g, ', ')}`);
      policy = b.policy;
      if (b.rules !== undefined) {
        const r = b.rules as Record<string, unknown>;
        if (typeof r !== 'object' || r === null || Array.isArray(r)) return schemaErr(ctx, 'rules', r, `${JSON.stringify(r)} is not of type 'object'`);
        for (const k of Object.keys(r)) if (k !== 'max_server_per_host') return schemaErr(ctx, 'rules', r, `Additional properties are not allowed ('${k}' was unexpected)`);
        if (r.max_server_per_host !== undefined) {
          const n = r.max_server_per_host;
          if (!(Number.isInteger(n) && (n as number) >= 1)) return schemaErr(ctx, 'max_server_per_host', n, `${JSON.stringify(n)} is less than the minimum of 1`);
          if (policy !== 'anti-affinity') return err(ctx, 400, 'Only anti-affinity policy supports rules.');
          rules.max_server_per_host = n as number;
        }
      }
    } else {
      const ps = b.policies;
      if (ps === undefined) return schemaErr(ctx, 'server_group', b, "'policies' is a required property");
      if (!Array.isArray(ps)) return schemaErr(ctx, 'policies', ps, `${JSON.stringify(ps)} is not of type 'array'`);
      if (ps.length !== 1) return schemaErr(ctx, 'policies', ps, ps.length === 0 ? '[] is too short' : `${JSON.stringify(ps)} is too long`);
      if (typeof ps[0] !== 'string' || !known.includes(ps[0])) return schemaErr(ctx, 'policies/0', ps[0], `'${String(ps[0])}' is not one of ${JSON.stringify(known).replace(/"/g, "'").replace(/,/g, ', ')}`);
      policy = ps[0];
    }
    const project = ctx.token!.projectId;
    if (this.store.countByProject(this.store.serverGroups, project) >= MAX_SERVER_GROUPS) return err(ctx, 403, 'Quota exceeded, too many server groups.');
    const g: ServerGroup = { id: this.store.uuid(), name, policy, rules, members: [], projectId: project, userId: ctx.token!.userId };
    this.store.serverGroups.set(g.id, g);
    this.core.record('nova.servergroup.created', name, { policy });
    send(ctx.res, 200, { server_group: this.groupBody(g, v) });
  }

  /**
   * The scheduler's host for a new server in `az`: the first host of the zone without a group; with one, what
   * the group's filter/weigher allows (ServerGroupAntiAffinityFilter with max_server_per_host, ServerGroupAffinityFilter,
   * the soft weighers). '' when no host passes: NoValidHost.
   */
  private pickHost(az: string, g: ServerGroup | undefined): string {
    const hosts = this.store.hostsOf(az);
    if (!g) return hosts[0]!;
    const count = new Map<string, number>();
    for (const sid of g.members) {
      const m = this.store.servers.get(sid);
      const h = m && this.store.hostOf(m);
      if (h) count.set(h, (count.get(h) ?? 0) + 1);
    }
    const n = (h: string): number => count.get(h) ?? 0;
    switch (g.policy) {
      case 'anti-affinity': {
        const max = g.rules.max_server_per_host ?? 1;
        return hosts.find((h) => n(h) < max) ?? '';
      }
      case 'affinity': {
        const used = [...count.keys()];
        if (used.length === 0) return hosts[0]!;
        return hosts.includes(used[0]!) ? used[0]! : '';
      }
      case 'soft-anti-affinity':
        return hosts.reduce((best, h) => (n(h) < n(best) ? h : best), hosts[0]!);
      default: // soft-affinity
        return hosts.reduce((best, h) => (n(h) > n(best) ? h : best), hosts[0]!);
    }
  }

  private ownServer(ctx: Ctx, id: string): Server | undefined {
    const s = this.store.servers.get(id);
    return s && s.projectId === ctx.token!.projectId ? s : undefined;
  }

  // ---------------------------------------------------------------- representation
  addresses(s: Server): Record<string, { addr: string; version: number; 'OS-EXT-IPS:type': string; 'OS-EXT-IPS-MAC:mac_addr': string }[]> {
    const out: Record<string, { addr: string; version: number; 'OS-EXT-IPS:type': string; 'OS-EXT-IPS-MAC:mac_addr': string }[]> = {};
    if ((s.status === 'BUILD' && s.hostAssignedAt === null) || s.noHost) return out;
    for (const pid of s.ports) {
      const p = this.store.ports.get(pid);
      if (!p) continue;
      const net = this.store.networks.get(p.networkId);
      const list = (out[net?.name ?? p.networkId] ??= []);
      for (const f of p.fixedIps) list.push({ addr: f.ip_address, version: 4, 'OS-EXT-IPS:type': 'fixed', 'OS-EXT-IPS-MAC:mac_addr': p.mac });
    }
    return out;
  }

  /** inList: GET /servers/detail leaves out `fault` (real Nova Zed returns it on GET /servers/{id} only) */
  serverDetail(ctx: Ctx, s: Server, v: V, inList = false): Record<string, unknown> {
    const l = this.link(ctx, `/servers/${s.id}`);
    const f = this.store.flavors.get(s.flavorId);
    const flavor = ge(v, 2, 47)
      ? { vcpus: f?.vcpus ?? 0, ram: f?.ram ?? 0, disk: f?.disk ?? 0, ephemeral: f?.ephemeral ?? 0, swap: f?.swap ?? 0, original_name: f?.name ?? s.flavorId, extra_specs: f?.extraSpecs ?? {} }
      : { id: s.flavorId, links: [{ href: this.link(ctx, `/flavors/${s.flavorId}`).bookmark, rel: 'bookmark' }] };
    const image = s.imageId ? { id: s.imageId, links: [{ href: this.link(ctx, `/images/${s.imageId}`).bookmark, rel: 'bookmark' }] } : '';
    const hasHost = s.hostAssignedAt !== null && !s.noHost;
    const body: Record<string, unknown> = {
      'OS-DCF:diskConfig': 'MANUAL',
      'OS-EXT-AZ:availability_zone': hasHost || s.azRequested ? s.az : '',
      'OS-EXT-STS:power_state': s.powerState,
      'OS-EXT-STS:task_state': s.taskState,
      'OS-EXT-STS:vm_state': s.vmState,
      'OS-SRV-USG:launched_at': s.launchedAt ? new Date(s.launchedAt).toISOString().replace('Z', '000') : null,
      'OS-SRV-USG:terminated_at': null,
      accessIPv4: '',
      accessIPv6: '',
      addresses: this.addresses(s),
      config_drive: s.configDrive,
      created: isoZ(s.created),
      flavor,
      hostId: hasHost ? s.hostId : '',
      id: s.id,
      image,
      key_name: s.keyName,
      links: [{ href: l.self, rel: 'self' }, { href: l.bookmark, rel: 'bookmark' }],
      metadata: s.metadata,
      name: s.name,
      'os-extended-volumes:volumes_attached': s.volumes.map((x) => (ge(v, 2, 3) ? { id: x.id, delete_on_termination: x.deleteOnTermination } : { id: x.id })),
      progress: 0,
      security_groups: s.securityGroups.map((n) => ({ name: n })),
      status: s.status,
      tenant_id: s.projectId,
      updated: isoZ(s.updated),
      user_id: s.userId,
    };
    if (!inList && s.fault && (s.status === 'ERROR')) body.fault = { code: s.fault.code, created: isoZ(s.fault.created), message: s.fault.message };
    if (ge(v, 2, 9)) body.locked = false;
    if (ge(v, 2, 19)) body.description = s.description;
    if (ge(v, 2, 26)) body.tags = s.tags;
    if (ge(v, 2, 63)) body.trusted_image_certificates = null;
    if (ge(v, 2, 73)) body.locked_reason = null;
    if (!inList && ge(v, 2, 71)) body.server_groups = s.groupId && this.store.serverGroups.has(s.groupId) ? [s.groupId] : [];
    if (ge(v, 2, 96)) body.pinned_availability_zone = null;
    return body;
  }

  // ---------------------------------------------------------------- list
  private listServers(ctx: Ctx, detail: boolean, v: V): void {
    const q = ctx.query;
    const project = ctx.token!.projectId;
    let nameRe: RegExp | undefined;
    const nameQ = q.get('name');
    if (nameQ !== null) {
      // Nova on MySQL/MariaDB escapes `|` before using the regex (nova/db/main/api.py _safe_regex_mysql),
      // so an alternation like ^(a|b)$ matches a literal "|" there; the sim does the same
      const safe = nameQ.replace(/\|/g, '\\|');
      try { nameRe = new RegExp(safe); } catch { return err(ctx, 400, `Invalid regular expression: ${nameQ}`); }
    }
    const status = q.get('status')?.toUpperCase();
    const tags = q.get('tags')?.split(',').filter(Boolean);
    const tagsAny = q.get('tags-any')?.split(',').filter(Boolean);
    const notTags = q.get('not-tags')?.split(',').filter(Boolean);
    let since: number | undefined;
    const cs = q.get('changes-since') ?? q.get('changes-before');
    if (q.get('changes-since') !== null) {
      since = parseTime(cs!);
      if (since === undefined) return err(ctx, 400, `Invalid input for query parameters changes-since. Value: ${cs}. '${cs}' is not a 'date-time'`);
    }
    let limit: number | undefined;
    if (q.get('limit') !== null) {
      limit = Number(q.get('limit'));
      if (!Number.isInteger(limit) || limit < 0) return err(ctx, 400, `Invalid input for query parameters limit. Value: ${q.get('limit')}. '${q.get('limit')}' does not match '^[0-9]*$'`);
    }
    const effLimit = Math.min(limit ?? MAX_LIMIT, MAX_LIMIT);
    const marker = q.get('marker') ?? undefined;
    // newest first (created_at desc, like Nova's default sort); Map iteration is insertion order
    type Row = { id: string; s?: Server; d?: NonNullable<ReturnType<Store['deletedServers']['get']>> };
    const rows: Row[] = [];
    for (const s of this.store.servers.values()) rows.push({ id: s.id, s });
    if (since !== undefined) for (const d of this.store.deletedServers.values()) rows.push({ id: d.id, d });
    rows.reverse();
    if (since !== undefined) rows.sort((a, b) => (b.s?.created ?? b.d!.created) - (a.s?.created ?? a.d!.created));
    const filtered = rows.filter((r) => {
      const x = r.s ?? r.d!;
      if (x.projectId !== project) return false;
      if (nameRe && !nameRe.test(x.name)) return false;
      const st = r.s ? r.s.status : 'DELETED';
      if (status && st !== status) return false;
      if (tags && !tags.every((t) => x.tags.includes(t))) return false;
      if (tagsAny && !tagsAny.some((t) => x.tags.includes(t))) return false;
      if (notTags && notTags.every((t) => x.tags.includes(t))) return false;
      if (since !== undefined && (r.s ? r.s.updated : r.d!.deletedAt) < since) return false;
      return true;
    });
    const { page, markerMissing } = paginateRows(filtered, effLimit, marker);
    if (markerMissing) return err(ctx, 400, `marker [${marker}] not found`);
    const servers = page.map((r) => {
      if (r.s) {
        const l = this.link(ctx, `/servers/${r.s.id}`);
        return detail ? this.serverDetail(ctx, r.s, v, true) : { id: r.s.id, links: [{ href: l.self, rel: 'self' }, { href: l.bookmark, rel: 'bookmark' }], name: r.s.name };
      }
      return this.deletedBody(ctx, r.d!, detail);
    });
    const body: Record<string, unknown> = { servers };
    if (page.length > 0 && page.length === effLimit) {
      const next = new URLSearchParams(q);
      next.set('limit', String(effLimit));
      next.set('marker', page[page.length - 1]!.id);
      body.servers_links = [{ href: `${ctx.base}/v2.1/servers${detail ? '/detail' : ''}?${next.toString()}`, rel: 'next' }];
    }
    send(ctx.res, 200, body);
  }

  private deletedBody(ctx: Ctx, d: NonNullable<ReturnType<Store['deletedServers']['get']>>, detail: boolean): unknown {
    const l = this.link(ctx, `/servers/${d.id}`);
    const links = [{ href: l.self, rel: 'self' }, { href: l.bookmark, rel: 'bookmark' }];
    if (!detail) return { id: d.id, links, name: d.name };
    return {
      id: d.id, name: d.name, status: 'DELETED', 'OS-EXT-STS:vm_state': 'deleted', 'OS-EXT-STS:task_state': null, 'OS-EXT-STS:power_state': 0,
      tenant_id: d.projectId, user_id: d.userId, created: isoZ(d.created), updated: isoZ(d.deletedAt), links, metadata: d.metadata, tags: d.tags,
      addresses: {}, flavor: { id: d.flavorId, links: [] }, image: d.imageId ? { id: d.imageId, links: [] } : '', 'OS-EXT-AZ:availability_zone': d.az,
    };
  }

  // ---------------------------------------------------------------- create
  private async createServer(ctx: Ctx, v: V): Promise<void> {
    if (ctx.req.bodyError) return err(ctx, 400, 'Malformed request body');
    const body = ctx.body as { server?: Record<string, unknown> } | undefined;
    const sv = body?.server;
    if (!sv || typeof sv !== 'object') return schemaErr(ctx, 'server', body ?? null, "'server' is a required property");
    const allowed = new Set(['name', 'imageRef', 'flavorRef', 'adminPass', 'metadata', 'networks', 'OS-DCF:diskConfig', 'accessIPv4', 'accessIPv6', 'personality',
      'availability_zone', 'block_device_mapping', 'block_device_mapping_v2', 'config_drive', 'key_name', 'min_count', 'max_count', 'return_reservation_id',
      'security_groups', 'user_data', 'description', 'tags', 'trusted_image_certificates', 'host', 'hypervisor_hostname', 'hostname']);
    for (const k of Object.keys(body!)) {
      if (k !== 'server' && k !== 'OS-SCH-HNT:scheduler_hints' && k !== 'os:scheduler_hints') return schemaErr(ctx, k, 'Value redacted', `Additional properties are not allowed ('${k}' was unexpected)`);
    }
    // scheduler hints beside "server": only `group` is acted on (a server group uuid)
    const hints = (body as Record<string, unknown>)['OS-SCH-HNT:scheduler_hints'] ?? (body as Record<string, unknown>)['os:scheduler_hints'];
    let groupHint: string | undefined;
    if (hints !== undefined) {
      if (typeof hints !== 'object' || hints === null || Array.isArray(hints)) return schemaErr(ctx, 'OS-SCH-HNT:scheduler_hints', hints, `${JSON.stringify(hints)} is not of type 'object'`);
      const gh = (hints as Record<string, unknown>).group;
      if (gh !== undefined) {
        if (typeof gh !== 'string') return schemaErr(ctx, 'group', gh, `${JSON.stringify(gh)} is not of type 'string'`);
        if (!UUID_RE.test(gh)) return schemaErr(ctx, 'group', gh, `'${gh}' is not a 'uuid'`);
        groupHint = gh;
      }
    }
    for (const k of Object.keys(sv)) {
      const ok = allowed.has(k) && !(k === 'tags' && !ge(v, 2, 52)) && !(k === 'description' && !ge(v, 2, 19)) && !(k === 'hostname' && !ge(v, 2, 90)) && !(k === 'personality' && ge(v, 2, 57));
      if (!ok) return schemaErr(ctx, 'server', 'Value redacted', `Additional properties are not allowed ('${k}' was unexpected)`);
    }
    const name = sv.name;
    if (typeof name !== 'string') return schemaErr(ctx, 'name', name ?? 'None', `${name === undefined ? "'name' is a required property" : `${JSON.stringify(name)} is not of type 'string'`}`);
    if (name.length < 1 || name.length > 255 || name.trim() !== name) return schemaErr(ctx, 'name', name, `'${name}' does not match '^(?! )[a-zA-Z0-9. _-]+(?<! )$'`);
    if (sv.flavorRef === undefined) return schemaErr(ctx, 'server', 'Value redacted', "'flavorRef' is a required property");
    const flavor = this.findFlavor(String(sv.flavorRef));
    if (!flavor) return err(ctx, 400, `Flavor ${String(sv.flavorRef)} could not be found.`);
    // user_data
    let userData: string | null = null;
    if (sv.user_data !== undefined && sv.user_data !== null) {
      if (typeof sv.user_data !== 'string') return schemaErr(ctx, 'user_data', sv.user_data, `${JSON.stringify(sv.user_data)} is not of type 'string'`);
      if (sv.user_data.length > 65535) return schemaErr(ctx, 'user_data', sv.user_data, `'${sv.user_data}' is too long`);
      if (!BASE64_RE.test(sv.user_data.replace(/\s+/g, ''))) return schemaErr(ctx, 'user_data', sv.user_data, `'${sv.user_data}' is not a 'base64'`);
      userData = sv.user_data;
    }
    // metadata
    const metadata: Record<string, string> = {};
    if (sv.metadata !== undefined) {
      if (typeof sv.metadata !== 'object' || sv.metadata === null || Array.isArray(sv.metadata)) return schemaErr(ctx, 'metadata', sv.metadata, `${JSON.stringify(sv.metadata)} is not of type 'object'`);
      for (const [k, val] of Object.entries(sv.metadata as Record<string, unknown>)) {
        if (k.length < 1 || k.length > 255) return schemaErr(ctx, 'metadata', sv.metadata, `'${k}' does not match any of the regexes: '^[a-zA-Z0-9-_:. ]{1,255}$'`);
        if (typeof val !== 'string') return schemaErr(ctx, `metadata/${k}`, val, `${JSON.stringify(val)} is not of type 'string'`);
        if (val.length > 255) return schemaErr(ctx, `metadata/${k}`, val, `'${val}' is too long`);
        metadata[k] = val;
      }
      if (Object.keys(metadata).length > this.store.quotas.metadata_items) return err(ctx, 403, `Quota exceeded for metadata_items: Requested ${Object.keys(metadata).length}, but already used 0 of ${this.store.quotas.metadata_items} metadata_items`);
    }
    // tags
    let tags: string[] = [];
    if (sv.tags !== undefined) {
      if (!Array.isArray(sv.tags)) return schemaErr(ctx, 'tags', sv.tags, `${JSON.stringify(sv.tags)} is not of type 'array'`);
      if (sv.tags.length > 50) return schemaErr(ctx, 'tags', sv.tags, `${JSON.stringify(sv.tags)} is too long`);
      for (const t of sv.tags) {
        if (typeof t !== 'string' || t.length < 1 || t.length > 60 || /[,/]/.test(t)) return schemaErr(ctx, 'tags', sv.tags, `${JSON.stringify(t)} does not match '^[^,/]*$'`);
      }
      tags = [...new Set(sv.tags as string[])];
    }
    // availability zone
    let az = 'nova';
    let azRequested = false;
    if (sv.availability_zone !== undefined && sv.availability_zone !== null) {
      const raw = String(sv.availability_zone).split(':')[0]!;
      if (!this.store.azs.includes(raw)) return err(ctx, 400, 'The requested availability zone is not available');
      az = raw;
      azRequested = true;
    }
    // key
    let keyName: string | null = null;
    if (sv.key_name !== undefined && sv.key_name !== null) {
      const k = this.store.keypairs.get(String(sv.key_name));
      if (!k || k.userId !== ctx.token!.userId) return err(ctx, 400, 'Invalid key_name provided.');
      keyName = k.name;
    }
    // security groups (by name or id)
    const sgNames: string[] = [];
    const sgIds: string[] = [];
    for (const g of (Array.isArray(sv.security_groups) ? sv.security_groups : [{ name: 'default' }]) as { name?: string }[]) {
      const n = String(g?.name ?? '');
      const sg = [...this.store.secgroups.values()].find((x) => x.projectId === ctx.token!.projectId && (x.id === n || x.name === n))
        ?? (n === 'default' ? this.store.defaultSecGroup(ctx.token!.projectId) : undefined);
      if (!sg) return err(ctx, 400, `Security group ${n} not found for project ${ctx.token!.projectId}.`);
      sgNames.push(sg.name);
      sgIds.push(sg.id);
    }
    // networks
    type NetReq = { network?: string; port?: string; fixedIp?: string };
    const netReqs: NetReq[] = [];
    const nets = sv.networks;
    if (nets === undefined) {
      if (ge(v, 2, 37)) return schemaErr(ctx, 'server', 'Value redacted', "'networks' is a required property");
      const candidates = [...this.store.networks.values()].filter((n) => !n.external && (n.projectId === ctx.token!.projectId || n.shared));
      if (candidates.length > 1) return err(ctx, 409, 'Multiple possible networks found, use a Network ID to be more specific.');
      if (candidates.length === 1) netReqs.push({ network: candidates[0]!.id });
    } else if (nets === 'none' || nets === 'auto') {
      if (!ge(v, 2, 37)) return schemaErr(ctx, 'networks', nets, `'${nets}' is not of type 'array'`);
      if (nets === 'auto') {
        const n = [...this.store.networks.values()].find((x) => !x.external && x.projectId === ctx.token!.projectId);
        if (!n) return err(ctx, 400, 'Unable to automatically allocate a network for project');
        netReqs.push({ network: n.id });
      }
    } else if (Array.isArray(nets)) {
      for (const n of nets as { uuid?: string; port?: string; fixed_ip?: string }[]) {
        if (n?.port) {
          const p = this.store.ports.get(n.port);
          if (!p) return err(ctx, 400, `Port id ${n.port} could not be found.`);
          if (p.deviceId) return err(ctx, 409, `Port ${n.port} is still in use.`);
          netReqs.push({ port: p.id });
        } else if (n?.uuid) {
          const net = this.store.networks.get(n.uuid);
          if (!net) return err(ctx, 400, `Network ${n.uuid} could not be found.`);
          netReqs.push({ network: net.id, fixedIp: n.fixed_ip });
        } else return err(ctx, 400, 'Bad networks format: network uuid is not in proper format ()');
      }
    } else return schemaErr(ctx, 'networks', nets, `${JSON.stringify(nets)} is not of type 'array'`);
    // image / block devices
    let imageId = '';
    const bdms = (sv.block_device_mapping_v2 ?? []) as Record<string, unknown>[];
    if (!Array.isArray(bdms)) return schemaErr(ctx, 'block_device_mapping_v2', bdms, `${JSON.stringify(bdms)} is not of type 'array'`);
    type Plan = { kind: 'volume'; vol: Volume; del: boolean } | { kind: 'image-volume'; imageId: string; size: number; del: boolean; volumeType?: string };
    const plans: Plan[] = [];
    let bootFound = false;
    for (const [i, b] of bdms.entries()) {
      const src = b.source_type, dst = b.destination_type ?? 'volume';
      if (!['image', 'volume', 'snapshot', 'blank'].includes(String(src))) return schemaErr(ctx, `block_device_mapping_v2/${i}/source_type`, src, `'${String(src)}' is not one of ['volume', 'image', 'snapshot', 'blank']`);
      if (!['local', 'volume'].includes(String(dst))) return schemaErr(ctx, `block_device_mapping_v2/${i}/destination_type`, dst, `'${String(dst)}' is not one of ['local', 'volume']`);
      const boot = b.boot_index !== undefined && b.boot_index !== null && Number(b.boot_index) === 0;
      if (boot) bootFound = true;
      const del = b.delete_on_termination === true || b.delete_on_termination === 'true';
      if (src === 'volume') {
        if (dst !== 'volume') return err(ctx, 400, 'Block Device Mapping is Invalid: Mapping image to local is not supported.');
        const vol = typeof b.uuid === 'string' ? this.store.volumes.get(b.uuid) : undefined;
        if (!vol || vol.projectId !== ctx.token!.projectId) return err(ctx, 400, `Block Device Mapping is Invalid: failed to get volume ${String(b.uuid)}.`);
        if (vol.status !== 'available') return err(ctx, 400, `Invalid volume: volume '${vol.id}' status must be 'available'. Currently in '${vol.status}'`);
        if (boot && !vol.bootable) return err(ctx, 400, `Block Device Mapping is Invalid: Boot sequence for the instance and image/block device mapping combination is not valid.`);
        plans.push({ kind: 'volume', vol, del });
      } else if (src === 'image') {
        const img = typeof b.uuid === 'string' ? this.store.images.get(b.uuid) : undefined;
        if (!img) return err(ctx, 400, `Block Device Mapping is Invalid: failed to get image ${String(b.uuid)}.`);
        if (img.status !== 'active') return err(ctx, 400, `Image ${img.id} is not active.`);
        if (dst === 'volume') {
          const size = Number(b.volume_size);
          if (!Number.isInteger(size) || size < 1) return err(ctx, 400, 'Block Device Mapping is Invalid: Images with destination_type \'volume\' need to have a non-zero size specified');
          if (size < img.minDisk) return err(ctx, 400, `Volume is smaller than the minimum size specified in image metadata. Volume size is ${size * 1073741824} bytes, minimum size is ${img.minDisk * 1073741824} bytes.`);
          plans.push({ kind: 'image-volume', imageId: img.id, size, del, volumeType: typeof b.volume_type === 'string' ? b.volume_type : undefined });
        } else if (boot) imageId = img.id;
      } else if (src === 'snapshot') {
        return err(ctx, 400, `Block Device Mapping is Invalid: failed to get snapshot ${String(b.uuid)}.`);
      }
    }
    if (sv.imageRef !== undefined && sv.imageRef !== '' && sv.imageRef !== null) {
      const id = String(sv.imageRef).replace(/^.*\/images\//, '');
      const img = this.store.images.get(id);
      if (!img) return err(ctx, 400, `Image ${id} could not be found.`);
      if (img.status !== 'active') return err(ctx, 400, `Image ${id} is not active.`);
      if (!bootFound) {
        imageId = img.id;
        if (flavor.disk > 0 && flavor.disk < img.minDisk) return err(ctx, 400, 'Flavor\'s disk is too small for requested image. Flavor disk is ' + flavor.disk * 1073741824 + ' bytes, image is ' + img.minDisk * 1073741824 + ' bytes.');
      }
    } else if (!bootFound) {
      return err(ctx, 400, 'Block Device Mapping is Invalid: Boot sequence for the instance and image/block device mapping combination is not valid.');
    }
    // the server group of the hint (InstanceGroupNotFound is a 400 on create), its member quota
    let group: ServerGroup | undefined;
    if (groupHint !== undefined) {
      group = [...this.store.serverGroups.values()].find((g) => g.id.replace(/-/g, '') === groupHint!.replace(/-/g, '').toLowerCase() && g.projectId === ctx.token!.projectId);
      if (!group) return err(ctx, 400, `Instance group ${groupHint} could not be found.`);
      if (group.members.length >= MAX_GROUP_MEMBERS) return err(ctx, 403, 'Quota exceeded, too many servers in group');
    }
    // quota (cores, ram, instances), Nova's message
    const project = ctx.token!.projectId;
    const u = this.store.computeUsage(project);
    const q = this.store.quotas;
    const req = { cores: flavor.vcpus, instances: 1, ram: flavor.ram };
    const overs = (['cores', 'instances', 'ram'] as const).filter((k) => q[k] >= 0 && u[k] + req[k] > q[k]);
    if (overs.length) {
      const r = overs[0]!;
      this.core.record('nova.quota.refused', name, { overs: overs.join(',') });
      return err(ctx, 403, `Quota exceeded for ${overs.join(', ')}: Requested ${req[r]}, but already used ${u[r]} of ${q[r]} ${overs.join(', ')}`);
    }
    // volume quota for image->volume
    for (const p of plans) if (p.kind === 'image-volume') {
      const vq = this.cinder.quotaError(project, p.size);
      if (vq) return err(ctx, 403, `Volume resource quota exceeded`);
    }
    // ports quota
    const needPorts = netReqs.filter((n) => n.network).length;
    if (needPorts && q.ports >= 0 && this.store.countByProject(this.store.ports, project) + needPorts > q.ports)
      return err(ctx, 403, `Maximum number of ports exceeded`);

    // ---- accepted: build the server
    const now = this.core.now();
    const id = this.store.uuid();
    const portIds: string[] = [];
    const created: string[] = [];
    for (const n of netReqs) {
      if (n.port) {
        const p = this.store.ports.get(n.port)!;
        p.deviceId = id;
        p.deviceOwner = `compute:${az}`;
        p.updated = now;
        p.revision++;
        portIds.push(p.id);
      } else {
        const r = this.store.createPort({ networkId: n.network!, projectId: project, deviceId: id, deviceOwner: `compute:${az}`, securityGroups: sgIds, fixedIps: n.fixedIp ? [{ ip_address: n.fixedIp }] : undefined });
        if ('error' in r) {
          for (const pid of created) this.store.deletePort(pid);
          for (const pid of portIds) this.unbindPort(pid, false);
          return err(ctx, r.error.status === 409 ? 409 : 400, r.error.message);
        }
        portIds.push(r.port.id);
        created.push(r.port.id);
      }
    }
    const volumes: { id: string; deleteOnTermination: boolean }[] = [];
    for (const p of plans) {
      if (p.kind === 'volume') {
        this.store.attachVolume(p.vol, id, volumes.length === 0 ? '/dev/vda' : `/dev/vd${String.fromCharCode(97 + volumes.length)}`, 'reserved');
        volumes.push({ id: p.vol.id, deleteOnTermination: p.del });
      } else {
        const vol = this.cinder.createInternal({ projectId: project, userId: ctx.token!.userId, size: p.size, imageId: p.imageId, az, name: '', volumeType: p.volumeType });
        this.store.attachVolume(vol, id, volumes.length === 0 ? '/dev/vda' : `/dev/vdb`, 'reserved');
        volumes.push({ id: vol.id, deleteOnTermination: p.del });
      }
    }
    // the server's own stream: its latencies do not depend on what other servers or timers drew before
    const rng = this.core.resourceRng('server', name);
    const buildMs = rng.latency(this.core.scenario.latency?.serverBuild ?? { uniform: [3000, 5000] });
    const stageMs = rng.latency(this.core.scenario.latency?.bootStage ?? 2000);
    // the scheduler's pick, in request order (parallel creates see the members placed before them)
    const host = this.pickHost(az, group);
    const s: Server = {
      id, name, status: 'BUILD', vmState: 'building', taskState: 'scheduling', powerState: 0, flavorId: flavor.id, imageId, keyName, az, metadata, tags, userData,
      created: now, updated: now, launchedAt: null, projectId: project, userId: ctx.token!.userId,
      hostId: host ? createHash('sha224').update(project + host).digest('hex') : '', host, ...(group ? { groupId: group.id } : {}),
      ports: portIds, createdPorts: created, volumes, securityGroups: sgNames, description: typeof sv.description === 'string' ? sv.description : null,
      configDrive: sv.config_drive ? 'True' : '', reservationId: 'r-' + this.store.core.idRng.hex(8), bootAt: null, bootStageMs: stageMs,
      hostAssignedAt: null, rng, azRequested,
    };
    this.store.servers.set(id, s);
    // Nova adds the instance to its group at the API, before scheduling: an ERROR server stays a member until deleted
    group?.members.push(id);
    const fault = host ? this.store.takeFault(this.core.scenario.faults?.serverError, this.store.serverErrorBudget, name) : undefined;
    this.core.record('server.create', name, { buildMs: Math.round(buildMs), willFail: !!fault || !host, ...(host ? {} : { noValidHost: true }) });
    s.cancel = this.core.schedule(buildMs * 0.3, () => {
      // the group's filter left no host: the scheduler's NoValidHost at the end of scheduling
      if (!host) return this.toError(s, NO_VALID_HOST, 500);
      // set by this timer, not compared with the clock elsewhere: a timer can fire a real millisecond early or
      // many late, and the state a request sees (addresses, host, console) must agree with task_state
      s.hostAssignedAt = this.core.now();
      s.taskState = 'spawning';
      s.updated = s.hostAssignedAt;
      s.cancel = this.core.schedule(buildMs * 0.7, () => (fault ? this.toError(s, fault.message, fault.code ?? 500) : this.toActive(s)));
    });
    const l = this.link(ctx, `/servers/${id}`);
    send(ctx.res, 202, {
      server: {
        'OS-DCF:diskConfig': 'MANUAL', adminPass: this.store.core.idRng.hex(12), id,
        links: [{ href: l.self, rel: 'self' }, { href: l.bookmark, rel: 'bookmark' }],
        security_groups: sgNames.map((n) => ({ name: n })),
      },
    }, { location: l.self });
  }

  private toActive(s: Server): void {
    const now = this.core.now();
    s.status = 'ACTIVE'; s.vmState = 'active'; s.taskState = null; s.powerState = 1; s.updated = now; s.launchedAt = now; s.bootAt = now; s.cancel = undefined;
    for (const pid of s.ports) {
      const p = this.store.ports.get(pid);
      if (p) { p.status = 'ACTIVE'; p.hostId = 'sim-compute'; p.updated = now; }
    }
    for (const sv of s.volumes) {
      const vol = this.store.volumes.get(sv.id);
      if (!vol) continue;
      // attachment_update + attachment_complete: the reserved attachment gets its mode and attach time
      const a = vol.attachments.find((x) => x.serverId === s.id);
      if (a) this.store.completeAttachment(a, now);
      vol.status = 'in-use';
      vol.updated = now;
    }
    this.core.record('server.active', s.name);
    this.core.events.emit('server.active', this.info(s));
  }

  private toError(s: Server, message: string, code: number): void {
    const now = this.core.now();
    s.status = 'ERROR'; s.vmState = 'error'; s.taskState = null; s.powerState = 0; s.updated = now; s.cancel = undefined;
    s.fault = { code, message, created: now };
    if (/no valid host/i.test(message)) {
      // NoValidHost: the server never reached a compute host, which is where Nova binds ports; the ports Nova
      // would have made do not exist and a port the client passed stays unbound. The boot volume stays
      // reserved until the server is deleted (its BDM lives on in cell0).
      s.noHost = true;
      for (const pid of s.ports) this.unbindPort(pid, s.createdPorts.includes(pid));
      s.ports = [];
      s.createdPorts = [];
    }
    this.core.record('server.error', s.name, { message });
    this.core.events.emit('server.error', { ...this.info(s), fault: message });
  }

  info(s: Server): SimServerInfo {
    const p = s.ports.length ? this.store.ports.get(s.ports[0]!) : undefined;
    return {
      id: s.id, name: s.name, status: s.status, metadata: s.metadata, availabilityZone: s.az,
      userData: s.userData ? decodeUserData(s.userData) : undefined,
      ip: p?.fixedIps[0]?.ip_address,
    };
  }

  private unbindPort(pid: string, deleteIt: boolean): void {
    if (deleteIt) return this.store.deletePort(pid);
    const p = this.store.ports.get(pid);
    if (!p) return;
    p.deviceId = ''; p.deviceOwner = ''; p.status = 'DOWN'; p.hostId = ''; p.updated = this.core.now(); p.revision++;
  }

  // ---------------------------------------------------------------- delete
  private deleteServer(ctx: Ctx, id: string): void {
    const s = this.ownServer(ctx, id);
    if (!s) return err(ctx, 404, `Instance ${id} could not be found.`);
    if (s.deleting) return send(ctx.res, 204);
    s.cancel?.();
    s.deleting = true;
    // still building and not yet spawning (scheduling / block_device_mapping): see faults.leaveReservedOnEarlyDelete
    s.earlyDelete = s.status === 'BUILD' && s.taskState !== 'spawning';
    s.taskState = 'deleting';
    s.updated = this.core.now();
    const ms = (s.rng ??= this.core.resourceRng('server', s.name)).latency(this.core.scenario.latency?.serverDelete ?? { uniform: [1200, 1600] });
    this.core.record('server.delete', s.name, { deleteMs: Math.round(ms) });
    this.core.schedule(ms, () => this.finishDelete(s));
    send(ctx.res, 204);
  }

  finishDelete(s: Server): void {
    const now = this.core.now();
    for (const pid of s.ports) this.unbindPort(pid, s.createdPorts.includes(pid));
    const leak = !!s.earlyDelete && !!this.core.scenario.faults?.leaveReservedOnEarlyDelete;
    for (const sv of s.volumes) {
      const vol = this.store.volumes.get(sv.id);
      if (!vol) continue;
      if (leak && vol.attachments.some((a) => a.serverId === s.id)) {
        // the real-cloud bug: Nova never calls attachment_delete, the volume stays reserved for a server that
        // no longer exists, and delete_on_termination is not honoured either
        this.core.record('volume.reserved.leaked', vol.name || vol.id, { server: s.id });
        continue;
      }
      this.store.detachVolume(vol, s.id);
      if (sv.deleteOnTermination) this.cinder.deleteInternal(vol);
    }
    this.store.servers.delete(s.id);
    if (s.groupId) {
      const g = this.store.serverGroups.get(s.groupId);
      if (g) g.members = g.members.filter((m) => m !== s.id);
    }
    this.core.consoleAppends.delete(s.id);
    this.store.deletedServers.set(s.id, { id: s.id, name: s.name, projectId: s.projectId, userId: s.userId, created: s.created, updated: now, flavorId: s.flavorId, imageId: s.imageId, tags: s.tags, metadata: s.metadata, az: s.az, deletedAt: now });
    if (this.store.deletedServers.size > 5000) this.store.deletedServers.delete(this.store.deletedServers.keys().next().value!);
    this.core.record('server.deleted', s.name);
    this.core.events.emit('server.deleted', { ...this.info(s), status: 'DELETED' });
  }

  // ---------------------------------------------------------------- actions
  private action(ctx: Ctx, id: string, _v: V): void {
    const s = this.ownServer(ctx, id);
    if (!s) return err(ctx, 404, `Instance ${id} could not be found.`);
    const b = ctx.body as Record<string, unknown> | undefined;
    if (!b || typeof b !== 'object') return err(ctx, 400, 'Malformed request body');
    if ('os-getConsoleOutput' in b) {
      const a = (b['os-getConsoleOutput'] ?? {}) as { length?: unknown };
      let length: number | undefined;
      if (a.length !== undefined && a.length !== null) {
        const n = Number(a.length);
        if (!Number.isInteger(n) || n < -1) return schemaErr(ctx, 'length', a.length, `'${String(a.length)}' does not match '^-?[0-9]+$'`);
        length = n === -1 ? undefined : n;
      }
      if (s.status === 'BUILD' && s.hostAssignedAt === null) return err(ctx, 409, `Instance ${s.id} has not been scheduled.`);
      if (s.status === 'ERROR' && s.bootAt === null) return err(ctx, 409, `Instance ${s.id} is not ready.`);
      const text = this.consoleText(s);
      let out = text;
      if (length !== undefined) {
        const lines = text.split('\n');
        if (lines[lines.length - 1] === '') lines.pop();
        out = length === 0 ? '' : lines.slice(-length).join('\n') + '\n';
      }
      return send(ctx.res, 200, { output: out });
    }
    if ('reboot' in b) return this.reboot(ctx, s, b.reboot);
    const simple: Record<string, [string, string]> = { 'os-stop': ['SHUTOFF', 'stopped'], 'os-start': ['ACTIVE', 'active'] };
    for (const [k, [st, vm]] of Object.entries(simple)) {
      if (k in b) {
        const verb = k === 'os-stop' ? 'stop' : 'start';
        if (s.status === 'BUILD' || s.deleting) return err(ctx, 409, `Cannot '${verb}' instance ${s.id} while it is in vm_state ${s.deleting ? s.vmState : 'building'}`);
        // stop: vm_state active or error; start: vm_state stopped (compute api check_instance_state)
        if (k === 'os-stop' ? !['active', 'error'].includes(s.vmState) : s.vmState !== 'stopped') return err(ctx, 409, `Cannot '${verb}' instance ${s.id} while it is in vm_state ${s.vmState}`);
        if (s.taskState !== null) return err(ctx, 409, `Cannot '${verb}' instance ${s.id} while it is in task_state ${s.taskState}`);
        s.status = st; s.vmState = vm; s.powerState = st === 'ACTIVE' ? 1 : 4; s.updated = this.core.now();
        this.core.record(`server.${verb}`, s.name);
        this.core.events.emit('server.state', { ...this.info(s), change: k === 'os-stop' ? 'stopped' : 'started' });
        return send(ctx.res, 202);
      }
    }
    return err(ctx, 400, `There is no such action: ${Object.keys(b)[0] ?? ''}`);
  }

  /**
   * POST /servers/{id}/action {"reboot": {"type": "SOFT"|"HARD"}} as the compute API does it: 202 with no body;
   * SOFT only from vm_state active with no task, HARD also from stopped, paused, suspended and error (and over a
   * reboot in progress); status REBOOT / HARD_REBOOT (task_state reboot_pending[_hard] -> reboot_started[_hard])
   * until the guest is back ACTIVE after latency.serverReboot. The kube half hears server.state rebooting/rebooted.
   */
  private reboot(ctx: Ctx, s: Server, arg: unknown): void {
    const TYPES = ['HARD', 'Hard', 'hard', 'SOFT', 'Soft', 'soft'];
    if (!arg || typeof arg !== 'object' || Array.isArray(arg)) return schemaErr(ctx, 'reboot', arg, `${JSON.stringify(arg)} is not of type 'object'`);
    const a = arg as Record<string, unknown>;
    if (!('type' in a)) return schemaErr(ctx, 'reboot', arg, "'type' is a required property");
    const extra = Object.keys(a).filter((k) => k !== 'type');
    if (extra.length) return err(ctx, 400, `Invalid input for field/attribute reboot. Value: ${JSON.stringify(a)}. Additional properties are not allowed ('${extra.join("', '")}' ${extra.length > 1 ? 'were' : 'was'} unexpected)`);
    if (typeof a.type !== 'string' || !TYPES.includes(a.type)) return schemaErr(ctx, 'type', a.type, `${typeof a.type === 'string' ? `'${a.type}'` : JSON.stringify(a.type)} is not one of ['HARD', 'Hard', 'hard', 'SOFT', 'Soft', 'soft']`);
    const hard = a.type.toUpperCase() === 'HARD';
    const vm = s.deleting ? s.vmState : s.status === 'BUILD' ? 'building' : s.vmState;
    const conflict = (attr: string, state: string) => err(ctx, 409, `Cannot 'reboot' instance ${s.id} while it is in ${attr} ${state}`);
    const hardVm = ['active', 'stopped', 'paused', 'suspended', 'error'];
    const anyTask = [null, 'rebooting', 'reboot_pending', 'reboot_started', 'rebooting_hard', 'resuming', 'unpausing', 'pausing', 'suspending'];
    if (!hardVm.includes(vm)) return conflict('vm_state', vm);
    if (!anyTask.includes(s.taskState)) return conflict('task_state', String(s.taskState));
    if (!hard) {
      if (vm !== 'active') return conflict('vm_state', vm);
      if (s.taskState !== null) return conflict('task_state', s.taskState);
    } else if (!['reboot_pending', 'reboot_started', 'rebooting', 'resuming', 'rebooting_hard', 'unpausing', 'pausing', 'suspending', null].includes(s.taskState)) {
      return conflict('task_state', String(s.taskState));
    }
    s.cancel?.();
    const now = this.core.now();
    s.status = hard ? 'HARD_REBOOT' : 'REBOOT';
    s.taskState = hard ? 'reboot_pending_hard' : 'reboot_pending';
    s.updated = now;
    const gen = (s.rebootGen = (s.rebootGen ?? 0) + 1);
    this.core.record('server.reboot', s.name, { type: hard ? 'HARD' : 'SOFT' });
    this.core.events.emit('server.state', { ...this.info(s), change: 'rebooting', rebootType: hard ? 'HARD' : 'SOFT' });
    const rng = (s.rng ??= this.core.resourceRng('server', s.name));
    this.core.schedule(Math.min(1000, rng.latency({ uniform: [200, 800] })), () => {
      // the reboot may already be over (a serverReboot latency shorter than this step): never step back into it
      if (s.rebootGen !== gen || s.deleting || (s.status !== 'REBOOT' && s.status !== 'HARD_REBOOT')) return;
      s.taskState = hard ? 'reboot_started_hard' : 'reboot_started';
      s.powerState = hard ? 0 : s.powerState;
      s.updated = this.core.now();
    });
    const ms = rng.latency(this.core.scenario.latency?.serverReboot ?? (hard ? { uniform: [15000, 25000] } : { uniform: [25000, 40000] }));
    this.core.schedule(ms, () => {
      if (s.rebootGen !== gen || s.deleting || !this.store.servers.has(s.id)) return;
      const t = this.core.now();
      s.status = 'ACTIVE'; s.vmState = 'active'; s.taskState = null; s.powerState = 1; s.updated = t;
      this.core.record('server.rebooted', s.name);
      this.core.events.emit('server.state', { ...this.info(s), change: 'rebooted', rebootType: hard ? 'HARD' : 'SOFT' });
    });
    send(ctx.res, 202);
  }

  /**
   * Fault/test hook: a server's state changes under the Node (the hypervisor stopped it, or it crashed into
   * ERROR). ACTIVE brings it back (as an operator's start would). The kube half hears server.state.
   */
  setServerState(idOrName: string, status: 'SHUTOFF' | 'ERROR' | 'ACTIVE', message = 'Simulated failure'): void {
    const s = this.store.servers.get(idOrName) ?? [...this.store.servers.values()].find((x) => x.name === idOrName);
    if (!s) throw new Error(`no server ${idOrName}`);
    const now = this.core.now();
    s.rebootGen = (s.rebootGen ?? 0) + 1;
    s.taskState = null;
    s.updated = now;
    if (status === 'SHUTOFF') {
      s.status = 'SHUTOFF'; s.vmState = 'stopped'; s.powerState = 4;
    } else if (status === 'ERROR') {
      s.status = 'ERROR'; s.vmState = 'error'; s.powerState = 0;
      s.fault = { code: 500, message, created: now };
    } else {
      s.status = 'ACTIVE'; s.vmState = 'active'; s.powerState = 1;
    }
    this.core.record('server.state', s.name, { status });
    this.core.events.emit('server.state', { ...this.info(s), change: status === 'SHUTOFF' ? 'stopped' : status === 'ERROR' ? 'error' : 'started' });
  }

  /** scenario faults.serverState: [{name, at, status, message}] applied at their sim time */
  scheduleStateFaults(): void {
    for (const f of this.core.scenario.faults?.serverState ?? []) {
      this.core.schedule(f.at * 1000, () => {
        const re = new RegExp(f.name);
        for (const s of [...this.store.servers.values()]) if (re.test(s.name) && !s.deleting) this.setServerState(s.id, f.status, f.message);
      });
    }
  }

  /** console log: kernel lines, then the cloud-init stages paced by bootStage, then whatever the kube half appended */
  consoleText(s: Server): string {
    if (s.bootAt === null) return '';
    const now = this.core.now();
    const t0 = s.bootAt;
    const st = s.bootStageMs;
    const host = s.name;
    const ip = this.info(s).ip ?? '';
    const ts = (ms: number): string => new Date(ms).toUTCString();
    const k = (sec: number, text: string): string => `[${sec.toFixed(6).padStart(12, ' ')}] ${text}`;
    const lines: [number, string][] = [
      [0, k(0, 'Linux version 5.15.0-91-generic (buildd@lcy02-amd64-045) (gcc (Ubuntu 11.4.0-1ubuntu1~22.04) 11.4.0) #101-Ubuntu SMP')],
      [0, k(0, 'Command line: BOOT_IMAGE=/boot/vmlinuz-5.15.0-91-generic root=LABEL=cloudimg-rootfs ro console=tty1 console=ttyS0')],
      [0, k(0.4, 'Run /init as init process')],
      [st * 0.2, k(1.9, 'EXT4-fs (vda1): mounted filesystem with ordered data mode. Opts: (null). Quota mode: none.')],
      [st * 0.4, k(3.1, 'systemd[1]: Hostname set to <' + host + '>.')],
      [st, `[   ${(st / 1000 + 4).toFixed(6)}] cloud-init[512]: Cloud-init v. 23.3.3-0ubuntu0~22.04.1 running 'init-local' at ${ts(t0 + st)}. Up ${(st / 1000 + 4).toFixed(2)} seconds.`],
      [st * 2, `[   ${(2 * st / 1000 + 4).toFixed(6)}] cloud-init[601]: Cloud-init v. 23.3.3-0ubuntu0~22.04.1 running 'init' at ${ts(t0 + 2 * st)}. Up ${(2 * st / 1000 + 4).toFixed(2)} seconds.`],
      [st * 2, `ci-info: +++++++++++++++++++++++++++Net device info++++++++++++++++++++++++++++`],
      [st * 2, `ci-info: | ens3  | True |  ${ip.padEnd(15)} | 255.255.0.0 | global | ${this.store.ports.get(s.ports[0] ?? '')?.mac ?? ''} |`],
      [st * 3, `[   ${(3 * st / 1000 + 4).toFixed(6)}] cloud-init[702]: Cloud-init v. 23.3.3-0ubuntu0~22.04.1 running 'modules:config' at ${ts(t0 + 3 * st)}. Up ${(3 * st / 1000 + 4).toFixed(2)} seconds.`],
      [st * 4, `[   ${(4 * st / 1000 + 4).toFixed(6)}] cloud-init[733]: Cloud-init v. 23.3.3-0ubuntu0~22.04.1 running 'modules:final' at ${ts(t0 + 4 * st)}. Up ${(4 * st / 1000 + 4).toFixed(2)} seconds.`],
    ];
    const extra = this.core.consoleAppends.get(s.id) ?? [];
    const finished = `[   ${(5 * st / 1000 + 4).toFixed(6)}] cloud-init[733]: Cloud-init v. 23.3.3-0ubuntu0~22.04.1 finished at ${ts(t0 + 5 * st)}. Datasource DataSourceOpenStackLocal [net,ver=2].  Up ${(5 * st / 1000 + 4).toFixed(2)} seconds`;
    const all: [number, string][] = lines.map(([at, line]) => [t0 + at, line + '\n']);
    for (const e of extra) all.push([e.at, e.text]);
    all.push([t0 + 5 * st, finished + '\n']);
    // stable sort by time: appended text lands where it happened relative to the boot stages
    all.sort((a, b) => a[0] - b[0]);
    let out = '';
    for (const [at, text] of all) if (at <= now) out += text;
    return out;
  }
}

function paginateRows<T extends { id: string }>(rows: T[], limit: number, marker: string | undefined): { page: T[]; markerMissing: boolean } {
  let start = 0;
  if (marker) {
    const i = rows.findIndex((r) => r.id === marker);
    if (i < 0) return { page: [], markerMissing: true };
    start = i + 1;
  }
  return { page: rows.slice(start, start + limit), markerMissing: false };
}

function fingerprint(pub: string): string {
  const b = pub.trim().split(/\s+/)[1] ?? pub;
  const h = createHash('md5').update(Buffer.from(b, 'base64')).digest('hex');
  return h.match(/../g)!.join(':');
}
