/**
 * The HTTP layer of the OpenStack client, on Node's global fetch.
 *
 * - per-request timeout (AbortSignal.timeout combined with the operation's signal), and a first-byte
 *   deadline per attempt (connect + response headers, default 20 s): a server that accepts TCP and
 *   never answers is given up on in seconds, retried at most twice, each retry shown as a warning
 * - retry with exponential backoff and full jitter:
 *     connection errors and 5xx      -> only for idempotent requests (GET HEAD PUT DELETE, or idempotent: true)
 *     errors before anything was sent (ECONNREFUSED, DNS) -> any method: the server never saw the request
 *     429, and 413 with Retry-After  -> any method: the server did not process the request
 *   A POST that may have reached the server is NEVER retried blindly: the caller gets an OpenStackError
 *   with code E_OPENSTACK_UNCERTAIN and looks the resource up by name before trying again.
 * - a request counter per `${service} ${METHOD}` (every request sent, retries included)
 * - a --debug trace of every request and response through io.trace, with secrets redacted
 *
 * Global fetch (not the undici package's fetch) is used on purpose: nock 14 on Node 20 intercepts only
 * global fetch (research/deps.md section 2). A dispatcher (undici Agent) is passed only when a custom CA,
 * a client certificate or --insecure needs one.
 */
import { InterruptedError, KaddError, OpenStackError } from '../errors.js';
import type { ClientNotify, Io } from '../io.js';
import type { Clock } from '../clock.js';
import { redactText, redactValue } from '../redact.js';
import { noteChange } from '../effects.js';
import type { HttpMethod, RequestCounts } from './types.js';

export interface HttpRequest {
  /** service type used for counting and messages: identity, compute, network, block-storage, image, load-balancer */
  service: string;
  method: HttpMethod;
  url: string;
  headers?: Record<string, string>;
  /** JSON body */
  body?: unknown;
  /** override the method's idempotency (e.g. POST /auth/tokens, os-getConsoleOutput are safe to repeat) */
  idempotent?: boolean;
  /** also retry 409 (Octavia answers 409 while a load balancer is PENDING_UPDATE; the request was refused) */
  retryOn409?: boolean;
  /** summarise the response body for the trace (e.g. the Keystone token with its large catalog) */
  traceResponse?: (body: unknown) => unknown;
}

export interface HttpResponse {
  status: number;
  headers: Headers;
  /** parsed JSON when the body is JSON, otherwise undefined */
  json: unknown;
  text: string;
  ms: number;
  url: string;
}

export interface HttpOptions {
  /** traces only (--debug); the client never prints */
  io: Io;
  /** Keystone's endpoint and every retry (the CLI logs them; absent: not shown) */
  notify?: ClientNotify;
  /** called as each request leaves (fetch called, not answered): the CLI loads the Kubernetes client
   *  while Keystone answers the first one instead of before it (lib/cli/context.ts) */
  onSend?: () => void;
  clock: Clock;
  signal?: AbortSignal;
  /** per request, default 60 s */
  timeoutMs?: number;
  /** connect + response headers, per attempt; default 20 s (at most timeoutMs) */
  firstByteTimeoutMs?: number;
  /** retries of an attempt that got no answer at all (first-byte or request deadline), default 2 */
  stallRetries?: number;
  /** retries after the first attempt, default 4 */
  retries?: number;
  /** backoff base, default 500 ms; delay n = random(0, min(max, base * 2^n)) (full jitter) */
  backoffBaseMs?: number;
  /** backoff cap, default 20 s */
  backoffMaxMs?: number;
  /** a Retry-After longer than this fails the request instead of waiting, default 120 s */
  maxRetryAfterMs?: number;
  /** random in [0, 1), injectable for tests */
  random?: () => number;
  /** resolves the dispatcher (undici Agent) when TLS options need one; undefined otherwise */
  dispatcher?: () => Promise<unknown | undefined>;
}

const IDEMPOTENT = new Set<HttpMethod>(['GET', 'HEAD', 'PUT', 'DELETE']);
const IDEMPOTENT_READS = new Set<HttpMethod>(['GET', 'HEAD']);
/** errors raised before the request left this machine: safe to retry for every method */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);
const TRACE_BODY_MAX = 8000;

