/**
 * The typed OpenStack API kadd uses. lib/openstack/client.ts implements it on global fetch;
 * ops code depends only on this interface (tests may hand in the real client pointed at the simulator).
 * Field names follow the OpenStack API reference exactly.
 */
import type { ServiceName } from './catalog.js';

export interface Flavor {
  id: string; name: string; vcpus: number; ram: number; disk: number; 'OS-FLV-EXT-DATA:ephemeral'?: number;
  /** in the detail view from compute 2.61 (kadd asks 2.67) */
  extra_specs?: Record<string, string>;
}
export interface Keypair { name: string; fingerprint?: string; type?: string }
export interface AvailabilityZone { zoneName: string; zoneState: { available: boolean } }
export interface Image { id: string; name: string; status: string; min_disk?: number; min_ram?: number; size?: number | null }

export interface ServerFault { code: number; message: string; details?: string; created?: string }
export interface ServerAddress { addr: string; version: number; 'OS-EXT-IPS:type'?: string; 'OS-EXT-IPS-MAC:mac_addr'?: string }
export interface Server {
  id: string;
  name: string;
  status: string; // BUILD ACTIVE ERROR DELETED SHUTOFF ...
  'OS-EXT-STS:task_state'?: string | null;
  'OS-EXT-AZ:availability_zone'?: string;
  addresses?: Record<string, ServerAddress[]>;
  metadata?: Record<string, string>;
  tags?: string[];
  fault?: ServerFault;
  flavor?: { id?: string; original_name?: string };
  created?: string;
  updated?: string;
  key_name?: string | null;
  'os-extended-volumes:volumes_attached'?: { id: string; delete_on_termination?: boolean }[];
}

export interface BlockDeviceMappingV2 {
  boot_index: number;
  uuid: string;
  source_type: 'volume' | 'image' | 'blank' | 'snapshot';
  destination_type: 'volume' | 'local';
  volume_size?: number;
  delete_on_termination?: boolean;
}

export interface CreateServerRequest {
  name: string;
  flavorRef: string;
  imageRef?: string;
  availability_zone?: string;
  key_name?: string;
  networks: ({ port: string } | { uuid: string })[] | 'auto' | 'none';
  block_device_mapping_v2?: BlockDeviceMappingV2[];
  /** plain text; the client base64-encodes it */
  user_data?: string;
  /** already base64-encoded user-data (e.g. gzip-compressed by lib/cloudinit packUserData); sent as is, wins over user_data */
  user_data_base64?: string;
  metadata?: Record<string, string>;
  tags?: string[];
  security_groups?: { name: string }[];
  'OS-SCH-HNT:scheduler_hints'?: Record<string, unknown>;
}

export interface ListServersQuery {
  /** Nova treats name as a regular expression */
  name?: string;
  status?: string;
  tags?: string[];
  limit?: number;
  /** ISO time: only servers changed since then (deleted ones included, status DELETED) */
  changesSince?: string;
}

export interface NovaLimits {
  maxTotalCores: number; totalCoresUsed: number;
  maxTotalRAMSize: number; totalRAMUsed: number;
  maxTotalInstances: number; totalInstancesUsed: number;
  maxServerGroups?: number; totalServerGroupsUsed?: number;
  /** per-group member quota (server_group_members) */
  maxServerGroupMembers?: number;
}

/**
 * GET /os-server-groups/{id}: microversion 2.64+ gives `policy` (+ `rules`), before that `policies` (one item).
 * members: ids of the servers in the group that are not deleted.
 */
export interface ServerGroup {
  id: string;
  name: string;
  policies?: string[];
  policy?: string;
  /** 2.64+: e.g. { max_server_per_host: 2 } for anti-affinity */
  rules?: { max_server_per_host?: number };
  members: string[];
}

export interface Volume {
  id: string;
  name: string | null;
  status: string; // creating available in-use error deleting error_deleting ...
  size: number;
  availability_zone?: string;
  volume_type?: string | null;
  bootable?: string; // "true" | "false"
  metadata?: Record<string, string>;
  attachments?: { server_id: string; attachment_id?: string; device?: string }[];
}

/** Cinder v3 attachment (GET /attachments, microversion 3.27+) */
export interface VolumeAttachment { id: string; volume_id: string; instance: string | null; status: string; attach_mode?: string }

export interface CreateVolumeRequest {
  name: string;
  size: number;
  imageRef?: string;
  availability_zone?: string;
  volume_type?: string;
  metadata?: Record<string, string>;
  description?: string;
}

