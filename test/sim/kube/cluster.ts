/**
 * The state of the simulated Kubernetes cluster: an object store with resourceVersions and uids, and the
 * controllers that matter to kadd (deployment -> pod, scheduler/kubelet readiness, PDB status, bootstrap
 * token cleaner + garbage collector, bootstrap signer for cluster-info).
 */
import { dump } from 'js-yaml';
import type { SimCore } from '../contract.js';
import { SimEtcd } from './etcd.js';
import { detachedJws, pki } from './pki.js';
import type { PodKnobs } from '../contract.js';
import { clone, k8sTime, type Obj, randHex, randSuffix, uuid } from './util.js';

export interface ResourceDef {
  /** '' for core */
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
  verbs: string[];
  shortNames?: string[];
  singular: string;
}

const rw = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
export const RESOURCES: ResourceDef[] = [
  { group: '', version: 'v1', plural: 'namespaces', singular: 'namespace', kind: 'Namespace', namespaced: false, verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'], shortNames: ['ns'] },
  { group: '', version: 'v1', plural: 'nodes', singular: 'node', kind: 'Node', namespaced: false, verbs: rw, shortNames: ['no'] },
  { group: '', version: 'v1', plural: 'pods', singular: 'pod', kind: 'Pod', namespaced: true, verbs: rw, shortNames: ['po'] },
  { group: '', version: 'v1', plural: 'secrets', singular: 'secret', kind: 'Secret', namespaced: true, verbs: rw },
  { group: '', version: 'v1', plural: 'configmaps', singular: 'configmap', kind: 'ConfigMap', namespaced: true, verbs: rw, shortNames: ['cm'] },
  { group: 'apps', version: 'v1', plural: 'deployments', singular: 'deployment', kind: 'Deployment', namespaced: true, verbs: rw, shortNames: ['deploy'] },
  { group: 'apps', version: 'v1', plural: 'replicasets', singular: 'replicaset', kind: 'ReplicaSet', namespaced: true, verbs: rw, shortNames: ['rs'] },
  { group: 'apps', version: 'v1', plural: 'daemonsets', singular: 'daemonset', kind: 'DaemonSet', namespaced: true, verbs: rw, shortNames: ['ds'] },
  { group: 'policy', version: 'v1', plural: 'poddisruptionbudgets', singular: 'poddisruptionbudget', kind: 'PodDisruptionBudget', namespaced: true, verbs: rw, shortNames: ['pdb'] },
  { group: '', version: 'v1', plural: 'persistentvolumeclaims', singular: 'persistentvolumeclaim', kind: 'PersistentVolumeClaim', namespaced: true, verbs: rw, shortNames: ['pvc'] },
  { group: '', version: 'v1', plural: 'persistentvolumes', singular: 'persistentvolume', kind: 'PersistentVolume', namespaced: false, verbs: rw, shortNames: ['pv'] },
  { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', singular: 'lease', kind: 'Lease', namespaced: true, verbs: rw },
  { group: 'storage.k8s.io', version: 'v1', plural: 'volumeattachments', singular: 'volumeattachment', kind: 'VolumeAttachment', namespaced: false, verbs: rw },
];

export function apiVersionOf(r: ResourceDef): string {
  return r.group ? `${r.group}/${r.version}` : r.version;
}

export function resource(plural: string): ResourceDef {
  return RESOURCES.find((r) => r.plural === plural)!;
}

export const BOOTSTRAP_GROUP = 'system:bootstrappers:kubeadm:default-node-token';
export const CP_LABEL = 'node-role.kubernetes.io/control-plane';
const CRI = 'unix:///var/run/containerd/containerd.sock';

export interface NodeInfoSim {
  serverId?: string;
  ip: string;
  controlPlane: boolean;
  /** the server was deleted / kubelet stopped */
  gone?: boolean;
  /** bumped by every server power change, so a superseded kubelet restart does not apply */
  powerEpoch?: number;
}

/**
 * The controllers that live in their own modules (disruption.ts, workloads.ts, nodefaults.ts import this one;
 * index.ts wires them in here, so that no import cycle forms).
 */
export interface ClusterHooks {
  pdbStatus(c: KubeCluster, pdb: Obj): Obj;
  renewLease(c: KubeCluster, node: string): void;
  /** true when every volume of the pod is attached to its node */
  ensureAttached(c: KubeCluster, pod: Obj): boolean;
  /** the resources a node lacks for a pod ([] when it fits) */
  insufficient(c: KubeCluster, node: Obj, pod: Obj): string[];
  releaseVolumes(c: KubeCluster, pod: Obj): void;
  setNodeAllocatable(c: KubeCluster, node: string, r: { cpu?: string; memory?: string; pods?: string | number }): void;
}

const NO_HOOKS: ClusterHooks = {
  pdbStatus: (_c, pdb) => pdb.status ?? {},
  renewLease: () => undefined,
  ensureAttached: () => true,
  insufficient: () => [],
  releaseVolumes: () => undefined,
  setNodeAllocatable: () => undefined,
};

/** what the kubelet puts on a mirror pod of a static manifest */
export function mirrorAnnotations(c: KubeCluster): Record<string, string> {
  const h = randHex(c.core, 32);
  return { 'kubernetes.io/config.hash': h, 'kubernetes.io/config.mirror': h, 'kubernetes.io/config.seen': k8sTime(c.now()).replace('Z', '.000000000Z'), 'kubernetes.io/config.source': 'file' };
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: string;
  contentType: string;
  /** parsed JSON, or the raw text when not JSON, or undefined when empty */
  body: unknown;
  /** sim time */
  at: number;
}

export class KubeCluster {
  readonly store = new Map<string, Map<string, Obj>>();
  private rv = 1000;
  readonly etcd: SimEtcd;
  readonly clusterName: string;
  readonly k8sVersion: string;
  readonly startedAt: number;
  readonly nodeMeta = new Map<string, NodeInfoSim>();
  /** per-node files (hostPath / hostNetwork pods see the node's filesystem) */
  readonly files = new Map<string, Map<string, string>>();
  readonly timers = new Set<NodeJS.Timeout>();
  stopped = false;
  private podCidr = 0;
  /** pod uid -> owning Deployment uid (the ReplicaSet link, kept out of the objects) */
  readonly podDep = new Map<string, string>();
  readonly depHash = new Map<string, string>();
  /** Deployment/DaemonSet uid -> knobs its pods get (termination time, crash loop) */
  readonly depKnobs = new Map<string, PodKnobs>();
  /** pod uid -> its knobs */
  readonly podKnobs = new Map<string, PodKnobs>();
  /** write requests received (method, path, query, content type, parsed JSON body), oldest first; bounded */
  readonly requests: RecordedRequest[] = [];
  /** PV names a fault keeps attached (VolumeAttachment never detaches) */
  readonly keepAttached = new Set<string>();
  /** control-plane nodes whose kube-apiserver is down (KubeSim.setApiserverUp): the node proxy to :6443 is refused */
  readonly apiserverDown = new Set<string>();

  constructor(
    readonly core: SimCore,
    opts: { clusterName?: string; k8sVersion?: string },
    readonly hooks: ClusterHooks = NO_HOOKS,
  ) {
    this.clusterName = opts.clusterName ?? core.scenario.cluster?.name ?? 'sim';
    this.k8sVersion = opts.k8sVersion ?? core.scenario.cluster?.k8sVersion ?? 'v1.30.4';
    if (!this.k8sVersion.startsWith('v')) this.k8sVersion = 'v' + this.k8sVersion;
    this.etcd = new SimEtcd(core);
    this.startedAt = core.now();
    for (const r of RESOURCES) this.store.set(r.plural, new Map());
  }

  recordRequest(method: string, url: URL, contentType: string, raw: Buffer): void {
    let body: unknown;
    if (raw.length) {
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        body = raw.toString('utf8');
      }
    }
    this.requests.push({ method, path: url.pathname, query: url.search, contentType: contentType.split(';')[0]!.trim(), body, at: this.now() });
    if (this.requests.length > 5000) this.requests.splice(0, this.requests.length - 5000);
  }

  // ---------- store ----------
  key(ns: string | undefined, name: string): string {
    return ns ? `${ns}/${name}` : name;
  }
  get(plural: string, ns: string | undefined, name: string): Obj | undefined {
    return this.store.get(plural)!.get(this.key(ns, name));
  }
  list(plural: string, ns?: string): Obj[] {
    const all = [...this.store.get(plural)!.values()];
    return ns ? all.filter((o) => o.metadata.namespace === ns) : all;
  }
  nextRv(): string {
    this.etcd.write();
    return String(++this.rv);
  }
  currentRv(): string {
    return String(this.rv);
  }
  now(): number {
    return this.core.now();
  }
  /** insert a new object (metadata completed) */
  put(plural: string, o: Obj): Obj {
    const r = resource(plural);
    o.kind = r.kind;
    o.apiVersion = apiVersionOf(r);
    o.metadata ??= {};
    o.metadata.uid ??= uuid(this.core);
    o.metadata.creationTimestamp ??= k8sTime(this.now());
    o.metadata.resourceVersion = this.nextRv();
    if (r.plural !== 'namespaces' && r.plural !== 'nodes') o.metadata.namespace ??= 'default';
    // field order as the API server prints: kind, apiVersion, metadata, ...
    const ordered: Obj = { kind: o.kind, apiVersion: o.apiVersion, metadata: o.metadata };
    for (const [k, v] of Object.entries(o)) if (!(k in ordered)) ordered[k] = v;
    this.store.get(plural)!.set(this.key(r.namespaced ? ordered.metadata.namespace : undefined, ordered.metadata.name), ordered);
    return ordered;
  }
  touch(o: Obj): void {
    o.metadata.resourceVersion = this.nextRv();
  }
  remove(plural: string, ns: string | undefined, name: string): Obj | undefined {
    const m = this.store.get(plural)!;
    const k = this.key(ns, name);
    const o = m.get(k);
    if (o) {
      m.delete(k);
      this.nextRv();
      this.onDeleted(plural, o);
    }
    return o;
  }

  later(ms: number, fn: () => void): void {
    if (this.stopped) return;
    const p = this.core.sleep(ms);
    void p.then(() => {
      if (!this.stopped) fn();
    });
  }

  // ---------- seed ----------
  seed(masters: number, nodes: number): void {
    for (const ns of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) {
      this.put('namespaces', { metadata: { name: ns, labels: { 'kubernetes.io/metadata.name': ns } }, spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } });
    }
    this.put('configmaps', { metadata: { name: 'cluster-info', namespace: 'kube-public' }, data: { kubeconfig: this.clusterInfoKubeconfig() } });
    this.put('configmaps', { metadata: { name: 'kubeadm-config', namespace: 'kube-system' }, data: { ClusterConfiguration: this.clusterConfiguration() } });
    this.put('daemonsets', {
      metadata: { name: 'kube-proxy', namespace: 'kube-system', generation: 1, labels: { 'k8s-app': 'kube-proxy' }, annotations: { 'deprecated.daemonset.template.generation': '1' } },
      spec: {
        selector: { matchLabels: { 'k8s-app': 'kube-proxy' } },
        template: { metadata: { labels: { 'k8s-app': 'kube-proxy' } }, spec: { containers: [{ name: 'kube-proxy', image: `registry.k8s.io/kube-proxy:${this.k8sVersion}` }], hostNetwork: true, priorityClassName: 'system-node-critical', serviceAccountName: 'kube-proxy', tolerations: [{ operator: 'Exists' }] } },
        updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } },
        revisionHistoryLimit: 10,
      },
      status: { currentNumberScheduled: 0, numberMisscheduled: 0, desiredNumberScheduled: 0, numberReady: 0 },
    });
    for (let i = 1; i <= masters; i++) {
      const name = `${this.clusterName}-master-${i}`;
      const ip = `10.0.0.${10 + i}`;
      this.registerNode(name, { ip, controlPlane: true, serverId: uuid(this.core) }, { labels: { [CP_LABEL]: '', 'node.kubernetes.io/exclude-from-external-load-balancers': '' }, taints: [{ key: CP_LABEL, effect: 'NoSchedule' }] });
      this.setNodeReady(name, true);
      this.etcd.seedMember(this.memberName(name, ip), ip, name);
      this.addControlPlanePods(name, ip);
    }
    for (let i = 1; i <= nodes; i++) {
      const name = `${this.clusterName}-node-${i}`;
      const ip = `10.0.${1 + Math.floor((100 + i) / 250)}.${(100 + i) % 250}`;
      this.registerNode(name, { ip, controlPlane: false, serverId: uuid(this.core) }, { labels: {}, taints: [] });
      this.setNodeReady(name, true);
    }
    // a workload with a PodDisruptionBudget on the workers: Deployment web -> ReplicaSet web-7d9c6b8f4 -> pods
    const workers = this.list('nodes').filter((n) => !(CP_LABEL in n.metadata.labels));
    if (workers.length > 0) {
      const replicas = Math.min(3, Math.max(2, workers.length));
      const labels = { app: 'web' };
      const tpl = { metadata: { labels }, spec: { containers: [{ name: 'nginx', image: 'nginx:1.27' }], terminationGracePeriodSeconds: 30 } };
      const dep = this.put('deployments', {
        metadata: { name: 'web', namespace: 'default', generation: 1, labels, annotations: { 'deployment.kubernetes.io/revision': '1' } },
        spec: { replicas, selector: { matchLabels: labels }, template: tpl, revisionHistoryLimit: 10, progressDeadlineSeconds: 600, strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } } },
        status: {},
      });
      this.depHash.set(dep.metadata.uid, '7d9c6b8f4');
      const rsLabels = { ...labels, 'pod-template-hash': '7d9c6b8f4' };
      const rs = this.put('replicasets', {
        metadata: { name: 'web-7d9c6b8f4', namespace: 'default', generation: 1, labels: rsLabels, annotations: { 'deployment.kubernetes.io/desired-replicas': String(replicas), 'deployment.kubernetes.io/max-replicas': String(replicas + 1), 'deployment.kubernetes.io/revision': '1' }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: dep.metadata.uid, controller: true, blockOwnerDeletion: true }] },
        spec: { replicas, selector: { matchLabels: rsLabels }, template: { ...tpl, metadata: { labels: rsLabels } } },
        status: { replicas: 0 },
      });
      for (let i = 0; i < replicas; i++) {
        const node = workers[i % workers.length]!.metadata.name;
        this.createPod('default', { name: `web-7d9c6b8f4-${randSuffix(this.core, 5)}`, labels: rsLabels, node, owner: { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7d9c6b8f4', uid: rs.metadata.uid, controller: true, blockOwnerDeletion: true }, containers: [{ name: 'nginx', image: 'nginx:1.27' }], ownerDeployment: dep.metadata.uid, immediate: true });
      }
      this.updateDeploymentStatus(dep);
      this.put('poddisruptionbudgets', { metadata: { name: 'web', namespace: 'default', generation: 1 }, spec: { minAvailable: replicas - 1, selector: { matchLabels: { app: 'web' } } } });
    }
  }

  /** the etcd member name of a seeded master: scenario etcd.memberName ({node}, {ip}), default the node name as kubeadm does */
  memberName(node: string, ip: string): string {
    const t = this.core.scenario.etcd?.memberName;
    return t ? t.replace(/\{node\}/g, node).replace(/\{ip\}/g, ip) : node;
  }

  controlPlaneEndpoint(): string {
    return new URL(this.core.baseUrl).host;
  }

  clusterInfoKubeconfig(): string {
    return dump({
      apiVersion: 'v1',
      clusters: [{ cluster: { 'certificate-authority-data': Buffer.from(pki().caCrt).toString('base64'), server: this.core.baseUrl.replace(/\/$/, '') }, name: '' }],
      contexts: null,
      'current-context': '',
      kind: 'Config',
      preferences: {},
      users: null,
    });
  }

  clusterConfiguration(): string {
    const minor = this.k8sVersion.match(/^v1\.(\d+)/)?.[1];
    const etcdTag = Number(minor) >= 31 ? '3.5.15-0' : '3.5.12-0';
    return dump({
      apiServer: { extraArgs: { 'authorization-mode': 'Node,RBAC' }, timeoutForControlPlane: '4m0s' },
      apiVersion: 'kubeadm.k8s.io/v1beta3',
      certificatesDir: '/etc/kubernetes/pki',
      clusterName: this.clusterName,
      controlPlaneEndpoint: this.controlPlaneEndpoint(),
      controllerManager: {},
      dns: {},
      etcd: { local: { dataDir: '/var/lib/etcd', imageRepository: 'registry.k8s.io', imageTag: etcdTag } },
      imageRepository: 'registry.k8s.io',
      kind: 'ClusterConfiguration',
      kubernetesVersion: this.k8sVersion,
      networking: { dnsDomain: 'cluster.local', podSubnet: '10.244.0.0/16', serviceSubnet: '10.96.0.0/12' },
      scheduler: {},
    });
  }

  // ---------- nodes ----------
  registerNode(name: string, meta: NodeInfoSim, want: { labels: Record<string, string>; taints: Obj[]; serverId?: string; kubeletVersion?: string }): Obj {
    this.nodeMeta.set(name, meta);
    const now = k8sTime(this.now());
    const cidr = this.podCidr++;
    const cond = (type: string, status: string, reason: string, message: string) => ({ type, status, lastHeartbeatTime: now, lastTransitionTime: now, reason, message });
    const node = this.put('nodes', {
      metadata: {
        name,
        labels: {
          'beta.kubernetes.io/arch': 'amd64',
          'beta.kubernetes.io/os': 'linux',
          'kubernetes.io/arch': 'amd64',
          'kubernetes.io/hostname': name,
          'kubernetes.io/os': 'linux',
          ...want.labels,
        },
        annotations: {
          'kubeadm.alpha.kubernetes.io/cri-socket': CRI,
          'node.alpha.kubernetes.io/ttl': '0',
          'volumes.kubernetes.io/controller-managed-attach-detach': 'true',
        },
      },
      spec: {
        podCIDR: `10.244.${cidr % 256}.0/24`,
        podCIDRs: [`10.244.${cidr % 256}.0/24`],
        ...(meta.serverId ? { providerID: `openstack:///${meta.serverId}` } : {}),
        taints: [...want.taints, { key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule' }],
      },
      status: {
        capacity: { cpu: '4', 'ephemeral-storage': '40470732Ki', 'hugepages-1Gi': '0', 'hugepages-2Mi': '0', memory: '8137712Ki', pods: '110' },
        allocatable: { cpu: '4', 'ephemeral-storage': '37297826550', 'hugepages-1Gi': '0', 'hugepages-2Mi': '0', memory: '8035312Ki', pods: '110' },
        conditions: [
          cond('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
          cond('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
          cond('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
          cond('Ready', 'False', 'KubeletNotReady', 'container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized'),
        ],
        addresses: [
          { type: 'InternalIP', address: meta.ip },
          { type: 'Hostname', address: name },
        ],
        daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
        nodeInfo: {
          machineID: randHex(this.core, 32),
          systemUUID: uuid(this.core),
          bootID: uuid(this.core),
          kernelVersion: '6.1.0-25-cloud-amd64',
          osImage: 'Debian GNU/Linux 12 (bookworm)',
          containerRuntimeVersion: 'containerd://1.7.22',
          kubeletVersion: want.kubeletVersion ?? this.k8sVersion,
          kubeProxyVersion: want.kubeletVersion ?? this.k8sVersion,
          operatingSystem: 'linux',
          architecture: 'amd64',
        },
      },
    });
    if (!node.spec.taints.length) delete node.spec.taints;
    const alloc = this.core.scenario.kube?.nodeAllocatable;
    if (alloc) this.hooks.setNodeAllocatable(this, name, alloc);
    this.hooks.renewLease(this, name);
    // kube-proxy DaemonSet pod on every node
    const ds = this.get('daemonsets', 'kube-system', 'kube-proxy');
    this.createPod('kube-system', {
      name: `kube-proxy-${randSuffix(this.core, 5)}`,
      labels: { 'k8s-app': 'kube-proxy', 'controller-revision-hash': '7c9d9f5b8' },
      node: name,
      owner: ds ? { apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'kube-proxy', uid: ds.metadata.uid, controller: true, blockOwnerDeletion: true } : undefined,
      containers: [{ name: 'kube-proxy', image: `registry.k8s.io/kube-proxy:${this.k8sVersion}` }],
      hostNetwork: true,
      tolerations: [{ operator: 'Exists' }],
      immediate: true,
    });
    // the DaemonSet controller: every other DaemonSet with a template gets a pod on the new node
    for (const d of this.list('daemonsets')) if (d.spec.template && d.metadata.name !== 'kube-proxy') this.createDaemonPod(d, name);
    this.fs(name).set('/etc/kubernetes/pki/ca.crt', pki().caCrt);
    this.fs(name).set('/etc/kubernetes/kubelet.conf', 'apiVersion: v1\nkind: Config\n');
    return node;
  }

  fs(node: string): Map<string, string> {
    let f = this.files.get(node);
    if (!f) {
      f = new Map();
      this.files.set(node, f);
    }
    return f;
  }

  addControlPlanePods(name: string, ip: string): void {
    const fs = this.fs(name);
    for (const f of ['ca.crt', 'ca.key', 'server.crt', 'server.key', 'peer.crt', 'peer.key', 'healthcheck-client.crt', 'healthcheck-client.key']) fs.set(`/etc/kubernetes/pki/etcd/${f}`, f.endsWith('.key') ? 'PRIVATE KEY' : pki().etcdCaCrt);
    fs.set('/etc/kubernetes/admin.conf', 'apiVersion: v1\nkind: Config\n');
    fs.set('/etc/kubernetes/manifests/etcd.yaml', 'kind: Pod\n');
    fs.set('/etc/kubernetes/manifests/kube-apiserver.yaml', 'kind: Pod\n');
    const node = this.get('nodes', undefined, name)!;
    for (const c of ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler']) {
      this.createPod('kube-system', {
        name: `${c}-${name}`,
        labels: { component: c, tier: 'control-plane' },
        node: name,
        owner: { apiVersion: 'v1', kind: 'Node', name, uid: node.metadata.uid, controller: true },
        containers: [{ name: c, image: c === 'etcd' ? 'registry.k8s.io/etcd:3.5.12-0' : `registry.k8s.io/${c}:${this.k8sVersion}` }],
        hostNetwork: true,
        tolerations: [{ operator: 'Exists', effect: 'NoExecute' }],
        immediate: true,
        annotations: { ...(c === 'etcd' ? { 'kubeadm.kubernetes.io/etcd.advertise-client-urls': `https://${ip}:2379` } : c === 'kube-apiserver' ? { 'kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint': `${ip}:6443` } : {}), ...mirrorAnnotations(this) },
        priorityClassName: 'system-node-critical',
      });
    }
  }

  nodeReady(name: string): boolean {
    const n = this.get('nodes', undefined, name);
    return !!n?.status.conditions.find((c: Obj) => c.type === 'Ready' && c.status === 'True');
  }

  /** Ready True / False / Unknown (unreachable) */
  setNodeReady(name: string, ready: boolean | 'Unknown', o: { reason?: string; noExecute?: boolean } = {}): void {
    const n = this.get('nodes', undefined, name);
    if (!n) return;
    const now = k8sTime(this.now());
    const taints: Obj[] = (n.spec.taints ?? []).filter((t: Obj) => !['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable'].includes(t.key));
    for (const c of n.status.conditions as Obj[]) {
      if (ready === 'Unknown') {
        c.status = 'Unknown';
        c.reason = 'NodeStatusUnknown';
        c.message = 'Kubelet stopped posting node status.';
        c.lastTransitionTime = now;
      } else if (c.type === 'Ready') {
        const st = ready ? 'True' : 'False';
        if (c.status !== st) c.lastTransitionTime = now;
        c.status = st;
        c.lastHeartbeatTime = now;
        c.reason = ready ? 'KubeletReady' : 'KubeletNotReady';
        c.message = ready ? 'kubelet is posting ready status' : o.reason ?? 'container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized';
      }
    }
    if (ready === 'Unknown') {
      taints.push({ key: 'node.kubernetes.io/unreachable', effect: 'NoSchedule', timeAdded: undefined }, { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute', timeAdded: now });
      for (const t of taints) if (t.timeAdded === undefined) delete t.timeAdded;
    } else if (!ready) {
      taints.push({ key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule' });
      // the node lifecycle controller taints a node that was Ready and went NotReady for taint-based eviction
      if (o.noExecute) taints.push({ key: 'node.kubernetes.io/not-ready', effect: 'NoExecute', timeAdded: now });
    }
    if (taints.length) n.spec.taints = taints;
    else delete n.spec.taints;
    this.touch(n);
    // pods on the node follow
    for (const p of this.list('pods')) if (p.spec.nodeName === name) this.evaluatePod(p);
  }

  // ---------- pods ----------
  createPod(
    ns: string,
    o: {
      name: string;
      labels?: Record<string, string>;
      annotations?: Record<string, string>;
      node?: string;
      nodeSelector?: Record<string, string>;
      owner?: Obj;
      containers: Obj[];
      hostNetwork?: boolean;
      tolerations?: Obj[];
      volumes?: Obj[];
      immediate?: boolean;
      priorityClassName?: string;
      affinity?: Obj;
      ownerDeployment?: string;
      /** spec.terminationGracePeriodSeconds (default 30) */
      grace?: number;
      knobs?: PodKnobs;
    },
  ): Obj {
    const pod = this.put('pods', {
      metadata: {
        name: o.name,
        namespace: ns,
        labels: o.labels ?? {},
        ...(o.annotations ? { annotations: o.annotations } : {}),
        ...(o.owner ? { ownerReferences: [o.owner] } : {}),
      },
      spec: {
        containers: o.containers.map((c) => ({ terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File', imagePullPolicy: 'IfNotPresent', resources: {}, ...c })),
        restartPolicy: 'Always',
        terminationGracePeriodSeconds: o.grace ?? 30,
        dnsPolicy: o.hostNetwork ? 'ClusterFirstWithHostNet' : 'ClusterFirst',
        ...(o.nodeSelector ? { nodeSelector: o.nodeSelector } : {}),
        serviceAccountName: 'default',
        serviceAccount: 'default',
        ...(o.node ? { nodeName: o.node } : {}),
        ...(o.hostNetwork ? { hostNetwork: true } : {}),
        securityContext: {},
        ...(o.affinity ? { affinity: o.affinity } : {}),
        schedulerName: 'default-scheduler',
        // DefaultTolerationSeconds admission: 300 s for not-ready / unreachable unless the pod tolerates them already
        tolerations: [
          ...(o.tolerations ?? []),
          ...['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable']
            .filter((key) => !(o.tolerations ?? []).some((t) => (t.key === key || (!t.key && t.operator === 'Exists')) && (!t.effect || t.effect === 'NoExecute')))
            .map((key) => ({ key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 })),
        ],
        ...(o.volumes ? { volumes: o.volumes } : {}),
        ...(o.priorityClassName ? { priorityClassName: o.priorityClassName } : {}),
        priority: o.priorityClassName === 'system-node-critical' ? 2000001000 : 0,
        enableServiceLinks: true,
        preemptionPolicy: 'PreemptLowerPriority',
      },
      status: { phase: 'Pending', qosClass: qosClass(o.containers) },
    });
    if (o.ownerDeployment) this.podDep.set(pod.metadata.uid, o.ownerDeployment);
    const knobs = o.knobs ?? (o.ownerDeployment ? this.depKnobs.get(o.ownerDeployment) : undefined);
    if (knobs && Object.keys(knobs).length) this.podKnobs.set(pod.metadata.uid, knobs);
    if (o.immediate) this.evaluatePod(pod);
    else this.later(this.core.rng.latency(this.core.scenario.kube?.podStartup ?? { uniform: [300, 800] }), () => this.evaluatePod(pod));
    return pod;
  }

  /** the DaemonSet controller's pod for one node (tolerates unschedulable, not-ready and unreachable as DaemonSet pods do) */
  createDaemonPod(ds: Obj, node: string): Obj {
    const tpl = ds.spec.template ?? {};
    const spec = tpl.spec ?? {};
    return this.createPod(ds.metadata.namespace, {
      name: `${ds.metadata.name}-${randSuffix(this.core, 5)}`,
      labels: { ...(tpl.metadata?.labels ?? {}), 'controller-revision-hash': '6b9f8c7d5', 'pod-template-generation': '1' },
      node,
      owner: { apiVersion: 'apps/v1', kind: 'DaemonSet', name: ds.metadata.name, uid: ds.metadata.uid, controller: true, blockOwnerDeletion: true },
      containers: spec.containers ?? [],
      tolerations: [
        ...(spec.tolerations ?? []),
        { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' },
        { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' },
        { key: 'node.kubernetes.io/disk-pressure', operator: 'Exists', effect: 'NoSchedule' },
        { key: 'node.kubernetes.io/memory-pressure', operator: 'Exists', effect: 'NoSchedule' },
        { key: 'node.kubernetes.io/pid-pressure', operator: 'Exists', effect: 'NoSchedule' },
        { key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' },
      ],
      volumes: spec.volumes,
      grace: spec.terminationGracePeriodSeconds,
      knobs: this.depKnobs.get(ds.metadata.uid),
      immediate: true,
    });
  }

  tolerates(tolerations: Obj[], taint: Obj): boolean {
    return tolerations.some((t) => {
      if (t.effect && t.effect !== taint.effect) return false;
      if (t.operator === 'Exists') return !t.key || t.key === taint.key;
      return t.key === taint.key && (t.value ?? '') === (taint.value ?? '');
    });
  }

  /** scheduling + kubelet: set the pod's status from its node */
  evaluatePod(pod: Obj): void {
    if (!this.get('pods', pod.metadata.namespace, pod.metadata.name) || pod.metadata.deletionTimestamp) return;
    const now = k8sTime(this.now());
    const tol: Obj[] = pod.spec.tolerations ?? [];
    if (!pod.spec.nodeName) {
      // scheduler: nodeSelector, unschedulable (cordon), taints, then resources (NodeResourcesFit)
      const nodes = this.list('nodes');
      const sel: Record<string, string> = pod.spec.nodeSelector ?? {};
      const why = new Map<string, number>();
      const no = (r: string) => why.set(r, (why.get(r) ?? 0) + 1);
      const fits = nodes.filter((n) => {
        if (!Object.entries(sel).every(([k, v]) => n.metadata.labels[k] === v)) return no("node(s) didn't match Pod's node affinity/selector"), false;
        if (n.spec.unschedulable && !tol.some((t) => t.key === 'node.kubernetes.io/unschedulable' || (!t.key && t.operator === 'Exists'))) return no('node(s) were unschedulable'), false;
        const bad = (n.spec.taints ?? []).find((t: Obj) => t.effect !== 'PreferNoSchedule' && !this.tolerates(tol, t));
        if (bad) return no(`node(s) had untolerated taint {${bad.key}: ${bad.value ?? ''}}`), false;
        const short = this.hooks.insufficient(this, n, pod);
        if (short.length) return short.forEach(no), false;
        return true;
      });
      if (fits.length === 0) {
        const reasons = [...why.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([r, k]) => `${k} ${r}`).join(', ');
        pod.status = {
          phase: 'Pending',
          conditions: [{ type: 'PodScheduled', status: 'False', lastProbeTime: null, lastTransitionTime: now, reason: 'Unschedulable', message: `0/${nodes.length} nodes are available: ${reasons}. preemption: 0/${nodes.length} nodes are available: ${nodes.length} Preemption is not helpful for scheduling.` }],
          qosClass: pod.status?.qosClass ?? 'BestEffort',
        };
        this.touch(pod);
        return;
      }
      pod.spec.nodeName = fits[Math.floor(this.core.rng.next() * fits.length)]!.metadata.name;
    }
    const node = this.get('nodes', undefined, pod.spec.nodeName);
    const meta = this.nodeMeta.get(pod.spec.nodeName);
    // an unreachable kubelet reports nothing: the pod keeps its last status (the node controller marks it not Ready)
    if (meta?.gone && pod.status?.phase === 'Running') {
      this.markPodNotReady(pod, now);
      return;
    }
    const nodeOk = !!node && this.nodeReady(pod.spec.nodeName) && (node.spec.taints ?? []).filter((t: Obj) => t.effect === 'NoExecute' || (t.effect === 'NoSchedule' && !pod.metadata.ownerReferences?.some((r: Obj) => r.kind === 'Node' || r.kind === 'DaemonSet'))).every((t: Obj) => this.tolerates(tol, t));
    const volumesOk = nodeOk ? this.hooks.ensureAttached(this, pod) : false;
    const knobs = this.podKnobs.get(pod.metadata.uid);
    const running = nodeOk && volumesOk;
    const crash = running && !!knobs?.crashLoop;
    const started = pod.status.startTime ?? now;
    const hostIP = meta?.ip;
    const podIP = pod.spec.hostNetwork ? hostIP : hostIP ? `10.244.${(this.list('nodes').findIndex((n) => n.metadata.name === pod.spec.nodeName) + 256) % 256}.${2 + (parseInt(pod.metadata.uid.slice(0, 2), 16) % 250)}` : undefined;
    const ready = running && !crash ? 'True' : 'False';
    const prev = (type: string) => (pod.status.conditions ?? []).find((c: Obj) => c.type === type);
    const cnd = (type: string, status: string, extra: Obj = {}) => ({ type, status, lastProbeTime: null, lastTransitionTime: prev(type)?.status === status ? prev(type).lastTransitionTime : now, ...extra });
    const notReadyWhy = crash ? { reason: 'ContainersNotReady', message: `containers with unready status: [${(pod.spec.containers as Obj[]).map((x) => x.name).join(' ')}]` } : {};
    const wasRunning = pod.status.phase === 'Running';
    pod.status = {
      phase: running || wasRunning ? 'Running' : 'Pending',
      conditions: [cnd('PodReadyToStartContainers', running ? 'True' : 'False'), cnd('Initialized', 'True'), cnd('Ready', ready, notReadyWhy), cnd('ContainersReady', ready, notReadyWhy), cnd('PodScheduled', 'True')],
      ...(hostIP ? { hostIP, hostIPs: [{ ip: hostIP }] } : {}),
      ...(podIP && (running || pod.status.podIP) ? { podIP, podIPs: [{ ip: podIP }] } : {}),
      startTime: started,
      containerStatuses: (pod.spec.containers as Obj[]).map((ct) => {
        const prevCs = (pod.status.containerStatuses ?? []).find((x: Obj) => x.name === ct.name);
        const imageID = prevCs?.imageID || (running ? `${String(ct.image).split(':')[0]}@sha256:${randHex(this.core, 64)}` : '');
        const containerID = prevCs?.containerID ?? (running ? `containerd://${randHex(this.core, 64)}` : undefined);
        if (crash) {
          const restarts = Math.max(5, prevCs?.restartCount ?? 0);
          return {
            name: ct.name,
            state: { waiting: { reason: 'CrashLoopBackOff', message: `back-off 5m0s restarting failed container=${ct.name} pod=${pod.metadata.name}_${pod.metadata.namespace}(${pod.metadata.uid})` } },
            lastState: { terminated: { exitCode: 1, reason: 'Error', startedAt: started, finishedAt: now, ...(containerID ? { containerID } : {}) } },
            ready: false,
            restartCount: restarts,
            image: ct.image,
            imageID,
            ...(containerID ? { containerID } : {}),
            started: false,
          };
        }
        return {
          name: ct.name,
          state: running || wasRunning ? { running: { startedAt: prevCs?.state?.running?.startedAt ?? started } } : { waiting: { reason: 'ContainerCreating' } },
          lastState: {},
          ready: running,
          restartCount: prevCs?.restartCount ?? 0,
          image: ct.image,
          imageID,
          ...(containerID ? { containerID } : {}),
          started: running,
        };
      }),
      qosClass: pod.status.qosClass ?? 'BestEffort',
    };
    this.touch(pod);
    this.updateOwnerStatus(pod);
    this.refreshPdbs(pod.metadata.namespace);
  }

  /** node lifecycle controller: pods on an unreachable node get Ready False (reason NodeNotReady?) */
  markPodNotReady(pod: Obj, now: string): void {
    let changed = false;
    for (const c of (pod.status.conditions ?? []) as Obj[]) {
      if ((c.type === 'Ready' || c.type === 'ContainersReady') && c.status !== 'False') {
        c.status = 'False';
        c.lastTransitionTime = now;
        changed = true;
      }
    }
    if (changed) {
      this.touch(pod);
      this.updateOwnerStatus(pod);
      this.refreshPdbs(pod.metadata.namespace);
    }
  }

  podReady(p: Obj): boolean {
    return !p.metadata.deletionTimestamp && !!(p.status?.conditions ?? []).find((c: Obj) => c.type === 'Ready' && c.status === 'True');
  }

  /**
   * Graceful pod deletion: deletionTimestamp = now + grace; the kubelet stops the containers, which take the
   * pod's termination time (knob or scenario kube.podTermination, capped by the grace period: then SIGKILL),
   * and the pod object goes. A kubelet that does not answer (unreachable node) never confirms: the pod stays
   * Terminating until the kubelet returns or the Node object is deleted (pod GC). Grace 0 removes it at once.
   */
  deletePod(p: Obj, graceSeconds?: number): Obj {
    const grace = graceSeconds ?? p.spec.terminationGracePeriodSeconds ?? 30;
    const unscheduled = !p.spec.nodeName;
    if (grace === 0 || unscheduled) {
      this.remove('pods', p.metadata.namespace, p.metadata.name);
      return p;
    }
    if (p.metadata.deletionTimestamp) {
      // a shorter grace period may shorten a running deletion
      if (grace < (p.metadata.deletionGracePeriodSeconds ?? Infinity)) {
        p.metadata.deletionGracePeriodSeconds = grace;
        // as the apiserver's BeforeDelete: the deletion deadline moves to now + the shorter grace period
        p.metadata.deletionTimestamp = k8sTime(this.now() + grace * 1000);
        this.touch(p);
        this.scheduleTermination(p, grace);
      }
      return p;
    }
    p.metadata.deletionTimestamp = k8sTime(this.now() + grace * 1000);
    p.metadata.deletionGracePeriodSeconds = grace;
    this.touch(p);
    this.scheduleTermination(p, grace);
    this.onTerminating(p);
    return p;
  }

  /** the kubelet side of a deletion: the object goes after the containers stopped (if the kubelet answers) */
  scheduleTermination(p: Obj, grace: number): void {
    const uid = p.metadata.uid;
    const knob = this.podKnobs.get(uid)?.terminationMs;
    const exit = Math.min(grace * 1000, this.core.rng.latency(knob ?? this.core.scenario.kube?.podTermination ?? { uniform: [200, 600] }));
    this.later(exit, () => this.finishTermination(p));
  }

  finishTermination(p: Obj): void {
    const cur = this.get('pods', p.metadata.namespace, p.metadata.name);
    if (!cur || cur.metadata.uid !== p.metadata.uid || !cur.metadata.deletionTimestamp) return;
    const meta = this.nodeMeta.get(cur.spec.nodeName ?? '');
    if (meta?.gone) return; // no kubelet to confirm: stays Terminating
    this.remove('pods', cur.metadata.namespace, cur.metadata.name);
  }

  /** controllers that react to a pod getting a deletionTimestamp: the ReplicaSet makes a replacement now */
  onTerminating(p: Obj): void {
    const depUid = this.podDep.get(p.metadata.uid);
    const dep = depUid ? this.list('deployments', p.metadata.namespace).find((d) => d.metadata.uid === depUid) : undefined;
    if (dep) this.later(this.core.rng.latency({ uniform: [50, 200] }), () => this.reconcileDeployment(dep));
    this.refreshPdbs(p.metadata.namespace);
  }

  // ---------- controllers ----------
  onDeleted(plural: string, o: Obj): void {
    if (plural === 'pods') {
      const owner = (o.metadata.ownerReferences ?? []).find((r: Obj) => r.controller);
      if (owner?.kind === 'ReplicaSet') {
        const dep = this.list('deployments', o.metadata.namespace).find((d) => d.metadata.uid === this.podDep.get(o.metadata.uid));
        if (dep) this.later(this.core.rng.latency({ uniform: [200, 500] }), () => this.reconcileDeployment(dep));
      }
      this.refreshPdbs(o.metadata.namespace);
      this.hooks.releaseVolumes(this, o);
      // the kubelet recreates the mirror pod of a static manifest that is still on its disk
      const node = o.spec.nodeName;
      if (o.metadata.annotations?.['kubernetes.io/config.mirror'] && node && this.get('nodes', undefined, node)) {
        this.later(500, () => {
          if (this.get('pods', o.metadata.namespace, o.metadata.name) || !this.get('nodes', undefined, node) || this.nodeMeta.get(node)?.gone) return;
          const nodeObj = this.get('nodes', undefined, node)!;
          this.createPod(o.metadata.namespace, {
            name: o.metadata.name,
            labels: o.metadata.labels,
            annotations: { ...o.metadata.annotations, ...mirrorAnnotations(this), 'kubernetes.io/config.hash': o.metadata.annotations['kubernetes.io/config.hash'], 'kubernetes.io/config.mirror': o.metadata.annotations['kubernetes.io/config.hash'] },
            node,
            owner: { apiVersion: 'v1', kind: 'Node', name: node, uid: nodeObj.metadata.uid, controller: true },
            containers: o.spec.containers,
            hostNetwork: o.spec.hostNetwork,
            tolerations: (o.spec.tolerations as Obj[]).filter((t) => t.tolerationSeconds === undefined),
            volumes: o.spec.volumes,
            priorityClassName: o.spec.priorityClassName,
            grace: o.spec.terminationGracePeriodSeconds,
            immediate: true,
          });
        });
      }
    }
    if (plural === 'deployments') {
      for (const p of this.list('pods', o.metadata.namespace)) if (this.podDep.get(p.metadata.uid) === o.metadata.uid) this.deletePod(p);
      for (const rs of this.list('replicasets', o.metadata.namespace)) if (rs.metadata.ownerReferences?.[0]?.uid === o.metadata.uid) this.remove('replicasets', rs.metadata.namespace, rs.metadata.name);
    }
    if (plural === 'secrets') {
      // garbage collector: dependents of a deleted owner go too
      for (const s of this.list('secrets')) if ((s.metadata.ownerReferences ?? []).some((r: Obj) => r.uid === o.metadata.uid)) this.remove('secrets', s.metadata.namespace, s.metadata.name);
      if (o.type === 'bootstrap.kubernetes.io/token') this.syncClusterInfo();
    }
    if (plural === 'nodes') {
      this.nodeMeta.delete(o.metadata.name);
      this.remove('leases', 'kube-node-lease', o.metadata.name);
      // pod GC: pods bound to a deleted node are removed
      for (const p of this.list('pods')) if (p.spec.nodeName === o.metadata.name) this.remove('pods', p.metadata.namespace, p.metadata.name);
    }
  }

  reconcileDeployment(dep: Obj): void {
    if (!this.get('deployments', dep.metadata.namespace, dep.metadata.name) || dep.metadata.uid !== this.get('deployments', dep.metadata.namespace, dep.metadata.name)!.metadata.uid) return;
    const ns = dep.metadata.namespace;
    const tpl = dep.spec.template ?? {};
    const hash = this.depHash.get(dep.metadata.uid) ?? randSuffix(this.core, 10);
    dep.metadata.annotations = { 'deployment.kubernetes.io/revision': '1', ...(dep.metadata.annotations ?? {}) };
    this.depHash.set(dep.metadata.uid, hash);
    const rsName = `${dep.metadata.name}-${hash}`;
    let rs = this.get('replicasets', ns, rsName);
    if (!rs) {
      rs = this.put('replicasets', {
        metadata: { name: rsName, namespace: ns, labels: { ...(tpl.metadata?.labels ?? {}), 'pod-template-hash': hash }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: dep.metadata.name, uid: dep.metadata.uid, controller: true, blockOwnerDeletion: true }] },
        spec: { replicas: dep.spec.replicas ?? 1, selector: dep.spec.selector, template: tpl },
        status: { replicas: 0 },
      });
    }
    const have = this.list('pods', ns).filter((p) => this.podDep.get(p.metadata.uid) === dep.metadata.uid && !p.metadata.deletionTimestamp);
    const want = dep.spec.replicas ?? 1;
    // scale down: the ReplicaSet deletes unscheduled, then not-ready, then the newest pods first
    const rank = (p: Obj) => (!p.spec.nodeName ? 0 : !this.podReady(p) ? 1 : 2);
    for (const p of [...have].sort((a, b) => rank(a) - rank(b) || String(b.metadata.creationTimestamp).localeCompare(String(a.metadata.creationTimestamp))).slice(0, Math.max(0, have.length - want))) this.deletePod(p);
    for (let i = have.length; i < want; i++) {
      const spec = tpl.spec ?? {};
      const pod = this.createPod(ns, {
        name: `${rsName}-${randSuffix(this.core, 5)}`,
        labels: { ...(tpl.metadata?.labels ?? {}), 'pod-template-hash': hash },
        ...(tpl.metadata?.annotations ? { annotations: tpl.metadata.annotations } : {}),
        owner: { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: rsName, uid: rs.metadata.uid, controller: true, blockOwnerDeletion: true },
        containers: spec.containers ?? [],
        node: spec.nodeName,
        nodeSelector: spec.nodeSelector,
        hostNetwork: spec.hostNetwork,
        tolerations: spec.tolerations,
        volumes: spec.volumes,
        priorityClassName: spec.priorityClassName,
        affinity: spec.affinity,
        grace: spec.terminationGracePeriodSeconds,
        ownerDeployment: dep.metadata.uid,
      });
      void pod;
    }
    this.updateDeploymentStatus(dep);
  }

  updateOwnerStatus(pod: Obj): void {
    const dsRef = (pod.metadata.ownerReferences ?? []).find((r: Obj) => r.controller && r.kind === 'DaemonSet');
    if (dsRef) {
      const ds = this.list('daemonsets', pod.metadata.namespace).find((d) => d.metadata.uid === dsRef.uid);
      if (ds) this.updateDaemonSetStatus(ds);
    }
    const uid = this.podDep.get(pod.metadata.uid);
    if (!uid) return;
    const dep = this.list('deployments', pod.metadata.namespace).find((d) => d.metadata.uid === uid);
    if (dep) this.updateDeploymentStatus(dep);
  }

  /**
   * DELETE namespace: Terminating (deletionTimestamp, phase Terminating) while the namespace controller deletes
   * what is in it (pods gracefully); the namespace goes once no pod is left.
   */
  terminateNamespace(nsObj: Obj): Obj {
    const ns = nsObj.metadata.name;
    if (!nsObj.metadata.deletionTimestamp) {
      nsObj.metadata.deletionTimestamp = k8sTime(this.now());
      nsObj.status = { phase: 'Terminating' };
      this.touch(nsObj);
      for (const plural of ['deployments', 'replicasets', 'daemonsets', 'poddisruptionbudgets', 'configmaps', 'secrets', 'persistentvolumeclaims', 'leases']) {
        for (const o of this.list(plural, ns)) this.remove(plural, ns, o.metadata.name);
      }
      for (const p of this.list('pods', ns)) this.deletePod(p);
    }
    const finish = () => {
      if (!this.get('namespaces', undefined, ns)) return;
      if (this.list('pods', ns).length) return this.later(1000, finish);
      this.remove('namespaces', undefined, ns);
    };
    this.later(200, finish);
    return nsObj;
  }

  /** the DaemonSet controller's status: one pod per node it wants */
  updateDaemonSetStatus(ds: Obj): void {
    const pods = this.list('pods', ds.metadata.namespace).filter((p) => !p.metadata.deletionTimestamp && (p.metadata.ownerReferences ?? []).some((r: Obj) => r.uid === ds.metadata.uid));
    const scheduled = new Set(pods.map((p) => p.spec.nodeName).filter(Boolean)).size;
    const ready = pods.filter((p) => this.podReady(p)).length;
    const desired = this.list('nodes').length;
    ds.status = {
      currentNumberScheduled: scheduled,
      numberMisscheduled: 0,
      desiredNumberScheduled: desired,
      numberReady: ready,
      observedGeneration: ds.metadata.generation ?? 1,
      updatedNumberScheduled: scheduled,
      numberAvailable: ready,
      ...(desired - ready > 0 ? { numberUnavailable: desired - ready } : {}),
    };
  }

  updateDeploymentStatus(dep: Obj): void {
    const pods = this.list('pods', dep.metadata.namespace).filter((p) => this.podDep.get(p.metadata.uid) === dep.metadata.uid && !p.metadata.deletionTimestamp);
    const ready = pods.filter((p) => this.podReady(p)).length;
    const now = k8sTime(this.now());
    const want = dep.spec.replicas ?? 1;
    dep.status = {
      observedGeneration: dep.metadata.generation ?? 1,
      replicas: pods.length,
      updatedReplicas: pods.length,
      ...(ready ? { readyReplicas: ready, availableReplicas: ready } : {}),
      ...(pods.length - ready > 0 ? { unavailableReplicas: want - ready } : {}),
      conditions: [
        { type: 'Available', status: ready >= want ? 'True' : 'False', lastUpdateTime: now, lastTransitionTime: now, reason: ready >= want ? 'MinimumReplicasAvailable' : 'MinimumReplicasUnavailable', message: ready >= want ? 'Deployment has minimum availability.' : 'Deployment does not have minimum availability.' },
        { type: 'Progressing', status: 'True', lastUpdateTime: now, lastTransitionTime: now, reason: ready >= want ? 'NewReplicaSetAvailable' : 'ReplicaSetUpdated', message: `ReplicaSet "${dep.metadata.name}-${this.depHash.get(dep.metadata.uid) ?? ''}" ${ready >= want ? 'has successfully progressed.' : 'is progressing.'}` },
      ],
    };
    this.touch(dep);
    const rs = this.get('replicasets', dep.metadata.namespace, `${dep.metadata.name}-${this.depHash.get(dep.metadata.uid) ?? ''}`);
    if (rs) {
      rs.status = { replicas: pods.length, fullyLabeledReplicas: pods.length, ...(ready ? { readyReplicas: ready, availableReplicas: ready } : {}), observedGeneration: rs.metadata.generation ?? 1 };
      this.touch(rs);
    }
  }

  /** PDB status as the disruption controller computes it (disruption.ts) */
  pdbStatus(pdb: Obj): Obj {
    return this.hooks.pdbStatus(this, pdb);
  }

  refreshPdbs(ns: string): void {
    for (const pdb of this.list('poddisruptionbudgets', ns)) pdb.status = this.pdbStatus(pdb);
  }

  /** token cleaner + garbage collector + bootstrap signer; cheap enough to run before each request */
  gc(): void {
    // expirations are compared with the sim's clock; a client under test that runs against a time-scaled
    // sim must use the same clock (kadd's main() takes one), as a real client shares the apiserver's wall time
    const now = this.now();
    for (const s of this.list('secrets', 'kube-system')) {
      if (s.type !== 'bootstrap.kubernetes.io/token') continue;
      const exp = secretField(s, 'expiration');
      if (exp && Date.parse(exp) <= now) this.remove('secrets', 'kube-system', s.metadata.name);
    }
    this.syncClusterInfo();
  }

  /** bootstrap signer: jws-kubeconfig-<id> for every valid signing token */
  syncClusterInfo(): void {
    const ci = this.get('configmaps', 'kube-public', 'cluster-info');
    if (!ci) return;
    const kc = ci.data?.kubeconfig;
    if (!kc) return;
    const data: Obj = { kubeconfig: kc };
    for (const s of this.list('secrets', 'kube-system')) {
      if (s.type !== 'bootstrap.kubernetes.io/token') continue;
      const id = secretField(s, 'token-id');
      const sec = secretField(s, 'token-secret');
      if (!id || !sec || s.metadata.name !== `bootstrap-token-${id}`) continue;
      if (secretField(s, 'usage-bootstrap-signing') !== 'true') continue;
      const exp = secretField(s, 'expiration');
      if (exp && Date.parse(exp) <= this.now()) continue;
      data[`jws-kubeconfig-${id}`] = detachedJws(kc, id, sec);
    }
    const before = JSON.stringify(ci.data);
    if (before !== JSON.stringify(data)) {
      ci.data = data;
      this.touch(ci);
    }
  }

  stop(): void {
    this.stopped = true;
  }

  dump(): Obj {
    const out: Obj = {};
    for (const [k, m] of this.store) out[k] = [...m.values()].map((o) => clone(o));
    out.etcd = this.etcd.dump();
    return out;
  }
}

/** the QoS class of a pod from its containers' requests and limits */
export function qosClass(containers: Obj[]): string {
  let any = false;
  let guaranteed = containers.length > 0;
  for (const c of containers) {
    const req = c.resources?.requests ?? {};
    const lim = c.resources?.limits ?? {};
    if (Object.keys(req).length || Object.keys(lim).length) any = true;
    for (const k of ['cpu', 'memory']) if (lim[k] === undefined || (req[k] !== undefined && req[k] !== lim[k])) guaranteed = false;
  }
  return !any ? 'BestEffort' : guaranteed ? 'Guaranteed' : 'Burstable';
}

export function secretField(s: Obj, k: string): string | undefined {
  const v = s.data?.[k];
  return typeof v === 'string' ? Buffer.from(v, 'base64').toString('utf8') : undefined;
}
