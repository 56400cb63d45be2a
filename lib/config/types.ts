/**
 * The cluster file as kadd understands it (koris keys + kadd's own). lib/config/load.ts builds it
 * from YAML; everything downstream uses this shape, never the raw YAML.
 */
export interface SshSettings {
  /** login user on masters (default "ubuntu") */
  user: string;
  port: number;
  /** path to an OpenSSH-format private key (default: ssh-agent / ~/.ssh/id_ed25519, id_rsa) */
  privateKey?: string;
  /** jump host */
  bastion?: { host: string; port: number; user: string };
  /** OpenSSH known_hosts file used to pin host keys */
  knownHosts?: string;
  /** pinned fingerprints: host -> ["SHA256:..."] */
  hostKeys: Record<string, string[]>;
}

export interface ClusterConfig {
  /** absolute path of the file read */
  file: string;
  clusterName: string;
  nMasters: number;
  nNodes: number;
  keypair: string;
  masterFlavor: string;
  nodeFlavor: string;
  /** from `availability-zones` or koris's misspelt `availibility-zones` */
  availabilityZones: string[];
  image: string;
  /** Cinder volume type for boot volumes (koris `storage_class`) */
  storageClass?: string;
  privateNet: {
    name: string; // default <cluster>-net
    subnet: { name: string; cidr: string; router: { name: string } }; // defaults <cluster>-subnet, 192.168.0.0/16, <cluster>-rt
  };
  loadbalancer: { name: string; floatingip?: string; dnsname?: string }; // name default <cluster>-lb
  /** "X.Y.Z"; "" when the file does not set it (kadd then uses the control plane's version) */
  version: { k8s: string };
  podSubnet: string; // default 10.233.0.0/16
  podNetwork: string; // CALICO | FLANNEL (default CALICO)
  addons?: unknown;
  // kadd's own keys
  /** boot volume size in GB (`volume_size`, default 25 as koris) */
  volumeSize: number;
  /** security group name (`security_group`, default <cluster>-sec-group as koris) */
  securityGroup: string;
  /** Nova server group for anti-affinity (`server_group`), optional */
  serverGroup?: string;
  ssh: SshSettings;
  /** extra Node labels for workers (`node_labels`) */
  nodeLabels: Record<string, string>;
  /** taints for workers (`node_taints`: ["key=value:Effect"]) */
  nodeTaints: { key: string; value?: string; effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute' }[];
}

export interface ConfigWarning {
  /** key path, e.g. "private_net.subnet.cidr" */
  path: string;
  message: string;
}
