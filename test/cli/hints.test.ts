/**
 * Issue 12 point 12: hints that cannot work are gone. (The rolled-back join's --keep-failed hint is in
 * test/commands/add-workers.test.ts, `[y/N]` once in test/cli/output.test.ts, `logs -n 2 --follow` in
 * test/commands/logs-sim.test.ts.)
 */
import assert from 'node:assert/strict';
import { failureHint, reachableNextStep } from '../../lib/commands/add.js';
import { startKaddSim, type KaddSim } from '../helpers/kadd-sim.js';

describe('hints that can work', function () {
  this.timeout(60_000);
  let h: KaddSim | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  it('"see the diagnosis above" only when one was printed; a rollback points to --keep-failed', () => {
    assert.doesNotMatch(failureHint({ diagnosed: false, rolledBack: true, config: 'c.yml' }), /diagnosis above/);
    assert.match(failureHint({ diagnosed: false, rolledBack: true, config: 'c.yml' }), /--keep-failed/);
    assert.match(failureHint({ diagnosed: true, rolledBack: false, config: 'c.yml' }), /^see the diagnosis above$/);
    const d = { nextStep: 'run `kadd logs NODE` for the whole console log' };
    assert.match(reachableNextStep(d, false, 'c.yml', 'n-2').nextStep, /deleted by the rollback; run again with --keep-failed/);
    assert.equal(reachableNextStep(d, true, 'c.yml', 'n-2').nextStep, 'run `kadd logs c.yml n-2` for the whole console log');
  });

  it('Ctrl-C on `logs --follow` stops without saying "cleaning up" (exit 0)', async () => {
    h = await startKaddSim();
    const c = h.spawnKadd(['logs', h.cfgPath, 'demo-node-1', '--follow', '--poll-interval', '100']);
    await c.waitFor(/following demo-node-1/);
    c.proc.kill('SIGINT');
    const r = await c.done;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /interrupted: stopping/);
    assert.doesNotMatch(r.stderr, /cleaning up/);
  });
});