export class RequestCounter {
  private map = new Map<string, number>();
  add(service: string, method: string): void {
    const k = `${service} ${method}`;
    this.map.set(k, (this.map.get(k) ?? 0) + 1);
  }
  snapshot(): RequestCounts {
    const out: RequestCounts = {};
    for (const [k, v] of [...this.map.entries()].sort(([a], [b]) => a.localeCompare(b))) out[k] = v;
    return out;
  }
  reset(): void {
    this.map.clear();
  }
}

/** Parse a Retry-After header (delta seconds or an HTTP date) into milliseconds from now. */
export function parseRetryAfter(v: string | null, now: number): number | undefined {
  if (v === null || v.trim() === '') return undefined;
  const s = v.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 1000);
  const t = Date.parse(s);
  if (Number.isNaN(t)) return undefined;
  return Math.max(0, t - now);
}

/**
 * Turn an OpenStack error body into one line.
 * Nova {badRequest:{message,code}} / {itemNotFound:{...}} / {conflictingRequest:...}, Neutron {NeutronError:{message,type}},
 * Cinder {badRequest:{message}}, Octavia {faultstring}, Keystone {error:{message,code,title}}, Glance HTML/text.
 */
export function parseErrorBody(json: unknown, text: string): string {
  const pick = (o: unknown): string | undefined => {
    if (!o || typeof o !== 'object') return undefined;
    const r = o as Record<string, unknown>;
    for (const k of ['message', 'faultstring', 'description', 'detail', 'title']) {
      if (typeof r[k] === 'string' && (r[k] as string).trim()) return (r[k] as string).trim();
    }
    return undefined;
  };
  if (json && typeof json === 'object' && !Array.isArray(json)) {
    const r = json as Record<string, unknown>;
    const direct = pick(r);
    if (direct) return oneLine(direct);
    for (const v of Object.values(r)) {
      if (typeof v === 'string' && v.trim() && Object.keys(r).length === 1) return oneLine(v);
      const m = pick(v);
      if (m) return oneLine(m);
    }
  }
  const stripped = text.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim();
  return oneLine(stripped.slice(0, 300));
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}

function truncate(s: string): string {
  return s.length > TRACE_BODY_MAX ? `${s.slice(0, TRACE_BODY_MAX)}… (${s.length - TRACE_BODY_MAX} more chars)` : s;
}

/** Render a body for the --debug trace, redacted. */
export function traceBody(body: unknown): string {
  if (body === undefined || body === '') return '';
  if (typeof body === 'string') return truncate(redactText(body));
  return truncate(redactText(JSON.stringify(redactValue(body))));
}

function errCode(e: unknown): string | undefined {
  const o = e as { code?: unknown; cause?: { code?: unknown; cause?: { code?: unknown } } } | undefined;
  const c = o?.cause?.code ?? o?.cause?.cause?.code ?? o?.code;
  return typeof c === 'string' ? c : undefined;
}

function isTlsCode(code: string): boolean {
  return /^(CERT_|ERR_TLS_|ERR_SSL_)|SELF_SIGNED|UNABLE_TO_(VERIFY|GET_ISSUER)|HOSTNAME_MISMATCH/.test(code);
}

function errMessage(e: unknown): string {
  const o = e as { message?: unknown; cause?: { message?: unknown } } | undefined;
  const m = o?.cause?.message ?? o?.message;
  return typeof m === 'string' ? m : String(e);
}

/** Strip the query string and userinfo for messages (query strings carry names only, but keep errors short). */
function shortUrl(u: string): string {
  try {
    const x = new URL(u);
    return `${x.origin}${x.pathname}`;
  } catch {
    return u;
  }
}

export const OPENSTACK_FIRST_BYTE_TIMEOUT_MS = 20_000;

function secs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

export class Http {
  readonly counter = new RequestCounter();
  private readonly timeoutMs: number;
  private readonly firstByteMs: number;
  private readonly stallRetries: number;
  private readonly retries: number;
  private readonly base: number;
  private readonly max: number;
  private readonly maxRetryAfter: number;
  private readonly random: () => number;

  constructor(private readonly opts: HttpOptions) {
    this.timeoutMs = opts.timeoutMs ?? 60_000;
    this.firstByteMs = Math.min(opts.firstByteTimeoutMs ?? OPENSTACK_FIRST_BYTE_TIMEOUT_MS, this.timeoutMs);
    this.stallRetries = opts.stallRetries ?? 2;
    this.retries = opts.retries ?? 4;
    this.base = opts.backoffBaseMs ?? 500;
    this.max = opts.backoffMaxMs ?? 20_000;
    this.maxRetryAfter = opts.maxRetryAfterMs ?? 120_000;
    this.random = opts.random ?? Math.random;
  }

