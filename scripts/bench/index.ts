/**
 * Benchmark registry. Each benchmark returns named figures (ratios preferred: absolute times vary
 * with the machine). To add one: write scripts/bench/<name>.ts exporting a Benchmark and add it to
 * the list below; its figures appear in `npm run bench -- --json` next to the others.
 */
import { helpColdStart } from './help-cold-start.js';
import { addWorkers } from './add-workers.js';
import { removeWorkers } from './remove-workers.js';
import type { Benchmark } from './types.js';
import { replaceRoll } from './replace.js';

export type { BenchContext, Benchmark } from './types.js';

export const benchmarks: Benchmark[] = [helpColdStart, addWorkers, removeWorkers, replaceRoll];
