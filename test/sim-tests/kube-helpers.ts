/** Test helpers for the Kubernetes half of the simulator: a fake SimCore and a loopback server. */
import { EventEmitter } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LatencySpec, Scenario, SimCore, SimEventMap } from '../sim/contract.js';
import { createKubeSim, type KubeSim, type KubeSimOptions } from '../sim/kube/index.js';
import { mulberry32 } from '../sim/rng.js';

export { mulberry32 };

export interface FakeCore extends SimCore {
  consoles: Map<string, string>;
  counters: Map<string, number>;
  setBaseUrl(u: string): void;
  /** advance the sim clock (for expiry tests) */
  advance(ms: number): void;
}

export function fakeCore(scenario: Scenario = {}): FakeCore {
  const next = mulberry32(scenario.seed ?? 42);
  const scale = scenario.timeScale ?? 0.001;
  let offset = 0;
  let base = 'http://127.0.0.1:1';
  const t0 = Date.now();
  const consoles = new Map<string, string>();
  const counters = new Map<string, number>();
  const latency = (spec: LatencySpec | undefined): number => {
    if (spec === undefined) return 0;
    if (typeof spec === 'number') return spec;
    if ('fixed' in spec) return spec.fixed;
    if ('uniform' in spec) return spec.uniform[0] + next() * (spec.uniform[1] - spec.uniform[0]);
    const u = 1 - next();
    const v = next();
    const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    return Math.max(spec.normal.min ?? 0, spec.normal.mean + z * spec.normal.stddev);
  };
  return {
    get baseUrl() {
      return base;
    },
    setBaseUrl: (u) => {
      base = u;
    },
    rng: { next, latency },
    events: new EventEmitter<SimEventMap>(),
    // sim time runs 1/scale faster than real time
    now: () => t0 + (Date.now() - t0) / scale + offset,
    advance: (ms) => {
      offset += ms;
    },
    sleep: (ms) => new Promise((r) => setTimeout(r, Math.max(0, ms * scale))),
    appendConsole: (id, text) => consoles.set(id, (consoles.get(id) ?? '') + text),
    scenario,
    count: (s, m, p) => counters.set(`${s} ${m} ${p}`, (counters.get(`${s} ${m} ${p}`) ?? 0) + 1),
    consoles,
    counters,
  };
}

export interface Harness {
  core: FakeCore;
  sim: KubeSim;
  url: string;
  server: Server;
  close(): Promise<void>;
}

export async function startKube(opts: KubeSimOptions = {}, scenario: Scenario = {}): Promise<Harness> {
  const core = fakeCore(scenario);
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  core.setBaseUrl(url);
  const sim = createKubeSim(core, opts);
  server.on('request', async (req, res) => {
    const handled = await sim.handler(req, res, new URL(req.url ?? '/', url));
    if (!handled) {
      res.writeHead(404);
      res.end();
    }
  });
  server.on('upgrade', (req, socket, head) => {
    if (!sim.upgradeHandler(req, socket, head)) socket.destroy();
  });
  return {
    core,
    sim,
    url,
    server,
    close: async () => {
      sim.stop();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

export async function until<T>(fn: () => T | undefined | false, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function kubeconfigYaml(url: string): string {
  return `apiVersion: v1
kind: Config
clusters:
- name: sim
  cluster:
    server: ${url}
    insecure-skip-tls-verify: true
users:
- name: admin
  user:
    token: sim-admin
contexts:
- name: sim
  context: {cluster: sim, user: admin}
current-context: sim
`;
}
