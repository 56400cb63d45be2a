/**
 * createOpenStackClient: the typed OpenStack client (lib/openstack/types.ts) on Node's global fetch.
 *
 * Microversions (chosen, not "latest", so answers keep the shape this code parses):
 *   compute 2.67  tags on create (2.52+), networks "auto"/"none" (2.37+), BDMv2 volume_type (2.67);
 *                 every Nova since Stein (2019) has it. The Zed sandbox goes to 2.93.
 *   volume  3.59  Cinder since Train; generic list filters and metadata filtering are all below it.
 *   Neutron, Glance and Octavia have no microversions.
 */
import { readFile } from 'node:fs/promises';
import { ConfigError, OpenStackError } from '../errors.js';
import type { Io } from '../io.js';
import { realClock, type Clock } from '../clock.js';
import { Http, responseError, type HttpOptions, type HttpResponse } from './http.js';
import { Authenticator, type CloudAuthInput, type Token } from './auth.js';
import { catalogRegions, resolveEndpoint, type ServiceName } from './catalog.js';
import type { CallOptions, HttpMethod, OpenStackClient, Query, RequestCounts, ServiceCaller } from './types.js';
import type { ResolvedCloud } from './config.js';
import { createComputeApi } from './compute.js';
import { createVolumeApi } from './volume.js';
import { createImageApi } from './image.js';
import { createNetworkApi } from './network.js';
import { createLoadBalancerApi } from './loadbalancer.js';

export type { CloudAuthInput } from './auth.js';

export const COMPUTE_MICROVERSION = '2.67';
export const VOLUME_MICROVERSION = '3.59';

const MICROVERSION_HEADERS: Partial<Record<ServiceName, Record<string, string>>> = {
  compute: { 'OpenStack-API-Version': `compute ${COMPUTE_MICROVERSION}`, 'X-OpenStack-Nova-API-Version': COMPUTE_MICROVERSION },
  'block-storage': { 'OpenStack-API-Version': `volume ${VOLUME_MICROVERSION}` },
};

/** The retry and timeout knobs are HttpOptions' (documented there, tests use backoffBaseMs: 1). */
export interface ClientOptions
  extends Pick<HttpOptions, 'io' | 'notify' | 'onSend' | 'signal' | 'retries' | 'backoffBaseMs' | 'backoffMaxMs' | 'maxRetryAfterMs' | 'random'> {
  /** default: the real clock */
  clock?: Clock;
  /** per request; default: the cloud's api_timeout, else 60 s */
  timeoutMs?: number;
}

export function buildUrl(base: string, path: string, query?: Query): string {
  const u = new URL(base + (path.startsWith('/') ? path : `/${path}`));
  for (const [k, v] of Object.entries(query ?? {})) {
    if (Array.isArray(v)) for (const x of v) u.searchParams.append(k, x);
    else if (v !== undefined && v !== null && v !== '') u.searchParams.set(k, String(v));
  }
  return u.toString();
}

const MAX_PAGES = 1000;

class Client implements ServiceCaller {
  private readonly http: Http;
  private readonly auth: Authenticator;
  private readonly endpoints = new Map<string, string>();
  private dispatcherP?: Promise<unknown | undefined>;

  constructor(
    private readonly cloud: CloudAuthInput,
    opts: ClientOptions,
  ) {
    const clock = opts.clock ?? realClock;
    const needsAgent = cloud.verify === false || !!cloud.cacert || !!cloud.cert || !!cloud.key;
    this.http = new Http({
      io: opts.io,
      notify: opts.notify,
      onSend: opts.onSend,
      clock,
      signal: opts.signal,
      timeoutMs: opts.timeoutMs ?? (cloud.apiTimeout ? cloud.apiTimeout * 1000 : undefined),
      retries: opts.retries,
      backoffBaseMs: opts.backoffBaseMs,
      backoffMaxMs: opts.backoffMaxMs,
      maxRetryAfterMs: opts.maxRetryAfterMs,
      random: opts.random,
      dispatcher: needsAgent ? () => (this.dispatcherP ??= createDispatcher(cloud)) : undefined,
    });
    this.auth = new Authenticator(cloud, this.http, clock);
  }

  counts(): RequestCounts {
    return this.http.counter.snapshot();
  }
  resetCounts(): void {
    this.http.counter.reset();
  }

  async projectId(): Promise<string> {
    return (await this.auth.get()).projectId;
  }

  async regions(): Promise<string[]> {
    return catalogRegions((await this.auth.get()).catalog);
  }

  /** Resolved once per service: a refreshed token carries the same cloud's catalog. */
  private endpoint(token: Token, service: ServiceName): string {
    let url = this.endpoints.get(service);
    if (!url) {
      url = resolveEndpoint(token.catalog, service, { region: this.cloud.regionName, interface: this.cloud.interface, projectId: token.projectId });
      this.endpoints.set(service, url);
    }
    return url;
  }

