/**
 * Octavia v2 (as Zed answers): load balancers, listeners, pools, members, with provisioning status and
 * immutability (409). Checked against real Zed bodies by test/fidelity/openstack-real.test.ts.
 *
 * Like Octavia's API: a write locks the load balancer AND the parents it touches in PENDING_UPDATE until the
 * provider reports back (listener create: the LB; pool create: the LB and its listener; member
 * create/update/delete: the LB, the pool and the pool's listeners); the child itself is PENDING_CREATE /
 * PENDING_UPDATE / PENDING_DELETE. A member write checks the POOL first, so a member write during another
 * member change answers `Pool <id> is immutable and cannot be updated.` (409), any other locked write
 * `Load Balancer <id> is immutable and cannot be updated.`.
 */
import type { SimCoreImpl } from '../core.js';
import type { Store, LoadBalancer, Listener, Pool, Member } from './store.js';
import { type Ctx, type Route, route, send, isoPlain } from './util.js';

function ferr(ctx: Ctx, status: number, msg: string): void {
  send(ctx.res, status, { faultcode: status >= 500 ? 'Server' : 'Client', faultstring: msg, debuginfo: null });
}
const immutable = (ctx: Ctx, lb: LoadBalancer): void => ferr(ctx, 409, `Load Balancer ${lb.id} is immutable and cannot be updated.`);
const poolImmutable = (ctx: Ctx, p: Pool): void => ferr(ctx, 409, `Pool ${p.id} is immutable and cannot be updated.`);
/** Octavia's MUTABLE_STATUSES */
const mutable = (o: { provisioning: string }): boolean => o.provisioning === 'ACTIVE';

export class Octavia {
  constructor(private readonly core: SimCoreImpl, private readonly store: Store) {}

  routes(): Route[] {
    const L = '/v2/lbaas';
    return [
      route('GET', '', (ctx) => send(ctx.res, 200, { versions: [{ id: 'v2.0', status: 'SUPPORTED', updated: '2016-12-11T00:00:00Z', links: [{ href: `${ctx.base}/v2`, rel: 'self' }] }, { id: 'v2.27', status: 'CURRENT', updated: '2023-05-17T00:00:00Z', links: [{ href: `${ctx.base}/v2`, rel: 'self' }] }] })),
      route('GET', `${L}/loadbalancers`, (ctx) => this.list(ctx, 'loadbalancers', [...this.store.lbs.values()].map((x) => [this.lbBody(x), {}]))),
      route('GET', `${L}/loadbalancers/:id`, (ctx, [id]) => { const x = this.store.lbs.get(id!); if (!x) return ferr(ctx, 404, `Load Balancer ${id} not found.`); send(ctx.res, 200, { loadbalancer: this.lbBody(x) }); }),
      route('POST', `${L}/loadbalancers`, (ctx) => this.createLb(ctx)),
      route('DELETE', `${L}/loadbalancers/:id`, (ctx, [id]) => this.deleteLb(ctx, id!)),
      route('GET', `${L}/loadbalancers/:id/status`, (ctx, [id]) => { const x = this.store.lbs.get(id!); if (!x) return ferr(ctx, 404, `Load Balancer ${id} not found.`); send(ctx.res, 200, this.statusTree(x)); }),
      route('GET', `${L}/listeners`, (ctx) => this.list(ctx, 'listeners', [...this.store.listeners.values()].map((x) => [this.listenerBody(x), { loadbalancer_id: x.lbId }]))),
      route('GET', `${L}/listeners/:id`, (ctx, [id]) => { const x = this.store.listeners.get(id!); if (!x) return ferr(ctx, 404, `Listener ${id} not found.`); send(ctx.res, 200, { listener: this.listenerBody(x) }); }),
      route('POST', `${L}/listeners`, (ctx) => this.createListener(ctx)),
      route('DELETE', `${L}/listeners/:id`, (ctx, [id]) => this.deleteChild(ctx, 'Listener', this.store.listeners, id!)),
      route('GET', `${L}/pools`, (ctx) => this.list(ctx, 'pools', [...this.store.pools.values()].map((x) => [this.poolBody(x), { loadbalancer_id: x.lbId }]))),
      route('GET', `${L}/pools/:id`, (ctx, [id]) => { const x = this.store.pools.get(id!); if (!x) return ferr(ctx, 404, `Pool ${id} not found.`); send(ctx.res, 200, { pool: this.poolBody(x) }); }),
      route('POST', `${L}/pools`, (ctx) => this.createPool(ctx)),
      route('DELETE', `${L}/pools/:id`, (ctx, [id]) => this.deleteChild(ctx, 'Pool', this.store.pools, id!)),
      route('GET', `${L}/pools/:pool/members`, (ctx, [pid]) => {
        const p = this.store.pools.get(pid!);
        if (!p) return ferr(ctx, 404, `Pool ${pid} not found.`);
        this.list(ctx, 'members', p.members.map((m) => [this.memberBody(this.store.members.get(m)!), {}]));
      }),
      route('GET', `${L}/pools/:pool/members/:id`, (ctx, [pid, id]) => {
        const m = this.store.members.get(id!);
        if (!this.store.pools.has(pid!)) return ferr(ctx, 404, `Pool ${pid} not found.`);
        if (!m || m.poolId !== pid) return ferr(ctx, 404, `Member ${id} not found.`);
        send(ctx.res, 200, { member: this.memberBody(m) });
      }),
      route('POST', `${L}/pools/:pool/members`, (ctx, [pid]) => this.createMember(ctx, pid!)),
      route('PUT', `${L}/pools/:pool/members/:id`, (ctx, [pid, id]) => this.updateMember(ctx, pid!, id!)),
      route('DELETE', `${L}/pools/:pool/members/:id`, (ctx, [pid, id]) => this.deleteMember(ctx, pid!, id!)),
    ];
  }

