/** Keystone v3: password and application-credential tokens, catalog, version document. */
import { createHash } from 'node:crypto';
import type { SimCoreImpl } from '../core.js';
import { REGION_TWO_PREFIX } from '../core.js';
import type { Store, Token, User, AppCred } from './store.js';
import { type Ctx, type Route, route, send, isoKeystone } from './util.js';

const UNAUTHORIZED = { error: { code: 401, message: 'The request you have made requires authentication.', title: 'Unauthorized' } };

export function unauthorized(ctx: Ctx, baseUrl: string): void {
  send(ctx.res, 401, UNAUTHORIZED, { 'www-authenticate': `Keystone uri="${baseUrl}/identity"` });
}

function badRequest(ctx: Ctx, what: string): void {
  send(ctx.res, 400, {
    error: {
      code: 400,
      message: `${what} The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.`,
      title: 'Bad Request',
    },
  });
}

/** the services in the catalog: type, name, path on the sim (project-scoped where the real one is) */
const CATALOG: { type: string; name: string; path: (projectId: string) => string }[] = [
  { type: 'identity', name: 'keystone', path: () => '/identity' },
  { type: 'compute', name: 'nova', path: () => '/compute/v2.1' },
  { type: 'network', name: 'neutron', path: () => '/network' },
  { type: 'volumev3', name: 'cinderv3', path: (p) => `/volume/v3/${p}` },
  { type: 'block-storage', name: 'cinder', path: (p) => `/volume/v3/${p}` },
  { type: 'image', name: 'glance', path: () => '/image' },
  { type: 'load-balancer', name: 'octavia', path: () => '/load-balancer' },
];
export const REGIONS = ['RegionOne', 'RegionTwo'];

function stableId(s: string): string {
  return createHash('sha256').update(s).digest('hex').slice(0, 32);
}

export function catalog(baseUrl: string, projectId: string): unknown[] {
  return CATALOG.map((svc) => ({
    endpoints: REGIONS.flatMap((region) =>
      ['public', 'internal', 'admin'].map((iface) => ({
        id: stableId(`${svc.type}/${region}/${iface}`),
        interface: iface,
        region,
        region_id: region,
        url: baseUrl + (region === 'RegionOne' ? '' : REGION_TWO_PREFIX) + svc.path(projectId),
      })),
    ),
    id: stableId(svc.type),
    type: svc.type,
    name: svc.name,
  }));
}

export class Keystone {
  constructor(private readonly core: SimCoreImpl, private readonly store: Store) {}

  get ttlMs(): number {
    return (this.core.scenario.identity?.tokenTtl ?? 3600) * 1000;
  }

  /** the token of a service request, or undefined (bad, unknown or expired) */
  validate(id: string | undefined): Token | undefined {
    if (!id) return undefined;
    const t = this.store.tokens.get(id);
    if (!t) return undefined;
    if (t.expiresAt <= this.core.now()) return undefined;
    if (t.appCredId && !this.store.appCreds.has(t.appCredId)) return undefined;
    return t;
  }

  private findUser(u: { id?: string; name?: string; domain?: { id?: string; name?: string } } | undefined): User | undefined {
    if (!u) return undefined;
    if (u.id) return this.store.users.get(u.id);
    if (!u.name || !u.domain) return undefined;
    const domainId = u.domain.id ?? [...this.store.domains.values()].find((d) => d.name === u.domain!.name)?.id;
    return [...this.store.users.values()].find((x) => x.name === u.name && x.domainId === domainId);
  }

  private findProject(p: { id?: string; name?: string; domain?: { id?: string; name?: string } }): string | undefined {
    if (p.id) return this.store.projects.has(p.id) ? p.id : undefined;
    const domainId = p.domain?.id ?? [...this.store.domains.values()].find((d) => d.name === p.domain?.name)?.id;
    return [...this.store.projects.values()].find((x) => x.name === p.name && x.domainId === domainId)?.id;
  }

