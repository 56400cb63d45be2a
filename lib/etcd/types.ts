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

export interface CommandResult { stdout: string; stderr: string; exitCode: number }

/** Runs a command on a control-plane node (kube exec into the adder pod | ssh | local). */
export interface Transport {
  readonly kind: 'kube' | 'ssh' | 'local';
  /** human description, e.g. "ssh root@10.0.0.5 via bastion 1.2.3.4" */
  readonly describe: string;
  /**
   * `stdinEof: false`: send stdin but do not close it (the command reads what it needs line by line):
   * pod exec over the v4 WebSocket protocol can only signal the end of stdin by closing the whole
   * connection, which loses the command's output and exit status
   */
  run(argv: string[], opts?: { env?: Record<string, string>; timeoutMs?: number; stdin?: string; stdinEof?: boolean }): Promise<CommandResult>;
  close(): Promise<void>;
}
