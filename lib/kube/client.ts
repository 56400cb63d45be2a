/**
 * KubeApi on @kubernetes/client-node ~1.4 (imported lazily: about 1 s to load).
 * client-node 1.4 uses node-fetch over node:http, so nock 14 intercepts it in unit tests.
 *
 * Deadlines (issue 12 point 6: an API server that accepted TCP and never answered gave 25 minutes of
 * silence): every request gets a first-byte deadline (connect + response headers, default 15 s) and a
 * whole-request deadline (default 60 s), applied by one middleware that reads the call's state from
 * AsyncLocalStorage, so every method here (and any added later through call()) has them. Reads that
 * stall or cannot connect are retried (default twice), each retry shown as a warning; a mutation is never
 * repeated blindly. The first Ctrl-C aborts the reads in flight at once (mutations run to their deadline:
 * the rollback after an interrupt still needs the API).
 */
import type * as K8s from '@kubernetes/client-node';
import { AsyncLocalStorage } from 'node:async_hooks';
import { noteChange } from '../effects.js';
import { InterruptedError, KaddError, KubeError } from '../errors.js';
import type { ClientNotify, Io } from '../io.js';
import type { Clock } from '../clock.js';
import { realClock } from '../clock.js';
import { redactText, registerSecret } from '../redact.js';
import type { BootstrapToken, EvictionOutcome, ExecResult, KNode, KPdb, KPod, KubeApi, KVolumeAttachment, LabelSelector, LeaseObject, LeaseWrite } from './types.js';
import { cpuMilli, memoryBytes } from './quantity.js';
import type { LoadedKubeconfig } from './config.js';
import {
  BOOTSTRAP_TOKEN_NAMESPACE,
  BOOTSTRAP_TOKEN_SECRET_TYPE,
  DEFAULT_NODE_GROUP,
  DEFAULT_USAGES,
  assertTokenId,
  bootstrapTokenSecretBody,
  expirationFrom,
  generateTokenId,
  generateTokenSecret,
  isRfc3339Utc,
  secretNameForTokenId,
} from './token.js';

export interface CreateKubeApiOptions {
  /** traces only (--debug); the client never prints */
  io: Io;
  /** the endpoint it reaches first and every read retry (the CLI logs them; absent: not shown) */
  notify?: ClientNotify;
  clock?: Clock;
  /** the operation's signal (Ctrl-C): aborts reads in flight */
  signal?: AbortSignal;
  /** connect + response headers, per request; default 15 s (at most requestTimeoutMs) */
  firstByteTimeoutMs?: number;
  /** whole request, body included; default 60 s */
  requestTimeoutMs?: number;
  /** retries of a read that stalled or could not connect; default 2 */
  readRetries?: number;
}

export const KUBE_FIRST_BYTE_TIMEOUT_MS = 15_000;
export const KUBE_REQUEST_TIMEOUT_MS = 60_000;

/** The state of one call(), read by the deadline middleware. */
interface CallState {
  firstByteMs: number;
  requestMs: number;
  /** aborts the request: first-byte or whole-request deadline, or Ctrl-C for reads */
  controller: AbortController;
  why?: 'first-byte' | 'request' | 'interrupt';
  timers: NodeJS.Timeout[];
  gotHeaders: boolean;
}

const callStore = new AsyncLocalStorage<CallState>();

/** The client-node middleware that arms the deadlines of the current call() on each request it sends. */
const deadlineMiddleware = {
  async pre(ctx: { setSignal(s: AbortSignal): void }) {
    const st = callStore.getStore();
    if (st) {
      ctx.setSignal(st.controller.signal);
      const arm = (ms: number, why: CallState['why'], cond: () => boolean) => {
        const t = setTimeout(() => {
          if (!cond() || st.controller.signal.aborted) return;
          st.why = why;
          st.controller.abort();
        }, ms);
        t.unref?.();
        st.timers.push(t);
      };
      arm(st.firstByteMs, 'first-byte', () => !st.gotHeaders);
      arm(st.requestMs, 'request', () => true);
    }
    return ctx;
  },
  async post(res: unknown) {
    const st = callStore.getStore();
    if (st) st.gotHeaders = true;
    return res;
  },
};

/** A call that only reads: safe to repeat, and safe to abort on Ctrl-C. */
function isRead(what: string): boolean {
  return /^(GET |get |list |read )/.test(what);
}

const RETRYABLE_CONNECT = /ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|ETIMEDOUT|socket hang up/;

/** Status-channel message of the exec API (V1Status subset). */
export interface ExecStatus {
  status?: string;
  reason?: string;
  message?: string;
  details?: { causes?: { reason?: string; message?: string }[] };
}

/**
 * Exit code from the exec status channel: Success -> 0; Failure/NonZeroExitCode -> the ExitCode cause;
 * any other Failure (container not found, command not found...) -> KubeError.
 */
