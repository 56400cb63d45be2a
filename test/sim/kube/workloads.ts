/**
 * Workloads a node removal has to deal with, and the controllers behind them:
 * - scenario helpers that seed Deployments (with their ReplicaSet, recreated elsewhere when evicted),
 *   DaemonSets, static (mirror) pods, bare pods, emptyDir and PV-backed pods (PVC + CSI PV), and PDBs;
 * - the scheduler's resource fit (requests against allocatable);
 * - the attach/detach controller + external-attacher: VolumeAttachments (storage.k8s.io/v1) and
 *   Node.status.volumesAttached / volumesInUse, RWO multi-attach waiting, a fault that keeps one attached.
 */
import { createHash } from 'node:crypto';
import type { LatencySpec } from '../contract.js';
import type { KubeCluster } from './cluster.js';
import { podRequests, milliCpu, parseQuantity } from './quantity.js';
import { k8sTime, type Obj, randHex, randSuffix, uuid } from './util.js';

export const CSI_DRIVER = 'cinder.csi.openstack.org';
export const STORAGE_CLASS = 'csi-cinder-sc-delete';

/** per-pod behaviour that no API field carries */
export interface PodKnobs {
  /** sim ms the containers take to exit after SIGTERM (capped by the grace period); default scenario kube.podTermination */
  terminationMs?: LatencySpec;
  /** the container crash-loops: Running, never Ready (CrashLoopBackOff) */
  crashLoop?: boolean;
}

export interface WorkloadSpec {
  /** Deployment (default): a ReplicaSet recreates evicted pods on another schedulable node */
  kind?: 'Deployment' | 'DaemonSet' | 'Static' | 'Bare';
  name: string;
  namespace?: string;
  /** Deployment replicas (default 1); Bare/Static: how many pods (default 1 per node in `nodes`) */
  replicas?: number;
  /** where the seeded pods run (round-robin); default: the schedulable workers. DaemonSet: every node it tolerates */
  nodes?: string[];
  labels?: Record<string, string>;
  /** per-container requests, e.g. {cpu: '500m', memory: '256Mi'} */
  requests?: { cpu?: string; memory?: string };
  /** an emptyDir volume (kubectl drain needs --delete-emptydir-data) */
  emptyDir?: boolean;
  /** a PVC bound to a Cinder CSI PV per pod (Deployment: one PVC, replicas must be 1) */
  pvc?: boolean | { size?: string };
  /** a PodDisruptionBudget selecting the pods */
  pdb?: { name?: string; minAvailable?: number | string; maxUnavailable?: number | string; unhealthyPodEvictionPolicy?: 'IfHealthyBudget' | 'AlwaysAllow' };
  /** spec.terminationGracePeriodSeconds (default 30) */
  gracePeriodSeconds?: number;
  terminationMs?: LatencySpec;
  crashLoop?: boolean;
  nodeSelector?: Record<string, string>;
  tolerations?: Obj[];
}

export interface SeededWorkload {
  pods: string[];
  pdb?: string;
  pvcs: string[];
  pvs: string[];
}

// ---------- capacity ----------
export function nodeAllocatable(n: Obj): { cpuMilli: number; memory: number; pods: number } {
  const a = n.status?.allocatable ?? {};
  return { cpuMilli: milliCpu(a.cpu ?? '0'), memory: parseQuantity(a.memory ?? '0'), pods: Number(a.pods ?? 110) };
}

