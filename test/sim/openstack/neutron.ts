/** Neutron v2.0: networks, subnets, routers, ports (with tags), security groups, quotas. */
import type { SimCoreImpl } from '../core.js';
import type { Store, Network, Subnet, Port, Router, SecGroup } from './store.js';
import { type Ctx, type Route, route, send, isoZ, parseCidr, intToIp } from './util.js';

function nerr(ctx: Ctx, status: number, type: string, message: string): void {
  send(ctx.res, status, { NeutronError: { type, message, detail: '' } });
}
const notFound = (ctx: Ctx, kind: string, id: string): void => nerr(ctx, 404, `${kind}NotFound`, `${kind} ${id} could not be found.`);

/** query keys that are not attribute filters */
const RESERVED = new Set(['fields', 'limit', 'marker', 'sort_key', 'sort_dir', 'page_reverse', 'tags', 'tags-any', 'not-tags', 'not-tags-any']);

export class Neutron {
  constructor(private readonly core: SimCoreImpl, private readonly store: Store) {}

  routes(): Route[] {
    return [
      route('GET', '', (ctx) => send(ctx.res, 200, { versions: [{ id: 'v2.0', status: 'CURRENT', links: [{ href: `${ctx.base}/v2.0/`, rel: 'self' }] }] })),
      route('GET', '/v2.0', (ctx) => send(ctx.res, 200, { resources: ['networks', 'subnets', 'ports', 'routers', 'security-groups'].map((n) => ({ name: n.replace(/s$/, ''), collection: n, links: [{ href: `${ctx.base}/v2.0/${n}`, rel: 'self' }] })) })),
      route('GET', '/v2.0/extensions', (ctx) => send(ctx.res, 200, { extensions: this.extensions().map((a) => ({ alias: a, name: a, description: a, updated: '2013-01-01T00:00:00-00:00', links: [] })) })),
      // networks
      route('GET', '/v2.0/networks', (ctx) => this.list(ctx, 'networks', [...this.store.networks.values()].map((n) => this.netBody(n)))),
      route('GET', '/v2.0/networks/:id', (ctx, [id]) => {
        const n = this.store.networks.get(id!);
        if (!n) return notFound(ctx, 'Network', id!);
        send(ctx.res, 200, { network: this.fields(ctx, this.netBody(n)) });
      }),
      route('POST', '/v2.0/networks', (ctx) => this.createNetwork(ctx)),
      route('DELETE', '/v2.0/networks/:id', (ctx, [id]) => {
        const n = this.store.networks.get(id!);
        if (!n) return notFound(ctx, 'Network', id!);
        for (const p of this.store.ports.values()) if (p.networkId === n.id && p.deviceOwner !== 'network:dhcp')
          return nerr(ctx, 409, 'NetworkInUse', `Unable to complete operation on network ${n.id}. There are one or more ports still in use on the network.`);
        for (const sid of n.subnets) this.store.subnets.delete(sid);
        this.store.networks.delete(n.id);
        send(ctx.res, 204);
      }),
      // subnets
      route('GET', '/v2.0/subnets', (ctx) => this.list(ctx, 'subnets', [...this.store.subnets.values()].map((s) => this.subnetBody(s)))),
      route('GET', '/v2.0/subnets/:id', (ctx, [id]) => {
        const s = this.store.subnets.get(id!);
        if (!s) return notFound(ctx, 'Subnet', id!);
        send(ctx.res, 200, { subnet: this.fields(ctx, this.subnetBody(s)) });
      }),
      route('POST', '/v2.0/subnets', (ctx) => this.createSubnet(ctx)),
      route('DELETE', '/v2.0/subnets/:id', (ctx, [id]) => {
        const s = this.store.subnets.get(id!);
        if (!s) return notFound(ctx, 'Subnet', id!);
        for (const p of this.store.ports.values()) if (p.fixedIps.some((f) => f.subnet_id === s.id))
          return nerr(ctx, 409, 'SubnetInUse', `Unable to complete operation on subnet ${s.id}: One or more ports have an IP allocation from this subnet.`);
        this.store.subnets.delete(s.id);
        const n = this.store.networks.get(s.networkId);
        if (n) n.subnets = n.subnets.filter((x) => x !== s.id);
        send(ctx.res, 204);
      }),
      // ports
      route('GET', '/v2.0/ports', (ctx) => this.listPorts(ctx)),
      route('GET', '/v2.0/ports/:id', (ctx, [id]) => {
        const p = this.store.ports.get(id!);
        if (!p) return notFound(ctx, 'Port', id!);
        send(ctx.res, 200, { port: this.fields(ctx, this.portBody(p)) });
      }),
      route('POST', '/v2.0/ports', (ctx) => this.createPort(ctx)),
      route('PUT', '/v2.0/ports/:id', (ctx, [id]) => this.updatePort(ctx, id!)),
      route('DELETE', '/v2.0/ports/:id', (ctx, [id]) => {
        const p = this.store.ports.get(id!);
        if (!p) return notFound(ctx, 'Port', id!);
        if (p.deviceOwner === 'network:router_interface') return nerr(ctx, 409, 'PortInUse', `Port ${p.id} cannot be deleted directly via the port API: has device owner network:router_interface.`);
        this.store.deletePort(p.id);
        for (const s of this.store.servers.values()) if (s.ports.includes(p.id)) s.ports = s.ports.filter((x) => x !== p.id);
        this.core.record('port.deleted', p.name || p.id);
        send(ctx.res, 204);
      }),
      ...this.tagRoutes('ports', this.store.ports, 'Port'),
      ...this.tagRoutes('networks', this.store.networks, 'Network'),
      // routers
      route('GET', '/v2.0/routers', (ctx) => this.list(ctx, 'routers', [...this.store.routers.values()].map((r) => this.routerBody(r)))),
      route('GET', '/v2.0/routers/:id', (ctx, [id]) => {
        const r = this.store.routers.get(id!);
        if (!r) return notFound(ctx, 'Router', id!);
        send(ctx.res, 200, { router: this.routerBody(r) });
      }),
      route('POST', '/v2.0/routers', (ctx) => this.createRouter(ctx)),
      route('PUT', '/v2.0/routers/:id/add_router_interface', (ctx, [id]) => this.addInterface(ctx, id!)),
      route('PUT', '/v2.0/routers/:id/remove_router_interface', (ctx, [id]) => this.removeInterface(ctx, id!)),
      route('DELETE', '/v2.0/routers/:id', (ctx, [id]) => {
        const r = this.store.routers.get(id!);
        if (!r) return notFound(ctx, 'Router', id!);
        if (r.interfaces.length) return nerr(ctx, 409, 'RouterInUse', `Router ${r.id} still has ports`);
        this.store.routers.delete(r.id);
        send(ctx.res, 204);
      }),
      // security groups
      route('GET', '/v2.0/security-groups', (ctx) => {
        this.store.defaultSecGroup(ctx.token!.projectId);
        this.list(ctx, 'security_groups', [...this.store.secgroups.values()].map((g) => this.sgBody(g)));
      }),
      route('GET', '/v2.0/security-groups/:id', (ctx, [id]) => {
        const g = this.store.secgroups.get(id!);
        if (!g) return notFound(ctx, 'SecurityGroup', id!);
        send(ctx.res, 200, { security_group: this.sgBody(g) });
      }),
      route('POST', '/v2.0/security-groups', (ctx) => {
        const b = (ctx.body as { security_group?: { name?: unknown; description?: unknown } })?.security_group;
        if (!b || typeof b.name !== 'string') return nerr(ctx, 400, 'HTTPBadRequest', "Failed to parse request. Required attribute 'name' not specified");
        if (b.name === 'default') return nerr(ctx, 409, 'SecurityGroupDefaultAlreadyExists', 'Default security group already exists.');
        const g = this.store.addSecGroup(ctx.token!.projectId, b.name, typeof b.description === 'string' ? b.description : '', false);
        send(ctx.res, 201, { security_group: this.sgBody(g) });
      }),
      route('DELETE', '/v2.0/security-groups/:id', (ctx, [id]) => {
        const g = this.store.secgroups.get(id!);
        if (!g) return notFound(ctx, 'SecurityGroup', id!);
        for (const p of this.store.ports.values()) if (p.securityGroups.includes(g.id)) return nerr(ctx, 409, 'SecurityGroupInUse', `Security Group ${g.id} in use.`);
        this.store.secgroups.delete(g.id);
        send(ctx.res, 204);
      }),
      route('GET', '/v2.0/security-group-rules', (ctx) => this.list(ctx, 'security_group_rules', [...this.store.secgroups.values()].flatMap((g) => g.rules as unknown as Record<string, unknown>[]))),
      route('POST', '/v2.0/security-group-rules', (ctx) => {
        const b = (ctx.body as { security_group_rule?: Record<string, unknown> })?.security_group_rule;
        if (!b) return nerr(ctx, 400, 'HTTPBadRequest', 'Resource body required');
        const g = this.store.secgroups.get(String(b.security_group_id));
        if (!g) return notFound(ctx, 'SecurityGroup', String(b.security_group_id));
        if (!['ingress', 'egress'].includes(String(b.direction))) return nerr(ctx, 400, 'HTTPBadRequest', `Invalid input for direction. Reason: ${String(b.direction)} is not in valid_values.`);
        const dup = g.rules.find((r) => r.direction === b.direction && r.protocol === (b.protocol ?? null) && r.port_range_min === (b.port_range_min ?? null) && r.port_range_max === (b.port_range_max ?? null) && r.remote_ip_prefix === (b.remote_ip_prefix ?? null) && r.ethertype === (b.ethertype ?? 'IPv4'));
        if (dup) return nerr(ctx, 409, 'SecurityGroupRuleExists', `Security group rule already exists. Rule id is ${dup.id}.`);
        const rule = this.store.makeRule(g, b as never);
        g.rules.push(rule);
        send(ctx.res, 201, { security_group_rule: rule });
      }),
      route('DELETE', '/v2.0/security-group-rules/:id', (ctx, [id]) => {
        for (const g of this.store.secgroups.values()) {
          const i = g.rules.findIndex((r) => r.id === id);
          if (i >= 0) { g.rules.splice(i, 1); return send(ctx.res, 204); }
        }
        notFound(ctx, 'SecurityGroupRule', id!);
      }),
      // quotas
      route('GET', '/v2.0/quotas/:project/details', (ctx, [p]) => this.quotas(ctx, p!, true)),
      route('GET', '/v2.0/quotas/:project', (ctx, [p]) => this.quotas(ctx, p!, false)),
      route('GET', '/v2.0/floatingips', (ctx) => this.list(ctx, 'floatingips', [])),
    ];
  }

