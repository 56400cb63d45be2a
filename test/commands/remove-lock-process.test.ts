/**
 * `kadd remove` takes the cluster-wide lock (Lease kube-system/kadd-lock) through the runner, through the
 * real CLI (node bin/kadd.js, KADD_DEV=1) on the simulator, modelled on cluster-lock-process.test.ts (add):
 * two runs on two copies of one cluster file 100 ms apart; kill -9 of the holder, then the next run after
 * the Lease duration, or at once with --force-unlock.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startKaddSim, type Child, type KaddSim } from '../helpers/kadd-sim.js';
import { lease, remoteHolder, secondCopy } from '../helpers/cluster-lock.js';

const FAST = ['--yes', '--poll-interval', '25', '--evict-retry', '200'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitForHolder(h: KaddSim, c: Child, not?: string, timeoutMs = 30_000): Promise<string> {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    const id = lease(h)?.spec?.holderIdentity;
    if (id && id !== not) return id;
    if (c.proc.exitCode !== null) throw new Error(`kadd exited before taking the lock:\n${c.stderr()}`);
    await sleep(20);
  }
  throw new Error(`no Lease within ${timeoutMs} ms`);
}

describe('kadd remove: the cluster lock (simulator, child processes)', function () {
  this.timeout(120_000);
  let h: KaddSim | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  it('two runs on two copies of the cluster file, 100 ms apart: one removes, the other exits 2 naming the holder and changes nothing', async () => {
    // a server delete that takes 2 s: the first run still holds the lock when the second asks for it
    h = await startKaddSim({ masters: 1, nodes: 3, scenario: { latency: { serverDelete: 2000 }, kube: { podStartup: 30, podTermination: 30 } } });
    const other = secondCopy(h);
    const a = h.spawnKadd(['remove', ...FAST, h.cfgPath, 'demo-node-3']);
    await sleep(100);
    const b = h.spawnKadd(['remove', ...FAST, other, 'demo-node-3']);
    const [ra, rb] = await Promise.all([a.done, b.done]);
    assert.deepEqual([ra.code, rb.code].sort(), [0, 2], `codes ${ra.code} / ${rb.code}\n--- a:\n${ra.stderr}\n--- b:\n${rb.stderr}`);
    const refused = ra.code === 0 ? rb : ra;
    assert.match(refused.stderr, /another kadd holds the cluster lock \(Lease kube-system\/kadd-lock\): \S+@\S+ pid \d+ \(kadd remove on \S+cfg\.yml\) since \d{4}-\d\d-\d\dT[\d:.]+Z/);
    assert.match(refused.stderr, /nothing was changed/);
    assert.match(refused.stderr, /--force-unlock/);
    assert.doesNotMatch(refused.stderr, /cordon|drain/i, 'the refused run did not start on the node');
    // exactly one removal: demo-node-3 gone, the others kept, one updated cluster file
    assert.deepEqual(h.serverNames(), ['demo-node-1', 'demo-node-2']);
    assert.deepEqual([...h.nodes().keys()].filter((n) => /node/.test(n)).sort(), ['demo-node-1', 'demo-node-2']);
    const updated = [join(h.dir, 'cfg.updated.yml'), join(h.dir, 'other-operator', 'cfg.updated.yml')].filter((p) => existsSync(p));
    assert.equal(updated.length, 1, 'exactly one run wrote its cluster file');
    assert.match(readFileSync(updated[0]!, 'utf8'), /^n-nodes: 2\b/m);
    // the refused run wrote no journal operation (its copy has no journal, or one without a begin)
    const refusedDir = refused === ra ? h.dir : join(h.dir, 'other-operator');
    const journal = join(refusedDir, '.cfg.yml.kadd-journal.jsonl');
    if (existsSync(journal)) assert.doesNotMatch(readFileSync(journal, 'utf8'), /"t":"begin"/);
    assert.equal(lease(h), undefined, 'the winner released the Lease');
  });

  it('kill -9 of the holder on another host: refused until the Lease duration has passed, then taken; --force-unlock takes it at once', async () => {
    // a server delete that never ends within the test: every run holds the lock until it is stopped
    h = await startKaddSim({ masters: 1, nodes: 3, scenario: { latency: { serverDelete: { fixed: 60_000 } }, kube: { podStartup: 30, podTermination: 30 } } });
    const other = secondCopy(h);
    const a = h.spawnKadd(['remove', ...FAST, h.cfgPath, 'demo-node-3']);
    const holder = await waitForHolder(h, a);
    assert.equal(holder.split(' pid ')[1], String(a.proc.pid), 'holder identity user@host pid N');
    await a.waitFor(/demo-node-3/, 30_000);
    a.proc.kill('SIGKILL');
    await a.done;

    // a dry run takes no lock
    const dry = await h.kadd(['remove', ...FAST, '--dry-run', other, 'demo-node-2']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.equal(lease(h)!.spec.holderIdentity, holder, 'a dry run does not touch the Lease');

    const remote = remoteHolder(h, holder);
    const killedAt = Date.parse(lease(h)!.spec.renewTime);
    const refused = await h.kadd(['remove', ...FAST, other, 'demo-node-2']);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /another kadd holds the cluster lock .*@operator-laptop pid \d+ \(kadd remove on .*cfg\.yml\) since /);
    const freeIn = Number(/the lock is free (\d+)s from now/.exec(refused.stderr)?.[1]);
    assert.ok(freeIn > 0 && freeIn <= 15, refused.stderr);
    assert.ok(h.nodes().has('demo-node-2') && h.serverNames().includes('demo-node-2'), 'the refused run changed nothing');
    assert.equal((h.sim.kube as any).node('demo-node-2').spec.unschedulable, undefined, 'not even cordoned');

    // once the Lease duration (15 s) has passed since the dead holder's last renewal, the next run takes it
    await sleep(Math.max(0, killedAt + 15_000 - Date.now()) + 200);
    const c = h.spawnKadd(['remove', ...FAST, other, 'demo-node-2']);
    const taker = await waitForHolder(h, c, remote);
    assert.equal(taker.split(' pid ')[1], String(c.proc.pid));
    const acquiredAt = Date.parse(lease(h)!.spec.acquireTime);
    assert.ok(acquiredAt - killedAt >= 15_000, `taken ${acquiredAt - killedAt} ms after the last renewal`);
    assert.ok(acquiredAt - killedAt < 15_000 + 30_000, 'taken within the Lease duration of its first attempt');
    await c.waitFor(/took over the cluster lock from .*operator-laptop.*: it stopped renewing it/);

    // --force-unlock takes it from a live holder at once, with a warning; the old holder stops (lost lock)
    // (the killed run's own copy: --resume finishes its removal of demo-node-3)
    const t0 = Date.now();
    const d = h.spawnKadd(['remove', ...FAST, '--force-unlock', '--resume', h.cfgPath]);
    await d.waitFor(/warn.*--force-unlock: took the cluster lock from \S+@\S+ pid \d+ \(kadd remove on /, 30_000);
    assert.ok(Date.now() - t0 < 15_000, 'at once, not after the Lease duration');
    const rc = await c.done;
    assert.notEqual(rc.code, 0);
    assert.match(rc.stderr, /lost the cluster lock \(Lease kube-system\/kadd-lock\): it is now held by \S+@\S+ pid \d+/);
    d.proc.kill('SIGINT');
    await d.done;
  });
});
