/**
 * The simulator's core: one node:http server on 127.0.0.1, request pipeline (body parsing, counting, outages,
 * rate limits, error rates, per-service latency), sim time, timers, console logs, the event timeline and /_sim.
 * Written independently of lib/ (nothing here imports kadd's code).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { EventEmitter } from 'node:events';
import { AsyncLocalStorage } from 'node:async_hooks';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Scenario, SimCore, SimEventMap, SimHandler, SimOpenStackView } from './contract.js';
import { SeededRng } from './rng.js';
import { canonicalService, loadScenario } from './scenario.js';

export type SimRequest = IncomingMessage & { body?: unknown; rawBody?: Buffer; bodyError?: string };

export interface TimelineEntry {
  seq: number;
  type: string;
  subject: string;
  detail?: Record<string, unknown>;
}

/** OpenStack URL prefixes -> canonical service names (the catalog points here) */
export const SERVICE_PREFIXES: [string, string][] = [
  ['/identity', 'identity'],
  ['/compute', 'compute'],
  ['/network', 'network'],
  ['/volume', 'volume'],
  ['/image', 'image'],
  ['/load-balancer', 'load-balancer'],
];
/** extra region prefix: /regiontwo/compute/... serves the same state for RegionTwo endpoints */
export const REGION_TWO_PREFIX = '/regiontwo';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$|^[0-9a-f]{32}$/i;

export function templatePath(service: string, path: string): string {
  const segs = path.split('/');
  if (service === 'kube') {
    // /api/v1/<res>/<name>/<sub> or /apis/<group>/<ver>/<res>/<name>/<sub>; names sit at odd offsets
    const start = segs[1] === 'api' ? 3 : segs[1] === 'apis' ? 4 : segs.length;
    for (let i = start; i < segs.length; i++) {
      if ((i - start) % 2 === 1) segs[i] = segs[i - 1] === 'namespaces' ? '{namespace}' : '{name}';
    }
    return segs.join('/');
  }
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i]!;
    const prev = segs[i - 1];
    if (UUID_RE.test(s)) segs[i] = '{id}';
    else if (/^\d+$/.test(s) && !/^v\d/.test(s)) segs[i] = '{id}';
    else if (prev === 'os-keypairs' || prev === 'tags' || prev === 'flavors' || prev === 'users' || prev === 'projects') segs[i] = '{id}';
  }
  return segs.join('/');
}

