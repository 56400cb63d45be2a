/**
 * Node health as the node lifecycle controller and the taint manager show it:
 * - Unreachable: the kubelet stops answering (exec fails, deletions are never confirmed: pods stay Terminating),
 *   Ready Unknown with the unreachable taints; its etcd member (control plane) is down;
 * - NotReady: the kubelet answers but reports Ready False (not-ready taints);
 * - Ready again: the kubelet finishes the deletions it could not confirm;
 * - the taint manager deletes pods that do not tolerate a NoExecute taint (after their tolerationSeconds);
 * - the Nova side (server.state events): a stopped / rebooting / ERROR server takes its kubelet away (Ready
 *   Unknown after the node-monitor grace period); a reboot or start brings the kubelet back after kubeletRestart,
 *   unless faults.rebootDoesNotHeal names the node;
 * - node Leases (kube-node-lease) renewed while the kubelet answers.
 */
import type { SimServerInfo } from '../contract.js';
import type { KubeCluster } from './cluster.js';
import type { Obj } from './util.js';

export type NodeState = 'Ready' | 'NotReady' | 'Unreachable';

const NOT_READY = 'node.kubernetes.io/not-ready';
const UNREACHABLE = 'node.kubernetes.io/unreachable';

export function nodeState(c: KubeCluster, name: string): NodeState | undefined {
  const n = c.get('nodes', undefined, name);
  if (!n) return undefined;
  const r = (n.status.conditions as Obj[]).find((x) => x.type === 'Ready');
  return r?.status === 'True' ? 'Ready' : r?.status === 'Unknown' ? 'Unreachable' : 'NotReady';
}

export function setNodeState(c: KubeCluster, name: string, state: NodeState, o: { reason?: string; etcd?: boolean } = {}): void {
  const n = c.get('nodes', undefined, name);
  const meta = c.nodeMeta.get(name);
  if (!n || !meta) throw new Error(`no Node ${name}`);
  const wasGone = !!meta.gone;
  meta.gone = state === 'Unreachable';
  if (state === 'Unreachable') c.setNodeReady(name, 'Unknown');
  else if (state === 'NotReady') c.setNodeReady(name, false, { reason: o.reason, noExecute: true });
  else c.setNodeReady(name, true);
  // the etcd member lives on the node: down with the kubelet's host, up again with it
  const etcdUp = state !== 'Unreachable' || o.etcd === true;
  for (const m of c.etcd.members) if (m.node === name) c.etcd.setUp(m.id, etcdUp);
  c.etcd.real?.setNodeDown(name, !etcdUp);
  if (state !== 'Unreachable' && wasGone) {
    // a kubelet that answers again finishes the deletions it could not confirm
    for (const p of c.list('pods')) if (p.spec.nodeName === name && p.metadata.deletionTimestamp) c.scheduleTermination(p, p.metadata.deletionGracePeriodSeconds ?? 30);
  }
  renewLease(c, name);
  if (state !== 'Ready') taintManager(c, name);
}

/** NoExecute taint manager: pods that do not tolerate the node's NoExecute taints are deleted (after tolerationSeconds) */
export function taintManager(c: KubeCluster, node: string): void {
  const n = c.get('nodes', undefined, node);
  if (!n) return;
  const taints: Obj[] = (n.spec.taints ?? []).filter((t: Obj) => t.effect === 'NoExecute');
  if (!taints.length) return;
  for (const p of c.list('pods')) {
    if (p.spec.nodeName !== node || p.metadata.deletionTimestamp) continue;
    let wait = 0;
    let never = false;
    for (const t of taints) {
      const tol = (p.spec.tolerations ?? []).find((x: Obj) => c.tolerates([x], t));
      if (!tol) continue;
      if (tol.tolerationSeconds === undefined || tol.tolerationSeconds === null) never = true;
      else wait = Math.max(wait, Number(tol.tolerationSeconds) * 1000);
    }
    const untolerated = taints.some((t) => !(p.spec.tolerations ?? []).some((x: Obj) => c.tolerates([x], t)));
    if (!untolerated && never) continue;
    const uid = p.metadata.uid;
    const fire = () => {
      const cur = c.get('pods', p.metadata.namespace, p.metadata.name);
      const nn = c.get('nodes', undefined, node);
      if (!cur || cur.metadata.uid !== uid || cur.metadata.deletionTimestamp || !nn) return;
      const still = (nn.spec.taints ?? []).some((t: Obj) => t.effect === 'NoExecute' && (t.key === NOT_READY || t.key === UNREACHABLE));
      if (still) c.deletePod(cur);
    };
    if (untolerated) fire();
    else c.later(wait, fire);
  }
}

