/**
 * Issue 12 point 5: a stale cluster file (the *.updated.yml not copied back). `kadd add` compares the file's
 * count of the role it adds with the cluster before it creates anything (after taking its lock, so that a
 * concurrent kadd is reported as such): refused with exit 2 (both counts,
 * the fix), or with --accept-drift counted from the cluster.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { FAST_FLAGS, startKaddSim, type KaddSim } from '../helpers/kadd-sim.js';
import { clusterCount, driftError } from '../../lib/ops/drift.js';

describe('kadd add: a stale cluster file (simulator)', function () {
  this.timeout(120_000);
  let h: KaddSim | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  /** the file says `n` workers */
  function sayWorkers(k: KaddSim, n: number): void {
    writeFileSync(k.cfgPath, readFileSync(k.cfgPath, 'utf8').replace(/^n-nodes: \d+/m, `n-nodes: ${n}`));
  }

  it('file says 2 workers, the cluster has 6: exit 2 with both counts and the fix, not one API write', async () => {
    h = await startKaddSim({ nodes: 6 });
    sayWorkers(h, 2);
    h.sim.resetCounters();
    const r = await h.kadd(['add', '--amount', '1', ...FAST_FLAGS, h.cfgPath]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /cfg\.yml says n-nodes: 2, the cluster has 6 workers: the cluster file is stale; nothing was changed/);
    assert.match(r.stderr, /cp .*cfg\.updated\.yml .*cfg\.yml/);
    assert.match(r.stderr, /--accept-drift/);
    assert.deepEqual(h.mutations({ exceptClusterLock: true }), {}, 'no API write but kadd\'s own lock (taken and released)');
    assert.deepEqual(h.serverNames().length, 6);
    // the dry run says the same (the real run would be refused)
    const d = await h.kadd(['add', '--dry-run', '--amount', '1', ...FAST_FLAGS, h.cfgPath]);
    assert.equal(d.code, 2, d.stderr);
    assert.match(d.stderr, /says n-nodes: 2, the cluster has 6 workers/);
  });

  it('--accept-drift: counts from the cluster, the updated file says what exists + N', async () => {
    h = await startKaddSim({ nodes: 6 });
    sayWorkers(h, 2);
    const r = await h.kadd(['add', '--amount', '1', '--accept-drift', ...FAST_FLAGS, h.cfgPath]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /says n-nodes: 2, the cluster has 6 workers.*--accept-drift: counting from the cluster \(n-nodes: 6\)/);
    assert.match(readFileSync(h.updatedPath, 'utf8'), /^n-nodes: 7\b/m);
    assert.match(r.stderr, /n-nodes 2 -> 7/);
  });

  it('matching counts: no warning, the file count + N', async () => {
    h = await startKaddSim({ nodes: 2 });
    const r = await h.kadd(['add', '--amount', '1', ...FAST_FLAGS, h.cfgPath]);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /stale|accept-drift/);
    assert.match(readFileSync(h.updatedPath, 'utf8'), /^n-nodes: 3\b/m);
  });

  it('masters: file says 1, the cluster has 3: exit 2 before anything is written', async () => {
    h = await startKaddSim({ masters: 3 });
    writeFileSync(h.cfgPath, readFileSync(h.cfgPath, 'utf8').replace(/^n-masters: \d+/m, 'n-masters: 1'));
    h.sim.resetCounters();
    const r = await h.kadd(['add', '--role', 'master', '--yes', ...FAST_FLAGS, h.cfgPath]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /says n-masters: 1, the cluster has 3 masters/);
    assert.deepEqual(h.mutations({ exceptClusterLock: true }), {}, 'no adder, no server; the lock released');
  });
});

describe('drift (pure)', () => {
  it('counts servers ∪ Nodes by kadd naming, without the excluded names', () => {
    assert.equal(clusterCount('demo', 'node', ['demo-node-1', 'demo-node-2', 'demo-master-1', 'other-node-1'], ['demo-node-2', 'demo-node-3', 'x'], ['demo-node-1']), 2);
    const e = driftError('cfg.yml', 'node', 2, 6);
    assert.equal(e.exitCode, 2);
    assert.equal(e.message.includes('\n'), false, 'one line');
    assert.match(e.hint!, /cp cfg\.updated\.yml cfg\.yml/);
  });
});
