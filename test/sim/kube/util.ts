/** Small helpers for the Kubernetes half of the simulator. Nothing here imports from lib/. */
import type { SimCore } from '../contract.js';

export type Obj = Record<string, any>;

/** A uint64 printed as a bare JSON number (etcdctl -w json style). */
export class U64 {
  constructor(readonly v: bigint) {}
}

/** JSON.stringify that prints U64 values as bare numbers, like Go's encoding/json does for uint64. */
export function goJson(v: unknown): string {
  if (v instanceof U64) return v.v.toString(10);
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'bigint') return v.toString(10);
  if (Array.isArray(v)) return '[' + v.map(goJson).join(',') + ']';
  if (typeof v === 'object') {
    const parts: string[] = [];
    for (const [k, x] of Object.entries(v as Obj)) {
      if (x === undefined) continue;
      parts.push(JSON.stringify(k) + ':' + goJson(x));
    }
    return '{' + parts.join(',') + '}';
  }
  return JSON.stringify(v);
}

export function hex(id: bigint): string {
  return id.toString(16);
}

/** Go's %16x: hex padded with spaces to width 16 */
export function hex16(id: bigint): string {
  return id.toString(16).padStart(16, ' ');
}

export function randU64(core: SimCore): bigint {
  const hi = BigInt(Math.floor(core.rng.next() * 2 ** 32));
  const lo = BigInt(Math.floor(core.rng.next() * 2 ** 32));
  const v = (hi << 32n) | lo;
  return v === 0n ? 1n : v;
}

export function randHex(core: SimCore, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += Math.floor(core.rng.next() * 16).toString(16);
  return s;
}

const ALNUM = 'bcdfghjklmnpqrstvwxz2456789';
/** Kubernetes' rand.String alphabet (no vowels, no 0/1/3) */
export function randSuffix(core: SimCore, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += ALNUM[Math.floor(core.rng.next() * ALNUM.length)];
  return s;
}

export function uuid(core: SimCore): string {
  const h = randHex(core, 32).split('');
  h[12] = '4';
  h[16] = '89ab'[parseInt(h[16]!, 16) & 3]!;
  const s = h.join('');
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
}

/** RFC 3339 without fractional seconds, as Kubernetes prints metav1.Time */
export function k8sTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

export function clone<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}

/** Parse a Kubernetes label selector (equality and set-based subset). */
export function parseLabelSelector(sel: string): ((labels: Record<string, string>) => boolean) | { error: string } {
  const reqs: ((l: Record<string, string>) => boolean)[] = [];
  // split on commas not inside parentheses
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of sel) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur.trim()) parts.push(cur);
  for (const raw of parts) {
    const p = raw.trim();
    if (!p) continue;
    let m: RegExpMatchArray | null;
    if ((m = p.match(/^([\w./-]+)\s*(notin|in)\s*\(([^)]*)\)$/))) {
      const [, k, op, vals] = m;
      const set = new Set(vals!.split(',').map((s) => s.trim()).filter(Boolean));
      reqs.push(op === 'in' ? (l) => k! in l && set.has(l[k!]!) : (l) => !(k! in l) || !set.has(l[k!]!));
    } else if ((m = p.match(/^([\w./-]+)\s*(==|=|!=)\s*([\w.-]*)$/))) {
      const [, k, op, v] = m;
      reqs.push(op === '!=' ? (l) => l[k!] !== v : (l) => k! in l && l[k!] === v);
    } else if ((m = p.match(/^!([\w./-]+)$/))) {
      const k = m[1]!;
      reqs.push((l) => !(k in l));
    } else if ((m = p.match(/^([\w./-]+)$/))) {
      const k = m[1]!;
      reqs.push((l) => k in l);
    } else {
      return { error: `unable to parse requirement: ${p}` };
    }
  }
  return (labels) => reqs.every((r) => r(labels ?? {}));
}

/** Parse a field selector: a=b, a==b, a!=b, comma separated. */
export function parseFieldSelector(sel: string): { field: string; op: '=' | '!='; value: string }[] | { error: string } {
  const out: { field: string; op: '=' | '!='; value: string }[] = [];
  for (const raw of sel.split(',')) {
    const p = raw.trim();
    if (!p) continue;
    const m = p.match(/^([\w.]+)\s*(==|=|!=)\s*(.*)$/);
    if (!m) return { error: `invalid selector: '${sel}'; can't understand '${p}'` };
    out.push({ field: m[1]!, op: m[2] === '!=' ? '!=' : '=', value: m[3]! });
  }
  return out;
}

export function getPath(o: Obj, path: string): unknown {
  let cur: any = o;
  for (const k of path.split('.')) {
    if (cur == null) return undefined;
    cur = cur[k];
  }
  return cur;
}