  routes(): Route[] {
    return [
      route('GET', '', (ctx) => send(ctx.res, 300, { versions: { values: [this.versionDoc(ctx).version] } })),
      route('GET', '/v3', (ctx) => send(ctx.res, 200, this.versionDoc(ctx))),
      route('POST', '/v3/auth/tokens', (ctx) => this.issue(ctx)),
      route('GET', '/v3/auth/tokens', (ctx) => {
        const caller = this.validate(header(ctx, 'x-auth-token'));
        if (!caller) return unauthorized(ctx, this.core.baseUrl);
        const subject = this.validate(header(ctx, 'x-subject-token'));
        if (!subject) return send(ctx.res, 404, { error: { code: 404, message: 'Could not find token.', title: 'Not Found' } });
        send(ctx.res, 200, this.tokenBody(subject, ctx.query.get('nocatalog') === null), { 'x-subject-token': subject.id });
      }),
      route('DELETE', '/v3/auth/tokens', (ctx) => {
        const caller = this.validate(header(ctx, 'x-auth-token'));
        if (!caller) return unauthorized(ctx, this.core.baseUrl);
        const id = header(ctx, 'x-subject-token');
        if (!id || !this.store.tokens.delete(id)) return send(ctx.res, 404, { error: { code: 404, message: 'Could not find token.', title: 'Not Found' } });
        send(ctx.res, 204);
      }),
      route('GET', '/v3/auth/catalog', (ctx) => {
        const t = this.validate(header(ctx, 'x-auth-token'));
        if (!t) return unauthorized(ctx, this.core.baseUrl);
        send(ctx.res, 200, { catalog: catalog(this.core.baseUrl, t.projectId), links: { self: `${this.core.baseUrl}/identity/v3/auth/catalog`, previous: null, next: null } });
      }),
      route('POST', '/v3/users/:id/application_credentials', (ctx, [userId]) => this.createAppCred(ctx, userId!)),
      route('GET', '/v3/users/:id/application_credentials', (ctx, [userId]) => {
        const t = this.validate(header(ctx, 'x-auth-token'));
        if (!t) return unauthorized(ctx, this.core.baseUrl);
        if (t.userId !== userId) return forbidden(ctx, 'identity:list_application_credentials');
        const list = [...this.store.appCreds.values()].filter((a) => a.userId === userId).map((a) => this.appCredBody(a, false));
        send(ctx.res, 200, { application_credentials: list, links: { self: `${this.core.baseUrl}/identity/v3/users/${userId}/application_credentials`, previous: null, next: null } });
      }),
      route('DELETE', '/v3/users/:id/application_credentials/:ac', (ctx, [userId, acId]) => {
        const t = this.validate(header(ctx, 'x-auth-token'));
        if (!t) return unauthorized(ctx, this.core.baseUrl);
        if (t.userId !== userId) return forbidden(ctx, 'identity:delete_application_credential');
        if (t.appCredId && !this.store.appCreds.get(t.appCredId)?.unrestricted) return forbidden(ctx, "Using method 'application_credential' is not allowed for managing additional application credentials.");
        if (!this.store.appCreds.delete(acId!)) return send(ctx.res, 404, { error: { code: 404, message: `Could not find application credential: ${acId}.`, title: 'Not Found' } });
        send(ctx.res, 204);
      }),
    ];
  }

