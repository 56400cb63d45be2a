/** Helpers for benchmarks: interleaved runs of child processes, medians. */
import { spawnSync } from 'node:child_process';

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export interface Cmd {
  name: string;
  argv: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

/** Run each command `runs` times, round-robin (so load changes hit all alike); wall ms per run. */
export function timeInterleaved(cmds: Cmd[], runs: number): Record<string, number[]> {
  const out: Record<string, number[]> = Object.fromEntries(cmds.map((c) => [c.name, []]));
  for (let i = 0; i < runs; i++) {
    for (const c of cmds) {
      const t0 = process.hrtime.bigint();
      const r = spawnSync(c.argv[0]!, c.argv.slice(1), { cwd: c.cwd, env: c.env, stdio: ['ignore', 'pipe', 'pipe'] });
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (r.status !== 0) throw new Error(`${c.name} exited ${r.status}: ${r.stderr.toString().slice(0, 500)}`);
      out[c.name]!.push(ms);
    }
  }
  return out;
}
