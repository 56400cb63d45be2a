/**
 * The Lease lock (lib/kube/lease.ts) and the cluster lock (lib/ops/engine/lock.ts) on the simulated API
 * server (test/sim/kube/leases.ts), through the real client (client-node): resourceVersion conflicts,
 * takeover after the duration, --force-unlock, renewal, release, and the loss of the Lease aborting the
 * operation's signal.
 */
import { strict as assert } from 'node:assert';
import nock from 'nock';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKubeApi, httpStatusOf } from '../../lib/kube/client.js';
import { loadKubeconfig } from '../../lib/kube/config.js';
import { LeaseLock, LOCK_NAME, LOCK_NAMESPACE } from '../../lib/kube/lease.js';
import type { KubeApi } from '../../lib/kube/types.js';
import { acquireClusterLock, lockIdentity } from '../../lib/ops/engine/lock.js';
import type { Io } from '../../lib/io.js';
import { nullIo } from '../../lib/io.js';
import { realClock } from '../../lib/clock.js';
import { startSim, type Sim } from '../sim/index.js';
import { leasesOf } from '../sim/kube/leases.js';
import { kubeconfigFor } from '../helpers/kadd-sim.js';

function recordingIo(): Io & { lines: string[] } {
  const lines: string[] = [];
  return { ...nullIo, lines, log: (level: string, msg: string) => void lines.push(`${level}: ${msg}`) } as Io & { lines: string[] };
}