/** A Cinder user message (GET /v3/{project}/messages, 3.3+): why an asynchronous operation failed. */
export interface VolumeMessage { id: string; event_id: string; user_message: string; message_level?: string; resource_type?: string; resource_uuid?: string; created_at?: string }
export interface CinderLimits { maxTotalVolumes: number; totalVolumesUsed: number; maxTotalVolumeGigabytes: number; totalGigabytesUsed: number }

export interface Network { id: string; name: string; status?: string; subnets?: string[]; 'router:external'?: boolean; admin_state_up?: boolean }
export interface Subnet { id: string; name: string; network_id: string; cidr: string; ip_version: number; gateway_ip?: string | null }
export interface Router { id: string; name: string; external_gateway_info?: { network_id: string } | null; status?: string }
export interface Port {
  id: string; name: string; network_id: string; device_id?: string; device_owner?: string; status?: string;
  fixed_ips?: { subnet_id: string; ip_address: string }[]; security_groups?: string[]; tags?: string[];
  /** written by kadd at create (`kadd: <cluster> <server>`): its ownership proof before the tags are set */
  description?: string;
}
export interface CreatePortRequest {
  name: string; network_id: string; fixed_ips?: { subnet_id: string; ip_address?: string }[];
  security_groups?: string[]; description?: string; admin_state_up?: boolean;
  /**
   * kept where Neutron has the `tag-creation` extension; Zed answers 201 and drops them (the answer's `tags`
   * says which: setPortTags after the create where they are missing)
   */
  tags?: string[];
}
export interface SecurityGroup { id: string; name: string; description?: string; security_group_rules?: unknown[] }
export interface QuotaDetail { used: number; limit: number; reserved: number }
export interface NeutronQuotaDetails { port: QuotaDetail; network?: QuotaDetail; subnet?: QuotaDetail; router?: QuotaDetail; security_group?: QuotaDetail }

export interface LoadBalancer { id: string; name: string; vip_address: string; vip_subnet_id?: string; provisioning_status: string; operating_status?: string; listeners?: { id: string }[]; pools?: { id: string }[] }
export interface Listener { id: string; name: string; protocol: string; protocol_port: number; default_pool_id?: string | null; loadbalancers?: { id: string }[] }
export interface Pool { id: string; name: string; protocol: string; lb_algorithm: string; listeners?: { id: string }[]; loadbalancers?: { id: string }[]; members?: { id: string }[]; provisioning_status?: string }
export interface Member { id: string; name?: string; address: string; protocol_port: number; subnet_id?: string; provisioning_status?: string; operating_status?: string }

export interface ComputeApi {
  listFlavors(): Promise<Flavor[]>;
  getKeypair(name: string): Promise<Keypair | null>;
  listAvailabilityZones(): Promise<AvailabilityZone[]>;
  getLimits(): Promise<NovaLimits>;
  createServer(req: CreateServerRequest): Promise<{ id: string }>;
  /** GET /servers/detail with filters, all pages */
  listServers(q?: ListServersQuery): Promise<Server[]>;
  /** null when 404 */
  getServer(id: string): Promise<Server | null>;
  /** resolves also when the server is already gone (404) */
  deleteServer(id: string): Promise<void>;
  getConsoleOutput(id: string, length?: number): Promise<string>;
  /** POST /servers/{id}/action {"reboot": {"type": SOFT|HARD}} (202; 409 when the state forbids it) */
  rebootServer(id: string, type: 'SOFT' | 'HARD'): Promise<void>;
  /** the project's server group by id or exact name (all pages); null when none; an error when the name is not unique */
  findServerGroup(nameOrId: string): Promise<ServerGroup | null>;
}

export interface VolumeApi {
  createVolume(req: CreateVolumeRequest): Promise<Volume>;
  getVolume(id: string): Promise<Volume | null>;
  /** GET /volumes/detail with filters (name, status, metadata), all pages */
  listVolumes(q?: { name?: string; status?: string; metadata?: Record<string, string> }): Promise<Volume[]>;
  deleteVolume(id: string): Promise<void>;
  /** Cinder v3 attachments of a volume (microversion >= 3.27) */
  listAttachments(volumeId: string): Promise<VolumeAttachment[]>;
  /** delete an attachment; 404 is not an error. The volume goes back to available when it was the last one. */
  deleteAttachment(id: string): Promise<void>;
  getLimits(): Promise<CinderLimits>;
  listVolumeTypes(): Promise<{ id: string; name: string }[]>;
  /** Cinder's user messages about one resource (3.3+), oldest first */
  listMessages(resourceId: string): Promise<VolumeMessage[]>;
}

