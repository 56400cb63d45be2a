/**
 * Batched waiting: every pending item of one kind is covered by ONE list call per tick
 * (design.md section 3), with backoff and jitter, per-item deadlines, and abort on Ctrl-C.
 */
import type { Clock } from '../clock.js';
import { InterruptedError } from '../errors.js';
import { Backoff, TimeoutError, type Verdict } from '../poll.js';

export { TimeoutError, pollUntil, type Verdict } from '../poll.js';

export interface BatchWaiterOptions<T, K extends string = string> {
  /** one call that returns the current state of every pending key */
  fetch: (keys: K[]) => Promise<Map<K, T>>;
  /** decide for one key; item undefined when the list did not contain it */
  check: (key: K, item: T | undefined) => Verdict<T>;
  clock: Clock;
  signal?: AbortSignal;
  /** first interval; grows by `factor` up to `maxIntervalMs` */
  intervalMs: number;
  maxIntervalMs?: number;
  factor?: number;
  /** +- fraction of jitter (0.2 = 20 %) */
  jitter?: number;
  /** random source, for deterministic tests */
  random?: () => number;
  /** called on each observation with a note, for progress lines */
  onObserve?: (key: K, item: T | undefined, verdict: Verdict<T>) => void;
  /** called when fetch throws; the waiter keeps going unless it returns false */
  onFetchError?: (err: unknown) => boolean | void;
  /** called once per tick (e.g. to extend a token) */
  onTick?: () => Promise<void> | void;
  /** what is being waited for, for timeout messages ("server ACTIVE") */
  what: string;
  /**
   * Adaptive cadence. firstIntervalMs: the first check after a new key (default intervalMs), e.g. shortly
   * after a create that often finishes within a second.
   */
  firstIntervalMs?: number;
  /**
   * progress of one item (its status): when any pending item's progress changes from one tick to the next,
   * the next check comes after intervalMs; the cadence backs off (factor, up to maxIntervalMs) only while
   * nothing changes.
   */
  progressOf?: (item: T) => string;
}

interface Pending<T> {
  resolve: (v: T) => void;
  reject: (e: Error) => void;
  deadline: number;
  timeoutMs: number;
}

export class BatchWaiter<T, K extends string = string> {
  private pending = new Map<K, Pending<T>>();
  private running = false;
  private readonly backoff: Backoff;
  /** number of fetch calls made (for benchmarks: one per tick) */
  ticks = 0;

  constructor(private readonly o: BatchWaiterOptions<T, K>) {
    this.backoff = new Backoff(o);
  }

  get size(): number {
    return this.pending.size;
  }

  wait(key: K, timeoutMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.o.signal?.aborted) return reject(new InterruptedError());
      this.pending.set(key, { resolve, reject, deadline: this.o.clock.now() + timeoutMs, timeoutMs });
      // a new key resets the cadence so it is seen promptly
      this.backoff.reset();
      if (!this.running) void this.loop();
    });
  }

  /** last progress key per pending key (adaptive cadence) */
  private progress = new Map<K, string>();

  /** stop waiting for a key (e.g. the node was given up) */
  forget(key: K, err?: Error): void {
    const p = this.pending.get(key);
    if (!p) return;
    this.pending.delete(key);
    if (err) p.reject(err);
  }


  private rejectAll(e: Error) {
    for (const [k, p] of this.pending) {
      this.pending.delete(k);
      p.reject(e);
    }
  }

  private async loop(): Promise<void> {
    this.running = true;
    try {
      while (this.pending.size > 0) {
        try {
          await this.o.clock.sleep(this.backoff.next(), this.o.signal);
        } catch {
          this.rejectAll(new InterruptedError());
          return;
        }
        if (this.pending.size === 0) break;
        if (this.o.onTick) {
          try {
            await this.o.onTick();
          } catch (e) {
            this.o.onFetchError?.(e);
          }
        }
        const keys = [...this.pending.keys()];
        let items: Map<K, T>;
        try {
          this.ticks++;
          items = await this.o.fetch(keys);
        } catch (e) {
          if (this.o.signal?.aborted) {
            this.rejectAll(new InterruptedError());
            return;
          }
          const keepGoing = this.o.onFetchError?.(e);
          if (keepGoing === false) {
            this.rejectAll(e instanceof Error ? e : new Error(String(e)));
            return;
          }
          this.expire();
          continue;
        }
        let moving = false;
        for (const key of keys) {
          const item = items.get(key);
          if (item === undefined || !this.pending.has(key)) continue;
          if (this.o.progressOf) {
            const pk = this.o.progressOf(item);
            if (this.progress.has(key) && this.progress.get(key) !== pk) moving = true;
            this.progress.set(key, pk);
          }
        }
        // something moved: look again soon instead of backing off
        if (moving) this.backoff.hurry();
        for (const key of keys) {
          const p = this.pending.get(key);
          if (!p) continue;
          const item = items.get(key);
          const v = this.o.check(key, item);
          this.o.onObserve?.(key, item, v);
          if (v.state === 'done') {
            this.pending.delete(key);
            this.progress.delete(key);
            p.resolve(v.value);
          } else if (v.state === 'failed') {
            this.pending.delete(key);
            this.progress.delete(key);
            p.reject(v.error);
          }
        }
        this.expire();
      }
    } finally {
      this.running = false;
    }
  }

  private expire() {
    const now = this.o.clock.now();
    for (const [k, p] of this.pending) {
      if (now >= p.deadline) {
        this.pending.delete(k);
        p.reject(new TimeoutError(this.o.what, k, p.timeoutMs));
      }
    }
  }
}

/** Run tasks with at most `limit` at once, in order of the array; results in the same order. */
export async function mapLimit<A, R>(items: A[], limit: number, fn: (a: A, i: number) => Promise<R>): Promise<PromiseSettledResult<R>[]> {
  const out: PromiseSettledResult<R>[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) {
      const i = next++;
      try {
        out[i] = { status: 'fulfilled', value: await fn(items[i], i) };
      } catch (e) {
        out[i] = { status: 'rejected', reason: e };
      }
    }
  });
  await Promise.all(workers);
  return out;
}

/** At most `limit` holders at once; waiters are served in order. */
export class Semaphore {
  private active = 0;
  private readonly queue: (() => void)[] = [];
  constructor(private readonly limit: number) {}

  async use<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((r) => this.queue.push(r));
    else this.active++;
    try {
      return await fn();
    } finally {
      const next = this.queue.shift();
      if (next) next();
      else this.active--;
    }
  }
}
