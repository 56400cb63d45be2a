/**
 * coordination.k8s.io/v1 Leases in the simulated API server, with the real server's optimistic
 * concurrency: every write bumps metadata.resourceVersion; a PUT carrying an older resourceVersion gets
 * 409 Conflict ("the object has been modified"), a POST of an existing name 409 AlreadyExists, a DELETE
 * whose preconditions (uid, resourceVersion) no longer hold 409 Conflict. MicroTime fields must carry six
 * fractional digits (the API server parses them with Go's RFC3339Micro layout), leaseDurationSeconds > 0.
 *
 * Leases live in the cluster's store (cluster.ts, with the node Leases of kube-node-lease); api.ts serves
 * them with the generic CRUD and calls validateLease.
 */
import type { KubeCluster } from './cluster.js';
import type { Obj } from './util.js';

type ErrorCtor = new (code: number, reason: string, message: string, details?: Obj) => Error;

const GROUP = 'coordination.k8s.io';
/**
 * The Leases of a simulated cluster ("namespace/name" -> the stored object, in the cluster's own store):
 * tests read and change them here; delete() removes one as the API server would.
 */
export function leasesOf(c: KubeCluster): { get(key: string): Obj | undefined; delete(key: string): void; clear(): void; readonly size: number } {
  const split = (key: string) => key.split('/') as [string, string];
  return {
    get: (key) => c.get('leases', split(key)[0], split(key)[1]),
    delete: (key) => void c.remove('leases', split(key)[0], split(key)[1]),
    clear: () => {
      for (const l of c.list('leases')) if (l.metadata.namespace !== 'kube-node-lease') c.remove('leases', l.metadata.namespace, l.metadata.name);
    },
    get size() {
      return c.list('leases').filter((l) => l.metadata.namespace !== 'kube-node-lease').length;
    },
  };
}

const MICRO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|[+-]\d\d:\d\d)$/;

/** What the API server checks in a Lease beyond the generic object rules (api.ts calls it on create and update). */
export function validateLease(o: Obj, Err: ErrorCtor): void {
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
