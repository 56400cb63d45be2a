/**
 * The simulator's Octavia behaves like Zed's API where kadd depends on it (status transitions and 409s that
 * the recorded bodies in fixtures/openstack-real/load-balancer only show one moment of):
 *  - a member write locks the load balancer, the pool and the pool's listener (PENDING_UPDATE), so a second
 *    member write is refused with `Pool <id> is immutable and cannot be updated.` (the recorded 409), and
 *    kadd's client, which waits on the POOL's provisioning_status, sees the pool busy;
 *  - a write that only locks the load balancer (listener create) refuses member writes with
 *    `Load Balancer <id> is immutable and cannot be updated.`;
 *  - members of a pool without health monitor are NO_MONITOR from creation on;
 *  - listeners and pools are filtered by loadbalancer_id.
 */
import assert from 'node:assert/strict';
import nock from 'nock';
import { nullIo, type Io } from '../../lib/io.js';
import type { Clock } from '../../lib/clock.js';
import { realClock } from '../../lib/clock.js';
import type { Sim } from '../sim/index.js';

const io: Io = nullIo;

/** real time, sleeps 50x shorter (kadd polls a busy pool every 2 s) */
const fastClock: Clock = { now: () => Date.now(), sleep: (ms, signal) => realClock.sleep(Math.ceil(ms / 50), signal) };