  // ------------------------------------------------------------ generic list with attribute filters, fields, tags, pagination
  private list(ctx: Ctx, collection: string, rows: Record<string, unknown>[]): void {
    const q = ctx.query;
    const filters = new Map<string, string[]>();
    for (const k of new Set(q.keys())) if (!RESERVED.has(k)) filters.set(k, q.getAll(k));
    const project = ctx.token!.projectId;
    const tags = q.getAll('tags').flatMap((t) => t.split(',')).filter(Boolean);
    const tagsAny = q.getAll('tags-any').flatMap((t) => t.split(',')).filter(Boolean);
    const notTags = q.getAll('not-tags').flatMap((t) => t.split(',')).filter(Boolean);
    let out = rows.filter((r) => {
      const owner = r.project_id ?? r.tenant_id;
      if (owner !== project && !r.shared && !r['router:external']) return false;
      for (const [k, vals] of filters) {
        const val = r[k];
        if (val === undefined) continue;
        const s = typeof val === 'boolean' ? String(val) : String(val);
        if (!vals.some((x) => (typeof val === 'boolean' ? x.toLowerCase() === s : x === s))) return false;
      }
      const rt = (r.tags as string[] | undefined) ?? [];
      if (tags.length && !tags.every((t) => rt.includes(t))) return false;
      if (tagsAny.length && !tagsAny.some((t) => rt.includes(t))) return false;
      if (notTags.length && notTags.every((t) => rt.includes(t))) return false;
      return true;
    });
    const limit = q.get('limit') !== null ? Number(q.get('limit')) : undefined;
    const marker = q.get('marker');
    if (marker) {
      const i = out.findIndex((r) => r.id === marker);
      out = i >= 0 ? out.slice(i + 1) : out;
    }
    const body: Record<string, unknown> = {};
    if (limit !== undefined && Number.isInteger(limit) && limit > 0) {
      const more = out.length > limit;
      out = out.slice(0, limit);
      if (more) {
        const next = new URLSearchParams(q);
        next.set('marker', String(out[out.length - 1]!.id));
        body[`${collection}_links`] = [{ href: `${ctx.base}/v2.0/${collection.replace(/_/g, '-')}?${next}`, rel: 'next' }];
      }
    }
    body[collection] = out.map((r) => this.fields(ctx, r));
    send(ctx.res, 200, body);
  }

