/**
 * Pure: a roll's steps and heal's outcomes as the engine's NodeOutcome (docs/schemas/node-outcome.json).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import { rollOutcomes, type RollResult, type StepOutcome } from '../../lib/ops/replace.js';
import { healNodeOutcomes } from '../../lib/ops/heal.js';

const schema = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'schemas', 'node-outcome.json'), 'utf8')) as object;
const check = new (Ajv as unknown as typeof Ajv.default)({ allErrors: true, strict: false }).compile(schema);
const valid = (o: unknown) => assert.ok(check(o), JSON.stringify(check.errors));

const spec = { flavor: 'm1.small', image: 'debian', labels: {}, taints: [], k8sVersion: '1.30.2' };
const step = (old: string, outcome: StepOutcome['outcome'], more: Partial<StepOutcome> = {}): StepOutcome => ({
  old, role: 'node', strategy: 'surge', outcome, from: {}, to: spec, durationMs: 5, ...more,
});

describe('rollOutcomes / healNodeOutcomes', () => {
  it('replaced (by), failed (error, stage); the steps never reached are paused when the roll paused', () => {
    const r: RollResult = {
      steps: [
        step('n1', 'replaced', { new: 'n4', stages: [{ stage: 'add', state: 'done', elapsedMs: 3 }] }),
        step('n2', 'failed', { cause: 'n5 never became healthy', stage: 'add' }),
        step('n3', 'not-started'),
      ],
      paused: { gates: [{ gate: 'not-ready', ok: false, detail: 'a Node Ready when the roll started is NotReady now: n6' }] },
      durationMs: 10, maxExtraInFlight: 1,
    };
    const out = rollOutcomes(r);
    out.forEach(valid);
    assert.deepEqual(out[0], { node: 'n1', outcome: 'replaced', by: 'n4', stages: [{ stage: 'add', state: 'done', elapsedMs: 3 }] });
    assert.deepEqual(out[1], { node: 'n2', outcome: 'failed', error: 'n5 never became healthy', stage: 'add', stages: [] });
    assert.equal(out[2]!.outcome, 'paused');
    assert.match((out[2] as { reason: string }).reason, /paused: a Node Ready when the roll started is NotReady now: n6; kadd replace --resume/);
  });

  it('an aborted roll: the steps never started are skipped with the reason', () => {
    const out = rollOutcomes({ steps: [step('n1', 'failed', { cause: 'x' }), step('n2', 'not-started')], aborted: '1 step failed, more than --max-failures 0', durationMs: 1, maxExtraInFlight: 0 });
    out.forEach(valid);
    assert.deepEqual(out[1], { node: 'n2', outcome: 'skipped', reason: 'the roll aborted: 1 step failed, more than --max-failures 0', stages: [] });
  });

  it('heal: recovered -> kept, replaced -> replaced by, failed -> failed with the cause; the action kept', () => {
    const out = healNodeOutcomes([
      { node: 'a', action: 'reboot', outcome: 'recovered', stages: [{ stage: 'reboot-soft', state: 'done', elapsedMs: 1 }] },
      { node: 'b', action: 'replace surge', outcome: 'replaced', replacement: 'c' },
      { node: 'd', action: 'replace remove-first', outcome: 'failed', cause: 'quota' },
    ]);
    out.forEach(valid);
    assert.deepEqual(out.map((o) => [o.node, o.outcome, o.action]), [['a', 'kept', 'reboot'], ['b', 'replaced', 'replace surge'], ['d', 'failed', 'replace remove-first']]);
    assert.equal((out[1] as { by?: string }).by, 'c');
    assert.equal((out[2] as { error?: string }).error, 'quota');
  });
});