export interface ImageApi {
  /** by exact name or id */
  findImage(nameOrId: string): Promise<Image | null>;
}

export interface NetworkApi {
  findNetwork(name: string): Promise<Network | null>;
  createNetwork(req: { name: string; admin_state_up?: boolean }): Promise<Network>;
  findSubnet(name: string, networkId?: string): Promise<Subnet | null>;
  listSubnets(q?: { network_id?: string; name?: string }): Promise<Subnet[]>;
  createSubnet(req: { name: string; network_id: string; cidr: string; ip_version: 4 | 6 }): Promise<Subnet>;
  findRouter(name: string): Promise<Router | null>;
  createRouter(req: { name: string; external_gateway_info?: { network_id: string } }): Promise<Router>;
  addRouterInterface(routerId: string, subnetId: string): Promise<void>;
  listExternalNetworks(): Promise<Network[]>;
  findSecurityGroup(name: string): Promise<SecurityGroup | null>;
  createSecurityGroup(req: { name: string; description?: string }): Promise<SecurityGroup>;
  createPort(req: CreatePortRequest): Promise<Port>;
  /** `id`: one port by id (Neutron's id filter), [] when it is gone */
  /** several names: ports with any of them (Neutron ORs a repeated filter), in one request */
  listPorts(q?: { id?: string; name?: string | string[]; network_id?: string; device_id?: string }): Promise<Port[]>;
  deletePort(id: string): Promise<void>;
  setPortTags(id: string, tags: string[]): Promise<void>;
  /** the aliases of Neutron's API extensions (GET /extensions), e.g. 'tag-creation' */
  listExtensions(): Promise<string[]>;
  getQuotaDetails(projectId: string): Promise<NeutronQuotaDetails>;
}

export interface LoadBalancerApi {
  findLoadBalancer(name: string): Promise<LoadBalancer | null>;
  listListeners(q?: { loadbalancer_id?: string }): Promise<Listener[]>;
  listPools(q?: { loadbalancer_id?: string }): Promise<Pool[]>;
  listMembers(poolId: string): Promise<Member[]>;
  createMember(poolId: string, m: { name?: string; address: string; protocol_port: number; subnet_id?: string }): Promise<Member>;
  deleteMember(poolId: string, memberId: string): Promise<void>;
}

export interface RequestCounts {
  /** key: `${service} ${METHOD}` e.g. "compute GET" */
  [key: string]: number;
}

export interface OpenStackClient {
  readonly compute: ComputeApi;
  readonly volume: VolumeApi;
  readonly image: ImageApi;
  readonly network: NetworkApi;
  readonly loadbalancer: LoadBalancerApi;
  /** authenticate (single-flight) and return the project id of the token */
  projectId(): Promise<string>;
  /** regions present in the catalog */
  regions(): Promise<string[]>;
  counts(): RequestCounts;
  resetCounts(): void;
}

// ------------------------------------------------------------------------------------------------------------------
// What the per-service modules (compute.ts, volume.ts, image.ts, network.ts, loadbalancer.ts) need from the client.
// It lives here, not in client.ts, so that the services do not import the module that imports them.

export type HttpMethod = 'GET' | 'HEAD' | 'PUT' | 'DELETE' | 'POST' | 'PATCH';

/** an array value is sent as the parameter repeated (Neutron ORs repeated filters) */
export type Query = Record<string, string | number | boolean | readonly string[] | undefined | null>;

export interface CallOptions {
  query?: Query;
  body?: unknown;
  /** statuses that are not errors (default: any 2xx) */
  ok?: number[];
  /** answer null for a 404 instead of throwing */
  notFoundNull?: boolean;
  idempotent?: boolean;
  retryOn409?: boolean;
}

export interface ServiceCaller {
  call<T = unknown>(service: ServiceName, method: HttpMethod, path: string, opts?: CallOptions): Promise<T | null>;
  /** GET every page of a collection: follows `<key>_links` rel=next (Nova, Cinder, Neutron, Octavia) and Glance `next`. */
  list<T>(service: ServiceName, path: string, key: string, query?: Query): Promise<T[]>;
  projectId(): Promise<string>;
}
