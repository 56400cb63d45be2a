/** Kubernetes resource quantities (pure): "100m", "0.5", "2" CPUs; "128Mi", "1G", "1e3" bytes. */
const BIN: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DEC: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };

/** The quantity as a plain number (base units); NaN when it is not a quantity. */
export function parseQuantity(q: string | number | undefined | null): number {
  if (q === undefined || q === null || q === '') return 0;
  if (typeof q === 'number') return q;
  const m = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E))?$/.exec(q.trim());
  if (!m) return NaN;
  const n = Number(m[1]);
  if (m[2]) return n * 10 ** Number(m[2].slice(1));
  const suf = m[3] ?? '';
  return n * (BIN[suf] ?? DEC[suf] ?? 1);
}

/** CPU quantity -> millicores (rounded up, as the scheduler does) */
export function cpuMilli(q: string | number | undefined | null): number {
  const v = parseQuantity(q);
  return Number.isFinite(v) ? Math.ceil(v * 1000 - 1e-9) : 0;
}

/** memory quantity -> bytes */
export function memoryBytes(q: string | number | undefined | null): number {
  const v = parseQuantity(q);
  return Number.isFinite(v) ? Math.ceil(v) : 0;
}

export function formatCpu(milli: number): string {
  return milli % 1000 === 0 ? String(milli / 1000) : `${milli}m`;
}

export function formatMemory(bytes: number): string {
  for (const [s, f] of [['Gi', 2 ** 30], ['Mi', 2 ** 20], ['Ki', 2 ** 10]] as const) if (bytes >= f) return `${Math.round((bytes / f) * 10) / 10}${s}`;
  return String(bytes);
}