export function exitCodeFromStatus(status: ExecStatus | null | undefined): number {
  if (!status) throw new KubeError('exec ended without a status from the API server');
  if (status.status === 'Success') return 0;
  if (status.reason === 'NonZeroExitCode') {
    const cause = status.details?.causes?.find((c) => c.reason === 'ExitCode');
    const n = cause?.message !== undefined ? Number.parseInt(cause.message, 10) : NaN;
    if (Number.isInteger(n)) return n;
    throw new KubeError(`exec failed with a non-zero exit code that could not be read: ${redactText(status.message ?? '')}`);
  }
  throw new KubeError(`exec failed: ${redactText(status.message ?? status.reason ?? 'unknown error')}`);
}

interface ApiExceptionLike {
  code: number;
  body?: unknown;
  message?: string;
}

function isApiException(e: unknown): e is ApiExceptionLike {
  return !!e && typeof e === 'object' && typeof (e as { code?: unknown }).code === 'number' && 'body' in (e as object);
}

function statusMessage(body: unknown): string | undefined {
  let b: unknown = body;
  if (typeof body === 'string') {
    try {
      b = JSON.parse(body);
    } catch {
      return body.length > 200 ? body.slice(0, 200) + '...' : body || undefined;
    }
  }
  if (b && typeof b === 'object' && typeof (b as { message?: unknown }).message === 'string') return (b as { message: string }).message;
  return undefined;
}

/** HTTP status of an error from client-node, if any. */
export function httpStatusOf(e: unknown): number | undefined {
  if (e instanceof KubeError) return e.status;
  return isApiException(e) ? e.code : undefined;
}

/** Map a client-node error to KubeError (message redacted). */
export function toKubeError(e: unknown, what: string, server: string): KubeError {
  if (e instanceof KubeError) return e;
  if (isApiException(e)) {
    const msg = statusMessage(e.body) ?? e.message ?? 'request failed';
    return new KubeError(redactText(`${what}: ${msg} (HTTP ${e.code})`), { status: e.code }, { cause: e });
  }
  const m = e instanceof Error ? e.message : String(e);
  return new KubeError(redactText(`${what}: cannot reach the Kubernetes API at ${server}: ${m}`), { code: 'E_KUBE_UNREACHABLE' }, { cause: e });
}

function secs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

function errText(e: unknown): string {
  const o = e as { message?: unknown; code?: unknown; cause?: { message?: unknown; code?: unknown } } | undefined;
  return [o?.code, o?.message, o?.cause?.code, o?.cause?.message].filter((x) => typeof x === 'string').join(' ') || String(e);
}

function toKNode(n: K8s.V1Node): KNode {
  const conditions = (n.status?.conditions ?? []).map((c) => ({
    type: c.type,
    status: c.status as 'True' | 'False' | 'Unknown',
    ...(c.reason ? { reason: c.reason } : {}),
    ...(c.message ? { message: c.message } : {}),
    ...(isoOf(c.lastTransitionTime) ? { lastTransitionTime: isoOf(c.lastTransitionTime) } : {}),
  }));
  const out: KNode = {
    name: n.metadata?.name ?? '',
    labels: { ...(n.metadata?.labels ?? {}) },
    taints: (n.spec?.taints ?? []).map((t) => ({ key: t.key, ...(t.value !== undefined ? { value: t.value } : {}), effect: t.effect })),
    unschedulable: n.spec?.unschedulable === true,
    ready: conditions.some((c) => c.type === 'Ready' && c.status === 'True'),
    conditions,
    addresses: (n.status?.addresses ?? []).map((a) => ({ type: a.type, address: a.address })),
  };
  if (n.spec?.providerID) out.providerID = n.spec.providerID;
  if (n.status?.nodeInfo?.kubeletVersion) out.kubeletVersion = n.status.nodeInfo.kubeletVersion;
  if (n.metadata?.creationTimestamp) out.creationTimestamp = new Date(n.metadata.creationTimestamp).toISOString();
  if (n.metadata?.annotations && Object.keys(n.metadata.annotations).length) out.annotations = { ...n.metadata.annotations };
  const alloc = n.status?.allocatable;
  if (alloc) out.allocatable = { cpuMilli: cpuMilli(alloc.cpu), memoryBytes: memoryBytes(alloc.memory), pods: Number(alloc.pods ?? 0) || 0 };
  return out;
}

