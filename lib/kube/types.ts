/**
 * The Kubernetes operations kadd uses. lib/kube/client.ts implements them on @kubernetes/client-node ~1.4
 * (imported lazily). Ops depend on this interface only.
 */
export interface NodeCondition { type: string; status: 'True' | 'False' | 'Unknown'; reason?: string; message?: string; lastTransitionTime?: string }
export interface KNode {
  name: string;
  labels: Record<string, string>;
  taints: { key: string; value?: string; effect: string }[];
  unschedulable: boolean;
  ready: boolean;
  conditions: NodeCondition[];
  addresses: { type: string; address: string }[];
  providerID?: string;
  kubeletVersion?: string;
  creationTimestamp?: string;
  annotations?: Record<string, string>;
  /** status.allocatable: cpu in millicores, memory in bytes, pods */
  allocatable?: { cpuMilli: number; memoryBytes: number; pods: number };
}

/** A pod as the drain needs it (lib/kube/drain.ts). */
export interface KPod {
  namespace: string;
  name: string;
  uid: string;
  nodeName?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** the controller owner reference, if any */
  controller?: { kind: string; name: string; apiVersion?: string };
  phase?: string;
  ready: boolean;
  /** ISO time when deletion was requested */
  deletionTimestamp?: string;
  /** volumes by kind */
  emptyDirVolumes: string[];
  pvcVolumes: string[];
  /** summed container requests */
  requests: { cpuMilli: number; memoryBytes: number };
  nodeSelector: Record<string, string>;
  tolerations: { key?: string; operator?: string; value?: string; effect?: string }[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

export interface KPdb {
  namespace: string;
  name: string;
  selector?: LabelSelector;
  minAvailable?: number | string;
  maxUnavailable?: number | string;
  unhealthyPodEvictionPolicy?: 'IfHealthyBudget' | 'AlwaysAllow';
  status: { currentHealthy: number; desiredHealthy: number; disruptionsAllowed: number; expectedPods: number };
}

/**
 * Outcome of one Eviction (POST pods/{name}/eviction):
 * evicted 201; gone 404; blocked 429 (PDB or rate limit, retry later); multiple-pdbs 500 (the pod is
 * selected by several PDBs: a misconfiguration); namespace-terminating 403 (retry).
 */
export type EvictionOutcome =
  | { outcome: 'evicted' }
  | { outcome: 'gone' }
  | { outcome: 'blocked'; message: string; retryAfterSeconds?: number }
  | { outcome: 'multiple-pdbs'; message: string }
  | { outcome: 'namespace-terminating'; message: string };

export interface KVolumeAttachment { name: string; nodeName: string; attached: boolean; pvName?: string; attacher: string }

export interface BootstrapToken {
  id: string;
  /** never logged */
  secret: string;
  /** ISO UTC */
  expiration: string;
}

export interface ExecResult { stdout: string; stderr: string; exitCode: number }

/** A coordination.k8s.io/v1 Lease as kadd reads it (times are ISO strings, as the API server wrote them). */
export interface LeaseObject {
  name: string;
  namespace: string;
  uid: string;
  /** optimistic concurrency: a replace or delete carrying an older one gets 409 Conflict */
  resourceVersion: string;
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
  annotations: Record<string, string>;
}

/** What kadd writes into a Lease (spec + annotations); times are epoch ms, sent as MicroTime. */
export interface LeaseWrite {
  holderIdentity: string;
  leaseDurationSeconds: number;
  acquireTime: number;
  renewTime: number;
  leaseTransitions: number;
  annotations: Record<string, string>;
}

export interface KubeApi {
  /** GET /version; also proves the API server answers */
  serverVersion(): Promise<{ gitVersion: string; major: string; minor: string }>;
  /** The API server URL kadd talks to (from the kubeconfig) */
  server(): string;
  /** The cluster CA (PEM) from the kubeconfig or the cluster-info ConfigMap */
  clusterCaPem(): Promise<string>;

  /** `id`: chosen by the caller (journaled before the create, so a crash leaves it findable); default random */
  createBootstrapToken(opts: { ttlSeconds: number; description: string; groups?: string[]; usages?: string[]; id?: string }): Promise<BootstrapToken>;
  extendBootstrapToken(id: string, expiration: string): Promise<void>;
  deleteBootstrapToken(id: string): Promise<void>;
  /** the bootstrap-token Secrets in kube-system: id, description, expiration (never the secret part) */
  listBootstrapTokens(): Promise<{ id: string; description?: string; expiration?: string }[]>;

  listNodes(labelSelector?: string): Promise<KNode[]>;
  getNode(name: string): Promise<KNode | null>;
  deleteNode(name: string): Promise<void>;
  cordonNode(name: string, unschedulable: boolean): Promise<void>;
  /** merge these annotations into the Node's (a null value removes one) */
  annotateNode(name: string, annotations: Record<string, string | null>): Promise<void>;

  /** every pod bound to this Node (all namespaces) */
  listPodsOnNode(nodeName: string): Promise<KPod[]>;
  /** every pod of the cluster (capacity planning) */
  listAllPods(): Promise<KPod[]>;
  /** null when the pod is gone */
  getPod(namespace: string, name: string): Promise<KPod | null>;
  /** every PodDisruptionBudget (all namespaces), with status */
  listPodDisruptionBudgets(): Promise<KPdb[]>;
  /** POST the Eviction subresource; dryRun sends DryRun=All (nothing is deleted) */
  evictPod(namespace: string, name: string, opts?: { dryRun?: boolean; gracePeriodSeconds?: number; uid?: string }): Promise<EvictionOutcome>;
  /** DELETE a pod (bypasses PDBs: --disable-eviction); 404 is not an error */
  deletePod(namespace: string, name: string, opts?: { gracePeriodSeconds?: number; uid?: string }): Promise<void>;
  /** storage.k8s.io/v1 VolumeAttachments (all, or those of one Node) */
  listVolumeAttachments(nodeName?: string): Promise<KVolumeAttachment[]>;
  /** a ConfigMap's data; null when it does not exist */
  readConfigMap(namespace: string, name: string): Promise<Record<string, string> | null>;

  /** kubeadm-config ConfigMap ClusterConfiguration (parsed) */
  getClusterConfiguration(): Promise<Record<string, unknown> | null>;
  /**
   * Set kubeadm-config ClusterConfiguration.kubernetesVersion (kadd replace --k8s-version, before the first new
   * master joins, as Cluster API's KCP does); the rest of the document is kept. Returns the previous value.
   */
  setClusterConfigurationVersion(version: string): Promise<string | undefined>;
  /** GET /readyz through the API endpoint the kubeconfig names (the load balancer): ok, or what failed */
  readyz(): Promise<{ ok: boolean; detail: string }>;
  /**
   * GET /readyz of ONE control-plane node's own API server (kubeadm points it at the etcd member on the same host),
   * through the API's node proxy: /api/v1/nodes/https:NODE:PORT/proxy/readyz. ok, or what failed (HTTP status and
   * the failed checks, or why the node could not be reached). Never throws.
   */
  apiserverReadyzOn(node: string, port?: number): Promise<{ ok: boolean; detail: string }>;

  createDeployment(namespace: string, body: Record<string, unknown>): Promise<void>;
  deleteDeployment(namespace: string, name: string): Promise<void>;
  listDeployments(namespace: string, labelSelector: string): Promise<{ name: string; labels: Record<string, string> }[]>;
  listPods(namespace: string, opts: { labelSelector?: string; fieldSelector?: string }): Promise<{ name: string; nodeName?: string; phase?: string; ready: boolean; containers: string[] }[]>;
  /** GET a Lease; null when there is none */
  getLease(namespace: string, name: string): Promise<LeaseObject | null>;
  /** POST a Lease; KubeError status 409 when one of that name exists */
  createLease(namespace: string, name: string, lease: LeaseWrite): Promise<LeaseObject>;
  /** PUT a Lease at `resourceVersion`; KubeError status 409 when it changed since (someone else wrote it) */
  replaceLease(namespace: string, name: string, resourceVersion: string, lease: LeaseWrite): Promise<LeaseObject>;
  /** DELETE a Lease only if it is still at uid/resourceVersion (409 otherwise; already gone = done) */
  deleteLease(namespace: string, name: string, preconditions: { uid: string; resourceVersion: string }): Promise<void>;

  /** exec a command in a pod (WebSocket exec API), collecting output */
  exec(namespace: string, pod: string, container: string, command: string[], opts?: { stdin?: string; stdinEof?: boolean; timeoutMs?: number }): Promise<ExecResult>;
}
