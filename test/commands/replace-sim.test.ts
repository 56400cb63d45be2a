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
    const writes = Object.keys(h.mutations()).filter((k) => !/auth\/tokens/.test(k));
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
