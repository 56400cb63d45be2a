/** What a scenario seeds (scenario.kube.workloads); its own file so that the contract can name it without a cycle. */
import type { LatencySpec } from '../latency.js';
/** a Kubernetes object as JSON (util.ts Obj, which imports the contract) */
type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

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
