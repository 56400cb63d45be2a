/**
 * PodDisruptionBudgets and the Eviction subresource, as Kubernetes does them:
 * - status as pkg/controller/disruption computes it (getExpectedPodCount, countHealthyPods, failSafe);
 * - the eviction as pkg/registry/core/pod/storage/eviction.go (canIgnorePDB, more than one PDB -> 500 Status,
 *   unready pods and unhealthyPodEvictionPolicy, checkAndDecrement -> 429 with the DisruptionBudget cause,
 *   dryRun propagation into the delete).
 */
import type { KubeCluster } from './cluster.js';
import { k8sTime, type Obj } from './util.js';

/** metav1.LabelSelectorAsSelector + Matches (matchLabels and matchExpressions) */
export function selectorMatches(sel: Obj | undefined | null, labels: Record<string, string> = {}): boolean {
  if (!sel) return false;
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of (sel.matchExpressions ?? []) as Obj[]) {
    const has = e.key in labels;
    const vals: string[] = e.values ?? [];
    switch (e.operator) {
      case 'In':
        if (!has || !vals.includes(labels[e.key]!)) return false;
        break;
      case 'NotIn':
        if (has && vals.includes(labels[e.key]!)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

export function selectorEmpty(sel: Obj | undefined | null): boolean {
  return !sel || (Object.keys(sel.matchLabels ?? {}).length === 0 && (sel.matchExpressions ?? []).length === 0);
}

/** intstr.GetScaledValueFromIntOrPercent(v, total, roundUp=true) */
function scaled(v: unknown, total: number): number {
  if (typeof v === 'string' && v.endsWith('%')) return Math.ceil((Number(v.slice(0, -1)) * total) / 100);
  return Number(v);
}

/** DeletionTimeout in the disruption controller: an evicted pod not deleted after this counts again */
export const DISRUPTED_POD_TIMEOUT_MS = 2 * 60_000;

/** the pods a PDB selects (the controller: a nil/empty selector selects every pod of the namespace in policy/v1) */
export function pdbPods(c: KubeCluster, pdb: Obj): Obj[] {
  const sel = pdb.spec?.selector;
  return c.list('pods', pdb.metadata.namespace).filter((p) => (selectorEmpty(sel) ? sel !== undefined && sel !== null : selectorMatches(sel, p.metadata.labels)));
}

/** getExpectedScale: the sum of the scale of each distinct controller; an unknown controller is an error */
function expectedScale(c: KubeCluster, pods: Obj[]): { count: number; error?: string } {
  const seen = new Set<string>();
  let count = 0;
  for (const p of pods) {
    const ref = (p.metadata.ownerReferences ?? []).find((r: Obj) => r.controller);
    if (!ref) continue; // unmanaged pods are ignored (event UnmanagedPods)
    const ns = p.metadata.namespace;
    let scale: { uid: string; replicas: number } | undefined;
    if (ref.kind === 'ReplicaSet') {
      const rs = c.list('replicasets', ns).find((r) => r.metadata.uid === ref.uid);
      if (rs) {
        const dref = (rs.metadata.ownerReferences ?? []).find((r: Obj) => r.controller && r.kind === 'Deployment');
        const dep = dref ? c.list('deployments', ns).find((d) => d.metadata.uid === dref.uid) : undefined;
        scale = dep ? { uid: dep.metadata.uid, replicas: dep.spec.replicas ?? 1 } : { uid: rs.metadata.uid, replicas: rs.spec.replicas ?? 1 };
      }
    } else if (ref.kind === 'StatefulSet' || ref.kind === 'ReplicationController') {
      const plural = ref.kind === 'StatefulSet' ? 'statefulsets' : 'replicationcontrollers';
      const o = c.store.has(plural) ? c.list(plural, ns).find((x) => x.metadata.uid === ref.uid) : undefined;
      if (o) scale = { uid: o.metadata.uid, replicas: o.spec.replicas ?? 1 };
    }
    if (!scale) return { count: 0, error: `found no controllers for pod "${p.metadata.name}"` };
    if (!seen.has(scale.uid)) {
      seen.add(scale.uid);
      count += scale.replicas;
    }
  }
  return { count };
}

/** PDB status as the disruption controller writes it after a sync */
export function computePdbStatus(c: KubeCluster, pdb: Obj): Obj {
  const gen = pdb.metadata.generation ?? 1;
  const now = c.now();
  const pods = pdbPods(c, pdb);
  const disrupted: Record<string, string> = {};
  // buildDisruptedPodMap: entries of pods that are gone or terminating are dropped, expired ones too
  for (const [name, at] of Object.entries((pdb.status?.disruptedPods ?? {}) as Record<string, string>)) {
    const p = pods.find((x) => x.metadata.name === name);
    if (!p || p.metadata.deletionTimestamp) continue;
    if (Date.parse(at) + DISRUPTED_POD_TIMEOUT_MS <= now) continue;
    disrupted[name] = at;
  }
  let expected = 0;
  let desired = 0;
  let error: string | undefined;
  if (pdb.spec.maxUnavailable !== undefined && pdb.spec.maxUnavailable !== null) {
    const s = expectedScale(c, pods);
    error = s.error;
    expected = s.count;
    desired = Math.max(0, expected - scaled(pdb.spec.maxUnavailable, expected));
  } else if (pdb.spec.minAvailable !== undefined && pdb.spec.minAvailable !== null) {
    if (typeof pdb.spec.minAvailable === 'number') {
      desired = pdb.spec.minAvailable;
      expected = pods.length;
    } else {
      const s = expectedScale(c, pods);
      error = s.error;
      expected = s.count;
      desired = scaled(pdb.spec.minAvailable, expected);
    }
  }
  const ts = k8sTime(now);
  const prevCond = (pdb.status?.conditions ?? []).find((x: Obj) => x.type === 'DisruptionAllowed');
  const cond = (status: string, reason: string, message: string) => ({
    type: 'DisruptionAllowed',
    status,
    observedGeneration: gen,
    lastTransitionTime: prevCond && prevCond.status === status && prevCond.reason === reason ? prevCond.lastTransitionTime : ts,
    reason,
    message,
  });
  if (error) {
    // failSafe: no disruption allowed until the controller can compute the budget
    return {
      ...(pdb.status ?? {}),
      observedGeneration: gen,
      disruptionsAllowed: 0,
      currentHealthy: pdb.status?.currentHealthy ?? 0,
      desiredHealthy: pdb.status?.desiredHealthy ?? 0,
      expectedPods: pdb.status?.expectedPods ?? 0,
      conditions: [cond('False', 'SyncFailed', error)],
    };
  }
  let healthy = 0;
  for (const p of pods) {
    if (p.metadata.deletionTimestamp) continue;
    if (disrupted[p.metadata.name]) continue;
    if (c.podReady(p)) healthy++;
  }
  const allowed = Math.max(0, healthy - desired);
  return {
    ...(Object.keys(disrupted).length ? { disruptedPods: disrupted } : {}),
    observedGeneration: gen,
    disruptionsAllowed: allowed,
    currentHealthy: healthy,
    desiredHealthy: desired,
    expectedPods: expected,
    conditions: [allowed > 0 ? cond('True', 'SufficientPods', '') : cond('False', 'InsufficientPods', '')],
  };
}

export class EvictionError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: Obj,
  ) {
    super(message);
  }
}

const BUDGET_MSG = "Cannot evict pod as it would violate the pod's disruption budget.";

export interface EvictOutcome {
  code: number;
  body: Obj;
}

/**
 * POST .../pods/{name}/eviction. `dryRunQuery` is the request's dryRun values. Throws EvictionError for errors
 * that the API returns as a Status error (404, 400, 429); returns the 500 "more than one PodDisruptionBudget"
 * Status as a body, as the registry does.
 */
export function evictPod(c: KubeCluster, ns: string, name: string, body: Obj | undefined, dryRunQuery: string[]): EvictOutcome {
  const pod = c.get('pods', ns, name);
  if (!pod) throw new EvictionError(404, 'NotFound', `pods "${name}" not found`, { name, kind: 'pods' });
  if (!body || typeof body !== 'object') throw new EvictionError(400, 'BadRequest', 'the object provided is unrecognized');
  if (body.kind && body.kind !== 'Eviction') throw new EvictionError(400, 'BadRequest', `the kind in the data (${body.kind}) does not match the expected kind (Eviction)`);
  if (body.apiVersion && !['policy/v1', 'policy/v1beta1'].includes(body.apiVersion)) throw new EvictionError(400, 'BadRequest', `the API version in the data (${body.apiVersion}) does not match the expected API version (policy/v1)`);
  if ((body.metadata?.name ?? '') !== name) throw new EvictionError(400, 'BadRequest', 'name in URL does not match name in Eviction object');
  // propagateDryRun
  const opts: Obj = { ...(body.deleteOptions ?? {}) };
  const bodyDry: string[] = opts.dryRun ?? [];
  if (bodyDry.length === 0) opts.dryRun = dryRunQuery;
  else if (dryRunQuery.length && JSON.stringify(bodyDry) !== JSON.stringify(dryRunQuery)) throw new EvictionError(500, 'InternalError', `Internal error occurred: Non-matching dry-run options in request and content: [${dryRunQuery.join(' ')}] and [${bodyDry.join(' ')}]`);
  const dryRun = (opts.dryRun ?? []).includes('All');
  for (const v of opts.dryRun ?? []) if (v !== 'All') throw new EvictionError(400, 'BadRequest', `dryRun: Unsupported value: "${v}": supported values: "All"`);
  const success: EvictOutcome = { code: 201, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 } };
  const precondition = (): void => {
    const pre = opts.preconditions;
    if (pre?.uid && pre.uid !== pod.metadata.uid) throw new EvictionError(409, 'Conflict', `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${pod.metadata.uid}`, { name, kind: 'pods' });
    if (pre?.resourceVersion && pre.resourceVersion !== pod.metadata.resourceVersion) throw new EvictionError(409, 'Conflict', `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${pod.metadata.resourceVersion}`, { name, kind: 'pods' });
  };
  const del = (): void => {
    precondition();
    if (!dryRun) c.deletePod(pod, opts.gracePeriodSeconds);
  };
  // canIgnorePDB: terminal, pending or already terminating pods are deleted without a budget check
  const phase = pod.status?.phase;
  if (phase === 'Succeeded' || phase === 'Failed' || phase === 'Pending' || pod.metadata.deletionTimestamp) {
    del();
    return success;
  }
  const pdbs = c.list('poddisruptionbudgets', ns).filter((d) => !selectorEmpty(d.spec?.selector) && selectorMatches(d.spec.selector, pod.metadata.labels));
  if (pdbs.length > 1) {
    return { code: 500, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.', code: 500 } };
  }
  const pdb = pdbs[0];
  if (pdb) {
    pdb.status = computePdbStatus(c, pdb);
    const st = pdb.status;
    let skipBudget = false;
    if (!c.podReady(pod)) {
      if (pdb.spec.unhealthyPodEvictionPolicy === 'AlwaysAllow') skipBudget = true;
      else if (st.currentHealthy >= st.desiredHealthy && st.desiredHealthy > 0) skipBudget = true;
    }
    if (!skipBudget) {
      // checkAndDecrement
      if ((st.observedGeneration ?? 0) < (pdb.metadata.generation ?? 1)) {
        throw new EvictionError(429, 'TooManyRequests', BUDGET_MSG, { causes: [{ reason: 'DisruptionBudget', message: `The disruption budget ${pdb.metadata.name} is still being processed by the server.` }], retryAfterSeconds: 10 });
      }
      if (st.disruptionsAllowed === 0) {
        throw new EvictionError(429, 'TooManyRequests', BUDGET_MSG, { causes: [{ reason: 'DisruptionBudget', message: `The disruption budget ${pdb.metadata.name} needs ${st.desiredHealthy} healthy pods and has ${st.currentHealthy} currently` }] });
      }
      precondition();
      if (!dryRun) {
        st.disruptionsAllowed--;
        st.disruptedPods = { ...(st.disruptedPods ?? {}), [name]: k8sTime(c.now()) };
        c.touch(pdb);
      }
    }
  }
  del();
  return success;
}
