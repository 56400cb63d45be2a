/** Small helpers shared by the simulated OpenStack services. */
import type { ServerResponse } from 'node:http';
import type { SimRequest } from '../core.js';
import type { Token } from './store.js';

export { intToIp, ipToInt, parseCidr } from './ip.js';

export interface Ctx {
  req: SimRequest;
  res: ServerResponse;
  url: URL;
  method: string;
  /** path below the service prefix, e.g. /v2.1/servers/abc */
  path: string;
  query: URLSearchParams;
  body: unknown;
  token?: Token;
  /** public base of this service as the client reached it (with region prefix) */
  base: string;
}

export type RouteFn = (ctx: Ctx, params: string[]) => void | Promise<void>;
export interface Route {
  method: string;
  re: RegExp;
  fn: RouteFn;
}

/** '/servers/:id/action' -> regex with one capture per :param */
export function route(method: string, pattern: string, fn: RouteFn): Route {
  const re = new RegExp('^' + pattern.replace(/\/+$/, '').replace(/:[a-zA-Z_]+/g, '([^/]+)') + '/?$');
  return { method, re, fn };
}

/** returns true if a route matched (and ran); 'method' when only the method did not match */
export async function dispatch(routes: Route[], ctx: Ctx): Promise<boolean | 'method'> {
  let pathMatched = false;
  for (const r of routes) {
    const m = r.re.exec(ctx.path);
    if (!m) continue;
    pathMatched = true;
    if (r.method !== ctx.method && !(r.method === 'GET' && ctx.method === 'HEAD')) continue;
    await r.fn(ctx, m.slice(1).map((s) => decodeURIComponent(s)));
    return true;
  }
  return pathMatched ? 'method' : false;
}

export function send(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
  if (body === undefined || status === 204) {
    res.writeHead(status, headers);
    res.end();
    return;
  }
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain; charset=UTF-8' : 'application/json', ...headers });
  res.end(text);
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
/** 2017-02-14T19:23:58Z (Nova, Neutron, Glance) */
export function isoZ(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}
/** 2013-02-25T02:40:21.000000 (Cinder) */
export function isoMicro(ms: number): string {
  const d = new Date(ms);
  return d.toISOString().replace(/\.(\d{3})Z$/, (_m, f: string) => `.${f}000`);
}
/** 2017-05-11T17:21:34 (Octavia) */
export function isoPlain(ms: number): string {
  return isoZ(ms).replace('Z', '');
}
/** 2015-11-07T02:58:43.578000Z (Keystone) */
export function isoKeystone(ms: number): string {
  return isoMicro(ms) + 'Z';
}
/** parse an ISO 8601 time as clients send it (changes-since); UTC when no zone is given */
export function parseTime(s: string): number | undefined {
  const t = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(s) ? s : s + 'Z');
  return Number.isNaN(t) ? undefined : t;
}
export { pad };

/** microversion parsing, e.g. "2.52" -> [2, 52]; "latest" -> max */
export function parseMicroversion(
  headers: SimRequest['headers'],
  service: string,
  legacyHeader: string | undefined,
  min: [number, number],
  max: [number, number],
): { version: [number, number]; error?: string } {
  let raw: string | undefined;
  const h = headers['openstack-api-version'];
  const hv = Array.isArray(h) ? h.join(',') : h;
  if (hv) {
    for (const part of hv.split(',')) {
      const [svc, ver] = part.trim().split(/\s+/);
      if (svc?.toLowerCase() === service && ver) raw = ver;
    }
  }
  if (!raw && legacyHeader) {
    const l = headers[legacyHeader];
    raw = Array.isArray(l) ? l[0] : l;
  }
  if (!raw) return { version: min };
  if (raw.toLowerCase() === 'latest') return { version: max };
  const m = /^(\d+)\.(\d+)$/.exec(raw.trim());
  if (!m) return { version: min, error: `Invalid API version request string: ${raw}` };
  const v: [number, number] = [Number(m[1]), Number(m[2])];
  if (cmpVersion(v, min) < 0 || cmpVersion(v, max) > 0)
    return { version: min, error: `Version ${raw} is not supported by the API. Minimum is ${min.join('.')} and maximum is ${max.join('.')}.` };
  return { version: v };
}
export function cmpVersion(a: [number, number], b: [number, number]): number {
  return a[0] !== b[0] ? a[0] - b[0] : a[1] - b[1];
}

/** keep list pagination linear: one pass to find the marker, one slice */
export function paginate<T extends { id: string }>(items: T[], limit: number | undefined, marker: string | undefined): { page: T[]; markerMissing: boolean } {
  let start = 0;
  if (marker) {
    const i = items.findIndex((x) => x.id === marker);
    if (i < 0) return { page: [], markerMissing: true };
    start = i + 1;
  }
  const page = limit !== undefined ? items.slice(start, start + limit) : items.slice(start);
  return { page, markerMissing: false };
}