function isoOf(t: unknown): string | undefined {
  if (t === undefined || t === null || t === '') return undefined;
  const d = t instanceof Date ? t : new Date(String(t));
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/** V1Pod -> KPod (pure, exported for tests) */
export function toKPod(p: K8s.V1Pod): KPod {
  const owner = (p.metadata?.ownerReferences ?? []).find((o) => o.controller);
  const statuses = p.status?.containerStatuses ?? [];
  const readyCond = (p.status?.conditions ?? []).find((c) => c.type === 'Ready');
  const ready = readyCond ? readyCond.status === 'True' : statuses.length > 0 && statuses.every((s) => s.ready);
  const requests = { cpuMilli: 0, memoryBytes: 0 };
  for (const c of p.spec?.containers ?? []) {
    const r = (c.resources?.requests ?? {}) as Record<string, string>;
    requests.cpuMilli += cpuMilli(r.cpu);
    requests.memoryBytes += memoryBytes(r.memory);
  }
  // an init container runs alone: the pod's effective request is the max of that and the sum (scheduler rule)
  for (const c of p.spec?.initContainers ?? []) {
    const r = (c.resources?.requests ?? {}) as Record<string, string>;
    requests.cpuMilli = Math.max(requests.cpuMilli, cpuMilli(r.cpu));
    requests.memoryBytes = Math.max(requests.memoryBytes, memoryBytes(r.memory));
  }
  const vols = p.spec?.volumes ?? [];
  const out: KPod = {
    namespace: p.metadata?.namespace ?? '',
    name: p.metadata?.name ?? '',
    uid: p.metadata?.uid ?? '',
    labels: { ...(p.metadata?.labels ?? {}) },
    annotations: { ...(p.metadata?.annotations ?? {}) },
    ready,
    emptyDirVolumes: vols.filter((v) => v.emptyDir).map((v) => v.name),
    pvcVolumes: vols.filter((v) => v.persistentVolumeClaim).map((v) => v.persistentVolumeClaim!.claimName),
    requests,
    nodeSelector: { ...(p.spec?.nodeSelector ?? {}) },
    tolerations: (p.spec?.tolerations ?? []).map((t) => ({
      ...(t.key !== undefined ? { key: t.key } : {}), ...(t.operator ? { operator: t.operator } : {}),
      ...(t.value !== undefined ? { value: t.value } : {}), ...(t.effect ? { effect: t.effect } : {}),
    })),
  };
  if (p.spec?.nodeName) out.nodeName = p.spec.nodeName;
  if (owner) out.controller = { kind: owner.kind, name: owner.name, apiVersion: owner.apiVersion };
  if (p.status?.phase) out.phase = p.status.phase;
  const del = isoOf(p.metadata?.deletionTimestamp);
  if (del) out.deletionTimestamp = del;
  return out;
}

function intOrString(v: unknown): number | string | undefined {
  return v === undefined || v === null ? undefined : typeof v === 'number' ? v : String(v);
}

export function toKPdb(d: K8s.V1PodDisruptionBudget): KPdb {
  const sel = d.spec?.selector;
  const selector: LabelSelector | undefined = sel
    ? {
        ...(sel.matchLabels ? { matchLabels: { ...sel.matchLabels } } : {}),
        ...(sel.matchExpressions ? { matchExpressions: sel.matchExpressions.map((e) => ({ key: e.key, operator: e.operator, ...(e.values ? { values: [...e.values] } : {}) })) } : {}),
      }
    : undefined;
  const out: KPdb = {
    namespace: d.metadata?.namespace ?? '',
    name: d.metadata?.name ?? '',
    status: {
      currentHealthy: d.status?.currentHealthy ?? 0,
      desiredHealthy: d.status?.desiredHealthy ?? 0,
      disruptionsAllowed: d.status?.disruptionsAllowed ?? 0,
      expectedPods: d.status?.expectedPods ?? 0,
    },
  };
  if (selector) out.selector = selector;
  const minA = intOrString(d.spec?.minAvailable);
  const maxU = intOrString(d.spec?.maxUnavailable);
  if (minA !== undefined) out.minAvailable = minA;
  if (maxU !== undefined) out.maxUnavailable = maxU;
  const pol = d.spec?.unhealthyPodEvictionPolicy;
  if (pol === 'AlwaysAllow' || pol === 'IfHealthyBudget') out.unhealthyPodEvictionPolicy = pol;
  return out;
}

/** The Status body of a failed request (message, reason, details), whatever client-node handed back. */
function statusOf(e: unknown): { message?: string; reason?: string; retryAfterSeconds?: number; causes?: { reason?: string; message?: string }[] } {
  let b: unknown = isApiException(e) ? e.body : undefined;
  if (typeof b === 'string') {
    const text: string = b;
    try {
      b = JSON.parse(text);
    } catch {
      return { message: text };
    }
  }
  if (!b || typeof b !== 'object') return {};
  const o = b as { message?: string; reason?: string; details?: { retryAfterSeconds?: number; causes?: { reason?: string; message?: string }[] } };
  return { message: o.message, reason: o.reason, retryAfterSeconds: o.details?.retryAfterSeconds, causes: o.details?.causes };
}


function toLease(l: K8s.V1Lease): LeaseObject {
  const s = l.spec ?? {};
  const out: LeaseObject = {
    name: l.metadata?.name ?? '',
    namespace: l.metadata?.namespace ?? '',
    uid: l.metadata?.uid ?? '',
    resourceVersion: l.metadata?.resourceVersion ?? '',
    annotations: { ...(l.metadata?.annotations ?? {}) },
  };
  if (s.holderIdentity) out.holderIdentity = s.holderIdentity;
  if (typeof s.leaseDurationSeconds === 'number') out.leaseDurationSeconds = s.leaseDurationSeconds;
  if (typeof s.leaseTransitions === 'number') out.leaseTransitions = s.leaseTransitions;
  const acquire = isoOf(s.acquireTime);
  if (acquire) out.acquireTime = acquire;
  const renew = isoOf(s.renewTime);
  if (renew) out.renewTime = renew;
  return out;
}

interface Clients {
  k8s: typeof K8s;
  kc: K8s.KubeConfig;
  core: K8s.CoreV1Api;
  apps: K8s.AppsV1Api;
  policy: K8s.PolicyV1Api;
  storage: K8s.StorageV1Api;
  version: K8s.VersionApi;
  coordination: K8s.CoordinationV1Api;
  smp: ReturnType<typeof K8s.setHeaderOptions>;
}

/**
 * Start loading @kubernetes/client-node without waiting for it (the module cache hands clients() the same
 * import). It takes 0.5-2 s of this thread's CPU: the CLI starts it once the OpenStack authentication is on
 * its way (lib/cli/context.ts), so that it runs while Keystone answers instead of delaying the request.
 */
export function prefetchClientNode(): void {
  void import('@kubernetes/client-node').catch(() => undefined);
}

export function createKubeApi(loaded: LoadedKubeconfig, opts: CreateKubeApiOptions): KubeApi {
  const server = loaded.server;
  const clock = opts.clock ?? realClock;
  let clientsP: Promise<Clients> | undefined;
  const clients = (): Promise<Clients> =>
    (clientsP ??= (async () => {
      const k8s = await import('@kubernetes/client-node');
      const kc = await loaded.toClientNode();
      // kc.makeApiClient without the middleware: the same configuration plus the deadlines
      const cluster = kc.getCurrentCluster();
      if (!cluster) throw new KubeError('the kubeconfig has no current cluster', { code: 'E_KUBE_CONFIG' });
      const config = k8s.createConfiguration({
        baseServer: new k8s.ServerConfiguration(cluster.server, {}),
        authMethods: { default: kc },
        promiseMiddleware: [deadlineMiddleware as never],
      });
      return {
        k8s,
        kc,
        core: new k8s.CoreV1Api(config),
        apps: new k8s.AppsV1Api(config),
        policy: new k8s.PolicyV1Api(config),
        storage: new k8s.StorageV1Api(config),
        version: new k8s.VersionApi(config),
        coordination: new k8s.CoordinationV1Api(config),
        smp: k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch),
      };
    })());

  const requestMs = opts.requestTimeoutMs ?? KUBE_REQUEST_TIMEOUT_MS;
  const firstByteMs = Math.min(opts.firstByteTimeoutMs ?? KUBE_FIRST_BYTE_TIMEOUT_MS, requestMs);
  const readRetries = opts.readRetries ?? 2;
  let announced = false;

  async function call<T>(what: string, fn: (c: Clients) => Promise<T>): Promise<T> {
    const c = await clients();
    if (!announced) {
      announced = true;
      opts.notify?.({ level: 'info', kind: 'endpoint', message: `checking the Kubernetes API at ${server}` });
    }
    const read = isRead(what);
    // kadd's own lock Lease is bookkeeping, deleted again at the end of every run: not a change to the cluster
    if (!read && !/^(create|replace|delete) Lease /.test(what)) noteChange(`kube: ${what}`);
    for (let attempt = 0; ; attempt++) {
      if (read && opts.signal?.aborted) throw interrupted();
      opts.io.trace(`kube: ${what}${attempt ? ` (retry ${attempt})` : ''}`);
      const st: CallState = { firstByteMs, requestMs, controller: new AbortController(), timers: [], gotHeaders: false };
      const onInterrupt = () => {
        st.why = 'interrupt';
        st.controller.abort();
      };
      if (read) opts.signal?.addEventListener('abort', onInterrupt, { once: true });
      try {
        return await callStore.run(st, () => fn(c));
      } catch (e) {
        if (st.why === 'interrupt') throw interrupted();
        const stalled = st.why === 'first-byte' || st.why === 'request';
        const reason = st.why === 'first-byte' ? `no answer within ${secs(firstByteMs)}` : st.why === 'request' ? `no complete answer within ${secs(requestMs)}` : undefined;
        const connectFailure = !stalled && !isApiException(e) && RETRYABLE_CONNECT.test(errText(e));
        if (read && (stalled || connectFailure) && attempt < readRetries) {
          opts.notify?.({ level: 'warn', kind: 'retry', message: `Kubernetes API ${server}: ${what}: ${reason ?? errText(e)}; retry ${attempt + 1} of ${readRetries}` });
          await clock.sleep(Math.min(2000, 250 * 2 ** attempt)).catch(() => undefined);
          continue;
        }
        if (stalled) {
          throw new KubeError(
            redactText(`${what}: the Kubernetes API at ${server} gave ${reason}${attempt ? ` (${attempt + 1} attempts)` : ''}` +
              (read ? '' : '; the request may or may not have been processed, so it was not repeated')),
            { code: 'E_KUBE_TIMEOUT' },
            { cause: e, hint: 'check that the API server (or the load balancer in front of it) is up: kubectl get --raw /readyz' },
          );
        }
        throw toKubeError(e, what, server);
      } finally {
        for (const t of st.timers) clearTimeout(t);
        opts.signal?.removeEventListener('abort', onInterrupt);
      }
    }
  }
  function interrupted(): KaddError {
    const r: unknown = opts.signal?.reason;
    return KaddError.is(r) ? r : new InterruptedError();
  }
  async function orNull<T>(p: Promise<T>): Promise<T | null> {
    try {
      return await p;
    } catch (e) {
      if (httpStatusOf(e) === 404) return null;
      throw e;
    }
  }
  async function ignore404(p: Promise<unknown>): Promise<void> {
    try {
      await p;
    } catch (e) {
      if (httpStatusOf(e) !== 404) throw e;
    }
  }

  /** MicroTime fields go out with six fractional digits, as the API server's RFC3339Micro parser wants */
  async function leaseBody(name: string, namespace: string, resourceVersion: string | undefined, l: LeaseWrite): Promise<K8s.V1Lease> {
    const { V1MicroTime } = (await clients()).k8s;
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name, namespace, annotations: l.annotations, ...(resourceVersion ? { resourceVersion } : {}) },
      spec: {
        holderIdentity: l.holderIdentity,
        leaseDurationSeconds: l.leaseDurationSeconds,
        acquireTime: new V1MicroTime(l.acquireTime),
        renewTime: new V1MicroTime(l.renewTime),
        leaseTransitions: l.leaseTransitions,
      },
    };
  }

  const api: KubeApi = {
    server: () => server,

    async serverVersion() {
      const v = await call('GET /version', (c) => c.version.getCode());
      return { gitVersion: v.gitVersion, major: v.major, minor: v.minor };
    },

    async clusterCaPem() {
      const fromKubeconfig = await loaded.caPem();
      if (fromKubeconfig) return fromKubeconfig;
      const cm = await call('read ConfigMap kube-public/cluster-info', (c) =>
        c.core.readNamespacedConfigMap({ name: 'cluster-info', namespace: 'kube-public' }),
      );
      const kubeconfig = cm.data?.kubeconfig;
      if (kubeconfig) {
        const { load } = await import('js-yaml');
        const doc = load(kubeconfig) as { clusters?: { cluster?: Record<string, unknown> }[] } | null;
        const data = doc?.clusters?.[0]?.cluster?.['certificate-authority-data'];
        if (typeof data === 'string' && data) return Buffer.from(data, 'base64').toString('utf8');
      }
      throw new KubeError('no cluster CA: the kubeconfig has no certificate-authority(-data) and kube-public/cluster-info has none', {
        code: 'E_KUBE_NO_CA',
      });
    },

    async createBootstrapToken({ ttlSeconds, description, groups, usages, id: chosen }) {
      if (chosen !== undefined) assertTokenId(chosen);
      // an id collision (409) is astronomically rare; retry with a fresh id a couple of times (not a chosen one:
      // the caller journaled it before the create)
      for (let attempt = 0; ; attempt++) {
        const id = chosen ?? generateTokenId();
        const secret = generateTokenSecret();
        registerSecret(secret);
        registerSecret(`${id}.${secret}`);
        const expiration = expirationFrom(clock.now(), ttlSeconds);
        const body = bootstrapTokenSecretBody({
          id,
          secret,
          expiration,
          description,
          usages: usages ?? DEFAULT_USAGES,
          groups: groups ?? [DEFAULT_NODE_GROUP],
        });
        try {
          await call(`create Secret kube-system/${body.metadata.name}`, (c) =>
            c.core.createNamespacedSecret({ namespace: BOOTSTRAP_TOKEN_NAMESPACE, body }),
          );
          const token: BootstrapToken = { id, secret, expiration };
          return token;
        } catch (e) {
          const status = httpStatusOf(e);
          if (status === 409 && attempt < 2 && chosen === undefined) continue;
          // no answer or a 5xx: the Secret may exist all the same, a live join token nobody would delete
          // (it has no journal entry yet: the caller never got its id). Best effort; the TTL bounds the rest.
          if (status === undefined || status >= 500) await api.deleteBootstrapToken(id).catch(() => undefined);
          throw e;
        }
      }
    },

    async extendBootstrapToken(id, expiration) {
      assertTokenId(id);
      if (!isRfc3339Utc(expiration)) throw new KubeError(`invalid token expiration '${expiration}': expected RFC 3339 UTC`);
      const name = secretNameForTokenId(id);
      await call(`patch Secret kube-system/${name}`, (c) =>
        c.core.patchNamespacedSecret(
          { name, namespace: BOOTSTRAP_TOKEN_NAMESPACE, body: { data: { expiration: Buffer.from(expiration).toString('base64') } } },
          c.smp,
        ),
      );
    },

    async deleteBootstrapToken(id) {
      assertTokenId(id);
      const name = secretNameForTokenId(id);
      await ignore404(call(`delete Secret kube-system/${name}`, (c) => c.core.deleteNamespacedSecret({ name, namespace: BOOTSTRAP_TOKEN_NAMESPACE })));
    },

    async listBootstrapTokens() {
      const list = await call('list bootstrap-token Secrets in kube-system', (c) =>
        c.core.listNamespacedSecret({ namespace: BOOTSTRAP_TOKEN_NAMESPACE, fieldSelector: `type=${BOOTSTRAP_TOKEN_SECRET_TYPE}` }),
      );
      const text = (d: Record<string, string> | undefined, k: string) => (d?.[k] ? Buffer.from(d[k]!, 'base64').toString('utf8') : undefined);
      return list.items
        .filter((s) => s.type === BOOTSTRAP_TOKEN_SECRET_TYPE)
        .map((s) => {
          const id = text(s.data, 'token-id') ?? (s.metadata?.name ?? '').replace(/^bootstrap-token-/, '');
          const description = text(s.data, 'description');
          const expiration = text(s.data, 'expiration');
          return { id, ...(description ? { description } : {}), ...(expiration ? { expiration } : {}) };
        });
    },

    async listNodes(labelSelector) {
      const list = await call('list Nodes', (c) => c.core.listNode(labelSelector ? { labelSelector } : {}));
      return list.items.map(toKNode);
    },

    async getNode(name) {
      const n = await orNull(call(`get Node ${name}`, (c) => c.core.readNode({ name })));
      return n ? toKNode(n) : null;
    },

    async deleteNode(name) {
      await ignore404(call(`delete Node ${name}`, (c) => c.core.deleteNode({ name })));
    },

    async cordonNode(name, unschedulable) {
      // strategic merge patch, as kubectl cordon/uncordon (uncordon removes the field)
      await call(`${unschedulable ? 'cordon' : 'uncordon'} Node ${name}`, (c) =>
        c.core.patchNode({ name, body: { spec: { unschedulable: unschedulable ? true : null } } }, c.smp),
      );
    },

    async annotateNode(name, annotations) {
      await call(`annotate Node ${name}`, (c) => c.core.patchNode({ name, body: { metadata: { annotations } } }, c.smp));
    },

    async listPodsOnNode(nodeName) {
      const list = await call(`list Pods on Node ${nodeName}`, (c) => c.core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${nodeName}` }));
      return list.items.map(toKPod);
    },

    async listAllPods() {
      const list = await call('list Pods (all namespaces)', (c) => c.core.listPodForAllNamespaces({}));
      return list.items.map(toKPod);
    },

    async getPod(namespace, name) {
      const p = await orNull(call(`get Pod ${namespace}/${name}`, (c) => c.core.readNamespacedPod({ name, namespace })));
      return p ? toKPod(p) : null;
    },

    async listPodDisruptionBudgets() {
      const list = await call('list PodDisruptionBudgets', (c) => c.policy.listPodDisruptionBudgetForAllNamespaces({}));
      return list.items.map(toKPdb);
    },

    async evictPod(namespace, name, eo = {}) {
      const deleteOptions: K8s.V1DeleteOptions = {
        ...(eo.dryRun ? { dryRun: ['All'] } : {}),
        ...(eo.gracePeriodSeconds !== undefined && eo.gracePeriodSeconds >= 0 ? { gracePeriodSeconds: eo.gracePeriodSeconds } : {}),
        ...(eo.uid ? { preconditions: { uid: eo.uid } } : {}),
      };
      const body: K8s.V1Eviction = {
        apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace },
        ...(Object.keys(deleteOptions).length ? { deleteOptions } : {}),
      };
      const what = `${eo.dryRun ? 'dry-run ' : ''}evict Pod ${namespace}/${name}`;
      const c = await clients();
      opts.io.trace(`kube: ${what}`);
      try {
        await c.core.createNamespacedPodEviction({ name, namespace, body, ...(eo.dryRun ? { dryRun: 'All' } : {}) });
        return { outcome: 'evicted' } satisfies EvictionOutcome;
      } catch (e) {
        const code = httpStatusOf(e);
        const st = statusOf(e);
        const msg = redactText([st.message, ...(st.causes ?? []).map((x) => x.message)].filter(Boolean).join(': ') || `HTTP ${code}`);
        if (code === 404) return { outcome: 'gone' };
        // a uid precondition that fails: the pod was replaced by one with the same name (StatefulSet): the old one is gone
        if (code === 409 && eo.uid && /precondition/i.test(st.message ?? '')) return { outcome: 'gone' };
        if (code === 429) return { outcome: 'blocked', message: msg, ...(st.retryAfterSeconds ? { retryAfterSeconds: st.retryAfterSeconds } : {}) };
        if (code === 500 && /more than one PodDisruptionBudget/i.test(st.message ?? '')) return { outcome: 'multiple-pdbs', message: msg };
        if (code === 403 && (st.causes ?? []).some((x) => x.reason === 'NamespaceTerminating')) return { outcome: 'namespace-terminating', message: msg };
        throw toKubeError(e, what, server);
      }
    },

    async deletePod(namespace, name, dop = {}) {
      const body: K8s.V1DeleteOptions = {
        ...(dop.gracePeriodSeconds !== undefined && dop.gracePeriodSeconds >= 0 ? { gracePeriodSeconds: dop.gracePeriodSeconds } : {}),
        ...(dop.uid ? { preconditions: { uid: dop.uid } } : {}),
      };
      try {
        await call(`delete Pod ${namespace}/${name}`, (c) => c.core.deleteNamespacedPod({ name, namespace, body }));
      } catch (e) {
        const code = httpStatusOf(e);
        if (code === 404 || (code === 409 && dop.uid)) return;
        throw e;
      }
    },

    async listVolumeAttachments(nodeName) {
      // an API server that does not serve storage.k8s.io/v1 has no attachments to wait for
      const list = (await orNull(call('list VolumeAttachments', (c) => c.storage.listVolumeAttachment({})))) ?? { items: [] as K8s.V1VolumeAttachment[] };
      const out: KVolumeAttachment[] = list.items.map((v) => ({
        name: v.metadata?.name ?? '',
        nodeName: v.spec?.nodeName ?? '',
        attached: v.status?.attached === true,
        attacher: v.spec?.attacher ?? '',
        ...(v.spec?.source?.persistentVolumeName ? { pvName: v.spec.source.persistentVolumeName } : {}),
      }));
      return nodeName === undefined ? out : out.filter((v) => v.nodeName === nodeName);
    },

    async readConfigMap(namespace, name) {
      const cm = await orNull(call(`read ConfigMap ${namespace}/${name}`, (c) => c.core.readNamespacedConfigMap({ name, namespace })));
      return cm ? { ...(cm.data ?? {}) } : null;
    },

    async getClusterConfiguration() {
      const cm = await orNull(
        call('read ConfigMap kube-system/kubeadm-config', (c) => c.core.readNamespacedConfigMap({ name: 'kubeadm-config', namespace: 'kube-system' })),
      );
      const text = cm?.data?.ClusterConfiguration;
      if (!text) return null;
      const { load } = await import('js-yaml');
      let doc: unknown;
      try {
        doc = load(text);
      } catch (e) {
        throw new KubeError(`kube-system/kubeadm-config: ClusterConfiguration is not valid YAML: ${(e as Error).message}`);
      }
      return doc && typeof doc === 'object' && !Array.isArray(doc) ? (doc as Record<string, unknown>) : null;
    },

    async setClusterConfigurationVersion(version) {
      if (!/^v\d+\.\d+\.\d+$/.test(version)) throw new KubeError(`invalid Kubernetes version '${version}': expected vX.Y.Z`);
      const cm = await call('read ConfigMap kube-system/kubeadm-config', (c) => c.core.readNamespacedConfigMap({ name: 'kubeadm-config', namespace: 'kube-system' }));
      const text = cm.data?.ClusterConfiguration;
      if (!text) throw new KubeError('kube-system/kubeadm-config has no ClusterConfiguration');
      const { load, dump } = await import('js-yaml');
      const doc = load(text) as Record<string, unknown> | null;
      if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new KubeError('kube-system/kubeadm-config: ClusterConfiguration is not a mapping');
      const previous = typeof doc.kubernetesVersion === 'string' ? doc.kubernetesVersion : undefined;
      if (previous === version) return previous;
      doc.kubernetesVersion = version;
      // replace (not patch) with the resourceVersion read: a concurrent change fails with 409 instead of being lost
      await call('update ConfigMap kube-system/kubeadm-config', (c) =>
        c.core.replaceNamespacedConfigMap({
          name: 'kubeadm-config', namespace: 'kube-system',
          body: { ...cm, data: { ...(cm.data ?? {}), ClusterConfiguration: dump(doc, { lineWidth: -1 }) } },
        }),
      );
      return previous;
    },

    async readyz() {
      const c = await clients();
      opts.io.trace('kube: GET /readyz');
      try {
        // client-node's Health: 200 = ready; a 404 (old API servers) falls back to /healthz
        const ok = await new c.k8s.Health(c.kc).readyz({ signal: AbortSignal.timeout(15_000) } as never);
        return ok ? { ok: true, detail: 'ok' } : { ok: false, detail: `GET /readyz on ${server} did not answer 200 (the API server reports a failed check, e.g. etcd)` };
      } catch (e) {
        return { ok: false, detail: redactText(`GET /readyz on ${server} failed: ${e instanceof Error ? e.message : String(e)}`) };
      }
    },

    async apiserverReadyzOn(node, port = 6443) {
      try {
        await call(`get Node ${node} proxy https:${port}/readyz`, (c) => c.core.connectGetNodeProxyWithPath({ name: `https:${node}:${port}`, path: 'readyz' }));
        return { ok: true, detail: 'ok' };
      } catch (e) {
        const status = httpStatusOf(e);
        const body = (e as { body?: unknown; cause?: { body?: unknown } }).body ?? (e as { cause?: { body?: unknown } }).cause?.body;
        const failed = typeof body === 'string' ? body.split('\n').filter((l) => l.startsWith('[-]')).map((l) => l.replace(/: reason withheld$/, '')).join(', ') : '';
        const why = failed || (typeof body === 'string' && body.trim() ? body.trim().split('\n')[0]! : e instanceof Error ? e.message : String(e));
        return { ok: false, detail: redactText(`GET /readyz of ${node}:${port}${status ? ` answered ${status}` : ' failed'}: ${why}`) };
      }
    },

    async createDeployment(namespace, body) {
      const name = (body.metadata as { name?: string } | undefined)?.name ?? '?';
      await call(`create Deployment ${namespace}/${name}`, (c) =>
        c.apps.createNamespacedDeployment({ namespace, body: body as unknown as K8s.V1Deployment }),
      );
    },

    async deleteDeployment(namespace, name) {
      await ignore404(
        call(`delete Deployment ${namespace}/${name}`, (c) => c.apps.deleteNamespacedDeployment({ name, namespace, propagationPolicy: 'Background' })),
      );
    },

    async listDeployments(namespace, labelSelector) {
      const list = await call(`list Deployments in ${namespace}`, (c) => c.apps.listNamespacedDeployment({ namespace, labelSelector }));
      return list.items.map((d) => ({ name: d.metadata?.name ?? '', labels: { ...(d.metadata?.labels ?? {}) } }));
    },

    async getLease(namespace, name) {
      const l = await orNull(call(`get Lease ${namespace}/${name}`, (c) => c.coordination.readNamespacedLease({ name, namespace })));
      return l ? toLease(l) : null;
    },

    async createLease(namespace, name, lease) {
      const body = await leaseBody(name, namespace, undefined, lease);
      return toLease(await call(`create Lease ${namespace}/${name}`, (c) => c.coordination.createNamespacedLease({ namespace, body })));
    },

    async replaceLease(namespace, name, resourceVersion, lease) {
      const body = await leaseBody(name, namespace, resourceVersion, lease);
      return toLease(await call(`replace Lease ${namespace}/${name}`, (c) => c.coordination.replaceNamespacedLease({ name, namespace, body })));
    },

    async deleteLease(namespace, name, preconditions) {
      await ignore404(
        call(`delete Lease ${namespace}/${name}`, (c) => c.coordination.deleteNamespacedLease({ name, namespace, body: { preconditions } })),
      );
    },

    async listPods(namespace, { labelSelector, fieldSelector }) {
      const list = await call(`list Pods in ${namespace}`, (c) =>
        c.core.listNamespacedPod({ namespace, ...(labelSelector ? { labelSelector } : {}), ...(fieldSelector ? { fieldSelector } : {}) }),
      );
      return list.items.map((p) => {
        const statuses = p.status?.containerStatuses ?? [];
        const ready = (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
        return {
          name: p.metadata?.name ?? '',
          ...(p.spec?.nodeName ? { nodeName: p.spec.nodeName } : {}),
          ...(p.status?.phase ? { phase: p.status.phase } : {}),
          ready: ready || (statuses.length > 0 && statuses.every((s) => s.ready)),
          containers: (p.spec?.containers ?? []).map((c) => c.name),
        };
      });
    },

    async exec(namespace, pod, container, command, execOpts = {}) {
      const c = await clients();
      const { Writable, Readable } = await import('node:stream');
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      const sink = (arr: Buffer[]) =>
        new Writable({
          write(chunk, _enc, cb) {
            arr.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
            cb();
          },
        });
      // stdinEof false: the data is sent and stdin stays open until the command ends (see Transport.run)
      let stdin: InstanceType<typeof Readable> | null = null;
      if (execOpts.stdin !== undefined && execOpts.stdinEof === false) {
        stdin = new Readable({ read() {} });
        stdin.push(Buffer.from(execOpts.stdin));
      } else if (execOpts.stdin !== undefined) stdin = Readable.from([Buffer.from(execOpts.stdin)]);
      const what = `exec in ${namespace}/${pod}[${container}]: ${command[0] ?? ''}`;
      opts.io.trace(`kube: ${what}`);
      let status: ExecStatus | undefined;
      const exec = new c.k8s.Exec(c.kc);
      let ws: { close(): void; on(ev: string, fn: (...a: unknown[]) => void): unknown; readyState: number };
      // an exec may change anything (etcdctl member add): it counts as a change
      noteChange(`kube: ${what}`);
      try {
        // the WebSocket upgrade gets the first-byte deadline; a socket that opens late is closed at once
        let late = false;
        const opening = exec.exec(namespace, pod, container, command, sink(out), sink(err), stdin, false, (s) => {
          status = s as ExecStatus;
        }) as unknown as Promise<typeof ws>;
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            late = true;
            void opening.then((w) => w.close(), () => undefined);
            reject(new KubeError(`${what}: the Kubernetes API at ${server} gave no answer within ${secs(firstByteMs)}`, { code: 'E_KUBE_TIMEOUT' }));
          }, firstByteMs);
        });
        try {
          ws = await Promise.race([opening, deadline]);
        } finally {
          clearTimeout(timer);
        }
        if (late) throw new KubeError(`${what}: timed out`, { code: 'E_KUBE_TIMEOUT' });
      } catch (e) {
        throw toKubeError(e, what, server);
      }
      await new Promise<void>((resolve, reject) => {
        let timer: NodeJS.Timeout | undefined;
        const done = () => {
          if (timer) clearTimeout(timer);
          resolve();
        };
        if (execOpts.timeoutMs) {
          timer = setTimeout(() => {
            ws.close();
            reject(new KubeError(`${what}: timed out after ${Math.round(execOpts.timeoutMs! / 1000)}s`, { code: 'E_KUBE_EXEC_TIMEOUT' }));
          }, execOpts.timeoutMs);
        }
        if (ws.readyState === 3 /* CLOSED */) return done();
        ws.on('close', done);
        ws.on('error', (e: unknown) => {
          if (timer) clearTimeout(timer);
          reject(toKubeError(e, what, server));
        });
      });
      if (execOpts.stdinEof === false) stdin?.destroy();
      const result: ExecResult = {
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        exitCode: exitCodeFromStatus(status),
      };
      return result;
    },
  };
  return api;
}
