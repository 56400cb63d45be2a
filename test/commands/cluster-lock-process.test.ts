/**
 * The cluster-wide lock through the real CLI (node bin/kadd.js, KADD_DEV=1) on the simulator: two
 * `kadd add` runs on two copies of one cluster file (as two operators on two machines would have) started
 * 100 ms apart; kill -9 of the holder, then the next run; --force-unlock. Workers and masters.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FAST_FLAGS, startKaddSim, type Child, type KaddSim, type RunResult } from '../helpers/kadd-sim.js';
import { lease, remoteHolder, secondCopy } from '../helpers/cluster-lock.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const SLOW_FLAGS = ['--poll-interval', '25', '--timeout', '6', '--boot-timeout', '90'];
const members = (h: KaddSim): { name: string }[] => (h.sim.kube as any).etcd.members;

async function waitForLease(h: KaddSim, c: Child, timeoutMs = 30_000): Promise<string> {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    const l = lease(h);
    if (l?.spec?.holderIdentity) return l.spec.holderIdentity;
    if (c.proc.exitCode !== null) throw new Error(`kadd exited before taking the lock:\n${c.stderr()}`);
    await sleep(20);
  }
  throw new Error('no Lease within 30 s');
}

/** Exactly one of two racing runs changed the cluster; the other exited 2 naming the holder. */
function oneWonOneRefused(a: RunResult, b: RunResult): { won: RunResult; refused: RunResult } {
  const codes = [a.code, b.code].sort();
  assert.deepEqual(codes, [0, 2], `codes ${a.code} / ${b.code}\n--- a:\n${a.stderr}\n--- b:\n${b.stderr}`);
  const won = a.code === 0 ? a : b;
  const refused = a.code === 0 ? b : a;
  assert.match(refused.stderr, /another kadd holds the cluster lock \(Lease kube-system\/kadd-lock\): \S+@\S+ pid \d+ \(kadd add --role (node|master) on \S+\) since \d{4}-\d\d-\d\dT[\d:.]+Z/);
  assert.match(refused.stderr, /nothing was changed/);
  assert.match(refused.stderr, /--force-unlock/);
  return { won, refused };
}