/** sum of the requests of the pods bound to a node (terminating ones still hold their resources) */
export function nodeRequested(c: KubeCluster, node: string): { cpuMilli: number; memory: number; pods: number } {
  const out = { cpuMilli: 0, memory: 0, pods: 0 };
  for (const p of c.list('pods')) {
    if (p.spec.nodeName !== node || p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed') continue;
    const r = podRequests(p);
    out.cpuMilli += r.cpuMilli;
    out.memory += r.memory;
    out.pods += 1;
  }
  return out;
}

/** NodeResourcesFit: the insufficient resources of a node for a pod ([] when it fits) */
export function insufficient(c: KubeCluster, n: Obj, pod: Obj): string[] {
  const a = nodeAllocatable(n);
  const used = nodeRequested(c, n.metadata.name);
  const want = podRequests(pod);
  const out: string[] = [];
  if (used.pods + 1 > a.pods) out.push('Too many pods');
  if (want.cpuMilli > 0 && used.cpuMilli + want.cpuMilli > a.cpuMilli) out.push('Insufficient cpu');
  if (want.memory > 0 && used.memory + want.memory > a.memory) out.push('Insufficient memory');
  return out;
}

export function setNodeAllocatable(c: KubeCluster, name: string, r: { cpu?: string; memory?: string; pods?: string | number }): void {
  const n = c.get('nodes', undefined, name);
  if (!n) throw new Error(`no Node ${name}`);
  for (const k of ['capacity', 'allocatable'] as const) {
    if (r.cpu !== undefined) n.status[k].cpu = r.cpu;
    if (r.memory !== undefined) n.status[k].memory = r.memory;
    if (r.pods !== undefined) n.status[k].pods = String(r.pods);
  }
  c.touch(n);
}

// ---------- volumes ----------
export function vaName(handle: string, node: string): string {
  return 'csi-' + createHash('sha256').update(`${handle}${CSI_DRIVER}${node}`).digest('hex');
}
const uniqueName = (handle: string) => `kubernetes.io/csi/${CSI_DRIVER}^${handle}`;

/** PV names of the PVCs a pod mounts */
export function podPvs(c: KubeCluster, pod: Obj): Obj[] {
  const out: Obj[] = [];
  for (const v of (pod.spec.volumes ?? []) as Obj[]) {
    const claim = v.persistentVolumeClaim?.claimName;
    if (!claim) continue;
    const pvc = c.get('persistentvolumeclaims', pod.metadata.namespace, claim);
    const pv = pvc?.spec?.volumeName ? c.get('persistentvolumes', undefined, pvc.spec.volumeName) : undefined;
    if (pv) out.push(pv);
  }
  return out;
}

function keptAttached(c: KubeCluster, pv: Obj): boolean {
  if (c.keepAttached.has(pv.metadata.name)) return true;
  const claim = pv.spec.claimRef?.name ?? '';
  return (c.core.scenario.faults?.volumeStaysAttached ?? []).some((re) => new RegExp(re).test(pv.metadata.name) || new RegExp(re).test(claim));
}

function syncNodeVolumes(c: KubeCluster, node: string): void {
  const n = c.get('nodes', undefined, node);
  if (!n) return;
  const attached = c.list('volumeattachments').filter((v) => v.spec.nodeName === node && v.status?.attached);
  const inUse = new Set<string>();
  for (const p of c.list('pods')) if (p.spec.nodeName === node) for (const pv of podPvs(c, p)) inUse.add(uniqueName(pv.spec.csi.volumeHandle));
  const va = attached.map((v) => {
    const pv = c.get('persistentvolumes', undefined, v.spec.source.persistentVolumeName);
    return { name: uniqueName(pv?.spec.csi.volumeHandle ?? v.spec.source.persistentVolumeName), devicePath: '' };
  });
  const before = JSON.stringify([n.status.volumesAttached, n.status.volumesInUse]);
  if (va.length) n.status.volumesAttached = va;
  else delete n.status.volumesAttached;
  const iu = [...inUse].filter((u) => va.some((x) => x.name === u)).sort();
  if (iu.length) n.status.volumesInUse = iu;
  else delete n.status.volumesInUse;
  if (JSON.stringify([n.status.volumesAttached, n.status.volumesInUse]) !== before) c.touch(n);
}

/**
 * The attach/detach controller for one pod on its node: a VolumeAttachment per PV, attached after
 * kube.volumeAttach; a RWO volume still attached elsewhere waits (Multi-Attach). Returns true when every
 * volume of the pod is attached to its node (the kubelet can mount and start it).
 */
export function ensureAttached(c: KubeCluster, pod: Obj): boolean {
  const node = pod.spec.nodeName;
  if (!node) return false;
  let all = true;
  for (const pv of podPvs(c, pod)) {
    const handle = pv.spec.csi.volumeHandle;
    const name = vaName(handle, node);
    const mine = c.get('volumeattachments', undefined, name);
    if (mine) {
      if (!mine.status?.attached) all = false;
      continue;
    }
    all = false;
    const elsewhere = c.list('volumeattachments').some((v) => v.spec.source.persistentVolumeName === pv.metadata.name && v.spec.nodeName !== node);
    if (elsewhere && (pv.spec.accessModes ?? []).includes('ReadWriteOnce')) continue; // Multi-Attach error: wait for the detach
    const va = c.put('volumeattachments', {
      metadata: { name, annotations: { 'csi.alpha.kubernetes.io/node-id': node }, finalizers: [`external-attacher/${CSI_DRIVER.replace(/\./g, '-')}`] },
      spec: { attacher: CSI_DRIVER, nodeName: node, source: { persistentVolumeName: pv.metadata.name } },
      status: { attached: false },
    });
    c.later(c.core.rng.latency(c.core.scenario.kube?.volumeAttach ?? { uniform: [1000, 3000] }), () => {
      if (!c.get('volumeattachments', undefined, name) || c.get('volumeattachments', undefined, name) !== va) return;
      va.status = { attached: true, attachmentMetadata: { DevicePath: `/dev/vd${String.fromCharCode(98 + (c.list('volumeattachments').filter((v) => v.spec.nodeName === node).length - 1) % 24)}` } };
      c.touch(va);
      syncNodeVolumes(c, node);
      for (const p of c.list('pods')) if (p.spec.nodeName === node && !c.podReady(p)) c.evaluatePod(p);
    });
  }
  return all;
}

/** after a pod left a node: detach its volumes that no other pod there uses (unless the fault keeps one) */
export function releaseVolumes(c: KubeCluster, pod: Obj): void {
  const node = pod.spec.nodeName;
  if (!node) return;
  syncNodeVolumes(c, node);
  for (const pv of podPvs(c, pod)) {
    const still = c.list('pods').some((p) => p !== pod && p.spec.nodeName === node && podPvs(c, p).some((x) => x.metadata.name === pv.metadata.name));
    if (still) continue;
    const name = vaName(pv.spec.csi.volumeHandle, node);
    const va = c.get('volumeattachments', undefined, name);
    if (!va) continue;
    c.later(c.core.rng.latency(c.core.scenario.kube?.volumeDetach ?? { uniform: [1000, 3000] }), () => detach(c, name));
  }
}

export function detach(c: KubeCluster, name: string): void {
  const va = c.get('volumeattachments', undefined, name);
  if (!va) return;
  const pv = c.get('persistentvolumes', undefined, va.spec.source.persistentVolumeName);
  const node = va.spec.nodeName;
  if (pv && keptAttached(c, pv)) return;
  if (c.nodeMeta.get(node)?.gone) {
    // an unreachable node: the controller waits (maxWaitForUnmountDuration) before it force-detaches; retry later
    c.later(5000, () => detach(c, name));
    return;
  }
  if (c.list('pods').some((p) => p.spec.nodeName === node && pv && podPvs(c, p).some((x) => x.metadata.name === pv.metadata.name))) return;
  c.remove('volumeattachments', undefined, name);
  syncNodeVolumes(c, node);
  // pods waiting elsewhere for this volume (Multi-Attach) can attach now
  for (const p of c.list('pods')) if (p.spec.nodeName && p.spec.nodeName !== node && !p.metadata.deletionTimestamp && !c.podReady(p) && pv && podPvs(c, p).some((x) => x.metadata.name === pv.metadata.name)) c.evaluatePod(p);
}

/** lift a keep-attached fault: detach now if no pod uses it any more */
export function retryDetach(c: KubeCluster, pvName: string): void {
  for (const va of c.list('volumeattachments')) if (va.spec.source.persistentVolumeName === pvName) detach(c, va.metadata.name);
}

function createPvc(c: KubeCluster, ns: string, claim: string, size: string): { pvc: Obj; pv: Obj } {
  const pvcUid = uuid(c.core);
  const pvName = `pvc-${pvcUid}`;
  const handle = uuid(c.core);
  const pv = c.put('persistentvolumes', {
    metadata: { name: pvName, annotations: { 'pv.kubernetes.io/provisioned-by': CSI_DRIVER, 'volume.kubernetes.io/provisioner-deletion-secret-name': '', 'volume.kubernetes.io/provisioner-deletion-secret-namespace': '' }, finalizers: ['kubernetes.io/pv-protection', 'external-provisioner.volume.kubernetes.io/finalizer'] },
    spec: {
      accessModes: ['ReadWriteOnce'],
      capacity: { storage: size },
      claimRef: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', name: claim, namespace: ns, uid: pvcUid, resourceVersion: String(c.currentRv()) },
      csi: { driver: CSI_DRIVER, fsType: 'ext4', volumeAttributes: { 'storage.kubernetes.io/csiProvisionerIdentity': `1733300000000-${randHex(c.core, 4)}-${CSI_DRIVER}` }, volumeHandle: handle },
      nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'topology.cinder.csi.openstack.org/zone', operator: 'In', values: ['nova'] }] }] } },
      persistentVolumeReclaimPolicy: 'Delete',
      storageClassName: STORAGE_CLASS,
      volumeMode: 'Filesystem',
    },
    status: { phase: 'Bound', lastPhaseTransitionTime: k8sTime(c.now()) },
  });
  const pvc = c.put('persistentvolumeclaims', {
    metadata: { name: claim, namespace: ns, uid: pvcUid, annotations: { 'pv.kubernetes.io/bind-completed': 'yes', 'pv.kubernetes.io/bound-by-controller': 'yes', 'volume.beta.kubernetes.io/storage-provisioner': CSI_DRIVER, 'volume.kubernetes.io/storage-provisioner': CSI_DRIVER }, finalizers: ['kubernetes.io/pvc-protection'] },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: size } }, storageClassName: STORAGE_CLASS, volumeMode: 'Filesystem', volumeName: pvName },
    status: { phase: 'Bound', accessModes: ['ReadWriteOnce'], capacity: { storage: size } },
  });
  return { pvc, pv };
}

