/**
 * Keystone v3 authentication: password (project-scoped) and application credential (by id, or by name + user).
 * One token shared by concurrent callers (single-flight), refreshed before it expires, invalidated on 401.
 */
import { ConfigError, KaddError, OpenStackError } from '../errors.js';
import type { Clock } from '../clock.js';
import { registerSecret } from '../redact.js';
import type { Http } from './http.js';
import { parseErrorBody } from './http.js';
import type { CatalogEntry } from './catalog.js';

/** Auth fields in clouds.yaml spelling (snake_case). */
export interface SnakeAuth {
  username?: string;
  user_id?: string;
  password?: string;
  user_domain_name?: string;
  user_domain_id?: string;
  project_name?: string;
  project_id?: string;
  project_domain_name?: string;
  project_domain_id?: string;
  domain_name?: string;
  domain_id?: string;
  application_credential_id?: string;
  application_credential_secret?: string;
  application_credential_name?: string;
}

/** The same in lib/openstack/config.ts ResolvedAuth spelling (camelCase); either (or both) may be given. */
export interface CamelAuth {
  username?: string;
  userId?: string;
  password?: string;
  userDomainName?: string;
  userDomainId?: string;
  projectName?: string;
  projectId?: string;
  projectDomainName?: string;
  projectDomainId?: string;
  domainName?: string;
  domainId?: string;
  applicationCredentialId?: string;
  applicationCredentialName?: string;
  applicationCredentialSecret?: string;
}

/**
 * The fields of a resolved cloud (lib/openstack/config.ts ResolvedCloud) the client uses.
 * Declared here structurally so the client does not depend on how the config is resolved.
 */
export interface CloudAuthInput {
  authUrl: string;
  authType: 'password' | 'v3applicationcredential';
  auth: SnakeAuth & CamelAuth;
  regionName?: string;
  interface: 'public' | 'internal' | 'admin';
  verify: boolean;
  /** path of a PEM CA bundle */
  cacert?: string;
  /** path of a PEM client certificate */
  cert?: string;
  /** path of a PEM client key */
  key?: string;
  /** seconds */
  apiTimeout?: number;
}

/** One snake_case view of the auth fields, whichever spelling the caller used. */
export function normaliseAuth(a: SnakeAuth & CamelAuth): SnakeAuth {
  return {
    username: a.username,
    user_id: a.user_id ?? a.userId,
    password: a.password,
    user_domain_name: a.user_domain_name ?? a.userDomainName,
    user_domain_id: a.user_domain_id ?? a.userDomainId,
    project_name: a.project_name ?? a.projectName,
    project_id: a.project_id ?? a.projectId,
    project_domain_name: a.project_domain_name ?? a.projectDomainName,
    project_domain_id: a.project_domain_id ?? a.projectDomainId,
    domain_name: a.domain_name ?? a.domainName,
    domain_id: a.domain_id ?? a.domainId,
    application_credential_id: a.application_credential_id ?? a.applicationCredentialId,
    application_credential_secret: a.application_credential_secret ?? a.applicationCredentialSecret,
    application_credential_name: a.application_credential_name ?? a.applicationCredentialName,
  };
}

export interface Token {
  value: string;
  expiresAt: number;
  issuedAt: number;
  projectId: string;
  projectName?: string;
  userId?: string;
  catalog: CatalogEntry[];
}

/** Refresh this long before expiry (capped at half the token's lifetime for very short-lived tokens). */
export const REFRESH_MARGIN_MS = 5 * 60_000;

/** The Keystone v3 base URL: auth_url with /v3 appended when it carries no version. */
export function identityBase(authUrl: string): string {
  const u = authUrl.replace(/\/+$/, '');
  if (/\/v3$/.test(u)) return u;
  if (/\/v2\.0$/.test(u)) return u.replace(/\/v2\.0$/, '/v3');
  return `${u}/v3`;
}

function domainOf(id: string | undefined, name: string | undefined): { id: string } | { name: string } | undefined {
  if (id) return { id };
  if (name) return { name };
  return undefined;
}

/** Who is authenticating, for messages (never the secret). */
export function principal(cloud: CloudAuthInput): string {
  const a = normaliseAuth(cloud.auth);
  if (cloud.authType === 'v3applicationcredential') {
    if (a.application_credential_id) return `application credential ${a.application_credential_id}`;
    return `application credential '${a.application_credential_name ?? '?'}' of user ${a.user_id ?? `'${a.username ?? '?'}'`}`;
  }
  return a.user_id ? `user ${a.user_id}` : `user '${a.username ?? '?'}'`;
}

