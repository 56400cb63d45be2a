/**
 * kadd add --role node, the plan (design.md section 3): the request, what the preflight observed and the
 * plan made of it (pure: names, adoption, quota, blockers). The preflight is lib/ops/add-workers-preflight.ts,
 * the change lib/ops/add-workers-execute.ts; lib/ops/add-workers.ts re-exports all of it.
 */
import type { ClusterConfig } from '../config/types.js';
import type {
  AvailabilityZone, CinderLimits, Flavor, Image, Keypair, Network, NeutronQuotaDetails, NovaLimits,
  Router, SecurityGroup, Server, ServerGroup, Subnet, Volume, Port,
} from '../openstack/types.js';
import { PreflightError, UsageError } from '../errors.js';
import { nextNames, portName, volumeName, zoneFor } from './naming.js';
import { serverBlockers, serverGroupCheck } from './observe.js';
import { canAdopt } from './engine/ledger.js';

export const NOVA_USER_DATA_LIMIT = 65535;

export interface AddWorkersRequest {
  config: ClusterConfig;
  amount: number;
  zone?: string;
  flavor?: string;
  concurrency: number;
  /** overall per-node budget for server ACTIVE, ms */
  bootTimeoutMs: number;
  /** per-node budget for Node Ready after ACTIVE, ms */
  joinTimeoutMs: number;
  volumeTimeoutMs: number;
  wait: boolean;
  keepFailed: boolean;
  /** bootstrap token TTL, seconds (extended while nodes still boot) */
  tokenTtlSeconds: number;
  pollIntervalMs: number;
  maxPollIntervalMs: number;
  /** names to reuse (resume after a crash): adopt what exists under them */
  resumeNames?: string[];
  /** bootstrap tokens of an interrupted run whose servers are adopted: extended with ours, deleted at the end */
  adoptTokenIds?: string[];
  /** ids the journal of this cluster file records (resume): proof of ownership for adoption */
  journaledIds?: string[];
}

export type NetAction = 'exists' | 'create';

export interface QuotaRow { resource: string; need: number; free: number | 'unlimited'; ok: boolean }

export interface PlannedNode {
  name: string;
  zone?: string;
  flavor: { id: string; name: string; vcpus: number; ram: number; extraSpecs?: Record<string, string> };
  volumeName: string;
  portName: string;
  /** existing resources adopted by exact name */
  adopt: { serverId?: string; volumeId?: string; portId?: string };
}

export interface AddWorkersPlan {
  cluster: string;
  role: 'node';
  nodes: PlannedNode[];
  image: { id: string; name: string };
  keypair: string;
  volumeSize: number;
  volumeType?: string;
  k8sVersion: string;
  apiEndpoint: string;
  network: { name: string; action: NetAction; id?: string };
  subnet: { name: string; cidr: string; action: NetAction; id?: string };
  router: { name: string; action: NetAction; id?: string };
  securityGroup: { name: string; action: NetAction; id?: string };
  /** the `server_group` new servers are put in (scheduler hint), with its policy and member count now */
  serverGroup?: { id: string; name: string; policy: string; members: number };
  quota: QuotaRow[];
  userDataBytes: number;
  warnings: string[];
  blockers: string[];
  zones: string[];
  /** the CA pin for the join (read in the preflight; execute does not read cluster-info again) */
  caCertHash?: string;
}

export interface Observed {
  flavors: Flavor[];
  image: Image | null;
  keypair: Keypair | null;
  zones: AvailabilityZone[];
  volumeTypes: string[] | null;
  network: Network | null;
  subnet: Subnet | null;
  router: Router | null;
  securityGroup: SecurityGroup | null;
  novaLimits: NovaLimits | null;
  cinderLimits: CinderLimits | null;
  neutronQuota: NeutronQuotaDetails | null;
  servers: Server[];
  volumes: Volume[];
  ports: Port[];
  /** null: no server_group configured, or not found */
  serverGroup?: ServerGroup | null;
  serverGroupFailed?: boolean;
  kube: { ok: boolean; version?: string; error?: string; server: string };
  ownership: { ok: boolean; reason: string };
  userDataBytes: number;
  errors: string[];
  /** sha256 of the cluster CA's public key, read once in the preflight */
  caCertHash?: string;
}

/** Rendering of the join user-data; injected so the op stays testable and template-agnostic. */
export interface UserDataRenderer {
  (input: {
    nodeName: string;
    clusterName: string;
    apiEndpoint: string;
    token: { id: string; secret: string };
    caCertHash: string;
    k8sVersion: string;
    labels: Record<string, string>;
    taints: { key: string; value?: string; effect: string }[];
  }): Promise<string>;
}

export function hostOf(server: string): { host: string; port: number } {
  const u = new URL(server);
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port ? Number(u.port) : u.protocol === 'http:' ? 80 : 443 };
}

