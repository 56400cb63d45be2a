/**
 * Helpers for kadd.e2e.test.ts: run the real CLI (`node bin/kadd.js`, sources through tsx), bridge the real
 * Nova to the simulator's kubelets, look up and remove what a test cluster left on the real cloud.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import { REPO_ROOT, type Session, pollUntil } from './helpers.js';

export interface KaddRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Environment for the child: no OS_* of the caller, sources not dist, no colours. */
export function kaddEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('OS_') && k !== 'KUBECONFIG') env[k] = v;
  return { ...env, KADD_DEV: '1', NO_COLOR: '1', FORCE_COLOR: '0', CI: '1', ...extra };
}

export function startKadd(args: string[], env: NodeJS.ProcessEnv, cwd: string): { child: ChildProcess; done: Promise<KaddRun>; stderrSoFar: () => string } {
  const t0 = Date.now();
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'kadd.js'), ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<KaddRun>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, ms: Date.now() - t0 }));
  });
  return { child, done, stderrSoFar: () => stderr };
}

export async function runKadd(args: string[], env: NodeJS.ProcessEnv, cwd: string, timeoutMs = 240_000): Promise<KaddRun> {
  const { child, done } = startKadd(args, env, cwd);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  try {
    return await done;
  } finally {
    clearTimeout(timer);
  }
}