  private versionDoc(_ctx: Ctx): { version: unknown } {
    return {
      version: {
        id: 'v3.14',
        status: 'stable',
        updated: '2020-04-07T00:00:00Z',
        links: [{ rel: 'self', href: `${this.core.baseUrl}/identity/v3/` }],
        'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.identity-v3+json' }],
      },
    };
  }

  private issue(ctx: Ctx): void {
    if (ctx.req.bodyError) return badRequest(ctx, 'Malformed JSON in request body.');
    const auth = (ctx.body as { auth?: { identity?: Record<string, unknown> & { methods?: unknown }; scope?: unknown } } | undefined)?.auth;
    if (!auth) return badRequest(ctx, 'Expecting to find auth in request body.');
    const identity = auth.identity;
    if (!identity) return badRequest(ctx, 'Expecting to find identity in auth.');
    const methods = identity.methods;
    if (!Array.isArray(methods) || methods.length === 0) return badRequest(ctx, "Invalid input for field 'identity/methods': [] is too short");
    const now = this.core.now();
    let user: User | undefined;
    let projectId: string | undefined;
    let appCred: AppCred | undefined;
    if (methods.includes('application_credential')) {
      const ac = identity.application_credential as { id?: string; name?: string; secret?: string; user?: { id?: string; name?: string; domain?: { id?: string; name?: string } } } | undefined;
      if (!ac || typeof ac.secret !== 'string') return badRequest(ctx, 'Expecting to find secret in application_credential.');
      if (ac.id) appCred = this.store.appCreds.get(ac.id);
      else if (ac.name) {
        const owner = this.findUser(ac.user);
        appCred = owner ? [...this.store.appCreds.values()].find((a) => a.userId === owner.id && a.name === ac.name) : undefined;
      } else return badRequest(ctx, 'Expecting to find id or name in application_credential.');
      if (!appCred || appCred.secret !== ac.secret || (appCred.expiresAt !== null && appCred.expiresAt <= now)) {
        this.core.record('identity.auth.failed', 'application_credential');
        return unauthorized(ctx, this.core.baseUrl);
      }
      if (auth.scope) {
        return send(ctx.res, 401, { error: { code: 401, message: 'The request you have made requires authentication.', title: 'Unauthorized' } });
      }
      user = this.store.users.get(appCred.userId);
      projectId = appCred.projectId;
    } else if (methods.includes('password')) {
      const pw = identity.password as { user?: { id?: string; name?: string; password?: string; domain?: { id?: string; name?: string } } } | undefined;
      if (!pw?.user) return badRequest(ctx, 'Expecting to find user in password.');
      if (!pw.user.id && !pw.user.domain) return badRequest(ctx, 'Expecting to find domain in user.');
      user = this.findUser(pw.user);
      if (!user || user.password !== pw.user.password) {
        this.core.record('identity.auth.failed', 'password');
        return unauthorized(ctx, this.core.baseUrl);
      }
      const scope = auth.scope as { project?: { id?: string; name?: string; domain?: { id?: string; name?: string } } } | undefined;
      if (scope?.project) {
        projectId = this.findProject(scope.project);
        if (!projectId) return unauthorized(ctx, this.core.baseUrl);
      } else projectId = user.defaultProjectId;
    } else if (methods.includes('token')) {
      const tid = (identity.token as { id?: string } | undefined)?.id;
      const old = this.validate(tid);
      if (!old) return unauthorized(ctx, this.core.baseUrl);
      user = this.store.users.get(old.userId);
      projectId = old.projectId;
    } else {
      return send(ctx.res, 401, { error: { code: 401, message: 'Attempted to authenticate with an unsupported method.', title: 'Unauthorized' } });
    }
    if (!user || !projectId) return unauthorized(ctx, this.core.baseUrl);
    const token: Token = {
      id: 'gAAAAA' + this.store.core.idRng.hex(64),
      userId: user.id,
      projectId,
      methods: appCred ? ['application_credential'] : methods.includes('token') ? ['token'] : ['password'],
      issuedAt: now,
      expiresAt: Math.min(now + this.ttlMs, appCred?.expiresAt ?? Infinity),
      appCredId: appCred?.id,
      auditId: this.store.core.idRng.hex(22),
    };
    // drop expired tokens so that long runs do not grow without bound
    if (this.store.tokens.size > 1000) for (const [k, t] of this.store.tokens) if (t.expiresAt <= now) this.store.tokens.delete(k);
    this.store.tokens.set(token.id, token);
    this.core.record('identity.token', user.name, { method: token.methods[0] });
    send(ctx.res, 201, this.tokenBody(token, ctx.query.get('nocatalog') === null), { 'x-subject-token': token.id });
  }

  tokenBody(t: Token, withCatalog: boolean): unknown {
    const user = this.store.users.get(t.userId)!;
    const project = this.store.projects.get(t.projectId)!;
    const udom = this.store.domains.get(user.domainId)!;
    const pdom = this.store.domains.get(project.domainId)!;
    const ac = t.appCredId ? this.store.appCreds.get(t.appCredId) : undefined;
    return {
      token: {
        methods: t.methods,
        user: { domain: { id: udom.id, name: udom.name }, id: user.id, name: user.name, password_expires_at: null },
        audit_ids: [t.auditId],
        expires_at: isoKeystone(t.expiresAt),
        issued_at: isoKeystone(t.issuedAt),
        project: { domain: { id: pdom.id, name: pdom.name }, id: project.id, name: project.name },
        is_domain: false,
        roles: user.roles.map((r) => ({ id: stableId('role/' + r), name: r })),
        ...(ac ? { application_credential: { id: ac.id, name: ac.name, restricted: !ac.unrestricted } } : {}),
        ...(withCatalog ? { catalog: catalog(this.core.baseUrl, t.projectId) } : {}),
      },
    };
  }

  private appCredBody(a: AppCred, withSecret: boolean): unknown {
    return {
      id: a.id, name: a.name, description: a.description, user_id: a.userId, project_id: a.projectId,
      expires_at: a.expiresAt === null ? null : isoKeystone(a.expiresAt).replace(/Z$/, ''), unrestricted: a.unrestricted,
      roles: a.roles.map((r) => ({ id: stableId('role/' + r), name: r, domain_id: null })), access_rules: [],
      links: { self: `${this.core.baseUrl}/identity/v3/users/${a.userId}/application_credentials/${a.id}` },
      ...(withSecret ? { secret: a.secret } : {}),
    };
  }

  private createAppCred(ctx: Ctx, userId: string): void {
    const t = this.validate(header(ctx, 'x-auth-token'));
    if (!t) return unauthorized(ctx, this.core.baseUrl);
    if (t.userId !== userId) return forbidden(ctx);
    // keystone/api/users.py _check_unrestricted_application_credential: ForbiddenAction (403)
    if (t.appCredId && !this.store.appCreds.get(t.appCredId)?.unrestricted) return forbidden(ctx, "Using method 'application_credential' is not allowed for managing additional application credentials.");
    const b = (ctx.body as { application_credential?: { name?: unknown; secret?: unknown; description?: unknown; expires_at?: unknown; unrestricted?: unknown } } | undefined)?.application_credential;
    if (!b || typeof b.name !== 'string' || !b.name) return badRequest(ctx, "Invalid input for field 'name': None is not of type 'string'");
    if ([...this.store.appCreds.values()].some((a) => a.userId === userId && a.name === b.name))
      return send(ctx.res, 409, { error: { code: 409, message: 'Conflict occurred attempting to store application_credential - Duplicate application credential.', title: 'Conflict' } });
    let expiresAt: number | null = null;
    if (b.expires_at !== undefined && b.expires_at !== null) {
      const ms = Date.parse(String(b.expires_at).endsWith('Z') ? String(b.expires_at) : `${b.expires_at}Z`);
      if (Number.isNaN(ms)) return badRequest(ctx, `Invalid input for field 'expires_at': '${b.expires_at}' is not a 'date-time'`);
      expiresAt = ms;
    }
    const user = this.store.users.get(userId)!;
    const a: AppCred = {
      id: this.store.hexId(), name: b.name, secret: typeof b.secret === 'string' && b.secret ? b.secret : this.store.core.idRng.hex(43),
      userId, projectId: t.projectId, description: typeof b.description === 'string' ? b.description : null, expiresAt, unrestricted: b.unrestricted === true, roles: user.roles,
    };
    this.store.appCreds.set(a.id, a);
    this.core.record('identity.appcred', a.name);
    send(ctx.res, 201, { application_credential: this.appCredBody(a, true) });
  }
}

function forbidden(ctx: Ctx, action = 'identity:create_application_credential'): void {
  send(ctx.res, 403, { error: { code: 403, message: `You are not authorized to perform the requested action: ${action}.`, title: 'Forbidden' } });
}

export function header(ctx: Ctx, name: string): string | undefined {
  const v = ctx.req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