describe('cluster lock: coordination.k8s.io/v1 Lease on the simulator', function () {
  this.timeout(20_000);
  let sim: Sim;
  let dir: string;
  let kube: KubeApi;
  const leases = () => leasesOf((sim.kube as unknown as { cluster: Parameters<typeof leasesOf>[0] }).cluster);
  const stored = () => leases().get(`${LOCK_NAMESPACE}/${LOCK_NAME}`);

  before(async () => {
    nock.enableNetConnect('127.0.0.1'); // an earlier nock suite in the same process may have disabled it
    sim = await startSim({ requireKube: true, scenario: { seed: 3, timeScale: 1, cluster: { name: 'demo', masters: 1, nodes: 1, k8sVersion: '1.30.2' } } });
    dir = mkdtempSync(join(tmpdir(), 'kadd-lease-'));
    writeFileSync(join(dir, 'kubeconfig'), kubeconfigFor(sim.baseUrl));
    kube = createKubeApi(await loadKubeconfig({ kubeconfig: join(dir, 'kubeconfig'), env: {}, cwd: dir }), { io: nullIo });
  });
  after(async () => {
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  afterEach(() => leases().clear());

  const lockAs = (identity: string, durationSeconds = 15, now = () => Date.now()) =>
    new LeaseLock(kube, { identity, durationSeconds, annotations: { 'kadd.io/operation': `add as ${identity}` }, now });

  it('the simulator answers like the API server: 409 AlreadyExists, 409 Conflict on a stale resourceVersion, MicroTime with six digits', async () => {
    const w = { holderIdentity: 'a', leaseDurationSeconds: 15, acquireTime: Date.now(), renewTime: Date.now(), leaseTransitions: 0, annotations: {} };
    const l1 = await kube.createLease(LOCK_NAMESPACE, 'x', w);
    assert.equal(l1.holderIdentity, 'a');
    const raw = leases().get(`${LOCK_NAMESPACE}/x`)!;
    assert.match(raw.spec.renewTime, /\.\d{6}Z$/);
    const e1 = await kube.createLease(LOCK_NAMESPACE, 'x', w).catch((e) => e);
    assert.equal(httpStatusOf(e1), 409);
    const l2 = await kube.replaceLease(LOCK_NAMESPACE, 'x', l1.resourceVersion, { ...w, holderIdentity: 'b' });
    assert.notEqual(l2.resourceVersion, l1.resourceVersion);
    const stale = await kube.replaceLease(LOCK_NAMESPACE, 'x', l1.resourceVersion, { ...w, holderIdentity: 'c' }).catch((e) => e);
    assert.equal(httpStatusOf(stale), 409);
    assert.match(String(stale.message), /has been modified/);
    const staleDel = await kube.deleteLease(LOCK_NAMESPACE, 'x', { uid: l1.uid, resourceVersion: l1.resourceVersion }).catch((e) => e);
    assert.equal(httpStatusOf(staleDel), 409);
    assert.equal((await kube.getLease(LOCK_NAMESPACE, 'x'))!.holderIdentity, 'b');
    await kube.deleteLease(LOCK_NAMESPACE, 'x', { uid: l2.uid, resourceVersion: l2.resourceVersion });
    assert.equal(await kube.getLease(LOCK_NAMESPACE, 'x'), null);
  });

  it('one of two racing acquirers wins; the other is told who holds it', async () => {
    const [a, b] = await Promise.all([lockAs('alice@h1 pid 1').tryAcquire(), lockAs('bob@h2 pid 2').tryAcquire()]);
    const won = [a, b].filter((r) => r.acquired);
    assert.equal(won.length, 1);
    const lost = [a, b].find((r) => !r.acquired)!;
    if (lost.acquired) throw new Error('unreachable');
    // the loser names the winner, and the winner is who the Lease says
    assert.equal(stored()!.spec.holderIdentity, lost.holder.identity);
    assert.equal((won[0] as { lease: { holderIdentity?: string } }).lease.holderIdentity, lost.holder.identity);
    assert.match(lost.holder.operation ?? '', /^add as /);
    assert.ok(lost.holder.expiresInMs > 10_000);
  });

  it('a Lease whose holder stopped renewing is taken over after its duration, not before', async () => {
    const t0 = Date.now();
    let now = t0;
    await lockAs('dead@h1 pid 1', 15, () => t0).tryAcquire();
    const next = lockAs('next@h2 pid 2', 15, () => now);
    now = t0 + 14_000;
    assert.equal((await next.tryAcquire()).acquired, false);
    now = t0 + 15_500;
    const r = await next.tryAcquire();
    assert.equal(r.acquired, true);
    if (!r.acquired) return;
    assert.equal(r.previous?.identity, 'dead@h1 pid 1');
    assert.equal(stored()!.spec.holderIdentity, 'next@h2 pid 2');
    assert.equal(stored()!.spec.leaseTransitions, 1);
  });

  it('renewal keeps it; a renewal after someone took it reports the loss; release deletes only our own', async () => {
    const a = lockAs('a@h pid 1');
    await a.tryAcquire();
    const before = stored()!.metadata.resourceVersion;
    assert.equal((await a.renew()).renewed, true);
    assert.notEqual(stored()!.metadata.resourceVersion, before);
    const b = lockAs('b@h pid 2');
    assert.equal((await b.tryAcquire({ force: true })).acquired, true);
    const r = await a.renew();
    assert.equal(r.renewed, false);
    if (r.renewed) return;
    assert.equal(r.holder?.identity, 'b@h pid 2');
    assert.equal(await a.release(), false);
    assert.equal(stored()!.spec.holderIdentity, 'b@h pid 2');
    assert.equal(await b.release(), true);
    assert.equal(stored(), undefined);
  });

  it('acquireClusterLock: exit 2 naming the holder and since when; --force-unlock warns and takes it; the old holder is aborted at its next renewal', async () => {
    const ioA = recordingIo();
    const first = await acquireClusterLock({ io: ioA, clock: realClock }, kube, { operation: 'add --role node', clusterFile: '/a/cfg.yml', identity: 'alice@h1 pid 11', renewEveryMs: 200 });
    const refused = await acquireClusterLock({ io: nullIo, clock: realClock }, kube, { operation: 'add --role master', identity: 'bob@h2 pid 22' }).catch((e) => e);
    assert.equal(refused.exitCode, 2);
    assert.equal(refused.code, 'E_CLUSTER_LOCKED');
    for (const want of ['alice@h1 pid 11', 'add --role node']) assert.ok(refused.message.includes(want), refused.message);
    assert.match(refused.message, /since \d{4}-\d\d-\d\dT/);
    assert.ok(refused.hint.includes('--force-unlock'));
    assert.equal(first.signal.aborted, false);

    const ioB = recordingIo();
    const second = await acquireClusterLock({ io: ioB, clock: realClock }, kube, { operation: 'add --role master', force: true, identity: 'bob@h2 pid 22' });
    assert.match(ioB.lines.join('\n'), /warn: --force-unlock: took the cluster lock from alice@h1 pid 11/);
    // the first holder finds bob's name at its next renewal (200 ms) and its operation is aborted
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(first.signal.aborted, true);
    assert.equal(first.lost()?.code, 'E_LOCK_LOST');
    assert.equal(first.signal.reason, first.lost());
    assert.match(ioA.lines.join('\n'), /lost the cluster lock .*bob@h2 pid 22/);
    await first.release();
    assert.equal(stored()!.spec.holderIdentity, 'bob@h2 pid 22');
    await second.release();
    assert.equal(stored(), undefined);
  });

  it('a Lease held by a kadd process of this host that no longer runs is taken over at once; a live one on this host is not', async () => {
    const me = lockIdentity();
    const dead = me.replace(/ pid \d+$/, ' pid 999999999');
    await lockAs(dead).tryAcquire();
    const io = recordingIo();
    const l = await acquireClusterLock({ io, clock: realClock }, kube, { operation: 'add --role node' });
    assert.equal(stored()!.spec.holderIdentity, me);
    assert.match(io.lines.join('\n'), /took over the cluster lock from .* pid 999999999 .*no longer runs on this host/);
    await l.release();
    // a live process of this host (this test's own pid under another identity string) is respected
    await lockAs(me.replace(/^[^@]*/, 'someone-else')).tryAcquire();
    const refused = await acquireClusterLock({ io: nullIo, clock: realClock }, kube, { operation: 'add --role node', identity: me.replace(/ pid \d+$/, ' pid 1') }).catch((e) => e);
    assert.equal(refused.code, 'E_CLUSTER_LOCKED');
  });

  it('a renewal that cannot reach the API before the Lease would expire aborts the operation', async () => {
    const io = recordingIo();
    const l = await acquireClusterLock({ io, clock: realClock }, kube, { operation: 'add --role node', identity: 'c@h pid 3', durationSeconds: 2, renewEveryMs: 300 });
    sim.core.scenario.faults = { ...(sim.core.scenario.faults ?? {}), errorRates: [{ service: 'kube', path: 'leases', rate: 1, status: 503 }] };
    try {
      const t0 = Date.now();
      while (!l.signal.aborted && Date.now() - t0 < 8000) await new Promise((r) => setTimeout(r, 20));
      const abortedAt = Date.now();
      assert.equal(l.signal.aborted, true);
      // given up before the Lease ran out (its last successful renewal + 2 s): nobody else could have had it yet
      const expiry = Date.parse(stored()!.spec.renewTime) + 2000;
      assert.ok(abortedAt < expiry + 50, `aborted ${abortedAt - expiry} ms after the Lease expired`);
      assert.match(l.lost()!.message, /could not renew it/);
    } finally {
      sim.core.scenario.faults = { ...(sim.core.scenario.faults ?? {}), errorRates: [] };
      await l.release();
    }
  });
});