  /** rows: [body, filter-only attributes (e.g. loadbalancer_id, a DB column Octavia filters on but does not show)] */
  private list(ctx: Ctx, coll: string, rows: [Record<string, unknown>, Record<string, unknown>][]): void {
    const q = ctx.query;
    const project = ctx.token!.projectId;
    const out = rows.filter(([body, hidden]) => {
      if (body.project_id !== project) return false;
      for (const k of new Set(q.keys())) {
        if (['limit', 'marker', 'page_reverse', 'sort', 'fields'].includes(k)) continue;
        const v = k in hidden ? hidden[k] : body[k];
        if (v === undefined) continue;
        if (!q.getAll(k).includes(String(v))) return false;
      }
      return true;
    }).map(([body]) => body);
    send(ctx.res, 200, { [coll]: out, [`${coll}_links`]: [] });
  }

  private std(o: { id: string; name: string; projectId: string; provisioning: string; operating: string; adminStateUp: boolean; created: number; updated: number | null; tags: string[] }): Record<string, unknown> {
    return { id: o.id, name: o.name, project_id: o.projectId, tenant_id: o.projectId, provisioning_status: o.provisioning, operating_status: o.operating, admin_state_up: o.adminStateUp, created_at: isoPlain(o.created), updated_at: o.updated === null ? null : isoPlain(o.updated), tags: o.tags };
  }
  lbBody(x: LoadBalancer): Record<string, unknown> {
    return {
      ...this.std(x), description: x.description, vip_address: x.vipAddress, vip_port_id: x.vipPortId, vip_subnet_id: x.vipSubnetId, vip_network_id: x.vipNetworkId, vip_qos_policy_id: null,
      provider: x.provider, flavor_id: x.flavorId, availability_zone: x.az, listeners: x.listeners.map((id) => ({ id })), pools: x.pools.map((id) => ({ id })), additional_vips: [],
    };
  }
  listenerBody(x: Listener): Record<string, unknown> {
    return {
      ...this.std(x), description: x.description, protocol: x.protocol, protocol_port: x.protocolPort, connection_limit: x.connectionLimit, default_tls_container_ref: null, sni_container_refs: [],
      default_pool_id: x.defaultPoolId, l7policies: [], insert_headers: {}, loadbalancers: [{ id: x.lbId }], timeout_client_data: 50000, timeout_member_connect: 5000, timeout_member_data: 50000,
      timeout_tcp_inspect: 0, allowed_cidrs: null, tls_ciphers: null, tls_versions: null, alpn_protocols: null, client_ca_tls_container_ref: null, client_authentication: 'NONE', client_crl_container_ref: null,
    };
  }
  poolBody(x: Pool): Record<string, unknown> {
    return {
      // healthmonitor_id: Octavia leaves it out while the pool has no health monitor (the simulator has none)
      ...this.std(x), description: x.description, protocol: x.protocol, lb_algorithm: x.lbAlgorithm, session_persistence: null,
      listeners: x.listenerId ? [{ id: x.listenerId }] : [], loadbalancers: [{ id: x.lbId }], members: x.members.map((id) => ({ id })), tls_container_ref: null, ca_tls_container_ref: null, crl_container_ref: null, tls_enabled: false, tls_ciphers: null, tls_versions: null, alpn_protocols: null,
    };
  }
  memberBody(x: Member): Record<string, unknown> {
    return { ...this.std(x), address: x.address, protocol_port: x.protocolPort, subnet_id: x.subnetId, weight: x.weight, monitor_address: x.monitorAddress, monitor_port: x.monitorPort, backup: x.backup };
  }

