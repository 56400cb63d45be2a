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
  };
  cluster?: {
    name?: string;
    masters?: number;
    nodes?: number;
    k8sVersion?: string;
  };
}
