/**
 * Contract between the simulator's parts (test/sim). The simulator is written independently of lib/:
 * nothing under test/sim may import from lib/.
 *
 * One HTTP server on 127.0.0.1 (random port) serves:
 *   /identity/v3/...            Keystone v3
 *   /compute/v2.1/...           Nova
 *   /network/v2.0/...           Neutron
 *   /volume/v3/{project_id}/... Cinder v3 (catalog types volumev3 and block-storage)
 *   /image/v2/...               Glance
 *   /load-balancer/v2/...       Octavia
 *   /api/..., /apis/..., /version   Kubernetes API (root paths, so client-node works unchanged)
 *   /_sim/...                   counters, state dump, control
 *
 * The OpenStack part (openstack/*.ts) and the Kubernetes part (kube/*.ts) talk only through SimEvents
 * and the small surface below.
 */
import type { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface SimServerInfo {
  id: string;
  name: string;
  status: string;
  /** decoded user_data (plain text), or undefined */
  userData?: string;
  metadata: Record<string, string>;
  /** first fixed IP */
  ip?: string;
  availabilityZone?: string;
}

/** Events emitted on SimCore.events */
export interface SimEventMap {
  /** a Nova server reached ACTIVE */
  'server.active': [SimServerInfo];
  /** a Nova server was deleted */
  'server.deleted': [SimServerInfo];
  /** (added by the OpenStack half) a Nova server went to ERROR */
  'server.error': [SimServerInfo & { fault: string }];
  /**
   * (added) a server's power/state changed after it was ACTIVE: stopped (os-stop, SHUTOFF fault), started
   * (os-start, back to ACTIVE), rebooting / rebooted (reboot action), error (ERROR fault)
   */
  'server.state': [SimServerInfo & { change: 'stopped' | 'started' | 'rebooting' | 'rebooted' | 'error'; rebootType?: 'SOFT' | 'HARD' }];
}

export interface SimRng {
  /** uniform [0,1) from the seeded generator */
  next(): number;
  /** sample a latency distribution from the scenario, in ms */
  latency(spec: LatencySpec | undefined): number;
}

export type LatencySpec =
  | number
  | { fixed: number }
  | { uniform: [number, number] }
  | { normal: { mean: number; stddev: number; min?: number } };

/** A request handler returns true when it handled the request. */
export type SimHandler = (req: IncomingMessage & { body?: unknown; rawBody?: Buffer }, res: ServerResponse, url: URL) => Promise<boolean> | boolean;

export interface SimCore {
  readonly baseUrl: string;
  readonly rng: SimRng;
  readonly events: EventEmitter<SimEventMap>;
  /** sim time: real time scaled by scenario.timeScale (1 = real time) */
  now(): number;
  sleep(ms: number): Promise<void>;
  /** append text to a server's console log (os-getConsoleOutput) */
  appendConsole(serverId: string, text: string): void;
  /** the parsed scenario */
  readonly scenario: Scenario;
  count(service: string, method: string, path: string): void;
  /**
   * (added) Read-only view of the OpenStack side, for the kube half (e.g. to check the API endpoint a join
   * names against the LB VIP). Present once the OpenStack half is wired.
   */
  readonly openstack?: SimOpenStackView;
  /** (added) record an entry in the event timeline (GET /_sim/state .timeline); used for determinism checks */
  record?(type: string, subject: string, detail?: Record<string, unknown>): void;
  /**
   * (added) the seeded stream of ONE resource (kind + name + how often the name was used): what it samples does
   * not depend on what other resources or wall-clock-driven timers drew before. Falls back to `rng` when absent.
   */
  resourceRng?(kind: string, name: string): SimRng;
}

/** (added) what the kube half may read from the OpenStack half */
export interface SimOpenStackView {
  getServer(idOrName: string): SimServerInfo | undefined;
  listServers(): SimServerInfo[];
  /** VIP address of a load balancer by name or id (e.g. `<cluster>-lb`) */
  loadBalancerVip(nameOrId: string): string | undefined;
}

/**
 * (added) What test/sim/kube/index.ts exports as `createKubeSim(core, opts)`. The core calls handler() for every
 * request not claimed by /_sim or an OpenStack prefix, and upgradeHandler() on HTTP 'upgrade' (WebSocket).
 * The core counts every request itself (service "kube", method, path with ids templated) unless the handler
 * called core.count() while handling it.
 */
export interface KubeSimPart {
  handler: SimHandler;
  upgradeHandler?: (req: IncomingMessage, socket: import('node:stream').Duplex, head: Buffer) => void;
  state(): unknown;
  stop(): Promise<void>;
  [extra: string]: unknown;
}
export interface KubeSimOptions {
  scenario: Scenario;
}

/** Scenario file (YAML). Every field optional. */
export interface Scenario {
  seed?: number;
  /** multiply all sim delays by this (0.01 makes a 20 s build take 0.2 s) */
  timeScale?: number;
  latency?: {
    /** per request, per service, e.g. { compute: {uniform:[5,20]} } */
    request?: Record<string, LatencySpec>;
    serverBuild?: LatencySpec;
    volumeCreate?: LatencySpec;
    nodeRegister?: LatencySpec;
    nodeReady?: LatencySpec;
    etcdMemberStart?: LatencySpec;
    /** (added) server DELETE -> gone; default {uniform:[1200,1600]} */
    serverDelete?: LatencySpec;
    /** (added) volume delete -> gone; default 500 */
    volumeDelete?: LatencySpec;
    /** (added) Octavia PENDING_* -> ACTIVE for load balancers; default 3000 */
    lbProvision?: LatencySpec;
    /** (added) Octavia PENDING_* -> ACTIVE for listeners, pools, members; default 1000 */
    lbChange?: LatencySpec;
    /** (added) reboot action -> ACTIVE again; default SOFT {uniform:[25000,40000]}, HARD {uniform:[15000,25000]} */
    serverReboot?: LatencySpec;
    /** (added) seconds-scale pacing of console output: cloud-init stage spacing in ms; default 2000 */
    bootStage?: LatencySpec;
  };
  /** (added) identity settings */
  identity?: {
    /** token lifetime in sim seconds; default 3600 */
    tokenTtl?: number;
  };
  faults?: {
    /** per "service METHOD pathRegex": probability of a 500 */
    errorRates?: { service: string; method?: string; path?: string; rate: number; status?: number }[];
    /** 429 with Retry-After */
    rateLimit?: { service: string; method?: string; path?: string; rate: number; retryAfter?: number }[];
    /** servers whose name matches go to ERROR with this fault; times: how many creates fail (default all) */
    serverError?: { name: string; message: string; code?: number; times?: number }[];
    volumeError?: { name: string; times?: number }[];
    quota?: { cores?: number; ram?: number; instances?: number; volumes?: number; gigabytes?: number; ports?: number };
    /** the API (service or "kube") answers 503 between from and to seconds after start */
    outages?: { service: string; from: number; to: number }[];
    /** a kubelet on these servers never joins (name regex) */
    kubeletNeverJoins?: string[];
    /** an etcd member on these servers never starts (name regex) */
    etcdMemberNeverStarts?: string[];
    /**
     * (added) Seen on a real Zed cloud: a server deleted while still BUILD before `spawning` leaves its
     * volumes `reserved` with their Cinder attachment (instance = the deleted server's id); nothing cleans
     * them (not delete_on_termination) until DELETE /attachments/{id}. Default false (Nova cleans up).
     */
    leaveReservedOnEarlyDelete?: boolean;
    /** (added) load balancers (name regex or id) held PENDING_UPDATE (or ERROR) from `at` for `for` seconds: writes answer 409 immutable */
    lbHold?: { lb: string; at: number; for: number; status?: 'PENDING_UPDATE' | 'ERROR' }[];
    /** (added) servers (name regex) that go SHUTOFF or ERROR at `at` seconds after start, under their Node */
    serverState?: { name: string; at: number; status: 'SHUTOFF' | 'ERROR'; message?: string }[];
    /** (added) Nodes whose kubelet does NOT come back after a reboot of their server (name regex) */
    rebootDoesNotHeal?: string[];
    /**
     * (added) Node state changes at a time: `state` Unreachable (kubelet stops answering: Ready Unknown),
     * NotReady (kubelet answers, Ready False) or Ready, at `at` seconds after start, for `for` seconds (then Ready)
     */
    nodes?: { node: string; at: number; state: 'Unreachable' | 'NotReady' | 'Ready'; for?: number; reason?: string }[];
    /** (added) PVs (or PVC names) matching these regexes never detach: their VolumeAttachment stays */
    volumeStaysAttached?: string[];
  };
  /**
   * (added) the Kubernetes half's controllers and seeded workloads (test/sim/kube). Latencies in sim ms.
   */
  kube?: {
    /** pod created -> scheduled and Running/Ready; default {uniform:[300,800]} */
    podStartup?: LatencySpec;
    /** SIGTERM -> containers gone (capped by the grace period); default {uniform:[200,600]} */
    podTermination?: LatencySpec;
    /** VolumeAttachment created -> attached; default {uniform:[1000,3000]} */
    volumeAttach?: LatencySpec;
    /** last pod using a volume gone -> VolumeAttachment deleted; default {uniform:[1000,3000]} */
    volumeDetach?: LatencySpec;
    /** kubelet gone -> Node Ready Unknown (node-monitor-grace-period) for server stop/reboot/error; default 40000 */
    nodeMonitorGrace?: LatencySpec;
    /** guest back ACTIVE after a reboot/start -> kubelet posts Ready; default {uniform:[5000,15000]} */
    kubeletRestart?: LatencySpec;
    /** allocatable (and capacity) of every seeded Node, e.g. {cpu: '2', memory: '4Gi', pods: 110} */
    nodeAllocatable?: { cpu?: string; memory?: string; pods?: number };
    /** workloads seeded after the cluster (see test/sim/kube/workloads.ts WorkloadSpec) */
    workloads?: import('./kube/workloads.js').WorkloadSpec[];
  };
  cluster?: {
    name?: string;
    masters?: number;
    nodes?: number;
    k8sVersion?: string;
  };
  /** (added) the simulated Nova compute hosts */
  compute?: {
    /** compute hosts in each availability zone (default 2): what the server group policies place servers on */
    hostsPerZone?: number;
  };
  /**
   * (added) etcd of the simulated control plane. real: every member is a real etcd process on loopback
   * (test/sim/kube/etcd-real.ts; needs Debian's etcd-server and etcd-client); default simulated.
   */
  etcd?: {
    real?: boolean;
    /** (added) member names of the seeded masters, e.g. '{node}.novalocal' or 'etcd-{ip}'; default the node name */
    memberName?: string;
    /** (added) fault: leadership goes back to these members (name regex) after a move-leader away from them, right after the next `endpoint status`; `times` default 1 */
    leaderReturns?: { member: string; times?: number }[];
    /** (added) the member that leads at start (name regex); default the first master */
    leader?: string;
  };
}
