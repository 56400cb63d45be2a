/**
 * npm run bench [-- --json] [--runs N] [--only name[,name]] [--no-build] [--quick]
 *
 * Builds (tsc -p tsconfig.build.json) unless --no-build, runs the registered benchmarks
 * (scripts/bench/index.ts) and prints their figures; with --json, one JSON object on stdout.
 * --quick (CI): fewer runs and faster simulated time, same figures.
 * Exit 1 if a goal is missed (see GOALS).
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchmarks } from './bench/index.js';

const GOALS: Record<string, number> = { helpColdStartRatio: 2.5, scale50Ratio: 1.15, requestsPerWorker: 6, pollRequestsPerTick: 1, removeScale10Ratio: 1.2, removePollRequestsPerTick: 1, rollingReplace20Ratio: 4.5, rollingMaxExtraServers: 5 };

const args = process.argv.slice(2);
const json = args.includes('--json');
const runsArg = args.indexOf('--runs');
const quick = args.includes('--quick');
const runs = runsArg >= 0 ? Number(args[runsArg + 1]) : quick ? 5 : 11;
const onlyArg = args.indexOf('--only');
const only = onlyArg >= 0 ? String(args[onlyArg + 1]).split(',') : undefined;
if (!Number.isInteger(runs) || runs < 1) {
  process.stderr.write('error: --runs needs a whole number >= 1\n');
  process.exit(2);
}
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const log = (m: string) => process.stderr.write(`${m}\n`);

if (!args.includes('--no-build')) {
  log('building (tsc -p tsconfig.build.json)...');
  const tsc = join(root, 'node_modules', '.bin', 'tsc');
  const r = spawnSync(tsc, ['-p', 'tsconfig.build.json'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) log('warning: the build reported errors; measuring whatever dist/ holds');
}

const figures: Record<string, number> = {};
let failed = false;
for (const b of benchmarks) {
  if (only && !only.includes(b.name)) continue;
  log(`bench ${b.name}: ${b.describe}`);
  try {
    Object.assign(figures, await b.run({ root, runs, log, quick }));
  } catch (e) {
    log(`error: bench ${b.name} failed: ${(e as Error).message}`);
    failed = true;
  }
}
const missed = Object.entries(GOALS).filter(([k, max]) => figures[k] !== undefined && figures[k]! > max);
if (json) process.stdout.write(JSON.stringify(figures) + '\n');
else {
  for (const [k, v] of Object.entries(figures)) process.stdout.write(`${k}: ${v}${GOALS[k] !== undefined ? ` (goal <= ${GOALS[k]})` : ''}\n`);
}
for (const [k, max] of missed) log(`goal missed: ${k} = ${figures[k]} > ${max}`);
process.exitCode = failed || missed.length ? 1 : 0;
