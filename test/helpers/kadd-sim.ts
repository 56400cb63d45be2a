/**
 * Whole-command harness for kadd on the simulator (test/sim):
 *
 *   const h = await startKaddSim({ nodes: 2, scenario: {...} });
 *   const r = await h.kadd(['add', '--amount', '2', h.cfgPath]);        // in-process, main()
 *   const c = h.spawnKadd(['add', ...]); ... c.kill('SIGINT'); await c.done; // child process (bin/kadd.js)
 *   await h.stop();
 *
 * The temp dir holds clouds.yaml (from the sim's helper), a kubeconfig pointing at the sim's Kubernetes
 * API (plain http, so client-node is told insecure-skip-tls-verify) and a koris-format cluster file that
 * matches what the sim seeded (names, flavors, image, keypair, network, zones).
 *
 * Timing: the whole-command runs use the sim at timeScale 1 with small latencies in real milliseconds,
 * so kadd's real clock and the sim's clock agree (bootstrap-token expiry, timeouts, Retry-After).
 */
import type { Clock } from '../../lib/clock.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Scenario } from '../sim/contract.js';
import { startSim, type Sim } from '../sim/index.js';
import type { KubeSim } from '../sim/kube/index.js';

export const ROOT = join(import.meta.dirname, '..', '..');
export const BIN = join(ROOT, 'bin', 'kadd.js');

/** Latencies (real ms at timeScale 1) that keep a whole run well under a second per step. */
export const FAST_LATENCY: NonNullable<Scenario['latency']> = {
  serverBuild: { uniform: [150, 250] },
  volumeCreate: { uniform: [40, 80] },
  nodeRegister: { uniform: [60, 120] },
  nodeReady: { uniform: [60, 120] },
  serverDelete: { uniform: [30, 60] },
  volumeDelete: 20,
  bootStage: 20,
  lbProvision: 50,
  lbChange: 20,
  etcdMemberStart: 50,
};

/** Flags every test run passes: fast polling and short budgets (seconds). */
export const FAST_FLAGS = ['--poll-interval', '25', '--timeout', '6', '--boot-timeout', '6'];

