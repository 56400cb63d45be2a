/**
 * The simulator's drain world: pods of every kind on nodes, PDB status as the disruption controller computes it,
 * the Eviction subresource as the API server answers it, cordon, graceful termination, unreachable kubelets,
 * VolumeAttachments and node capacity.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'mocha';
import { startKube, until, type Harness } from './kube-helpers.js';

const J = (r: Response) => r.json() as Promise<any>;

function evict(h: Harness, ns: string, name: string, o: { dryRun?: boolean; body?: any; grace?: number } = {}) {
  const body = o.body ?? { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace: ns }, ...(o.grace !== undefined ? { deleteOptions: { gracePeriodSeconds: o.grace } } : {}) };
  return fetch(`${h.url}/api/v1/namespaces/${ns}/pods/${name}/eviction${o.dryRun ? '?dryRun=All' : ''}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}
const pdb = async (h: Harness, ns: string, name: string) => J(await fetch(`${h.url}/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets/${name}`));
const pod = (h: Harness, ns: string, name: string) => h.sim.cluster.get('pods', ns, name);
const cordon = (h: Harness, node: string) => fetch(`${h.url}/api/v1/nodes/${node}`, { method: 'PATCH', headers: { 'content-type': 'application/strategic-merge-patch+json' }, body: JSON.stringify({ spec: { unschedulable: true } }) });
const podsOf = (h: Harness, ns: string, app: string) => h.sim.pods(ns).filter((p) => p.metadata.labels?.app === app);

describe('sim kube: PDB status as the disruption controller computes it', function () {
  this.timeout(20000);
  let h: Harness;
  before(async () => {
    h = await startKube({ masters: 1, nodes: 3, clusterName: 'd' }, { seed: 3, kube: { podStartup: { fixed: 3_600_000 } } });
  });
  after(() => h.close());

  it('minAvailable int counts the selected pods; percentages and maxUnavailable use the Deployment scale, rounded up', async () => {
    h.sim.addWorkload({ name: 'a', replicas: 4, pdb: { minAvailable: 3 } });
    let s = (await pdb(h, 'default', 'a')).status;
    assert.deepEqual([s.expectedPods, s.desiredHealthy, s.currentHealthy, s.disruptionsAllowed], [4, 3, 4, 1]);
    assert.equal(s.conditions[0].reason, 'SufficientPods');
    h.sim.addWorkload({ name: 'b', replicas: 5, pdb: { minAvailable: '50%' } });
    s = (await pdb(h, 'default', 'b')).status;
    assert.deepEqual([s.expectedPods, s.desiredHealthy, s.disruptionsAllowed], [5, 3, 2]); // ceil(2.5)
    h.sim.addWorkload({ name: 'c', replicas: 5, pdb: { maxUnavailable: '30%' } });
    s = (await pdb(h, 'default', 'c')).status;
    assert.deepEqual([s.expectedPods, s.desiredHealthy, s.disruptionsAllowed], [5, 3, 2]); // 5 - ceil(1.5)
    h.sim.addWorkload({ name: 'e', replicas: 2, pdb: { maxUnavailable: 0 } });
    s = (await pdb(h, 'default', 'e')).status;
    assert.deepEqual([s.desiredHealthy, s.disruptionsAllowed], [2, 0]);
    assert.equal(s.conditions[0].status, 'False');
    assert.equal(s.conditions[0].reason, 'InsufficientPods');
    // the Deployment's scale, not the pods seen, is what a percentage is taken of
    const dep = h.sim.cluster.get('deployments', 'default', 'c')!;
    dep.spec.replicas = 10;
    s = (await pdb(h, 'default', 'c')).status;
    assert.deepEqual([s.expectedPods, s.desiredHealthy, s.currentHealthy, s.disruptionsAllowed], [10, 7, 5, 0]);
  });

  it('pods whose controller has no scale (DaemonSet) make the controller fail safe: SyncFailed, nothing allowed', async () => {
    h.sim.addWorkload({ kind: 'DaemonSet', name: 'agent', pdb: { maxUnavailable: 1 } });
    const s = (await pdb(h, 'default', 'agent')).status;
    assert.equal(s.disruptionsAllowed, 0);
    assert.equal(s.conditions[0].reason, 'SyncFailed');
    assert.match(s.conditions[0].message, /^found no controllers for pod "agent-/);
    const victim = podsOf(h, 'default', 'agent')[0]!.metadata.name;
    assert.equal((await evict(h, 'default', victim)).status, 429);
  });

  it('list and get carry the same computed status', async () => {
    const l = await J(await fetch(`${h.url}/apis/policy/v1/namespaces/default/poddisruptionbudgets`));
    const a = l.items.find((x: any) => x.metadata.name === 'a');
    assert.equal(a.status.disruptionsAllowed, (await pdb(h, 'default', 'a')).status.disruptionsAllowed);
  });
});

describe('sim kube: the Eviction subresource', function () {
  this.timeout(20000);
  let h: Harness;
  before(async () => {
    h = await startKube({ masters: 1, nodes: 3, clusterName: 'ev' }, { seed: 5, kube: { podStartup: { fixed: 3_600_000 } } });
  });
  after(() => h.close());

  it('201 with a Success Status, then 429 with the disruption controller message and cause once the budget is spent', async () => {
    h.sim.addWorkload({ name: 'x', replicas: 3, pdb: { minAvailable: 2 }, terminationMs: 3_600_000, gracePeriodSeconds: 7200 });
    const [p1, p2] = podsOf(h, 'default', 'x').map((p) => p.metadata.name);
    const r1 = await evict(h, 'default', p1!);
    assert.equal(r1.status, 201);
    assert.deepEqual(await J(r1), { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 });
    assert.ok(pod(h, 'default', p1!)!.metadata.deletionTimestamp, 'the evicted pod is terminating');
    const r2 = await evict(h, 'default', p2!);
    assert.equal(r2.status, 429);
    assert.deepEqual(await J(r2), {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: "Cannot evict pod as it would violate the pod's disruption budget.",
      reason: 'TooManyRequests',
      details: { causes: [{ reason: 'DisruptionBudget', message: 'The disruption budget x needs 2 healthy pods and has 2 currently' }] },
      code: 429,
    });
    assert.equal(pod(h, 'default', p2!)!.metadata.deletionTimestamp, undefined);
  });

  it('two PDBs over one pod: 500 with the registry Status body, nothing deleted', async () => {
    h.sim.addWorkload({ name: 'y', replicas: 2, pdb: { name: 'y1', minAvailable: 1 } });
    await fetch(`${h.url}/apis/policy/v1/namespaces/default/poddisruptionbudgets`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'y2' }, spec: { maxUnavailable: 1, selector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['y'] }] } } }) });
    const name = podsOf(h, 'default', 'y')[0]!.metadata.name;
    const r = await evict(h, 'default', name);
    assert.equal(r.status, 500);
    assert.deepEqual(await J(r), { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.', code: 500 });
    assert.equal(pod(h, 'default', name)!.metadata.deletionTimestamp, undefined);
  });

  it('dryRun=All answers as the real eviction would and changes nothing (query or deleteOptions)', async () => {
    h.sim.addWorkload({ name: 'z', replicas: 2, pdb: { minAvailable: 1 } });
    const [a, b] = podsOf(h, 'default', 'z').map((p) => p.metadata.name);
    const rvBefore = [pod(h, 'default', a!)!.metadata.resourceVersion, h.sim.cluster.get('poddisruptionbudgets', 'default', 'z')!.metadata.resourceVersion];
    const before = JSON.stringify((await pdb(h, 'default', 'z')).status.disruptionsAllowed);
    const r = await evict(h, 'default', a!, { dryRun: true });
    assert.equal(r.status, 201);
    const r2 = await evict(h, 'default', a!, { body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: a }, deleteOptions: { dryRun: ['All'] } } });
    assert.equal(r2.status, 201);
    assert.equal(pod(h, 'default', a!)!.metadata.deletionTimestamp, undefined);
    assert.equal(JSON.stringify((await pdb(h, 'default', 'z')).status.disruptionsAllowed), before);
    assert.deepEqual([pod(h, 'default', a!)!.metadata.resourceVersion, h.sim.cluster.get('poddisruptionbudgets', 'default', 'z')!.metadata.resourceVersion], rvBefore, 'no write happened');
    // a dry run still reports the budget: spend it for real, then a dry run of the other pod is refused
    assert.equal((await evict(h, 'default', a!)).status, 201);
    assert.equal((await evict(h, 'default', b!, { dryRun: true })).status, 429);
    // non-matching dry-run options are an error
    const bad = await fetch(`${h.url}/api/v1/namespaces/default/pods/${b}/eviction?dryRun=All`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: b }, deleteOptions: { dryRun: ['Nope'] } }) });
    assert.equal(bad.status, 500);
  });

  it('a pod already terminating is "evicted" again with 201 and nothing changes; a Pending pod skips the budget', async () => {
    h.sim.addWorkload({ name: 't', replicas: 2, pdb: { minAvailable: 2 }, terminationMs: 3_600_000, gracePeriodSeconds: 7200 });
    const [a] = podsOf(h, 'default', 't').map((p) => p.metadata.name);
    // budget 0: delete one by hand (as kubectl delete does) then evict it: canIgnorePDB
    await fetch(`${h.url}/api/v1/namespaces/default/pods/${a}`, { method: 'DELETE' });
    const ts = pod(h, 'default', a!)!.metadata.deletionTimestamp;
    assert.ok(ts);
    const r = await evict(h, 'default', a!);
    assert.equal(r.status, 201);
    assert.equal(pod(h, 'default', a!)!.metadata.deletionTimestamp, ts);
    // the replacement is Pending (startup takes an hour here): evictable whatever the budget says
    const pending = await until(() => podsOf(h, 'default', 't').find((p) => p.status.phase === 'Pending'));
    assert.equal((await evict(h, 'default', pending.metadata.name)).status, 201);
  });

  it('400 for a name mismatch, 404 for a missing pod', async () => {
    const name = podsOf(h, 'default', 'x').find((p) => !p.metadata.deletionTimestamp)!.metadata.name;
    const r = await evict(h, 'default', name, { body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'other' } } });
    assert.equal(r.status, 400);
    assert.equal((await J(r)).message, 'name in URL does not match name in Eviction object');
    assert.equal((await evict(h, 'default', 'nope')).status, 404);
  });

  it('records what clients sent (for schema checks of request bodies)', async () => {
    const reqs = h.sim.requests({ method: 'POST', path: /\/eviction$/ });
    assert.ok(reqs.length >= 5);
    assert.equal(reqs[0]!.body && (reqs[0]!.body as any).kind, 'Eviction');
    assert.equal(reqs[0]!.contentType, 'application/json');
  });
});

describe('sim kube: unhealthy pods under a PDB (unhealthyPodEvictionPolicy)', function () {
  this.timeout(20000);
  let h: Harness;
  beforeEachHarness();
  function beforeEachHarness() {
    before(async () => {
      h = await startKube({ masters: 1, nodes: 2, clusterName: 'u' }, { seed: 9, kube: { podStartup: { fixed: 3_600_000 } } });
    });
    after(() => h.close());
  }

  it('a crash-looping pod is Running, not Ready, CrashLoopBackOff with restarts', async () => {
    h.sim.addWorkload({ name: 'cl', replicas: 1, crashLoop: true, pdb: { minAvailable: 1 } });
    const p = podsOf(h, 'default', 'cl')[0]!;
    assert.equal(p.status.phase, 'Running');
    assert.equal(p.status.conditions.find((c: any) => c.type === 'Ready').status, 'False');
    assert.equal(p.status.containerStatuses[0].state.waiting.reason, 'CrashLoopBackOff');
    assert.ok(p.status.containerStatuses[0].restartCount >= 5);
    // IfHealthyBudget (default): 0 healthy of 1 desired -> the unready pod is protected too
    const r = await evict(h, 'default', p.metadata.name);
    assert.equal(r.status, 429);
    assert.match((await J(r)).details.causes[0].message, /needs 1 healthy pods and has 0 currently/);
  });

  it('IfHealthyBudget lets an unready pod go when the budget is met without it', async () => {
    h.sim.addWorkload({ name: 'mix', replicas: 3, pdb: { minAvailable: 2 } });
    const [bad] = podsOf(h, 'default', 'mix').map((p) => p.metadata.name);
    h.sim.setCrashLoop('default', bad!, true);
    const s = (await pdb(h, 'default', 'mix')).status;
    assert.deepEqual([s.currentHealthy, s.desiredHealthy, s.disruptionsAllowed], [2, 2, 0]);
    assert.equal((await evict(h, 'default', bad!)).status, 201);
  });

  it('AlwaysAllow lets an unready pod go even when the budget is not met', async () => {
    h.sim.addWorkload({ name: 'aa', replicas: 1, crashLoop: true, pdb: { minAvailable: 1, unhealthyPodEvictionPolicy: 'AlwaysAllow' } });
    const p = podsOf(h, 'default', 'aa')[0]!;
    assert.equal((await evict(h, 'default', p.metadata.name)).status, 201);
  });
});

describe('sim kube: Deployments, cordon, graceful termination and unreachable kubelets', function () {
  this.timeout(20000);
  let h: Harness;
  afterEach(() => h?.close());

  it('an evicted Deployment pod is recreated on another schedulable node, never on the cordoned one', async () => {
    h = await startKube({ masters: 1, nodes: 3, clusterName: 'r' }, { seed: 13 });
    h.sim.addWorkload({ name: 'api', replicas: 2, nodes: ['r-node-1'], pdb: { maxUnavailable: 1 } });
    assert.equal((await cordon(h, 'r-node-1')).status, 200);
    const victims = podsOf(h, 'default', 'api').map((p) => p.metadata.name);
    assert.equal((await evict(h, 'default', victims[0]!)).status, 201);
    const repl = await until(() => podsOf(h, 'default', 'api').find((p) => !victims.includes(p.metadata.name) && h.sim.cluster.podReady(p)));
    assert.notEqual(repl.spec.nodeName, 'r-node-1');
    assert.ok(['r-node-2', 'r-node-3'].includes(repl.spec.nodeName), 'not on the control plane (tainted) either');
    // budget back: the second one can go too, and lands elsewhere as well
    assert.equal((await evict(h, 'default', victims[1]!)).status, 201);
    await until(() => podsOf(h, 'default', 'api').filter((p) => h.sim.cluster.podReady(p)).length === 2 && !podsOf(h, 'default', 'api').some((p) => p.spec.nodeName === 'r-node-1'));
    const dep = h.sim.deployments('default').find((d) => d.metadata.name === 'api')!;
    assert.equal(dep.status.readyReplicas, 2);
  });

  it('a pod takes its termination time to go, capped by its grace period', async () => {
    h = await startKube({ masters: 1, nodes: 1, clusterName: 'g' }, { seed: 17, timeScale: 0.01 });
    h.sim.addWorkload({ kind: 'Bare', name: 'slow', terminationMs: { fixed: 60_000 }, gracePeriodSeconds: 120 });
    h.sim.addWorkload({ kind: 'Bare', name: 'capped', terminationMs: { fixed: 600_000 }, gracePeriodSeconds: 5 });
    // each pod's removal time is taken when the sim removes it (not when a poll notices: at timeScale 0.01 a
    // loaded machine's polling and requests add hundreds of sim seconds)
    const removedAt = new Map<string, number>();
    const cluster = h.sim.cluster;
    const remove = cluster.remove.bind(cluster);
    cluster.remove = (plural, ns, name) => {
      if (plural === 'pods') removedAt.set(name, h.core.now());
      return remove(plural, ns, name);
    };
    const t0 = h.core.now();
    await evict(h, 'default', 'slow');
    const tCapped = h.core.now();
    await evict(h, 'default', 'capped');
    assert.equal(pod(h, 'default', 'slow')!.metadata.deletionGracePeriodSeconds, 120);
    await until(() => !pod(h, 'default', 'capped'));
    const cappedAt = removedAt.get('capped')! - tCapped;
    assert.ok(pod(h, 'default', 'slow'), 'still terminating after the capped one went');
    await until(() => !pod(h, 'default', 'slow'));
    const slowAt = removedAt.get('slow')! - t0;
    assert.ok(cappedAt >= 5000 && cappedAt < 50_000, `capped at the 5 s grace (${cappedAt})`);
    assert.ok(slowAt >= 60_000, `slow took its 60 s (${slowAt})`);
    // gracePeriodSeconds 0 in the eviction's deleteOptions removes at once
    h.sim.addWorkload({ kind: 'Bare', name: 'now', terminationMs: { fixed: 600_000 } });
    assert.equal((await evict(h, 'default', 'now', { grace: 0 })).status, 201);
    assert.equal(pod(h, 'default', 'now'), undefined);
  });

  it('pods on an unreachable node stay Terminating until the kubelet answers again', async () => {
    h = await startKube({ masters: 1, nodes: 2, clusterName: 'n' }, { seed: 19 });
    h.sim.addWorkload({ kind: 'Bare', name: 'lost', nodes: ['n-node-1'] });
    h.sim.setNodeDown('n-node-1', true);
    const n = h.sim.node('n-node-1')!;
    assert.equal(n.status.conditions.find((c: any) => c.type === 'Ready').status, 'Unknown');
    assert.ok(n.spec.taints.some((t: any) => t.key === 'node.kubernetes.io/unreachable' && t.effect === 'NoExecute'));
    assert.equal(pod(h, 'default', 'lost')!.status.conditions.find((c: any) => c.type === 'Ready').status, 'False');
    assert.equal((await evict(h, 'default', 'lost')).status, 201);
    await new Promise((r) => setTimeout(r, 100)); // 100 sim seconds
    assert.ok(pod(h, 'default', 'lost')?.metadata.deletionTimestamp, 'stays Terminating');
    h.sim.setNodeDown('n-node-1', false);
    await until(() => !pod(h, 'default', 'lost'));
  });
});

describe('sim kube: static, bare, emptyDir, DaemonSet and PV-backed pods; VolumeAttachments; capacity', function () {
  this.timeout(20000);
  let h: Harness;
  before(async () => {
    h = await startKube({ masters: 1, nodes: 3, clusterName: 'v' }, { seed: 23, kube: { volumeAttach: { fixed: 2000 }, volumeDetach: { fixed: 30_000 } } });
  });
  after(() => h.close());

  it('seeds the kinds a drain must tell apart', async () => {
    h.sim.addWorkload({ kind: 'Static', name: 'probe', nodes: ['v-node-1'] });
    h.sim.addWorkload({ kind: 'Bare', name: 'lonely', nodes: ['v-node-1'], emptyDir: true });
    const ds = h.sim.addWorkload({ kind: 'DaemonSet', name: 'logs' });
    const mirror = pod(h, 'default', 'probe-v-node-1')!;
    assert.ok(mirror.metadata.annotations['kubernetes.io/config.mirror']);
    assert.equal(mirror.metadata.ownerReferences[0].kind, 'Node');
    const cp = pod(h, 'kube-system', 'etcd-v-master-1')!;
    assert.ok(cp.metadata.annotations['kubernetes.io/config.mirror'], 'control-plane static pods are mirror pods');
    const bare = pod(h, 'default', 'lonely')!;
    assert.equal(bare.metadata.ownerReferences, undefined);
    assert.deepEqual(bare.spec.volumes, [{ name: 'scratch', emptyDir: {} }]);
    assert.equal(ds.pods.length, 4, 'a DaemonSet pod on every node');
    assert.ok(h.sim.cluster.get('pods', 'default', ds.pods[0]!)!.spec.tolerations.some((t: any) => t.key === 'node.kubernetes.io/unschedulable'));
    // the kubelet recreates a deleted mirror pod
    const uid = mirror.metadata.uid;
    await fetch(`${h.url}/api/v1/namespaces/default/pods/probe-v-node-1`, { method: 'DELETE' });
    await until(() => pod(h, 'default', 'probe-v-node-1') && pod(h, 'default', 'probe-v-node-1')!.metadata.uid !== uid);
    // a node that joins later gets the DaemonSet pod
    h.sim.cluster.registerNode('v-node-9', { ip: '10.0.9.9', controlPlane: false }, { labels: {}, taints: [] });
    h.sim.cluster.setNodeReady('v-node-9', true);
    assert.ok(h.sim.pods('default').some((p) => p.metadata.labels?.app === 'logs' && p.spec.nodeName === 'v-node-9'));
  });

  it('a PV pod gets a VolumeAttachment; after eviction it detaches, and the replacement waits for the detach (RWO)', async () => {
    const w = h.sim.addWorkload({ name: 'db', replicas: 1, nodes: ['v-node-2'], pvc: { size: '5Gi' } });
    const pvName = w.pvs[0]!;
    const pv = h.sim.cluster.get('persistentvolumes', undefined, pvName)!;
    assert.equal(pv.spec.csi.driver, 'cinder.csi.openstack.org');
    assert.equal(h.sim.cluster.get('persistentvolumeclaims', 'default', 'db-data')!.spec.volumeName, pvName);
    const first = podsOf(h, 'default', 'db')[0]!;
    assert.equal(h.sim.cluster.podReady(first), false, 'not Ready before the volume is attached');
    const va = await until(() => h.sim.volumeAttachments().find((v) => v.spec.source.persistentVolumeName === pvName && v.status.attached));
    assert.equal(va.spec.nodeName, 'v-node-2');
    assert.match(va.metadata.name, /^csi-[0-9a-f]{64}$/);
    await until(() => h.sim.cluster.podReady(pod(h, 'default', first.metadata.name)!));
    const node = h.sim.node('v-node-2')!;
    assert.deepEqual(node.status.volumesAttached, [{ name: `kubernetes.io/csi/cinder.csi.openstack.org^${pv.spec.csi.volumeHandle}`, devicePath: '' }]);
    assert.deepEqual(node.status.volumesInUse, [`kubernetes.io/csi/cinder.csi.openstack.org^${pv.spec.csi.volumeHandle}`]);
    const l = await J(await fetch(`${h.url}/apis/storage.k8s.io/v1/volumeattachments`));
    assert.equal(l.kind, 'VolumeAttachmentList');
    await cordon(h, 'v-node-2');
    // the detach is held here so that the in-between state can be seen on a loaded machine too
    h.sim.keepVolumeAttached(pvName, true);
    assert.equal((await evict(h, 'default', first.metadata.name)).status, 201);
    const repl = await until(() => podsOf(h, 'default', 'db').find((p) => p.metadata.name !== first.metadata.name && p.spec.nodeName));
    assert.notEqual(repl.spec.nodeName, 'v-node-2');
    // the old attachment stays while it is not detached; the new node waits for it (Multi-Attach)
    await until(() => !pod(h, 'default', first.metadata.name));
    assert.ok(h.sim.volumeAttachments().some((v) => v.spec.nodeName === 'v-node-2'), 'still attached right after the pod went');
    assert.ok(!h.sim.volumeAttachments().some((v) => v.spec.nodeName === repl.spec.nodeName), 'Multi-Attach: the new node waits');
    assert.equal(h.sim.cluster.podReady(pod(h, 'default', repl.metadata.name)!), false);
    h.sim.keepVolumeAttached(pvName, false);
    await until(() => !h.sim.volumeAttachments().some((v) => v.spec.nodeName === 'v-node-2'));
    assert.equal(h.sim.node('v-node-2')!.status.volumesAttached, undefined);
    await until(() => h.sim.cluster.podReady(pod(h, 'default', repl.metadata.name)!));
  });

  it('fault: a volume that stays attached after its pod is gone', async () => {
    const w = h.sim.addWorkload({ kind: 'Bare', name: 'stuck', nodes: ['v-node-3'], pvc: true });
    await until(() => h.sim.cluster.podReady(pod(h, 'default', 'stuck')!));
    h.sim.keepVolumeAttached(w.pvs[0]!, true);
    await evict(h, 'default', 'stuck');
    await until(() => !pod(h, 'default', 'stuck'));
    await new Promise((r) => setTimeout(r, 50)); // 50 sim seconds, far past the detach time
    assert.ok(h.sim.volumeAttachments().some((v) => v.spec.source.persistentVolumeName === w.pvs[0]));
    const handle = h.sim.cluster.get('persistentvolumes', undefined, w.pvs[0]!)!.spec.csi.volumeHandle;
    assert.ok(h.sim.node('v-node-3')!.status.volumesAttached.some((v: any) => v.name.endsWith(handle)));
    h.sim.keepVolumeAttached(w.pvs[0]!, false);
    await until(() => !h.sim.volumeAttachments().some((v) => v.spec.source.persistentVolumeName === w.pvs[0]));
  });

  it('the scheduler checks requests against allocatable', async () => {
    for (const n of ['v-node-1', 'v-node-2', 'v-node-3', 'v-node-9']) h.sim.setNodeAllocatable(n, { cpu: '1', memory: '2Gi' });
    h.sim.addWorkload({ name: 'big', replicas: 1, nodes: ['v-node-1'], requests: { cpu: '800m', memory: '1Gi' } });
    const p = podsOf(h, 'default', 'big')[0]!;
    assert.deepEqual(p.spec.containers[0].resources.requests, { cpu: '800m', memory: '1Gi' });
    assert.equal(p.status.qosClass, 'Burstable');
    // scaled to 5: one per node with a free core (v-node-2 is cordoned, the master tainted); the rest cannot fit
    await fetch(`${h.url}/apis/apps/v1/namespaces/default/deployments/big`, { method: 'PATCH', headers: { 'content-type': 'application/merge-patch+json' }, body: JSON.stringify({ spec: { replicas: 5 } }) });
    const pending = await until(() => podsOf(h, 'default', 'big').find((x) => x.status.conditions?.some((c: any) => c.reason === 'Unschedulable')));
    assert.match(pending.status.conditions[0].message, /^0\/5 nodes are available: .*Insufficient cpu/);
    const placed = podsOf(h, 'default', 'big').filter((x) => x.spec.nodeName);
    assert.equal(new Set(placed.map((x) => x.spec.nodeName)).size, placed.length, 'at most one per node');
  });
});

describe('sim kube: a namespace being terminated', function () {
  this.timeout(20000);
  let h: Harness;
  after(() => h?.close());

  it('evictions in it are Forbidden with the NamespaceTerminating cause (kubectl drain waits on those)', async () => {
    h = await startKube({ masters: 1, nodes: 1, clusterName: 'ns' }, { seed: 29 });
    h.sim.addWorkload({ kind: 'Bare', name: 'slowpoke', namespace: 'team', terminationMs: 600_000, gracePeriodSeconds: 900 });
    h.sim.addWorkload({ kind: 'Bare', name: 'other', namespace: 'team', terminationMs: 600_000, gracePeriodSeconds: 900 });
    const del = await fetch(`${h.url}/api/v1/namespaces/team`, { method: 'DELETE' });
    assert.equal(del.status, 200);
    const ns = await J(await fetch(`${h.url}/api/v1/namespaces/team`));
    assert.equal(ns.status.phase, 'Terminating');
    assert.ok(pod(h, 'team', 'slowpoke')!.metadata.deletionTimestamp);
    const r = await evict(h, 'team', 'other');
    assert.equal(r.status, 403);
    assert.deepEqual(await J(r), {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'pods "other" is forbidden: unable to create new content in namespace team because it is being terminated',
      reason: 'Forbidden',
      details: { name: 'other', kind: 'pods', causes: [{ reason: 'NamespaceTerminating', message: 'namespace team is being terminated', field: 'metadata.namespace' }] },
      code: 403,
    });
    await until(() => !h.sim.cluster.get('namespaces', undefined, 'team'), 5000);
    assert.equal(h.sim.pods('team').length, 0);
  });
});

describe('sim kube: the drain-world scenario file', function () {
  this.timeout(20000);
  it('loads and seeds what it says', async () => {
    const { loadScenario } = await import('../sim/scenario.js');
    const sc = loadScenario('fixtures/sim/drain-world.yml');
    const h = await startKube({}, { ...sc, timeScale: 0.001 });
    try {
      const apps = new Set(h.sim.pods('default').map((p) => p.metadata.labels?.app));
      for (const a of ['web', 'api', 'db', 'flaky', 'node-agent', 'debug-shell', 'slow']) assert.ok(apps.has(a), a);
      assert.deepEqual(h.sim.pdbs('default').map((p) => p.metadata.name).sort(), ['api', 'db', 'flaky', 'web']);
      assert.equal(h.sim.node('demo-node-1')!.status.allocatable.cpu, '2');
      assert.ok(h.sim.etcd.members.every((m) => m.name.endsWith('.novalocal')));
    } finally {
      await h.close();
    }
  });
});
