/**
 * Request counter from the real services' own API logs in the state dir: snapshot the log sizes, run
 * something, then parse the lines appended since. Independent of kadd (the referee).
 *
 * Formats (Debian Zed, as configured by configure.sh):
 *   nova-api.out      ... nova.api.openstack.requestlog [None req-X USER PROJECT ...] 127.0.0.1 "GET /v2.1/..." status: 200 ...
 *   neutron-server.log ... neutron.wsgi [None req-X USER PROJECT ...] 127.0.0.1 "POST /v2.0/ports HTTP/1.1" status: 201 ...
 *   cinder-api.log    ... cinder.api.openstack.wsgi [None req-X USER PROJECT ...] POST http://127.0.0.1:8776/v3/...
 *   glance-api.log    ... eventlet.wsgi.server [None req-X USER PROJECT ...] 127.0.0.1 - - [date] "GET /v2/images HTTP/1.1" 200 ...
 *   keystone.out      [pid: N|app: 0|req: a/b] 127.0.0.1 () {...} [date] POST /v3/auth/tokens => generated ... (HTTP/1.1 201)
 *   octavia-api.out   [pid: N|app: 0|req: a/b] 127.0.0.1 () {...} [date] POST /v2/lbaas/pools/ID/members => generated ... (HTTP/1.1 409)
 *
 * keystone.out and octavia-api.out are uwsgi's access logs: they name no user (USERLESS); octavia-api.log only
 * logs the writes it hands to the provider, not the refused ones, so the access log is the one counted.
 * A cloud started before Octavia was added has no octavia-api.out (and no Octavia to call): it is optional.
 */
import { existsSync, openSync, readSync, closeSync, statSync } from 'node:fs';
import { join } from 'node:path';

export type LogService = 'compute' | 'network' | 'volume' | 'image' | 'identity' | 'load-balancer';

export interface LoggedRequest {
  service: LogService;
  method: string;
  /** path with query, without scheme/host */
  path: string;
  /** Keystone user id of the caller, when the service logs it */
  user?: string;
  /** ms since the epoch (local time in the log), when the line has one */
  time?: number;
  status?: number;
}

const FILES: Record<LogService, string> = {
  compute: 'nova-api.out',
  network: 'neutron-server.log',
  volume: 'cinder-api.log',
  image: 'glance-api.log',
  identity: 'keystone.out',
  'load-balancer': 'octavia-api.out',
};

/** services whose log names no user: a filter on kadd's user must keep their user-less lines */
export const USERLESS: ReadonlySet<LogService> = new Set<LogService>(['identity', 'load-balancer']);
/** logs that may be missing (the service is not in every cloud) */
const OPTIONAL: ReadonlySet<LogService> = new Set<LogService>(['load-balancer']);

const UWSGI = String.raw`^\[pid: [^\]]+\] \S+ \(\) \{[^}]*\} \[[^\]]+\] ()()([A-Z]+) (\S+) => .*\(HTTP/[\d.]+ (\d+)\)`;

const CTX = String.raw`\[(?:None )?(?:req-\S+ (\S+) (\S+)[^\]]*|-)\]`;
const PATTERNS: Record<LogService, RegExp> = {
  compute: new RegExp(String.raw`nova\.api\.openstack\.requestlog ${CTX} \S+ "([A-Z]+) ([^"]+)" status: (\d+)`),
  network: new RegExp(String.raw`neutron\.wsgi ${CTX} \S+ "([A-Z]+) (\S+) HTTP/[\d.]+" status: (\d+)`),
  volume: new RegExp(String.raw`cinder\.api\.openstack\.wsgi ${CTX} ([A-Z]+) (https?://\S+)\s*$()`),
  image: new RegExp(String.raw`eventlet\.wsgi\.server ${CTX} \S+ - - \[[^\]]+\] "([A-Z]+) (\S+) HTTP/[\d.]+" (\d+)`),
  identity: new RegExp(UWSGI),
  'load-balancer': new RegExp(UWSGI),
};

const TS = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)\.(\d{3})/;
/** uwsgi: [Sat Nov 21 20:37:41 2026] (local time, whole seconds) */
const UWSGI_TS = /\} \[\w{3} (\w{3}) +(\d+) (\d\d):(\d\d):(\d\d) (\d{4})\] [A-Z]+ /;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

export function parseLine(service: LogService, line: string): LoggedRequest | undefined {
  const m = PATTERNS[service].exec(line);
  if (!m) return undefined;
  const [, user, , method, rawPath, status] = m;
  let path = rawPath!;
  if (/^https?:/.test(path)) {
    const u = new URL(path);
    path = u.pathname + u.search;
  }
  const t = TS.exec(line);
  const u = t ? null : UWSGI_TS.exec(line);
  const time = t
    ? new Date(+t[1]!, +t[2]! - 1, +t[3]!, +t[4]!, +t[5]!, +t[6]!, +t[7]!).getTime()
    : u && MONTHS.includes(u[1]!)
      ? new Date(+u[6]!, MONTHS.indexOf(u[1]!), +u[2]!, +u[3]!, +u[4]!, +u[5]!).getTime()
      : undefined;
  return { service, method: method!, path, user: user && user !== '-' ? user : undefined, time, status: status ? Number(status) : undefined };
}

export function isMutating(r: LoggedRequest): boolean {
  if (r.method === 'GET' || r.method === 'HEAD') return false;
  // issuing a token changes nothing kadd is accountable for
  if (r.service === 'identity' && r.method === 'POST' && /^\/v3\/auth\/tokens\b/.test(r.path)) return false;
  // reading a console is a POST action without side effects
  if (r.service === 'compute' && r.method === 'POST' && /\/action$/.test(r.path)) return false;
  return true;
}

export class ApiLog {
  private offsets = new Map<LogService, number>();

  constructor(readonly logDir: string) {}

  static forState(state: string): ApiLog {
    return new ApiLog(join(state, 'log'));
  }

  available(): boolean {
    return (Object.keys(FILES) as LogService[]).every((s) => OPTIONAL.has(s) || existsSync(join(this.logDir, FILES[s])));
  }

  /** Remember where each log ends now. */
  mark(): void {
    for (const s of Object.keys(FILES) as LogService[]) {
      const f = join(this.logDir, FILES[s]);
      this.offsets.set(s, existsSync(f) ? statSync(f).size : 0);
    }
  }

  /** Requests logged since mark(). Waits briefly so buffered log lines land first. */
  async since(settleMs = 600): Promise<LoggedRequest[]> {
    await new Promise((r) => setTimeout(r, settleMs));
    const out: LoggedRequest[] = [];
    for (const s of Object.keys(FILES) as LogService[]) {
      const f = join(this.logDir, FILES[s]);
      if (!existsSync(f)) continue;
      const start = this.offsets.get(s) ?? 0;
      const size = statSync(f).size;
      if (size <= start) continue;
      const buf = Buffer.alloc(size - start);
      const fd = openSync(f, 'r');
      try {
        readSync(fd, buf, 0, buf.length, start);
      } finally {
        closeSync(fd);
      }
      for (const line of buf.toString('utf8').split('\n')) {
        const r = parseLine(s, line);
        if (r && r.path !== '/') out.push(r);
      }
    }
    return out;
  }
}

export function summarize(reqs: LoggedRequest[]): string {
  const m = new Map<string, number>();
  for (const r of reqs) {
    const k = `${r.service} ${r.method} ${r.path.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32}/g, '{id}').replace(/\?.*/, '')}`;
    m.set(k, (m.get(k) ?? 0) + 1);
  }
  return [...m.entries()].map(([k, n]) => `${n}x ${k}`).join('; ');
}
