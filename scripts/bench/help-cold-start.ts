/** `kadd --help` cold start (compiled) vs `node -e 0`: helpColdStartRatio. Goal: <= 2.5. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Benchmark } from './types.js';
import { median, timeInterleaved } from './util.js';

export const helpColdStart: Benchmark = {
  name: 'help-cold-start',
  describe: '`node bin/kadd.js --help` (compiled) vs `node -e 0`, interleaved, median wall time',
  async run({ root, runs, log }) {
    if (!existsSync(join(root, 'dist', 'lib', 'cli', 'main.js'))) throw new Error('dist/ is missing: run npm run build first');
    const env = { ...process.env };
    delete env.KADD_DEV;
    delete env.NODE_OPTIONS; // tsx must not be preloaded into the measured process
    const node = process.execPath;
    const t = timeInterleaved(
      [
        { name: 'node', argv: [node, '-e', '0'], cwd: root, env },
        { name: 'help', argv: [node, join(root, 'bin', 'kadd.js'), '--help'], cwd: root, env },
      ],
      runs,
    );
    const nodeMs = median(t.node!);
    const helpMs = median(t.help!);
    log(`node -e 0: median ${nodeMs.toFixed(0)} ms; kadd --help: median ${helpMs.toFixed(0)} ms (${runs} runs each)`);
    return { helpColdStartRatio: Number((helpMs / nodeMs).toFixed(2)), helpColdStartMs: Math.round(helpMs), nodeColdStartMs: Math.round(nodeMs) };
  },
};