  private statusTree(lb: LoadBalancer): unknown {
    return {
      statuses: {
        loadbalancer: {
          id: lb.id, name: lb.name, provisioning_status: lb.provisioning, operating_status: lb.operating,
          listeners: lb.listeners.map((lid) => {
            const l = this.store.listeners.get(lid)!;
            return {
              id: l.id, name: l.name, provisioning_status: l.provisioning, operating_status: l.operating,
              pools: [...this.store.pools.values()].filter((p) => p.listenerId === l.id).map((p) => ({
                id: p.id, name: p.name, provisioning_status: p.provisioning, operating_status: p.operating,
                members: p.members.map((mid) => { const m = this.store.members.get(mid)!; return { id: m.id, name: m.name, address: m.address, protocol_port: m.protocolPort, provisioning_status: m.provisioning, operating_status: m.operating }; }),
              })),
            };
          }),
        },
      },
    };
  }

  /** the listeners whose default pool this is (Octavia locks them with the pool's load balancer) */
  private poolListeners(p: Pool): Listener[] {
    return [...this.store.listeners.values()].filter((l) => l.lbId === p.lbId && (l.id === p.listenerId || l.defaultPoolId === p.id));
  }

  /**
   * Lock the LB and the touched parents (PENDING_UPDATE) for a child change, then, after the lbChange latency,
   * apply done() and return them to ACTIVE (what the provider's status update does).
   */
  private change(lb: LoadBalancer, parents: { provisioning: string; updated: number | null }[], child: { provisioning: string; updated: number | null }, done: () => void): void {
    const now = this.core.now();
    for (const o of [lb, ...parents]) {
      o.provisioning = 'PENDING_UPDATE';
      o.updated = now;
    }
    const ms = this.core.resourceRng('lb-change', lb.name || lb.id).latency(this.core.scenario.latency?.lbChange ?? 1000);
    this.core.schedule(ms, () => {
      done();
      const t = this.core.now();
      for (const o of [lb, ...parents, child]) {
        // a held load balancer (faults.lbHold / hold()) stays PENDING_UPDATE until the hold ends
        // (holdUntil is cleared by the hold's own end timer: comparing it with now() here would race that timer,
        // since setTimeout and Date.now can disagree by a real millisecond = 1/timeScale sim ms)
        if (o === lb && lb.holdUntil !== undefined) continue;
        if (o.provisioning === 'PENDING_UPDATE') o.provisioning = 'ACTIVE';
        o.updated = t;
      }
    });
  }

  /** numbers every hold(); the one that ends last is recorded on the LB as its owner (holdSeq) */
  private holdsMade = 0;

