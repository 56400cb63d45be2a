/** What a benchmark is and gets (its own file: the registry, index.ts, imports every benchmark). */

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
