/**
 * HTTP side of the simulated Kubernetes API server: discovery, CRUD on the resources in cluster.ts,
 * patch (json-patch, merge-patch, strategic-merge-patch), list selectors and pagination, the eviction
 * subresource with PodDisruptionBudgets, and Status objects for every error.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SimHandler } from '../contract.js';
import { apiVersionOf, type KubeCluster, RESOURCES, type ResourceDef, resource } from './cluster.js';
import { validateLease } from './leases.js';
import { EvictionError, evictPod } from './disruption.js';
import { renewLeases } from './nodefaults.js';
import { nodeProxy } from './proxy.js';
import { clone, getPath, type Obj, parseFieldSelector, parseLabelSelector } from './util.js';

export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: Obj,
  ) {
    super(message);
  }
}

export function statusBody(code: number, reason: string, message: string, details?: Obj): Obj {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code };
}

const notFound = (r: ResourceDef, name: string) => new ApiError(404, 'NotFound', `${r.plural}${r.group ? '.' + r.group : ''} "${name}" not found`, { name, ...(r.group ? { group: r.group } : {}), kind: r.plural });

async function readBody(req: IncomingMessage & { body?: unknown; rawBody?: Buffer }): Promise<Buffer> {
  if (req.rawBody) return req.rawBody;
  if (req.body !== undefined) return Buffer.from(typeof req.body === 'string' ? req.body : JSON.stringify(req.body));
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function send(res: ServerResponse, code: number, body: Obj): void {
  const s = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(s), 'Audit-Id': '', 'Cache-Control': 'no-cache, private' });
  res.end(s);
}

// ---------- patch ----------
function pointer(path: string): string[] {
  return path
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
}

export function jsonPatch(doc: Obj, ops: Obj[]): Obj {
  if (!Array.isArray(ops)) throw new ApiError(400, 'BadRequest', 'json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  for (const op of ops) {
    const parts = pointer(String(op.path ?? ''));
    const last = parts.pop();
    let parent: any = doc;
    for (const p of parts) {
      if (parent == null || typeof parent !== 'object' || !(p in parent)) {
        if (op.op === 'add' || op.op === 'replace') throw new ApiError(500, 'InternalError', `add operation does not apply: doc is missing path: "${op.path}": missing value`);
        throw new ApiError(422, 'Invalid', `the server rejected our request due to an error in our request`);
      }
      parent = parent[p];
    }
    if (last === undefined) throw new ApiError(422, 'Invalid', 'invalid JSON patch path');
    const isArr = Array.isArray(parent);
    switch (op.op) {
      case 'add':
        if (isArr) parent.splice(last === '-' ? parent.length : Number(last), 0, op.value);
        else parent[last] = op.value;
        break;
      case 'replace':
        if (!(last in parent)) throw new ApiError(422, 'Invalid', `the server rejected our request due to an error in our request`, { causes: [{ message: `replace operation does not apply: doc is missing key: ${op.path}: missing value` }] });
        parent[last] = op.value;
        break;
      case 'remove':
        if (!(last in parent)) throw new ApiError(422, 'Invalid', `the server rejected our request due to an error in our request`, { causes: [{ message: `remove operation does not apply: doc is missing path: "${op.path}": missing value` }] });
        if (isArr) parent.splice(Number(last), 1);
        else delete parent[last];
        break;
      case 'test':
        if (JSON.stringify(parent[last]) !== JSON.stringify(op.value)) throw new ApiError(422, 'Invalid', `the server rejected our request due to an error in our request`, { causes: [{ message: `testing value ${op.path} failed: test failed` }] });
        break;
      default:
        throw new ApiError(422, 'Invalid', `Unexpected kind: ${op.op}`);
    }
  }
  return doc;
}

export function mergePatch(doc: any, patch: any): any {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out = doc && typeof doc === 'object' && !Array.isArray(doc) ? doc : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$')) continue; // strategic-merge directives ($patch, $retainKeys, $setElementOrder) ignored
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

// ---------- handler ----------
export function createApiHandler(c: KubeCluster, hooks: { onExecHttp?: (res: ServerResponse) => void } = {}): SimHandler {
  return async (req, res, url) => {
    const p = url.pathname;
    if (!(p === '/version' || p === '/readyz' || p === '/livez' || p === '/healthz' || p === '/api' || p.startsWith('/api/') || p === '/apis' || p.startsWith('/apis/'))) return false;
    const method = (req.method ?? 'GET').toUpperCase();
    c.core.count('kube', method, templatePath(p));
    // scenario faults for the "kube" service
    const elapsed = (c.now() - c.startedAt) / 1000;
    const faults = c.core.scenario.faults;
    if (faults?.outages?.some((o) => o.service === 'kube' && elapsed >= o.from && elapsed < o.to)) {
      send(res, 503, statusBody(503, 'ServiceUnavailable', 'the server is currently unable to handle the request'));
      return true;
    }
    for (const f of faults?.rateLimit ?? []) {
      if (f.service === 'kube' && (!f.method || f.method === method) && (!f.path || new RegExp(f.path).test(p)) && c.core.rng.next() < f.rate) {
        res.setHeader('Retry-After', String(f.retryAfter ?? 1));
        send(res, 429, statusBody(429, 'TooManyRequests', 'the server has received too many requests and has asked us to try again later', { retryAfterSeconds: f.retryAfter ?? 1 }));
        return true;
      }
    }
    for (const f of faults?.errorRates ?? []) {
      if (f.service === 'kube' && (!f.method || f.method === method) && (!f.path || new RegExp(f.path).test(p)) && c.core.rng.next() < f.rate) {
        send(res, f.status ?? 500, statusBody(f.status ?? 500, 'InternalError', 'Internal error occurred: simulated fault'));
        return true;
      }
    }
    try {
      if (method === 'POST' || method === 'PUT' || method === 'PATCH' || method === 'DELETE') {
        // read the body once: the simulator keeps what clients sent (KubeSim.requests) for schema checks in tests
        const raw = await readBody(req);
        req.rawBody = raw;
        if (!p.endsWith('/exec')) c.recordRequest(method, url, String(req.headers['content-type'] ?? ''), raw);
      }
      c.gc();
      const r = await route(c, req, method, url);
      if (r === 'exec-needs-upgrade') {
        send(res, 400, statusBody(400, 'BadRequest', 'Upgrade request required'));
        return true;
      }
      if (typeof r.body.__text === 'string') {
        res.writeHead(r.code, { 'Content-Type': 'text/plain' });
        res.end(r.body.__text);
      } else send(res, r.code, r.body);
    } catch (e) {
      if (e instanceof ApiError) send(res, e.code, statusBody(e.code, e.reason, e.message, e.details));
      else send(res, 500, statusBody(500, 'InternalError', `Internal error occurred: ${(e as Error).message}`));
    }
    return true;
  };
}

export function templatePath(p: string): string {
  const m = p.match(/^\/(api\/v1|apis\/[^/]+\/[^/]+)(?:\/namespaces\/([^/]+))?(?:\/([^/]+))?(?:\/([^/]+))?(?:\/([^/]+))?$/);
  if (!m) return p;
  const [, base, ns, plural, name, sub] = m;
  if (ns && !plural) return `/${base}/namespaces/{name}`;
  return `/${base}${ns ? '/namespaces/{namespace}' : ''}${plural ? '/' + plural : ''}${name ? '/{name}' : ''}${sub ? '/' + sub : ''}`;
}

type Result = { code: number; body: Obj };

async function route(c: KubeCluster, req: IncomingMessage & { body?: unknown; rawBody?: Buffer }, method: string, url: URL): Promise<Result | 'exec-needs-upgrade'> {
  const p = url.pathname.replace(/\/$/, '');
  if (p === '/version') {
    const v = c.k8sVersion.match(/^v(\d+)\.(\d+)/)!;
    return { code: 200, body: { major: v[1], minor: v[2], gitVersion: c.k8sVersion, gitCommit: '9b36b8a4b3a8c6e9ba7b4b0b9fbb8e9b1b6a2c7d', gitTreeState: 'clean', buildDate: '2024-08-14T19:04:48Z', goVersion: 'go1.22.5', compiler: 'gc', platform: 'linux/amd64' } };
  }
  if (p === '/readyz' || p === '/livez' || p === '/healthz') {
    // the API server's own checks: etcd through the members it knows (quorum), as kube-apiserver reports them
    const etcdOk = c.etcd.hasQuorum();
    if (etcdOk) return { code: 200, body: { __text: 'ok' } };
    return { code: 500, body: { __text: `[+]ping ok\n[+]log ok\n[-]etcd failed: reason withheld\n${p.slice(1)} check failed\n` } };
  }
  if (p === '/api') return { code: 200, body: { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: c.controlPlaneEndpoint() }] } };
  if (p === '/apis') {
    const groups = [...new Set(RESOURCES.filter((r) => r.group).map((r) => r.group))];
    return {
      code: 200,
      body: { kind: 'APIGroupList', apiVersion: 'v1', groups: groups.map((g) => ({ name: g, versions: [{ groupVersion: `${g}/v1`, version: 'v1' }], preferredVersion: { groupVersion: `${g}/v1`, version: 'v1' } })) },
    };
  }
  const px = /^\/api\/v1\/nodes\/([^/]+)\/proxy(\/.*)?$/.exec(url.pathname);
  if (px) return nodeProxy(c, method, decodeURIComponent(px[1]!), px[2] ?? '/');
  const m = p.match(/^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))(\/.*)?$/);
  if (!m) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
  const group = m[2] ?? '';
  const version = m[1] ?? m[3]!;
  const rest = (m[4] ?? '').split('/').filter(Boolean).map(decodeURIComponent);
  const defs = RESOURCES.filter((r) => r.group === group && r.version === version);
  if (defs.length === 0) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
  if (rest.length === 0) {
    if (method !== 'GET') throw new ApiError(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`);
    const resources: Obj[] = [];
    for (const r of defs) {
      resources.push({ name: r.plural, singularName: r.singular, namespaced: r.namespaced, kind: r.kind, verbs: r.verbs, ...(r.shortNames ? { shortNames: r.shortNames } : {}), storageVersionHash: Buffer.from(r.kind).toString('base64').slice(0, 11) });
      if (r.plural === 'pods') {
        resources.push({ name: 'pods/eviction', singularName: '', namespaced: true, group: 'policy', version: 'v1', kind: 'Eviction', verbs: ['create'] });
        resources.push({ name: 'pods/exec', singularName: '', namespaced: true, kind: 'PodExecOptions', verbs: ['create', 'get'] });
        resources.push({ name: 'pods/log', singularName: '', namespaced: true, kind: 'Pod', verbs: ['get'] });
        resources.push({ name: 'pods/status', singularName: '', namespaced: true, kind: 'Pod', verbs: ['get', 'patch', 'update'] });
      }
      if (r.plural === 'nodes') resources.push({ name: 'nodes/status', singularName: '', namespaced: false, kind: 'Node', verbs: ['get', 'patch', 'update'] });
    }
    return { code: 200, body: { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group ? `${group}/${version}` : version, resources } };
  }
  let ns: string | undefined;
  let i = 0;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    ns = rest[1];
    i = 2;
  }
  const plural = rest[i]!;
  const name = rest[i + 1];
  const sub = rest[i + 2];
  const r = defs.find((d) => d.plural === plural);
  if (!r || rest.length > i + 3) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
  if (plural === 'namespaces' && rest.length === 2 && rest[0] === 'namespaces') {
    // /api/v1/namespaces/{name}
    return crud(c, r, undefined, rest[1], undefined, method, req, url);
  }
  if (r.namespaced && ns === undefined && name !== undefined) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
  if (!r.namespaced && ns !== undefined) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
  if (ns !== undefined && !c.get('namespaces', undefined, ns) && method !== 'GET') throw new ApiError(404, 'NotFound', `namespaces "${ns}" not found`, { name: ns, kind: 'namespaces' });
  // NamespaceLifecycle admission: nothing new (evictions included) in a namespace being terminated
  if (ns !== undefined && method === 'POST' && c.get('namespaces', undefined, ns)?.metadata.deletionTimestamp) {
    const what = name ?? '';
    throw new ApiError(403, 'Forbidden', `${r.plural}${r.group ? '.' + r.group : ''} "${what}" is forbidden: unable to create new content in namespace ${ns} because it is being terminated`, {
      ...(what ? { name: what } : {}),
      ...(r.group ? { group: r.group } : {}),
      kind: r.plural,
      causes: [{ reason: 'NamespaceTerminating', message: `namespace ${ns} is being terminated`, field: 'metadata.namespace' }],
    });
  }
  return crud(c, r, ns, name, sub, method, req, url);
}

async function crud(c: KubeCluster, r: ResourceDef, ns: string | undefined, name: string | undefined, sub: string | undefined, method: string, req: IncomingMessage & { body?: unknown; rawBody?: Buffer }, url: URL): Promise<Result | 'exec-needs-upgrade'> {
  const q = url.searchParams;
  if (sub) {
    if (r.plural === 'pods' && sub === 'exec') return 'exec-needs-upgrade';
    if (r.plural === 'pods' && sub === 'eviction' && method === 'POST') {
      const body = await parseJson(req);
      try {
        return evictPod(c, ns!, name!, body, q.getAll('dryRun'));
      } catch (e) {
        if (e instanceof EvictionError) throw new ApiError(e.code, e.reason, e.message, e.details);
        throw e;
      }
    }
    if (r.plural === 'pods' && sub === 'log' && method === 'GET') {
      const pod = c.get('pods', ns, name!);
      if (!pod) throw notFound(r, name!);
      return { code: 200, body: { __text: `${pod.metadata.name} started\n` } };
    }
    if (sub !== 'status') throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
  }
  if (name === undefined) {
    if (method === 'GET') {
      if (q.get('watch') === 'true' || q.get('watch') === '1') throw new ApiError(405, 'MethodNotAllowed', 'watch is not supported by the simulator');
      return { code: 200, body: listBody(c, r, ns, q) };
    }
    if (method === 'POST') return { code: 201, body: create(c, r, ns, await parseJson(req), q.get('dryRun') === 'All') };
    throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
  }
  const obj = c.get(r.plural, r.namespaced ? ns : undefined, name);
  switch (method) {
    case 'GET':
      if (!obj) throw notFound(r, name);
      if (r.plural === 'poddisruptionbudgets') obj.status = c.pdbStatus(obj);
      if (r.plural === 'leases') renewLeases(c);
      return { code: 200, body: obj };
    case 'DELETE': {
      if (!obj) throw notFound(r, name);
      let opts: Obj = {};
      try {
        opts = (await parseJson(req)) ?? {};
      } catch {
        opts = {};
      }
      const pre = opts?.preconditions;
      if (pre?.uid && pre.uid !== obj.metadata.uid) throw new ApiError(409, 'Conflict', `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${obj.metadata.uid}`, { name, kind: r.plural });
      if (pre?.resourceVersion && pre.resourceVersion !== obj.metadata.resourceVersion) throw new ApiError(409, 'Conflict', `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${obj.metadata.resourceVersion}`, { name, kind: r.plural });
      if (q.get('dryRun') === 'All' || (opts?.dryRun ?? []).includes('All')) return { code: 200, body: obj };
      if (r.plural === 'pods') {
        const g = q.get('gracePeriodSeconds') ?? opts?.gracePeriodSeconds;
        const grace = g === undefined || g === null ? undefined : Number(g);
        if (grace !== undefined && !(Number.isInteger(grace) && grace >= 0)) throw new ApiError(400, 'BadRequest', `invalid gracePeriodSeconds ${g}`);
        c.deletePod(obj, grace);
        const still = c.get('pods', ns, name);
        return { code: 200, body: still ?? { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name, kind: 'pods', uid: obj.metadata.uid } } };
      }
      if (r.plural === 'namespaces') return { code: 200, body: c.terminateNamespace(obj) };
      c.remove(r.plural, r.namespaced ? ns : undefined, name);
      return { code: 200, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name, ...(r.group ? { group: r.group } : {}), kind: r.plural, uid: obj.metadata.uid } } };
    }
    case 'PATCH': {
      if (!obj) throw notFound(r, name);
      const ct = String(req.headers['content-type'] ?? '').split(';')[0]!.trim();
      const body = await parseJson(req);
      let next: Obj;
      const copy = clone(obj);
      if (ct === 'application/json-patch+json') next = jsonPatch(copy, body);
      else if (ct === 'application/merge-patch+json' || ct === 'application/strategic-merge-patch+json') next = mergePatch(copy, body);
      else throw new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json`);
      return { code: 200, body: update(c, r, obj, next) };
    }
    case 'PUT': {
      if (!obj) throw notFound(r, name);
      const body = await parseJson(req);
      if (body?.metadata?.resourceVersion && body.metadata.resourceVersion !== obj.metadata.resourceVersion) {
        throw new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${r.plural}${r.group ? '.' + r.group : ''} "${name}": the object has been modified; please apply your changes to the latest version and try again`, { name, ...(r.group ? { group: r.group } : {}), kind: r.plural });
      }
      return { code: 200, body: update(c, r, obj, body) };
    }
    default:
      throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
  }
}

async function parseJson(req: IncomingMessage & { body?: unknown; rawBody?: Buffer }): Promise<any> {
  if (req.body !== undefined && typeof req.body === 'object' && !req.rawBody) return req.body;
  const raw = await readBody(req);
  if (raw.length === 0) return undefined;
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch (e) {
    throw new ApiError(400, 'BadRequest', `the object provided is unrecognized (${(e as Error).message})`);
  }
}

/** apply an update keeping server-owned metadata */
function update(c: KubeCluster, r: ResourceDef, obj: Obj, next: Obj): Obj {
  if (!next || typeof next !== 'object') throw new ApiError(400, 'BadRequest', 'the object provided is unrecognized');
  if (next.metadata?.name && next.metadata.name !== obj.metadata.name) throw new ApiError(400, 'BadRequest', `the name of the object (${next.metadata.name}) does not match the name on the URL (${obj.metadata.name})`);
  const keep = { uid: obj.metadata.uid, creationTimestamp: obj.metadata.creationTimestamp, name: obj.metadata.name, ...(obj.metadata.namespace ? { namespace: obj.metadata.namespace } : {}) };
  if (r.plural === 'secrets') normalizeSecret(next);
  validate(r, next);
  const specChanged = JSON.stringify(next.spec) !== JSON.stringify(obj.spec);
  for (const k of Object.keys(obj)) if (!(k in next)) delete obj[k];
  Object.assign(obj, next, { kind: r.kind, apiVersion: apiVersionOf(r) });
  obj.metadata = { ...(next.metadata ?? {}), ...keep };
  if (specChanged && obj.metadata.generation) obj.metadata.generation++;
  c.touch(obj);
  if (r.plural === 'nodes') for (const p of c.list('pods')) if (p.spec.nodeName === obj.metadata.name) c.evaluatePod(p);
  if (r.plural === 'secrets') c.syncClusterInfo();
  if (r.plural === 'deployments' && specChanged) c.later(c.core.rng.latency({ uniform: [50, 200] }), () => c.reconcileDeployment(obj));
  if (r.plural === 'poddisruptionbudgets') obj.status = c.pdbStatus(obj);
  return obj;
}

