/** Whole-command harness for `kadd add --role master` on the simulator (test/sim/index.ts startSim). */
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Context } from '../../lib/context.js';
import type { Io, ProgressLine } from '../../lib/io.js';
import { realClock } from '../../lib/clock.js';
import type { OpenStackClient } from '../../lib/openstack/types.js';
import type { KubeApi } from '../../lib/kube/types.js';
import type { Scenario } from '../sim/contract.js';

export interface Captured extends Io {
  lines: string[];
  results: string[];
}

export function captureIo(): Captured {
  const lines: string[] = [];
  const results: string[] = [];
  const pl = (key: string): ProgressLine => ({
    update: (t) => lines.push(`[${key}] ${t}`),
    succeed: (t) => lines.push(`[${key}] ok ${t ?? ''}`),
    fail: (t) => lines.push(`[${key}] FAIL ${t ?? ''}`),
    warn: (t) => lines.push(`[${key}] warn ${t ?? ''}`),
  });
  return {
    lines, results,
    log: (level, msg) => lines.push(`${level}: ${msg}`),
    progress: (key, text) => {
      lines.push(`[${key}] ${text}`);
      return pl(key);
    },
    result: (t) => results.push(t),
    trace: () => {},
    confirm: async (_q, def) => def,
    verbosity: 0,
    debug: false,
  };
}

export interface SimHarness {
  sim: any;
  dir: string;
  cfgPath: string;
  io: Captured;
  ctx: Context;
  abort: AbortController;
  os: OpenStackClient;
  kube: KubeApi;
  kubeSim: any;
  stop(): Promise<void>;
}

export async function loadStartSim(): Promise<((o: { scenario?: Scenario }) => Promise<any>) | null> {
  try {
    const spec = '../sim/index.js';
    const m = (await import(spec)) as { startSim?: (o: { scenario?: Scenario }) => Promise<any> };
    return typeof m.startSim === 'function' ? m.startSim : null;
  } catch {
    return null;
  }
}

export async function startHarness(scenario: Scenario, masters = 1): Promise<SimHarness> {
  const startSim = (await loadStartSim())!;
  const sim = await startSim({
    scenario: {
      seed: 7, timeScale: 0.002, ...scenario,
      cluster: { name: 'demo', masters, nodes: 1, k8sVersion: '1.30.2', ...(scenario.cluster ?? {}) },
    },
  });
  if (!sim.kube) throw new Error('the simulator has no Kubernetes half');
  const dir = mkdtempSync(join(tmpdir(), 'kadd-master-'));
  writeFileSync(join(dir, 'clouds.yaml'), sim.cloudsYaml().text);
  writeFileSync(
    join(dir, 'kubeconfig'),
    `apiVersion: v1\nkind: Config\nclusters:\n- name: sim\n  cluster:\n    server: ${sim.baseUrl}\nusers:\n- name: admin\n  user:\n    token: sim-admin-token\ncontexts:\n- name: sim\n  context:\n    cluster: sim\n    user: admin\ncurrent-context: sim\n`,
  );
  const cfgPath = join(dir, 'cfg.yml');
  writeFileSync(
    cfgPath,
    `cluster-name: demo\nn-masters: ${masters}\nn-nodes: 1\nkeypair: kadd\nmaster_flavor: m1.medium\nnode_flavor: m1.small\navailability-zones:\n  - nova\nimage: ubuntu-22.04\nversion:\n  k8s: 1.30.2\n`,
  );
  const env = { OS_CLIENT_CONFIG_FILE: join(dir, 'clouds.yaml'), OS_CLOUD: 'sim', KUBECONFIG: join(dir, 'kubeconfig'), HOME: dir };
  const io = captureIo();
  const abort = new AbortController();
  const { resolveCloud } = await import('../../lib/openstack/config.js');
  const { createOpenStackClient } = await import('../../lib/openstack/client.js');
  const { loadKubeconfig } = await import('../../lib/kube/config.js');
  const { createKubeApi } = await import('../../lib/kube/client.js');
  const cloud = await resolveCloud({ cli: {}, env, cwd: dir } as never);
  // like lib/cli/context.ts: no Ctrl-C signal on the OpenStack client, so the rollback's requests still run
  const os = createOpenStackClient(cloud as never, { io, retries: 2, backoffMs: 1 } as never);
  const kube = createKubeApi(await loadKubeconfig({ env, cwd: dir }), { io });
  const ctx: Context = {
    io, clock: realClock, env, cwd: dir, signal: abort.signal,
    openstack: async () => os,
    kube: async () => kube,
  };
  return {
    sim, dir, cfgPath, io, ctx, abort, os, kube, kubeSim: sim.kube,
    async stop() {
      await sim.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** fast deps for the whole-command tests. Pass tokenTtl: 86400 in argv: the sim clock runs 1/timeScale faster than the real clock that stamps token expirations. */
export const FAST = { pollIntervalMs: 50, volumeTimeoutMs: 20_000, adderReadyTimeoutMs: 20_000 };

/**
 * The hooks every simulator master suite needs: skip when the simulator is not there, stop the harness
 * after each test. Call at the top of a describe(); start harnesses with the returned start().
 */
export function masterSimHooks(): { start(scenario?: Scenario, masters?: number): Promise<SimHarness> } {
  const slot: { h?: SimHarness } = {};
  before(async function () {
    if (!(await loadStartSim())) this.skip();
  });
  afterEach(async () => {
    await slot.h?.stop();
    slot.h = undefined;
  });
  return {
    async start(scenario: Scenario = {}, masters = 1) {
      slot.h = await startHarness(scenario, masters);
      return slot.h;
    },
  };
}