  /**
   * Fault/test hook: the load balancer is locked by someone else (a failover, another client's change, a slow
   * amphora) and stays PENDING_UPDATE for `ms` sim ms: every write under it answers 409 "Load Balancer <id> is
   * immutable and cannot be updated." (members: "Pool <id> is immutable ..." if their pool is locked too).
   * `status: 'ERROR'` leaves it in ERROR instead (writes refused alike) for that time.
   */
  hold(nameOrId: string, ms: number, status: 'PENDING_UPDATE' | 'ERROR' = 'PENDING_UPDATE'): void {
    const lb = this.store.lbs.get(nameOrId) ?? [...this.store.lbs.values()].find((x) => x.name === nameOrId);
    if (!lb) throw new Error(`no load balancer ${nameOrId}`);
    const now = this.core.now();
    // the hold that ends last owns the end (holdSeq), so its timer alone lifts it
    const seq = (this.holdsMade += 1);
    if (lb.holdUntil === undefined || now + ms >= lb.holdUntil) { lb.holdUntil = now + ms; lb.holdSeq = seq; }
    lb.provisioning = status;
    lb.updated = now;
    this.core.record('lb.hold', lb.name || lb.id, { ms, status });
    this.core.schedule(ms, () => {
      // compared by owner, not by clock: the timer can fire a real millisecond before Date.now says its time has
      // come, and at timeScale 0.01 that is 100 sim ms (this flaked under load)
      if (lb.holdSeq !== seq) return;
      lb.holdUntil = undefined;
      if (lb.provisioning === 'PENDING_UPDATE' || lb.provisioning === 'ERROR') lb.provisioning = 'ACTIVE';
      lb.updated = this.core.now();
      this.core.record('lb.hold.end', lb.name || lb.id);
    });
  }

  /** scenario faults.lbHold: [{lb (name regex), at (s), for (s), status}] */
  scheduleHolds(): void {
    for (const f of this.core.scenario.faults?.lbHold ?? []) {
      this.core.schedule(f.at * 1000, () => {
        const re = new RegExp(f.lb);
        for (const lb of [...this.store.lbs.values()]) if (re.test(lb.name) || lb.id === f.lb) this.hold(lb.id, f.for * 1000, f.status ?? 'PENDING_UPDATE');
      });
    }
  }

  private body<T>(ctx: Ctx, key: string): T | undefined {
    const b = (ctx.body as Record<string, unknown> | undefined)?.[key];
    if (!b || typeof b !== 'object') {
      ferr(ctx, 400, `Invalid input for field/attribute ${key}. Value: 'None'. Mandatory field missing.`);
      return undefined;
    }
    return b as T;
  }

  private createLb(ctx: Ctx): void {
    const b = this.body<Record<string, unknown>>(ctx, 'loadbalancer');
    if (!b) return;
    const subnet = b.vip_subnet_id ? this.store.subnets.get(String(b.vip_subnet_id)) : undefined;
    if (!subnet) return ferr(ctx, 400, `Validation failure: Subnet ${String(b.vip_subnet_id)} not found.`);
    const now = this.core.now();
    const r = this.store.createPort({ networkId: subnet.networkId, projectId: ctx.token!.projectId, name: `octavia-lb-${'x'}`, deviceOwner: 'Octavia', fixedIps: [{ subnet_id: subnet.id, ...(b.vip_address ? { ip_address: String(b.vip_address) } : {}) }] });
    if ('error' in r) return ferr(ctx, 409, r.error.message);
    const lb: LoadBalancer = {
      id: this.store.uuid(), name: String(b.name ?? ''), description: String(b.description ?? ''), projectId: ctx.token!.projectId, vipSubnetId: subnet.id, vipNetworkId: subnet.networkId,
      vipPortId: r.port.id, vipAddress: r.port.fixedIps[0]!.ip_address, provisioning: 'PENDING_CREATE', operating: 'OFFLINE', adminStateUp: b.admin_state_up !== false, provider: 'amphora',
      created: now, updated: null, listeners: [], pools: [], tags: Array.isArray(b.tags) ? (b.tags as string[]) : [], flavorId: null, az: null,
    };
    r.port.name = `octavia-lb-${lb.id}`;
    r.port.deviceId = `lb-${lb.id}`;
    this.store.lbs.set(lb.id, lb);
    const ms = this.core.resourceRng('lb', lb.name || lb.id).latency(this.core.scenario.latency?.lbProvision ?? 3000);
    this.core.record('lb.create', lb.name, { provisionMs: Math.round(ms) });
    this.core.schedule(ms, () => {
      // a hold that began while it was provisioning outlives the provisioning (its own timer lifts it)
      if (lb.holdUntil === undefined) lb.provisioning = 'ACTIVE';
      lb.operating = 'ONLINE';
      lb.updated = this.core.now();
      this.core.record('lb.active', lb.name);
    });
    send(ctx.res, 201, { loadbalancer: this.lbBody(lb) });
  }

