/**
 * Durations on the command line: `90s`, `5m`, `1h`, `1h30m`, `250ms`, or plain seconds (`90`, `1.5`).
 * Dependency-free: option builders of every command use it (yargs `coerce`).
 */
import { UsageError } from '../errors.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds, or undefined when `text` is not a duration. */
export function parseDurationMs(text: string): number | undefined {
  const s = text.trim().toLowerCase();
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 1000);
  if (!/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(s)) return undefined;
  let total = 0;
  for (const m of s.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) total += Number(m[1]) * UNIT_MS[m[2]!]!;
  return Math.round(total);
}

/**
 * A yargs `coerce` for a duration option whose value is used in seconds (the unit kadd's options always
 * had): `--timeout 20m` -> 1200. Refuses what is not a positive duration, echoing what was typed.
 */
export function durationSeconds(flag: string, opts: { min?: number } = {}) {
  return (v: unknown): number | undefined => {
    if (v === undefined) return undefined;
    const raw = Array.isArray(v) ? v[v.length - 1] : v;
    const ms = typeof raw === 'number' ? raw * 1000 : parseDurationMs(String(raw));
    if (ms === undefined || !Number.isFinite(ms) || ms <= 0 || ms / 1000 < (opts.min ?? 0)) {
      throw new UsageError(`--${flag} must be a positive duration, got ${JSON.stringify(String(raw))}`, {
        hint: `write seconds or a unit: --${flag} 90, --${flag} 90s, --${flag} 5m, --${flag} 1h`,
      });
    }
    return ms / 1000;
  };
}
