/**
 * Drain a Node, modelled on kubectl's pkg/drain (and Cluster API's use of it), with kadd's bounds:
 *
 * - classifyPods: the filter chain. Mirror (static) pods and DaemonSet pods are skipped; pods already
 *   terminating for longer than `skipWaitForDeleteTimeoutSeconds` are skipped; finished pods (Succeeded/
 *   Failed) may always go; a pod with emptyDir data needs --delete-emptydir-data; a pod without a
 *   controller needs --force; a pod with a PersistentVolumeClaim is noted (its volume must detach).
 * - previewDrain: the classification plus each pod's PDBs and a server-side `dryRun=All` Eviction now.
 * - drainNode: evict every pod the chain lets go (one loop per pod, all in parallel), a 429 (PDB or rate
 *   limit) retried every 5 s, all under ONE deadline; a 500 for a pod selected by several PDBs is a
 *   blocker with its explanation; then wait (one pod list per tick for the whole node) until the evicted
 *   pods are gone. When the Node is unreachable (Ready=Unknown, at the start or mid-drain) evictions use a
 *   1 s grace period and pods terminating for more than 1 s count as gone (the kubelet will never confirm).
 *
 * Never prints: progress goes to the typed `onEvent` callback. Never imports lib/ops.
 */
import { realClock, type Clock } from '../clock.js';
import type { EvictionOutcome, KNode, KPdb, KPod, KubeApi, LabelSelector } from './types.js';

export const MIRROR_ANNOTATION = 'kubernetes.io/config.mirror';

export type PodClass = 'mirror' | 'daemonset' | 'terminating' | 'finished' | 'emptydir' | 'bare' | 'pv';

export interface DrainFlags {
  /** --delete-emptydir-data */
  deleteEmptyDirData: boolean;
  /** --force: pods without a controller */
  force: boolean;
}

export interface ClassifiedPod {
  pod: KPod;
  /** every class that applies */
  classes: PodClass[];
  /** skip (never touched), evict, or block (a flag is needed) */
  action: 'skip' | 'evict' | 'block';
  /** why skipped / blocked (one line) */
  reason?: string;
  /** the flag that would let a blocked pod go */
  flag?: '--force' | '--delete-emptydir-data';
}