  private fields(ctx: Ctx, r: Record<string, unknown>): Record<string, unknown> {
    const f = ctx.query.getAll('fields');
    if (!f.length) return r;
    const o: Record<string, unknown> = {};
    for (const k of f) if (k in r) o[k] = r[k];
    return o;
  }

  private std(o: { projectId: string; created: number; updated: number; revision: number; tags: string[]; description?: string }): Record<string, unknown> {
    return { project_id: o.projectId, tenant_id: o.projectId, created_at: isoZ(o.created), updated_at: isoZ(o.updated), revision_number: o.revision, tags: o.tags, description: o.description ?? '' };
  }

  netBody(n: Network): Record<string, unknown> {
    return {
      id: n.id, name: n.name, admin_state_up: n.adminStateUp, availability_zone_hints: [], availability_zones: ['nova'], ipv4_address_scope: null, ipv6_address_scope: null,
      'router:external': n.external, shared: n.shared, status: n.status, subnets: n.subnets, mtu: n.mtu, port_security_enabled: true,
      'provider:network_type': n.external ? 'flat' : 'vxlan', 'provider:physical_network': n.external ? 'public' : null, 'provider:segmentation_id': n.external ? null : 1000 + (n.created % 1000),
      is_default: false, dns_domain: '', l2_adjacency: true, qos_policy_id: null, ...this.std(n),
    };
  }
  subnetBody(s: Subnet): Record<string, unknown> {
    return {
      id: s.id, name: s.name, network_id: s.networkId, cidr: s.cidr, gateway_ip: s.gatewayIp, ip_version: s.ipVersion, allocation_pools: s.pools, enable_dhcp: s.enableDhcp,
      dns_nameservers: s.dnsNameservers, host_routes: [], ipv6_address_mode: null, ipv6_ra_mode: null, subnetpool_id: null, service_types: [], segment_id: null, dns_publish_fixed_ip: false, ...this.std(s),
    };
  }
  portBody(p: Port): Record<string, unknown> {
    return {
      id: p.id, name: p.name, network_id: p.networkId, admin_state_up: p.adminStateUp, mac_address: p.mac, fixed_ips: p.fixedIps, device_id: p.deviceId, device_owner: p.deviceOwner,
      status: p.status, security_groups: p.securityGroups, allowed_address_pairs: [], extra_dhcp_opts: [], binding_vnic_type: 'normal', 'binding:vnic_type': 'normal',
      'binding:host_id': p.hostId, 'binding:vif_type': p.hostId ? 'ovs' : 'unbound', 'binding:vif_details': {}, 'binding:profile': {},
      port_security_enabled: p.portSecurity, ip_allocation: 'immediate', dns_name: '', dns_assignment: p.fixedIps.map((f) => ({ hostname: `host-${f.ip_address.replace(/\./g, '-')}`, ip_address: f.ip_address, fqdn: `host-${f.ip_address.replace(/\./g, '-')}.openstacklocal.` })),
      data_plane_status: null, qos_policy_id: null, qos_network_policy_id: null, propagate_uplink_status: false, resource_request: null, ...this.std(p),
    };
  }
  routerBody(r: Router): Record<string, unknown> {
    return { id: r.id, name: r.name, admin_state_up: r.adminStateUp, status: r.status, external_gateway_info: r.gateway, routes: [], distributed: false, ha: false, availability_zone_hints: [], availability_zones: ['nova'], flavor_id: null, ...this.std(r) };
  }
  sgBody(g: SecGroup): Record<string, unknown> {
    return { id: g.id, name: g.name, stateful: g.stateful, security_group_rules: g.rules, shared: false, ...this.std(g) };
  }