export function apiEndpointOf(server: string): string {
  const { host, port } = hostOf(server);
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** Pure check of the request against the config (no I/O): exit 2 material. */
export function validateRequest(req: AddWorkersRequest): void {
  if (!Number.isInteger(req.amount) || req.amount < 1) throw new UsageError(`--amount must be a whole number >= 1, got ${req.amount}`);
  if (req.amount > 500) throw new UsageError(`--amount ${req.amount} is more than 500; add large batches in several runs`);
  if (!Number.isInteger(req.concurrency) || req.concurrency < 1) throw new UsageError(`--concurrency must be a whole number >= 1, got ${req.concurrency}`);
  if (req.zone !== undefined && req.zone.trim() === '') throw new UsageError('--zone must not be empty; omit it to spread nodes over the configured availability zones');
  if (!Number.isFinite(req.tokenTtlSeconds) || req.tokenTtlSeconds < 300) throw new UsageError('--token-ttl must be at least 300 seconds');
}

/** Server names of this run: the numeric max + 1 onwards, or those of an interrupted run being resumed. */
export function plannedNames(req: Pick<AddWorkersRequest, 'config' | 'amount' | 'resumeNames'>, existing: string[]): string[] {
  return req.resumeNames?.length ? req.resumeNames.slice(0, req.amount) : nextNames(req.config.clusterName, 'node', existing, req.amount);
}

export function workerLabels(c: ClusterConfig): Record<string, string> {
  return { 'kadd.io/cluster': c.clusterName, 'kadd.io/role': 'node', ...c.nodeLabels };
}

function free(max: number, used: number): number | 'unlimited' {
  return max < 0 ? 'unlimited' : Math.max(0, max - used);
}

/** Pure: turn what was observed into a plan with blockers and warnings. */
export function plan(req: AddWorkersRequest, o: Observed): AddWorkersPlan {
  const c = req.config;
  const blockers: string[] = [...o.errors];
  const warnings: string[] = [];

  const flavorName = req.flavor ?? c.nodeFlavor;
  const sb = serverBlockers(c, o, { flavorName, flavorKey: 'node_flavor', explicitFlavor: !!req.flavor, zones: req.zone ? [req.zone] : c.availabilityZones });
  const flavor = sb.flavor;
  blockers.push(...sb.blockers);

  if (!o.kube.ok) blockers.push(`the Kubernetes API at ${o.kube.server} did not answer: ${o.kube.error ?? 'unknown error'}`);
  else if (!o.ownership.ok) blockers.push(`${o.ownership.reason}; pass the right --kubeconfig/--context`);

  if (o.userDataBytes > NOVA_USER_DATA_LIMIT) blockers.push(`the rendered user-data is ${o.userDataBytes} bytes after base64, over Nova's limit of ${NOVA_USER_DATA_LIMIT}`);

  // names: numeric max + 1, or the names of an interrupted run being resumed
  const names = plannedNames(req, o.servers.map((s) => s.name));

  const nodes: PlannedNode[] = names.map((name, i) => {
    const srv = o.servers.filter((s) => s.name === name);
    const vol = o.volumes.filter((v) => v.name === volumeName(name));
    const prt = o.ports.filter((p) => p.name === portName(name));
    if (srv.length > 1) blockers.push(`${srv.length} servers are named ${name}; remove the duplicates first`);
    if (vol.length > 1) blockers.push(`${vol.length} volumes are named ${volumeName(name)}; remove the duplicates first`);
    if (prt.length > 1) blockers.push(`${prt.length} ports are named ${portName(name)}; remove the duplicates first`);
    // adopt only what this cluster file's journal recorded, or what carries kadd's proof and is not
    // held by a live server other than the node's own (13.9)
    const journaled = (id?: string) => !!id && (req.journaledIds ?? []).includes(id);
    const own = srv[0] && (journaled(srv[0].id) || srv[0].metadata?.['kadd-cluster'] === c.clusterName) ? [srv[0].id] : [];
    const refuse = (what: string, v: { ok: true } | { ok: false; reason: string }) => {
      if (!v.ok) blockers.push(`${what} exists but is not adopted: ${v.reason}; delete it or let the kadd run that owns it finish`);
      return v.ok;
    };
    const adoptServer = srv[0] && refuse(`server ${name}`, own.length ? { ok: true } : { ok: false, reason: `it carries no kadd-cluster=${c.clusterName} metadata` }) ? srv[0].id : undefined;
    const adoptVolume = vol[0] && refuse(`volume ${volumeName(name)}`, canAdopt({
      kind: 'volume', cluster: c.clusterName, node: name, journaled: journaled(vol[0].id), metadata: vol[0].metadata, status: vol[0].status,
      heldBy: (vol[0].attachments ?? []).map((a) => a.server_id), mayHold: own,
    })) ? vol[0].id : undefined;
    const adoptPort = prt[0] && refuse(`port ${portName(name)}`, canAdopt({
      kind: 'port', cluster: c.clusterName, node: name, journaled: journaled(prt[0].id), tags: prt[0].tags, description: prt[0].description,
      heldBy: prt[0].device_id ? [prt[0].device_id] : [], mayHold: own,
    })) ? prt[0].id : undefined;
    return {
      name,
      zone: zoneFor(i, req.zone, c.availabilityZones),
      flavor: flavor ? { id: flavor.id, name: flavor.name, vcpus: flavor.vcpus, ram: flavor.ram, ...(flavor.extra_specs ? { extraSpecs: flavor.extra_specs } : {}) } : { id: '', name: flavorName, vcpus: 0, ram: 0 },
      volumeName: volumeName(name),
      portName: portName(name),
      adopt: { serverId: adoptServer, volumeId: adoptVolume, portId: adoptPort },
    };
  });

  // quota for the whole batch (adopted resources need nothing new)
  const quota: QuotaRow[] = [];
  const newServers = nodes.filter((n) => !n.adopt.serverId).length;
  const newVolumes = nodes.filter((n) => !n.adopt.volumeId && !n.adopt.serverId).length;
  const newPorts = nodes.filter((n) => !n.adopt.portId).length;
  const row = (resource: string, need: number, f: number | 'unlimited') => {
    const ok = f === 'unlimited' || need <= f;
    quota.push({ resource, need, free: f, ok });
    if (!ok) blockers.push(`quota: ${resource} needs ${need}, only ${f} free`);
  };
  if (o.novaLimits && flavor) {
    const l = o.novaLimits;
    row('instances', newServers, free(l.maxTotalInstances, l.totalInstancesUsed));
    row('cores', newServers * flavor.vcpus, free(l.maxTotalCores, l.totalCoresUsed));
    row('ram (MiB)', newServers * flavor.ram, free(l.maxTotalRAMSize, l.totalRAMUsed));
  }
  if (o.cinderLimits) {
    const l = o.cinderLimits;
    row('volumes', newVolumes, free(l.maxTotalVolumes, l.totalVolumesUsed));
    row('gigabytes', newVolumes * c.volumeSize, free(l.maxTotalVolumeGigabytes, l.totalGigabytesUsed));
  }
  if (o.neutronQuota?.port) {
    const p = o.neutronQuota.port;
    row('ports', newPorts, p.limit < 0 ? 'unlimited' : Math.max(0, p.limit - p.used - (p.reserved ?? 0)));
  }

  const sg = serverGroupCheck(c, o, newServers);
  blockers.push(...sg.blockers);
  warnings.push(...sg.warnings);

  const net = c.privateNet;
  if (net.subnet.router.name && !o.router) warnings.push(`router ${net.subnet.router.name} will be created without an external gateway unless one is found`);
  if (o.network && !o.subnet) warnings.push(`network ${net.name} exists but subnet ${net.subnet.name} does not; it will be created`);
  if (c.availabilityZones.length === 0 && !req.zone) warnings.push('no availability zone configured: Nova picks one');
  const adopted = nodes.filter((n) => n.adopt.serverId || n.adopt.volumeId || n.adopt.portId).map((n) => n.name);
  if (adopted.length) warnings.push(`adopting existing resources of ${adopted.join(', ')}`);

  return {
    cluster: c.clusterName,
    role: 'node',
    nodes,
    image: { id: o.image?.id ?? '', name: c.image },
    keypair: c.keypair,
    volumeSize: c.volumeSize,
    volumeType: c.storageClass,
    k8sVersion: c.version.k8s,
    apiEndpoint: apiEndpointOf(o.kube.server),
    network: { name: net.name, action: o.network ? 'exists' : 'create', id: o.network?.id },
    subnet: { name: net.subnet.name, cidr: net.subnet.cidr, action: o.subnet ? 'exists' : 'create', id: o.subnet?.id },
    router: { name: net.subnet.router.name, action: o.router ? 'exists' : 'create', id: o.router?.id },
    securityGroup: { name: c.securityGroup, action: o.securityGroup ? 'exists' : 'create', id: o.securityGroup?.id },
    ...(sg.group ? { serverGroup: sg.group } : {}),
    quota,
    userDataBytes: o.userDataBytes,
    warnings,
    blockers,
    zones: c.availabilityZones,
    ...(o.caCertHash ? { caCertHash: o.caCertHash } : {}),
  };
}

/** Throws a PreflightError (exit 2) listing every blocker. */
export function assertNoBlockers(p: AddWorkersPlan): void {
  if (p.blockers.length === 0) return;
  const n = p.blockers.length;
  throw new PreflightError(`preflight found ${n} problem${n > 1 ? 's' : ''}; nothing was created`, {
    details: p.blockers,
    hint: 'fix the problems above and run again; `kadd add --dry-run` shows the plan',
  });
}