/** FNV-1a over "seed/key": a 32-bit seed for an independent mulberry32 stream */
export function deriveSeed(seed: number, key: string): number {
  let h = 0x811c9dc5;
  const text = `${seed >>> 0}/${key}`;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

function now(): number {
  return Date.now();
}

export class SimCoreImpl implements SimCore {
  baseUrl = '';
  readonly rng: SeededRng;
  /** separate stream for ids so that ids do not shift latency draws */
  readonly idRng: SeededRng;
  readonly events = new EventEmitter<SimEventMap>();
  readonly scenario: Scenario;
  readonly timeScale: number;
  readonly timeline: TimelineEntry[] = [];
  openstack?: SimOpenStackView;
  /** handlers in order: OpenStack (by prefix), then kube */
  openstackHandler?: SimHandler;
  kubeHandler?: SimHandler;
  kubeUpgrade?: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  /** what /api answers while no kube part is loaded */
  kubeMissingReason = 'kube sim not loaded';
  stateProviders: Record<string, () => unknown> = {};
  /** called after POST /_sim/scenario changed faults or latencies */
  readonly scenarioListeners: (() => void)[] = [];
  /** console text appended by the kube half, by server id */
  readonly consoleAppends = new Map<string, { at: number; text: string }[]>();

  private readonly counters = new Map<string, number>();
  /** the real-time clock (ms); tests may pass one that disagrees with setTimeout, as a loaded machine's does */
  private readonly clock: () => number;
  private readonly realStart: number;
  private readonly simStart: number;
  private server?: Server;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly countedInRequest = new AsyncLocalStorage<{ counted: boolean }>();
  private seq = 0;
  private stopped = false;
  private readonly seed: number;
  /** one stream per service for request faults and latencies */
  private readonly requestRngs = new Map<string, SeededRng>();
  /** how many streams each resource key has had (a name reused gets a fresh, still seeded, stream) */
  private readonly resourceOrdinals = new Map<string, number>();
  private readonly rateFaults: { kind: 'error' | 'rate'; service: string; method?: string; path?: RegExp; rate: number; status?: number; retryAfter?: number }[] = [];

  constructor(scenario?: Scenario | string, clock: () => number = now) {
    this.clock = clock;
    this.realStart = clock();
    this.scenario = loadScenario(scenario);
    const seed = this.scenario.seed ?? 1;
    this.seed = seed;
    this.rng = new SeededRng(seed);
    this.idRng = new SeededRng((seed ^ 0x5eed1d5) >>> 0);
    this.timeScale = this.scenario.timeScale ?? 1;
    this.simStart = this.realStart;
    this.compileFaults();
  }

  /**
   * An independent seeded stream for `key` (e.g. "kube", "octavia"). Draws from one stream never shift another's,
   * so timers that fire in wall-clock order (kube controllers, kubelets) cannot change what another resource samples.
   */
  rngFor(key: string): SeededRng {
    return new SeededRng(deriveSeed(this.seed, key));
  }
  /**
   * The stream of ONE resource, keyed by its kind and name (plus how often that name was used before): its
   * latencies are the same for the same seed whatever else happens around it, in whatever order.
   */
  resourceRng(kind: string, name: string): SeededRng {
    const k = `${kind}/${name}`;
    const n = this.resourceOrdinals.get(k) ?? 0;
    this.resourceOrdinals.set(k, n + 1);
    return this.rngFor(`${k}/${n}`);
  }
  private requestRng(service: string): SeededRng {
    let r = this.requestRngs.get(service);
    if (!r) this.requestRngs.set(service, (r = this.rngFor(`request/${service}`)));
    return r;
  }

  compileFaults(): void {
    this.rateFaults.length = 0;
    const f = this.scenario.faults ?? {};
    for (const e of f.errorRates ?? [])
      this.rateFaults.push({ kind: 'error', service: canonicalService(e.service), method: e.method?.toUpperCase(), path: e.path ? new RegExp(e.path) : undefined, rate: e.rate, status: e.status });
    for (const e of f.rateLimit ?? [])
      this.rateFaults.push({ kind: 'rate', service: canonicalService(e.service), method: e.method?.toUpperCase(), path: e.path ? new RegExp(e.path) : undefined, rate: e.rate, retryAfter: e.retryAfter });
  }

  /** sim time in ms since the epoch; runs 1/timeScale times faster than real time */
  now(): number {
    return this.simStart + (this.clock() - this.realStart) / this.timeScale;
  }
  /** sim seconds since start */
  elapsed(): number {
    return (this.now() - this.simStart) / 1000;
  }
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.schedule(ms, resolve));
  }
  /** run fn after ms of sim time; cancelled on stop(). Returns a cancel function. */
  schedule(ms: number, fn: () => void): () => void {
    if (this.stopped) return () => {};
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.stopped) fn();
    }, Math.max(0, ms * this.timeScale));
    this.timers.add(t);
    return () => {
      clearTimeout(t);
      this.timers.delete(t);
    };
  }
  appendConsole(serverId: string, text: string): void {
    let list = this.consoleAppends.get(serverId);
    if (!list) this.consoleAppends.set(serverId, (list = []));
    list.push({ at: this.now(), text: text.endsWith('\n') ? text : text + '\n' });
  }
  count(service: string, method: string, path: string): void {
    const st = this.countedInRequest.getStore();
    if (st) st.counted = true;
    const key = `${service} ${method.toUpperCase()} ${path}`;
    this.counters.set(key, (this.counters.get(key) ?? 0) + 1);
  }
  record(type: string, subject: string, detail?: Record<string, unknown>): void {
    this.timeline.push({ seq: ++this.seq, type, subject, ...(detail ? { detail } : {}) });
    if (this.timeline.length > 20000) this.timeline.splice(0, this.timeline.length - 20000);
  }

  countersSnapshot(): { total: number; byService: Record<string, number>; requests: Record<string, number> } {
    const requests: Record<string, number> = {};
    const byService: Record<string, number> = {};
    let total = 0;
    for (const [k, v] of [...this.counters.entries()].sort(([a], [b]) => a.localeCompare(b))) {
      requests[k] = v;
      const svc = k.split(' ')[0]!;
      byService[svc] = (byService[svc] ?? 0) + v;
      total += v;
    }
    return { total, byService, requests };
  }
  resetCounters(): void {
    this.counters.clear();
  }
  stateSnapshot(): Record<string, unknown> {
    const out: Record<string, unknown> = { elapsedSeconds: this.elapsed(), timeline: this.timeline };
    for (const [k, fn] of Object.entries(this.stateProviders)) out[k] = fn();
    return out;
  }

  /** the service a path belongs to, and the path with any region prefix removed */
  classify(pathname: string): { service: string; path: string; region: string } {
    let path = pathname;
    let region = 'RegionOne';
    if (path === REGION_TWO_PREFIX || path.startsWith(REGION_TWO_PREFIX + '/')) {
      path = path.slice(REGION_TWO_PREFIX.length) || '/';
      region = 'RegionTwo';
    }
    for (const [prefix, svc] of SERVICE_PREFIXES) {
      if (path === prefix || path.startsWith(prefix + '/')) return { service: svc, path, region };
    }
    return { service: 'kube', path, region };
  }

  private inOutage(service: string): boolean {
    const t = this.elapsed();
    return (this.scenario.faults?.outages ?? []).some((o) => canonicalService(o.service) === service && t >= o.from && t < o.to);
  }

  async listen(port = 0): Promise<void> {
    this.server = createServer((req, res) => {
      void this.handle(req as SimRequest, res).catch((err: unknown) => {
        if (!res.headersSent) {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { code: 500, message: `simulator bug: ${(err as Error)?.stack ?? String(err)}` } }));
        } else res.destroy();
      });
    });
    this.server.keepAliveTimeout = 5000;
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (this.kubeUpgrade) return this.kubeUpgrade(req, socket, head);
      socket.end('HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n' + this.kubeMissingReason + '\n');
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, '127.0.0.1', () => resolve());
    });
    const addr = this.server.address() as AddressInfo;
    this.baseUrl = `http://127.0.0.1:${addr.port}`;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.events.removeAllListeners();
    const srv = this.server;
    if (!srv) return;
    await new Promise<void>((resolve) => {
      srv.close(() => resolve());
      srv.closeAllConnections?.();
    });
  }

  private async readBody(req: SimRequest): Promise<void> {
    if (req.method === 'GET' || req.method === 'HEAD') return;
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    req.rawBody = raw;
    if (raw.length === 0) return;
    const ct = String(req.headers['content-type'] ?? '');
    if (ct.includes('json') || ct === '' || raw[0] === 0x7b || raw[0] === 0x5b) {
      try {
        req.body = JSON.parse(raw.toString('utf8'));
      } catch (e) {
        req.bodyError = (e as Error).message;
      }
    }
  }

  private async handle(req: SimRequest, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.baseUrl || 'http://127.0.0.1');
    const method = (req.method ?? 'GET').toUpperCase();
    if (url.pathname === '/_sim' || url.pathname.startsWith('/_sim/')) {
      await this.readBody(req);
      return this.handleSim(req, res, url, method);
    }
    await this.readBody(req);
    const { service, path } = this.classify(url.pathname);
    const store = { counted: false };
    await this.countedInRequest.run(store, async () => {
      if (service !== 'kube') this.count(service, method, templatePath(service, url.pathname));
      const done = await this.pipeline(req, res, url, method, service, path);
      if (service === 'kube' && !store.counted) this.count('kube', method, templatePath('kube', url.pathname));
      return done;
    });
  }

  /** faults, latency, dispatch */
  private async pipeline(req: SimRequest, res: ServerResponse, url: URL, method: string, service: string, path: string): Promise<void> {
    if (this.inOutage(service)) {
      this.record('fault.outage', `${service} ${method} ${url.pathname}`);
      res.writeHead(503, { 'content-type': 'text/html', 'cache-control': 'no-cache', connection: 'close' });
      res.end('<html><body><h1>503 Service Unavailable</h1>\nNo server is available to handle this request.\n</body></html>\n');
      return;
    }
    for (const f of this.rateFaults) {
      if (f.service !== service) continue;
      if (f.method && f.method !== method) continue;
      if (f.path && !f.path.test(url.pathname)) continue;
      if (this.requestRng(service).next() >= f.rate) continue;
      if (f.kind === 'rate') {
        const ra = f.retryAfter ?? 1;
        this.record('fault.rateLimit', `${service} ${method} ${url.pathname}`, { retryAfter: ra });
        return sendFault(res, service, 429, `This request was rate-limited.`, { 'retry-after': String(ra) }, ra);
      }
      const status = f.status ?? 500;
      this.record('fault.error', `${service} ${method} ${url.pathname}`, { status });
      return sendFault(res, service, status, 'Unexpected API Error. Please report this at http://bugs.launchpad.net/nova/ and attach the Nova API log if possible.');
    }
    const spec = this.scenario.latency?.request?.[service] ?? this.scenario.latency?.request?.['*'];
    if (spec !== undefined) {
      const ms = this.requestRng(service).latency(spec);
      if (ms > 0) await this.sleep(ms);
    }
    if (service !== 'kube') {
      if (this.openstackHandler && (await this.openstackHandler(req, res, new URL(path + url.search, url)))) return;
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 404, message: `The resource could not be found.`, title: 'Not Found' } }));
      return;
    }
    if (this.kubeHandler) {
      if (await this.kubeHandler(req, res, url)) return;
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'the server could not find the requested resource', reason: 'NotFound', details: {}, code: 404 }));
      return;
    }
    if (url.pathname === '/api' || url.pathname.startsWith('/api/') || url.pathname.startsWith('/apis') || url.pathname === '/version') {
      res.writeHead(503, { 'content-type': 'text/plain' });
      res.end(this.kubeMissingReason + '\n');
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('404 page not found\n');
  }

  private handleSim(req: SimRequest, res: ServerResponse, url: URL, method: string): void {
    const json = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const p = url.pathname.replace(/\/+$/, '');
    if (method === 'GET' && p === '/_sim/counters') return json(200, this.countersSnapshot());
    if (method === 'GET' && p === '/_sim/state') return json(200, this.stateSnapshot());
    if (method === 'GET' && p === '/_sim/timeline') return json(200, this.timeline);
    if (method === 'POST' && p === '/_sim/reset-counters') {
      this.resetCounters();
      return json(200, { ok: true });
    }
    if (method === 'POST' && p === '/_sim/scenario') {
      const patch = req.body as { faults?: Scenario['faults']; latency?: Scenario['latency'] } | undefined;
      if (!patch || typeof patch !== 'object') return json(400, { error: 'body must be a JSON object like {"faults": {...}}' });
      try {
        this.patchScenario(patch);
      } catch (e) {
        return json(400, { error: (e as Error).message });
      }
      return json(200, { faults: this.scenario.faults ?? {}, latency: this.scenario.latency ?? {} });
    }
    json(404, { error: `unknown sim endpoint ${method} ${p}; try GET /_sim/counters, GET /_sim/state, POST /_sim/reset-counters, POST /_sim/scenario` });
  }

  /** merge faults/latency at runtime (tests). Outage windows given here are relative to now. */
  patchScenario(patch: { faults?: Scenario['faults']; latency?: Scenario['latency'] }): void {
    const faults = { ...(patch.faults ?? {}) };
    if (faults.outages) faults.outages = faults.outages.map((o) => ({ ...o, from: o.from + this.elapsed(), to: o.to + this.elapsed() }));
    const merged = loadScenario({ ...this.scenario, faults: { ...(this.scenario.faults ?? {}), ...faults }, latency: { ...(this.scenario.latency ?? {}), ...(patch.latency ?? {}) } });
    (this.scenario as { faults?: Scenario['faults'] }).faults = merged.faults;
    (this.scenario as { latency?: Scenario['latency'] }).latency = merged.latency;
    this.compileFaults();
    for (const l of this.scenarioListeners) l();
    this.record('scenario.patched', 'faults', { keys: Object.keys(patch.faults ?? {}) });
  }
}

