/**
 * kadd add --role node (design.md section 3).
 *
 *   preflight(ctx, req)      -> Observed      (read-only I/O, all problems at once)
 *   plan(req, observed)      -> Plan          (pure)
 *   execute(plan, ctx, deps) -> Result        (side effects, journaled, rolled back on failure)
 */
import { kaddPortDescription } from '../openstack/network.js';
import type { Context } from '../context.js';
import type { ClusterConfig } from '../config/types.js';
import type {
  AvailabilityZone, CinderLimits, Flavor, Image, Keypair, LoadBalancer, Network, NeutronQuotaDetails, NovaLimits,
  OpenStackClient, Router, SecurityGroup, Server, ServerGroup, Subnet, Volume, Port, VolumeAttachment,
} from '../openstack/types.js';
import type { KNode, KubeApi } from '../kube/types.js';
import { InterruptedError, KaddError, OperationError, PreflightError, UsageError } from '../errors.js';
import {
  nameClaimRival, nextNames, ownershipMetadata, ownershipTags, portName, retryZone, roleNamePattern, volumeName, zoneFor,
} from './naming.js';
import { groupDiagnosis, observeCloud, serverBlockers, serverGroupCheck } from './observe.js';
import { BatchWaiter, Semaphore, TimeoutError } from './poll.js';
import { canAdopt, describeReaped, type Ledger } from './engine/ledger.js';
import { Reapers, staleAttachments } from './engine/reapers.js';
import { TokenLease } from './engine/token.js';
import { diagnose, diagnoseVolume, type Diagnosis } from './diagnose.js';

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
  /** Neutron has `tag-creation`: the ownership tags go in the port create (else one PUT per port after it) */
  portTagsOnCreate?: boolean;
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
  /** Neutron extension aliases; null/absent when unknown */
  neutronExtensions?: string[] | null;
  kube: { ok: boolean; version?: string; error?: string; server: string };
  ownership: { ok: boolean; reason: string };
  userDataBytes: number;
  errors: string[];
  /** sha256 of the cluster CA's public key, read once in the preflight */
  caCertHash?: string;
}

export type NodeOutcome = 'joined' | 'active' | 'failed' | 'rolled-back' | 'kept' | 'interrupted';

export interface NodeResult {
  name: string;
  zone?: string;
  flavor: string;
  outcome: NodeOutcome;
  serverId?: string;
  ip?: string;
  attempts: number;
  cause?: string;
  diagnosis?: Diagnosis;
  left?: string[];
}

