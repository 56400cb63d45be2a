/** Nova (compute) calls, microversion 2.67 (see client.ts). */
import { OpenStackError, PreflightError } from '../errors.js';
import type { AvailabilityZone, ComputeApi, CreateServerRequest, Flavor, Keypair, ListServersQuery, NovaLimits, Server, ServerGroup, ServiceCaller } from './types.js';

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

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
const MAX_GROUP_PAGES = 100;

/**
 * Every server group of the project. Nova pages this collection with limit/offset and gives no next link
 * (api.openstack.common.limited, capped at osapi_max_limit), so: ask with offset until a page comes back
 * shorter than the first one, or empty. A server that ignores offset (same page again) ends the loop.
 */
async function listServerGroups(c: ServiceCaller): Promise<ServerGroup[]> {
  const out: ServerGroup[] = [];
  const seen = new Set<string>();
  let pageSize = 0;
  for (let page = 0; page < MAX_GROUP_PAGES; page++) {
    const r = await c.call<{ server_groups?: ServerGroup[] }>('compute', 'GET', '/os-server-groups', { query: page === 0 ? {} : { offset: out.length } });
    const items = r?.server_groups;
    if (!Array.isArray(items)) throw new OpenStackError("compute GET /os-server-groups: the answer has no 'server_groups' list", { service: 'compute', method: 'GET' });
    const fresh = items.filter((g) => !seen.has(g.id));
    for (const g of fresh) seen.add(g.id);
    out.push(...fresh);
    if (fresh.length === 0) return out;
    if (page === 0) pageSize = items.length;
    else if (items.length < pageSize) return out;
  }
  throw new OpenStackError(`compute GET /os-server-groups: more than ${MAX_GROUP_PAGES} pages`, { service: 'compute', method: 'GET' });
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
        'changes-since': q.changesSince,
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
    async rebootServer(id: string, type: 'SOFT' | 'HARD'): Promise<void> {
      await c.call('compute', 'POST', `/servers/${encodeURIComponent(id)}/action`, { body: { reboot: { type } }, ok: [202] });
    },
    async findServerGroup(nameOrId: string): Promise<ServerGroup | null> {
      if (UUID.test(nameOrId)) {
        const r = await c.call<{ server_group: ServerGroup }>('compute', 'GET', `/os-server-groups/${encodeURIComponent(nameOrId)}`, { notFoundNull: true });
        if (r) return r.server_group;
      }
      const exact = (await listServerGroups(c)).filter((g) => g.name === nameOrId || g.id === nameOrId);
      if (exact.length <= 1) return exact[0] ?? null;
      throw new OpenStackError(
        `${exact.length} server groups are named '${nameOrId}' (${exact.map((g) => `${g.id} ${g.policy ?? g.policies?.join(',') ?? '?'}, ${g.members.length} members`).join('; ')}); put the id of the right one in server_group`,
        { service: 'compute', code: 'E_OPENSTACK_AMBIGUOUS' },
        { hint: 'use the server group id instead of its name' },
      );
    },
  };
}
