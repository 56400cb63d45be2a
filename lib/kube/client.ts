/**
 * KubeApi on @kubernetes/client-node ~1.4 (imported lazily: about 1 s to load).
 * client-node 1.4 uses node-fetch over node:http, so nock 14 intercepts it in unit tests.
 */
import type * as K8s from '@kubernetes/client-node';
import { KubeError } from '../errors.js';
import type { Io } from '../io.js';
import type { Clock } from '../clock.js';
import { realClock } from '../clock.js';
import { redactText, registerSecret } from '../redact.js';
import type { BootstrapToken, ExecResult, KNode, KubeApi, LeaseObject, LeaseWrite } from './types.js';
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
}

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

function microTime(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  const d = v instanceof Date ? v : new Date(String(v));
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
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
  const acquire = microTime(s.acquireTime);
  if (acquire) out.acquireTime = acquire;
  const renew = microTime(s.renewTime);
  if (renew) out.renewTime = renew;
  return out;
}

interface Clients {
  k8s: typeof K8s;
  kc: K8s.KubeConfig;
  core: K8s.CoreV1Api;
  apps: K8s.AppsV1Api;
  version: K8s.VersionApi;
  coordination: K8s.CoordinationV1Api;
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
      return {
        k8s,
        kc,
        core: kc.makeApiClient(k8s.CoreV1Api),
        apps: kc.makeApiClient(k8s.AppsV1Api),
        version: kc.makeApiClient(k8s.VersionApi),
        coordination: kc.makeApiClient(k8s.CoordinationV1Api),
        smp: k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch),
      };
    })());

  async function call<T>(what: string, fn: (c: Clients) => Promise<T>): Promise<T> {
    const c = await clients();
    opts.io.trace(`kube: ${what}`);
    try {
      return await fn(c);
    } catch (e) {
      throw toKubeError(e, what, server);
    }
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

    async createBootstrapToken({ ttlSeconds, description, groups, usages }) {
      // an id collision (409) is astronomically rare; retry with a fresh id a couple of times
      for (let attempt = 0; ; attempt++) {
        const id = generateTokenId();
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
          if (status === 409 && attempt < 2) continue;
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
      try {
        ws = (await exec.exec(namespace, pod, container, command, sink(out), sink(err), stdin, false, (s) => {
          status = s as ExecStatus;
        })) as unknown as typeof ws;
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
