import assert from 'node:assert/strict';
import {
  checkVersionChange, chooseStrategy, copyableLabels, copyableTaints, describeStep, isDead, likeOld, orderVictims, parseVersion, planReplace,
  quorumPath, skewProblem, unhealthyReasons, upToDate, validateReplaceRequest, REPLACE_FIRST_ANNOTATION,
  type Machine, type ReplaceObserved, type ReplaceRequest,
} from '../../lib/ops/replace-plan.js';
import type { ClusterView } from '../../lib/etcd/quorum.js';
import { KaddError } from '../../lib/errors.js';

const req = (over: Partial<ReplaceRequest> = {}): ReplaceRequest => ({
  all: false, surge: true, maxSurge: 1, maxUnavailable: 0, maxFailures: 0, soakSeconds: 60, ...over,
});

let seq = 0;
function machine(name: string, over: { role?: 'master' | 'node'; status?: string; ready?: 'True' | 'False' | 'Unknown'; created?: string; annotations?: Record<string, string>; kubelet?: string; healthy?: boolean; member?: boolean; flavor?: string; image?: string; zone?: string; labels?: Record<string, string>; taints?: { key: string; value?: string; effect: string }[]; noServer?: boolean; leader?: boolean } = {}): Machine {
  const role = over.role ?? (name.includes('master') ? 'master' : 'node');
  seq++;
  return {
    name, role,
    server: over.noServer ? undefined : { id: `srv-${name}`, status: over.status ?? 'ACTIVE', zone: over.zone ?? 'nova', flavor: over.flavor ?? (role === 'master' ? 'm1.medium' : 'm1.small'), image: over.image ?? 'ubuntu-22.04', created: over.created },
    node: {
      ready: over.ready ?? 'True', labels: over.labels ?? {}, annotations: over.annotations ?? {}, taints: over.taints ?? [],
      kubeletVersion: over.kubelet ?? 'v1.29.3', created: over.created ?? `2024-01-${String(10 + seq).padStart(2, '0')}T00:00:00Z`,
    },
    member: role === 'master' && over.member !== false ? { id: `m${name.slice(-1)}`, started: true, healthy: over.healthy ?? true, isLeader: !!over.leader, isLearner: false } : undefined,
  };
}

function view(ms: Machine[]): ClusterView {
  return {
    members: ms.filter((m) => m.member).map((m) => ({
      member: { id: m.member!.id, name: m.name, peerURLs: [], clientURLs: [`https://${m.name}:2379`], isLearner: m.member!.isLearner },
      started: m.member!.started, healthy: m.member!.healthy, isLeader: m.member!.isLeader,
    })),
  };
}

const flavors = [
  { id: '1', name: 'm1.small', vcpus: 1, ram: 2048, disk: 20 },
  { id: '2', name: 'm1.medium', vcpus: 2, ram: 4096, disk: 40 },
  { id: '3', name: 'm1.large', vcpus: 4, ram: 8192, disk: 80 },
];

function observed(ms: Machine[], over: Partial<ReplaceObserved> = {}): ReplaceObserved {
  return {
    cluster: 'demo',
    defaults: { image: 'ubuntu-22.04', masterFlavor: 'm1.medium', nodeFlavor: 'm1.small', volumeSize: 25, k8sVersion: '1.29.3' },
    machines: ms,
    apiServerVersion: 'v1.29.3',
    kubeadmVersion: 'v1.29.3',
    etcd: view(ms),
    flavors,
    novaLimits: { maxTotalCores: 100, totalCoresUsed: 0, maxTotalRAMSize: -1, totalRAMUsed: 0, maxTotalInstances: 100, totalInstancesUsed: 0 },
    cinderLimits: { maxTotalVolumes: 100, totalVolumesUsed: 0, maxTotalVolumeGigabytes: 10000, totalGigabytesUsed: 0 },
    neutronQuota: null,
    existingNames: ms.map((m) => m.name),
    ...over,
  };
}

const usage = (fn: () => unknown, re: RegExp) => assert.throws(fn, (e: unknown) => KaddError.is(e) && e.exitCode === 2 && re.test(e.message));