/** Does a label selector (policy/v1 semantics: empty selects everything, absent selects nothing) match? */
export function selectorMatches(sel: LabelSelector | undefined, labels: Record<string, string>): boolean {
  if (!sel) return false;
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    const vals = e.values ?? [];
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

/** The PDBs that select this pod (same namespace). */
export function pdbsFor(pod: KPod, pdbs: KPdb[]): KPdb[] {
  return pdbs.filter((d) => d.namespace === pod.namespace && selectorMatches(d.selector, pod.labels));
}

function isZero(v: number | string | undefined): boolean {
  return v === 0 || v === '0' || v === '0%';
}

/**
 * A PDB that can never allow a disruption by itself: maxUnavailable 0 (or 0%), minAvailable 100%, or an
 * absolute minAvailable at or above the pods it covers. Returns the reason, or undefined.
 */
export function neverSatisfiable(d: KPdb): string | undefined {
  if (isZero(d.maxUnavailable)) return `maxUnavailable is ${d.maxUnavailable}: it never allows a voluntary disruption`;
  if (d.minAvailable === '100%') return 'minAvailable is 100%: it never allows a voluntary disruption';
  if (typeof d.minAvailable === 'number' && d.status.expectedPods > 0 && d.minAvailable >= d.status.expectedPods) {
    return `minAvailable ${d.minAvailable} with ${d.status.expectedPods} pod(s): it never allows a voluntary disruption until the workload is scaled up`;
  }
  return undefined;
}

const TERMINAL = new Set(['Succeeded', 'Failed']);

function terminatingForMs(p: KPod, now: number): number {
  return p.deletionTimestamp ? now - Date.parse(p.deletionTimestamp) : -1;
}

/**
 * kubectl's filter chain (pkg/drain/filters.go), in its order. `skipWaitForDeleteTimeoutSeconds` > 0 skips
 * pods that have been terminating longer than that (unreachable nodes: 1).
 */
export function classifyPods(pods: KPod[], flags: DrainFlags, opts: { now?: number; skipWaitForDeleteTimeoutSeconds?: number } = {}): ClassifiedPod[] {
  const now = opts.now ?? Date.now();
  const skipWait = opts.skipWaitForDeleteTimeoutSeconds ?? 0;
  return pods.map((pod) => {
    const classes: PodClass[] = [];
    const finished = TERMINAL.has(pod.phase ?? '');
    if (pod.deletionTimestamp) classes.push('terminating');
    if (finished) classes.push('finished');
    if (pod.annotations[MIRROR_ANNOTATION] !== undefined) classes.push('mirror');
    if (pod.controller?.kind === 'DaemonSet') classes.push('daemonset');
    if (!pod.controller) classes.push('bare');
    if (pod.emptyDirVolumes.length) classes.push('emptydir');
    if (pod.pvcVolumes.length) classes.push('pv');
    const out = (action: ClassifiedPod['action'], reason?: string, flag?: ClassifiedPod['flag']): ClassifiedPod => ({
      pod, classes, action, ...(reason ? { reason } : {}), ...(flag ? { flag } : {}),
    });
    if (pod.deletionTimestamp && skipWait > 0 && terminatingForMs(pod, now) > skipWait * 1000) {
      return out('skip', `terminating for more than ${skipWait}s`);
    }
    if (classes.includes('mirror')) return out('skip', 'mirror (static) pod: the kubelet owns it');
    if (classes.includes('daemonset')) return out('skip', `DaemonSet pod (${pod.controller!.name}): its controller ignores cordons`);
    if (finished) return out('evict');
    if (classes.includes('bare') && !flags.force) {
      return out('block', 'no controller: it would not be recreated anywhere', '--force');
    }
    if (classes.includes('emptydir') && !flags.deleteEmptyDirData) {
      return out('block', `emptyDir volume(s) ${pod.emptyDirVolumes.join(', ')}: their data is lost on eviction`, '--delete-emptydir-data');
    }
    return out('evict');
  });
}

export interface PodPreview extends ClassifiedPod {
  /** "ns/name" of every PDB that selects the pod */
  pdbs: string[];
  /** PDB problems: never satisfiable, or more than one PDB */
  pdbProblems: string[];
  /** result of a dryRun=All Eviction now (evictable pods only; undefined when not tried) */
  dryRun?: EvictionOutcome;
}

export interface DrainPreview {
  node: string;
  pods: PodPreview[];
}

/**
 * The drain preview for one Node (pods by class, PDBs, one dry-run Eviction per evictable pod). Dry-run
 * evictions are checked one pod at a time, not cumulatively: two pods under one PDB with one disruption
 * allowed both answer 201 here, and the real drain then waits for the first to be replaced.
 */
export async function previewDrain(
  kube: KubeApi,
  node: string,
  flags: DrainFlags & { disableEviction?: boolean },
  opts: { pdbs?: KPdb[]; now?: number; unreachable?: boolean } = {},
): Promise<DrainPreview> {
  const [pods, pdbs] = await Promise.all([kube.listPodsOnNode(node), opts.pdbs ? Promise.resolve(opts.pdbs) : kube.listPodDisruptionBudgets()]);
  const classified = classifyPods(pods, flags, { now: opts.now, skipWaitForDeleteTimeoutSeconds: opts.unreachable ? 1 : 0 });
  const out: PodPreview[] = await Promise.all(
    classified.map(async (c) => {
      const mine = pdbsFor(c.pod, pdbs);
      const problems: string[] = [];
      if (mine.length > 1) problems.push(`selected by ${mine.length} PodDisruptionBudgets (${mine.map((d) => d.name).join(', ')}): the Eviction API refuses such a pod (HTTP 500)`);
      for (const d of mine) {
        const why = neverSatisfiable(d);
        if (why) problems.push(`PodDisruptionBudget ${d.namespace}/${d.name}: ${why}`);
      }
      const p: PodPreview = { ...c, pdbs: mine.map((d) => `${d.namespace}/${d.name}`), pdbProblems: problems };
      if (c.action === 'evict' && !flags.disableEviction && !c.pod.deletionTimestamp) {
        p.dryRun = await kube.evictPod(c.pod.namespace, c.pod.name, { dryRun: true });
      }
      return p;
    }),
  );
  return { node, pods: out };
}

// ---------------------------------------------------------------- drain

export type DrainEvent =
  | { type: 'evicting'; pod: string }
  | { type: 'evicted'; pod: string }
  | { type: 'deleted'; pod: string }
  | { type: 'blocked'; pod: string; message: string; retryInMs: number }
  | { type: 'gone'; pod: string }
  | { type: 'failed'; pod: string; message: string }
  | { type: 'unreachable'; node: string }
  | { type: 'waiting'; remaining: number };

export interface DrainOptions extends DrainFlags {
  /** DELETE pods instead of evicting them (bypasses PDBs) */
  disableEviction?: boolean;
  /** the whole drain's budget */
  timeoutMs: number;
  /** between 429 retries (kubectl: 5 s) */
  retryIntervalMs?: number;
  /** between polls while waiting for pods to go (kubectl: 1 s) */
  pollIntervalMs?: number;
  /** pod grace period in seconds (-1 = the pod's own) */
  gracePeriodSeconds?: number;
  /** the Node is known to be unreachable (Ready=Unknown): grace 1 s, pods terminating > 1 s ignored */
  unreachable?: boolean;
  clock?: Clock;
  signal?: AbortSignal;
  onEvent?: (e: DrainEvent) => void;
}

export interface RemainingPod {
  pod: string;
  /** the last answer kadd got for it (e.g. the PDB message of a 429) */
  reason: string;
  /** "ns/name" of the PDBs selecting it, with their current state */
  pdbs: string[];
}

export interface DrainResult {
  node: string;
  /** every pod is gone (or skipped) */
  ok: boolean;
  timedOut: boolean;
  /** the Node was (or became) unreachable */
  unreachable: boolean;
  evicted: string[];
  skipped: { pod: string; reason: string }[];
  /** pods a flag would let go (the drain evicted nothing then) */
  blocked: { pod: string; reason: string; flag?: string }[];
  /** pods that could not be evicted for a reason a retry cannot fix (e.g. two PDBs: HTTP 500) */
  failed: { pod: string; reason: string }[];
  /** pods still on the Node when the deadline passed (or failed), with their blocking PDBs */
  remaining: RemainingPod[];
  durationMs: number;
}

const key = (p: KPod) => `${p.namespace}/${p.name}`;

export function isUnreachable(n: KNode | null): boolean {
  if (!n) return false;
  return n.conditions.some((c) => c.type === 'Ready' && c.status === 'Unknown');
}

/** Cordon, then drain. Cordoning is idempotent; the caller journals it before. */
export async function drainNode(kube: KubeApi, node: string, o: DrainOptions): Promise<DrainResult> {
  const clock = o.clock ?? realClock;
  const started = clock.now();
  const deadline = started + o.timeoutMs;
  const retryMs = o.retryIntervalMs ?? 5000;
  const pollMs = o.pollIntervalMs ?? 1000;
  const emit = (e: DrainEvent) => o.onEvent?.(e);
  let unreachable = !!o.unreachable;
  let nodeCheckedAt = -Infinity;
  const refreshNode = async () => {
    if (unreachable || clock.now() - nodeCheckedAt < pollMs) return;
    nodeCheckedAt = clock.now();
    const n = await kube.getNode(node).catch(() => null);
    if (isUnreachable(n)) {
      unreachable = true;
      emit({ type: 'unreachable', node });
    }
  };
  await refreshNode();
  const sleep = (ms: number) => clock.sleep(Math.max(0, Math.min(ms, deadline - clock.now())), o.signal);
  const grace = () => (unreachable ? 1 : (o.gracePeriodSeconds ?? -1));
  const skipWait = () => (unreachable ? 1 : 0);

  const pods = await kube.listPodsOnNode(node);
  const classified = classifyPods(pods, o, { now: clock.now(), skipWaitForDeleteTimeoutSeconds: skipWait() });
  const result: DrainResult = {
    node, ok: false, timedOut: false, unreachable, evicted: [], skipped: [], blocked: [], failed: [], remaining: [], durationMs: 0,
  };
  for (const c of classified) {
    if (c.action === 'skip') result.skipped.push({ pod: key(c.pod), reason: c.reason ?? '' });
    if (c.action === 'block') result.blocked.push({ pod: key(c.pod), reason: c.reason ?? '', ...(c.flag ? { flag: c.flag } : {}) });
  }
  const finish = async (): Promise<DrainResult> => {
    result.durationMs = clock.now() - started;
    result.unreachable = unreachable;
    return result;
  };
  if (result.blocked.length) return finish();

  const targets = classified.filter((c) => c.action === 'evict').map((c) => c.pod);
  const lastReason = new Map<string, string>();
  const failed = new Set<string>();

  // one loop per pod, in parallel, all under one deadline (kubectl evictPods)
  const evictOne = async (pod: KPod): Promise<void> => {
    const k = key(pod);
    emit({ type: 'evicting', pod: k });
    for (;;) {
      o.signal?.throwIfAborted();
      if (clock.now() >= deadline) return;
      if (o.disableEviction) {
        await kube.deletePod(pod.namespace, pod.name, { gracePeriodSeconds: grace(), uid: pod.uid });
        result.evicted.push(k);
        emit({ type: 'deleted', pod: k });
        return;
      }
      const r = await kube.evictPod(pod.namespace, pod.name, { gracePeriodSeconds: grace(), uid: pod.uid });
      switch (r.outcome) {
        case 'evicted':
          result.evicted.push(k);
          emit({ type: 'evicted', pod: k });
          return;
        case 'gone':
          emit({ type: 'gone', pod: k });
          return;
        case 'multiple-pdbs':
          failed.add(k);
          lastReason.set(k, `${r.message} (the pod is selected by more than one PodDisruptionBudget; fix the budgets, or use --disable-eviction)`);
          result.failed.push({ pod: k, reason: lastReason.get(k)! });
          emit({ type: 'failed', pod: k, message: lastReason.get(k)! });
          return;
        case 'blocked':
        case 'namespace-terminating': {
          lastReason.set(k, r.message);
          const wait = Math.max(retryMs, r.outcome === 'blocked' && r.retryAfterSeconds ? r.retryAfterSeconds * 1000 : 0);
          emit({ type: 'blocked', pod: k, message: r.message, retryInMs: wait });
          await sleep(wait);
          await refreshNode();
          // kubectl re-fetches the pod before retrying: gone, replaced, or (unreachable) terminating long enough
          const now = await kube.getPod(pod.namespace, pod.name);
          if (!now || now.uid !== pod.uid) {
            emit({ type: 'gone', pod: k });
            return;
          }
          if (unreachable && now.deletionTimestamp && terminatingForMs(now, clock.now()) > 1000) return;
          continue;
        }
      }
    }
  };
  await Promise.all(targets.map(evictOne));

  // wait until every targeted pod is gone: ONE pod list per tick for the whole node
  const pending = new Map(targets.filter((p) => !failed.has(key(p))).map((p) => [key(p), p]));
  const shortened = new Set<string>();
  for (;;) {
    o.signal?.throwIfAborted();
    await refreshNode();
    const onNode = await kube.listPodsOnNode(node);
    const now = clock.now();
    if (unreachable) {
      // evicted before the node went away, with a long grace period: the kubelet will never confirm. Shorten the
      // grace to 1 s (a DELETE on a terminating pod only moves its deadline; its budget was already spent).
      for (const [k, p] of pending) {
        const cur = onNode.find((x) => x.uid === p.uid);
        if (cur?.deletionTimestamp && Date.parse(cur.deletionTimestamp) > now + 1000 && !shortened.has(k)) {
          shortened.add(k);
          await kube.deletePod(p.namespace, p.name, { gracePeriodSeconds: 1, uid: p.uid }).catch(() => undefined);
        }
      }
    }
    for (const [k, p] of pending) {
      const cur = onNode.find((x) => x.namespace === p.namespace && x.name === p.name && x.uid === p.uid);
      if (!cur || (skipWait() > 0 && cur.deletionTimestamp && terminatingForMs(cur, now) > skipWait() * 1000)) {
        pending.delete(k);
        if (result.evicted.includes(k)) emit({ type: 'gone', pod: k });
      } else if (!lastReason.has(k) || result.evicted.includes(k)) {
        lastReason.set(k, cur.deletionTimestamp ? 'evicted, still terminating' : 'not evicted yet');
      }
    }
    if (pending.size === 0 || now >= deadline) break;
    emit({ type: 'waiting', remaining: pending.size });
    await sleep(pollMs);
  }

  const left = [...pending.keys(), ...failed];
  if (left.length) {
    const pdbs = await kube.listPodDisruptionBudgets().catch(() => [] as KPdb[]);
    for (const k of [...new Set(left)]) {
      const pod = targets.find((p) => key(p) === k)!;
      result.remaining.push({
        pod: k,
        reason: lastReason.get(k) ?? 'not evicted',
        pdbs: pdbsFor(pod, pdbs).map((d) => `${d.namespace}/${d.name} (${d.status.currentHealthy} healthy, ${d.status.desiredHealthy} needed, ${d.status.disruptionsAllowed} disruption(s) allowed)`),
      });
    }
  }
  result.timedOut = pending.size > 0;
  result.ok = left.length === 0;
  return finish();
}

/** Wait (bounded) until no VolumeAttachment names this Node. Returns those still there at the deadline. */
export async function waitVolumeAttachmentsGone(
  kube: KubeApi,
  node: string,
  o: { timeoutMs: number; pollIntervalMs?: number; clock?: Clock; signal?: AbortSignal },
): Promise<{ ok: boolean; remaining: string[] }> {
  const clock = o.clock ?? realClock;
  const deadline = clock.now() + o.timeoutMs;
  for (;;) {
    o.signal?.throwIfAborted();
    const vas = await kube.listVolumeAttachments(node);
    if (vas.length === 0) return { ok: true, remaining: [] };
    if (clock.now() >= deadline) return { ok: false, remaining: vas.map((v) => `${v.name}${v.pvName ? ` (${v.pvName})` : ''}`) };
    await clock.sleep(Math.min(o.pollIntervalMs ?? 2000, Math.max(0, deadline - clock.now())), o.signal);
  }
}