  private createNetwork(ctx: Ctx): void {
    const b = (ctx.body as { network?: Record<string, unknown> })?.network;
    if (!b) return nerr(ctx, 400, 'HTTPBadRequest', 'Resource body required');
    const project = ctx.token!.projectId;
    if (this.store.quotas.networks >= 0 && this.store.countByProject(this.store.networks, project) >= this.store.quotas.networks)
      return nerr(ctx, 409, 'OverQuota', 'Quota exceeded for resources: [\'network\'].');
    const now = this.core.now();
    const n: Network = { id: this.store.uuid(), name: String(b.name ?? ''), projectId: project, external: b['router:external'] === true, shared: b.shared === true, status: 'ACTIVE', adminStateUp: b.admin_state_up !== false, subnets: [], mtu: Number(b.mtu ?? 1450), tags: [], created: now, updated: now, revision: 1, description: String(b.description ?? '') };
    this.store.networks.set(n.id, n);
    send(ctx.res, 201, { network: this.netBody(n) });
  }

  private createSubnet(ctx: Ctx): void {
    const b = (ctx.body as { subnet?: Record<string, unknown> })?.subnet;
    if (!b) return nerr(ctx, 400, 'HTTPBadRequest', 'Resource body required');
    if (!b.network_id) return nerr(ctx, 400, 'HTTPBadRequest', "Failed to parse request. Required attribute 'network_id' not specified");
    const net = this.store.networks.get(String(b.network_id));
    if (!net) return notFound(ctx, 'Network', String(b.network_id));
    if (Number(b.ip_version ?? 4) !== 4) return nerr(ctx, 400, 'InvalidInput', 'Invalid input for operation: the simulator supports ip_version 4 only.');
    const c = parseCidr(String(b.cidr ?? ''));
    if (!c) return nerr(ctx, 400, 'HTTPBadRequest', `Invalid input for cidr. Reason: '${String(b.cidr)}' is not a valid IP subnet.`);
    const cidr = `${intToIp(c.base)}/${c.prefix}`;
    for (const sid of net.subnets) {
      const o = this.store.subnets.get(sid)!;
      const oc = parseCidr(o.cidr)!;
      const overlap = c.base < oc.base + 2 ** (32 - oc.prefix) && oc.base < c.base + 2 ** (32 - c.prefix);
      if (overlap) return nerr(ctx, 400, 'InvalidInput', `Invalid input for operation: Requested subnet with cidr: ${cidr} for network: ${net.id} overlaps with another subnet.`);
    }
    const size = 2 ** (32 - c.prefix);
    const gatewayIp = b.gateway_ip === null ? null : typeof b.gateway_ip === 'string' ? b.gateway_ip : intToIp(c.base + 1);
    const pools = Array.isArray(b.allocation_pools) && b.allocation_pools.length ? (b.allocation_pools as { start: string; end: string }[]) : [{ start: intToIp(c.base + 2), end: intToIp(c.base + size - 2) }];
    const now = this.core.now();
    const s = this.store.addSubnet({
      id: this.store.uuid(), name: String(b.name ?? ''), networkId: net.id, projectId: ctx.token!.projectId, cidr, gatewayIp, ipVersion: 4, pools,
      enableDhcp: b.enable_dhcp !== false, dnsNameservers: Array.isArray(b.dns_nameservers) ? (b.dns_nameservers as string[]) : [], created: now, updated: now, tags: [], revision: 0, description: String(b.description ?? ''),
    });
    send(ctx.res, 201, { subnet: this.subnetBody(s) });
  }

