import { strict as assert } from 'node:assert';
import { classifyPods, neverSatisfiable, selectorMatches } from '../../lib/kube/drain.js';
import { cpuMilli, memoryBytes } from '../../lib/kube/quantity.js';
import { gateRemove, type ClusterView } from '../../lib/etcd/quorum.js';
import { checkCapacity, deadReason, selectVictims, type Candidate } from '../../lib/ops/remove-plan.js';
import { parseDuration } from '../../lib/commands/remove.js';
import type { KNode, KPdb, KPod } from '../../lib/kube/types.js';

const pod = (o: Partial<KPod> & { name: string }): KPod => ({
  namespace: 'default', uid: `u-${o.name}`, labels: {}, annotations: {}, ready: true, emptyDirVolumes: [], pvcVolumes: [],
  requests: { cpuMilli: 0, memoryBytes: 0 }, nodeSelector: {}, tolerations: [], controller: { kind: 'ReplicaSet', name: 'rs' }, ...o,
});
const node = (name: string, o: Partial<KNode> = {}): KNode => ({
  name, labels: {}, taints: [], unschedulable: false, ready: true, conditions: [{ type: 'Ready', status: 'True' }], addresses: [], ...o,
});
const pdb = (o: Partial<KPdb>): KPdb => ({ namespace: 'default', name: 'p', status: { currentHealthy: 1, desiredHealthy: 1, disruptionsAllowed: 0, expectedPods: 1 }, ...o });

