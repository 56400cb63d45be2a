import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { etaSeconds, evaluateGates, failedGates, formatDuration, latestRoll, remainingSteps, STEP_NAME, type GateSnapshot } from '../../lib/ops/replace-roll.js';
import { Journal, findUnfinished, readJournal } from '../../lib/journal/index.js';
import type { ClusterView } from '../../lib/etcd/quorum.js';

const member = (id: string, name: string, o: { healthy?: boolean; learner?: boolean; started?: boolean } = {}) => ({
  member: { id, name: o.started === false ? '' : name, peerURLs: [], clientURLs: [`https://${name}:2379`], isLearner: !!o.learner },
  started: o.started !== false, healthy: o.healthy ?? true, isLeader: false, reason: o.healthy === false ? 'connection refused' : undefined,
});

function snap(over: Partial<GateSnapshot> = {}): GateSnapshot {
  return {
    nodes: [
      { name: 'demo-master-1', role: 'master', ready: true, kubeletVersion: 'v1.29.3' },
      { name: 'demo-node-1', role: 'node', ready: true, kubeletVersion: 'v1.29.3' },
      { name: 'demo-node-2', role: 'node', ready: true, kubeletVersion: 'v1.29.3' },
    ],
    readyz: { ok: true },
    ...over,
  };
}
const baseline = new Set(['demo-master-1', 'demo-node-1', 'demo-node-2']);