  private listPorts(ctx: Ctx): void {
    // fast path for the common device_id / network_id filters: avoid building every body
    const dev = ctx.query.getAll('device_id');
    const rows: Record<string, unknown>[] = [];
    for (const p of this.store.ports.values()) {
      if (dev.length && !dev.includes(p.deviceId)) continue;
      rows.push(this.portBody(p));
    }
    this.list(ctx, 'ports', rows);
  }

  private extensions(): string[] {
    return [...new Set(['external-net', 'router', 'security-group', 'standard-attr-tag', 'quota_details', 'port-security', 'binding', ...(this.core.scenario.network?.extensions ?? [])])];
  }

  private createPort(ctx: Ctx): void {
    const b = (ctx.body as { port?: Record<string, unknown> })?.port;
    if (!b) return nerr(ctx, 400, 'HTTPBadRequest', 'Resource body required');
    // tags in a create body need the tag-creation extension (Neutron 2023.2+); Zed answers 201 and drops them
    // (seen on the e2e cloud: the port has tags [])
    const createTags = this.extensions().includes('tag-creation') && Array.isArray(b.tags) ? (b.tags as string[]) : [];
    if (!b.network_id) return nerr(ctx, 400, 'HTTPBadRequest', "Failed to parse request. Required attribute 'network_id' not specified");
    const project = ctx.token!.projectId;
    const q = this.store.quotas.ports;
    if (q >= 0 && this.store.countByProject(this.store.ports, project) >= q) return nerr(ctx, 409, 'OverQuota', "Quota exceeded for resources: ['port'].");
    let sgs: string[] | undefined;
    if (Array.isArray(b.security_groups)) {
      for (const id of b.security_groups as string[]) if (!this.store.secgroups.has(id)) return nerr(ctx, 404, 'SecurityGroupNotFound', `Security group ${id} does not exist`);
      sgs = b.security_groups as string[];
    }
    const r = this.store.createPort({
      networkId: String(b.network_id), projectId: project, name: typeof b.name === 'string' ? b.name : '', deviceId: typeof b.device_id === 'string' ? b.device_id : '',
      deviceOwner: typeof b.device_owner === 'string' ? b.device_owner : '', securityGroups: sgs, fixedIps: Array.isArray(b.fixed_ips) ? (b.fixed_ips as { subnet_id?: string; ip_address?: string }[]) : undefined,
      tags: createTags, description: typeof b.description === 'string' ? b.description : '', portSecurity: b.port_security_enabled !== false,
    });
    if ('error' in r) return nerr(ctx, r.error.status, r.error.type, r.error.message);
    this.core.record('port.created', r.port.name || r.port.id);
    send(ctx.res, 201, { port: this.portBody(r.port) });
  }

