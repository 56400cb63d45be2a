/**
 * Defaults that main(argv, deps) installs for the commands it runs, so an in-process caller (tests, the
 * demo, benchmarks) can hand in streams, env, cwd and a clock without touching process globals.
 * Dependency-free on purpose: main.ts imports it for every invocation, --help included.
 */
import type { Clock } from '../clock.js';

export interface ContextDefaults {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  clock?: Clock;
  stdout?: { write(s: string): unknown; isTTY?: boolean };
  stderr?: { write(s: string): unknown; isTTY?: boolean };
}

let current: ContextDefaults = {};

export function contextDefaults(): ContextDefaults {
  return current;
}

/** Install defaults; returns a function that restores the previous ones. */
export function setContextDefaults(d: ContextDefaults): () => void {
  const prev = current;
  current = d;
  return () => {
    current = prev;
  };
}