/** The POST /v3/auth/tokens body. Throws ConfigError (exit 2, before any request) when something is missing. */
export function buildAuthBody(cloud: CloudAuthInput): unknown {
  const a = normaliseAuth(cloud.auth);
  // python-openstackclient's rule: an unset user/project domain falls back to domain_id/domain_name, then 'default'
  const defDomain = domainOf(a.domain_id, a.domain_name) ?? { id: 'default' };
  if (cloud.authType === 'v3applicationcredential') {
    if (!a.application_credential_secret) {
      throw new ConfigError('application credential auth needs application_credential_secret', {
        code: 'E_OPENSTACK_AUTH_CONFIG',
        hint: 'set OS_APPLICATION_CREDENTIAL_SECRET or auth.application_credential_secret in clouds.yaml/secure.yaml',
      });
    }
    const ac: Record<string, unknown> = {};
    if (a.application_credential_id) ac.id = a.application_credential_id;
    else if (a.application_credential_name) {
      ac.name = a.application_credential_name;
      if (a.user_id) ac.user = { id: a.user_id };
      else if (a.username) ac.user = { name: a.username, domain: domainOf(a.user_domain_id, a.user_domain_name) ?? defDomain };
      else {
        throw new ConfigError('an application credential given by name needs the user (user_id, or username and user_domain_name)', {
          code: 'E_OPENSTACK_AUTH_CONFIG',
          hint: 'set OS_APPLICATION_CREDENTIAL_ID instead, or OS_USER_ID / OS_USERNAME',
        });
      }
    } else {
      throw new ConfigError('application credential auth needs application_credential_id or application_credential_name', {
        code: 'E_OPENSTACK_AUTH_CONFIG',
        hint: 'set OS_APPLICATION_CREDENTIAL_ID (or auth.application_credential_id in clouds.yaml)',
      });
    }
    ac.secret = a.application_credential_secret;
    // an application credential is bound to its project: no scope may be sent
    return { auth: { identity: { methods: ['application_credential'], application_credential: ac } } };
  }
  if (!a.password) {
    throw new ConfigError('password auth needs a password', {
      code: 'E_OPENSTACK_AUTH_CONFIG',
      hint: 'set OS_PASSWORD or auth.password in clouds.yaml/secure.yaml',
    });
  }
  let user: Record<string, unknown>;
  if (a.user_id) user = { id: a.user_id, password: a.password };
  else if (a.username) user = { name: a.username, domain: domainOf(a.user_domain_id, a.user_domain_name) ?? defDomain, password: a.password };
  else {
    throw new ConfigError('password auth needs username or user_id', { code: 'E_OPENSTACK_AUTH_CONFIG', hint: 'set OS_USERNAME or auth.username' });
  }
  let project: Record<string, unknown>;
  if (a.project_id) project = { id: a.project_id };
  else if (a.project_name) project = { name: a.project_name, domain: domainOf(a.project_domain_id, a.project_domain_name) ?? defDomain };
  else {
    throw new ConfigError('password auth needs a project (project_name or project_id): kadd works inside one project', {
      code: 'E_OPENSTACK_AUTH_CONFIG',
      hint: 'set OS_PROJECT_NAME (with OS_PROJECT_DOMAIN_NAME) or OS_PROJECT_ID',
    });
  }
  return { auth: { identity: { methods: ['password'], password: { user } }, scope: { project } } };
}

interface TokenBody {
  token?: {
    expires_at?: string;
    issued_at?: string;
    project?: { id?: string; name?: string };
    user?: { id?: string; name?: string };
    catalog?: CatalogEntry[];
  };
}

/** What the --debug trace shows of a token response: no catalog URLs flood, no secrets. */
function summariseTokenBody(b: unknown): unknown {
  const t = (b as TokenBody)?.token;
  if (!t) return b;
  return {
    expires_at: t.expires_at,
    project: t.project && { id: t.project.id, name: t.project.name },
    user: t.user && { id: t.user.id, name: t.user.name },
    catalog: (t.catalog ?? []).map((c) => c.type).join(', '),
  };
}

export class Authenticator {
  private token?: Token;
  private inflight?: Promise<Token>;
  private authenticated = false;
  readonly identityUrl: string;

  constructor(
    private readonly cloud: CloudAuthInput,
    private readonly http: Http,
    private readonly clock: Clock,
  ) {
    this.identityUrl = identityBase(cloud.authUrl);
    const a = normaliseAuth(cloud.auth);
    registerSecret(a.password);
    registerSecret(a.application_credential_secret);
  }