  private updatePort(ctx: Ctx, id: string): void {
    const p = this.store.ports.get(id);
    if (!p) return notFound(ctx, 'Port', id);
    const b = (ctx.body as { port?: Record<string, unknown> })?.port;
    if (!b) return nerr(ctx, 400, 'HTTPBadRequest', 'Resource body required');
    if (typeof b.name === 'string') p.name = b.name;
    if (typeof b.description === 'string') p.description = b.description;
    if (Array.isArray(b.security_groups)) p.securityGroups = b.security_groups as string[];
    if (typeof b.device_id === 'string') p.deviceId = b.device_id;
    if (typeof b.device_owner === 'string') p.deviceOwner = b.device_owner;
    if (typeof b.admin_state_up === 'boolean') p.adminStateUp = b.admin_state_up;
    p.updated = this.core.now();
    p.revision++;
    send(ctx.res, 200, { port: this.portBody(p) });
  }

  private tagRoutes<T extends { tags: string[]; updated: number; revision: number }>(coll: string, map: Map<string, T>, kind: string): Route[] {
    const get = (ctx: Ctx, id: string): T | undefined => {
      const o = map.get(id);
      if (!o) notFound(ctx, kind, id);
      return o;
    };
    const touch = (o: T): void => { o.updated = this.core.now(); o.revision++; };
    return [
      route('GET', `/v2.0/${coll}/:id/tags`, (ctx, [id]) => { const o = get(ctx, id!); if (o) send(ctx.res, 200, { tags: o.tags }); }),
      route('PUT', `/v2.0/${coll}/:id/tags`, (ctx, [id]) => {
        const o = get(ctx, id!);
        if (!o) return;
        const tags = (ctx.body as { tags?: unknown })?.tags;
        if (!Array.isArray(tags) || tags.some((t) => typeof t !== 'string' || t.length > 255)) return nerr(ctx, 400, 'HTTPBadRequest', 'Invalid tags body');
        o.tags = [...new Set(tags as string[])];
        touch(o);
        send(ctx.res, 200, { tags: o.tags });
      }),
      route('PUT', `/v2.0/${coll}/:id/tags/:tag`, (ctx, [id, tag]) => {
        const o = get(ctx, id!);
        if (!o) return;
        if (!o.tags.includes(tag!)) o.tags.push(tag!);
        touch(o);
        send(ctx.res, 201);
      }),
      route('GET', `/v2.0/${coll}/:id/tags/:tag`, (ctx, [id, tag]) => {
        const o = get(ctx, id!);
        if (!o) return;
        if (!o.tags.includes(tag!)) return nerr(ctx, 404, 'TagNotFound', `Tag ${tag} could not be found for resource ${id}.`);
        send(ctx.res, 204);
      }),
      route('DELETE', `/v2.0/${coll}/:id/tags/:tag`, (ctx, [id, tag]) => {
        const o = get(ctx, id!);
        if (!o) return;
        if (!o.tags.includes(tag!)) return nerr(ctx, 404, 'TagNotFound', `Tag ${tag} could not be found for resource ${id}.`);
        o.tags = o.tags.filter((t) => t !== tag);
        touch(o);
        send(ctx.res, 204);
      }),
      route('DELETE', `/v2.0/${coll}/:id/tags`, (ctx, [id]) => {
        const o = get(ctx, id!);
        if (!o) return;
        o.tags = [];
        touch(o);
        send(ctx.res, 204);
      }),
    ];
  }

