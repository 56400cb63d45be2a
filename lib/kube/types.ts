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

  listNodes(labelSelector?: string): Promise<KNode[]>;
  getNode(name: string): Promise<KNode | null>;
  deleteNode(name: string): Promise<void>;
  cordonNode(name: string, unschedulable: boolean): Promise<void>;

  /** kubeadm-config ConfigMap ClusterConfiguration (parsed) */
  getClusterConfiguration(): Promise<Record<string, unknown> | null>;

  createDeployment(namespace: string, body: Record<string, unknown>): Promise<void>;
  deleteDeployment(namespace: string, name: string): Promise<void>;
  listPods(namespace: string, opts: { labelSelector?: string; fieldSelector?: string }): Promise<{ name: string; nodeName?: string; phase?: string; ready: boolean; containers: string[] }[]>;
  /** exec a command in a pod (WebSocket exec API), collecting output */
  exec(namespace: string, pod: string, container: string, command: string[], opts?: { stdin?: string; timeoutMs?: number }): Promise<ExecResult>;
}
