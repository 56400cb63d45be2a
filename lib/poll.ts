/**
 * The one poller (design.md section 5): every wait in kadd is a probe per tick, with backoff and jitter,
 * a deadline and Ctrl-C. `pollUntil` runs one probe (one batched list call, or one GET) per tick;
 * lib/ops/poll.ts BatchWaiter multiplexes many keys onto one such loop. Kernel level on purpose: clients
 * (lib/kube adder pods) and ops wait the same way.
 */
import type { Clock } from './clock.js';
import { InterruptedError, KaddError } from './errors.js';

export type Verdict<T> = { state: 'done'; value: T } | { state: 'pending'; note?: string } | { state: 'failed'; error: Error };

export interface BackoffOptions {
  /** first interval; grows by `factor` up to `maxIntervalMs` (default 5 x the first) */
  intervalMs: number;
  maxIntervalMs?: number;
  /** default 1.5 */
  factor?: number;
  /** +- fraction of jitter (0.2 = 20 %, the default) */
  jitter?: number;
  /** random source, for deterministic tests */
  random?: () => number;
  /** the first delay after a reset (a check soon after a create), default intervalMs; the growth then starts from intervalMs */
  firstIntervalMs?: number;
}

/** Exponential backoff with jitter: the delays a poller sleeps between ticks. */
export class Backoff {
  private interval: number;
  constructor(private readonly o: BackoffOptions) {
    this.interval = o.firstIntervalMs ?? o.intervalMs;
  }
  /** the next delay (jittered), then grow the interval */
  next(): number {
    const j = this.o.jitter ?? 0.2;
    const d = this.interval * (1 - j + 2 * j * (this.o.random ?? Math.random)());
    const f = this.o.factor ?? 1.5;
    // a short first delay does not shrink the cadence after it: growth starts from intervalMs
    this.interval = Math.min(this.o.maxIntervalMs ?? this.o.intervalMs * 5, Math.max(this.interval, this.o.intervalMs / f) * f);
    return Math.max(1, Math.round(d));
  }
  /** back to the first interval (something new to watch) */
  reset(): void {
    this.interval = this.o.firstIntervalMs ?? this.o.intervalMs;
  }
  /** something moved: the next delay is at most intervalMs (no backoff while things change) */
  hurry(): void {
    this.interval = Math.min(this.interval, this.o.intervalMs);
  }
}

export class TimeoutError extends KaddError {
  constructor(what: string, key: string, ms: number) {
    super('E_TIMEOUT', `timed out after ${Math.round(ms / 1000)}s waiting for ${key}: ${what}`, 1);
  }
}

export interface PollOptions<T> extends BackoffOptions {
  clock: Clock;
  /** stops the wait with an InterruptedError */
  signal?: AbortSignal;
  /** what is waited for ("server ACTIVE"), for the timeout message */
  what: string;
  /** the subject, for the timeout message (default: what) */
  key?: string;
  timeoutMs: number;
  /** one probe per tick */
  probe: () => Promise<Verdict<T>>;
  /** probe at once, before the first sleep (default: sleep first) */
  immediate?: boolean;
  /** a pending verdict's note, for progress lines */
  onNote?: (note: string) => void;
  /** a probe that threw: keep polling unless this returns false (default: rethrow) */
  onError?: (e: unknown) => boolean | void;
  /** build the error at the deadline (default TimeoutError) */
  onTimeout?: () => Error;
}

/** Poll `probe` until it says done (its value) or failed (its error), the deadline passes, or the signal. */
export async function pollUntil<T>(o: PollOptions<T>): Promise<T> {
  const backoff = new Backoff(o);
  const deadline = o.clock.now() + o.timeoutMs;
  for (let first = true; ; first = false) {
    if (o.signal?.aborted) throw new InterruptedError();
    if (!(first && o.immediate)) {
      try {
        await o.clock.sleep(backoff.next(), o.signal);
      } catch {
        throw new InterruptedError();
      }
    }
    let v: Verdict<T>;
    try {
      v = await o.probe();
    } catch (e) {
      if (o.signal?.aborted) throw new InterruptedError();
      if (!o.onError || o.onError(e) === false) throw e;
      v = { state: 'pending' };
    }
    if (v.state === 'done') return v.value;
    if (v.state === 'failed') throw v.error;
    if (v.note) o.onNote?.(v.note);
    if (o.clock.now() >= deadline) throw o.onTimeout?.() ?? new TimeoutError(o.what, o.key ?? o.what, o.timeoutMs);
  }
}
