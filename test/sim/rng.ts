/** Seeded, deterministic randomness for the simulator. Never use Math.random in sim logic. */
import type { LatencySpec, SimRng } from './contract.js';

/** mulberry32: tiny, fast, good enough for simulation. Returns a function yielding [0,1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class SeededRng implements SimRng {
  private readonly gen: () => number;
  constructor(seed: number) {
    this.gen = mulberry32(seed);
  }
  next(): number {
    return this.gen();
  }
  /** integer in [0, n) */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  latency(spec: LatencySpec | undefined): number {
    return sampleLatency(spec, () => this.next());
  }
  hex(chars: number): string {
    let s = '';
    while (s.length < chars) s += Math.floor(this.next() * 0x100000000).toString(16).padStart(8, '0');
    return s.slice(0, chars);
  }
  /** RFC 4122 version-4 shaped UUID drawn from this generator */
  uuid(): string {
    const h = this.hex(32).split('');
    h[12] = '4';
    h[16] = '89ab'[parseInt(h[16]!, 16) & 3]!;
    const s = h.join('');
    return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
  }
}

export function sampleLatency(spec: LatencySpec | undefined, next: () => number): number {
  if (spec === undefined || spec === null) return 0;
  if (typeof spec === 'number') return Math.max(0, spec);
  if ('fixed' in spec) return Math.max(0, spec.fixed);
  if ('uniform' in spec) {
    const [lo, hi] = spec.uniform;
    return Math.max(0, lo + (hi - lo) * next());
  }
  if ('normal' in spec) {
    // Box-Muller; always draws two numbers so the stream stays aligned
    const u1 = Math.max(next(), 1e-12);
    const u2 = next();
    const z = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    const v = spec.normal.mean + z * spec.normal.stddev;
    return Math.max(spec.normal.min ?? 0, v);
  }
  return 0;
}
