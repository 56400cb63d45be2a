/**
 * kadd heal on the simulator: whole commands through main(), the simulator time-scaled and kadd on its clock,
 * so "NotReady for 6 min" is six simulated minutes (the Node's Ready lastTransitionTime is the sim's).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { simClock, startKaddSim, type KaddSim } from '../helpers/kadd-sim.js';
import { Journal, readJournal } from '../../lib/journal/index.js';

import type { KubeSim } from '../sim/kube/index.js';

// 0.02: a whole kadd run (module loading on the first) costs simulated time; start() warms the modules up first
const SCALE = 0.02;
const MIN = 60_000;
// seeded Nodes are as old as the simulator: --grace-after-add 1m lets the tests start after one simulated minute
const FLAGS = ['--grace-after-add', '1m', '--poll-interval', '2000', '--drain-timeout', '2m', '--reboot-wait', '3m'];
const show = (r: { stderr: string; stdout: string }) => {
  if (process.env.SHOW) console.log(r.stdout, r.stderr);
};

describe('kadd heal (simulator)', function () {
  this.timeout(180_000);
  let h: KaddSim | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });
  const start = async (o: { masters?: number; nodes?: number; scenario?: Record<string, unknown> } = {}) => {
    h = await startKaddSim({ masters: o.masters ?? 1, nodes: o.nodes ?? 4, scenario: { timeScale: SCALE, ...(o.scenario ?? {}) } });
    await h.sim.core.sleep(2 * MIN);
    const warm = await h.kadd(['heal', h.cfgPath, ...FLAGS], { clock: simClock(h) });
    assert.equal(warm.code, 0, warm.stdout + warm.stderr);
    return h;
  };
  const kube = () => h!.sim.kube as unknown as KubeSim;
  const heal = (args: string[]) => h!.kadd(['heal', h!.cfgPath, ...FLAGS, ...args], { clock: simClock(h!) });

  it('a healthy cluster: exit 0, one line per node', async () => {
    await start();
    const r = await heal([]);
    show(r);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim().split('\n').filter((l) => / -> none \(Healthy\)/.test(l)).length, 5);
  });

  it('a worker NotReady for 2 min is not replaced; at 6 min it is (surge), and the replacement carries the heal annotations', async () => {
    await start();
    kube().setNodeState('demo-node-2', 'Unreachable');
    await h!.sim.core.sleep(2 * MIN);
    const early = await heal(['--apply']);
    show(early);
    assert.equal(early.code, 1);
    assert.match(early.stdout, /demo-node-2 node unhealthy \[Ready=Unknown for 2m\d+s\] -> wait \(NotLongEnough\)/);
    assert.deepEqual(h!.serverNames('node'), ['demo-node-1', 'demo-node-2', 'demo-node-3', 'demo-node-4']);

    await h!.sim.core.sleep(4 * MIN);
    const dry = await heal(['-f', 'json']);
    assert.equal(dry.code, 1);
    const plan = JSON.parse(dry.stdout);
    assert.deepEqual(plan.actions, ['demo-node-2']);
    assert.equal(plan.decisions.find((d: { name: string }) => d.name === 'demo-node-2').strategy, 'surge');
    assert.deepEqual(h!.serverNames('node'), ['demo-node-1', 'demo-node-2', 'demo-node-3', 'demo-node-4'], 'the report changes nothing');

    const r = await heal(['--apply']);
    show(r);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /demo-node-2: replace surge: replaced by demo-node-5/);
    assert.deepEqual(h!.serverNames('node'), ['demo-node-1', 'demo-node-3', 'demo-node-4', 'demo-node-5']);
    const patches = kube().requests({ method: 'PATCH', path: /\/nodes\/demo-node-5$/ });
    const ann = patches.map((p: unknown) => (p as { body?: { metadata?: { annotations?: Record<string, string> } } }).body?.metadata?.annotations).find((a: Record<string, string> | undefined) => a?.['kadd.io/heal-last']);
    assert.ok(ann, 'the replacement is annotated kadd.io/heal-last');
    assert.equal(ann!['kadd.io/heal-retries'], '0');
    const recs = (await readJournal(h!.cfgPath)).records;
    const decisions = recs.filter((x) => x.t === 'step' && x.step === 'heal-decision');
    assert.equal(decisions.length, 10, 'every node decision of both --apply runs journaled');
    assert.ok(recs.some((x) => x.t === 'begin' && x.command === 'heal'));
    const rb = recs.find((x) => x.t === 'begin' && x.command === 'replace') as { args: { request: { soakSeconds: number } } } | undefined;
    assert.ok(rb, 'remediation through kadd replace');
    assert.equal(rb.args.request.soakSeconds, 60, 'the surge soaks 60 s by default, as kadd replace');
    const after = await heal(['-f', 'json']);
    const p2 = JSON.parse(after.stdout);
    const d5 = p2.decisions.find((d: { name: string }) => d.name === 'demo-node-5');
    assert.ok(d5, 'the replacement is seen');
    assert.equal(after.code, 0, after.stdout);
  });

  it('--soak: the surged replacement stays Ready that long (simulated time) before the old worker goes; bad --soak is exit 2', async () => {
    await start();
    kube().setNodeState('demo-node-1', 'Unreachable');
    await h!.sim.core.sleep(6 * MIN);
    const r = await heal(['--apply', '--soak', '240']);
    show(r);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /demo-node-1: replace surge: replaced by demo-node-5/);
    assert.match(r.stderr, /demo-node-5: stayed Ready for 240s/);
    const steps = (await readJournal(h!.cfgPath)).records.filter((x) => x.t === 'step' && x.step === 'replace' && x.node === 'demo-node-1') as { details?: { phase?: string }; at: string }[];
    const added = steps.find((x) => x.details?.phase === 'added');
    const removed = steps.find((x) => x.details?.phase === 'removed-old');
    assert.ok(added && removed, JSON.stringify(steps));
    assert.ok(Date.parse(removed.at) - Date.parse(added.at) >= 240_000, `soaked ${Date.parse(removed.at) - Date.parse(added.at)} ms of simulated time`);
    const bad = await heal(['--soak', '-5']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--soak must be a number of seconds >= 0/);
  });

  it('--apply holds the cluster file\'s lock from its decision through the replace: no other kadd slips in between', async () => {
    await start();
    kube().setNodeState('demo-node-2', 'Unreachable');
    await h!.sim.core.sleep(6 * MIN);
    const lock = `${dirname(h!.cfgPath)}/.${basename(h!.cfgPath)}.kadd-lock`;
    let done = false;
    let tries = 0;
    const stolen: string[] = [];
    // another kadd trying to take the lock all along heal's run (once heal has it)
    const other = (async () => {
      while (!done && !existsSync(lock)) await new Promise((r) => setTimeout(r, 2));
      while (!done) {
        tries++;
        try {
          const j = await Journal.open(h!.cfgPath);
          // heal releases its lock after the replace's journal end, before its own main() returns: taking it
          // then is no slip; taking it before the replace ended is
          const recs = (await readJournal(h!.cfgPath)).records;
          const replaceOps = new Set(recs.filter((x) => x.t === 'begin' && x.command === 'replace').map((x) => x.op));
          const replaceEnded = recs.some((x) => x.t === 'end' && replaceOps.has(x.op));
          if (!replaceEnded) stolen.push(`after ${tries} tries`);
          await j.close();
        } catch (e) {
          if (!/another kadd/.test((e as Error).message)) throw e;
        }
        await new Promise((r) => setTimeout(r, 3));
      }
    })();
    const r = await heal(['--apply', '--soak', '0']);
    done = true;
    await other;
    show(r);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /demo-node-2: replace surge: replaced by demo-node-5/);
    assert.ok(tries > 10, `the other kadd tried ${tries} times`);
    assert.deepEqual(stolen, [], 'the lock was free between heal\'s decision and the replace');
    assert.equal(existsSync(lock), false, 'released at the end');
  });

  it('50% NotReady after a partition: no action, TooManyUnhealthy', async () => {
    await start({ nodes: 5 });
    kube().setNodeState('demo-node-1', 'Unreachable');
    kube().setNodeState('demo-node-2', 'Unreachable');
    kube().setNodeState('demo-node-3', 'Unreachable');
    await h!.sim.core.sleep(6 * MIN);
    h!.sim.resetCounters();
    const r = await heal(['--apply']);
    show(r);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^TooManyUnhealthy: 3 of 6 unhealthy/m);
    assert.match(r.stdout, /demo-node-1 node unhealthy .* -> refuse \(TooManyUnhealthy\)/);
    assert.deepEqual(h!.serverNames('node'), ['demo-node-1', 'demo-node-2', 'demo-node-3', 'demo-node-4', 'demo-node-5']);
    assert.ok(!h!.servers().some((s) => s.status !== 'ACTIVE'), 'nothing rebooted');
  });

  it('--reboot-first recovers a node whose kubelet comes back after a reboot, without replacing it; failing again within the min healthy period it is not healed again', async () => {
    await start();
    h!.sim.openstack.nova.setServerState('demo-node-3', 'SHUTOFF');
    await h!.sim.core.sleep(7 * MIN);
    const r = await heal(['--apply', '--reboot-first']);
    show(r);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /demo-node-3: reboot: recovered/);
    assert.deepEqual(h!.serverNames('node'), ['demo-node-1', 'demo-node-2', 'demo-node-3', 'demo-node-4']);
    assert.equal(h!.nodes().get('demo-node-3'), true);
    // it fails again 20 minutes later: inside --min-healthy-period 1h, --max-retry 0 -> reported, not healed
    await h!.sim.core.sleep(14 * MIN);
    kube().setNodeState('demo-node-3', 'Unreachable');
    await h!.sim.core.sleep(6 * MIN);
    const again = await heal(['--apply', '--reboot-first']);
    show(again);
    assert.equal(again.code, 1);
    assert.match(again.stdout, /demo-node-3 node unhealthy .* -> refuse \(RetryLimit\)/);
    assert.deepEqual(h!.serverNames('node'), ['demo-node-1', 'demo-node-2', 'demo-node-3', 'demo-node-4']);
  });

  it('--reboot-first on a server in ERROR: straight to a hard reboot (no soft one), which recovers it', async () => {
    await start();
    h!.sim.openstack.nova.setServerState('demo-node-3', 'ERROR');
    await h!.sim.core.sleep(7 * MIN);
    const dry = await heal(['--reboot-first']);
    assert.match(dry.stdout, /demo-node-3 node unhealthy \[server ERROR for .*\] -> would: hard reboot \(server ERROR: no soft reboot\), then replace surge/);
    const r = await heal(['--apply', '--reboot-first']);
    show(r);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /demo-node-3: reboot: recovered/);
    assert.doesNotMatch(r.stderr, /SOFT reboot refused/);
    const reboots = h!.sim.core.timeline.filter((e) => e.type === 'server.reboot' && e.subject === 'demo-node-3').map((e) => (e.detail as { type: string }).type);
    assert.deepEqual(reboots, ['HARD']);
    assert.deepEqual(h!.serverNames('node'), ['demo-node-1', 'demo-node-2', 'demo-node-3', 'demo-node-4']);
    assert.equal(h!.nodes().get('demo-node-3'), true);
    const steps = (await readJournal(h!.cfgPath)).records.filter((x) => x.t === 'step' && x.step === 'heal-reboot' && x.state === 'start');
    assert.deepEqual(steps.map((x) => (x as { details?: { type?: string } }).details?.type), ['HARD']);
  });

  it('a dead master in 3 is replaced remove-first with quorum never lost; a second dead master is refused with the quorum reason', async () => {
    await start({ masters: 3, nodes: 3 });
    const etcd = (h!.sim.kube as any).etcd as { members: { isLearner: boolean; started: boolean; up: boolean }[] };
    let lost = false;
    let maxVoters = 0;
    const t = setInterval(() => {
      const v = etcd.members.filter((m) => !m.isLearner);
      maxVoters = Math.max(maxVoters, v.length);
      if (v.filter((m) => m.started && m.up).length < Math.floor(v.length / 2) + 1) lost = true;
    }, 2);
    try {
      kube().setNodeState('demo-master-2', 'Unreachable');
      await h!.sim.core.sleep(6 * MIN);
      const r = await heal(['--apply']);
      show(r);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /demo-master-2 master unhealthy .* -> heal: replace remove-first \(a dead master is always replaced remove-first\)/);
      assert.match(r.stdout, /demo-master-2: replace remove-first: replaced by demo-master-4/);
    } finally {
      clearInterval(t);
    }
    assert.equal(lost, false, 'quorum never lost');
    assert.ok(maxVoters <= 3, 'never 4 members while one is dead');
    assert.deepEqual(h!.serverNames('master'), ['demo-master-1', 'demo-master-3', 'demo-master-4']);

    // two of three dead at once: removing either leaves at most 1 healthy member of 2, below quorum
    kube().setNodeState('demo-master-1', 'Unreachable');
    kube().setNodeState('demo-master-3', 'Unreachable');
    await h!.sim.core.sleep(6 * MIN);
    const two = await heal(['--apply', '--max-unhealthy', '100%']);
    show(two);
    assert.equal(two.code, 1);
    assert.match(two.stdout, /demo-master-1 master unhealthy .* -> refuse \(QuorumAfterRemoval\): [01] healthy etcd member\(s\) would remain of 2, quorum needs 2/);
    assert.deepEqual(h!.serverNames('master'), ['demo-master-1', 'demo-master-3', 'demo-master-4']);
  });

  it('heal run while another kadd holds the lock: refused, nothing changed', async () => {
    await start();
    kube().setNodeState('demo-node-2', 'Unreachable');
    await h!.sim.core.sleep(6 * MIN);
    const other = await Journal.open(h!.cfgPath);
    try {
      const r = await heal(['--apply']);
      show(r);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /another kadd .* is working on this cluster file/);
    } finally {
      await other.close();
    }
    assert.deepEqual(h!.serverNames('node'), ['demo-node-1', 'demo-node-2', 'demo-node-3', 'demo-node-4']);
  });

  it('a node added 5 min ago that never joined is left alone until the startup timeout', async () => {
    await start({ nodes: 4, scenario: { faults: { kubeletNeverJoins: ['^demo-node-5$'] } } });
    // a kadd add still waiting for its Node (a child process on the real clock, far inside its --timeout)
    const add = h!.spawnKadd(['add', '--amount', '1', '--timeout', '3600', '--poll-interval', '200', h!.cfgPath]);
    try {
      await add.waitFor(/demo-node-5: join start/, 60_000);
      const since = h!.sim.core.now();
      await h!.sim.core.sleep(5 * MIN - (h!.sim.core.now() - since));
      const young = await heal(['-f', 'json']);
      const p = JSON.parse(young.stdout);
      const d = p.decisions.find((x: { name: string }) => x.name === 'demo-node-5');
      assert.equal(d.state, 'starting', young.stdout);
      assert.equal(d.reason, 'Starting');
      assert.deepEqual(p.actions, []);
      assert.equal(young.code, 0, 'a starting node is not a problem yet');
      await h!.sim.core.sleep(6 * MIN);
      const old = await heal([]);
      show(old);
      assert.equal(old.code, 1);
      assert.match(old.stdout, /demo-node-5 node unhealthy \[never joined: no Node \d+m\d+s after the server was created\] -> would: replace/);
    } finally {
      add.proc.kill('SIGKILL');
      await add.done.catch(() => undefined);
    }
  });

  it('per-master signals: a master whose own API server fails /readyz and an etcd alarm are found; the report creates no adder without --allow-adder', async () => {
    await start({ masters: 3, nodes: 2 });
    kube().setApiserverUp('demo-master-2', false);
    kube().setEtcdAlarm('demo-master-3', 'NOSPACE');
    const adders = () => kube().requests({ method: 'POST', path: /\/deployments$/ }).length;
    const before = adders();
    const r = await heal(['-f', 'json']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const p = JSON.parse(r.stdout);
    const d2 = p.decisions.find((d: { name: string }) => d.name === 'demo-master-2');
    assert.equal(d2.state, 'unhealthy', r.stdout);
    assert.match(d2.problems.join(), /apiserver \/readyz failing \(GET \/readyz of demo-master-2:6443 answered 503: .*connection refused\)/);
    assert.match(p.etcdNote, /etcd not checked: .*--allow-adder/);
    assert.equal(p.decisions.find((d: { name: string }) => d.name === 'demo-master-3').state, 'healthy', 'etcd was not read: no alarm known');
    assert.equal(adders(), before, 'the report created no master-adder');
    const table = await heal([]);
    assert.match(table.stdout, /^etcd not checked/m);

    const full = await heal(['-f', 'json', '--allow-adder']);
    assert.equal(full.code, 1, full.stdout + full.stderr);
    const q = JSON.parse(full.stdout);
    assert.equal(q.etcdNote, undefined);
    assert.ok(adders() > before, '--allow-adder reads etcd through the master-adder');
    const d3 = q.decisions.find((d: { name: string }) => d.name === 'demo-master-3');
    assert.match(d3.problems.join(), /etcd alarm NOSPACE/);
    // most broken first: the etcd problem before the control-plane component; one master per run
    assert.deepEqual(q.actions, ['demo-master-3']);
    assert.equal(q.decisions.find((d: { name: string }) => d.name === 'demo-master-2').reason, 'OneMasterPerRun');
    assert.equal(q.decisions.find((d: { name: string }) => d.name === 'demo-master-1').state, 'healthy');
    // the etcd member on demo-master-1's host goes down (its Node stays Ready): its API server's /readyz fails on etcd
    kube().setEtcdMemberUp('demo-master-1', false);
    const e = JSON.parse((await heal(['-f', 'json'])).stdout);
    assert.match(e.decisions.find((d: { name: string }) => d.name === 'demo-master-1').problems.join(), /apiserver \/readyz failing \(GET \/readyz of demo-master-1:6443 answered 500: \[-\]etcd failed\)/);
  });

  it('no master remediation while a master change is under way: an etcd learner, an unfinished kadd on masters in the journal, the cluster lock held', async () => {
    await start({ masters: 3, nodes: 3 });
    kube().setNodeState('demo-master-2', 'Unreachable');
    await h!.sim.core.sleep(6 * MIN);
    const masters = () => h!.serverNames('master');
    const refused = async (why: RegExp) => {
      const r = await heal(['--apply']);
      show(r);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stdout, /demo-master-2 master unhealthy .* -> refuse \(MasterChangeInProgress\): a master is being provisioned or removed: /);
      assert.match(r.stdout, why);
      assert.deepEqual(masters(), ['demo-master-1', 'demo-master-2', 'demo-master-3']);
    };
    // a join in progress: a learner that has not started yet
    const etcd = kube().etcd;
    const learner = etcd.add(['https://192.168.77.7:2380'], true, 'demo-master-4');
    await refused(/etcd learner .* \(a master join in progress\)/);
    etcd.remove(learner.id);
    // an add of a master that died (kill -9: no end record)
    const j = await Journal.open(h!.cfgPath);
    const op = await j.begin({ command: 'add', args: { role: 'master', amount: 1 } });
    await j.close();
    await refused(/kadd add \(operation \S+, unterminated\) did not finish on masters/);
    const j2 = await Journal.open(h!.cfgPath);
    await j2.begin({ command: 'add', args: { resume: true } });
    await j2.endEarlier(op, 'ok');
    await j2.end('ok');
    // another kadd, on another machine, holds the cluster lock (the kadd-lock Lease)
    const now = new Date(h!.sim.core.now()).toISOString().replace('Z', '000Z');
    kube().cluster.put('leases', {
      metadata: { name: 'kadd-lock', namespace: 'kube-system', annotations: { 'kadd.io/operation': 'remove', 'kadd.io/cluster-file': '/elsewhere/demo.yml' } },
      spec: { holderIdentity: 'ops@elsewhere pid 42', leaseDurationSeconds: 3600, acquireTime: now, renewTime: now },
    });
    await refused(/the cluster lock is held by ops@elsewhere pid 42 \(kadd remove on \/elsewhere\/demo.yml\)/);
    kube().cluster.remove('leases', 'kube-system', 'kadd-lock');
    // nothing under way any more: --apply would heal it
    const ok = await heal(['-f', 'json', '--allow-adder']);
    assert.deepEqual(JSON.parse(ok.stdout).actions, ['demo-master-2'], ok.stdout);
  });

  it('bad input: exit 2, no API call', async () => {
    await start();
    const r = await heal(['--max-unhealthy', '140%']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--max-unhealthy must be a percentage/);
    // --timeout / --boot-timeout: the one duration grammar and message kadd replace has (lib/duration.ts)
    for (const [flag, v] of [['--timeout', '0s'], ['--timeout', 'soon'], ['--boot-timeout', '-5']]) {
      const t = await heal([flag!, v!]);
      assert.equal(t.code, 2, t.stderr);
      assert.match(t.stderr, new RegExp(`${flag} must be a positive duration, got "${v}"`));
    }
    assert.equal((await heal(['--timeout', '15m', '--boot-timeout', '90s'])).code, 0);
  });
});