  private deleteLb(ctx: Ctx, id: string): void {
    const lb = this.store.lbs.get(id);
    if (!lb) return ferr(ctx, 404, `Load Balancer ${id} not found.`);
    // Octavia checks the children before the status
    const cascade = ctx.query.get('cascade') === 'true';
    if (!cascade && (lb.listeners.length || lb.pools.length)) return ferr(ctx, 400, `Validation failure: Cannot delete Load Balancer ${lb.id} - it has children`);
    if (lb.provisioning !== 'ACTIVE' && lb.provisioning !== 'ERROR') return immutable(ctx, lb);
    lb.provisioning = 'PENDING_DELETE';
    lb.updated = this.core.now();
    this.core.schedule(this.core.resourceRng('lb-delete', lb.name || lb.id).latency(this.core.scenario.latency?.lbChange ?? 1000), () => {
      for (const pid of lb.pools) { for (const m of this.store.pools.get(pid)?.members ?? []) this.store.members.delete(m); this.store.pools.delete(pid); }
      for (const l of lb.listeners) this.store.listeners.delete(l);
      this.store.deletePort(lb.vipPortId);
      this.store.lbs.delete(lb.id);
      this.core.record('lb.deleted', lb.name);
    });
    send(ctx.res, 204);
  }

  private createListener(ctx: Ctx): void {
    const b = this.body<Record<string, unknown>>(ctx, 'listener');
    if (!b) return;
    const lb = this.store.lbs.get(String(b.loadbalancer_id));
    if (!lb) return ferr(ctx, 400, `Validation failure: Load Balancer ${String(b.loadbalancer_id)} not found.`);
    const port = Number(b.protocol_port);
    if (!Number.isInteger(port) || port < 1 || port > 65535) return ferr(ctx, 400, `Invalid input for field/attribute protocol_port. Value: '${String(b.protocol_port)}'. Value should be between 1 and 65535`);
    if (!mutable(lb)) return immutable(ctx, lb);
    for (const lid of lb.listeners) if (this.store.listeners.get(lid)?.protocolPort === port) return ferr(ctx, 409, `Another Listener on this Load Balancer is already using protocol_port ${port}`);
    const l: Listener = {
      id: this.store.uuid(), name: String(b.name ?? ''), description: String(b.description ?? ''), projectId: lb.projectId, lbId: lb.id, protocol: String(b.protocol ?? 'TCP'), protocolPort: port,
      defaultPoolId: null, provisioning: 'PENDING_CREATE', operating: 'OFFLINE', adminStateUp: true, connectionLimit: -1, created: this.core.now(), updated: null, tags: [],
    };
    this.store.listeners.set(l.id, l);
    lb.listeners.push(l.id);
    const body = { listener: this.listenerBody(l) };
    this.change(lb, [], l, () => { l.provisioning = 'ACTIVE'; l.operating = 'ONLINE'; });
    send(ctx.res, 201, body);
  }