  private createRouter(ctx: Ctx): void {
    const b = (ctx.body as { router?: Record<string, unknown> })?.router;
    if (!b) return nerr(ctx, 400, 'HTTPBadRequest', 'Resource body required');
    const now = this.core.now();
    let gateway: Router['gateway'] = null;
    const gw = b.external_gateway_info as { network_id?: string } | undefined;
    if (gw?.network_id) {
      const ext = this.store.networks.get(gw.network_id);
      if (!ext) return notFound(ctx, 'Network', gw.network_id);
      if (!ext.external) return nerr(ctx, 400, 'BadRequest', `Bad router request: Network ${ext.id} is not an external network.`);
      const r = this.store.createPort({ networkId: ext.id, projectId: '', deviceOwner: 'network:router_gateway' });
      gateway = { network_id: ext.id, enable_snat: true, external_fixed_ips: 'port' in r ? r.port.fixedIps : [] };
    }
    const r: Router = { id: this.store.uuid(), name: String(b.name ?? ''), projectId: ctx.token!.projectId, status: 'ACTIVE', adminStateUp: true, gateway, interfaces: [], created: now, updated: now, revision: 1, tags: [], description: String(b.description ?? '') };
    this.store.routers.set(r.id, r);
    send(ctx.res, 201, { router: this.routerBody(r) });
  }