function normalizeSecret(o: Obj): void {
  o.type ??= 'Opaque';
  if (o.stringData) {
    o.data ??= {};
    for (const [k, v] of Object.entries(o.stringData)) o.data[k] = Buffer.from(String(v)).toString('base64');
    delete o.stringData;
  }
}

function validate(r: ResourceDef, o: Obj): void {
  if (r.plural === 'leases') validateLease(o, ApiError);
  const causes: Obj[] = [];
  if (r.plural === 'nodes' && o.spec?.taints) {
    for (const [i, t] of (o.spec.taints as Obj[]).entries()) {
      if (!['NoSchedule', 'PreferNoSchedule', 'NoExecute'].includes(t.effect)) causes.push({ reason: 'FieldValueNotSupported', message: `Unsupported value: "${t.effect}": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"`, field: `spec.taints[${i}].effect` });
    }
  }
  if (r.plural === 'deployments') {
    const sel = o.spec?.selector?.matchLabels;
    const lbl = o.spec?.template?.metadata?.labels ?? {};
    if (!sel) causes.push({ reason: 'FieldValueRequired', message: 'Required value', field: 'spec.selector' });
    else if (!Object.entries(sel).every(([k, v]) => lbl[k] === v)) causes.push({ reason: 'FieldValueInvalid', message: 'Invalid value: map[string]string{...}: `selector` does not match template `labels`', field: 'spec.template.metadata.labels' });
    if (!Array.isArray(o.spec?.template?.spec?.containers) || o.spec.template.spec.containers.length === 0) causes.push({ reason: 'FieldValueRequired', message: 'Required value', field: 'spec.template.spec.containers' });
  }
  if (causes.length) {
    const name = o.metadata?.name ?? '';
    throw new ApiError(422, 'Invalid', `${r.kind}${r.group ? '.' + r.group : ''} "${name}" is invalid: ${causes.map((x) => `${x.field}: ${x.message}`).join(', ')}`, { name, ...(r.group ? { group: r.group } : {}), kind: r.kind, causes });
  }
}