describe('replace gates and roll state (pure)', () => {
  describe('gates', () => {
    it('all pass on a healthy cluster', () => {
      const view: ClusterView = { members: [member('a', 'demo-master-1')] };
      const r = evaluateGates(snap({ etcd: view }), baseline);
      assert.deepEqual(failedGates(r), []);
      assert.deepEqual(r.map((g) => g.gate), ['etcd', 'control-plane', 'not-ready']);
    });
    it('etcd: an unhealthy member, a learner, an unstarted member or an unreadable etcd fail', () => {
      const view: ClusterView = { members: [member('a', 'demo-master-1'), member('b', 'demo-master-2', { healthy: false }), member('c', 'x', { learner: true }), member('d', 'y', { started: false })] };
      const [e] = failedGates(evaluateGates(snap({ etcd: view }), baseline));
      assert.equal(e!.gate, 'etcd');
      assert.match(e!.detail, /demo-master-2 \(connection refused\), x \(learner\), d \(never started\)/);
      assert.match(failedGates(evaluateGates(snap({ etcd: { error: 'exec failed' } }), baseline))[0]!.detail, /etcd could not be read: exec failed/);
      // the dead master a step replaces is why the step runs: its member and Node do not fail the gates
      const dead: ClusterView = { members: [member('a', 'demo-master-1'), member('b', 'demo-master-2', { healthy: false })] };
      const s = snap({ etcd: dead });
      s.nodes.push({ name: 'demo-master-2', role: 'master', ready: false });
      assert.equal(failedGates(evaluateGates(s, new Set([...baseline, 'demo-master-2']))).length, 3);
      assert.deepEqual(failedGates(evaluateGates(s, new Set([...baseline, 'demo-master-2']), { ignore: ['demo-master-2'] })), []);
    });
    it('control plane: /readyz through the load balancer and every master Ready', () => {
      assert.match(failedGates(evaluateGates(snap({ readyz: { ok: false, detail: 'HTTP 500 [-]etcd failed' } }), baseline))[0]!.detail, /not ready through the load balancer: HTTP 500/);
      const s = snap();
      s.nodes[0]!.ready = false;
      const f = failedGates(evaluateGates(s, baseline));
      assert.deepEqual(f.map((g) => g.gate), ['control-plane', 'not-ready']);
      assert.match(f[0]!.detail, /control-plane Node not Ready: demo-master-1/);
    });
    it('a Node Ready at the start and NotReady now fails; one NotReady from the start, a new one, or the node being replaced do not', () => {
      const s = snap();
      s.nodes[2]!.ready = false;
      assert.match(failedGates(evaluateGates(s, baseline))[0]!.detail, /Ready when the roll started is NotReady now: demo-node-2/);
      assert.deepEqual(failedGates(evaluateGates(s, new Set(['demo-master-1', 'demo-node-1']))), [], 'NotReady before the roll');
      assert.deepEqual(failedGates(evaluateGates(s, baseline, { ignore: ['demo-node-2'] })), [], 'the old node of the step in flight');
      s.nodes.push({ name: 'demo-node-3', role: 'node', ready: false });
      assert.deepEqual(failedGates(evaluateGates(s, baseline, { ignore: ['demo-node-2'] })), [], 'a new node still joining');
    });
    it('skew: before worker steps, every master at the workers\' target version', () => {
      const f = failedGates(evaluateGates(snap(), baseline, { skewVersion: '1.30.1', workersNext: true }));
      assert.equal(f[0]!.gate, 'skew');
      const s = snap();
      s.nodes[0]!.kubeletVersion = 'v1.30.1';
      assert.deepEqual(failedGates(evaluateGates(s, baseline, { skewVersion: '1.30.1', workersNext: true })), []);
      assert.deepEqual(failedGates(evaluateGates(snap(), baseline, { skewVersion: '1.30.1', workersNext: false })), [], 'masters next: no skew gate yet');
    });
  });

  describe('roll state from a real journal', () => {
    let dir: string;
    let cfg: string;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'kadd-roll-'));
      cfg = join(dir, 'cfg.yml');
      writeFileSync(cfg, 'cluster-name: demo\n');
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));
    const K = STEP_NAME;

    it('folds start/removed-old/added/complete/failed per old node across a run and its resume', async () => {
      let j = await Journal.open(cfg);
      const op1 = await j.begin({ command: 'replace', args: { all: true, order: ['demo-node-1', 'demo-node-2', 'demo-node-3'] } });
      await j.step(K, 'demo-node-1', 'start', { strategy: 'surge', roll: op1 });
      await j.step(K, 'demo-node-1', 'done', { phase: 'added', new: 'demo-node-4', serverId: 's4' });
      await j.step('drain', 'demo-node-1', 'done', { phase: 'complete' }); // the remove's own steps do not count
      await j.step(K, 'demo-node-1', 'done', { phase: 'complete' });
      await j.step(K, 'demo-node-2', 'start', { strategy: 'surge' });
      await j.step(K, 'demo-node-2', 'done', { phase: 'failed', cause: 'never Ready' });
      await j.step(K, 'demo-node-2', 'start', { strategy: 'surge' });
      await j.step(K, 'demo-node-2', 'done', { phase: 'added', new: 'demo-node-6' });
      await j.close(); // kill -9: no end record
      let roll = latestRoll((await readJournal(cfg)).records)!;
      assert.equal(roll.roll, op1);
      assert.equal(roll.lastStatus, 'unterminated');
      assert.equal(roll.finished, false);
      assert.deepEqual(roll.steps.get('demo-node-1'), { old: 'demo-node-1', strategy: 'surge', removedOld: false, added: { name: 'demo-node-4', serverId: 's4' }, complete: true, failures: 0, inFlight: false });
      const s2 = roll.steps.get('demo-node-2')!;
      assert.deepEqual([s2.failures, s2.lastCause, s2.inFlight, s2.added?.name, s2.complete], [1, 'never Ready', true, 'demo-node-6', false]);
      assert.deepEqual(remainingSteps(roll, roll.args.order as string[]), ['demo-node-2', 'demo-node-3']);
      assert.deepEqual((await findUnfinished(cfg)).leftovers, [], 'roll records are never leftovers');

      // the resume is a new run of the same roll
      j = await Journal.open(cfg);
      await j.begin({ command: 'replace', args: { roll: op1, resume: true } });
      await j.step(K, 'demo-node-2', 'done', { phase: 'complete' });
      await j.step(K, 'demo-node-3', 'start', { strategy: 'remove-first' });
      await j.step(K, 'demo-node-3', 'done', { phase: 'removed-old' });
      await j.step(K, 'demo-node-3', 'done', { phase: 'added', new: 'demo-node-7' });
      await j.step(K, 'demo-node-3', 'done', { phase: 'complete' });
      await j.end('ok');
      roll = latestRoll((await readJournal(cfg)).records)!;
      assert.equal(roll.ops.length, 2);
      assert.deepEqual(roll.args.order, ['demo-node-1', 'demo-node-2', 'demo-node-3'], 'the first run\'s request');
      assert.equal(roll.finished, true);
      assert.equal(roll.steps.get('demo-node-3')!.removedOld, true);
      assert.deepEqual(remainingSteps(roll, roll.args.order as string[]), []);
    });
    it('kill -9 after the replacement joined (kept) but before `added`: the kept server of the announced name counts as added (chaos harness)', async () => {
      const j = await Journal.open(cfg);
      await j.begin({ command: 'replace', args: { target: 'demo-node-1' } });
      await j.step(K, 'demo-node-1', 'start', { strategy: 'surge' });
      await j.step(K, 'demo-node-1', 'done', { phase: 'adding', new: 'demo-node-3' });
      await j.intent('server', 'demo-node-3');
      await j.done('server', 'demo-node-3', 's3');
      await j.kept('server', 'demo-node-9', 's9'); // another name: not this step's replacement
      let roll = latestRoll((await readJournal(cfg)).records)!;
      assert.equal(roll.steps.get('demo-node-1')!.added, undefined, 'created is not joined');
      await j.kept('server', 'demo-node-3', 's3');
      await j.close(); // killed here: no `added`, no end
      roll = latestRoll((await readJournal(cfg)).records)!;
      const s = roll.steps.get('demo-node-1')!;
      assert.deepEqual([s.adding, s.added, s.inFlight, s.complete], ['demo-node-3', { name: 'demo-node-3', serverId: 's3' }, true, false]);
    });
    it('a later roll replaces an earlier one; other commands do not count', async () => {
      const j = await Journal.open(cfg);
      await j.begin({ command: 'replace', args: { target: 'demo-node-1' } });
      await j.end('failed');
      const j2 = await Journal.open(cfg);
      await j2.begin({ command: 'add --role node', args: {} });
      await j2.end('ok');
      const j3 = await Journal.open(cfg);
      const op3 = await j3.begin({ command: 'replace', args: { target: 'demo-node-2' } });
      await j3.end('interrupted');
      const roll = latestRoll((await readJournal(cfg)).records)!;
      assert.equal(roll.roll, op3);
      assert.equal(roll.lastStatus, 'interrupted');
      assert.equal(roll.args.target, 'demo-node-2');
    });
  });

  it('ETA from the steps done and the slots; durations', () => {
    assert.equal(etaSeconds([], 5, 1), null);
    assert.equal(etaSeconds([60_000, 120_000], 4, 2), 180);
    assert.equal(etaSeconds([60_000], 5, 2), 180);
    assert.deepEqual([formatDuration(42), formatDuration(185), formatDuration(7260)], ['42s', '3m05s', '2h01m']);
  });
});
