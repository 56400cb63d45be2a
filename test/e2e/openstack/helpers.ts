/**
 * Plain-fetch helpers for the e2e suite against the real OpenStack started by test/e2e/openstack/start.sh.
 * Deliberately independent of lib/openstack (the code under test): these helpers are the referee.
 */
import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { load } from 'js-yaml';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const FIXTURES_DIR = join(REPO_ROOT, 'fixtures', 'openstack-real');
export const DEFAULT_CLOUDS = '/var/tmp/kadd-openstack/clouds.yaml';

export interface CloudAuth {
  auth_url: string;
  username: string;
  password: string;
  project_name: string;
  user_domain_name: string;
  project_domain_name: string;
}
export interface CloudEntry {
  auth: CloudAuth;
  region_name: string;
  interface?: string;
}

export interface Env {
  clouds: string;
  cloud: string;
  adminCloud: string;
  az: string;
  image: string;
  flavor: string;
  flavorTooBig: string;
  keypair: string;
  externalNetwork: string;
}

export function e2eEnv(): Env {
  const e = process.env;
  return {
    clouds: e.KADD_E2E_CLOUDS ?? DEFAULT_CLOUDS,
    cloud: e.KADD_E2E_CLOUD ?? 'kadd',
    adminCloud: e.KADD_E2E_ADMIN_CLOUD ?? 'kadd-admin',
    az: e.KADD_E2E_AZ ?? 'az1',
    image: e.KADD_E2E_IMAGE ?? 'kadd-e2e-image',
    flavor: e.KADD_E2E_FLAVOR ?? 'e2e.small',
    flavorTooBig: e.KADD_E2E_FLAVOR_TOO_BIG ?? 'e2e.huge',
    keypair: e.KADD_E2E_KEYPAIR ?? 'kadd-e2e',
    externalNetwork: e.KADD_E2E_EXTERNAL_NETWORK ?? 'public',
  };
}

/** Why the real cloud cannot be used, or undefined when it answers. */
export async function cloudUnavailable(env: Env): Promise<string | undefined> {
  let entry: CloudEntry;
  try {
    entry = readCloud(env.clouds, env.cloud);
  } catch (err) {
    return `no usable clouds.yaml (${(err as Error).message}); start the cloud with "sudo bash test/e2e/openstack/start.sh" or run "npm run test:e2e"`;
  }
  try {
    const res = await fetch(entry.auth.auth_url, { signal: AbortSignal.timeout(3000) });
    await res.arrayBuffer();
  } catch (err) {
    return `Keystone at ${entry.auth.auth_url} does not answer (${(err as Error).message}); start the cloud with "sudo bash test/e2e/openstack/start.sh"`;
  }
  return undefined;
}

export function readCloud(path: string, name: string): CloudEntry {
  const doc = load(readFileSync(path, 'utf8')) as { clouds?: Record<string, CloudEntry> };
  const entry = doc?.clouds?.[name];
  if (!entry?.auth?.auth_url) throw new Error(`cloud "${name}" not found in ${path}`);
  return entry;
}

export interface CatalogEntry {
  type: string;
  name: string;
  endpoints: { interface: string; region_id: string; region: string; url: string }[];
}

export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

const MICROVERSION: Record<string, string> = {
  compute: 'compute 2.79',
  volumev3: 'volume 3.60',
};

export class Session {
  private constructor(
    readonly token: string,
    readonly projectId: string,
    readonly userId: string,
    readonly catalog: CatalogEntry[],
    readonly region: string,
    readonly tokenBody: any,
  ) {}