/** error bodies in each service's own shape */
export function sendFault(res: ServerResponse, service: string, status: number, message: string, headers: Record<string, string> = {}, retryAfter?: number): void {
  let body: unknown;
  const h = { 'content-type': 'application/json', ...headers };
  switch (service) {
    case 'compute':
    case 'volume':
      body = status === 429 || status === 413
        ? { overLimit: { code: status, message, retryAfter: String(retryAfter ?? 0) } }
        : status === 503 ? { serviceUnavailable: { code: 503, message } } : { computeFault: { code: status, message } };
      break;
    case 'network':
      body = { NeutronError: { type: status === 429 ? 'HTTPTooManyRequests' : 'HTTPInternalServerError', message: status === 429 ? message : 'Request Failed: internal server error while processing your request.', detail: '' } };
      break;
    case 'load-balancer':
      body = { faultcode: 'Server', faultstring: status === 429 ? message : 'Internal Server Error', debuginfo: null };
      break;
    case 'kube':
      body = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: status === 429 ? 'Too many requests, please try again later.' : 'Internal error occurred: simulated fault', reason: status === 429 ? 'TooManyRequests' : 'InternalError', details: status === 429 ? { retryAfterSeconds: retryAfter ?? 1 } : {}, code: status };
      break;
    default:
      body = { error: { code: status, message, title: status === 429 ? 'Too Many Requests' : 'Internal Server Error' } };
  }
  res.writeHead(status, h);
  res.end(JSON.stringify(body));
}