  /** where the authenticator reports the endpoint it reaches (the caller's callback; absent: nowhere) */
  get notify(): ClientNotify | undefined {
    return this.opts.notify;
  }

  private backoff(attempt: number): number {
    const cap = Math.min(this.max, this.base * 2 ** attempt);
    return Math.floor(this.random() * cap);
  }

  private trace(msg: string): void {
    if (this.opts.io.debug) this.opts.io.trace(redactText(msg));
  }

  /** Send one request, retrying where that is safe. Returns the final response whatever its status. */
  async send(req: HttpRequest): Promise<HttpResponse> {
    const idempotent = req.idempotent ?? IDEMPOTENT.has(req.method);
    const headers: Record<string, string> = { Accept: 'application/json', ...req.headers };
    let payload: string | undefined;
    if (req.body !== undefined) {
      payload = JSON.stringify(req.body);
      headers['Content-Type'] ??= 'application/json';
    }
    const dispatcher = this.opts.dispatcher ? await this.opts.dispatcher() : undefined;
    const label = `${req.service} ${req.method} ${shortUrl(req.url)}`;

    let stalls = 0;
    for (let attempt = 0; ; attempt++) {
      this.checkAborted();
      const canRetry = attempt < this.retries;
      const timeout = AbortSignal.timeout(this.timeoutMs);
      // no headers within firstByteMs (a server that accepts TCP and never answers): give up on this attempt
      const firstByte = new AbortController();
      const fbTimer = setTimeout(() => firstByte.abort(), this.firstByteMs);
      const signal = AbortSignal.any([...(this.opts.signal ? [this.opts.signal] : []), timeout, firstByte.signal]);
      const t0 = performance.now();
      this.counter.add(req.service, req.method);
      if (req.service !== 'identity' && !IDEMPOTENT_READS.has(req.method)) noteChange(`${req.service} ${req.method}`);
      this.trace(`--> ${req.method} ${req.url}${attempt ? ` (retry ${attempt})` : ''}${payload ? ` ${traceBody(req.body)}` : ''}`);
      let res: Response;
      let text: string;
      let gotHeaders = false;
      try {
        const init: RequestInit & { dispatcher?: unknown } = { method: req.method, headers, body: payload, signal };
        if (dispatcher) init.dispatcher = dispatcher;
        const answer = fetch(req.url, init as RequestInit);
        this.opts.onSend?.();
        res = await answer;
        gotHeaders = true;
        clearTimeout(fbTimer);
        text = req.method === 'HEAD' ? '' : await res.text();
      } catch (e) {
        clearTimeout(fbTimer);
        const ms = Math.round(performance.now() - t0);
        if (this.opts.signal?.aborted) throw this.interrupted();
        const timedOut = timeout.aborted || firstByte.signal.aborted;
        const code = timedOut ? 'ETIMEDOUT' : errCode(e);
        const what = !timedOut
          ? `${code ?? 'connection error'}: ${errMessage(e)}`
          : !gotHeaders
            ? `no answer within ${secs(firstByte.signal.aborted ? this.firstByteMs : this.timeoutMs)}`
            : `no complete answer within ${secs(this.timeoutMs)}`;
        this.trace(`<-- ${req.method} ${req.url} FAILED after ${ms} ms: ${what}`);
        if (code && isTlsCode(code)) {
          // a certificate problem does not go away by retrying
          throw new OpenStackError(
            `${label}: TLS verification failed (${code}: ${errMessage(e)})`,
            { service: req.service, method: req.method, url: req.url, code: 'E_OPENSTACK_TLS' },
            { cause: e, hint: 'give the CA bundle with --os-cacert (cacert in clouds.yaml), or --insecure to skip verification' },
          );
        }
        const notSent = !timedOut && code !== undefined && NOT_SENT_CODES.has(code);
        if (timedOut) stalls++;
        const retriesLeft = timedOut ? stalls <= this.stallRetries : canRetry;
        if ((idempotent || notSent) && canRetry && retriesLeft) {
          const wait = this.backoff(attempt);
          const max = timedOut ? this.stallRetries : this.retries;
          const n = timedOut ? stalls : attempt + 1;
          this.opts.notify?.({ level: 'warn', kind: 'retry', message: redactText(`${label}: ${what}; retry ${n} of ${max}${wait >= 1000 ? ` in ${Math.round(wait / 1000)} s` : ''}`) });
          await this.sleep(wait);
          continue;
        }
        if (!idempotent && !notSent) {
          throw new OpenStackError(
            `${label}: ${what}; the request may or may not have been processed, so it was not repeated`,
            { service: req.service, method: req.method, url: req.url, code: 'E_OPENSTACK_UNCERTAIN' },
            { cause: e, hint: 'check whether the resource exists before trying again' },
          );
        }
        throw new OpenStackError(
          `${label}: ${what} (gave up after ${attempt + 1} attempts)`,
          { service: req.service, method: req.method, url: req.url, code: timedOut ? 'E_OPENSTACK_TIMEOUT' : 'E_OPENSTACK_CONNECT' },
          { cause: e, hint: 'check the endpoint is reachable (network, proxy, --os-interface) and try again' },
        );
      }
      const ms = Math.round(performance.now() - t0);
      let json: unknown;
      if (text && /json/i.test(res.headers.get('content-type') ?? 'application/json')) {
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
      }
      const shown = json !== undefined ? (req.traceResponse ? req.traceResponse(json) : json) : text;
      this.trace(`<-- ${res.status} ${req.method} ${req.url} (${ms} ms)${shown !== '' ? ` ${traceBody(shown)}` : ''}`);

      const status = res.status;
      const retryAfter = parseRetryAfter(res.headers.get('retry-after'), this.opts.clock.now());
      const rateLimited = status === 429 || (status === 413 && retryAfter !== undefined);
      const serverError = status >= 500 && status !== 501;
      const busy = status === 409 && req.retryOn409 === true;
      if (canRetry && (rateLimited || (serverError && idempotent) || busy)) {
        const wait = retryAfter ?? this.backoff(attempt);
        if (retryAfter !== undefined && retryAfter > this.maxRetryAfter) {
          throw new OpenStackError(
            `${label}: ${status} rate limited; the server asks to wait ${Math.ceil(retryAfter / 1000)} s, more than the ${Math.ceil(this.maxRetryAfter / 1000)} s kadd waits`,
            { status, service: req.service, method: req.method, url: req.url },
            { hint: 'try again later' },
          );
        }
        this.opts.notify?.({ level: 'warn', kind: 'retry', message: redactText(`${label}: ${status}${rateLimited ? ' (rate limited)' : busy ? ' (busy)' : ''}; retry ${attempt + 1} of ${this.retries}${wait >= 1000 ? ` in ${Math.round(wait / 1000)} s` : ''}`) });
        await this.sleep(wait);
        continue;
      }
      return { status, headers: res.headers, json, text, ms, url: req.url };
    }
  }

