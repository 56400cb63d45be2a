/** Durations on the command line (the parser lives in lib/duration.ts, below every layer). */
export { durationSeconds, parseDurationMs } from '../duration.js';
