/** Wires the simulated OpenStack services into the core. */
import type { SimCoreImpl, SimRequest } from '../core.js';
import { REGION_TWO_PREFIX } from '../core.js';
import type { SimHandler, SimOpenStackView } from '../contract.js';
import { Store } from './store.js';
import { Keystone, unauthorized, header } from './keystone.js';
import { Nova } from './nova.js';
import { Neutron } from './neutron.js';
import { Cinder } from './cinder.js';
import { Glance } from './glance.js';
import { Octavia } from './octavia.js';
import { seedDefaults, seedCluster } from './seed.js';
import { type Ctx, type Route, dispatch, send } from './util.js';

export interface OpenStackSim {
  handler: SimHandler;
  store: Store;
  keystone: Keystone;
  nova: Nova;
  cinder: Cinder;
  octavia: Octavia;
  view: SimOpenStackView;
  state(): unknown;
}

export function createOpenStackSim(core: SimCoreImpl): OpenStackSim {
  const store = new Store(core);
  const keystone = new Keystone(core, store);
  const cinder = new Cinder(core, store);
  const nova = new Nova(core, store, cinder);
  const neutron = new Neutron(core, store);
  const glance = new Glance(store);
  const octavia = new Octavia(core, store);
  seedDefaults(store);
  if (core.scenario.cluster) seedCluster(store, cinder, core.scenario.cluster);
  nova.scheduleStateFaults();
  octavia.scheduleHolds();

  const table: Record<string, { prefix: string; routes: Route[]; auth: boolean; notFound: (ctx: Ctx) => void }> = {
    identity: { prefix: '/identity', routes: keystone.routes(), auth: false, notFound: (ctx) => send(ctx.res, 404, { error: { code: 404, message: 'The resource could not be found.', title: 'Not Found' } }) },
    compute: { prefix: '/compute', routes: nova.routes(), auth: true, notFound: (ctx) => send(ctx.res, 404, { itemNotFound: { code: 404, message: 'The resource could not be found.' } }) },
    network: { prefix: '/network', routes: neutron.routes(), auth: true, notFound: (ctx) => send(ctx.res, 404, { NeutronError: { type: 'HTTPNotFound', message: 'The resource could not be found.', detail: '' } }) },
    volume: { prefix: '/volume', routes: cinder.routes(), auth: true, notFound: (ctx) => send(ctx.res, 404, { itemNotFound: { code: 404, message: 'The resource could not be found.' } }) },
    image: { prefix: '/image', routes: glance.routes(), auth: true, notFound: (ctx) => send(ctx.res, 404, '404 Not Found\n\nThe resource could not be found.\n\n   ') },
    'load-balancer': { prefix: '/load-balancer', routes: octavia.routes(), auth: true, notFound: (ctx) => send(ctx.res, 404, { faultcode: 'Client', faultstring: 'The resource could not be found.', debuginfo: null }) },
  };
  // version documents are public in every service
  const isVersionDoc = (path: string): boolean => path === '' || path === '/' || /^\/v[\d.]+\/?$/.test(path) || path === '/versions';

  const handler: SimHandler = async (req, res, url) => {
    const svc = core.classify(url.pathname).service;
    const t = table[svc];
    if (!t) return false;
    const regionPrefix = (req.url ?? '').startsWith(REGION_TWO_PREFIX + '/') ? REGION_TWO_PREFIX : '';
    const ctx: Ctx = {
      req: req as SimRequest, res, url, method: (req.method ?? 'GET').toUpperCase(), path: url.pathname.slice(t.prefix.length).replace(/\/+$/, ''),
      query: url.searchParams, body: req.body, base: core.baseUrl + regionPrefix + t.prefix,
    };
    if (t.auth && !isVersionDoc(ctx.path)) {
      const token = keystone.validate(header(ctx, 'x-auth-token'));
      if (!token) {
        core.record('auth.rejected', `${svc} ${ctx.method} ${ctx.path.split('/').slice(0, 3).join('/')}`);
        unauthorized(ctx, core.baseUrl);
        return true;
      }
      ctx.token = token;
    }
    const r = await dispatch(t.routes, ctx);
    if (r === 'method') {
      send(res, 405, svc === 'network' ? { NeutronError: { type: 'HTTPMethodNotAllowed', message: 'The method is not allowed for this resource.', detail: '' } } : { error: { code: 405, message: 'The method is not allowed for this resource.' } });
    } else if (!r) t.notFound(ctx);
    return true;
  };

  const view: SimOpenStackView = {
    getServer: (idOrName) => {
      const s = store.servers.get(idOrName) ?? [...store.servers.values()].find((x) => x.name === idOrName);
      return s ? nova.info(s) : undefined;
    },
    listServers: () => [...store.servers.values()].map((s) => nova.info(s)),
    loadBalancerVip: (nameOrId) => (store.lbs.get(nameOrId) ?? [...store.lbs.values()].find((l) => l.name === nameOrId))?.vipAddress,
  };

  const state = (): unknown => ({
    identity: {
      projects: [...store.projects.values()],
      users: [...store.users.values()].map((u) => ({ id: u.id, name: u.name, domainId: u.domainId, defaultProjectId: u.defaultProjectId })),
      applicationCredentials: [...store.appCreds.values()].map((a) => ({ id: a.id, name: a.name, userId: a.userId, projectId: a.projectId })),
      activeTokens: [...store.tokens.values()].filter((t) => t.expiresAt > core.now()).length,
    },
    quotas: store.quotas,
    servers: [...store.servers.values()].map((s) => ({
      id: s.id, name: s.name, status: s.status, taskState: s.taskState, az: s.az, flavor: store.flavors.get(s.flavorId)?.name, ports: s.ports, volumes: s.volumes, tags: s.tags, metadata: s.metadata, fault: s.fault?.message,
      ip: s.ports[0] ? store.ports.get(s.ports[0])?.fixedIps[0]?.ip_address : undefined, host: store.hostOf(s), serverGroup: s.groupId,
    })),
    serverGroups: [...store.serverGroups.values()].map((g) => ({ id: g.id, name: g.name, policy: g.policy, rules: g.rules, members: [...g.members], projectId: g.projectId })),
    volumes: [...store.volumes.values()].map((v) => ({ id: v.id, name: v.name, status: v.status, size: v.size, attachedTo: v.attachments.map((a) => a.serverId), attachments: v.attachments.map((a) => ({ id: a.attachmentId, serverId: a.serverId, status: a.status })) })),
    ports: [...store.ports.values()].map((p) => ({ id: p.id, name: p.name, networkId: p.networkId, deviceId: p.deviceId, deviceOwner: p.deviceOwner, status: p.status, ips: p.fixedIps.map((f) => f.ip_address), tags: p.tags })),
    networks: [...store.networks.values()].map((n) => ({ id: n.id, name: n.name, external: n.external, subnets: n.subnets })),
    routers: [...store.routers.values()].map((r) => ({ id: r.id, name: r.name, interfaces: r.interfaces })),
    securityGroups: [...store.secgroups.values()].map((g) => ({ id: g.id, name: g.name, rules: g.rules.length })),
    loadBalancers: [...store.lbs.values()].map((lb) => ({
      id: lb.id, name: lb.name, vip: lb.vipAddress, provisioning: lb.provisioning,
      listeners: lb.listeners.map((id) => store.listeners.get(id)).filter(Boolean).map((l) => ({ id: l!.id, name: l!.name, port: l!.protocolPort, provisioning: l!.provisioning })),
      pools: lb.pools.map((id) => store.pools.get(id)).filter(Boolean).map((p) => ({ id: p!.id, name: p!.name, provisioning: p!.provisioning, members: p!.members.map((m) => store.members.get(m)).filter(Boolean).map((m) => ({ id: m!.id, address: m!.address, port: m!.protocolPort, provisioning: m!.provisioning })) })),
    })),
    images: [...store.images.values()].map((i) => ({ id: i.id, name: i.name, minDisk: i.minDisk })),
    flavors: [...store.flavors.values()].map((f) => ({ id: f.id, name: f.name, vcpus: f.vcpus, ram: f.ram, disk: f.disk })),
    keypairs: [...store.keypairs.keys()],
  });

  return { handler, store, keystone, nova, cinder, octavia, view, state };
}