  private async send(service: ServiceName, method: HttpMethod, urlOrPath: string, opts: CallOptions, absolute: boolean): Promise<{ res: HttpResponse; url: string }> {
    for (let authAttempt = 0; ; authAttempt++) {
      const token = await this.auth.get();
      const url = absolute ? urlOrPath : buildUrl(this.endpoint(token, service), urlOrPath, opts.query);
      const res = await this.http.send({
        service,
        method,
        url,
        body: opts.body,
        idempotent: opts.idempotent,
        retryOn409: opts.retryOn409,
        headers: { 'X-Auth-Token': token.value, ...MICROVERSION_HEADERS[service] },
      });
      if (res.status === 401) {
        this.auth.invalidate(token.value);
        if (authAttempt === 0) continue; // re-authenticate once (a 401 means the request was not processed)
        throw responseError({ service, method, url }, res, `${service} ${method} ${shortPath(url)}: still unauthorized after re-authenticating`);
      }
      return { res, url };
    }
  }

  async call<T = unknown>(service: ServiceName, method: HttpMethod, path: string, opts: CallOptions = {}): Promise<T | null> {
    const { res, url } = await this.send(service, method, path, opts, false);
    if (res.status === 404 && opts.notFoundNull) return null;
    const ok = opts.ok ? opts.ok.includes(res.status) : res.status >= 200 && res.status < 300;
    if (!ok) throw responseError({ service, method, url, idempotent: opts.idempotent }, res);
    return (res.json ?? null) as T | null;
  }

  async list<T>(service: ServiceName, path: string, key: string, query?: Query): Promise<T[]> {
    const out: T[] = [];
    let url: string | undefined;
    const seen = new Set<string>();
    for (let page = 0; page < MAX_PAGES; page++) {
      const r: { res: HttpResponse; url: string } = url
        ? await this.send(service, 'GET', url, {}, true)
        : await this.send(service, 'GET', path, { query }, false);
      if (r.res.status < 200 || r.res.status >= 300) throw responseError({ service, method: 'GET', url: r.url }, r.res);
      const body = (r.res.json ?? {}) as Record<string, unknown>;
      const items = body[key];
      if (!Array.isArray(items)) {
        throw new OpenStackError(`${service} GET ${shortPath(r.url)}: the answer has no '${key}' list`, { service, method: 'GET', url: r.url });
      }
      out.push(...(items as T[]));
      const next = nextLink(body, key);
      if (!next || items.length === 0) return out;
      url = followLink(r.url, next);
      if (seen.has(url)) {
        throw new OpenStackError(`${service} GET ${shortPath(r.url)}: pagination loops (the next link repeats)`, { service, method: 'GET', url });
      }
      seen.add(url);
    }
    throw new OpenStackError(`${service} GET ${path}: more than ${MAX_PAGES} pages`, { service, method: 'GET' });
  }
}

function shortPath(u: string): string {
  try {
    return new URL(u).pathname;
  } catch {
    return u;
  }
}

function nextLink(body: Record<string, unknown>, key: string): string | undefined {
  const links = body[`${key}_links`] ?? body.links;
  if (Array.isArray(links)) {
    const n = links.find((l) => l && typeof l === 'object' && (l as { rel?: string }).rel === 'next') as { href?: string } | undefined;
    if (n?.href) return n.href;
  }
  if (typeof body.next === 'string' && body.next) return body.next; // Glance
  return undefined;
}

/**
 * The next page: the link's query string on the URL we actually called. Services behind a TLS-terminating
 * proxy often put their internal scheme/host (http://controller:8774) in links; only the marker matters.
 */
export function followLink(current: string, href: string): string {
  const cur = new URL(current);
  const nxt = new URL(href, cur);
  const u = new URL(cur.toString());
  u.search = nxt.search;
  return u.toString();
}

async function createDispatcher(cloud: CloudAuthInput): Promise<unknown> {
  const read = async (what: string, p: string | undefined): Promise<string | undefined> => {
    if (!p) return undefined;
    try {
      return await readFile(p, 'utf8');
    } catch (e) {
      throw new ConfigError(`cannot read the ${what} ${p}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, {
        code: 'E_OPENSTACK_TLS',
        hint: `fix the path (cacert/cert/key in clouds.yaml, --os-cacert, OS_CACERT/OS_CERT/OS_KEY)`,
      });
    }
  };
  const [ca, cert, key] = await Promise.all([read('CA bundle', cloud.cacert), read('client certificate', cloud.cert), read('client key', cloud.key)]);
  if (!!cert !== !!key) {
    throw new ConfigError(`a client certificate needs both cert and key (got only ${cert ? 'cert' : 'key'})`, { code: 'E_OPENSTACK_TLS' });
  }
  const { Agent } = await import('undici');
  const connect: Record<string, unknown> = { rejectUnauthorized: cloud.verify !== false };
  if (ca) connect.ca = ca;
  if (cert) connect.cert = cert;
  if (key) connect.key = key;
  return new Agent({ connect });
}

export function createOpenStackClient(
  cloud: CloudAuthInput,
  opts: ClientOptions,
): OpenStackClient {
  const c = new Client(cloud, opts);
  return {
    compute: createComputeApi(c),
    volume: createVolumeApi(c),
    image: createImageApi(c),
    network: createNetworkApi(c),
    loadbalancer: createLoadBalancerApi(c, { clock: opts.clock }),
    projectId: () => c.projectId(),
    regions: () => c.regions(),
    counts: () => c.counts(),
    resetCounts: () => c.resetCounts(),
  };
}

// Compile-time check: a ResolvedCloud from lib/openstack/config.ts is accepted as it is.
const _resolvedCloudFits = (r: ResolvedCloud): CloudAuthInput => r;
void _resolvedCloudFits;
