/**
 * Helpers for the kadd e2e files (kadd, remove, replace): the shared set-up (setUpE2e: the simulator for the
 * Kubernetes side, a cluster file and kubeconfig, the bridge; tearDownE2e), the API load balancer on the real
 * Octavia (createApiLb), run the real CLI (`node bin/kadd.js`, sources through tsx), bridge the real Nova to
 * the simulator's kubelets, look up and remove what a test cluster left on the real cloud.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { gunzipSync } from 'node:zlib';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, Session, cloudUnavailable, e2eEnv, pollUntil, readCloud, type Env } from './helpers.js';
import type { Sim } from '../../sim/index.js';
import type { Scenario } from '../../sim/contract.js';

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

// ------------------------------------------------------------------------------------------------
// the shared set-up of the kadd, remove and replace e2e files

export interface NetNames { network: string; subnet: string; router: string; securityGroup: string }

/** A fresh cluster name (lower-case, short, unique per run: it is in every resource name) and its network's names. */
export function e2eClusterNames(prefix: string): { cluster: string; names: NetNames } {
  const cluster = `${prefix}${Date.now().toString(36).slice(-6)}`;
  return { cluster, names: { network: `${cluster}-net`, subnet: `${cluster}-subnet`, router: `${cluster}-rt`, securityGroup: `${cluster}-sg` } };
}

/**
 * The koris-format cluster file of an e2e cluster: one simulated master, `nodes` workers counted, the e2e image,
 * flavor, keypair and zone; loadbalancer.floatingip = the kubeconfig's host, which is how kadd proves the cluster
 * belongs to this project without a real master server.
 */
export function e2eClusterFile(env: Env, cluster: string, names: NetNames, o: { cidr: string; nodes?: number }): string {
  return [
    `cluster-name: ${cluster}`, 'n-masters: 1', `n-nodes: ${o.nodes ?? 0}`, `keypair: ${env.keypair}`, `master_flavor: ${env.flavor}`, `node_flavor: ${env.flavor}`,
    'availability-zones:', `  - ${env.az}`, `image: ${env.image}`,
    'private_net:', `  name: ${names.network}`, '  subnet:', `    name: ${names.subnet}`, `    cidr: ${o.cidr}`, '    router:', `      name: ${names.router}`,
    'loadbalancer:', `  name: ${cluster}-lb`, '  floatingip: 127.0.0.1',
    'version:', '  k8s: 1.30.2', 'volume_size: 1', `security_group: ${names.securityGroup}`, '',
  ].join('\n');
}

export interface E2eSetUpOptions {
  cluster: string;
  names: NetNames;
  seed: number;
  /** the cluster file's subnet */
  cidr: string;
  /** n-nodes in the cluster file (default 0) */
  nodes?: number;
  /** the simulator's kube scenario (e.g. { workloads: [] }) */
  kube?: Scenario['kube'];
  /** start a NovaBridge for servers named `${cluster}-${bridge}`; undefined: no bridge (start one later) */
  bridge?: string;
  /** skip unless the catalog has a load-balancer service */
  needOctavia?: boolean;
  /** the temporary directory's prefix */
  tmpPrefix: string;
}

export interface E2eSetUp {
  env: Env;
  user: Session;
  admin: Session;
  sim: Sim;
  bridge?: NovaBridge;
  dir: string;
  cfg: string;
  childEnv: NodeJS.ProcessEnv;
}

/**
 * Everything an e2e file of kadd's commands needs before its tests: the real cloud's sessions, the simulator
 * serving the Kubernetes side (one master, seeded), a kubeconfig and cluster file in a fresh directory, the
 * child's environment, and (bridge) the NovaBridge. Returns why it cannot run instead (the caller skips).
 */
