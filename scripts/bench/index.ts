/**
 * Benchmark registry. Each benchmark returns named figures (ratios preferred: absolute times vary
 * with the machine). To add one: write scripts/bench/<name>.ts exporting a Benchmark and add it to
 * the list below; its figures appear in `npm run bench -- --json` next to the others.
 */
import { helpColdStart } from './help-cold-start.js';
import { addWorkers } from './add-workers.js';
import { removeWorkers } from './remove-workers.js';
import { replaceRoll } from './replace.js';

export interface BenchContext {
  /** repository root */
  root: string;
  /** runs per measured command */
  runs: number;
  /** progress and notes (stderr) */
  log(msg: string): void;
  /** --quick (CI): smaller/faster settings, same figures */
  quick?: boolean;
}

export interface Benchmark {
  name: string;
  describe: string;
  run(ctx: BenchContext): Promise<Record<string, number>>;
}

export const benchmarks: Benchmark[] = [helpColdStart, addWorkers, removeWorkers, replaceRoll];