export interface KaddSimOptions {
  cluster?: string;
  masters?: number;
  nodes?: number;
  k8sVersion?: string;
  zones?: string[];
  scenario?: Scenario;
  /** extra text appended to the cluster file */
  extraConfig?: string;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Child {
  proc: ChildProcess;
  stdout(): string;
  stderr(): string;
  done: Promise<RunResult>;
  /** resolves once stderr matches re */
  waitFor(re: RegExp, timeoutMs?: number): Promise<void>;
}

export interface KaddSim {
  sim: Sim;
  dir: string;
  cfgPath: string;
  updatedPath: string;
  env: Record<string, string>;
  cluster: string;
  /** in-process run; `clock` is handed to main() (use simClock(h) with a time-scaled simulator) */
  kadd(args: string[], opts?: { env?: Record<string, string>; clock?: Clock }): Promise<RunResult>;
  spawnKadd(args: string[], opts?: { env?: Record<string, string> }): Child;
  /** requests counted by the sim, "service METHOD /path" -> n */
  counters(): Record<string, number>;
  /** number of mutating requests (POST/PUT/PATCH/DELETE) to OpenStack and Kubernetes since the last reset */
  mutations(): Record<string, number>;
  /** Nova servers of the cluster's role "node" (names) */
  serverNames(role?: 'node' | 'master'): string[];
  /** the sim's Nova servers with status */
  servers(): { id: string; name: string; status: string }[];
  volumes(): { id: string; name: string | null; status: string }[];
  ports(): { id: string; name: string }[];
  /** Nodes in the sim's Kubernetes: name -> Ready? */
  nodes(): Map<string, boolean>;
  bootstrapTokens(): { id: string; expiration: string }[];
  stop(): Promise<void>;
}

export function clusterFile(o: { cluster: string; masters: number; nodes: number; k8s: string; zones: string[]; extra?: string }): string {
  return `# cluster ${o.cluster}: the simulator's seeded cluster (kadd test harness)
---
master_flavor: 'm1.medium'   # flavors of the sim
node_flavor: 'm1.small'
version:
  k8s: "${o.k8s}"
# existing network, created by koris
private_net:
  name: '${o.cluster}-net'
  subnet:
    name: '${o.cluster}-subnet'
    cidr: '192.168.0.0/16'
    router:
      name: '${o.cluster}-rt'

cluster-name: '${o.cluster}'
availibility-zones:
${o.zones.map((z) => ` - ${z}`).join('\n')}

# The number of master and worker nodes for the cluster.
n-masters: ${o.masters}
n-nodes: ${o.nodes}   # workers

keypair: '${o.cluster}'
image: "ubuntu-22.04"
storage_class: "ssd"
pod_network: "CALICO"
pod_subnet: "10.233.0.0/16"
${o.extra ?? ''}`;
}

export function kubeconfigFor(server: string): string {
  return `apiVersion: v1
kind: Config
clusters:
- name: sim
  cluster:
    server: ${server}
    insecure-skip-tls-verify: true
users:
- name: admin
  user:
    token: sim-admin-token
contexts:
- name: sim
  context:
    cluster: sim
    user: admin
current-context: sim
`;
}

/** Intercept process.stdout/stderr writes while fn runs (kadd's Io writes to the process streams). */
async function captureStreams<T>(fn: () => Promise<T>): Promise<{ value: T; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const ow = process.stdout.write.bind(process.stdout);
  const ew = process.stderr.write.bind(process.stderr);
  const grab = (sink: string[]) =>
    ((chunk: string | Uint8Array, enc?: unknown, cb?: unknown) => {
      sink.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      const done = typeof enc === 'function' ? enc : cb;
      if (typeof done === 'function') (done as () => void)();
      return true;
    }) as typeof process.stdout.write;
  process.stdout.write = grab(out);
  process.stderr.write = grab(err);
  try {
    const value = await fn();
    return { value, stdout: out.join(''), stderr: err.join('') };
  } finally {
    process.stdout.write = ow;
    process.stderr.write = ew;
  }
}

export async function startKaddSim(o: KaddSimOptions = {}): Promise<KaddSim> {
  const cluster = o.cluster ?? 'demo';
  const masters = o.masters ?? 1;
  const nodes = o.nodes ?? 1;
  const k8s = o.k8sVersion ?? '1.30.2';
  const zones = o.zones ?? ['nova', 'az2'];
  const sc = o.scenario ?? {};
  const sim = await startSim({
    requireKube: true,
    scenario: {
      seed: 11,
      timeScale: 1,
      ...sc,
      latency: { ...FAST_LATENCY, ...(sc.latency ?? {}) },
      cluster: { name: cluster, masters, nodes, k8sVersion: k8s, ...(sc.cluster ?? {}) },
    },
  });
  const dir = mkdtempSync(join(tmpdir(), 'kadd-sim-'));
  writeFileSync(join(dir, 'clouds.yaml'), sim.cloudsYaml().text);
  writeFileSync(join(dir, 'kubeconfig'), kubeconfigFor(sim.baseUrl));
  const cfgPath = join(dir, 'cfg.yml');
  writeFileSync(cfgPath, clusterFile({ cluster, masters, nodes, k8s, zones, extra: o.extraConfig }));
  const env: Record<string, string> = {
    OS_CLIENT_CONFIG_FILE: join(dir, 'clouds.yaml'),
    OS_CLOUD: 'sim',
    KUBECONFIG: join(dir, 'kubeconfig'),
    HOME: dir,
    NO_COLOR: '1',
    CI: '1',
  };

  const store = sim.openstack.store;

  const h: KaddSim = {
    sim,
    dir,
    cfgPath,
    updatedPath: join(dir, 'cfg.updated.yml'),
    env,
    cluster,
    async kadd(args, ro = {}) {
      const { main } = await import('../../lib/cli/main.js');
      const vars = { ...env, ...(ro.env ?? {}) };
      const saved: Record<string, string | undefined> = {};
      const clear = ['OS_AUTH_URL', 'OS_USERNAME', 'OS_PASSWORD', 'OS_PROJECT_NAME', 'OS_APPLICATION_CREDENTIAL_ID', 'OS_APPLICATION_CREDENTIAL_SECRET', 'OS_TOKEN', 'OS_REGION_NAME'];
      for (const k of [...Object.keys(vars), ...clear]) saved[k] = process.env[k];
      for (const k of clear) delete process.env[k];
      Object.assign(process.env, vars);
      const cwd = process.cwd();
      process.chdir(dir);
      try {
        const r = await captureStreams(() => main(args, { env: process.env, stderr: process.stderr, ...(ro.clock ? { clock: ro.clock } : {}) }));
        return { code: r.value, stdout: r.stdout, stderr: r.stderr };
      } finally {
        process.chdir(cwd);
        for (const [k, v] of Object.entries(saved)) {
          if (v === undefined) delete process.env[k];
          else process.env[k] = v;
        }
      }
    },
    spawnKadd(args, ro = {}) {
      const cenv: NodeJS.ProcessEnv = { ...process.env, KADD_DEV: '1', ...env, ...(ro.env ?? {}) };
      delete cenv.NODE_OPTIONS;
      const proc = spawn(process.execPath, [BIN, ...args], { cwd: dir, env: cenv, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      const watchers: { re: RegExp; resolve: () => void }[] = [];
      proc.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
      proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
        err += d;
        for (const w of [...watchers]) if (w.re.test(err)) {
          watchers.splice(watchers.indexOf(w), 1);
          w.resolve();
        }
      });
      const done = new Promise<RunResult>((resolve) => {
        proc.on('close', (code, signal) => resolve({ code: code ?? (signal === 'SIGKILL' ? 137 : 128), stdout: out, stderr: err }));
      });
      return {
        proc,
        stdout: () => out,
        stderr: () => err,
        done,
        waitFor(re, timeoutMs = 20_000) {
          if (re.test(err)) return Promise.resolve();
          return new Promise<void>((resolve, reject) => {
            const t = setTimeout(() => reject(new Error(`kadd did not print ${re} within ${timeoutMs} ms; stderr:\n${err}`)), timeoutMs);
            watchers.push({ re, resolve: () => (clearTimeout(t), resolve()) });
            void done.then(() => {
              clearTimeout(t);
              if (!re.test(err)) reject(new Error(`kadd exited before printing ${re}; stderr:\n${err}`));
            });
          });
        },
      };
    },
    counters: () => sim.counters().requests,
    mutations() {
      const out: Record<string, number> = {};
      for (const [k, v] of Object.entries(sim.counters().requests)) {
        const [svc, method] = k.split(' ');
        if (svc === 'identity') continue; // token requests create no resource
        if (method === 'POST' || method === 'PUT' || method === 'PATCH' || method === 'DELETE') out[k] = v;
      }
      return out;
    },
    serverNames(role = 'node') {
      return h.servers().filter((s) => new RegExp(`^${cluster}-${role}-\\d+$`).test(s.name)).map((s) => s.name).sort();
    },
    servers() {
      return [...store.servers.values()].map((s) => ({ id: s.id, name: s.name, status: s.status }));
    },
    volumes() {
      return [...store.volumes.values()].map((v) => ({ id: v.id, name: v.name, status: v.status }));
    },
    ports() {
      return [...store.ports.values()].map((p) => ({ id: p.id, name: p.name }));
    },
    nodes() {
      const m = new Map<string, boolean>();
      for (const n of kubeSim(sim).nodes()) {
        const conditions: { type: string; status: string }[] = n.status?.conditions ?? [];
        m.set(n.metadata.name, conditions.some((c) => c.type === 'Ready' && c.status === 'True'));
      }
      return m;
    },
    bootstrapTokens() {
      return kubeSim(sim).tokens().map((s) => ({
        id: Buffer.from(s.data?.['token-id'] ?? '', 'base64').toString() || s.stringData?.['token-id'],
        expiration: Buffer.from(s.data?.expiration ?? '', 'base64').toString() || s.stringData?.expiration,
      }));
    },
    async stop() {
      await sim.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return h;
}

/**
 * The simulator's clock as a kadd Clock: with a time-scaled simulator, kadd must live on the same clock
 * (token expirations, poll intervals, Retry-After), as a real client shares the apiserver's wall time.
 */
/**
 * Mocha hooks for a suite of whole-command runs: start() starts a harness for the current test, and an afterEach
 * stops it (its simulator and temp dir) however the test ended.
 *
 *   const sims = kaddSimHooks();
 *   it('...', async () => { const h = await sims.start({ nodes: 1 }); ... });
 */
export function kaddSimHooks(): { start(o?: KaddSimOptions): Promise<KaddSim> } {
  let current: KaddSim | undefined;
  afterEach(async () => {
    await current?.stop();
    current = undefined;
  });
  return {
    async start(o = {}) {
      await current?.stop(); // a second start in one test replaces the first
      current = await startKaddSim(o);
      return current;
    },
  };
}

/**
 * The simulator's Kubernetes half with its test API (nodes(), tokens(), cluster, ...). The sim's contract types it
 * loosely (it is loaded lazily); this is the one place that says what it is.
 */
export function kubeSim(sim: Sim): KubeSim {
  if (!sim.kube) throw new Error('the simulator has no Kubernetes half (test/sim/kube did not load)');
  return sim.kube as unknown as KubeSim;
}

export function simClock(h: KaddSim): Clock {
  const core = h.sim.core;
  return {
    now: () => core.now(),
    sleep: (ms, signal) =>
      new Promise<void>((resolve, reject) => {
        if (signal?.aborted) return reject(signal.reason ?? new Error('aborted'));
        const onAbort = () => reject(signal?.reason ?? new Error('aborted'));
        signal?.addEventListener('abort', onAbort, { once: true });
        core.sleep(ms).then(() => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        });
      }),
  };
}

export function readUpdated(h: KaddSim): string {
  if (!existsSync(h.updatedPath)) throw new Error(`${h.updatedPath} was not written`);
  return readFileSync(h.updatedPath, 'utf8');
}
