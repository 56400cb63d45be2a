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
import type { Io } from '../io.js';
import type { Clock } from '../clock.js';
import { realClock } from '../clock.js';
import { redactText, registerSecret } from '../redact.js';
import type { BootstrapToken, ExecResult, KNode, KubeApi } from './types.js';
import type { LoadedKubeconfig } from './config.js';
import {
  BOOTSTRAP_TOKEN_NAMESPACE,
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
  io: Io;
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
  return out;
}

interface Clients {
  k8s: typeof K8s;
  kc: K8s.KubeConfig;
  core: K8s.CoreV1Api;
  apps: K8s.AppsV1Api;
  version: K8s.VersionApi;
  smp: ReturnType<typeof K8s.setHeaderOptions>;
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
        version: new k8s.VersionApi(config),
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
      opts.io.log('info', `checking the Kubernetes API at ${server}`);
    }
    const read = isRead(what);
    if (!read) noteChange(`kube: ${what}`);
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
          opts.io.log('warn', `Kubernetes API ${server}: ${what}: ${reason ?? errText(e)}; retry ${attempt + 1} of ${readRetries}`);
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
      const stdin = execOpts.stdin !== undefined ? Readable.from([Buffer.from(execOpts.stdin)]) : null;
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
