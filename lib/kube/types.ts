/**
 * The Kubernetes operations kadd uses. lib/kube/client.ts implements them on @kubernetes/client-node ~1.4
 * (imported lazily). Ops depend on this interface only.
 */
export interface NodeCondition { type: string; status: 'True' | 'False' | 'Unknown'; reason?: string; message?: string }
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
}

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

  createBootstrapToken(opts: { ttlSeconds: number; description: string; groups?: string[]; usages?: string[] }): Promise<BootstrapToken>;
  extendBootstrapToken(id: string, expiration: string): Promise<void>;
  deleteBootstrapToken(id: string): Promise<void>;

  listNodes(labelSelector?: string): Promise<KNode[]>;
  getNode(name: string): Promise<KNode | null>;
  deleteNode(name: string): Promise<void>;
  cordonNode(name: string, unschedulable: boolean): Promise<void>;

  /** kubeadm-config ConfigMap ClusterConfiguration (parsed) */
  getClusterConfiguration(): Promise<Record<string, unknown> | null>;

  createDeployment(namespace: string, body: Record<string, unknown>): Promise<void>;
  deleteDeployment(namespace: string, name: string): Promise<void>;
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
