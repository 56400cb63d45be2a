/**
 * The kill -9 chaos harness (test/chaos/harness.ts), bounded for `npm test`: a fixed seed, one kill per
 * command at a journal record where a crash is known to hurt (the replace case broke convergence before
 * the fix that came with this harness; test/ops/replace-roll.test.ts pins the other replace fix, and
 * remove-resume-process.test.ts the remove boundaries), followed by the follow-up kadd names and the full audit of the
 * simulator (orphans, duplicates, stale Nodes, etcd learners, quorum samples, cluster-file counts, journal).
 * `npm run test:chaos` runs every boundary and random moments.
 */
import assert from 'node:assert/strict';
import { describePoint, oneKill, prng, scenarios, type KillPoint, type KillResult, type ScenarioName } from './harness.js';

const SEED = 13;
// three kills: well under 90 s on a loaded 2-core machine (each is a simulator, a kadd process and its follow-up)

const CASES: [ScenarioName, KillPoint][] = [
  // 13.2: every node joined, the cluster file not written yet
  ['add-workers', { kind: 'record', re: /"t":"kept".*"kind":"server"/ }],
  // the master's port and volume exist, its server is being created
  ['add-master', { kind: 'record', re: /"t":"done".*"kind":"volume"/ }],
  // the old node's removal recorded its intent: resume must not take the old node for a half-built replacement
  ['replace-worker', { kind: 'record', re: /"t":"intent".*"kind":"server","name":"demo-node-1","details":\{"remove":true/ }],
];

function explain(x: KillResult): string {
  return [`seed ${x.seed}, ${x.scenario} killed ${describePoint(x.point)}, follow-up: ${x.followUp.join('; ')}`, ...x.violations, ...x.orphans.map((o) => `orphan: ${o}`), ...x.duplicates.map((d) => `duplicate: ${d}`)].join('\n  ');
}

describe('chaos: kill -9 then the follow-up converges (bounded; npm run test:chaos for the full sweep)', function () {
  this.timeout(90_000);
  const all = scenarios(prng(SEED));
  CASES.forEach(([name, point], i) => {
    it(`${name} killed ${describePoint(point)}: 0 orphans, 0 duplicates, quorum kept, counts right`, async () => {
      const x = await oneKill(SEED * 1000 + i, all.find((s) => s.name === name)!, point);
      assert.ok(x.killed, `the command finished before the kill point (${x.journalLines} journal lines): the case no longer tests anything`);
      assert.ok(x.converged, explain(x));
      assert.deepEqual([x.orphans, x.duplicates, x.violations], [[], [], []]);
    });
  });
});
