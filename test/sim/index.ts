/**
 * Public entry of the cluster simulator: `startSim({ scenario, port })`.
 *
 * One HTTP server on 127.0.0.1 serving Keystone, Nova, Neutron, Cinder, Glance, Octavia (test/sim/openstack)
 * and, when test/sim/kube is present, the Kubernetes API. See test/sim/README.md for defaults and scenarios.
 */
import { dump } from 'js-yaml';
import type { KubeSimPart, Scenario, SimCore } from './contract.js';
import { SimCoreImpl } from './core.js';
import { createOpenStackSim, type OpenStackSim } from './openstack/index.js';
import { DEFAULTS } from './openstack/seed.js';

export { DEFAULTS } from './openstack/seed.js';
export type { Scenario } from './contract.js';

export interface CloudsYamlOptions {
  /** cloud name in clouds.yaml; default "sim" */
  cloud?: string;
  /** password (default) or application credential */
  auth?: 'password' | 'application_credential';
  region?: string;
}

export interface Sim {
  readonly baseUrl: string;
  readonly core: SimCoreImpl;
  readonly openstack: OpenStackSim;
  /** the Kubernetes half, when test/sim/kube is loaded */
  readonly kube?: KubeSimPart;
  stop(): Promise<void>;
  counters(): ReturnType<SimCoreImpl['countersSnapshot']>;
  resetCounters(): void;
  state(): Record<string, unknown>;
  /** clouds.yaml for this sim: text (YAML) and the parsed object */
  cloudsYaml(opts?: CloudsYamlOptions): { text: string; object: { clouds: Record<string, unknown> } };
  /** a valid token for the default user (helper for tests that talk to the APIs directly) */
  token(): Promise<string>;
  /** the seeded default project id */
  readonly projectId: string;
}

export interface StartSimOptions {
  scenario?: Scenario | string;
  port?: number;
  /** fail instead of serving 503 on /api when the kube half cannot be loaded */
  requireKube?: boolean;
  /**
   * the real clock behind sim time (default Date.now). Tests pass one that runs late or early to show that no
   * timer compares its own end with the clock: setTimeout and Date.now disagree by a real ms or more under load.
   */
  clock?: () => number;
}

/**
 * The core as the kube half sees it: the same clock, events, console, counters and scenario, but its OWN seeded
 * stream, so that kube controllers firing on wall-clock timers never shift what the OpenStack half samples.
 */
function kubeCoreView(core: SimCoreImpl): SimCore {
  const rng = core.rngFor('kube');
  return {
    get baseUrl() { return core.baseUrl; },
    rng,
    events: core.events,
    now: () => core.now(),
    sleep: (ms) => core.sleep(ms),
    appendConsole: (id, text) => core.appendConsole(id, text),
    get scenario() { return core.scenario; },
    count: (s, m, p) => core.count(s, m, p),
    get openstack() { return core.openstack; },
    record: (t, s, d) => core.record(t, s, d),
    resourceRng: (kind, name) => core.resourceRng(`kube/${kind}`, name),
  };
}

export async function startSim(opts: StartSimOptions = {}): Promise<Sim> {
  const core = new SimCoreImpl(opts.scenario, opts.clock);
  const os = createOpenStackSim(core);
  core.openstack = os.view;
  core.openstackHandler = os.handler;
  core.stateProviders.openstack = os.state;
  core.scenarioListeners.push(() => os.store.refreshFaults());
  await core.listen(opts.port ?? 0);

  let kube: KubeSimPart | undefined;
  const spec = './kube/index.js';
  try {
    const mod = (await import(spec)) as { createKubeSim?: (c: SimCore, o: { scenario: Scenario }) => KubeSimPart | Promise<KubeSimPart> };
    if (typeof mod.createKubeSim !== 'function') throw new Error('test/sim/kube/index.ts does not export createKubeSim');
    kube = await mod.createKubeSim(kubeCoreView(core), { scenario: core.scenario });
    core.kubeHandler = kube.handler;
    if (kube.upgradeHandler) core.kubeUpgrade = kube.upgradeHandler;
    core.stateProviders.kube = () => kube!.state();
    // honesty: a seeded Node's providerID names its seeded Nova server (as the cloud provider would set
    // it), so kadd's "server was recreated" check sees a consistent cluster
    const attach = (kube as { attachServer?: (node: string, serverId: string) => void }).attachServer;
    const cn = core.scenario.cluster?.name;
    if (attach && cn) {
      for (const srv of os.store.servers.values()) {
        if (new RegExp(`^${cn}-(master|node)-\\d+$`).test(srv.name)) {
          try {
            attach(srv.name.toLowerCase(), srv.id);
          } catch {
            /* a server without a seeded Node */
          }
        }
      }
    }
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const missing = err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('kube');
    if (opts.requireKube) {
      await core.stop();
      throw new Error(`kube sim not loaded: ${err.message}`);
    }
    core.kubeMissingReason = missing ? 'kube sim not loaded' : `kube sim not loaded: ${err.message.split('\n')[0]}`;
  }

  const projectId = [...os.store.projects.values()].find((p) => p.name === DEFAULTS.project)!.id;
  const appCred = [...os.store.appCreds.values()].find((a) => a.name === DEFAULTS.appCredName)!;

  const sim: Sim = {
    baseUrl: core.baseUrl,
    core,
    openstack: os,
    kube,
    projectId,
    async stop() {
      if (kube) await Promise.resolve(kube.stop?.()).catch(() => undefined);
      await core.stop();
    },
    counters: () => core.countersSnapshot(),
    resetCounters: () => core.resetCounters(),
    state: () => core.stateSnapshot(),
    cloudsYaml(o: CloudsYamlOptions = {}) {
      const auth =
        o.auth === 'application_credential'
          ? { auth_url: `${core.baseUrl}/identity/v3`, application_credential_id: appCred.id, application_credential_secret: appCred.secret }
          : { auth_url: `${core.baseUrl}/identity/v3`, username: DEFAULTS.user, password: DEFAULTS.password, project_name: DEFAULTS.project, user_domain_name: DEFAULTS.domain, project_domain_name: DEFAULTS.domain };
      const cloud = {
        auth,
        auth_type: o.auth === 'application_credential' ? 'v3applicationcredential' : 'password',
        region_name: o.region ?? DEFAULTS.region,
        interface: 'public',
        identity_api_version: 3,
      };
      const object = { clouds: { [o.cloud ?? 'sim']: cloud } };
      return { text: dump(object), object };
    },
    async token() {
      const r = await fetch(`${core.baseUrl}/identity/v3/auth/tokens?nocatalog`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ auth: { identity: { methods: ['password'], password: { user: { name: DEFAULTS.user, password: DEFAULTS.password, domain: { name: DEFAULTS.domain } } } }, scope: { project: { name: DEFAULTS.project, domain: { name: DEFAULTS.domain } } } } }),
      });
      if (r.status !== 201) throw new Error(`sim token: HTTP ${r.status}`);
      await r.arrayBuffer();
      return r.headers.get('x-subject-token')!;
    },
  };
  return sim;
}
