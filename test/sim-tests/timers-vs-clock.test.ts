/**
 * The simulator's timers against a clock that disagrees with them, as a loaded machine's does: setTimeout can
 * fire a real millisecond before Date.now says its time has come (1/timeScale sim ms: 100 at timeScale 0.01), or
 * many milliseconds after. A state a timer sets must be read from what the timer did, never re-derived by
 * comparing a sim time with the clock. Each test runs the sim on a clock that is slow (timers look early) and
 * on one that is fast (timers look late), so a regression fails every time instead of once in a CI run.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'mocha';
import { ids, startApi, type Api, until } from './openstack-helpers.js';

/** a clock running at `rate` times real speed from now on */
function skewed(rate: number): () => number {
  const t0 = Date.now();
  return () => t0 + (Date.now() - t0) * rate;
}

for (const [label, rate] of [['slow clock (timers fire early)', 0.5], ['fast clock (timers fire late)', 2]] as const) {
  describe(`sim timers vs clock: ${label}`, function () {
    this.timeout(30000);
    let api: Api | undefined;
    afterEach(async () => {
      await api?.sim.stop();
      api = undefined;
    });

    it('nova: a server has a host (addresses, AZ, console) exactly when the scheduler step has run (task_state past scheduling)', async () => {
      api = await startApi({ seed: 5, timeScale: 0.01, latency: { serverBuild: { fixed: 200_000 } } }, { clock: skewed(rate) });
      const { net, image } = await ids(api);
      const created = await api.call('POST', '/compute/v2.1/servers', { server: { name: 'w1', flavorRef: '2', imageRef: image, networks: [{ uuid: net }] } });
      assert.equal(created.status, 202);
      const id = created.body.server.id as string;
      const seen = new Set<string>();
      await until(async () => {
        const s = (await api!.call('GET', `/compute/v2.1/servers/${id}`)).body.server;
        const scheduling = s['OS-EXT-STS:task_state'] === 'scheduling';
        const hasAddresses = Object.keys(s.addresses).length > 0;
        seen.add(String(s['OS-EXT-STS:task_state']));
        assert.equal(hasAddresses, !scheduling, `addresses ${hasAddresses ? 'shown' : 'missing'} at task_state ${s['OS-EXT-STS:task_state']}`);
        // states only move forward: once a GET showed the server past scheduling, its console is there
        if (!scheduling) assert.equal((await api!.call('POST', `/compute/v2.1/servers/${id}/action`, { 'os-getConsoleOutput': {} })).status, 200, `console once scheduled (task_state ${s['OS-EXT-STS:task_state']})`);
        return s.status === 'ACTIVE';
      }, 20000, 5);
      // spawning lasts 1.4 real s: always observed (scheduling, 0.6 s, may be missed by a loaded machine's first GET)
      assert.ok(seen.has('spawning'), `the spawning step observed: ${[...seen].join(', ')}`);
    });

    it('octavia: a hold ends when its own timer fires, whatever the clock says', async () => {
      api = await startApi({ seed: 3, timeScale: 0.01, cluster: { name: 'k', masters: 1 } }, { clock: skewed(rate) });
      const lb = (await api.call('GET', '/load-balancer/v2/lbaas/loadbalancers?name=k-lb')).body.loadbalancers[0];
      const status = async () => (await api!.call('GET', `/load-balancer/v2/lbaas/loadbalancers/${lb.id}`)).body.loadbalancer.provisioning_status;
      api.sim.openstack.octavia.hold('k-lb', 30_000);
      assert.equal(api.sim.openstack.store.lbs.get(lb.id)!.provisioning, 'PENDING_UPDATE', 'held (read at once: no real-time window)');
      await until(async () => (await status()) === 'ACTIVE', 20000, 5);
      assert.ok(api.sim.core.timeline.some((e) => e.type === 'lb.hold.end' && e.subject === 'k-lb'), 'the hold ended by its timer');
    });
  });
}

/** two timers of one resource whose order depends on drawn latencies: the later one must not undo the earlier */
describe('sim timers vs each other', function () {
  this.timeout(30000);
  let api: Api | undefined;
  afterEach(async () => {
    await api?.sim.stop();
    api = undefined;
  });

  it('nova: a reboot shorter than its "started" step ends ACTIVE with no task (the step does not fire into the finished reboot)', async () => {
    api = await startApi({ seed: 6, timeScale: 0.01, cluster: { name: 'k', masters: 1 }, latency: { serverReboot: { fixed: 100 } } });
    const srv = (await api.call('GET', '/compute/v2.1/servers?name=k-master-1')).body.servers[0];
    assert.equal((await api.call('POST', `/compute/v2.1/servers/${srv.id}/action`, { reboot: { type: 'SOFT' } })).status, 202);
    await until(() => api!.sim.core.timeline.some((e) => e.type === 'server.rebooted' && e.subject === 'k-master-1'), 20000, 5);
    const past = api.sim.core.now() + 1500; // the "started" step is at most 1000 sim ms after the request
    await until(() => api!.sim.core.now() > past, 20000, 5);
    const s = (await api.call('GET', `/compute/v2.1/servers/${srv.id}`)).body.server;
    assert.deepEqual([s.status, s['OS-EXT-STS:task_state'], s['OS-EXT-STS:power_state']], ['ACTIVE', null, 1]);
  });

  it('octavia: a hold taken while the load balancer provisions outlives the provisioning', async () => {
    api = await startApi({ seed: 7, timeScale: 0.01, latency: { lbProvision: { fixed: 10_000 } } });
    const { subnet } = await ids(api);
    const lb = (await api.call('POST', '/load-balancer/v2/lbaas/loadbalancers', { loadbalancer: { name: 'held', vip_subnet_id: subnet } })).body.loadbalancer;
    api.sim.openstack.octavia.hold('held', 60_000);
    // the state right when provisioning finishes, read in the sim's own step (no real-time window to hit)
    const core = api.sim.core;
    const record = core.record.bind(core);
    let atProvisioned: string[] | undefined;
    core.record = (type, subject, detail) => {
      if (type === 'lb.active' && subject === 'held') {
        const o = api!.sim.openstack.store.lbs.get(lb.id)!;
        atProvisioned = [o.provisioning, o.operating];
      }
      record(type, subject, detail);
    };
    const status = async () => (await api!.call('GET', `/load-balancer/v2/lbaas/loadbalancers/${lb.id}`)).body.loadbalancer;
    await until(async () => (await status()).provisioning_status === 'ACTIVE', 20000, 5);
    assert.deepEqual(atProvisioned, ['PENDING_UPDATE', 'ONLINE'], 'provisioned while held: still held');
    assert.ok(api.sim.core.timeline.some((e) => e.type === 'lb.hold.end' && e.subject === 'held'), 'lifted by the hold\'s end');
  });
});