function create(c: KubeCluster, r: ResourceDef, ns: string | undefined, body: Obj, dryRun: boolean): Obj {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new ApiError(400, 'BadRequest', 'the object provided is unrecognized');
  if (body.apiVersion && body.apiVersion !== apiVersionOf(r)) throw new ApiError(400, 'BadRequest', `the API version in the data (${body.apiVersion}) does not match the expected API version (${apiVersionOf(r)})`);
  if (body.kind && body.kind !== r.kind) throw new ApiError(400, 'BadRequest', `the kind in the data (${body.kind}) does not match the expected kind (${r.kind})`);
  const o = clone(body);
  o.metadata ??= {};
  if (r.namespaced) {
    if (o.metadata.namespace && o.metadata.namespace !== ns) throw new ApiError(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
    o.metadata.namespace = ns;
  }
  if (!o.metadata.name && o.metadata.generateName) o.metadata.name = o.metadata.generateName + Math.floor(c.core.rng.next() * 36 ** 5).toString(36).padStart(5, 'b');
  if (!o.metadata.name) {
    throw new ApiError(422, 'Invalid', `${r.kind} "" is invalid: metadata.name: Required value: name or generateName is required`, { kind: r.kind, causes: [{ reason: 'FieldValueRequired', message: 'Required value: name or generateName is required', field: 'metadata.name' }] });
  }
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(o.metadata.name) || o.metadata.name.length > 253) {
    const msg = `Invalid value: "${o.metadata.name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`;
    throw new ApiError(422, 'Invalid', `${r.kind} "${o.metadata.name}" is invalid: metadata.name: ${msg}`, { name: o.metadata.name, kind: r.kind, causes: [{ reason: 'FieldValueInvalid', message: msg, field: 'metadata.name' }] });
  }
  if (c.get(r.plural, r.namespaced ? ns : undefined, o.metadata.name)) {
    throw new ApiError(409, 'AlreadyExists', `${r.plural}${r.group ? '.' + r.group : ''} "${o.metadata.name}" already exists`, { name: o.metadata.name, ...(r.group ? { group: r.group } : {}), kind: r.plural });
  }
  for (const k of ['uid', 'resourceVersion', 'creationTimestamp', 'deletionTimestamp', 'generation']) delete o.metadata[k];
  if (r.plural === 'secrets') normalizeSecret(o);
  validate(r, o);
  if (r.plural === 'deployments') {
    o.metadata.generation = 1;
    o.spec = { replicas: 1, revisionHistoryLimit: 10, progressDeadlineSeconds: 600, strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } }, ...o.spec };
    o.status = {};
  }
  if (r.plural === 'poddisruptionbudgets') o.metadata.generation = 1;
  if (r.plural === 'pods') {
    if (dryRun) return o;
    const spec = o.spec ?? {};
    return c.createPod(ns!, { name: o.metadata.name, labels: o.metadata.labels, annotations: o.metadata.annotations, node: spec.nodeName, nodeSelector: spec.nodeSelector, containers: spec.containers ?? [], hostNetwork: spec.hostNetwork, tolerations: spec.tolerations, volumes: spec.volumes, owner: o.metadata.ownerReferences?.[0] });
  }
  if (dryRun) return o;
  const stored = c.put(r.plural, o);
  if (r.plural === 'deployments') c.later(c.core.rng.latency({ uniform: [100, 400] }), () => c.reconcileDeployment(stored));
  if (r.plural === 'poddisruptionbudgets') stored.status = c.pdbStatus(stored);
  if (r.plural === 'secrets') c.syncClusterInfo();
  return stored;
}