/** MicroTime as the API server prints it */
function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** the node's Lease in kube-node-lease; renewed while the kubelet answers */
export function renewLease(c: KubeCluster, node: string): void {
  const meta = c.nodeMeta.get(node);
  const n = c.get('nodes', undefined, node);
  if (!n || !meta) return;
  let l = c.get('leases', 'kube-node-lease', node);
  if (!l) {
    l = c.put('leases', {
      metadata: { name: node, namespace: 'kube-node-lease', ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: node, uid: n.metadata.uid }] },
      spec: { holderIdentity: node, leaseDurationSeconds: 40, renewTime: microTime(c.now()) },
    });
    return;
  }
  if (meta.gone) return;
  l.spec.renewTime = microTime(c.now());
  c.touch(l);
}

/** renew every answering kubelet's Lease (before a Lease read: the kubelet renews every 10 s) */
export function renewLeases(c: KubeCluster): void {
  const now = c.now();
  for (const l of c.list('leases', 'kube-node-lease')) {
    const meta = c.nodeMeta.get(l.metadata.name);
    if (!meta || meta.gone) continue;
    if (now - Date.parse(l.spec.renewTime) >= 10_000) {
      l.spec.renewTime = microTime(now);
      c.touch(l);
    }
  }
}

/** the Node a Nova server backs (providerID, else the same name) */
export function nodeForServer(c: KubeCluster, s: SimServerInfo): string | undefined {
  for (const [name, meta] of c.nodeMeta) if (meta.serverId === s.id) return name;
  return c.list('nodes').find((n) => n.spec.providerID === `openstack:///${s.id}` || n.metadata.name === s.name.toLowerCase())?.metadata.name;
}

/** wire Nova state changes to the kubelets */
export function onServerState(c: KubeCluster, ev: SimServerInfo & { change: string }): void {
  const node = nodeForServer(c, ev);
  if (!node) return;
  const meta = c.nodeMeta.get(node);
  if (!meta) return;
  const kube = c.core.scenario.kube ?? {};
  if (ev.change === 'stopped' || ev.change === 'rebooting' || ev.change === 'error') {
    // the kubelet stops answering now; the node controller marks the Node Unknown after its grace period
    const epoch = (meta.powerEpoch = (meta.powerEpoch ?? 0) + 1);
    meta.gone = true;
    for (const m of c.etcd.members) if (m.node === node) c.etcd.setUp(m.id, false);
    c.etcd.real?.setNodeDown(node, true);
    c.later(c.core.rng.latency(kube.nodeMonitorGrace ?? 40_000), () => {
      if (meta.powerEpoch === epoch && meta.gone) setNodeState(c, node, 'Unreachable');
    });
    return;
  }
  if (ev.change === 'rebooted' || ev.change === 'started') {
    const epoch = (meta.powerEpoch = (meta.powerEpoch ?? 0) + 1);
    const stuck = (c.core.scenario.faults?.rebootDoesNotHeal ?? []).some((re) => new RegExp(re).test(node));
    c.later(c.core.rng.latency(kube.kubeletRestart ?? { uniform: [5000, 15000] }), () => {
      if (meta.powerEpoch !== epoch || !c.get('nodes', undefined, node)) return;
      if (stuck) {
        // the guest is up but the kubelet still fails: it answers (the host is reachable) and reports NotReady
        setNodeState(c, node, 'NotReady', { reason: 'KubeletNotReady', etcd: true });
        c.core.record?.('kubelet.still-broken', node);
        return;
      }
      setNodeState(c, node, 'Ready');
      c.core.record?.('kubelet.back', node);
    });
  }
}

/** scenario faults.nodes: timed state changes */
export function scheduleNodeFaults(c: KubeCluster): void {
  for (const f of c.core.scenario.faults?.nodes ?? []) {
    c.later(f.at * 1000, () => {
      const re = new RegExp(`^(?:${f.node})$`);
      const hit = c.list('nodes').filter((n) => re.test(n.metadata.name)).map((n) => n.metadata.name);
      for (const name of hit) {
        setNodeState(c, name, f.state, { reason: f.reason });
        c.core.record?.('node.fault', name, { state: f.state });
      }
      if (f.for !== undefined) c.later(f.for * 1000, () => hit.forEach((name) => c.get('nodes', undefined, name) && setNodeState(c, name, 'Ready')));
    });
  }
}
