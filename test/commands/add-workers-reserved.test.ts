/**
 * Seen on a real Zed cloud: a server deleted early in its build left its boot volume `reserved` by a Cinder
 * attachment of the deleted server. The simulator reproduces it (faults.leaveReservedOnEarlyDelete); kadd's
 * rollback must free the volume (delete the dangling attachment) and delete it: nothing left behind.
 */
import assert from 'node:assert/strict';
import { simClock, startKaddSim, type KaddSim } from '../helpers/kadd-sim.js';

describe('add --role node: a rollback during early build with the volume left reserved', function () {
  this.timeout(60_000);
  let h: KaddSim | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  it('frees the boot volume from the dangling attachment and deletes it; nothing is left', async () => {
    h = await startKaddSim({
      scenario: { timeScale: 0.05, faults: { leaveReservedOnEarlyDelete: true }, latency: { serverBuild: { fixed: 60_000 } } },
    });
    const before = h.volumes().map((v) => v.name);
    // the build takes 60 s; --boot-timeout 3 s gives up while the server is still scheduling
    const r = await h.kadd(['add', '--amount', '1', '--poll-interval', '500', '--boot-timeout', '3', '--timeout', '60', h.cfgPath], { clock: simClock(h) });
    assert.equal(r.code, 1, r.stderr);
    // the fault did fire, and kadd freed the volume through the attachments API
    const counters = h.counters();
    const attachmentDeletes = Object.entries(counters).filter(([k]) => /DELETE .*\/attachments\//.test(k)).reduce((n, [, v]) => n + v, 0);
    assert.ok(attachmentDeletes >= 1, `no attachment was deleted: ${JSON.stringify(counters)}`);
    assert.match(r.stderr, /timed out after 3s waiting for .*server ACTIVE/);
    assert.doesNotMatch(r.stderr, /could not delete volume/);
    assert.deepEqual(h.volumes().map((v) => v.name), before, 'the boot volume was deleted');
    assert.deepEqual(h.servers().filter((s) => s.name === 'demo-node-2'), []);
    assert.deepEqual(h.ports().filter((p) => p.name === 'demo-node-2-port-0'), []);
    const left = (h.sim.state() as { openstack?: { attachments?: unknown } }).openstack?.attachments;
    const attachments = Array.isArray(left) ? left : left && typeof left === 'object' ? Object.values(left) : [];
    assert.deepEqual(attachments.filter((a) => JSON.stringify(a).includes('demo-node-2')), []);
  });
});
