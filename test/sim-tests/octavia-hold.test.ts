/**
 * Octavia under a lock it did not take: a load balancer held PENDING_UPDATE (or ERROR) for a configured time
 * answers member deletes with 409 "immutable" (the recorded Zed body), then accepts them once ACTIVE again;
 * a member write while the pool is locked by another member change answers "Pool ... is immutable".
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { afterEach, describe, it } from 'mocha';
import { startApi, type Api, until } from './openstack-helpers.js';

const recorded = JSON.parse(readFileSync(new URL('../../fixtures/openstack-real/load-balancer/member-create-409-pending-update.json', import.meta.url), 'utf8'));

describe('sim octavia: load balancer held PENDING_UPDATE', function () {
  this.timeout(20000);
  let api: Api;
  afterEach(() => api?.sim.stop());

  async function world() {
    const lb = (await api.call('GET', '/load-balancer/v2/lbaas/loadbalancers?name=k-lb')).body.loadbalancers[0];
    const pool = (await api.call('GET', `/load-balancer/v2/lbaas/pools?loadbalancer_id=${lb.id}`)).body.pools[0];
    const members = (await api.call('GET', `/load-balancer/v2/lbaas/pools/${pool.id}/members`)).body.members;
    return { lb, pool, members };
  }
  const lbStatus = async (id: string) => (await api.call('GET', `/load-balancer/v2/lbaas/loadbalancers/${id}`)).body.loadbalancer.provisioning_status;

  it('faults.lbHold: member delete answers 409 immutable for the configured time, then 204', async () => {
    api = await startApi({ seed: 2, timeScale: 0.01, cluster: { name: 'k', masters: 3 }, faults: { lbHold: [{ lb: '^k-lb$', at: 0, for: 150 }] }, latency: { lbChange: { fixed: 300_000 } } }); // our change: 3 real s, a window a loaded machine's two requests fit in
    const { lb, pool, members } = await world();
    assert.equal(await lbStatus(lb.id), 'PENDING_UPDATE');
    const r = await api.call('DELETE', `/load-balancer/v2/lbaas/pools/${pool.id}/members/${members[0].id}`);
    assert.equal(r.status, 409);
    assert.deepEqual(Object.keys(r.body), Object.keys(recorded));
    assert.deepEqual(r.body, { faultcode: 'Client', faultstring: `Load Balancer ${lb.id} is immutable and cannot be updated.`, debuginfo: null });
    await until(async () => (await lbStatus(lb.id)) === 'ACTIVE', 20000, 20);
    assert.ok(api.sim.core.elapsed() >= 150, 'held for its configured time');
    assert.equal((await api.call('DELETE', `/load-balancer/v2/lbaas/pools/${pool.id}/members/${members[0].id}`)).status, 204);
    assert.equal(await lbStatus(lb.id), 'PENDING_UPDATE', 'our own change locks it in turn');
    // a second member delete during our change: the pool is locked first -> the recorded "Pool ... is immutable"
    const again = await api.call('DELETE', `/load-balancer/v2/lbaas/pools/${pool.id}/members/${members[1].id}`);
    assert.equal(again.status, 409);
    assert.deepEqual(again.body, { ...recorded, faultstring: `Pool ${pool.id} is immutable and cannot be updated.` });
    await until(async () => (await world()).members.length === 2, 20000, 20);
    assert.equal(await lbStatus(lb.id), 'ACTIVE');
  });

  it('hold() at runtime, ERROR variant; a hold outlives a change made before it', async () => {
    api = await startApi({ seed: 3, timeScale: 0.01, cluster: { name: 'k', masters: 2 }, latency: { lbChange: { fixed: 1000 } } });
    const { lb, pool, members } = await world();
    assert.equal((await api.call('DELETE', `/load-balancer/v2/lbaas/pools/${pool.id}/members/${members[0].id}`)).status, 204);
    api.sim.openstack.octavia.hold('k-lb', 150_000);
    await until(async () => (await world()).members.length === 1, 20000, 20);
    assert.equal(await lbStatus(lb.id), 'PENDING_UPDATE', 'the change finished but the hold is still on');
    await until(async () => (await lbStatus(lb.id)) === 'ACTIVE', 20000, 20);
    api.sim.openstack.octavia.hold(lb.id, 2_000_000, 'ERROR'); // 20 real s: outlives the two checks below on any machine
    assert.equal(await lbStatus(lb.id), 'ERROR');
    assert.equal((await api.call('DELETE', `/load-balancer/v2/lbaas/pools/${pool.id}/members/${members[1].id}`)).status, 409);
  });
});
