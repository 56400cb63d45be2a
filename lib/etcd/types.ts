/**
 * etcd member model and the Transport that runs etcdctl (and kubeadm) on a control-plane node.
 * IDs are uint64 and always kept as lowercase hex strings (never a JS number).
 */
export interface EtcdMember {
  /** lowercase hex, no 0x, no leading zeros */
  id: string;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
}

export interface EtcdEndpointStatus {
  endpoint: string;
  memberId: string; // hex
  leaderId: string; // hex
  isLearner: boolean;
  version?: string;
  dbSize?: number;
  raftIndex?: string;
  errors?: string[];
}

export interface EtcdEndpointHealth { endpoint: string; health: boolean; error?: string; took?: string }

/** The Transport etcdctl runs over (defined in lib/shell.ts; implemented by lib/ssh, lib/kube and local.ts). */
export type { CommandResult, Transport } from '../shell.js';
