import assert from 'node:assert/strict';
import { BatchWaiter, Semaphore, TimeoutError, mapLimit } from '../../lib/ops/poll.js';
import { InterruptedError } from '../../lib/errors.js';
import type { Clock } from '../../lib/clock.js';

/** a clock whose sleep advances virtual time immediately */
function fakeClock(): Clock & { t: number } {
  const c = {
    t: 0,
    now: () => c.t,
    sleep: async (ms: number, signal?: AbortSignal) => {
      if (signal?.aborted) throw new Error('aborted');
      c.t += ms;
      await new Promise((r) => setImmediate(r));
      if (signal?.aborted) throw new Error('aborted');
    },
  };
  return c;
}

describe('ops/poll BatchWaiter', () => {
  it('covers every pending key with ONE fetch per tick', async () => {
    const clock = fakeClock();
    const readyAt: Record<string, number> = { a: 3, b: 5, c: 1 };
    let tick = 0;
    const calls: string[][] = [];
    const w = new BatchWaiter<number>({
      what: 'x', clock, intervalMs: 10, jitter: 0,
      fetch: async (keys) => {
        tick++;
        calls.push([...keys]);
        return new Map(keys.map((k) => [k, tick]));
      },
      check: (k, v) => (v !== undefined && v >= readyAt[k] ? { state: 'done', value: v } : { state: 'pending' }),
    });
    const res = await Promise.all(['a', 'b', 'c'].map((k) => w.wait(k, 10_000)));
    assert.deepEqual(res, [3, 5, 1]);
    assert.equal(w.ticks, 5);
    assert.equal(calls.length, 5, 'one fetch per tick for all keys');
    assert.deepEqual(calls[0].sort(), ['a', 'b', 'c']);
    assert.deepEqual(calls[4], ['b']);
  });
  it('backs off up to the maximum interval', async () => {
    const clock = fakeClock();
    const stamps: number[] = [];
    const w = new BatchWaiter<number>({
      what: 'x', clock, intervalMs: 100, maxIntervalMs: 300, factor: 2, jitter: 0,
      fetch: async (keys) => { stamps.push(clock.t); return new Map(keys.map((k) => [k, stamps.length])); },
      check: (_k, v) => (v! >= 5 ? { state: 'done', value: v! } : { state: 'pending' }),
    });
    await w.wait('a', 100_000);
    const gaps = stamps.map((t, i) => t - (stamps[i - 1] ?? 0));
    assert.deepEqual(gaps, [100, 200, 300, 300, 300]);
  });
  it('adaptive: an early first check, the short interval while the item moves, backoff only while nothing changes', async () => {
    const clock = fakeClock();
    const stamps: number[] = [];
    // BUILD/scheduling until 250, BUILD/spawning until 1000, then still spawning until 4000, then ACTIVE
    const state = (t: number) => (t < 250 ? 'scheduling' : t < 4000 ? 'spawning' : 'ACTIVE');
    const w = new BatchWaiter<string>({
      what: 'x', clock, intervalMs: 200, firstIntervalMs: 100, maxIntervalMs: 2000, factor: 2, jitter: 0,
      progressOf: (v) => v,
      fetch: async (keys) => { stamps.push(clock.t); return new Map(keys.map((k) => [k, state(clock.t)])); },
      check: (_k, v) => (v === 'ACTIVE' ? { state: 'done', value: v } : { state: 'pending' }),
    });
    await w.wait('a', 100_000);
    // 100 (first), 300 (moved: scheduling -> spawning, so next is 200 later), then nothing moves: 400, 800, 1600 apart
    assert.deepEqual(stamps, [100, 300, 500, 900, 1700, 3300, 5300]);
  });
  it('adaptive: a new key brings the early first check back', async () => {
    const clock = fakeClock();
    const stamps: number[] = [];
    const w = new BatchWaiter<number>({
      what: 'x', clock, intervalMs: 200, firstIntervalMs: 50, factor: 2, jitter: 0,
      fetch: async (keys) => { stamps.push(clock.t); return new Map(keys.map((k) => [k, clock.t])); },
      check: (_k, v) => (v !== undefined && v >= 50 ? { state: 'done', value: v } : { state: 'pending' }),
    });
    await w.wait('a', 10_000);
    await w.wait('b', 10_000);
    assert.deepEqual(stamps, [50, 100]);
  });
  it('times out per key with a clear message, failed verdicts reject', async () => {
    const clock = fakeClock();
    const w = new BatchWaiter<string>({
      what: 'server ACTIVE', clock, intervalMs: 1000, jitter: 0,
      fetch: async (keys) => new Map(keys.map((k) => [k, k === 'bad' ? 'ERROR' : 'BUILD'])),
      check: (_k, v) => (v === 'ERROR' ? { state: 'failed', error: new Error('went to ERROR') } : { state: 'pending' }),
    });
    const slow = w.wait('slow', 2500);
    const bad = w.wait('bad', 60_000);
    await assert.rejects(bad, /went to ERROR/);
    await assert.rejects(slow, (e: unknown) => e instanceof TimeoutError && /timed out after 3s waiting for slow: server ACTIVE/.test((e as Error).message));
  });
  it('keeps going through fetch errors, rejects everything on abort', async () => {
    const clock = fakeClock();
    const ac = new AbortController();
    let n = 0;
    const errors: unknown[] = [];
    const w = new BatchWaiter<number>({
      what: 'x', clock, intervalMs: 10, jitter: 0, signal: ac.signal,
      fetch: async () => {
        n++;
        if (n === 1) throw new Error('503');
        if (n === 3) ac.abort();
        return new Map();
      },
      check: () => ({ state: 'pending' }),
      onFetchError: (e) => { errors.push(e); },
    });
    await assert.rejects(w.wait('a', 1e9), (e: unknown) => e instanceof InterruptedError);
    assert.equal(errors.length, 1);
  });
});

describe('ops/poll mapLimit', () => {
  it('never runs more than the limit at once and keeps order', async () => {
    let running = 0;
    let peak = 0;
    const res = await mapLimit([5, 1, 4, 2, 3], 2, async (x) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, x));
      running--;
      if (x === 4) throw new Error('four');
      return x * 10;
    });
    assert.equal(peak, 2);
    assert.deepEqual(res.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message)), [50, 10, 'four', 20, 30]);
  });
});

describe('ops/poll Semaphore', () => {
  it('caps holders at the limit, serves waiters in order, and frees the slot on a throw', async () => {
    const sem = new Semaphore(2);
    let active = 0;
    let peak = 0;
    const order: number[] = [];
    const task = (i: number) => sem.use(async () => {
      active++;
      peak = Math.max(peak, active);
      await new Promise((r) => setTimeout(r, 5));
      order.push(i);
      active--;
      if (i === 1) throw new Error('boom');
      return i;
    });
    const r = await Promise.allSettled([0, 1, 2, 3, 4].map(task));
    assert.equal(peak, 2);
    assert.equal(r[1]!.status, 'rejected');
    assert.deepEqual(order.slice(2).sort(), [2, 3, 4]);
    assert.equal(await sem.use(async () => 'free'), 'free', 'no slot leaked');
  });
});