function listBody(c: KubeCluster, r: ResourceDef, ns: string | undefined, q: URLSearchParams): Obj {
  if (r.plural === 'leases') renewLeases(c);
  let items = c.list(r.plural, r.namespaced ? ns : undefined);
  const ls = q.get('labelSelector');
  if (ls) {
    const f = parseLabelSelector(ls);
    if (typeof f !== 'function') throw new ApiError(400, 'BadRequest', `unable to parse requirement: ${f.error}`);
    items = items.filter((o) => f(o.metadata.labels ?? {}));
  }
  const fs = q.get('fieldSelector');
  if (fs) {
    const reqs = parseFieldSelector(fs);
    if (!Array.isArray(reqs)) throw new ApiError(400, 'BadRequest', reqs.error);
    const allowed: Record<string, string[]> = {
      pods: ['metadata.name', 'metadata.namespace', 'spec.nodeName', 'spec.restartPolicy', 'spec.schedulerName', 'spec.serviceAccountName', 'spec.hostNetwork', 'status.phase', 'status.podIP', 'status.nominatedNodeName'],
      secrets: ['metadata.name', 'metadata.namespace', 'type'],
      nodes: ['metadata.name', 'spec.unschedulable'],
    };
    for (const rq of reqs) {
      const ok = ['metadata.name', 'metadata.namespace'].includes(rq.field) || (allowed[r.plural] ?? []).includes(rq.field);
      if (!ok) throw new ApiError(400, 'BadRequest', `field label not supported: ${rq.field}`);
    }
    items = items.filter((o) =>
      reqs.every((rq) => {
        let v = getPath(o, rq.field);
        if (rq.field === 'spec.unschedulable' || rq.field === 'spec.hostNetwork') v = String(!!v);
        const s = v === undefined || v === null ? '' : String(v);
        return rq.op === '=' ? s === rq.value : s !== rq.value;
      }),
    );
  }
  if (r.plural === 'poddisruptionbudgets') for (const o of items) o.status = c.pdbStatus(o);
  const limit = Number(q.get('limit') ?? 0);
  const cont = q.get('continue');
  let start = 0;
  if (cont) {
    start = Number(Buffer.from(cont, 'base64url').toString('utf8'));
    if (!Number.isInteger(start) || start < 0) throw new ApiError(400, 'BadRequest', 'continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)');
  }
  let next: string | undefined;
  let page = items.slice(start);
  if (limit > 0 && page.length > limit) {
    page = page.slice(0, limit);
    next = Buffer.from(String(start + limit)).toString('base64url');
  }
  return {
    kind: `${r.kind}List`,
    apiVersion: apiVersionOf(r),
    metadata: { resourceVersion: c.currentRv(), ...(next ? { continue: next, remainingItemCount: items.length - start - page.length } : {}) },
    items: page.map((o) => {
      const { kind: _k, apiVersion: _a, ...restObj } = o;
      return restObj;
    }),
  };
}
