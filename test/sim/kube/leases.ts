/**
 * coordination.k8s.io/v1 Leases in the simulated API server, with the real server's optimistic
 * concurrency: every write bumps metadata.resourceVersion; a PUT carrying an older resourceVersion gets
 * 409 Conflict ("the object has been modified"), a POST of an existing name 409 AlreadyExists, a DELETE
 * whose preconditions (uid, resourceVersion) no longer hold 409 Conflict. MicroTime fields must carry six
 * fractional digits (the API server parses them with Go's RFC3339Micro layout), leaseDurationSeconds > 0.
 *
 * Kept apart from api.ts: api.ts routes the coordination.k8s.io group here (routeLeases).
 */
import type { KubeCluster } from './cluster.js';
import { clone, k8sTime, type Obj, uuid } from './util.js';

type ErrorCtor = new (code: number, reason: string, message: string, details?: Obj) => Error;
type Result = { code: number; body: Obj };

const GROUP = 'coordination.k8s.io';
/** kept on the cluster object under a registered symbol: a test may load this module twice (CJS and ESM) */
const STORE = Symbol.for('kadd.sim.leases');

/** The Leases of a simulated cluster ("namespace/name" -> object); tests read and change them here. */
export function leasesOf(c: KubeCluster): Map<string, Obj> {
  const holder = c as unknown as Record<symbol, Map<string, Obj> | undefined>;
  return (holder[STORE] ??= new Map());
}

const MICRO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|[+-]\d\d:\d\d)$/;

function validate(o: Obj, Err: ErrorCtor): void {
  if (!o || typeof o !== 'object' || Array.isArray(o)) throw new Err(400, 'BadRequest', 'the object provided is unrecognized');
  if (o.apiVersion && o.apiVersion !== `${GROUP}/v1`) throw new Err(400, 'BadRequest', `the API version in the data (${o.apiVersion}) does not match the expected API version (${GROUP}/v1)`);
  if (o.kind && o.kind !== 'Lease') throw new Err(400, 'BadRequest', `the kind in the data (${o.kind}) does not match the expected kind (Lease)`);
  const spec = o.spec ?? {};
  for (const f of ['acquireTime', 'renewTime']) {
    const v = spec[f];
    if (v !== undefined && v !== null && (typeof v !== 'string' || !MICRO.test(v))) {
      throw new Err(400, 'BadRequest', `Lease in version "v1" cannot be handled as a Lease: parsing time "${String(v)}" as "2006-01-02T15:04:05.000000Z07:00": cannot parse "${String(v).slice(19)}" as ".000000"`);
    }
  }
  const causes: Obj[] = [];
  if (spec.leaseDurationSeconds !== undefined && !(Number.isInteger(spec.leaseDurationSeconds) && spec.leaseDurationSeconds > 0)) {
    causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: ${spec.leaseDurationSeconds}: must be greater than 0`, field: 'spec.leaseDurationSeconds' });
  }
  if (spec.leaseTransitions !== undefined && !(Number.isInteger(spec.leaseTransitions) && spec.leaseTransitions >= 0)) {
    causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: ${spec.leaseTransitions}: must be greater than or equal to 0`, field: 'spec.leaseTransitions' });
  }
  if (causes.length) {
    const name = o.metadata?.name ?? '';
    throw new Err(422, 'Invalid', `Lease.${GROUP} "${name}" is invalid: ${causes.map((x) => `${x.field}: ${x.message}`).join(', ')}`, { name, group: GROUP, kind: 'Lease', causes });
  }
}

function conflict(name: string, Err: ErrorCtor, message?: string): Error {
  return new Err(409, 'Conflict', message ?? `Operation cannot be fulfilled on leases.${GROUP} "${name}": the object has been modified; please apply your changes to the latest version and try again`, { name, group: GROUP, kind: 'leases' });
}

/**
 * /apis/coordination.k8s.io/v1/... : `rest` is the path after the version, split and decoded.
 * readJson reads the request body (undefined when empty).
 */