export function show(r: KaddRun): string {
  return `exit ${r.code}${r.signal ? ` (${r.signal})` : ''} after ${r.ms} ms\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

export interface BridgeEvent {
  id: string;
  name: string;
  status: string;
  userData?: string;
  metadata: Record<string, string>;
  ip?: string;
  availabilityZone?: string;
}

/** What the bridge needs of the simulator's core (test/sim/contract.ts SimCore.events). */
export interface EventSink {
  emit(event: 'server.active' | 'server.deleted', info: BridgeEvent): boolean;
}

export function decodeUserData(b64: string | null | undefined): string | undefined {
  if (!b64) return undefined;
  const raw = Buffer.from(b64, 'base64');
  return (raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw).toString('utf8');
}

/**
 * Polls the real Nova as admin (microversion 2.79 >= 2.3: OS-EXT-SRV-ATTR:user_data in the detail view) for
 * servers whose name starts with `prefix`; emits 'server.active' once per server that turns ACTIVE (with
 * the decoded user-data and first IP) and 'server.deleted' when one disappears. This is what a real
 * kubelet would see: the cloud's own user-data, delivered by the cloud.
 */
export class NovaBridge {
  private timer?: NodeJS.Timeout;
  private active = new Map<string, BridgeEvent>();
  private busy = false;
  readonly emitted: BridgeEvent[] = [];
  lastError?: string;

  constructor(
    private readonly admin: Session,
    private readonly sink: EventSink,
    private readonly prefix: string,
    private readonly everyMs = 500,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.everyMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const name = encodeURIComponent(`^${this.prefix}`);
      const r = await this.admin.req('GET', 'compute', `/servers/detail?all_tenants=1&name=${name}`);
      const seen = new Set<string>();
      for (const s of r.body.servers as any[]) {
        seen.add(s.id);
        if (s.status !== 'ACTIVE' || this.active.has(s.id)) continue;
        const ip = Object.values((s.addresses ?? {}) as Record<string, { addr: string }[]>).flat()[0]?.addr;
        const ev: BridgeEvent = {
          id: s.id, name: s.name, status: 'ACTIVE', userData: decodeUserData(s['OS-EXT-SRV-ATTR:user_data']),
          metadata: s.metadata ?? {}, ip, availabilityZone: s['OS-EXT-AZ:availability_zone'],
        };
        this.active.set(s.id, ev);
        this.emitted.push(ev);
        this.sink.emit('server.active', ev);
      }
      for (const [id, ev] of this.active) {
        if (seen.has(id)) continue;
        this.active.delete(id);
        this.sink.emit('server.deleted', { ...ev, status: 'DELETED' });
      }
      this.lastError = undefined;
    } catch (e) {
      this.lastError = (e as Error).message;
    } finally {
      this.busy = false;
    }
  }
}

export interface Leftovers {
  servers: { id: string; name: string; status: string }[];
  volumes: { id: string; name: string; status: string }[];
  ports: { id: string; name: string }[];
}

/** Servers, volumes and ports of the project whose name starts with prefix (plain fetch, user session). */
export async function leftovers(s: Session, prefix: string): Promise<Leftovers> {
  const [sv, vo, po] = await Promise.all([
    s.req('GET', 'compute', `/servers/detail?name=${encodeURIComponent(`^${prefix}`)}`),
    s.req('GET', 'volumev3', '/volumes/detail'),
    s.req('GET', 'network', `/ports?project_id=${s.projectId}`),
  ]);
  return {
    servers: (sv.body.servers as any[]).filter((x) => x.name.startsWith(prefix)).map((x) => ({ id: x.id, name: x.name, status: x.status })),
    volumes: (vo.body.volumes as any[]).filter((x) => (x.name ?? '').startsWith(prefix)).map((x) => ({ id: x.id, name: x.name, status: x.status })),
    ports: (po.body.ports as any[]).filter((x) => (x.name ?? '').startsWith(prefix)).map((x) => ({ id: x.id, name: x.name })),
  };
}

export function describeLeftovers(l: Leftovers): string {
  return [...l.servers.map((x) => `server ${x.name} ${x.status}`), ...l.volumes.map((x) => `volume ${x.name} ${x.status}`), ...l.ports.map((x) => `port ${x.name}`)].join(', ') || 'nothing';
}

/** Wait until nothing named prefix* is left (volumes in 'deleting' need a moment after kadd returns). */
export async function waitNothingLeft(s: Session, prefix: string, timeoutMs = 90_000): Promise<Leftovers> {
  let last: Leftovers = { servers: [], volumes: [], ports: [] };
  try {
    return await pollUntil(`nothing named ${prefix}* left`, async () => {
      last = await leftovers(s, prefix);
      return last.servers.length + last.volumes.length + last.ports.length === 0 ? last : undefined;
    }, timeoutMs, 1000);
  } catch {
    return last;
  }
}

/** Delete servers, then volumes and ports named prefix* (best effort, for after() hooks and between tests). */
export async function purge(s: Session, prefix: string): Promise<void> {
  const l = await leftovers(s, prefix).catch(() => undefined);
  if (!l) return;
  await Promise.all(l.servers.map((x) => s.req('DELETE', 'compute', `/servers/${x.id}`, undefined, [202, 204, 404]).catch(() => {})));
  await pollUntil('servers gone', async () => ((await leftovers(s, prefix)).servers.length === 0 ? true : undefined), 90_000).catch(() => {});
  await Promise.all(l.ports.map((x) => s.req('DELETE', 'network', `/ports/${x.id}`, undefined, [204, 404]).catch(() => {})));
  await pollUntil('volumes deletable', async () => {
    const v = (await leftovers(s, prefix)).volumes;
    for (const x of v) if (['available', 'error'].includes(x.status)) await s.req('DELETE', 'volumev3', `/volumes/${x.id}`, undefined, [202, 404, 400]).catch(() => {});
    return v.length === 0 ? true : undefined;
  }, 90_000, 1500).catch(() => {});
}

/** Remove a test cluster's network: router interface, router, subnet, network, security group (by exact name). */
export async function purgeNetwork(s: Session, names: { network: string; subnet: string; router: string; securityGroup: string }): Promise<void> {
  const one = async (path: string, key: string) => ((await s.req('GET', 'network', path)).body[key] as any[]) ?? [];
  const routers = await one(`/routers?name=${encodeURIComponent(names.router)}&project_id=${s.projectId}`, 'routers');
  const subnets = await one(`/subnets?name=${encodeURIComponent(names.subnet)}&project_id=${s.projectId}`, 'subnets');
  for (const r of routers) {
    for (const sn of subnets) await s.req('PUT', 'network', `/routers/${r.id}/remove_router_interface`, { subnet_id: sn.id }, [200, 404, 400]).catch(() => {});
    await s.req('DELETE', 'network', `/routers/${r.id}`, undefined, [204, 404, 409]).catch(() => {});
  }
  for (const sn of subnets) await s.req('DELETE', 'network', `/subnets/${sn.id}`, undefined, [204, 404, 409]).catch(() => {});
  for (const n of await one(`/networks?name=${encodeURIComponent(names.network)}&project_id=${s.projectId}`, 'networks')) {
    await s.req('DELETE', 'network', `/networks/${n.id}`, undefined, [204, 404, 409]).catch(() => {});
  }
  for (const g of await one(`/security-groups?name=${encodeURIComponent(names.securityGroup)}&project_id=${s.projectId}`, 'security_groups')) {
    await s.req('DELETE', 'network', `/security-groups/${g.id}`, undefined, [204, 404, 409]).catch(() => {});
  }
}
