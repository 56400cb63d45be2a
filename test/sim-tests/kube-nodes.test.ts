/**
 * Node faults: unreachable and NotReady nodes (timed or at once), the taint manager, Leases, the Nova reboot
 * action (compute api-ref: 202, REBOOT / HARD_REBOOT, state checks, schema errors) and the kubelet coming
 * back after it, a server going SHUTOFF / ERROR under its Node.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'mocha';
import type { KubeSim } from '../sim/kube/index.js';
import { startKube, until, type Harness } from './kube-helpers.js';
import { startApi, type Api, until as untilAsync } from './openstack-helpers.js';

const ready = (n: any) => n.status.conditions.find((c: any) => c.type === 'Ready');

describe('sim kube: node faults', function () {
  this.timeout(20000);
  let h: Harness;
  afterEach(() => h?.close());

  it('NotReady: the kubelet answers with Ready False and the reason; not-ready taints; Lease still renewed', async () => {
    h = await startKube({ masters: 1, nodes: 2, clusterName: 'f' }, { seed: 1 });
    h.sim.setNodeState('f-node-1', 'NotReady', { reason: 'container runtime is down' });
    const n = h.sim.node('f-node-1')!;
    assert.equal(ready(n).status, 'False');
    assert.equal(ready(n).message, 'container runtime is down');
    assert.deepEqual(n.spec.taints.map((t: any) => `${t.key}:${t.effect}`).sort(), ['node.kubernetes.io/not-ready:NoExecute', 'node.kubernetes.io/not-ready:NoSchedule']);
    assert.equal(h.sim.nodeState('f-node-1'), 'NotReady');
    const l1 = await (await fetch(`${h.url}/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/f-node-1`)).json();
    await new Promise((r) => setTimeout(r, 30)); // 30 sim seconds
    const l2 = await (await fetch(`${h.url}/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/f-node-1`)).json();
    assert.ok(Date.parse(l2.spec.renewTime) > Date.parse(l1.spec.renewTime), 'a NotReady kubelet still renews its Lease');
    assert.match(l2.spec.renewTime, /\.\d{6}Z$/);
  });

  it('Unreachable: Ready Unknown on every condition, the Lease stops, the taint manager deletes pods after 300 s and they stay Terminating', async () => {
    h = await startKube({ masters: 1, nodes: 2, clusterName: 'u' }, { seed: 2 });
    h.sim.addWorkload({ name: 'w', replicas: 2, nodes: ['u-node-1'] });
    const victims = h.sim.pods('default').filter((p) => p.metadata.labels.app === 'w').map((p) => p.metadata.name);
    const t0 = h.core.now();
    h.sim.setNodeState('u-node-1', 'Unreachable');
    const n = h.sim.node('u-node-1')!;
    assert.ok(n.status.conditions.every((c: any) => c.status === 'Unknown'));
    assert.equal(ready(n).message, 'Kubelet stopped posting node status.');
    const lease = await (await fetch(`${h.url}/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/u-node-1`)).json();
    // the pods tolerate unreachable for 300 s (DefaultTolerationSeconds), then the taint manager deletes them
    const gone = await until(() => victims.every((v) => h.sim.cluster.get('pods', 'default', v)?.metadata.deletionTimestamp), 3000);
    assert.ok(gone);
    assert.ok(h.core.now() - t0 >= 300_000, 'not before tolerationSeconds');
    const repl = await until(() => h.sim.pods('default').filter((p) => p.metadata.labels.app === 'w' && !victims.includes(p.metadata.name) && h.sim.cluster.podReady(p)).length === 2, 3000);
    assert.ok(repl);
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(victims.every((v) => h.sim.cluster.get('pods', 'default', v)), 'no kubelet to confirm: still Terminating');
    const lease2 = await (await fetch(`${h.url}/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/u-node-1`)).json();
    assert.equal(lease2.spec.renewTime, lease.spec.renewTime, 'the Lease is not renewed');
    // pod exec to the node fails as the apiserver's dial to the kubelet would
    h.sim.setNodeState('u-node-1', 'Ready');
    await until(() => victims.every((v) => !h.sim.cluster.get('pods', 'default', v)), 3000);
  });

  it('timed faults.nodes: NotReady at a time, Ready again after `for`', async () => {
    h = await startKube({ masters: 1, nodes: 2, clusterName: 't' }, { seed: 3, timeScale: 0.01, faults: { nodes: [{ node: 't-node-2', at: 2, state: 'NotReady', for: 5 }] } });
    assert.equal(h.sim.nodeState('t-node-2'), 'Ready');
    await until(() => h.sim.nodeState('t-node-2') === 'NotReady', 3000);
    const since = Date.parse(ready(h.sim.node('t-node-2')!).lastTransitionTime);
    assert.ok(since - h.sim.cluster.startedAt >= 1000, 'the transition time is the fault time');
    await until(() => h.sim.nodeState('t-node-2') === 'Ready', 3000);
    assert.equal(h.sim.nodeState('t-node-1'), 'Ready', 'other nodes untouched');
  });
});

describe('sim nova: reboot and server state under a Node', function () {
  this.timeout(30000);
  let api: Api;
  let kube: KubeSim;
  afterEach(() => api?.sim.stop());

  const start = async (faults: any = {}) => {
    api = await startApi({ seed: 5, timeScale: 0.001, cluster: { name: 'k', masters: 1, nodes: 2 }, faults, latency: { serverReboot: { fixed: 600_000 } }, kube: { kubeletRestart: { fixed: 5000 }, nodeMonitorGrace: { fixed: 400_000 } } });
    kube = api.sim.kube as unknown as KubeSim;
  };
  const server = async (name: string) => (await api.call('GET', '/compute/v2.1/servers/detail?name=' + name)).body.servers.find((s: any) => s.name === name);
  const reboot = (id: string, body: unknown) => api.call('POST', `/compute/v2.1/servers/${id}/action`, body);

  it('seeded Nodes carry the providerID of their server', async () => {
    await start();
    const s = await server('k-node-1');
    assert.equal(kube.node('k-node-1')!.spec.providerID, `openstack:///${s.id}`);
  });

  it('validates the reboot body as the compute API schema does', async () => {
    await start();
    const s = await server('k-node-1');
    const r1 = await reboot(s.id, { reboot: { type: 'WARM' } });
    assert.equal(r1.status, 400);
    assert.equal(r1.body.badRequest.message, "Invalid input for field/attribute type. Value: WARM. 'WARM' is not one of ['HARD', 'Hard', 'hard', 'SOFT', 'Soft', 'soft']");
    const r2 = await reboot(s.id, { reboot: {} });
    assert.equal(r2.status, 400);
    assert.match(r2.body.badRequest.message, /'type' is a required property/);
  });

  it('SOFT reboot: 202, REBOOT, back ACTIVE; a NotReady kubelet comes back Ready after it', async () => {
    await start();
    const s = await server('k-node-1');
    kube.setNodeState('k-node-1', 'NotReady', { reason: 'PLEG is not healthy' });
    const r = await reboot(s.id, { reboot: { type: 'SOFT' } });
    assert.equal(r.status, 202);
    assert.equal(r.text, '');
    const during = await server('k-node-1');
    assert.equal(during.status, 'REBOOT');
    assert.match(during['OS-EXT-STS:task_state'], /^reboot_(pending|started)$/);
    // a second SOFT while one runs: 409 with the task state
    const again = await reboot(s.id, { reboot: { type: 'SOFT' } });
    assert.equal(again.status, 409);
    assert.match(again.body.conflictingRequest.message, new RegExp(`^Cannot 'reboot' instance ${s.id} while it is in task_state reboot_(pending|started)$`));
    await untilAsync(async () => (await server('k-node-1')).status === 'ACTIVE', 5000, 5);
    await until(() => kube.nodeState('k-node-1') === 'Ready', 5000);
  });

  it('HARD reboot of a SHUTOFF server is allowed (SOFT is 409); the kubelet comes back', async () => {
    await start();
    const s = await server('k-node-2');
    assert.equal((await api.call('POST', `/compute/v2.1/servers/${s.id}/action`, { 'os-stop': null })).status, 202);
    assert.equal((await server('k-node-2')).status, 'SHUTOFF');
    await until(() => kube.nodeState('k-node-2') === 'Unreachable', 5000);
    const soft = await reboot(s.id, { reboot: { type: 'SOFT' } });
    assert.equal(soft.status, 409);
    assert.equal(soft.body.conflictingRequest.message, `Cannot 'reboot' instance ${s.id} while it is in vm_state stopped`);
    assert.equal((await reboot(s.id, { reboot: { type: 'HARD' } })).status, 202);
    assert.equal((await server('k-node-2')).status, 'HARD_REBOOT');
    await untilAsync(async () => (await server('k-node-2')).status === 'ACTIVE', 5000, 5);
    await until(() => kube.nodeState('k-node-2') === 'Ready', 5000);
  });

  it('a server that goes ERROR under its Node: Unknown after the grace period; HARD reboot recovers it', async () => {
    await start({ serverState: [{ name: '^k-node-1$', at: 10, status: 'ERROR', message: 'hypervisor lost' }] });
    await untilAsync(async () => (await server('k-node-1')).status === 'ERROR', 5000, 5);
    const s = (await api.call('GET', `/compute/v2.1/servers/${(await server('k-node-1')).id}`)).body.server;
    assert.equal(s.fault.message, 'hypervisor lost');
    assert.notEqual(kube.nodeState('k-node-1'), 'Unreachable', 'not before node-monitor-grace-period');
    await until(() => kube.nodeState('k-node-1') === 'Unreachable', 5000);
    assert.equal((await reboot(s.id, { reboot: { type: 'hard' } })).status, 202);
    await untilAsync(async () => (await server('k-node-1')).status === 'ACTIVE', 5000, 5);
    await until(() => kube.nodeState('k-node-1') === 'Ready', 5000);
  });

  it('faults.rebootDoesNotHeal: the guest comes back but the kubelet stays NotReady', async () => {
    await start({ rebootDoesNotHeal: ['^k-node-1$'] });
    const s = await server('k-node-1');
    kube.setNodeState('k-node-1', 'NotReady');
    await reboot(s.id, { reboot: { type: 'HARD' } });
    await untilAsync(async () => (await server('k-node-1')).status === 'ACTIVE', 5000, 5);
    await untilAsync(() => api.sim.state().timeline && (api.sim.state().timeline as any[]).some((e) => e.type === 'kubelet.still-broken'), 5000);
    assert.equal(kube.nodeState('k-node-1'), 'NotReady');
  });
});
