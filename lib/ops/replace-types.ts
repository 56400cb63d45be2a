/**
 * kadd replace: the data of the plan (lib/ops/replace-plan.ts): the request, what was observed of each node,
 * and the plan's steps and phases. Types only.
 */
import type { CinderLimits, Flavor, NeutronQuotaDetails, NovaLimits } from '../openstack/types.js';
import type { ClusterView } from '../etcd/quorum.js';
import type { Role } from './naming.js';
import type { QuotaRow } from './add-workers.js';

// ------------------------------------------------------------------------------------------------
// inputs

export interface ReplaceRequest {
  /** one node by name (`kadd replace cfg.yml NODE`); absent with --all */
  target?: string;
  all: boolean;
  /** --role with --all: only masters or only workers */
  role?: Role;
  /** false with --no-surge */
  surge: boolean;
  image?: string;
  flavor?: string;
  zone?: string;
  k8sVersion?: string;
  maxSurge: number;
  maxUnavailable: number;
  /** node replacements that may fail (rolled back, old node kept) before the roll aborts */
  maxFailures: number;
  soakSeconds: number;
  /** resume: only these old nodes (the steps of the roll not complete yet) */
  only?: string[];
}

export interface ObservedServer {
  id: string;
  status: string;
  zone?: string;
  /** flavor name (Nova `flavor.original_name`) or id */
  flavor?: string;
  /** image name of the boot volume (volume_image_metadata.image_name) when known */
  image?: string;
  /** ISO time */
  created?: string;
  /** Nova server group name (or id) the server is a member of */
  serverGroup?: string;
}

export interface ObservedNode {
  ready: 'True' | 'False' | 'Unknown';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  taints: { key: string; value?: string; effect: string }[];
  kubeletVersion?: string;
  created?: string;
}

export interface ObservedMember {
  id: string;
  started: boolean;
  healthy: boolean;
  isLeader: boolean;
  isLearner: boolean;
}

/** One node of the cluster as seen through Nova, the Kubernetes API and etcd. */
export interface Machine {
  name: string;
  role: Role;
  server?: ObservedServer;
  node?: ObservedNode;
  /** masters: its etcd member (matched by name or peer URL) */
  member?: ObservedMember;
}

export interface ReplaceObserved {
  cluster: string;
  /** the cluster file's defaults for new nodes */
  defaults: { image: string; masterFlavor: string; nodeFlavor: string; serverGroup?: string; volumeSize: number; k8sVersion: string };
  machines: Machine[];
  /** GET /version of the API server, e.g. v1.29.3 */
  apiServerVersion?: string;
  /** kubeadm-config ClusterConfiguration.kubernetesVersion */
  kubeadmVersion?: string;
  /** etcd as seen through a member other than the target (masters); an error when it could not be read */
  etcd?: ClusterView | { error: string };
  flavors: Flavor[];
  novaLimits: NovaLimits | null;
  cinderLimits: CinderLimits | null;
  neutronQuota: NeutronQuotaDetails | null;
  /** names already taken (servers of both roles), for the names the new nodes get */
  existingNames: string[];
}

// ------------------------------------------------------------------------------------------------
// outputs

export type StrategyKind = 'surge' | 'remove-first';
export interface Strategy { kind: StrategyKind; reason: string }

/** What the new node is built as. */
export interface NodeSpec {
  flavor: string;
  zone?: string;
  image: string;
  serverGroup?: string;
  labels: Record<string, string>;
  taints: { key: string; value?: string; effect: string }[];
  k8sVersion: string;
}

export interface QuorumPath {
  before: number;
  healthyBefore: number;
  during: number;
  after: number;
  /** "3 -> 4 -> 3 members" */
  text: string;
}

export interface ReplaceStep {
  old: string;
  role: Role;
  /** the name the new node is expected to get (the add picks numeric max + 1 when it runs) */
  newName: string;
  strategy: Strategy;
  dead: boolean;
  /** why the old node is unhealthy (empty: healthy) */
  unhealthy: string[];
  /** why it is in this place of the order: annotated | unhealthy | oldest | named */
  orderReason: string;
  from: { flavor?: string; image?: string; zone?: string; k8sVersion?: string };
  like: NodeSpec;
  quorum?: QuorumPath;
}

export interface Phase {
  role: Role;
  steps: ReplaceStep[];
  /** surge slots running at once (masters: 1) */
  maxSurge: number;
  /** remove-first slots running at once (masters: 0; one-node replace: 0) */
  maxUnavailable: number;
}

export interface VersionChange {
  from: string;
  to: string;
  kind: 'patch' | 'minor' | 'none';
  /** kubeadm-config's ClusterConfiguration.kubernetesVersion is set to `to` before the first new master joins */
  updateKubeadmConfig: boolean;
}

export interface ReplacePlan {
  cluster: string;
  mode: 'one' | 'all';
  phases: Phase[];
  /** nodes left alone because they already match every requested change */
  upToDate: string[];
  version?: VersionChange;
  /** the most extra servers that exist at once */
  extraServers: number;
  quota: QuotaRow[];
  gates: string[];
  soakSeconds: number;
  maxFailures: number;
  warnings: string[];
  blockers: string[];
}
