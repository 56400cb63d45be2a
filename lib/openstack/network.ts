/**
 * Neutron v2.0 calls. Lookups by name are exact and limited to the token's project where the resource is
 * private to a project (routers, security groups, ports): an admin token otherwise sees every project's.
 */
import { OpenStackError } from '../errors.js';
import type { CreatePortRequest, Network, NetworkApi, NeutronQuotaDetails, Port, QuotaDetail, Router, SecurityGroup, ServiceCaller, Subnet } from './types.js';

type Named = { id: string; name: string; project_id?: string; tenant_id?: string };

/** Exactly one by name; ours first when an admin token sees several; several of ours is an error. */
export function one<T extends Named>(kind: string, name: string, items: T[], projectId?: string): T | null {
  let exact = items.filter((i) => i.name === name);
  if (exact.length > 1 && projectId) {
    const ours = exact.filter((i) => (i.project_id ?? i.tenant_id) === projectId);
    if (ours.length >= 1) exact = ours;
  }
  if (exact.length > 1) {
    throw new OpenStackError(`${exact.length} ${kind}s are named '${name}' (${exact.map((i) => i.id).join(', ')})`, {
      service: 'network',
      code: 'E_OPENSTACK_AMBIGUOUS',
    }, { hint: `rename or delete the extra ${kind}s, or use another name` });
  }
  return exact[0] ?? null;
}

function num(v: unknown): number {
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isFinite(n) ? n : 0;
}

function quota(v: unknown): QuotaDetail | undefined {
  if (!v || typeof v !== 'object') return undefined;
  const o = v as Record<string, unknown>;
  // Neutron has returned "reserved" as a string (launchpad bug 1918565)
  return { used: num(o.used), limit: num(o.limit), reserved: num(o.reserved) };
}

/**
 * The description kadd writes into a port's create request (POST /ports, with the exact name): the port's
 * ownership proof from the create itself. Neutron without `tag-creation` (Zed) gets kadd's tags only in a
 * second request; a crash between the two must not leave a port that cleanup cannot prove is kadd's (13.1).
 */
export function kaddPortDescription(cluster: string, server: string): string {
  return `kadd: ${cluster} ${server}`;
}


export function createNetworkApi(c: ServiceCaller): NetworkApi {
  return {
    async findNetwork(name: string): Promise<Network | null> {
      return one('network', name, await c.list<Network & Named>('network', '/networks', 'networks', { name }), await c.projectId());
    },
    async createNetwork(req: { name: string; admin_state_up?: boolean }): Promise<Network> {
      const r = await c.call<{ network: Network }>('network', 'POST', '/networks', { body: { network: req }, ok: [201] });
      return r!.network;
    },
    async findSubnet(name: string, networkId?: string): Promise<Subnet | null> {
      return one('subnet', name, await c.list<Subnet & Named>('network', '/subnets', 'subnets', { name, network_id: networkId }), await c.projectId());
    },
    async listSubnets(q: { network_id?: string; name?: string } = {}): Promise<Subnet[]> {
      return c.list<Subnet>('network', '/subnets', 'subnets', { network_id: q.network_id, name: q.name });
    },
    async createSubnet(req: { name: string; network_id: string; cidr: string; ip_version: 4 | 6 }): Promise<Subnet> {
      const r = await c.call<{ subnet: Subnet }>('network', 'POST', '/subnets', { body: { subnet: req }, ok: [201] });
      return r!.subnet;
    },
    async findRouter(name: string): Promise<Router | null> {
      const pid = await c.projectId();
      return one('router', name, await c.list<Router & Named>('network', '/routers', 'routers', { name, project_id: pid }), pid);
    },
    async createRouter(req: { name: string; external_gateway_info?: { network_id: string } }): Promise<Router> {
      const r = await c.call<{ router: Router }>('network', 'POST', '/routers', { body: { router: req }, ok: [201] });
      return r!.router;
    },
    async addRouterInterface(routerId: string, subnetId: string): Promise<void> {
      try {
        await c.call('network', 'PUT', `/routers/${encodeURIComponent(routerId)}/add_router_interface`, { body: { subnet_id: subnetId } });
      } catch (e) {
        // the interface is there already (e.g. a retried PUT that had succeeded): what we wanted
        if (e instanceof OpenStackError && e.status === 400 && /already has a port on subnet/i.test(e.message)) return;
        throw e;
      }
    },
    async listExternalNetworks(): Promise<Network[]> {
      return c.list<Network>('network', '/networks', 'networks', { 'router:external': true });
    },
    async findSecurityGroup(name: string): Promise<SecurityGroup | null> {
      const pid = await c.projectId();
      return one('security group', name, await c.list<SecurityGroup & Named>('network', '/security-groups', 'security_groups', { name, project_id: pid }), pid);
    },
    async createSecurityGroup(req: { name: string; description?: string }): Promise<SecurityGroup> {
      const r = await c.call<{ security_group: SecurityGroup }>('network', 'POST', '/security-groups', { body: { security_group: req }, ok: [201] });
      return r!.security_group;
    },
    async createPort(req: CreatePortRequest): Promise<Port> {
      const port: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(req)) if (v !== undefined) port[k] = v;
      try {
        const r = await c.call<{ port: Port }>('network', 'POST', '/ports', { body: { port }, ok: [201] });
        return r!.port;
      } catch (e) {
        // a Neutron that refuses `tags` in a create (Zed accepts and drops them): nothing was made, the same
        // create without them; the caller sees no tags in the answer and sets them with a PUT
        if (!(port.tags && e instanceof OpenStackError && e.status === 400 && /\btags\b/.test(e.message))) throw e;
        delete port.tags;
        const r = await c.call<{ port: Port }>('network', 'POST', '/ports', { body: { port }, ok: [201] });
        return r!.port;
      }
    },
    async listPorts(q: { id?: string; name?: string | string[]; network_id?: string; device_id?: string } = {}): Promise<Port[]> {
      return c.list<Port>('network', '/ports', 'ports', { id: q.id, name: q.name, network_id: q.network_id, device_id: q.device_id, project_id: await c.projectId() });
    },
    async deletePort(id: string): Promise<void> {
      await c.call('network', 'DELETE', `/ports/${encodeURIComponent(id)}`, { notFoundNull: true, ok: [204] });
    },
    async setPortTags(id: string, tags: string[]): Promise<void> {
      await c.call('network', 'PUT', `/ports/${encodeURIComponent(id)}/tags`, { body: { tags }, ok: [200, 201, 204] });
    },
    async listExtensions(): Promise<string[]> {
      const r = await c.call<{ extensions?: { alias?: string }[] }>('network', 'GET', '/extensions');
      return (r?.extensions ?? []).map((e) => e.alias).filter((a): a is string => typeof a === 'string');
    },
    async getQuotaDetails(projectId: string): Promise<NeutronQuotaDetails> {
      const r = await c.call<{ quota: Record<string, unknown> }>('network', 'GET', `/quotas/${encodeURIComponent(projectId)}/details`);
      const q = r?.quota ?? {};
      const port = quota(q.port);
      if (!port) {
        throw new OpenStackError(`network GET /quotas/${projectId}/details: the answer has no port quota`, { service: 'network', code: 'E_OPENSTACK_BAD_ANSWER' });
      }
      const out: NeutronQuotaDetails = { port };
      for (const k of ['network', 'subnet', 'router', 'security_group'] as const) {
        const d = quota(q[k]);
        if (d) out[k] = d;
      }
      return out;
    },
  };
}