  private createPool(ctx: Ctx): void {
    const b = this.body<Record<string, unknown>>(ctx, 'pool');
    if (!b) return;
    let lb: LoadBalancer | undefined;
    let listener: Listener | undefined;
    if (b.listener_id) {
      listener = this.store.listeners.get(String(b.listener_id));
      if (!listener) return ferr(ctx, 400, `Validation failure: Listener ${String(b.listener_id)} not found.`);
      if (listener.defaultPoolId) return ferr(ctx, 409, `Listener ${listener.id} is already using default pool ${listener.defaultPoolId}.`);
      lb = this.store.lbs.get(listener.lbId);
    } else lb = this.store.lbs.get(String(b.loadbalancer_id));
    if (!lb) return ferr(ctx, 400, 'Validation failure: Missing field loadbalancer_id or listener_id');
    if (!['ROUND_ROBIN', 'LEAST_CONNECTIONS', 'SOURCE_IP', 'SOURCE_IP_PORT'].includes(String(b.lb_algorithm))) return ferr(ctx, 400, `Invalid input for field/attribute lb_algorithm. Value: '${String(b.lb_algorithm)}'. Value should be one of: ROUND_ROBIN, LEAST_CONNECTIONS, SOURCE_IP, SOURCE_IP_PORT`);
    if (!mutable(lb) || (listener && !mutable(listener))) return immutable(ctx, lb);
    const p: Pool = {
      id: this.store.uuid(), name: String(b.name ?? ''), description: String(b.description ?? ''), projectId: lb.projectId, lbId: lb.id, listenerId: listener?.id ?? null, protocol: String(b.protocol ?? 'TCP'),
      lbAlgorithm: String(b.lb_algorithm), provisioning: 'PENDING_CREATE', operating: 'OFFLINE', adminStateUp: true, members: [], created: this.core.now(), updated: null, tags: [],
    };
    this.store.pools.set(p.id, p);
    lb.pools.push(p.id);
    if (listener) listener.defaultPoolId = p.id;
    const body = { pool: this.poolBody(p) };
    this.change(lb, listener ? [listener] : [], p, () => { p.provisioning = 'ACTIVE'; p.operating = 'ONLINE'; });
    send(ctx.res, 201, body);
  }

  private deleteChild(ctx: Ctx, kind: 'Listener' | 'Pool', map: Map<string, Listener> | Map<string, Pool>, id: string): void {
    const x = map.get(id);
    if (!x) return ferr(ctx, 404, `${kind} ${id} not found.`);
    const lb = this.store.lbs.get(x.lbId)!;
    const parents = kind === 'Pool' ? this.poolListeners(x as Pool) : [];
    if (!mutable(lb) || parents.some((l) => !mutable(l))) return immutable(ctx, lb);
    x.provisioning = 'PENDING_DELETE';
    this.change(lb, parents, x, () => {
      map.delete(id);
      lb.listeners = lb.listeners.filter((l) => l !== id);
      lb.pools = lb.pools.filter((p) => p !== id);
      if (kind === 'Pool') {
        for (const m of (x as Pool).members) this.store.members.delete(m);
        for (const l of this.store.listeners.values()) if (l.defaultPoolId === id) l.defaultPoolId = null;
      }
    });
    send(ctx.res, 204);
  }

  /** Octavia's member-write check: the pool first ("Pool ... is immutable"), then the LB and the pool's listeners */
  private memberLock(ctx: Ctx, pool: Pool): { lb: LoadBalancer; parents: (Pool | Listener)[] } | undefined {
    const lb = this.store.lbs.get(pool.lbId)!;
    if (!mutable(pool)) {
      poolImmutable(ctx, pool);
      return undefined;
    }
    const listeners = this.poolListeners(pool);
    if (!mutable(lb) || listeners.some((l) => !mutable(l))) {
      immutable(ctx, lb);
      return undefined;
    }
    return { lb, parents: [pool, ...listeners] };
  }

