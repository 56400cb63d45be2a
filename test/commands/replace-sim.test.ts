/**
 * kadd replace on the simulator: whole commands through main(), state asserted from the simulator.
 */
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { FAST_FLAGS, startKaddSim, type KaddSim } from '../helpers/kadd-sim.js';
import { readJournal, findUnfinished } from '../../lib/journal/index.js';

const FLAGS = [...FAST_FLAGS, '--soak', '0', '--yes', '--drain-timeout', '20s'];
/** FLAGS with one flag's value replaced */
const withFlag = (flag: string, value: string) => {
  const f = [...FLAGS];
  const i = f.indexOf(flag);
  if (i >= 0) f[i + 1] = value;
  else f.push(flag, value);
  return f;
};
const show = (r: { stderr: string }) => {
  if (process.env.SHOW) console.log(r.stderr);
};

interface EtcdSample { voters: number; healthy: number; learners: number }
/** Sample the simulator's etcd every few ms while fn runs: every state it went through, in order (repeats folded). */
async function watchEtcd<T>(h: KaddSim, fn: () => Promise<T>): Promise<{ value: T; samples: EtcdSample[] }> {
  const etcd = (h.sim.kube as any).etcd as { members: { isLearner: boolean; started: boolean; up: boolean }[] };
  const samples: EtcdSample[] = [];
  const take = () => {
    const voters = etcd.members.filter((m) => !m.isLearner);
    const s = { voters: voters.length, healthy: voters.filter((m) => m.started && m.up).length, learners: etcd.members.length - voters.length };
    const last = samples[samples.length - 1];
    if (!last || last.voters !== s.voters || last.healthy !== s.healthy || last.learners !== s.learners) samples.push(s);
  };
  take();
  const t = setInterval(take, 2);
  try {
    const value = await fn();
    take();
    return { value, samples };
  } finally {
    clearInterval(t);
  }
}
const quorumKept = (s: EtcdSample[]) => s.every((x) => x.healthy >= Math.floor(x.voters / 2) + 1);

