/** add --role master on the runner: the journal's own nodes before the drift check, a failed change's outcome (pure parts). */
import assert from 'node:assert/strict';
import { reconcileMasters, uncountedMasters } from '../../lib/ops/add-master-verb.js';
import { masterOutcome } from '../../lib/ops/add-master-execute.js';
import { outcomesOf, silentStages, withOutcomes } from '../../lib/ops/engine/events.js';

const lines: string[] = [];
const ctx = { io: { log: (_l: string, m: string) => lines.push(m) } } as never;
const config = { clusterName: 'demo', nMasters: 1, file: 'cfg.yml' } as never;

describe('add --role master: the journal\'s own nodes and the drift check', () => {
  it('a master an unfinished run kept (joined, the file never written) is counted, not reported as drift', () => {
    const report = { operations: [{ op: 'a1', command: 'add --role master' }] } as never;
    const records = [
      { t: 'begin', op: 'a1' }, { t: 'kept', op: 'a1', kind: 'server', name: 'demo-master-2' }, { t: 'kept', op: 'a1', kind: 'volume', name: 'demo-master-2-root' },
      { t: 'kept', op: 'done-op', kind: 'server', name: 'demo-master-9' },
    ];
    const own = uncountedMasters(report, records);
    assert.deepEqual(own, ['demo-master-2']);
    const seen = { servers: ['demo-master-1', 'demo-master-2'], controlPlaneNodes: ['demo-master-1', 'demo-master-2'] };
    const c = reconcileMasters(ctx, config, seen, [], own, { acceptDrift: false, configArg: 'cfg.yml' });
    assert.equal((c as { nMasters: number }).nMasters, 2);
    assert.match(lines.join('\n'), /added demo-master-2 but died before it wrote the cluster file/);
  });

  it('without the journal\'s own nodes the same counts are still drift (exit 2), and leftovers are not counted', () => {
    const seen = { servers: ['demo-master-1', 'demo-master-2'], controlPlaneNodes: ['demo-master-1'] };
    assert.throws(() => reconcileMasters(ctx, config, seen, [], [], { acceptDrift: false, configArg: 'cfg.yml' }), /E_CONFIG_DRIFT|says n-masters: 1, the cluster has 2/);
    const c = reconcileMasters(ctx, config, seen, ['demo-master-2'], [], { acceptDrift: false, configArg: 'cfg.yml' });
    assert.equal((c as { nMasters: number }).nMasters, 1);
  });
});

describe('add --role master: the outcome of a change that failed (-f json)', () => {
  const stagesOf = (...events: [string, 'done' | 'failed', string?][]) => {
    const st = silentStages('demo-master-2');
    st.start('add');
    for (const [stage, state, detail] of events) {
      st.start(stage);
      if (state === 'done') st.done(stage, detail);
      else st.failed(stage, detail ?? 'boom');
    }
    st.failed('add', 'adding master demo-master-2 failed');
    return st;
  };

  it('rolled back: "rolled-back" with the cause; a rollback that left something: "failed" naming it and the stage', () => {
    const st = stagesOf(['server', 'done'], ['registered', 'failed', 'no Node registered within 2s'], ['rollback', 'done', '3 undone']);
    const rb = masterOutcome('demo-master-2', st, 'adding master demo-master-2 failed ...', { cause: 'no Node registered within 2s', left: [] });
    assert.equal(rb.outcome, 'rolled-back');
    assert.equal(rb.outcome === 'rolled-back' && rb.error, 'no Node registered within 2s');
    assert.deepEqual(rb.stages.map((s) => s.stage), ['server', 'registered', 'rollback'], 'the root stage is left out');

    const st2 = stagesOf(['registered', 'failed', 'no Node registered within 2s'], ['rollback', 'failed', 'left behind: etcd-member 8e9e05c52164694d']);
    const f = masterOutcome('demo-master-2', st2, 'x', { cause: 'no Node registered within 2s', left: ['etcd-member 8e9e05c52164694d (refused: quorum)'] });
    assert.deepEqual({ ...f, stages: undefined }, {
      node: 'demo-master-2', outcome: 'failed', stages: undefined, stage: 'rollback',
      error: 'no Node registered within 2s; left behind: etcd-member 8e9e05c52164694d (refused: quorum)',
    });
  });

  it('--keep-failed: "kept"; Ctrl-C: "rolled-back" with "interrupted"; a failure before any change: the error itself', () => {
    const st = stagesOf(['registered', 'failed']);
    const kept = masterOutcome('demo-master-2', st, 'x', { cause: 'boom', keep: true, left: [] });
    assert.equal(kept.outcome === 'kept' && kept.reason, '--keep-failed: boom');
    const int = masterOutcome('demo-master-2', st, 'x', { cause: 'interrupted while ...', interrupted: true, left: [] });
    assert.equal(int.outcome === 'rolled-back' && int.error, 'interrupted');
    const early = masterOutcome('demo-master-2', stagesOf(['snapshot', 'failed', 'disk full']), 'etcd snapshot on demo-master-1 failed, nothing was changed: disk full', {});
    assert.equal(early.outcome === 'rolled-back' && early.error, 'etcd snapshot on demo-master-1 failed, nothing was changed: disk full');
  });

  it('withOutcomes keeps the outcomes with the very error object; other errors have none', () => {
    const e = new Error('boom');
    const o = masterOutcome('demo-master-2', stagesOf(), 'boom', {});
    assert.equal(withOutcomes(e, [o]), e);
    assert.deepEqual(outcomesOf(e), [o]);
    assert.equal(outcomesOf(new Error('boom')), undefined);
    assert.equal(outcomesOf('a string'), undefined);
  });
});