  private interrupted(): KaddError {
    const r: unknown = this.opts.signal?.reason;
    return r instanceof KaddError ? r : new InterruptedError();
  }

  private checkAborted(): void {
    if (this.opts.signal?.aborted) throw this.interrupted();
  }

  private async sleep(ms: number): Promise<void> {
    try {
      await this.opts.clock.sleep(ms, this.opts.signal);
    } catch (e) {
      if (this.opts.signal?.aborted) throw this.interrupted();
      throw e;
    }
  }
}

/** Build the OpenStackError for a final non-2xx response. */
export function responseError(req: { service: string; method: string; url: string; idempotent?: boolean }, res: HttpResponse, prefix?: string): OpenStackError {
  const detail = parseErrorBody(res.json, res.text);
  const idempotent = req.idempotent ?? IDEMPOTENT.has(req.method as HttpMethod);
  const uncertain = res.status >= 500 && !idempotent;
  const msg =
    `${prefix ?? `${req.service} ${req.method} ${shortUrl(req.url)}`}: ${res.status}${detail ? ` ${detail}` : ''}` +
    (uncertain ? '; the request may or may not have been processed, so it was not repeated' : '');
  return new OpenStackError(
    redactText(msg),
    { status: res.status, service: req.service, method: req.method, url: req.url, code: uncertain ? 'E_OPENSTACK_UNCERTAIN' : undefined },
    uncertain ? { hint: 'check whether the resource exists before trying again' } : {},
  );
}