describe('kadd replace (simulator)', function () {
  this.timeout(180_000);
  let h: KaddSim | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  it('surge, one worker: a new worker joins first, then the old one is removed; nothing left behind', async () => {
    h = await startKaddSim({ masters: 1, nodes: 2 });
    assert.deepEqual(h.serverNames('node'), ['demo-node-1', 'demo-node-2']);
    const r = await h.kadd(['replace', h.cfgPath, 'demo-node-1', ...FLAGS]);
    show(r);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(h.serverNames('node'), ['demo-node-2', 'demo-node-3']);
    const nodes = h.nodes();
    assert.equal(nodes.get('demo-node-3'), true);
    assert.equal(nodes.has('demo-node-1'), false);
    assert.match(r.stdout, /demo-node-1\s+demo-node-3\s+replaced\s+surge/);
    assert.ok(!h.volumes().some((v) => v.name === 'demo-node-1-root'), 'old boot volume gone');
    assert.ok(!h.ports().some((p) => p.name === 'demo-node-1-port-0'));
    assert.deepEqual(h.bootstrapTokens(), []);
    assert.deepEqual((await findUnfinished(h.cfgPath)).leftovers, []);
    // the surge order in the journal: added before removed-old
    const phases = (await readJournal(h.cfgPath)).records.filter((x) => x.t === 'step' && x.step === 'replace').map((x) => (x as { details?: { phase?: string } }).details?.phase);
    assert.deepEqual(phases, ['start', 'adding', 'added', 'removed-old', 'complete']);
  });

  it('remove-first (--no-surge), one worker: the old one goes before its replacement is built', async () => {
    h = await startKaddSim({ masters: 1, nodes: 2 });
    const r = await h.kadd(['replace', '--no-surge', h.cfgPath, 'demo-node-2', ...FLAGS]);
    show(r);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(h.serverNames('node'), ['demo-node-1', 'demo-node-3']);
    const phases = (await readJournal(h.cfgPath)).records.filter((x) => x.t === 'step' && x.step === 'replace').map((x) => (x as { details?: { phase?: string } }).details?.phase);
    assert.deepEqual(phases, ['start', 'removed-old', 'adding', 'added', 'complete']);
  });

  it('--dry-run shows both halves, the gates, quorum and quota, and changes nothing', async () => {
    h = await startKaddSim({ masters: 3, nodes: 1 });
    const before = h.servers().length;
    h.sim.resetCounters();
    const r = await h.kadd(['replace', '--dry-run', h.cfgPath, 'demo-master-2', ...FLAGS]);
    show(r);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /demo-master-2 -> demo-master-4\s+surge/);
    assert.match(r.stdout, /1\. add demo-master-4 like demo-master-2: m1\.medium, zone \S+, image ubuntu-22\.04/);
    assert.match(r.stdout, /2\. soak 0s/);
    assert.match(r.stdout, /3\. remove demo-master-2 through the gated remove/);
    assert.match(r.stdout, /etcd: 3 -> 4 -> 3 members/);
    assert.match(r.stdout, /gates before every step:\n\s+- etcd:/);
    assert.match(r.stdout, /quota for them: instances 1\//);
    assert.equal(h.servers().length, before);
    assert.deepEqual(Object.keys(h.mutations()).filter((k) => !/POST .*(auth\/tokens|deployments|exec)/.test(k) && !/DELETE .*deployments/.test(k)), [], 'only the read-only etcd adder was created and deleted');
  });

  it('quota for the +1 missing: exit 2, nothing created, --no-surge offered', async () => {
    h = await startKaddSim({ masters: 1, nodes: 2, scenario: { faults: { quota: { instances: 3 } } } });
    h.sim.resetCounters();
    const r = await h.kadd(['replace', h.cfgPath, 'demo-node-1', ...FLAGS]);
    show(r);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /quota: instances needs 1 for the 1 extra server of the surge, only 0 free/);
    assert.match(r.stderr, /--no-surge/);
    assert.deepEqual(h.serverNames('node'), ['demo-node-1', 'demo-node-2']);
    // the cluster Lease (kadd-lock) is taken and released around the refused run; nothing else is written
    const writes = Object.keys(h.mutations({ exceptClusterLock: true })).filter((k) => !/auth\/tokens/.test(k));
    assert.deepEqual(writes, [], 'nothing created');
    // and --no-surge does it within the quota
    const r2 = await h.kadd(['replace', '--no-surge', h.cfgPath, 'demo-node-1', ...FLAGS]);
    assert.equal(r2.code, 0, r2.stderr);
    assert.deepEqual(h.serverNames('node'), ['demo-node-2', 'demo-node-3']);
  });

  it('the new node never joins: rolled back, the old one untouched, exit non-zero', async () => {
    h = await startKaddSim({ masters: 1, nodes: 2, scenario: { faults: { kubeletNeverJoins: ['^demo-node-3$'] } } });
    const r = await h.kadd(['replace', h.cfgPath, 'demo-node-1', ...withFlag('--timeout', '2')]);
    show(r);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /demo-node-1/);
    assert.deepEqual(h.serverNames('node'), ['demo-node-1', 'demo-node-2'], 'the new one rolled back, the old one kept');
    assert.equal(h.nodes().get('demo-node-1'), true);
    const n1 = (h.sim.kube as any).node('demo-node-1') as { spec?: { unschedulable?: boolean } };
    assert.ok(!n1.spec?.unschedulable, 'the old node was never cordoned');
    assert.ok(!h.volumes().some((v) => v.name === 'demo-node-3-root'));
    assert.deepEqual(h.bootstrapTokens(), []);
  });

  describe('--max-failures N: N failed replacements are tolerated (the roll goes on), the (N+1)th aborts it', () => {
    const stepsOf = async (path: string) => (await readJournal(path)).records
      .filter((x) => x.t === 'step' && x.step === 'replace' && /^(complete|failed)$/.test(String((x as { details?: { phase?: string } }).details?.phase)))
      .map((x) => `${(x as { node: string }).node}:${(x as { details?: { phase?: string } }).details?.phase}`);

    it('N = 1, one failure (N): the roll goes on past it, exit 3 naming it; --resume retries just that node', async () => {
      h = await startKaddSim({ masters: 1, nodes: 3, scenario: { faults: { kubeletNeverJoins: ['^demo-node-4$'] } } });
      const r = await h.kadd(['replace', '--all', '--role', 'node', '--max-failures', '1', h.cfgPath, ...withFlag('--timeout', '2')]);
      show(r);
      assert.equal(r.code, 3, r.stderr);
      assert.doesNotMatch(r.stderr, /aborted/);
      assert.match(r.stderr, /2 of 3 node\(s\) replaced; 1 failed and kept their old node/);
      assert.match(r.stderr, /demo-node-1: the replacement demo-node-4 never became healthy/);
      // the failed one kept its old node; the two after it were replaced
      assert.deepEqual(h.serverNames('node'), ['demo-node-1', 'demo-node-5', 'demo-node-6']);
      assert.deepEqual(await stepsOf(h.cfgPath), ['demo-node-1:failed', 'demo-node-2:complete', 'demo-node-3:complete']);
      assert.deepEqual((await findUnfinished(h.cfgPath)).leftovers, [], 'the failed replacement was rolled back');
      const r2 = await h.kadd(['replace', '--resume', h.cfgPath, ...FLAGS]);
      show(r2);
      assert.equal(r2.code, 0, r2.stderr);
      assert.deepEqual(h.serverNames('node'), ['demo-node-5', 'demo-node-6', 'demo-node-7']);
    });

    it('N = 1, two failures (N + 1): the roll aborts at the second, exit 1, nothing after it starts', async () => {
      h = await startKaddSim({ masters: 1, nodes: 3, scenario: { faults: { kubeletNeverJoins: ['^demo-node-[45]$'] } } });
      const r = await h.kadd(['replace', '--all', '--role', 'node', '--max-failures', '1', h.cfgPath, ...withFlag('--timeout', '2')]);
      show(r);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /the roll aborted: 2 steps failed, more than --max-failures 1; 0 node\(s\) replaced/);
      assert.deepEqual(h.serverNames('node'), ['demo-node-1', 'demo-node-2', 'demo-node-3'], 'both old nodes kept, the third never started');
      assert.deepEqual(await stepsOf(h.cfgPath), ['demo-node-1:failed', 'demo-node-2:failed']);
      assert.ok(!(await readJournal(h.cfgPath)).records.some((x) => x.t === 'step' && x.step === 'replace' && (x as { node: string }).node === 'demo-node-3'), 'demo-node-3 never started');
      assert.deepEqual((await findUnfinished(h.cfgPath)).leftovers, []);
    });

    it('N = 0 (the default): the first failure aborts', async () => {
      h = await startKaddSim({ masters: 1, nodes: 2, scenario: { faults: { kubeletNeverJoins: ['^demo-node-3$'] } } });
      const r = await h.kadd(['replace', '--all', '--role', 'node', h.cfgPath, ...withFlag('--timeout', '2')]);
      show(r);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /the roll aborted: 1 step failed, more than --max-failures 0/);
      assert.deepEqual(h.serverNames('node'), ['demo-node-1', 'demo-node-2']);
      assert.deepEqual(await stepsOf(h.cfgPath), ['demo-node-1:failed']);
    });
  });

  it('the replacement carries the old node\'s labels and taints: a worker, and a master (which keeps kubeadm\'s control-plane label and taint)', async () => {
    // two workers: the tainted one's pods have somewhere to go; three masters: the master-adder runs on an untainted one
    h = await startKaddSim({ masters: 3, nodes: 2 });
    const kube = h.sim.kube as any;
    const CP = 'node-role.kubernetes.io/control-plane';
    // what an operator put on them with kubectl label / kubectl taint
    const custom = (name: string, labels: Record<string, string>, taints: { key: string; value?: string; effect: string }[]) => {
      const n = kube.node(name);
      n.metadata.labels = { ...n.metadata.labels, ...labels };
      n.spec.taints = [...(n.spec.taints ?? []), ...taints];
    };
    custom('demo-node-1', { 'example.com/team': 'blue', 'node.kubernetes.io/pool': 'gpu' }, [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }, { key: 'example.com/drain-me', effect: 'PreferNoSchedule' }]);
    custom('demo-master-1', { 'example.com/team': 'ops' }, [{ key: 'example.com/infra', value: 'true', effect: 'NoExecute' }]);
    const labelsOf = (name: string) => kube.node(name)?.metadata.labels as Record<string, string>;
    const taintsOf = (name: string) => ((kube.node(name)?.spec.taints ?? []) as { key: string; value?: string; effect: string }[])
      .filter((t) => !t.key.startsWith('node.kubernetes.io/')).map((t) => `${t.key}${t.value !== undefined ? `=${t.value}` : ''}:${t.effect}`).sort();

    const w = await h.kadd(['replace', h.cfgPath, 'demo-node-1', ...FLAGS]);
    show(w);
    assert.equal(w.code, 0, w.stderr);
    assert.deepEqual(h.serverNames('node'), ['demo-node-2', 'demo-node-3']);
    const wl = labelsOf('demo-node-3');
    assert.equal(wl['example.com/team'], 'blue');
    assert.equal(wl['node.kubernetes.io/pool'], 'gpu');
    assert.equal(wl[CP], undefined);
    assert.equal(wl['kubernetes.io/hostname'], 'demo-node-3', 'its own identity labels, not the old node\'s');
    assert.deepEqual(taintsOf('demo-node-3'), ['dedicated=gpu:NoSchedule', 'example.com/drain-me:PreferNoSchedule']);

    const m = await h.kadd(['replace', h.cfgPath, 'demo-master-1', ...FLAGS]);
    show(m);
    assert.equal(m.code, 0, m.stderr);
    assert.deepEqual(h.serverNames('master'), ['demo-master-2', 'demo-master-3', 'demo-master-4']);
    const ml = labelsOf('demo-master-4');
    assert.equal(ml['example.com/team'], 'ops');
    assert.equal(ml[CP], '', 'kubeadm\'s control-plane label');
    assert.equal(ml['node.kubernetes.io/exclude-from-external-load-balancers'], '');
    assert.equal(ml['kubernetes.io/hostname'], 'demo-master-4');
    assert.deepEqual(taintsOf('demo-master-4'), ['example.com/infra=true:NoExecute', `${CP}:NoSchedule`]);
    // a master with only kubeadm's own: the replacement gets exactly kubeadm's
    const m2 = await h.kadd(['replace', h.cfgPath, 'demo-master-2', ...FLAGS]);
    assert.equal(m2.code, 0, m2.stderr);
    assert.deepEqual(taintsOf('demo-master-5'), [`${CP}:NoSchedule`]);
    assert.equal(labelsOf('demo-master-5')['example.com/team'], undefined);
  });

  it('surge, the only master: 1 -> 2 -> 1 members (etcd read through the master being replaced until its replacement is in)', async () => {
    h = await startKaddSim({ masters: 1, nodes: 1 });
    const { value: r, samples } = await watchEtcd(h, () => h!.kadd(['replace', h!.cfgPath, 'demo-master-1', ...FLAGS]));
    show(r);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /demo-master-1\s+demo-master-2\s+replaced\s+surge/);
    assert.deepEqual(h.serverNames('master'), ['demo-master-2']);
    assert.ok(quorumKept(samples), JSON.stringify(samples));
    assert.equal(Math.max(...samples.map((s) => s.voters)), 2);
    assert.deepEqual(samples[samples.length - 1], { voters: 1, healthy: 1, learners: 0 });
    assert.deepEqual((await findUnfinished(h.cfgPath)).leftovers, []);
  });

  it('a new master that never joins: rolled back (no server, no member left), the old master untouched, etcd 3 healthy members again', async () => {
    h = await startKaddSim({ masters: 3, nodes: 1, scenario: { faults: { kubeletNeverJoins: ['^demo-master-4$'] } } });
    const { value: r, samples } = await watchEtcd(h, () => h!.kadd(['replace', h!.cfgPath, 'demo-master-3', ...withFlag('--timeout', '2')]));
    show(r);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /demo-master-3/);
    assert.deepEqual(h.serverNames('master'), ['demo-master-1', 'demo-master-2', 'demo-master-3'], 'the new one rolled back, the old one kept');
    assert.equal(h.nodes().get('demo-master-3'), true);
    const m3 = (h.sim.kube as any).node('demo-master-3') as { spec?: { unschedulable?: boolean } };
    assert.ok(!m3.spec?.unschedulable, 'the old master was never cordoned');
    assert.ok(quorumKept(samples), JSON.stringify(samples));
    assert.deepEqual(samples[samples.length - 1], { voters: 3, healthy: 3, learners: 0 });
    assert.ok(!h.volumes().some((v) => v.name === 'demo-master-4-root'));
    // kadd's join token is gone (kubeadm's own upload-certs proxy token is not kadd's; it expires with the certs)
    const dec = (v: string | undefined) => (v ? Buffer.from(v, 'base64').toString('utf8') : '');
    const kaddTokens = ((h.sim.kube as any).tokens() as { data: Record<string, string> }[]).map((t) => dec(t.data.description)).filter((d) => d.startsWith('kadd'));
    assert.deepEqual(kaddTokens, []);
    assert.deepEqual((await findUnfinished(h.cfgPath)).leftovers, []);
  });

  it('surge, one master of 3: 3 -> 4 -> 3 members, quorum kept at every moment, pool updated', async () => {
    h = await startKaddSim({ masters: 3, nodes: 1 });
    const { value: r, samples } = await watchEtcd(h, () => h!.kadd(['replace', h!.cfgPath, 'demo-master-3', ...FLAGS]));
    show(r);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(h.serverNames('master'), ['demo-master-1', 'demo-master-2', 'demo-master-4']);
    assert.ok(quorumKept(samples), JSON.stringify(samples));
    assert.equal(Math.max(...samples.map((s) => s.voters)), 4);
    assert.deepEqual(samples[samples.length - 1], { voters: 3, healthy: 3, learners: 0 });
  });

  it('remove-first (--no-surge), a healthy master of 3: 3 -> 2 -> 3 members, never 4, quorum kept at every moment; refused on 2 masters', async () => {
    h = await startKaddSim({ masters: 3, nodes: 1 });
    const { value: r, samples } = await watchEtcd(h, () => h!.kadd(['replace', '--no-surge', h!.cfgPath, 'demo-master-1', ...FLAGS]));
    show(r);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /demo-master-1\s+demo-master-4\s+replaced\s+remove-first/);
    assert.ok(quorumKept(samples), JSON.stringify(samples));
    assert.ok(samples.some((x) => x.voters === 2 && x.healthy === 2), JSON.stringify(samples));
    assert.ok(samples.every((x) => x.voters <= 3), 'never 4 members');
    assert.deepEqual(samples[samples.length - 1], { voters: 3, healthy: 3, learners: 0 });
    assert.deepEqual(h.serverNames('master'), ['demo-master-2', 'demo-master-3', 'demo-master-4']);
    const phases = (await readJournal(h.cfgPath)).records.filter((x) => x.t === 'step' && x.step === 'replace').map((x) => (x as { details?: { phase?: string } }).details?.phase);
    assert.deepEqual(phases, ['start', 'removed-old', 'adding', 'added', 'complete']);
    // one fewer master: removing first would leave one member without fault tolerance
    const two = await startKaddSim({ masters: 2, nodes: 1 });
    try {
      two.sim.resetCounters();
      const r2 = await two.kadd(['replace', '--no-surge', two.cfgPath, 'demo-master-1', ...FLAGS]);
      assert.equal(r2.code, 2, r2.stderr);
      assert.match(r2.stderr, /--no-surge on a healthy master needs at least 3 masters \(2 now\)/);
      assert.deepEqual(two.serverNames('master'), ['demo-master-1', 'demo-master-2']);
    } finally {
      await two.stop();
    }
  });

  it('a dead master of 3 is replaced remove-first: member removed first, quorum never lost (counts at every step)', async () => {
    h = await startKaddSim({ masters: 3, nodes: 1 });
    (h.sim.kube as any).setNodeDown('demo-master-2', true);
    const { value: r, samples } = await watchEtcd(h, () => h!.kadd(['replace', h!.cfgPath, 'demo-master-2', ...FLAGS]));
    show(r);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /demo-master-2\s+demo-master-4\s+replaced\s+remove-first/);
    assert.ok(quorumKept(samples), JSON.stringify(samples));
    // 3 members (2 healthy) -> 2 (2 healthy) -> the learner -> 3 healthy; never 4 members
    assert.deepEqual(samples[0], { voters: 3, healthy: 2, learners: 0 });
    assert.ok(samples.some((s) => s.voters === 2 && s.healthy === 2), JSON.stringify(samples));
    assert.ok(samples.every((s) => s.voters <= 3), 'never 4 members while one is dead');
    assert.deepEqual(samples[samples.length - 1], { voters: 3, healthy: 3, learners: 0 });
    assert.deepEqual(h.serverNames('master'), ['demo-master-1', 'demo-master-3', 'demo-master-4']);
  });

  it('--all over 1 master + 3 workers: control plane first; a gate fails midway (a Node goes NotReady), the roll pauses, --resume finishes; cfg.updated.yml has the new image', async () => {
    h = await startKaddSim({ masters: 1, nodes: 3 });
    const kube = h.sim.kube as any;
    // once the first worker's server is gone (its drain is over), demo-node-3 goes down: the gate before the next step fails
    let injected = false;
    const t = setInterval(() => {
      if (!injected && h!.nodes().get('demo-node-4') === true && !h!.serverNames('node').includes('demo-node-1')) {
        kube.setNodeDown('demo-node-3', true);
        injected = true;
      }
    }, 2);
    let r;
    try {
      r = await h.kadd(['replace', '--all', '--image', 'cirros', h.cfgPath, ...FLAGS]);
    } finally {
      clearInterval(t);
    }
    show(r);
    assert.ok(injected, 'the fault was injected');
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /paused.*Ready when the roll started is NotReady now: demo-node-3/s);
    assert.match(r.stderr, /kadd replace --resume/);
    // control plane first, then the first worker; nothing else started
    assert.deepEqual(h.serverNames('master'), ['demo-master-2']);
    assert.deepEqual(h.serverNames('node'), ['demo-node-2', 'demo-node-3', 'demo-node-4']);
    assert.equal(existsSync(h.updatedPath), false, 'no cfg.updated.yml for a paused roll');
    // a new roll is refused while this one is paused
    const again = await h.kadd(['replace', '--all', h.cfgPath, ...FLAGS]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /did not finish.*--resume/s);

    kube.setNodeDown('demo-node-3', false);
    const r2 = await h.kadd(['replace', '--resume', h.cfgPath, ...FLAGS.filter((f) => f !== '--soak' && f !== '0')]);
    show(r2);
    assert.equal(r2.code, 0, r2.stderr);
    assert.deepEqual(h.serverNames('master'), ['demo-master-2']);
    assert.deepEqual(h.serverNames('node'), ['demo-node-4', 'demo-node-5', 'demo-node-6']);
    assert.ok([...h.nodes().values()].every(Boolean));
    assert.match(readFileSync(h.updatedPath, 'utf8'), /^image: "?cirros"?/m);
    assert.deepEqual((await findUnfinished(h.cfgPath)).leftovers, []);
    // the new servers boot cirros
    const vols = h.volumes().filter((v) => /demo-(node-[456]|master-2)-root/.test(v.name ?? ''));
    assert.equal(vols.length, 4);
  });

  it('--all --k8s-version next minor: kubeadm-config first, masters then workers, each installing the new version; a skipped minor is refused', async () => {
    h = await startKaddSim({ masters: 1, nodes: 1, k8sVersion: '1.30.2' });
    const bad = await h.kadd(['replace', '--all', '--k8s-version', '1.32.0', h.cfgPath, ...FLAGS]);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /skips a minor/);
    const r = await h.kadd(['replace', '--all', '--k8s-version', '1.31.1', h.cfgPath, ...FLAGS]);
    show(r);
    assert.equal(r.code, 0, r.stderr);
    const kube = h.sim.kube as any;
    const cm = kube.cluster.get('configmaps', 'kube-system', 'kubeadm-config');
    assert.match(cm.data.ClusterConfiguration, /kubernetesVersion: v1\.31\.1/);
    const versions = Object.fromEntries(kube.nodes().map((n: any) => [n.metadata.name, n.status.nodeInfo.kubeletVersion]));
    assert.deepEqual(versions, { 'demo-master-2': 'v1.31.1', 'demo-node-2': 'v1.31.1' });
    // order: kubeadm-config, then the master step, then the worker step
    const steps = (await readJournal(h.cfgPath)).records.filter((x) => x.t === 'step' && x.step === 'replace').map((x) => `${(x as { node: string }).node}:${(x as { details?: { phase?: string } }).details?.phase}`);
    assert.deepEqual(steps.filter((x) => /:(start|complete)$/.test(x)), ['kubeadm-config:start', 'kubeadm-config:complete', 'demo-master-1:start', 'demo-master-1:complete', 'demo-node-1:start', 'demo-node-1:complete']);
    assert.match(r.stdout, /demo-node-1\s+demo-node-2\s+replaced.*1\.30\.2 -> 1\.31\.1/);
    assert.match(readFileSync(h.updatedPath, 'utf8'), /k8s: "?1\.31\.1"?/);
  });
});

export { readFileSync, existsSync };
