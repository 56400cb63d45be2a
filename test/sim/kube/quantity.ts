/** Kubernetes resource quantities ("100m", "2", "128Mi", "1G", "8035312Ki") as numbers: cpu in millicores, the rest in units. */

const BIN: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DEC: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };

/** the value of a quantity in base units (cores for cpu, bytes for memory); NaN when malformed */
export function parseQuantity(q: unknown): number {
  if (typeof q === 'number') return q;
  if (typeof q !== 'string') return NaN;
  const m = q.trim().match(/^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(?:[eE]([+-]?\d+))?(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$/);
  if (!m) return NaN;
  const n = Number(m[1]) * (m[2] ? 10 ** Number(m[2]) : 1);
  const suf = m[3] ?? '';
  return n * (BIN[suf] ?? DEC[suf] ?? NaN);
}

/** cpu quantity in millicores, rounded up as the scheduler does */
export function milliCpu(q: unknown): number {
  return Math.ceil(parseQuantity(q) * 1000 - 1e-9);
}

export interface Requests {
  cpuMilli: number;
  memory: number;
  pods: number;
}

/** the scheduler's view of a pod's requests: max(sum of containers, each init container) per resource */
export function podRequests(pod: { spec?: { containers?: any[]; initContainers?: any[] } }): Requests {
  let cpu = 0;
  let mem = 0;
  for (const c of pod.spec?.containers ?? []) {
    cpu += c.resources?.requests?.cpu !== undefined ? milliCpu(c.resources.requests.cpu) : 0;
    mem += c.resources?.requests?.memory !== undefined ? parseQuantity(c.resources.requests.memory) : 0;
  }
  for (const c of pod.spec?.initContainers ?? []) {
    cpu = Math.max(cpu, c.resources?.requests?.cpu !== undefined ? milliCpu(c.resources.requests.cpu) : 0);
    mem = Math.max(mem, c.resources?.requests?.memory !== undefined ? parseQuantity(c.resources.requests.memory) : 0);
  }
  return { cpuMilli: cpu, memory: mem, pods: 1 };
}