describe('replace plan (pure)', () => {
  describe('request validation (exit 2)', () => {
    it('needs a node or --all, not both; --role only with --all', () => {
      usage(() => validateReplaceRequest(req()), /name the node/);
      usage(() => validateReplaceRequest(req({ target: 'demo-node-1', all: true })), /either a node name or --all/);
      usage(() => validateReplaceRequest(req({ target: 'demo-node-1', role: 'node' })), /--role applies to --all/);
      validateReplaceRequest(req({ target: 'demo-node-1' }));
      validateReplaceRequest(req({ all: true, role: 'master' }));
    });
    it('--max-surge and --max-unavailable both 0 never progress; bad numbers and versions are refused', () => {
      usage(() => validateReplaceRequest(req({ all: true, maxSurge: 0, maxUnavailable: 0 })), /cannot both be 0/);
      usage(() => validateReplaceRequest(req({ all: true, maxSurge: 1.5 })), /--max-surge must be a whole number/);
      usage(() => validateReplaceRequest(req({ all: true, maxFailures: -1 })), /--max-failures/);
      usage(() => validateReplaceRequest(req({ all: true, soakSeconds: -1 })), /--soak/);
      usage(() => validateReplaceRequest(req({ all: true, k8sVersion: '1.30' })), /not a Kubernetes version/);
      usage(() => validateReplaceRequest(req({ target: 'demo-node-1', image: ' ' })), /--image must not be empty/);
      usage(() => validateReplaceRequest(req({ target: 'Demo_Node' })), /not a node name/);
    });
  });

  describe('versions', () => {
    it('patch and +1 minor only; never down, never a skipped minor or another major', () => {
      assert.deepEqual(checkVersionChange('1.29.3', '1.29.8'), { kind: 'patch' });
      assert.deepEqual(checkVersionChange('v1.29.3', 'v1.30.0'), { kind: 'minor' });
      assert.deepEqual(checkVersionChange('1.29.3', '1.29.3'), { kind: 'none' });
      assert.match((checkVersionChange('1.29.3', '1.31.0') as { error: string }).error, /skips a minor.*first to 1\.30\.x/);
      assert.match((checkVersionChange('1.29.3', '1.29.1') as { error: string }).error, /older.*never downgrades/);
      assert.match((checkVersionChange('1.29.3', '1.28.9') as { error: string }).error, /older/);
      assert.match((checkVersionChange('1.29.3', '2.0.0') as { error: string }).error, /major/);
      assert.equal(parseVersion('v1.30.2+k3s1')?.text, '1.30.2');
      assert.equal(parseVersion('1.30'), null);
    });
    it('skew gate: a worker never newer than the oldest master', () => {
      assert.equal(skewProblem('1.29.3', ['v1.29.3', 'v1.29.3']), undefined);
      assert.equal(skewProblem('1.29.3', ['v1.30.0', 'v1.29.3']), undefined);
      assert.match(skewProblem('1.30.0', ['v1.30.0', 'v1.29.3'])!, /newer than the control plane \(oldest master at 1\.29\.3\)/);
    });
  });

  describe('health, death and victim order', () => {
    it('names every reason a node is unhealthy', () => {
      assert.deepEqual(unhealthyReasons(machine('demo-node-1')), []);
      assert.deepEqual(unhealthyReasons(machine('demo-node-1', { status: 'ERROR', ready: 'Unknown' })), ['server ERROR', 'Node Ready=Unknown']);
      assert.deepEqual(unhealthyReasons(machine('demo-master-1', { healthy: false })), ['etcd member unhealthy']);
      assert.deepEqual(unhealthyReasons(machine('demo-master-1', { member: false })), ['no etcd member']);
      assert.deepEqual(unhealthyReasons(machine('demo-node-1', { noServer: true })), ['no server']);
    });
    it('dead: server gone or stopped; a master NotReady with an unhealthy member; a worker Unknown', () => {
      assert.equal(isDead(machine('demo-master-1')), false);
      assert.equal(isDead(machine('demo-master-1', { status: 'SHUTOFF' })), true);
      assert.equal(isDead(machine('demo-master-1', { noServer: true })), true);
      assert.equal(isDead(machine('demo-master-1', { ready: 'Unknown', healthy: false })), true);
      assert.equal(isDead(machine('demo-master-1', { ready: 'False', healthy: true })), false, 'a NotReady master whose etcd is fine is not dead');
      assert.equal(isDead(machine('demo-node-1', { ready: 'Unknown' })), true);
      assert.equal(isDead(machine('demo-node-1', { ready: 'False' })), false);
    });
    it('annotated kadd.io/replace-first, then unhealthy, then oldest (ties by number)', () => {
      const a = machine('demo-node-1', { created: '2024-01-01T00:00:00Z' });
      const b = machine('demo-node-2', { created: '2024-03-01T00:00:00Z', annotations: { [REPLACE_FIRST_ANNOTATION]: 'true' } });
      const c = machine('demo-node-3', { created: '2024-05-01T00:00:00Z', ready: 'False' });
      const d = machine('demo-node-10', { created: '2023-12-01T00:00:00Z' });
      const e = machine('demo-node-4', { created: '2024-01-01T00:00:00Z' });
      const f = machine('demo-node-5', { created: '2024-01-01T00:00:00Z', annotations: { [REPLACE_FIRST_ANNOTATION]: 'false' } });
      const o = orderVictims([a, c, d, b, e, f]);
      assert.deepEqual(o.map((x) => x.m.name), ['demo-node-2', 'demo-node-3', 'demo-node-10', 'demo-node-1', 'demo-node-4', 'demo-node-5']);
      assert.deepEqual(o.slice(0, 3).map((x) => x.reason), ['annotated kadd.io/replace-first', 'unhealthy (Node Ready=False)', 'oldest first']);
    });
  });

  describe('a node like the old one', () => {
    it('copies flavor, zone, image and the operator\'s labels and taints, not what the kubelet or a controller sets', () => {
      const m = machine('demo-node-1', {
        flavor: 'm1.medium', zone: 'az2', image: 'img-a',
        labels: {
          'kubernetes.io/hostname': 'demo-node-1', 'kubernetes.io/os': 'linux', 'beta.kubernetes.io/arch': 'amd64', 'topology.kubernetes.io/zone': 'az2',
          'node.kubernetes.io/instance-type': 'm1.medium', 'node-role.kubernetes.io/worker': '', 'node.kubernetes.io/pool': 'gpu', 'kadd.io/cluster': 'demo', team: 'a',
        },
        taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }, { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' }, { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }],
      });
      const s = likeOld(m, {}, observed([m]), '1.29.3');
      assert.deepEqual(s, {
        flavor: 'm1.medium', zone: 'az2', image: 'img-a', serverGroup: undefined, k8sVersion: '1.29.3',
        labels: { 'node.kubernetes.io/pool': 'gpu', 'kadd.io/cluster': 'demo', team: 'a' },
        taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }],
      });
      const o = likeOld(m, { flavor: 'm1.large', image: 'img-b', zone: 'nova' }, observed([m]), '1.30.1');
      assert.deepEqual([o.flavor, o.image, o.zone, o.k8sVersion], ['m1.large', 'img-b', 'nova', '1.30.1']);
      assert.deepEqual(copyableTaints([{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }]), []);
      assert.deepEqual(copyableLabels({ 'kubelet.kubernetes.io/x': '1', 'k8s.io/y': '2', 'example.k8s.io/z': '3' }), { 'kubelet.kubernetes.io/x': '1' });
    });
    it('falls back to the cluster file when the server does not say (flavor per role, image, server group)', () => {
      const m = machine('demo-master-1', { noServer: true });
      const s = likeOld(m, {}, observed([m], { defaults: { image: 'cfg-img', masterFlavor: 'm1.large', nodeFlavor: 'm1.small', serverGroup: 'sg', volumeSize: 25, k8sVersion: '1.29.3' } }), '1.29.3');
      assert.deepEqual([s.flavor, s.image, s.serverGroup, s.zone], ['m1.large', 'cfg-img', 'sg', undefined]);
    });
    it('up to date only for nodes matching every requested change; nothing requested means replace', () => {
      const m = machine('demo-node-1', { image: 'new', flavor: 'm1.small', kubelet: 'v1.30.1' });
      assert.equal(upToDate(m, {}, flavors), false);
      assert.equal(upToDate(m, { image: 'new' }, flavors), true);
      assert.equal(upToDate(m, { image: 'new', flavor: '1' }, flavors), true, 'flavor by id');
      assert.equal(upToDate(m, { image: 'new', flavor: 'm1.large' }, flavors), false);
      assert.equal(upToDate(m, { k8sVersion: '1.30.1' }, flavors), true);
      assert.equal(upToDate(m, { k8sVersion: '1.30.2' }, flavors), false);
    });
  });

  describe('strategy', () => {
    const three = [machine('demo-master-1'), machine('demo-master-2'), machine('demo-master-3')];
    it('workers surge by default and remove first with --no-surge, saying why', () => {
      const w = machine('demo-node-1');
      const s = chooseStrategy(w, { surge: true }, three, view(three));
      assert.equal((s as { kind: string }).kind, 'surge');
      const r = chooseStrategy(w, { surge: false }, three, view(three));
      assert.deepEqual([(r as { kind: string }).kind, /--no-surge/.test((r as { reason: string }).reason)], ['remove-first', true]);
    });
    it('a healthy master surges 3 -> 4 -> 3', () => {
      const s = chooseStrategy(three[0]!, { surge: true }, three, view(three));
      assert.equal((s as { kind: string }).kind, 'surge');
      assert.equal(quorumPath(three[0]!, 'surge', three, view(three)).text, '3 -> 4 -> 3 members');
    });
    it('a dead master is replaced remove-first automatically, even without --no-surge; quorum 3 (2 healthy) -> 2 -> 3', () => {
      const ms = [machine('demo-master-1', { status: 'ERROR', ready: 'Unknown', healthy: false }), machine('demo-master-2'), machine('demo-master-3')];
      const s = chooseStrategy(ms[0]!, { surge: true }, ms, view(ms));
      assert.equal((s as { kind: string }).kind, 'remove-first');
      assert.match((s as { reason: string }).reason, /dead.*etcd FAQ.*quorum to 3/);
      assert.equal(quorumPath(ms[0]!, 'remove-first', ms, view(ms)).text, '3 (2 healthy) -> 2 -> 3 members');
    });
    it('a healthy master remove-first needs >= 3 masters', () => {
      const two = [machine('demo-master-1'), machine('demo-master-2')];
      const s = chooseStrategy(two[0]!, { surge: false }, two, view(two));
      assert.match((s as { blocker: string }).blocker, /needs at least 3 masters \(2 now\).*drop --no-surge to surge \(2 -> 3 -> 2\)/);
      const r = chooseStrategy(three[0]!, { surge: false }, three, view(three));
      assert.equal((r as { kind: string }).kind, 'remove-first');
      assert.equal(quorumPath(three[0]!, 'remove-first', three, view(three)).text, '3 -> 2 -> 3 members');
    });
    it('surging a healthy master while another member is unhealthy is refused (it would risk quorum)', () => {
      const ms = [machine('demo-master-1'), machine('demo-master-2', { healthy: false }), machine('demo-master-3')];
      const s = chooseStrategy(ms[0]!, { surge: true }, ms, view(ms));
      assert.match((s as { blocker: string }).blocker, /would add an etcd member while .*unhealthy/);
    });
    it('the only master, dead: nothing to replace it from', () => {
      const one = [machine('demo-master-1', { status: 'ERROR' })];
      assert.match((chooseStrategy(one[0]!, { surge: true }, one, view(one)) as { blocker: string }).blocker, /only master.*snapshot/);
    });
  });

  describe('planReplace', () => {
    it('one worker: surge, the new name, a +1 quota, gates; dry-run material', () => {
      const ms = [machine('demo-master-1'), machine('demo-node-1'), machine('demo-node-2')];
      const p = planReplace(req({ target: 'demo-node-2' }), observed(ms));
      assert.deepEqual(p.blockers, []);
      assert.equal(p.phases.length, 1);
      const s = p.phases[0]!.steps[0]!;
      assert.deepEqual([s.old, s.newName, s.strategy.kind, s.orderReason], ['demo-node-2', 'demo-node-3', 'surge', 'named on the command line']);
      assert.equal(p.extraServers, 1);
      assert.deepEqual(p.quota.map((q) => [q.resource, q.need]), [['instances', 1], ['cores', 1], ['ram (MiB)', 2048], ['volumes', 1], ['gigabytes', 25]]);
      assert.ok(p.gates.some((g) => /no Node that was Ready/.test(g)));
      assert.match(describeStep(s), /^demo-node-2 -> demo-node-3 \(surge; m1\.small, nova\)$/);
    });
    it('quota for the +1 missing: blocked before anything is created, and --no-surge is offered', () => {
      const ms = [machine('demo-master-1'), machine('demo-node-1')];
      const o = observed(ms, { novaLimits: { maxTotalCores: 3, totalCoresUsed: 3, maxTotalRAMSize: -1, totalRAMUsed: 0, maxTotalInstances: 10, totalInstancesUsed: 2 } });
      const p = planReplace(req({ target: 'demo-node-1' }), o);
      assert.equal(p.blockers.length, 1);
      assert.match(p.blockers[0]!, /quota: cores needs 1 for the 1 extra server of the surge, only 0 free; use --no-surge/);
      const q = planReplace(req({ target: 'demo-node-1', surge: false }), o);
      assert.deepEqual(q.blockers, [], 'remove-first needs no extra quota for the same flavor');
      assert.equal(q.extraServers, 0);
      const big = planReplace(req({ target: 'demo-node-1', surge: false, flavor: 'm1.large' }), o);
      assert.match(big.blockers.join(), /cores needs 3 for the bigger flavor, only 0 free/);
    });
    it('unknown node: a blocker naming the nodes there are', () => {
      const p = planReplace(req({ target: 'demo-node-9' }), observed([machine('demo-master-1'), machine('demo-node-1')]));
      assert.match(p.blockers[0]!, /demo-node-9 is neither a server nor a Node of cluster demo; nodes: demo-master-1, demo-node-1/);
    });
    it('--all: control plane first, masters one at a time with surge 1; workers with --max-surge/--max-unavailable; victim order kept', () => {
      const ms = [machine('demo-node-1'), machine('demo-node-2', { annotations: { [REPLACE_FIRST_ANNOTATION]: '' } }), machine('demo-master-1'), machine('demo-node-3', { ready: 'False' })];
      const p = planReplace(req({ all: true, maxSurge: 2, maxUnavailable: 1 }), observed(ms));
      assert.deepEqual(p.blockers, []);
      assert.deepEqual(p.phases.map((x) => [x.role, x.maxSurge, x.maxUnavailable]), [['master', 1, 0], ['node', 2, 1]]);
      assert.deepEqual(p.phases[1]!.steps.map((s) => s.old), ['demo-node-2', 'demo-node-3', 'demo-node-1']);
      assert.deepEqual(p.phases[1]!.steps.map((s) => s.newName), ['demo-node-4', 'demo-node-5', 'demo-node-6']);
      assert.equal(p.phases[0]!.steps[0]!.quorum!.text, '1 -> 2 -> 1 members');
      assert.equal(p.extraServers, 2, 'at most max-surge extra servers');
      assert.equal(p.quota.find((q) => q.resource === 'instances')!.need, 2);
      assert.equal(p.quota.find((q) => q.resource === 'cores')!.need, 2, 'the bigger of the two phases (2 workers, 1 master), not their sum');
    });
    it('--all --role node leaves masters alone; --no-surge with --all rolls one unavailable at a time', () => {
      const ms = [machine('demo-master-1'), machine('demo-node-1'), machine('demo-node-2')];
      const p = planReplace(req({ all: true, role: 'node', surge: false }), observed(ms));
      assert.deepEqual(p.phases.map((x) => [x.role, x.maxSurge, x.maxUnavailable]), [['node', 0, 1]]);
      assert.ok(p.phases[0]!.steps.every((s) => s.strategy.kind === 'remove-first'));
      assert.equal(p.extraServers, 0);
    });
    it('--all --image skips nodes already on the image', () => {
      const ms = [machine('demo-master-1', { image: 'new' }), machine('demo-node-1', { image: 'new' }), machine('demo-node-2')];
      const p = planReplace(req({ all: true, image: 'new' }), observed(ms));
      assert.deepEqual(p.upToDate, ['demo-master-1', 'demo-node-1']);
      assert.deepEqual(p.phases.flatMap((x) => x.steps.map((s) => s.old)), ['demo-node-2']);
    });
    it('--k8s-version +1 minor over everything: control plane first, kubeadm-config updated before the first new master, skew gate', () => {
      const ms = [machine('demo-master-1'), machine('demo-node-1')];
      const p = planReplace(req({ all: true, k8sVersion: '1.30.2' }), observed(ms));
      assert.deepEqual(p.blockers, []);
      assert.deepEqual(p.version, { from: '1.29.3', to: '1.30.2', kind: 'minor', updateKubeadmConfig: true });
      assert.deepEqual(p.phases.map((x) => x.role), ['master', 'node']);
      assert.ok(p.phases.every((x) => x.steps.every((s) => s.like.k8sVersion === '1.30.2')));
      assert.ok(p.gates.some((g) => /version skew/.test(g)));
    });
    it('--k8s-version on workers only, newer than the control plane: refused by the skew gate', () => {
      const ms = [machine('demo-master-1'), machine('demo-node-1')];
      const p = planReplace(req({ all: true, role: 'node', k8sVersion: '1.29.8' }), observed(ms));
      assert.match(p.blockers.join(), /newer than the control plane.*replace the masters first/);
      const q = planReplace(req({ all: true, role: 'master', k8sVersion: '1.29.8' }), observed(ms));
      assert.deepEqual(q.blockers, []);
      assert.equal(q.version!.kind, 'patch');
    });
    it('--k8s-version two minors up or down is refused; mid-roll the oldest master is the reference', () => {
      const ms = [machine('demo-master-1'), machine('demo-node-1')];
      assert.match(planReplace(req({ all: true, k8sVersion: '1.31.0' }), observed(ms)).blockers.join(), /skips a minor/);
      assert.match(planReplace(req({ all: true, k8sVersion: '1.28.0' }), observed(ms)).blockers.join(), /never downgrades/);
      // one master already on 1.30.2 (a paused roll): 1.30.2 is still +1 minor of the oldest
      const mid = [machine('demo-master-1', { kubelet: 'v1.30.2' }), machine('demo-master-2'), machine('demo-master-3'), machine('demo-node-1')];
      const p = planReplace(req({ all: true, k8sVersion: '1.30.2' }), observed(mid, { kubeadmVersion: 'v1.30.2' }));
      assert.deepEqual(p.blockers, []);
      assert.deepEqual(p.upToDate, ['demo-master-1']);
      assert.equal(p.version!.updateKubeadmConfig, false, 'kubeadm-config already says 1.30.2');
    });
    it('a dead master among 3: remove-first, with the quorum path in the plan', () => {
      const ms = [machine('demo-master-1'), machine('demo-master-2', { status: 'SHUTOFF', ready: 'Unknown', healthy: false }), machine('demo-master-3')];
      const p = planReplace(req({ target: 'demo-master-2' }), observed(ms));
      assert.deepEqual(p.blockers, []);
      const s = p.phases[0]!.steps[0]!;
      assert.deepEqual([s.strategy.kind, s.dead, s.quorum!.text], ['remove-first', true, '3 (2 healthy) -> 2 -> 3 members']);
      assert.equal(p.extraServers, 0);
    });
    it('etcd unreadable: blocked', () => {
      const ms = [machine('demo-master-1'), machine('demo-master-2'), machine('demo-master-3')];
      const p = planReplace(req({ target: 'demo-master-1' }), observed(ms, { etcd: { error: 'no adder' } }));
      assert.match(p.blockers.join(), /etcd could not be read: no adder/);
    });
    it('an unknown replacement flavor is a blocker', () => {
      const ms = [machine('demo-master-1'), machine('demo-node-1')];
      assert.match(planReplace(req({ target: 'demo-node-1', flavor: 'm9.huge' }), observed(ms)).blockers.join(), /flavor m9\.huge .* not found/);
    });
  });
});