  private addInterface(ctx: Ctx, id: string): void {
    const r = this.store.routers.get(id);
    if (!r) return notFound(ctx, 'Router', id);
    const b = ctx.body as { subnet_id?: string; port_id?: string } | undefined;
    let port: Port | undefined;
    if (b?.subnet_id) {
      const s = this.store.subnets.get(b.subnet_id);
      if (!s) return notFound(ctx, 'Subnet', b.subnet_id);
      for (const pid of r.interfaces) if (this.store.ports.get(pid)?.fixedIps.some((f) => f.subnet_id === s.id))
        return nerr(ctx, 400, 'BadRequest', `Bad router request: Router already has a port on subnet ${s.id}.`);
      if (!s.gatewayIp) return nerr(ctx, 400, 'BadRequest', `Bad router request: Subnet for router interface must have a gateway IP.`);
      const res = this.store.createPort({ networkId: s.networkId, projectId: r.projectId, deviceId: r.id, deviceOwner: 'network:router_interface', fixedIps: [{ subnet_id: s.id, ip_address: s.gatewayIp }] });
      if ('error' in res) {
        // the gateway address is reserved in the subnet from creation: reuse it
        s.used.delete(ipToIntLocal(s.gatewayIp));
        const again = this.store.createPort({ networkId: s.networkId, projectId: r.projectId, deviceId: r.id, deviceOwner: 'network:router_interface', fixedIps: [{ subnet_id: s.id, ip_address: s.gatewayIp }] });
        if ('error' in again) return nerr(ctx, again.error.status, again.error.type, again.error.message);
        port = again.port;
      } else port = res.port;
    } else if (b?.port_id) {
      port = this.store.ports.get(b.port_id);
      if (!port) return notFound(ctx, 'Port', b.port_id);
      if (port.deviceId) return nerr(ctx, 409, 'PortInUse', `Unable to complete operation on port ${port.id} for network ${port.networkId}. Port already has an attached device ${port.deviceId}.`);
      port.deviceId = r.id;
      port.deviceOwner = 'network:router_interface';
    } else return nerr(ctx, 400, 'BadRequest', 'Bad router request: Either subnet_id or port_id must be specified.');
    port.status = 'ACTIVE';
    r.interfaces.push(port.id);
    r.updated = this.core.now();
    send(ctx.res, 200, { id: r.id, tenant_id: r.projectId, project_id: r.projectId, port_id: port.id, network_id: port.networkId, subnet_id: port.fixedIps[0]?.subnet_id, subnet_ids: port.fixedIps.map((f) => f.subnet_id), tags: [] });
  }

  private removeInterface(ctx: Ctx, id: string): void {
    const r = this.store.routers.get(id);
    if (!r) return notFound(ctx, 'Router', id);
    const b = ctx.body as { subnet_id?: string; port_id?: string } | undefined;
    const pid = r.interfaces.find((x) => x === b?.port_id || this.store.ports.get(x)?.fixedIps.some((f) => f.subnet_id === b?.subnet_id));
    if (!pid) return nerr(ctx, 404, 'RouterInterfaceNotFoundForSubnet', `Router ${r.id} has no interface on subnet ${b?.subnet_id ?? b?.port_id}`);
    const p = this.store.ports.get(pid)!;
    r.interfaces = r.interfaces.filter((x) => x !== pid);
    this.store.deletePort(pid);
    if (p.fixedIps[0]) {
      const s = this.store.subnets.get(p.fixedIps[0].subnet_id);
      if (s?.gatewayIp) s.used.add(ipToIntLocal(s.gatewayIp));
    }
    send(ctx.res, 200, { id: r.id, tenant_id: r.projectId, project_id: r.projectId, port_id: pid, network_id: p.networkId, subnet_id: p.fixedIps[0]?.subnet_id, subnet_ids: p.fixedIps.map((f) => f.subnet_id), tags: [] });
  }

  private quotas(ctx: Ctx, project: string, details: boolean): void {
    const q = this.store.quotas;
    const used = {
      network: this.store.countByProject(this.store.networks, project), subnet: this.store.countByProject(this.store.subnets, project),
      port: this.store.countByProject(this.store.ports, project), router: this.store.countByProject(this.store.routers, project),
      security_group: this.store.countByProject(this.store.secgroups, project),
      security_group_rule: [...this.store.secgroups.values()].filter((g) => g.projectId === project).reduce((a, g) => a + g.rules.length, 0),
      floatingip: 0, rbac_policy: 0, subnetpool: 0,
    };
    const limits: Record<keyof typeof used, number> = { network: q.networks, subnet: q.subnets, port: q.ports, router: q.routers, security_group: q.security_groups, security_group_rule: q.security_group_rules, floatingip: q.floatingips, rbac_policy: 10, subnetpool: -1 };
    const quota: Record<string, unknown> = {};
    for (const k of Object.keys(used) as (keyof typeof used)[]) quota[k] = details ? { used: used[k], limit: limits[k], reserved: 0 } : limits[k];
    send(ctx.res, 200, { quota });
  }
}

function ipToIntLocal(ip: string): number {
  return ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
}