  /** A valid token: the cached one, the one being fetched, or a new one. */
  async get(): Promise<Token> {
    const t = this.token;
    if (t && this.fresh(t)) return t;
    this.inflight ??= this.authenticate().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  /** Forget `value` after a 401 (only if it is still the current token: concurrent 401s re-auth once). */
  invalidate(value: string): void {
    if (this.token?.value === value) this.token = undefined;
  }

  private fresh(t: Token): boolean {
    const lifetime = Math.max(0, t.expiresAt - t.issuedAt);
    const margin = Math.min(REFRESH_MARGIN_MS, lifetime / 2);
    return this.clock.now() < t.expiresAt - margin;
  }

  private async authenticate(): Promise<Token> {
    const body = buildAuthBody(this.cloud);
    const url = `${this.identityUrl}/auth/tokens`;
    const who = principal(this.cloud);
    // the first line of every command that talks to OpenStack: says where kadd is waiting
    this.http.notify?.({ level: this.authenticated ? 'debug' : 'info', kind: 'endpoint', message: `authenticating at ${this.identityUrl} as ${who}` });
    let res;
    try {
      res = await this.http.send({
        service: 'identity',
        method: 'POST',
        url,
        body,
        // creating a token has no side effect worth protecting: safe to repeat after a reset
        idempotent: true,
        traceResponse: summariseTokenBody,
      });
    } catch (e) {
      // bad local input (CA file) and Ctrl-C pass through unchanged
      if (e instanceof KaddError && (e.exitCode === 2 || e.exitCode === 130)) throw e;
      const msg = e instanceof Error ? e.message : String(e);
      const inner = e instanceof KaddError ? e : undefined;
      throw new OpenStackError(
        `authentication at ${this.identityUrl} for ${who} failed: ${msg}`,
        { service: 'identity', method: 'POST', url, code: inner?.code ?? 'E_OPENSTACK_AUTH' },
        { cause: e, hint: inner?.hint },
      );
    }
    if (res.status !== 201 && res.status !== 200) {
      const detail = parseErrorBody(res.json, res.text);
      const hint =
        res.status === 401
          ? 'check the credentials (password or application credential secret, user and project domain)'
          : res.status === 404
            ? 'check auth_url: it should be the Keystone endpoint, e.g. https://keystone.example.com:5000/v3'
            : undefined;
      throw new OpenStackError(
        `authentication at ${this.identityUrl} for ${who} failed: ${res.status}${detail ? ` ${detail}` : ''}`,
        { status: res.status, service: 'identity', method: 'POST', url, code: 'E_OPENSTACK_AUTH' },
        hint ? { hint } : {},
      );
    }
    const value = res.headers.get('x-subject-token');
    const t = (res.json as TokenBody | undefined)?.token;
    if (!value || !t) {
      throw new OpenStackError(`authentication at ${this.identityUrl} for ${who}: the answer carries no token (is this a Keystone v3 endpoint?)`, {
        service: 'identity',
        code: 'E_OPENSTACK_AUTH',
      });
    }
    registerSecret(value);
    this.authenticated = true;
    const projectId = t.project?.id;
    if (!projectId) {
      throw new OpenStackError(`authentication at ${this.identityUrl} for ${who}: the token is not scoped to a project`, {
        service: 'identity',
        code: 'E_OPENSTACK_AUTH',
      }, { hint: 'set a project (OS_PROJECT_NAME or OS_PROJECT_ID)' });
    }
    if (!Array.isArray(t.catalog)) {
      throw new OpenStackError(`authentication at ${this.identityUrl} for ${who}: the token carries no service catalog`, {
        service: 'identity',
        code: 'E_OPENSTACK_AUTH',
      });
    }
    const now = this.clock.now();
    const expiresAt = t.expires_at ? Date.parse(t.expires_at) : NaN;
    const issued = t.issued_at ? Date.parse(t.issued_at) : NaN;
    const token: Token = {
      value,
      // a token without expiry (never in practice) is treated as valid for an hour
      expiresAt: Number.isNaN(expiresAt) ? now + 3_600_000 : expiresAt,
      issuedAt: Number.isNaN(issued) ? now : Math.min(issued, now),
      projectId,
      projectName: t.project?.name,
      userId: t.user?.id,
      catalog: t.catalog,
    };
    this.token = token;
    return token;
  }
}