describe('fidelity: the simulator\'s Octavia locks and 409s like Zed', function () {
  this.timeout(20_000);
  let sim: Sim;
  let token = '';
  const O = (p: string) => `/load-balancer/v2/lbaas${p}`;

  async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
    const headers: Record<string, string> = { 'x-auth-token': token };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const r = await fetch(`${sim.baseUrl}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : undefined };
  }
  const status = async (kind: 'loadbalancers' | 'listeners' | 'pools', id: string): Promise<string> =>
    (await call('GET', O(`/${kind}/${id}`))).body[kind.slice(0, -1)].provisioning_status;
  async function idle(lbId: string): Promise<void> {
    for (let i = 0; i < 1000; i++) {
      if ((await status('loadbalancers', lbId)) === 'ACTIVE') return;
      await new Promise((r) => setTimeout(r, 5));
    }
    throw new Error('load balancer stayed PENDING_*');
  }

  let subnetId = '';
  before(async () => {
    nock.enableNetConnect('127.0.0.1');
    const { startSim } = await import('../sim/index.js');
    // lbChange 200 s x 0.001 = ~200 ms of PENDING_UPDATE after each write
    sim = await startSim({ scenario: { seed: 3, timeScale: 0.001, latency: { lbChange: 200_000 }, identity: { tokenTtl: 1e7 } } });
    token = await sim.token();
    const net = (await call('POST', '/network/v2.0/networks', { network: { name: 'oz-net' } })).body.network;
    subnetId = (await call('POST', '/network/v2.0/subnets', { subnet: { name: 'oz-subnet', network_id: net.id, cidr: '10.77.0.0/24', ip_version: 4 } })).body.subnet.id;
  });
  after(async () => {
    if (sim) await sim.stop();
  });

  /** <name>-lb, a TCP 6443 listener and its default pool, all ACTIVE */
  async function build(name: string): Promise<{ lb: string; listener: string; pool: string }> {
    const lb = (await call('POST', O('/loadbalancers'), { loadbalancer: { name: `${name}-lb`, vip_subnet_id: subnetId } })).body.loadbalancer.id;
    await idle(lb);
    const listener = (await call('POST', O('/listeners'), { listener: { name: `${name}-listener`, protocol: 'TCP', protocol_port: 6443, loadbalancer_id: lb } })).body.listener.id;
    await idle(lb);
    const pool = (await call('POST', O('/pools'), { pool: { name: `${name}-pool`, protocol: 'TCP', lb_algorithm: 'ROUND_ROBIN', listener_id: listener } })).body.pool.id;
    await idle(lb);
    return { lb, listener, pool };
  }

  it('pool create locks the load balancer and the listener; member create locks the LB, pool and listener; the next member write gets the pool\'s 409', async () => {
    const lb = (await call('POST', O('/loadbalancers'), { loadbalancer: { name: 'a-lb', vip_subnet_id: subnetId } })).body.loadbalancer.id;
    await idle(lb);
    const listener = (await call('POST', O('/listeners'), { listener: { name: 'a-listener', protocol: 'TCP', protocol_port: 6443, loadbalancer_id: lb } })).body.listener.id;
    await idle(lb);
    const p = await call('POST', O('/pools'), { pool: { name: 'a-pool', protocol: 'TCP', lb_algorithm: 'ROUND_ROBIN', listener_id: listener } });
    assert.equal(p.body.pool.provisioning_status, 'PENDING_CREATE');
    assert.deepEqual([await status('loadbalancers', lb), await status('listeners', listener)], ['PENDING_UPDATE', 'PENDING_UPDATE']);
    await idle(lb);
    const pool = p.body.pool.id;
    assert.deepEqual([await status('listeners', listener), await status('pools', pool)], ['ACTIVE', 'ACTIVE']);

    const m = await call('POST', O(`/pools/${pool}/members`), { member: { name: 'a-1', address: '10.77.0.11', protocol_port: 6443 } });
    assert.equal(m.status, 201);
    assert.deepEqual([m.body.member.provisioning_status, m.body.member.operating_status], ['PENDING_CREATE', 'NO_MONITOR']);
    assert.deepEqual([await status('loadbalancers', lb), await status('listeners', listener), await status('pools', pool)], ['PENDING_UPDATE', 'PENDING_UPDATE', 'PENDING_UPDATE']);
    const refused = await call('POST', O(`/pools/${pool}/members`), { member: { address: '10.77.0.12', protocol_port: 6443 } });
    assert.equal(refused.status, 409);
    assert.deepEqual(refused.body, { faultcode: 'Client', faultstring: `Pool ${pool} is immutable and cannot be updated.`, debuginfo: null });
    const del = await call('DELETE', O(`/pools/${pool}/members/${m.body.member.id}`));
    assert.equal(del.status, 409, 'a member delete is refused the same way');
    await idle(lb);
    assert.deepEqual([await status('listeners', listener), await status('pools', pool)], ['ACTIVE', 'ACTIVE']);
    const got = (await call('GET', O(`/pools/${pool}/members/${m.body.member.id}`))).body.member;
    assert.deepEqual([got.provisioning_status, got.operating_status], ['ACTIVE', 'NO_MONITOR']);
    const dup = await call('POST', O(`/pools/${pool}/members`), { member: { address: '10.77.0.11', protocol_port: 6443 } });
    assert.equal(dup.status, 409);
    assert.equal(dup.body.faultstring, 'Another member on this pool is already using ip address 10.77.0.11 on protocol_port 6443');
  });

  it('while only the load balancer is locked (listener create), a member write gets the load balancer\'s 409', async () => {
    const { lb, pool } = await build('b');
    const l2 = await call('POST', O('/listeners'), { listener: { name: 'b-other', protocol: 'TCP', protocol_port: 8443, loadbalancer_id: lb } });
    assert.equal(l2.status, 201);
    assert.equal(await status('pools', pool), 'ACTIVE');
    const refused = await call('POST', O(`/pools/${pool}/members`), { member: { address: '10.77.0.21', protocol_port: 6443 } });
    assert.equal(refused.status, 409);
    assert.equal(refused.body.faultstring, `Load Balancer ${lb} is immutable and cannot be updated.`);
    await idle(lb);
    // Octavia checks the children before the status: a load balancer with listeners is not deleted without cascade
    const del = await call('DELETE', O(`/loadbalancers/${lb}`));
    assert.equal(del.status, 400);
    assert.equal(del.body.faultstring, `Validation failure: Cannot delete Load Balancer ${lb} - it has children`);
  });

  it('listeners and pools are filtered by loadbalancer_id', async () => {
    const c = await build('c');
    const d = await build('d');
    for (const x of [c, d]) {
      const ls = (await call('GET', O(`/listeners?loadbalancer_id=${x.lb}`))).body.listeners;
      assert.deepEqual(ls.map((l: any) => l.id), [x.listener]);
      const ps = (await call('GET', O(`/pools?loadbalancer_id=${x.lb}`))).body.pools;
      assert.deepEqual(ps.map((p: any) => p.id), [x.pool]);
    }
  });

  it('kadd\'s client: two members added at once both land (the second waits while the pool is PENDING_UPDATE)', async () => {
    const { lb, pool } = await build('e');
    const { createOpenStackClient } = await import('../../lib/openstack/client.js');
    const os = createOpenStackClient(
      {
        authUrl: `${sim.baseUrl}/identity/v3`, authType: 'password', verify: true,
        auth: { username: 'kadd', password: 'kadd-secret', project_name: 'kadd', user_domain_name: 'Default', project_domain_name: 'Default' },
        regionName: 'RegionOne', interface: 'public',
      },
      { io, retries: 0, backoffBaseMs: 1, clock: fastClock },
    );
    const [a, b] = await Promise.all([
      os.loadbalancer.createMember(pool, { name: 'e-1', address: '10.77.0.31', protocol_port: 6443 }),
      os.loadbalancer.createMember(pool, { name: 'e-2', address: '10.77.0.32', protocol_port: 6443, subnet_id: subnetId }),
    ]);
    assert.notEqual(a.id, b.id);
    await idle(lb);
    const ms = await os.loadbalancer.listMembers(pool);
    assert.deepEqual(ms.map((m) => [m.address, m.provisioning_status]).sort(), [['10.77.0.31', 'ACTIVE'], ['10.77.0.32', 'ACTIVE']]);
    await Promise.all(ms.map((m) => os.loadbalancer.deleteMember(pool, m.id)));
    await idle(lb);
    assert.deepEqual(await os.loadbalancer.listMembers(pool), []);
  });
});