describe('remove planning (pure)', () => {
  it('classifies pods like kubectl drain: mirror and DaemonSet skipped, bare needs --force, emptyDir needs --delete-emptydir-data, finished pods go', () => {
    const pods = [
      pod({ name: 'm', annotations: { 'kubernetes.io/config.mirror': 'x' }, controller: { kind: 'Node', name: 'n' } }),
      pod({ name: 'ds', controller: { kind: 'DaemonSet', name: 'ds' } }),
      pod({ name: 'bare', controller: undefined }),
      pod({ name: 'ed', emptyDirVolumes: ['cache'] }),
      pod({ name: 'pv', pvcVolumes: ['data'] }),
      pod({ name: 'done', controller: undefined, phase: 'Succeeded' }),
    ];
    const c = classifyPods(pods, { force: false, deleteEmptyDirData: false });
    assert.deepEqual(c.map((x) => [x.pod.name, x.action, x.flag ?? '']), [
      ['m', 'skip', ''], ['ds', 'skip', ''], ['bare', 'block', '--force'], ['ed', 'block', '--delete-emptydir-data'], ['pv', 'evict', ''], ['done', 'evict', ''],
    ]);
    assert.ok(c.find((x) => x.pod.name === 'pv')!.classes.includes('pv'));
    const f = classifyPods(pods, { force: true, deleteEmptyDirData: true });
    assert.equal(f.filter((x) => x.action === 'block').length, 0);
  });

  it('skips pods terminating longer than the unreachable-node wait (deletionTimestamp in the past by > 1 s)', () => {
    const now = Date.parse('2026-01-01T00:00:10Z');
    const c = classifyPods([pod({ name: 'old', deletionTimestamp: '2026-01-01T00:00:05Z' }), pod({ name: 'new', deletionTimestamp: '2026-01-01T00:00:09.500Z' })], { force: false, deleteEmptyDirData: false }, { now, skipWaitForDeleteTimeoutSeconds: 1 });
    assert.deepEqual(c.map((x) => x.action), ['skip', 'evict']);
  });

  it('PDB selectors (policy/v1: empty selects all, absent none) and never-satisfiable budgets', () => {
    assert.equal(selectorMatches(undefined, { a: '1' }), false);
    assert.equal(selectorMatches({}, { a: '1' }), true);
    assert.equal(selectorMatches({ matchLabels: { a: '1' }, matchExpressions: [{ key: 'b', operator: 'NotIn', values: ['x'] }] }, { a: '1', b: 'y' }), true);
    assert.equal(selectorMatches({ matchExpressions: [{ key: 'b', operator: 'Exists' }] }, { a: '1' }), false);
    assert.match(neverSatisfiable(pdb({ maxUnavailable: 0 }))!, /maxUnavailable is 0/);
    assert.match(neverSatisfiable(pdb({ maxUnavailable: '0%' }))!, /maxUnavailable/);
    assert.match(neverSatisfiable(pdb({ minAvailable: '100%' }))!, /100%/);
    assert.match(neverSatisfiable(pdb({ minAvailable: 2, status: { currentHealthy: 2, desiredHealthy: 2, disruptionsAllowed: 0, expectedPods: 2 } }))!, /scaled up/);
    assert.equal(neverSatisfiable(pdb({ minAvailable: 1, status: { currentHealthy: 1, desiredHealthy: 1, disruptionsAllowed: 0, expectedPods: 2 } })), undefined);
  });

  it('selects victims: unhealthy first, then kadd.io/remove-first, then newest (or oldest)', () => {
    const srv = (name: string, status = 'ACTIVE') => ({ id: name, name, status });
    const cands: Candidate[] = [1, 2, 3, 4, 5].map((i) => ({ name: `c-node-${i}`, role: 'node', index: i, server: srv(`c-node-${i}`), node: node(`c-node-${i}`) }));
    cands[1]!.node = node('c-node-2', { annotations: { 'kadd.io/remove-first': '' } });
    cands[0]!.server = srv('c-node-1', 'SHUTOFF');
    const v = selectVictims({ names: [], role: 'node', amount: 3, order: 'newest' }, cands);
    assert.deepEqual(v.victims.map((x) => x.name), ['c-node-1', 'c-node-2', 'c-node-5']);
    assert.match(v.victims[0]!.why, /unhealthy: server SHUTOFF/);
    assert.match(v.victims[1]!.why, /annotated kadd.io\/remove-first/);
    const o = selectVictims({ names: [], role: 'node', amount: 3, order: 'oldest' }, cands);
    assert.deepEqual(o.victims.map((x) => x.name), ['c-node-1', 'c-node-2', 'c-node-3']);
    assert.match(selectVictims({ names: ['c-node-9'], order: 'newest' }, cands).errors[0]!, /neither a server nor a Node/);
    assert.match(selectVictims({ names: [], role: 'node', amount: 9, order: 'newest' }, cands).errors[0]!, /only 5/);
  });

  it('dead: server SHUTOFF/ERROR/gone, or Node Unknown longer than --dead-after', () => {
    const now = Date.parse('2026-01-01T01:00:00Z');
    const unknownSince = (t: string): Candidate => ({ name: 'x', role: 'master', index: 1, server: { id: 'x', name: 'x', status: 'ACTIVE' }, node: node('x', { conditions: [{ type: 'Ready', status: 'Unknown', lastTransitionTime: t }] }) });
    assert.match(deadReason(unknownSince('2026-01-01T00:50:00Z'), now, 300_000, false)!, /unreachable for 600s/);
    assert.equal(deadReason(unknownSince('2026-01-01T00:59:00Z'), now, 300_000, false), undefined);
    assert.match(deadReason({ name: 'x', role: 'node', index: 1 }, now, 300_000, false)!, /gone/);
  });

  it('capacity: first-fit of the evicted pods over the remaining Ready, schedulable, untainted nodes', () => {
    const alloc = { cpuMilli: 2000, memoryBytes: 4 * 2 ** 30, pods: 110 };
    const nodes = [node('a', { allocatable: alloc }), node('cp', { allocatable: alloc, taints: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }] }), node('cordoned', { allocatable: alloc, unschedulable: true })];
    const running = [pod({ name: 'r', nodeName: 'a', requests: { cpuMilli: 1000, memoryBytes: 0 } })];
    const ev = [pod({ name: 'e1', requests: { cpuMilli: 800, memoryBytes: 0 } }), pod({ name: 'e2', requests: { cpuMilli: 800, memoryBytes: 0 } })];
    const c = checkCapacity(ev, nodes, running);
    assert.equal(c.fits, false);
    assert.equal(c.unplaced.length, 1);
    assert.equal(c.free.nodes, 2);
    assert.equal(checkCapacity(ev.slice(0, 1), nodes, running).fits, true);
  });

  it('quantities and durations', () => {
    assert.equal(cpuMilli('250m'), 250);
    assert.equal(cpuMilli('1.5'), 1500);
    assert.equal(memoryBytes('128Mi'), 128 * 2 ** 20);
    assert.equal(memoryBytes('1G'), 1e9);
    assert.equal(parseDuration('15m'), 900_000);
    assert.equal(parseDuration('1h30m'), 5_400_000);
    assert.equal(parseDuration('90'), 90_000);
    assert.ok(Number.isNaN(parseDuration('soon')));
    assert.ok(Number.isNaN(parseDuration('5x')));
  });

  it('the remove gate: 2 -> 1 needs --allow-single-master, 1 -> 0 never, a second unhealthy member blocks, summary line', () => {
    const m = (id: string, healthy = true, leader = false) => ({ member: { id, name: `m${id}`, peerURLs: [], clientURLs: [`https://${id}:2379`], isLearner: false }, started: true, healthy, isLeader: leader });
    const three: ClusterView = { members: [m('1', true, true), m('2'), m('3')] };
    const g = gateRemove(three, '3');
    assert.equal(g.allowed, true);
    assert.equal(g.summary, 'after: 2 members, quorum 2, tolerates 0 failures');
    assert.ok(g.warnings.some((w) => /even number/.test(w)));
    const sick: ClusterView = { members: [m('1'), m('2', false), m('3')] };
    assert.equal(gateRemove(sick, '3').allowed, false);
    const deadVictim: ClusterView = { members: [m('1'), m('2'), m('3', false)] };
    assert.equal(gateRemove(deadVictim, '3').allowed, true, 'a dead victim counts as gone');
    const two: ClusterView = { members: [m('1'), m('2')] };
    assert.equal(gateRemove(two, '2').allowed, false);
    assert.equal(gateRemove(two, '2', { allowSingleMaster: true }).allowed, true);
    assert.equal(gateRemove({ members: [m('1')] }, '1', { allowSingleMaster: true }).allowed, false);
  });
});
