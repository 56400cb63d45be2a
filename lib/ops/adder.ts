/**
 * The master-adder Deployment (design.md section 4.2): one replica in kube-system, pinned to a healthy
 * control-plane Node, host network, that node's etcd client certificates (and, for the certificate
 * upload, /etc/kubernetes and the host's kubeadm) mounted read-only; image = the cluster's own etcd image.
 * kadd runs etcdctl and kubeadm in it through the exec API and deletes it when the operation ends,
 * also on failure and Ctrl-C (close() is idempotent and ignores the abort signal).
 */
import { pollUntil } from '../poll.js';
import type { Clock } from '../clock.js';
import { InterruptedError, KaddError, PreflightError } from '../errors.js';
import type { Io } from '../io.js';
import { KubeExecTransport } from '../kube/exec-transport.js';
import { isControlPlane } from '../kube/labels.js';
import type { KNode, KubeApi } from '../kube/types.js';
import type { RenderedManifest } from '../cloudinit/render.js';

/** The rendered adder Deployment (lib/cloudinit renderAdderDeployment) without its YAML text; familySelector:
 * every kadd adder of any operation, reported, never deleted (13.10). */
export type AdderManifest = Omit<RenderedManifest, 'text'>;

export interface AdderOptions {
  kube: KubeApi;
  clock: Clock;
  io: Io;
  signal?: AbortSignal;
  /** renders the Deployment for the chosen node (lib/cloudinit renderAdderDeployment, bound by the caller) */
  render: (nodeName: string) => Promise<AdderManifest>;
  /** pin to this Node instead of choosing one */
  nodeName?: string;
  /** Nodes the adder must not run on (e.g. the master being added) */
  exclude?: string[];
  /** pod Running + Ready within this time (default 180 s) */
  readyTimeoutMs?: number;
  /** time to wait for a leftover adder's pods to go (default 60 s) */
  goneTimeoutMs?: number;
  pollIntervalMs?: number;
  container?: string;
  /** journal hooks (kind "deployment") */
  journal?: { intent(kind: 'deployment', name: string): Promise<void>; done(kind: 'deployment', name: string, id: string): Promise<void>; undone(kind: 'deployment', name: string, id?: string): Promise<void> };
}

export interface Adder {
  nodeName: string;
  pod: string;
  namespace: string;
  name: string;
  transport: KubeExecTransport;
  /** delete the Deployment (idempotent; safe after Ctrl-C) */
  close(): Promise<void>;
}

/**
 * Pure: the control-plane Node to pin the adder to: Ready, schedulable, not excluded; the oldest first
 * (the first master has carried etcd longest), then by name. Returns null when none qualifies.
 */
export function pickAdderNode(nodes: KNode[], exclude: string[] = []): KNode | null {
  const ok = nodes.filter((n) => isControlPlane(n) && n.ready && !n.unschedulable && !exclude.includes(n.name));
  ok.sort((a, b) => (a.creationTimestamp ?? '').localeCompare(b.creationTimestamp ?? '') || a.name.localeCompare(b.name, 'en', { numeric: true }));
  return ok[0] ?? null;
}