  private createMember(ctx: Ctx, poolId: string): void {
    const pool = this.store.pools.get(poolId);
    if (!pool) return ferr(ctx, 404, `Pool ${poolId} not found.`);
    const b = this.body<Record<string, unknown>>(ctx, 'member');
    if (!b) return;
    if (typeof b.address !== 'string' || !/^\d{1,3}(\.\d{1,3}){3}$/.test(b.address)) return ferr(ctx, 400, `Invalid input for field/attribute address. Value: '${String(b.address)}'. Value should be IPv4 or IPv6 format`);
    const port = Number(b.protocol_port);
    if (!Number.isInteger(port) || port < 1 || port > 65535) return ferr(ctx, 400, `Invalid input for field/attribute protocol_port. Value: '${String(b.protocol_port)}'. Value should be between 1 and 65535`);
    if (b.subnet_id !== undefined && b.subnet_id !== null && !this.store.subnets.has(String(b.subnet_id))) return ferr(ctx, 400, `Validation failure: Subnet ${String(b.subnet_id)} not found.`);
    const lock = this.memberLock(ctx, pool);
    if (!lock) return;
    for (const mid of pool.members) {
      const m = this.store.members.get(mid)!;
      if (m.address === b.address && m.protocolPort === port) return ferr(ctx, 409, `Another member on this pool is already using ip address ${m.address} on protocol_port ${port}`);
    }
    const m: Member = {
      id: this.store.uuid(), name: String(b.name ?? ''), projectId: pool.projectId, poolId: pool.id, address: b.address, protocolPort: port, subnetId: b.subnet_id ? String(b.subnet_id) : null,
      // Octavia: NO_MONITOR from the start when the pool has no health monitor (the simulator's never have one)
      weight: b.weight !== undefined ? Number(b.weight) : 1, provisioning: 'PENDING_CREATE', operating: 'NO_MONITOR', adminStateUp: b.admin_state_up !== false,
      monitorAddress: null, monitorPort: null, backup: b.backup === true, created: this.core.now(), updated: null, tags: Array.isArray(b.tags) ? (b.tags as string[]) : [],
    };
    this.store.members.set(m.id, m);
    pool.members.push(m.id);
    this.core.record('lb.member.create', m.address, { pool: pool.name });
    const body = { member: this.memberBody(m) };
    this.change(lock.lb, lock.parents, m, () => { m.provisioning = 'ACTIVE'; });
    send(ctx.res, 201, body);
  }

  private updateMember(ctx: Ctx, poolId: string, id: string): void {
    const pool = this.store.pools.get(poolId);
    if (!pool) return ferr(ctx, 404, `Pool ${poolId} not found.`);
    const m = this.store.members.get(id);
    if (!m || m.poolId !== poolId) return ferr(ctx, 404, `Member ${id} not found.`);
    const b = this.body<Record<string, unknown>>(ctx, 'member');
    if (!b) return;
    const lock = this.memberLock(ctx, pool);
    if (!lock) return;
    // Octavia writes the new values to its DB at once and hands the change to the provider
    if (typeof b.name === 'string') m.name = b.name;
    if (b.weight !== undefined) m.weight = Number(b.weight);
    if (typeof b.admin_state_up === 'boolean') m.adminStateUp = b.admin_state_up;
    if (typeof b.backup === 'boolean') m.backup = b.backup;
    m.provisioning = 'PENDING_UPDATE';
    m.updated = this.core.now();
    const body = { member: this.memberBody(m) };
    this.change(lock.lb, lock.parents, m, () => {});
    send(ctx.res, 200, body);
  }

  private deleteMember(ctx: Ctx, poolId: string, id: string): void {
    const pool = this.store.pools.get(poolId);
    if (!pool) return ferr(ctx, 404, `Pool ${poolId} not found.`);
    const m = this.store.members.get(id);
    if (!m || m.poolId !== poolId) return ferr(ctx, 404, `Member ${id} not found.`);
    const lock = this.memberLock(ctx, pool);
    if (!lock) return;
    m.provisioning = 'PENDING_DELETE';
    m.updated = this.core.now();
    this.core.record('lb.member.delete', m.address, { pool: pool.name });
    this.change(lock.lb, lock.parents, m, () => {
      this.store.members.delete(m.id);
      pool.members = pool.members.filter((x) => x !== m.id);
    });
    send(ctx.res, 204);
  }
}