export async function setUpE2e(o: E2eSetUpOptions): Promise<E2eSetUp | { skip: string }> {
  const env = e2eEnv();
  const why = await cloudUnavailable(env);
  if (why) return { skip: why };
  const user = await Session.password(readCloud(env.clouds, env.cloud));
  const admin = await Session.password(readCloud(env.clouds, env.adminCloud));
  if (o.needOctavia && !user.catalog.some((c) => c.type === 'load-balancer')) return { skip: 'no load-balancer service in the catalog (start.sh adds Octavia)' };
  const { startSim } = await import('../../sim/index.js');
  const sim = await startSim({
    requireKube: true,
    scenario: {
      seed: o.seed,
      cluster: { name: o.cluster, masters: 1, nodes: 0, k8sVersion: '1.30.2' },
      latency: { nodeRegister: { uniform: [300, 800] }, nodeReady: { uniform: [300, 800] } },
      ...(o.kube ? { kube: o.kube } : {}),
    },
  });
  const dir = mkdtempSync(join(tmpdir(), o.tmpPrefix));
  writeFileSync(
    join(dir, 'kubeconfig'),
    `apiVersion: v1\nkind: Config\nclusters:\n- name: sim\n  cluster:\n    server: ${sim.baseUrl}\nusers:\n- name: admin\n  user:\n    token: sim-admin-token\ncontexts:\n- name: sim\n  context:\n    cluster: sim\n    user: admin\ncurrent-context: sim\n`,
  );
  const cfg = join(dir, 'cfg.yml');
  writeFileSync(cfg, e2eClusterFile(env, o.cluster, o.names, { cidr: o.cidr, nodes: o.nodes }));
  const childEnv = kaddEnv({ OS_CLIENT_CONFIG_FILE: env.clouds, OS_CLOUD: env.cloud, KUBECONFIG: join(dir, 'kubeconfig'), HOME: dir });
  let bridge: NovaBridge | undefined;
  if (o.bridge !== undefined) {
    bridge = new NovaBridge(admin, sim.core.events, `${o.cluster}-${o.bridge}`);
    bridge.start();
  }
  return { env, user, admin, sim, bridge, dir, cfg, childEnv };
}

/** After the tests: the bridge stopped, everything named for the cluster and its network(s) removed, the simulator stopped, the directory gone. */
export async function tearDownE2e(s: Partial<E2eSetUp> | undefined, cluster: string, networks: NetNames[], first?: () => Promise<void>): Promise<void> {
  s?.bridge?.stop();
  if (s?.user) {
    await first?.().catch(() => {});
    await purge(s.user, cluster);
    for (const n of networks) await purgeNetwork(s.user, n);
  }
  if (s?.sim) await s.sim.stop();
  if (s?.dir) rmSync(s.dir, { recursive: true, force: true });
}

/** As an operator does after each change: cfg.updated.yml becomes the cluster file. */
export function promoteUpdated(dir: string, cfg: string): void {
  const updated = join(dir, 'cfg.updated.yml');
  writeFileSync(cfg, readFileSync(updated, 'utf8'));
  rmSync(updated);
}

export interface ApiLb {
  lbId: string;
  poolId: string;
  /** the pool's members as the real Octavia API lists them */
  members(): Promise<{ name: string; address: string }[]>;
  /** wait for provisioning_status ACTIVE (throws on ERROR) */
  active(after: string): Promise<unknown>;
  status(): Promise<string>;
  remove(): Promise<void>;
}

/**
 * The API load balancer kadd finds by name on the real Octavia (the kadd_noop provider): <cluster>-lb with
 * master-listener-<cluster> (TCP 6443) and master-pool-<cluster>, its VIP on the cluster's subnet (which a
 * first kadd add creates).
 */
export async function createApiLb(user: Session, cluster: string, subnetName: string, what: string): Promise<ApiLb> {
  const O = (method: string, path: string, body?: unknown, ok?: number[]) => user.req(method, 'load-balancer', path, body, ok);
  const sn = (await user.req('GET', 'network', `/subnets?name=${subnetName}`)).body.subnets as { id: string }[];
  const lb = await O('POST', '/lbaas/loadbalancers', { loadbalancer: { name: `${cluster}-lb`, vip_subnet_id: sn[0]!.id, description: `${what} (deleted by the test)` } });
  const lbId = lb.body.loadbalancer.id as string;
  const status = async () => (await O('GET', `/lbaas/loadbalancers/${lbId}`)).body.loadbalancer.provisioning_status as string;
  const active = (after: string) =>
    pollUntil(`load balancer ACTIVE after ${after}`, async () => {
      const st = await status();
      if (st === 'ERROR') throw new Error(`load balancer went to ERROR after ${after}`);
      return st === 'ACTIVE' ? true : undefined;
    }, 120_000, 500);
  const out: ApiLb = {
    lbId, poolId: '', active, status,
    members: async () => (await O('GET', `/lbaas/pools/${out.poolId}/members`)).body.members as { name: string; address: string }[],
    remove: async () => {
      await O('DELETE', `/lbaas/loadbalancers/${lbId}?cascade=true`, undefined, [202, 204, 404]);
    },
  };
  try {
    await active('create');
    const lis = await O('POST', '/lbaas/listeners', { listener: { name: `master-listener-${cluster}`, protocol: 'TCP', protocol_port: 6443, loadbalancer_id: lbId } });
    await active('listener create');
    out.poolId = (await O('POST', '/lbaas/pools', { pool: { name: `master-pool-${cluster}`, protocol: 'TCP', lb_algorithm: 'ROUND_ROBIN', listener_id: lis.body.listener.id } })).body.pool.id;
    await active('pool create');
  } catch (e) {
    await out.remove().catch(() => {});
    throw e;
  }
  return out;
}