describe('cluster lock: two kadd runs against one cluster (simulator, child processes)', function () {
  this.timeout(300_000); // child processes on a loaded 2-core CI machine: a safety net against hangs, not a speed check
  let h: KaddSim | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  it('workers: two runs on two copies of the cluster file, 100 ms apart: one adds, the other exits 2 naming the holder and changes nothing', async () => {
    h = await startKaddSim({ nodes: 1 });
    const other = secondCopy(h);
    const a = h.spawnKadd(['add', ...FAST_FLAGS, '--amount', '2', h.cfgPath]);
    await sleep(100);
    const b = h.spawnKadd(['add', ...FAST_FLAGS, '--amount', '2', other]);
    const seen: string[] = [];
    const rec = setInterval(() => {
      const l = lease(h!);
      const v = l ? `${l.spec.holderIdentity} rv ${l.metadata.resourceVersion} t ${l.spec.leaseTransitions} ${l.spec.acquireTime}` : 'none';
      if (seen[seen.length - 1] !== v) seen.push(v);
    }, 5);
    const [ra, rb] = await Promise.all([a.done, b.done]);
    clearInterval(rec);
    if (ra.code + rb.code !== 2) console.error(seen.join('\n'), `\na pid ${a.proc.pid} b pid ${b.proc.pid}\n--- A\n${ra.stderr}\n--- B\n${rb.stderr}`);
    const { won } = oneWonOneRefused(ra, rb);
    // one batch: 1 seeded + 2 added, no duplicate names, one updated file
    assert.deepEqual(h.serverNames(), ['demo-node-1', 'demo-node-2', 'demo-node-3']);
    assert.equal(h.servers().length, new Set(h.servers().map((s) => s.name)).size, 'no duplicate server names');
    assert.deepEqual([...h.nodes().keys()].filter((n) => /node/.test(n)).sort(), ['demo-node-1', 'demo-node-2', 'demo-node-3']);
    const updated = [join(h.dir, 'cfg.updated.yml'), join(h.dir, 'other-operator', 'cfg.updated.yml')].filter((p) => existsSync(p));
    assert.equal(updated.length, 1, 'exactly one run wrote its cluster file');
    assert.match(readFileSync(updated[0]!, 'utf8'), /^n-nodes: 3\b/m);
    assert.equal(lease(h), undefined, 'the winner released the Lease');
    assert.ok(won.stdout.length > 0);
  });

  it('workers: kill -9 of the holder; a run from this host takes the lock at once; a holder on another host is waited out (Lease duration) or taken with --force-unlock', async () => {
    h = await startKaddSim({ nodes: 1, scenario: { latency: { serverBuild: { fixed: 60_000 } } } });
    const other = secondCopy(h);
    const a = h.spawnKadd(['add', ...SLOW_FLAGS, '--amount', '1', h.cfgPath]);
    const holder = await waitForLease(h, a);
    assert.match(holder, /^\S+@\S+ pid \d+$/);
    assert.equal(holder.split(' pid ')[1], String(a.proc.pid), 'holder identity user@host pid N');
    a.proc.kill('SIGKILL');
    await a.done;

    // a dry run takes no lock at all (a real run from this host would take it at once: the pid is gone)
    const dry = await h.kadd(['add', ...FAST_FLAGS, '--dry-run', other]);
    assert.notEqual(lease(h), undefined, 'a dry run does not touch the Lease');
    assert.equal(lease(h)!.spec.holderIdentity, holder, dry.stderr);

    // make the dead holder a kadd on another machine (pid liveness cannot be judged there): only time frees it
    const remote = remoteHolder(h, holder);
    const killedAt = Date.parse(lease(h)!.spec.renewTime);
    const refused = await h.kadd(['add', ...FAST_FLAGS, '--amount', '1', other]);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /another kadd holds the cluster lock .*@operator-laptop pid \d+ \(kadd add --role node on .*cfg\.yml\) since /);
    const freeIn = Number(/the lock is free (\d+)s from now/.exec(refused.stderr)?.[1]);
    assert.ok(freeIn > 0 && freeIn <= 15, refused.stderr);

    // waiting: the Lease is free 15 s after the last renewal; the next run then takes it over
    await sleep(Math.max(0, killedAt + 15_000 - Date.now()) + 200);
    const c = h.spawnKadd(['add', ...SLOW_FLAGS, '--accept-drift', '--amount', '1', other]); // a's server exists: other's n-nodes is stale
    const taker = await (async () => {
      const t0 = Date.now();
      while (Date.now() - t0 < 30_000) {
        const id = lease(h!)?.spec?.holderIdentity;
        if (id && id !== remote) return id;
        if (c.proc.exitCode !== null) throw new Error(`kadd exited:\n${c.stderr()}`);
        await sleep(20);
      }
      throw new Error('not taken');
    })();
    assert.equal(taker.split(' pid ')[1], String(c.proc.pid));
    // taken at its first attempt, once the Lease duration (15 s) had passed since the dead holder's last
    // renewal, not before (the time the child process needs to start under load is not the lock's)
    const acquiredAt = Date.parse(lease(h)!.spec.acquireTime);
    assert.ok(acquiredAt - killedAt >= 15_000, `taken ${acquiredAt - killedAt} ms after the last renewal`);
    assert.equal(lease(h)!.spec.leaseTransitions, 1);
    await c.waitFor(/took over the cluster lock from .*operator-laptop.*: it stopped renewing it/);

    // and --force-unlock takes it from a live holder at once, with a warning; the old holder stops
    const d = h.spawnKadd(['add', ...SLOW_FLAGS, '--force-unlock', '--accept-drift', '--amount', '1', h.cfgPath]);
    await d.waitFor(/warn.*--force-unlock: took the cluster lock from \S+@\S+ pid \d+/, 90_000);
    const rc = await c.done;
    assert.notEqual(rc.code, 0);
    assert.match(rc.stderr, /lost the cluster lock \(Lease kube-system\/kadd-lock\): it is now held by \S+@\S+ pid \d+/);
    d.proc.kill('SIGINT');
    await d.done;
  });

  it('a second run on the same cluster file while the first runs is told that another kadd is running, not that an earlier run did not finish (13.14)', async () => {
    h = await startKaddSim({ nodes: 1, scenario: { latency: { serverBuild: { fixed: 60_000 } } } });
    const a = h.spawnKadd(['add', ...SLOW_FLAGS, '--amount', '1', h.cfgPath]);
    await a.waitFor(/demo-node-2: active waiting/, 60_000); // its journal now records what it is creating
    const b = await h.kadd(['add', ...FAST_FLAGS, '--amount', '1', h.cfgPath]);
    a.proc.kill('SIGINT');
    await a.done;
    assert.equal(b.code, 2, b.stderr);
    assert.match(b.stderr, new RegExp(`another kadd \\(pid ${a.proc.pid} on \\S+, since \\S+\\) is working on this cluster file`));
    assert.doesNotMatch(b.stderr, /did not finish/);
  });

  it('masters: two runs 100 ms apart: one adds the master, the other exits 2 naming the holder; kill -9 then --force-unlock', async () => {
    h = await startKaddSim({});
    const other = secondCopy(h);
    const a = h.spawnKadd(['add', '--role', 'master', '--yes', ...FAST_FLAGS, h.cfgPath]);
    await sleep(100);
    const b = h.spawnKadd(['add', '--role', 'master', '--yes', ...FAST_FLAGS, other]);
    const [ra, rb] = await Promise.all([a.done, b.done]);
    oneWonOneRefused(ra, rb);
    assert.deepEqual(members(h).map((m) => m.name).sort(), ['demo-master-1', 'demo-master-2']);
    assert.deepEqual(h.serverNames('master'), ['demo-master-1', 'demo-master-2']);
    assert.equal(lease(h), undefined);

    // kill -9 of a master run holding the lock (as if on another machine), then --force-unlock at once
    const c = h.spawnKadd(['add', '--role', 'master', '--yes', '--accept-drift', ...FAST_FLAGS, h.cfgPath]); // the file still says 1 master
    const holder = await waitForLease(h, c);
    c.proc.kill('SIGKILL');
    await c.done;
    const remote = remoteHolder(h, holder);
    const refused = await h.kadd(['add', '--role', 'master', '--yes', ...FAST_FLAGS, other]);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /another kadd holds the cluster lock .*@operator-laptop pid \d+ \(kadd add --role master on /);
    const forced = await h.kadd(['add', '--role', 'master', '--yes', '--accept-drift', ...FAST_FLAGS, '--force-unlock', '--dry-run', other]);
    assert.equal(lease(h)!.spec.holderIdentity, remote, `a dry run leaves the Lease alone\n${forced.stderr}`);
    remoteHolder(h, holder);
    const t0 = Date.now();
    const f = await h.kadd(['add', '--role', 'master', '--yes', '--accept-drift', ...FAST_FLAGS, '--force-unlock', other]);
    assert.match(f.stderr, /warn.*--force-unlock: took the cluster lock from \S+@operator-laptop pid \d+ \(kadd add --role master/);
    assert.ok(Date.now() - t0 < 15_000);
    assert.doesNotMatch(f.stderr, /another kadd holds the cluster lock/);
    assert.equal(lease(h), undefined, 'released at the end');
  });
});