// ---------- seeding ----------
export function seedWorkload(c: KubeCluster, w: WorkloadSpec): SeededWorkload {
  const ns = w.namespace ?? 'default';
  if (!c.get('namespaces', undefined, ns)) c.put('namespaces', { metadata: { name: ns, labels: { 'kubernetes.io/metadata.name': ns } }, spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } });
  const kind = w.kind ?? 'Deployment';
  const labels = w.labels ?? { app: w.name };
  const size = typeof w.pvc === 'object' && w.pvc.size ? w.pvc.size : '1Gi';
  const containers = [{ name: 'app', image: 'registry.k8s.io/pause:3.9', ...(w.requests ? { resources: { requests: { ...w.requests } } } : {}) }];
  const knobs: PodKnobs = { ...(w.terminationMs !== undefined ? { terminationMs: w.terminationMs } : {}), ...(w.crashLoop ? { crashLoop: true } : {}) };
  const out: SeededWorkload = { pods: [], pvcs: [], pvs: [] };
  const workers = c
    .list('nodes')
    .filter((n) => !('node-role.kubernetes.io/control-plane' in n.metadata.labels) && !n.spec.unschedulable)
    .map((n) => n.metadata.name);
  const placement = w.nodes ?? workers;
  const volumesFor = (claim?: string): Obj[] => [...(w.emptyDir ? [{ name: 'scratch', emptyDir: {} }] : []), ...(claim ? [{ name: 'data', persistentVolumeClaim: { claimName: claim } }] : [])];
  const addPvc = (claim: string) => {
    const { pvc, pv } = createPvc(c, ns, claim, size);
    out.pvcs.push(pvc.metadata.name);
    out.pvs.push(pv.metadata.name);
  };
  const podTemplate = (claim?: string): Obj => ({
    metadata: { labels },
    spec: {
      containers,
      ...(w.nodeSelector ? { nodeSelector: w.nodeSelector } : {}),
      ...(w.tolerations ? { tolerations: w.tolerations } : {}),
      ...(w.emptyDir || claim ? { volumes: volumesFor(claim) } : {}),
      terminationGracePeriodSeconds: w.gracePeriodSeconds ?? 30,
    },
  });
  if (kind === 'Deployment') {
    const replicas = w.replicas ?? 1;
    if (w.pvc && replicas !== 1) throw new Error(`workload ${w.name}: a PV-backed Deployment must have 1 replica (ReadWriteOnce)`);
    const claim = w.pvc ? `${w.name}-data` : undefined;
    if (claim) addPvc(claim);
    const hash = randSuffix(c.core, 10);
    const dep = c.put('deployments', {
      metadata: { name: w.name, namespace: ns, generation: 1, labels, annotations: { 'deployment.kubernetes.io/revision': '1' } },
      spec: { replicas, selector: { matchLabels: labels }, template: podTemplate(claim), revisionHistoryLimit: 10, progressDeadlineSeconds: 600, strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } } },
      status: {},
    });
    c.depHash.set(dep.metadata.uid, hash);
    c.depKnobs.set(dep.metadata.uid, knobs);
    const rsName = `${w.name}-${hash}`;
    const rs = c.put('replicasets', {
      metadata: { name: rsName, namespace: ns, generation: 1, labels: { ...labels, 'pod-template-hash': hash }, annotations: { 'deployment.kubernetes.io/desired-replicas': String(replicas), 'deployment.kubernetes.io/max-replicas': String(replicas + Math.ceil(replicas / 4)), 'deployment.kubernetes.io/revision': '1' }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: w.name, uid: dep.metadata.uid, controller: true, blockOwnerDeletion: true }] },
      spec: { replicas, selector: { matchLabels: { ...labels, 'pod-template-hash': hash } }, template: { ...podTemplate(claim), metadata: { labels: { ...labels, 'pod-template-hash': hash } } } },
      status: { replicas: 0 },
    });
    for (let i = 0; i < replicas; i++) {
      const tpl = podTemplate(claim).spec;
      const pod = c.createPod(ns, {
        name: `${rsName}-${randSuffix(c.core, 5)}`,
        labels: { ...labels, 'pod-template-hash': hash },
        node: placement.length ? placement[i % placement.length] : undefined,
        owner: { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: rsName, uid: rs.metadata.uid, controller: true, blockOwnerDeletion: true },
        containers: tpl.containers,
        nodeSelector: tpl.nodeSelector,
        tolerations: tpl.tolerations,
        volumes: tpl.volumes,
        grace: tpl.terminationGracePeriodSeconds,
        ownerDeployment: dep.metadata.uid,
        knobs,
        immediate: true,
      });
      out.pods.push(pod.metadata.name);
    }
    c.updateDeploymentStatus(dep);
  } else if (kind === 'DaemonSet') {
    const ds = c.put('daemonsets', {
      metadata: { name: w.name, namespace: ns, generation: 1, labels, annotations: { 'deprecated.daemonset.template.generation': '1' } },
      spec: { selector: { matchLabels: labels }, template: podTemplate(), updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } }, revisionHistoryLimit: 10 },
      status: {},
    });
    c.depKnobs.set(ds.metadata.uid, knobs);
    for (const n of w.nodes ?? c.list('nodes').map((x) => x.metadata.name)) out.pods.push(c.createDaemonPod(ds, n).metadata.name);
  } else {
    const count = w.replicas ?? Math.max(1, placement.length);
    for (let i = 0; i < count; i++) {
      const node = placement.length ? placement[i % placement.length] : undefined;
      if (kind === 'Static' && !node) throw new Error(`workload ${w.name}: a static pod needs a node`);
      const name = kind === 'Static' ? `${w.name}-${node}` : count === 1 ? w.name : `${w.name}-${i}`;
      const claim = w.pvc ? `${name}-data` : undefined;
      if (claim) addPvc(claim);
      const nodeObj = node ? c.get('nodes', undefined, node) : undefined;
      const pod = c.createPod(ns, {
        name,
        labels,
        node,
        containers,
        nodeSelector: w.nodeSelector,
        tolerations: kind === 'Static' ? [{ operator: 'Exists', effect: 'NoExecute' }] : w.tolerations,
        volumes: w.emptyDir || claim ? volumesFor(claim) : undefined,
        grace: w.gracePeriodSeconds ?? 30,
        knobs,
        immediate: true,
        ...(kind === 'Static' && nodeObj
          ? {
              owner: { apiVersion: 'v1', kind: 'Node', name: node, uid: nodeObj.metadata.uid, controller: true },
              annotations: mirrorAnnotations(c),
              hostNetwork: false,
            }
          : {}),
      });
      out.pods.push(pod.metadata.name);
    }
  }
  if (w.pdb) {
    const name = w.pdb.name ?? w.name;
    const spec: Obj = { selector: { matchLabels: labels } };
    if (w.pdb.minAvailable !== undefined) spec.minAvailable = w.pdb.minAvailable;
    if (w.pdb.maxUnavailable !== undefined) spec.maxUnavailable = w.pdb.maxUnavailable;
    if (spec.minAvailable === undefined && spec.maxUnavailable === undefined) spec.minAvailable = 1;
    if (w.pdb.unhealthyPodEvictionPolicy) spec.unhealthyPodEvictionPolicy = w.pdb.unhealthyPodEvictionPolicy;
    const pdb = c.put('poddisruptionbudgets', { metadata: { name, namespace: ns, generation: 1 }, spec });
    pdb.status = c.pdbStatus(pdb);
    out.pdb = name;
  }
  return out;
}

/** what the kubelet puts on a mirror pod of a static manifest */
export function mirrorAnnotations(c: KubeCluster): Record<string, string> {
  const h = randHex(c.core, 32);
  return { 'kubernetes.io/config.hash': h, 'kubernetes.io/config.mirror': h, 'kubernetes.io/config.seen': k8sTime(c.now()).replace('Z', '.000000000Z'), 'kubernetes.io/config.source': 'file' };
}