  static async password(entry: CloudEntry): Promise<Session> {
    const a = entry.auth;
    const res = await fetch(`${a.auth_url.replace(/\/$/, '')}/auth/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        auth: {
          identity: {
            methods: ['password'],
            password: { user: { name: a.username, domain: { name: a.user_domain_name }, password: a.password } },
          },
          scope: { project: { name: a.project_name, domain: { name: a.project_domain_name } } },
        },
      }),
    });
    const body = (await res.json()) as any;
    const token = res.headers.get('x-subject-token');
    if (res.status !== 201 || !token) throw new Error(`Keystone auth failed: HTTP ${res.status}`);
    return new Session(token, body.token.project.id, body.token.user.id, body.token.catalog, entry.region_name, body);
  }

  endpoint(type: string): string {
    const svc = this.catalog.find((c) => c.type === type);
    const ep = svc?.endpoints.find((e) => e.interface === 'public' && (e.region_id === this.region || e.region === this.region));
    if (!ep) throw new Error(`no public ${type} endpoint in region ${this.region}`);
    return ep.url.replace(/\/$/, '');
  }

  /** One request; throws unless the status is in `ok`. */
  async req<T = any>(method: string, type: string, path: string, body?: unknown, ok: number[] = [200, 201, 202, 204]): Promise<ApiResponse<T>> {
    const base = type === 'image' || type === 'load-balancer' ? `${this.endpoint(type)}/v2` : type === 'network' ? `${this.endpoint(type)}/v2.0` : this.endpoint(type);
    const headers: Record<string, string> = { 'x-auth-token': this.token, accept: 'application/json' };
    if (MICROVERSION[type]) headers['openstack-api-version'] = MICROVERSION[type];
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    let parsed: any = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      /* not JSON: keep the text */
    }
    if (!ok.includes(res.status)) {
      throw new Error(`${method} ${type}${path} -> HTTP ${res.status}: ${text.slice(0, 400)}`);
    }
    return { status: res.status, headers: res.headers, body: parsed as T };
  }
}

/** Poll fn every `everyMs` until it returns a value, or throw after `timeoutMs`. */
export async function pollUntil<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 120_000, everyMs = 1000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timeout after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

const UUID = /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi;
const HEX32 = /\b[0-9a-f]{32}\b/gi;
const SECRET_KEYS = new Set(['adminPass', 'password', 'secret', 'user_data', 'OS-EXT-SRV-ATTR:user_data', 'private_key']);

/**
 * Sanitizer for recorded responses: ids become stable placeholders (same id, same placeholder, format
 * kept: UUID stays UUID-shaped, 32-hex stays 32-hex), secrets and token audit ids are replaced.
 */
export class Sanitizer {
  private readonly ids = new Map<string, string>();

  private placeholder(id: string): string {
    const key = id.toLowerCase();
    let p = this.ids.get(key);
    if (!p) {
      const n = (this.ids.size + 1).toString(16).padStart(12, '0');
      p = id.includes('-') ? `00000000-0000-4000-8000-${n}` : `00000000000000000000${n}`;
      this.ids.set(key, p);
    }
    return p;
  }

  private str(s: string): string {
    return s.replace(UUID, (m) => this.placeholder(m)).replace(HEX32, (m) => this.placeholder(m));
  }

  clean(v: unknown, key?: string): unknown {
    if (key && SECRET_KEYS.has(key) && v != null) return 'REDACTED';
    if (key === 'audit_ids' && Array.isArray(v)) return v.map(() => 'AUDIT_ID_REDACTED');
    if (typeof v === 'string') return this.str(v);
    if (Array.isArray(v)) return v.map((x) => this.clean(x));
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[this.str(k)] = this.clean(x, k);
      return out;
    }
    return v;
  }
}

export interface RecordedRequest {
  method: string;
  path: string;
  microversion?: string;
}

/**
 * Records sanitized real response bodies: fixtures/openstack-real/<service>/<name>.json holds exactly
 * the (sanitized) body; fixtures/openstack-real/index.json says which request and status produced it.
 * Recording is opt-in (KADD_E2E_RECORD=1), so a normal e2e run leaves the committed fixtures alone.
 */
export class Recorder {
  readonly san = new Sanitizer();
  private readonly index: Record<string, { request: RecordedRequest; status: number }> = {};
  readonly enabled = process.env.KADD_E2E_RECORD === '1';

  /** indexFile: relative to fixtures/openstack-real/ (default index.json, the one the fidelity test requires the simulator to answer) */
  constructor(private readonly indexFile = 'index.json') {}

  record(service: string, name: string, res: ApiResponse, request: RecordedRequest): void {
    if (!this.enabled) return;
    const dir = join(FIXTURES_DIR, service);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${name}.json`), `${JSON.stringify(this.san.clean(res.body), null, 2)}\n`);
    this.index[`${service}/${name}.json`] = {
      request: { ...request, path: this.san.clean(request.path) as string },
      status: res.status,
    };
  }

  flush(): void {
    if (!this.enabled || Object.keys(this.index).length === 0) return;
    const file = join(FIXTURES_DIR, this.indexFile);
    let old: { files?: Record<string, unknown> } = {};
    try {
      old = JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      /* first recording */
    }
    const files = { ...(old.files ?? {}), ...this.index };
    const sorted = Object.fromEntries(Object.entries(files).sort(([a], [b]) => a.localeCompare(b)));
    const doc = {
      source: 'Debian 12 (bookworm) OpenStack Zed, started by test/e2e/openstack/start.sh; recorded by test/e2e/openstack/*.e2e.test.ts',
      sanitized: 'ids (UUID and 32-hex) replaced by stable placeholders of the same shape; adminPass, passwords, secrets, user_data and token audit_ids REDACTED; no token value is ever recorded',
      files: sorted,
    };
    writeFileSync(file, `${JSON.stringify(doc, null, 2)}\n`);
  }
}
