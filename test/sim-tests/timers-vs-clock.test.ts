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
      api = await startApi({ seed: 5, timeScale: 0.01, latency: { serverBuild: { fixed: 60_000 } } }, { clock: skewed(rate) });
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
      assert.ok(seen.has('scheduling') && seen.has('spawning'), `both steps observed: ${[...seen].join(', ')}`);
    });

    it('octavia: a hold ends when its own timer fires, whatever the clock says', async () => {
      api = await startApi({ seed: 3, timeScale: 0.01, cluster: { name: 'k', masters: 1 } }, { clock: skewed(rate) });
      const lb = (await api.call('GET', '/load-balancer/v2/lbaas/loadbalancers?name=k-lb')).body.loadbalancers[0];
      const status = async () => (await api!.call('GET', `/load-balancer/v2/lbaas/loadbalancers/${lb.id}`)).body.loadbalancer.provisioning_status;
      api.sim.openstack.octavia.hold('k-lb', 30_000);
      assert.equal(await status(), 'PENDING_UPDATE');
      await until(async () => (await status()) === 'ACTIVE', 20000, 5);
      assert.ok(api.sim.core.timeline.some((e) => e.type === 'lb.hold.end' && e.subject === 'k-lb'), 'the hold ended by its timer');
    });
  });
}