/** Create the adder and wait for its pod; on any failure the Deployment is deleted before the error propagates. */
export async function startAdder(o: AdderOptions): Promise<Adder> {
  const { kube, clock, io } = o;
  const interval = o.pollIntervalMs ?? 1000;
  let nodeName = o.nodeName;
  if (!nodeName) {
    const nodes = await kube.listNodes();
    const n = pickAdderNode(nodes, o.exclude);
    if (!n) {
      const cps = nodes.filter(isControlPlane);
      throw new PreflightError('no Ready, schedulable control-plane Node to run the master-adder on', {
        code: 'E_NO_HEALTHY_MASTER',
        details: cps.map((x) => `${x.name}: ${x.ready ? 'Ready' : 'NotReady'}${x.unschedulable ? ', cordoned' : ''}`),
        hint: 'bring a master back (kubelet, API server), or use --via ssh to reach etcd over SSH',
      });
    }
    nodeName = n.name;
  }
  const m = await o.render(nodeName);
  const container = o.container ?? 'adder';

  // adders of other operations (another run, or a crashed one): not ours to delete; they expire on their own
  if (m.familySelector && m.familySelector !== m.labelSelector) {
    const mine = new Set((await kube.listPods(m.namespace, { labelSelector: m.labelSelector })).map((p) => p.name));
    const others = (await kube.listPods(m.namespace, { labelSelector: m.familySelector })).filter((p) => !mine.has(p.name));
    if (others.length) io.log('warn', `another operation's master-adder is present (${others.map((p) => p.name).join(', ')}); left alone: it belongs to that run (its journal's cleanup deletes it) and stops working at its kadd.io/expires-at`);
  }
  // this operation's own adder left from an earlier attempt: delete it and wait for its pods to go
  const leftovers = await kube.listPods(m.namespace, { labelSelector: m.labelSelector });
  if (leftovers.length) {
    io.log('warn', `deleting a master-adder left behind by an earlier run (${leftovers.map((p) => p.name).join(', ')})`);
    await kube.deleteDeployment(m.namespace, m.name);
    await waitPods(kube, clock, m, interval, o.goneTimeoutMs ?? 60_000, (pods) => pods.length === 0, 'the old master-adder pods to go', o.signal);
  }

  await o.journal?.intent('deployment', `${m.namespace}/${m.name}`);
  await kube.createDeployment(m.namespace, m.object);
  await o.journal?.done('deployment', `${m.namespace}/${m.name}`, m.name);
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    try {
      await kube.deleteDeployment(m.namespace, m.name);
      await o.journal?.undone('deployment', `${m.namespace}/${m.name}`, m.name);
      io.log('debug', `master-adder ${m.namespace}/${m.name} deleted`);
    } catch (e) {
      io.log('warn', `could not delete the master-adder Deployment ${m.namespace}/${m.name}: ${e instanceof Error ? e.message : e}; it stops working at ${m.expiresAt}; delete it with: kubectl -n ${m.namespace} delete deployment ${m.name}`);
    }
  };
  try {
    const readyTimeout = o.readyTimeoutMs ?? 180_000;
    const pods = await waitPods(
      kube, clock, m, interval, readyTimeout,
      (ps) => ps.some((p) => p.phase === 'Running' && p.ready && p.nodeName === nodeName),
      `the master-adder pod on ${nodeName} to be Running and Ready`, o.signal,
    );
    const pod = pods.find((p) => p.phase === 'Running' && p.ready && p.nodeName === nodeName)!;
    if (!pod.containers.includes(container)) throw new KaddError('E_ADDER', `the master-adder pod ${pod.name} has no container "${container}"`, 1);
    io.log('debug', `master-adder pod ${pod.name} ready on ${nodeName}`);
    const transport = new KubeExecTransport(kube, { namespace: m.namespace, pod: pod.name, container, nodeName });
    return { nodeName, pod: pod.name, namespace: m.namespace, name: m.name, transport, close };
  } catch (e) {
    await close();
    throw e;
  }
}

type PodRow = Awaited<ReturnType<KubeApi['listPods']>>[number];

async function waitPods(
  kube: KubeApi, clock: Clock, m: AdderManifest, interval: number, timeoutMs: number,
  done: (pods: PodRow[]) => boolean, what: string, signal?: AbortSignal,
): Promise<PodRow[]> {
  let last: PodRow[] = [];
  // the one poller (lib/poll.ts): first look at once, then the fixed interval, the deadline, Ctrl-C
  return pollUntil<PodRow[]>({
    what, timeoutMs, clock, signal, intervalMs: interval, factor: 1, jitter: 0, immediate: true,
    probe: async () => {
      last = await kube.listPods(m.namespace, { labelSelector: m.labelSelector });
      return done(last) ? { state: 'done', value: last } : { state: 'pending' };
    },
    onTimeout: () => new KaddError('E_ADDER_TIMEOUT', `timed out after ${Math.round(timeoutMs / 1000)}s waiting for ${what}`, 1, {
      details: last.map((p) => `${p.name}: ${p.phase ?? 'Pending'}${p.ready ? ', Ready' : ''}${p.nodeName ? ` on ${p.nodeName}` : ', not scheduled'}`),
      hint: `see \`kubectl -n ${m.namespace} describe pods -l ${m.labelSelector}\` (image pull? taints?), or use --via ssh`,
    }),
  });
}
