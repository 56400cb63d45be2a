/**
 * npm run test:chaos -- [--runs N] [--seed S] [--quick] [--only add-workers,add-master,...] [--fail-fast]
 *
 * Kills kadd (add workers, add master 1 -> 2 or 2 -> 3, remove worker/master, replace worker) with SIGKILL at
 * every journaled step boundary (with --quick: two seeded ones per command) and at N seeded random moments,
 * runs the follow-up and checks the simulator (test/chaos/harness.ts). Prints one line per kill, then
 * `kills N, converged N, orphans N, duplicates N`; exits 1 on any violation (each FAIL line names the seed
 * and the kill point), 2 on bad arguments.
 */
import { describePoint, runChaos, summaryLine, type ScenarioName } from './harness.js';

const NAMES: ScenarioName[] = ['add-workers', 'add-master', 'remove-worker', 'remove-master', 'replace-worker'];

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0) return process.argv[i + 1];
  return process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}

function usage(msg: string): never {
  process.stderr.write(`chaos: ${msg}\nusage: npm run test:chaos -- [--runs N] [--seed S] [--quick] [--only ${NAMES.join(',')}] [--fail-fast]\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  if (process.argv.includes('--help') || process.argv.includes('-h')) usage('help');
  const quick = process.argv.includes('--quick');
  const seed = arg('seed') === undefined ? Math.floor(Math.random() * 1e6) : Number(arg('seed'));
  const runs = arg('runs') === undefined ? (quick ? 5 : 20) : Number(arg('runs'));
  if (!Number.isInteger(seed) || seed < 0) usage(`--seed must be a non-negative integer, got ${arg('seed')}`);
  if (!Number.isInteger(runs) || runs < 0) usage(`--runs must be a non-negative integer, got ${arg('runs')}`);
  const only = arg('only')?.split(',') as ScenarioName[] | undefined;
  for (const o of only ?? []) if (!NAMES.includes(o)) usage(`--only: unknown command ${o} (one of ${NAMES.join(', ')})`);
  const t0 = Date.now();
  process.stdout.write(`chaos: seed ${seed}, ${quick ? 'quick (2 step boundaries per command)' : 'every step boundary'}, ${runs} random kills${only ? `, only ${only.join(',')}` : ''}\n`);
  const s = await runChaos({ seed, runs, quick, ...(only ? { only } : {}), failFast: process.argv.includes('--fail-fast'), log: (l) => process.stdout.write(l + '\n') });
  process.stdout.write(`chaos: seed ${seed}, ${Math.round((Date.now() - t0) / 1000)} s\n`);
  if (s.failures.length) {
    process.stdout.write(`${s.failures.length} kill(s) did not converge:\n`);
    for (const f of s.failures) process.stdout.write(`  seed ${seed} (kill seed ${f.seed}) ${f.scenario} killed ${describePoint(f.point)}\n`);
  }
  process.stdout.write(summaryLine(s) + '\n');
  process.exit(s.failures.length || s.kills === 0 ? 1 : 0);
}

void main().catch((e) => {
  process.stderr.write(`chaos: ${e instanceof Error ? e.stack : e}\n`);
  process.exit(1);
});