export interface AddWorkersResult {
  cluster: string;
  requested: number;
  added: number;
  nodes: NodeResult[];
  updatedConfig?: string;
  /** n-nodes written to the updated file (when it is not the file's count plus `added`: a resume counts what exists) */
  nNodes?: number;
  interrupted: boolean;
  durationMs: number;
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

export interface AddWorkersDeps {
  renderUserData: UserDataRenderer;
  caCertHash: (pem: string) => string;
  /** journal + undo list of this operation (lib/ops/engine/ledger.ts) */
  ledger: Ledger;
  /** called after success or partial success with the number of joined nodes; returns the path written */
  writeConfig: (added: number) => Promise<string>;
}

function hostOf(server: string): { host: string; port: number } {
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

/** Read-only look at the cloud and the cluster. Collects every problem instead of stopping at the first. */
export async function preflight(
  ctx: Context,
  req: AddWorkersRequest,
  os: OpenStackClient,
  kube: KubeApi,
  deps: Pick<AddWorkersDeps, 'renderUserData' | 'caCertHash'>,
): Promise<Observed> {
  const c = req.config;
  const errors: string[] = [];
  ctx.io.log('info', `preflight for ${c.clusterName}: reading the cloud and the cluster (changes nothing)`);

  // Three things at once, none waiting for another: the Kubernetes side (client-node's import, version,
  // CA: reachable, and the cluster is this project's), the OpenStack burst, the user-data size check
  const kubeInfo: Observed['kube'] = { ok: false, server: kube.server() };
  let caHash = '';
  const kubeSide = (async () => {
    try {
      const [v, pem] = await Promise.all([kube.serverVersion(), kube.clusterCaPem()]);
      kubeInfo.ok = true;
      kubeInfo.version = v.gitVersion;
      caHash = deps.caCertHash(pem);
    } catch (e) {
      kubeInfo.ok = false;
      kubeInfo.error = e instanceof Error ? e.message : String(e);
    }
  })();

  // size of the largest user-data (names differ per node; a placeholder token and CA hash of the real length)
  const rendered = (async () => {
    try {
      const probeName = `${c.clusterName}-node-${'9'.repeat(6)}`;
      const ud = await deps.renderUserData({
        nodeName: probeName, clusterName: c.clusterName, apiEndpoint: apiEndpointOf(kube.server()),
        token: { id: 'abcdef', secret: '0123456789abcdef' }, caCertHash: `sha256:${'0'.repeat(64)}`,
        k8sVersion: c.version.k8s, labels: workerLabels(c), taints: c.nodeTaints,
      });
      return { bytes: Buffer.byteLength(Buffer.from(ud, 'utf8').toString('base64')) };
    } catch (e) {
      return { error: e };
    }
  })();

  // the load balancer only serves the ownership check: not looked up when the config's floating IP or DNS
  // name is the kubeconfig's API host already
  const lbNeeded = !ownershipByAddress(c, kube.server());
  const cl = await observeCloud(os, c, 'node', errors, {
    lbRequired: false, extensions: true, lookupLb: lbNeeded,
    portNames: (servers) => plannedNames(req, servers.map((s) => s.name)).map(portName),
  });
  await kubeSide;
  // Ctrl-C while waiting for the API is an interruption (exit 130), not a preflight finding
  if (!kubeInfo.ok && ctx.signal.aborted) throw KaddError.is(ctx.signal.reason) ? ctx.signal.reason : new InterruptedError();
  const ownership = kubeInfo.ok ? await checkOwnership(c, kube, cl.lb, os) : { ok: false, reason: 'the Kubernetes API did not answer' };

  let userDataBytes = 0;
  const r = await rendered;
  if ('error' in r) {
    const e = r.error;
    if (e instanceof KaddError && e.exitCode === 2) throw e;
    errors.push(`rendering the user-data: ${e instanceof Error ? e.message : String(e)}`);
  } else userDataBytes = r.bytes;

  return {
    flavors: cl.flavors, image: cl.image, keypair: cl.keypair, zones: cl.zones, volumeTypes: cl.volumeTypes, network: cl.network,
    subnet: cl.subnet, router: cl.router, securityGroup: cl.securityGroup, novaLimits: cl.novaLimits, cinderLimits: cl.cinderLimits,
    neutronQuota: cl.neutronQuota, servers: cl.servers, volumes: cl.volumes, ports: cl.ports,
    serverGroup: cl.serverGroup, serverGroupFailed: cl.serverGroupFailed, neutronExtensions: cl.neutronExtensions,
    kube: kubeInfo, ownership, userDataBytes, errors, ...(caHash ? { caCertHash: caHash } : {}),
  };
}

/** Server names of this run: the numeric max + 1 onwards, or those of an interrupted run being resumed. */
export function plannedNames(req: Pick<AddWorkersRequest, 'config' | 'amount' | 'resumeNames'>, existing: string[]): string[] {
  return req.resumeNames?.length ? req.resumeNames.slice(0, req.amount) : nextNames(req.config.clusterName, 'node', existing, req.amount);
}

/** The kubeconfig's API host is the config's load balancer floating IP or DNS name (no lookup needed). */
function ownershipByAddress(c: ClusterConfig, server: string): string | undefined {
  const { host } = hostOf(server);
  if (c.loadbalancer.floatingip && c.loadbalancer.floatingip === host) return `API endpoint ${host} is the configured floating IP`;
  if (c.loadbalancer.dnsname && c.loadbalancer.dnsname === host) return `API endpoint ${host} is the configured DNS name`;
  return undefined;
}

export function workerLabels(c: ClusterConfig): Record<string, string> {
  return { 'kadd.io/cluster': c.clusterName, 'kadd.io/role': 'node', ...c.nodeLabels };
}

/**
 * The kubeconfig's cluster belongs to this project when its API endpoint is the cluster's load balancer
 * (VIP, floating IP or DNS name from the config), or when a control-plane Node is a server of this project
 * (providerID openstack:///<id> or the exact server name `<cluster>-master-N`).
 */
export async function checkOwnership(c: ClusterConfig, kube: KubeApi, lb: LoadBalancer | null, os: OpenStackClient): Promise<{ ok: boolean; reason: string }> {
  const { host } = hostOf(kube.server());
  if (lb && lb.vip_address === host) return { ok: true, reason: `API endpoint ${host} is the VIP of load balancer ${lb.name}` };
  if (c.loadbalancer.floatingip && c.loadbalancer.floatingip === host) return { ok: true, reason: `API endpoint ${host} is the configured floating IP` };
  if (c.loadbalancer.dnsname && c.loadbalancer.dnsname === host) return { ok: true, reason: `API endpoint ${host} is the configured DNS name` };
  try {
    const cps = await kube.listNodes('node-role.kubernetes.io/control-plane');
    const masters = await os.compute.listServers({ name: roleNamePattern(c.clusterName, 'master') });
    const ids = new Set(masters.map((s) => s.id));
    const names = new Set(masters.map((s) => s.name));
    for (const n of cps) {
      const pid = n.providerID?.replace(/^openstack:\/\/\/?(?:[^/]*\/)?/, '');
      if (pid && ids.has(pid)) return { ok: true, reason: `control-plane node ${n.name} is server ${pid} of this project` };
      if (names.has(n.name)) return { ok: true, reason: `control-plane node ${n.name} is a server of this project` };
    }
    return {
      ok: false,
      reason: `the kubeconfig's API server ${host} is neither load balancer ${c.loadbalancer.name}${lb ? ` (VIP ${lb.vip_address})` : ' (not found)'} nor served by a master of cluster ${c.clusterName} in this project`,
    };
  } catch (e) {
    return { ok: false, reason: `could not check ownership: ${e instanceof Error ? e.message : String(e)}` };
  }
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
    portTagsOnCreate: !!o.neutronExtensions?.includes('tag-creation'),
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

// ------------------------------------------------------------------------------------------------
// execute

interface NodeState {
  plan: PlannedNode;
  zone?: string;
  attempts: number;
  portId?: string;
  volumeId?: string;
  serverId?: string;
  ip?: string;
  outcome?: NodeOutcome;
  cause?: string;
  diagnosis?: Diagnosis;
  registered?: boolean;
}

export async function ensureNetwork(ctx: Context, os: OpenStackClient, p: AddWorkersPlan, ledger: Ledger): Promise<{ networkId: string; subnetId: string; sgId: string }> {
  const io = ctx.io;
  const skip = (what: string, name: string) => io.log('info', `${what} [${name}] already exists, skipping`);
  let networkId = p.network.id;
  if (p.network.action === 'exists') skip('network', p.network.name);
  else {
    networkId = (await ledger.createShared({ kind: 'network', name: p.network.name }, () => os.network.createNetwork({ name: p.network.name, admin_state_up: true }))).id;
    io.log('info', `network [${p.network.name}] created`);
  }
  let subnetId = p.subnet.id;
  if (p.subnet.action === 'exists') skip('subnet', p.subnet.name);
  else {
    subnetId = (await ledger.createShared({ kind: 'subnet', name: p.subnet.name }, () => os.network.createSubnet({ name: p.subnet.name, network_id: networkId!, cidr: p.subnet.cidr, ip_version: 4 }))).id;
    io.log('info', `subnet [${p.subnet.name}] created (${p.subnet.cidr})`);
  }
  if (p.router.action === 'exists') skip('router', p.router.name);
  else {
    const ext = (await os.network.listExternalNetworks())[0];
    await ledger.createShared({ kind: 'router', name: p.router.name }, async () => {
      const r = await os.network.createRouter({ name: p.router.name, ...(ext ? { external_gateway_info: { network_id: ext.id } } : {}) });
      await os.network.addRouterInterface(r.id, subnetId!);
      return r;
    });
    io.log('info', `router [${p.router.name}] created${ext ? ` with gateway ${ext.name}` : ' (no external network found)'}`);
  }
  let sgId = p.securityGroup.id;
  if (p.securityGroup.action === 'exists') skip('security group', p.securityGroup.name);
  else {
    sgId = (await ledger.createShared({ kind: 'security-group', name: p.securityGroup.name }, () => os.network.createSecurityGroup({ name: p.securityGroup.name, description: `kadd: cluster ${p.cluster}` }))).id;
    io.log('info', `security group [${p.securityGroup.name}] created`);
  }
  return { networkId: networkId!, subnetId: subnetId!, sgId: sgId! };
}

export function firstIp(s: Server): string | undefined {
  for (const addrs of Object.values(s.addresses ?? {})) {
    const v4 = addrs.find((a) => a.version === 4) ?? addrs[0];
    if (v4) return v4.addr;
  }
  return undefined;
}

export async function execute(ctx: Context, req: AddWorkersRequest, p: AddWorkersPlan, os: OpenStackClient, kube: KubeApi, deps: AddWorkersDeps): Promise<AddWorkersResult> {
  const started = ctx.clock.now();
  const io = ctx.io;
  const c = req.config;
  const signal = ctx.signal;
  const ledger = deps.ledger;
  // the first Ctrl-C starts the rollback: the reapers' waits are not stopped by it
  const reapers = new Reapers({ io, clock: ctx.clock, os, kube, cluster: c.clusterName, pollIntervalMs: req.pollIntervalMs });
  const md = ownershipMetadata(c.clusterName, 'node');
  const tags = ownershipTags(c.clusterName, 'node');

  const { networkId, subnetId, sgId } = await ensureNetwork(ctx, os, p, ledger);
  const caHash = p.caCertHash ?? deps.caCertHash(await kube.clusterCaPem());

  // one bootstrap token per run (the lease: short TTL, extended on every poll tick while nodes still boot
  // -- a node only uses it after ACTIVE --, deleted at the end), plus the interrupted run's when resuming
  const lease = await TokenLease.create({ ledger, kube, clock: ctx.clock, io, ttlSeconds: req.tokenTtlSeconds, description: `kadd add --role node for ${c.clusterName}` });
  const token = lease.token;
  await lease.adopt(req.adoptTokenIds ?? []);
  const keepToken = () => lease.keepAlive();

  const states: NodeState[] = p.nodes.map((n) => ({ plan: n, zone: n.zone, attempts: 0, portId: n.adopt.portId, volumeId: n.adopt.volumeId, serverId: n.adopt.serverId }));
  const lines = new Map(states.map((s) => [s.plan.name, io.progress(s.plan.name, 'waiting')]));
  const say = (s: NodeState, text: string, budgetMs?: number) => lines.get(s.plan.name)!.update(text, { budgetMs });
  io.log('info', `creating ${states.length} server${states.length === 1 ? '' : 's'}, then waiting for ${states.length === 1 ? 'it' : 'them'} to boot (up to ${Math.round(req.bootTimeoutMs / 1000)}s)${req.wait ? ` and join (up to ${Math.round(req.joinTimeoutMs / 1000)}s)` : ''}`);

  // Adaptive polling. A boot volume is often available within a second of its create: first check after half
  // the poll interval. A server needs a few seconds at least: first check after the poll interval. Both back
  // off while nothing changes; when a status changes (a volume or server of the batch is done) the cadence
  // drops to half the interval, since the rest of the batch, created at the same time, usually follows.
  // Task states do not count as progress: on a loaded or real cloud they move through the whole build and
  // would keep the cadence short for all of it (measured: more polls, no earlier ACTIVE).
  const fastMs = Math.max(1, Math.round(req.pollIntervalMs / 2));
  const volumeWaiter = new BatchWaiter<Volume>({
    what: 'volume available',
    clock: ctx.clock, signal, intervalMs: fastMs, maxIntervalMs: req.maxPollIntervalMs,
    progressOf: (v) => v.status,
    fetch: async (ids) => {
      const vols = await os.volume.listVolumes({ metadata: { 'kadd-cluster': c.clusterName } });
      return new Map(vols.filter((v) => ids.includes(v.id)).map((v) => [v.id, v]));
    },
    check: (id, v) => {
      if (!v) return { state: 'pending', note: 'not listed yet' };
      if (v.status === 'available') return { state: 'done', value: v };
      if (v.status === 'error') return { state: 'failed', error: new VolumeErrorState(v) };
      return { state: 'pending', note: v.status };
    },
    onTick: keepToken,
    onFetchError: (e) => io.log('warn', `polling volumes failed, will retry: ${e instanceof Error ? e.message : e}`),
  });

  const nameTaken = new Map<string, Server>();
  // only this run's servers: changes-since a moment before the run (5 min of slack for the local clock
  // against the cloud's); if a server we wait for is missing from two lists in a row (a clock far ahead),
  // the filter is dropped for the rest of the run
  let changesSince: string | undefined = new Date(started - 300_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  let missedTicks = 0;
  const serverWaiter = new BatchWaiter<Server>({
    what: 'server ACTIVE',
    clock: ctx.clock, signal, intervalMs: fastMs, firstIntervalMs: req.pollIntervalMs, maxIntervalMs: req.maxPollIntervalMs,
    progressOf: (s) => s.status,
    fetch: async (ids) => {
      // One call for the whole batch. The filter is the role's name pattern, not an alternation of the
      // pending names: Nova on MySQL/MariaDB escapes `|` in the name regex, so `^(a|b)$` matches nothing.
      const list = await os.compute.listServers({ name: roleNamePattern(c.clusterName, 'node'), changesSince });
      const mine = list.filter((s) => ids.includes(s.id));
      // the same list shows a server that took one of our names after the preflight (13.8): no extra request
      // (a rival created after the run started is inside the changes-since window too)
      for (const s of mine) {
        const rival = nameClaimRival(s, list);
        if (rival) nameTaken.set(s.id, rival);
      }
      const found = new Map(mine.map((s) => [s.id, s]));
      if (changesSince && found.size < ids.length) {
        if (++missedTicks >= 2) {
          io.log('debug', `servers missing from the changes-since=${changesSince} list: polling without it`);
          changesSince = undefined;
        }
      } else missedTicks = 0;
      return found;
    },
    check: (id, s) => {
      const rival = nameTaken.get(id);
      if (rival) {
        return { state: 'failed', error: new OperationError('E_NAME_TAKEN', `server name ${rival.name} was taken by another server (${rival.id}, created ${rival.created ?? '?'}) after the preflight; this node is rolled back instead of becoming a duplicate`, { hint: 'another kadd, or someone by hand, is adding servers to this cluster; run kadd add again for the missing node' }) };
      }
      if (!s) return { state: 'pending', note: 'not listed yet' };
      if (s.status === 'ACTIVE') return { state: 'done', value: s };
      if (s.status === 'ERROR') return { state: 'failed', error: new ServerErrorState(s) };
      return { state: 'pending', note: s.status };
    },
    onObserve: (id, s) => {
      const st = states.find((x) => x.serverId === id);
      if (st && s && s.status !== 'ACTIVE') say(st, `server ${s.status}${s['OS-EXT-STS:task_state'] ? ` (${s['OS-EXT-STS:task_state']})` : ''}`);
    },
    onTick: keepToken,
    onFetchError: (e) => io.log('warn', `polling servers failed, will retry: ${e instanceof Error ? e.message : e}`),
  });

  const nodeWaiter = new BatchWaiter<KNode>({
    what: 'Node Ready',
    clock: ctx.clock, signal, intervalMs: req.pollIntervalMs, maxIntervalMs: req.maxPollIntervalMs,
    fetch: async (names) => {
      const nodes = await kube.listNodes();
      return new Map(nodes.filter((n) => names.includes(n.name)).map((n) => [n.name, n]));
    },
    check: (name, n) => {
      if (!n) return { state: 'pending', note: 'not registered' };
      const st = states.find((x) => x.plan.name === name);
      if (st) st.registered = true;
      return n.ready ? { state: 'done', value: n } : { state: 'pending', note: 'NotReady' };
    },
    onObserve: (name, n) => {
      const st = states.find((x) => x.plan.name === name);
      if (st && n && !n.ready) say(st, 'Node registered, NotReady');
    },
    onTick: keepToken,
    onFetchError: (e) => io.log('warn', `polling Nodes failed, will retry: ${e instanceof Error ? e.message : e}`),
  });

  const slots = new Semaphore(req.concurrency);

  async function createOnce(s: NodeState): Promise<Server> {
    const n = s.plan;
    s.attempts++;
    if (s.attempts === 1) {
      // resources adopted from an interrupted run now belong to this run's journal
      if (n.adopt.portId) await ledger.adopt({ kind: 'port', name: n.portName, node: n.name, id: n.adopt.portId });
      if (n.adopt.volumeId) await ledger.adopt({ kind: 'volume', name: n.volumeName, node: n.name, id: n.adopt.volumeId });
      if (n.adopt.serverId) await ledger.adopt({ kind: 'server', name: n.name, node: n.name, id: n.adopt.serverId });
    }
    // the port and the boot volume do not need each other: both at once; the server create waits for both.
    // allSettled, not all: a failure of one must not start the rollback while the other is still being made
    const made = await Promise.allSettled([createPort(s), s.serverId ? Promise.resolve() : createVolume(s).then(() => volumeReady(s))]);
    for (const m of made) if (m.status === 'rejected') throw m.reason;
    return createServer(s);
  }

  async function createPort(s: NodeState): Promise<void> {
    const n = s.plan;
    if (!s.portId) {
      say(s, 'creating port');
      const port = await ledger.create({ kind: 'port', name: n.portName, node: n.name, details: { network: networkId } }, () => slots.use(() => os.network.createPort({
        name: n.portName, network_id: networkId, fixed_ips: [{ subnet_id: subnetId }], security_groups: [sgId], description: kaddPortDescription(c.clusterName, n.name),
        ...(p.portTagsOnCreate ? { tags } : {}),
      })));
      s.portId = port.id;
      if (!p.portTagsOnCreate) os.network.setPortTags(port.id, tags).catch((e) => io.log('debug', `tagging port ${n.portName}: ${e instanceof Error ? e.message : e}`));
    }
  }

  async function createVolume(s: NodeState): Promise<void> {
    const n = s.plan;
    if (!s.serverId && !s.volumeId) {
      say(s, 'creating volume');
      const v = await ledger.create({ kind: 'volume', name: n.volumeName, node: n.name, details: { size: p.volumeSize, zone: s.zone } }, () => slots.use(() => os.volume.createVolume({
        name: n.volumeName, size: p.volumeSize, imageRef: p.image.id, availability_zone: s.zone,
        ...(p.volumeType ? { volume_type: p.volumeType } : {}), metadata: { ...md, 'kadd-server': n.name },
      })));
      s.volumeId = v.id;
    }
  }

  async function volumeReady(s: NodeState): Promise<void> {
    const n = s.plan;
    say(s, 'volume creating');
    if (n.adopt.volumeId && s.volumeId === n.adopt.volumeId) {
      // an adopted boot volume may still be held by the interrupted run's server, deleted early in its
      // build: free it from attachments whose server is gone before waiting for it to be available
      const v = await os.volume.getVolume(s.volumeId);
      if (v && ['reserved', 'attaching', 'in-use'].includes(v.status)) {
        for (const a of await staleAttachments(os, s.volumeId)) await os.volume.deleteAttachment(a.id);
      }
    }
    await volumeWaiter.wait(s.volumeId!, req.volumeTimeoutMs);
  }

  async function createServer(s: NodeState): Promise<Server> {
    const n = s.plan;
    if (!s.serverId) {
      if (signal.aborted) throw new OperationError('E_INTERRUPTED', 'interrupted');
      say(s, 'creating server');
      const userData = await deps.renderUserData({
        nodeName: n.name, clusterName: c.clusterName, apiEndpoint: p.apiEndpoint, token: { id: token.id, secret: token.secret },
        caCertHash: caHash, k8sVersion: p.k8sVersion, labels: workerLabels(c), taints: c.nodeTaints,
      });
      const created = await ledger.create({ kind: 'server', name: n.name, node: n.name, details: { zone: s.zone, flavor: n.flavor.name } }, () => slots.use(() => os.compute.createServer({
        name: n.name, flavorRef: n.flavor.id, availability_zone: s.zone, key_name: p.keypair,
        networks: [{ port: s.portId! }],
        block_device_mapping_v2: [{ boot_index: 0, uuid: s.volumeId!, source_type: 'volume', destination_type: 'volume', delete_on_termination: true }],
        user_data: userData, metadata: { ...md }, tags,
        ...(p.serverGroup ? { 'OS-SCH-HNT:scheduler_hints': { group: p.serverGroup.id } } : {}),
      })));
      s.serverId = created.id;
    }
    say(s, 'server BUILD', req.bootTimeoutMs);
    return serverWaiter.wait(s.serverId!, req.bootTimeoutMs);
  }

  /** delete what this node holds, through the reapers (Node -> server -> volume -> port), waited until gone */
  async function rollback(s: NodeState, why: string): Promise<void> {
    const r = await ledger.teardown(s.plan.name, reapers, { readyNode: 'delete' });
    s.serverId = s.volumeId = s.portId = undefined;
    for (const x of r.left) io.log('warn', `could not delete ${describeReaped(x)}`);
    if (r.left.length) s.cause = `${s.cause ?? why}; left behind: ${r.left.map(describeReaped).join(', ')}`;
    io.log('debug', `rolled back ${s.plan.name}: ${why}`);
  }

  async function runNode(s: NodeState): Promise<void> {
    const n = s.plan;
    let server: Server | undefined;
    for (;;) {
      try {
        server = await createOnce(s);
        break;
      } catch (e) {
        // Nova returns `fault` on GET /servers/{id} only, not in lists
        if (e instanceof ServerErrorState && !e.server.fault) {
          const full = await os.compute.getServer(e.server.id).catch(() => null);
          if (full?.fault) e.server.fault = full.fault;
        }
        // a quota fault (Nova's conductor re-checks quota when creates race) comes back on a retry: fail now
        const quotaFault = e instanceof ServerErrorState && diagnose({ fault: e.server.fault }).cause === 'quota';
        if (signal.aborted || !(e instanceof ServerErrorState) || s.attempts >= 2 || quotaFault) {
          if (e instanceof ServerErrorState) {
            s.diagnosis = groupDiagnosis(diagnose({ fault: e.server.fault, status: 'ERROR', flavor: n.flavor }), p.serverGroup);
            s.cause = quotaFault
              ? `server went to ERROR over quota (not retried): ${e.server.fault?.message ?? 'no fault message'}`
              : `server went to ERROR twice: ${e.server.fault?.message ?? 'no fault message'}`;
          } else if (e instanceof VolumeErrorState && !signal.aborted) {
            const messages = await os.volume.listMessages(e.volume.id).catch((err: unknown) => {
              io.log('debug', `reading Cinder's messages about ${e.volume.id}: ${err instanceof Error ? err.message : err}`);
              return [];
            });
            s.diagnosis = diagnoseVolume({ name: n.volumeName, id: e.volume.id, zone: s.zone, type: p.volumeType }, messages);
            s.cause = `boot volume ${n.volumeName} went to error${messages.length ? `: ${messages.at(-1)!.user_message}` : ''}`;
          } else if (!signal.aborted) {
            s.cause = e instanceof Error ? e.message : String(e);
          }
          throw e;
        }
        // ERROR: show the fault, delete server/volume/port, retry once (another zone when several are configured)
        const fault = e.server.fault?.message ?? 'no fault message';
        io.log('warn', `${n.name}: server went to ERROR: ${fault}; deleting it and retrying${retryZone(s.zone, req.zone, p.zones) !== s.zone ? ` in zone ${retryZone(s.zone, req.zone, p.zones)}` : ''}`);
        say(s, `ERROR (${fault}), retrying`);
        await rollback(s, `server ERROR: ${fault}`);
        s.cause = undefined;
        s.zone = retryZone(s.zone, req.zone, p.zones);
      }
    }
    s.ip = firstIp(server);
    if (!req.wait) {
      s.outcome = 'active';
      lines.get(n.name)!.succeed(`ACTIVE ${s.ip ?? ''}`.trim());
      return;
    }
    say(s, 'ACTIVE, waiting for the Node to join', req.joinTimeoutMs);
    try {
      await nodeWaiter.wait(n.name, req.joinTimeoutMs);
    } catch (e) {
      if (e instanceof TimeoutError) {
        const consoleText = await os.compute.getConsoleOutput(s.serverId!, 200).catch(() => '');
        s.diagnosis = diagnose({ console: consoleText });
        s.cause = `did not join within ${Math.round(req.joinTimeoutMs / 1000)}s: ${s.diagnosis.summary}`;
      }
      throw e;
    }
    s.outcome = 'joined';
    lines.get(n.name)!.succeed(`Node Ready (${s.ip ?? 'no ip'})`);
  }

  // every node runs at once (waiting is one list call per tick for all of them); --concurrency caps the
  // create requests in flight, so a batch of 50 takes about as long as one
  await Promise.all(states.map(async (s) => {
    if (signal.aborted) {
      s.outcome = 'interrupted';
      return;
    }
    try {
      await runNode(s);
    } catch (e) {
      s.outcome = signal.aborted ? 'interrupted' : 'failed';
      if (!s.cause && !signal.aborted) s.cause = e instanceof Error ? e.message : String(e);
      if (req.keepFailed) {
        s.outcome = 'kept';
        lines.get(s.plan.name)!.warn(`kept for inspection: ${s.cause ?? 'interrupted'}`);
      } else {
        lines.get(s.plan.name)!.update('rolling back');
        await rollback(s, s.cause ?? 'interrupted');
        lines.get(s.plan.name)!.fail(s.outcome === 'interrupted' ? 'interrupted, rolled back' : s.cause ?? 'failed');
        s.outcome = s.outcome === 'interrupted' ? 'interrupted' : 'rolled-back';
      }
    }
  }));

  // token: deleted at the end, whatever happened -- except with --no-wait, where nodes that are ACTIVE
  // have not run kubeadm join yet: the token then stays until its (short) expiry so they can still join
  const stillJoining = !req.wait && states.some((s) => s.outcome === 'active');
  if (stillJoining) await lease.leave();
  else await lease.release(reapers);

  const ok = states.filter((s) => s.outcome === 'joined' || s.outcome === 'active');
  // nodes that joined stay even when the run as a whole ends failed (partial success): not leftovers
  for (const s of ok) await ledger.keep(s.plan.name);
  let updatedConfig: string | undefined;
  if (ok.length > 0) updatedConfig = await deps.writeConfig(ok.length);

  return {
    cluster: c.clusterName,
    requested: states.length,
    added: ok.length,
    interrupted: signal.aborted,
    updatedConfig,
    durationMs: ctx.clock.now() - started,
    nodes: states.map((s) => ({
      name: s.plan.name, zone: s.zone, flavor: s.plan.flavor.name, outcome: s.outcome ?? 'failed', serverId: s.serverId, ip: s.ip,
      attempts: s.attempts, cause: s.cause, diagnosis: s.diagnosis,
      left: s.outcome === 'kept' ? [s.serverId && `server ${s.serverId}`, s.volumeId && `volume ${s.volumeId}`, s.portId && `port ${s.portId}`].filter(Boolean) as string[] : undefined,
    })),
  };
}

export class VolumeErrorState extends OperationError {
  constructor(readonly volume: Volume) {
    super('E_VOLUME_ERROR', `volume ${volume.name ?? volume.id} went to error`);
  }
}

export class ServerErrorState extends Error {
  constructor(readonly server: Server) {
    super(`server ${server.name} went to ERROR: ${server.fault?.message ?? 'no fault message'}`);
  }
}