export async function routeLeases(c: KubeCluster, method: string, rest: string[], readJson: () => Promise<any>, Err: ErrorCtor): Promise<Result> {
  const store = leasesOf(c);
  if (rest.length === 0) {
    return { code: 200, body: { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: `${GROUP}/v1`, resources: [{ name: 'leases', singularName: 'lease', namespaced: true, kind: 'Lease', verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'] }] } };
  }
  if (rest[0] !== 'namespaces' || rest.length < 3 || rest[2] !== 'leases' || rest.length > 4) throw new Err(404, 'NotFound', 'the server could not find the requested resource');
  const ns = rest[1]!;
  const name = rest[3];
  if (!c.get('namespaces', undefined, ns) && method !== 'GET') throw new Err(404, 'NotFound', `namespaces "${ns}" not found`, { name: ns, kind: 'namespaces' });
  const notFound = (n: string) => new Err(404, 'NotFound', `leases.${GROUP} "${n}" not found`, { name: n, group: GROUP, kind: 'leases' });
  const key = (n: string) => `${ns}/${n}`;

  if (name === undefined) {
    if (method === 'GET') {
      const items = [...store.values()].filter((o) => o.metadata.namespace === ns).map((o) => {
        const { kind: _k, apiVersion: _a, ...rest2 } = clone(o);
        return rest2;
      });
      return { code: 200, body: { kind: 'LeaseList', apiVersion: `${GROUP}/v1`, metadata: { resourceVersion: c.currentRv() }, items } };
    }
    if (method !== 'POST') throw new Err(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    const body = await readJson();
    validate(body, Err);
    const n = body.metadata?.name;
    if (!n) throw new Err(422, 'Invalid', 'Lease.coordination.k8s.io "" is invalid: metadata.name: Required value: name or generateName is required', { kind: 'Lease', group: GROUP });
    if (store.has(key(n))) throw new Err(409, 'AlreadyExists', `leases.${GROUP} "${n}" already exists`, { name: n, group: GROUP, kind: 'leases' });
    const o: Obj = {
      kind: 'Lease',
      apiVersion: `${GROUP}/v1`,
      metadata: { ...(body.metadata.annotations ? { annotations: { ...body.metadata.annotations } } : {}), ...(body.metadata.labels ? { labels: { ...body.metadata.labels } } : {}), name: n, namespace: ns, uid: uuid(c.core), resourceVersion: c.nextRv(), creationTimestamp: k8sTime(c.now()) },
      spec: clone(body.spec ?? {}),
    };
    store.set(key(n), o);
    return { code: 201, body: clone(o) };
  }

  const cur = store.get(key(name));
  switch (method) {
    case 'GET':
      if (!cur) throw notFound(name);
      return { code: 200, body: clone(cur) };
    case 'PUT': {
      if (!cur) throw notFound(name);
      const body = await readJson();
      validate(body, Err);
      if (body.metadata?.name && body.metadata.name !== name) throw new Err(400, 'BadRequest', `the name of the object (${body.metadata.name}) does not match the name on the URL (${name})`);
      const rv = body.metadata?.resourceVersion;
      if (rv !== undefined && rv !== '' && rv !== cur.metadata.resourceVersion) throw conflict(name, Err);
      cur.metadata = { ...(body.metadata?.annotations ? { annotations: { ...body.metadata.annotations } } : {}), ...(body.metadata?.labels ? { labels: { ...body.metadata.labels } } : {}), name, namespace: ns, uid: cur.metadata.uid, creationTimestamp: cur.metadata.creationTimestamp, resourceVersion: c.nextRv() };
      cur.spec = clone(body.spec ?? {});
      return { code: 200, body: clone(cur) };
    }
    case 'DELETE': {
      if (!cur) throw notFound(name);
      let opts: Obj = {};
      try {
        opts = (await readJson()) ?? {};
      } catch {
        opts = {};
      }
      const pre = opts.preconditions ?? {};
      if (pre.uid && pre.uid !== cur.metadata.uid) throw conflict(name, Err, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${cur.metadata.uid}`);
      if (pre.resourceVersion && pre.resourceVersion !== cur.metadata.resourceVersion) {
        throw conflict(name, Err, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${cur.metadata.resourceVersion}`);
      }
      store.delete(key(name));
      c.nextRv();
      return { code: 200, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name, group: GROUP, kind: 'leases', uid: cur.metadata.uid } } };
    }
    default:
      throw new Err(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
  }
}
