/**
 * kadd add --role master (design.md section 4): one control-plane node per run, etcd-aware.
 *
 *   preflight(ctx, req, os, kube, etcd) -> MasterObserved   (read-only I/O; etcd through the adder or SSH)
 *   planMaster(req, observed)           -> AddMasterPlan    (pure: quorum projection, stale members, quota)
 *   executeMaster(ctx, req, plan, ...)  -> AddMasterResult  (journaled; rolled back on any failure)
 *
 * Order of the change: snapshot -> (--fix-stale removals, one at a time, each behind a quorum check) ->
 * fresh add verdict -> certificate key upload + bootstrap token -> port, volume, server -> watch
 * (ACTIVE, Node registered, etcd member present, promoted, all healthy, Node Ready) -> load balancer pool
 * member -> cfg.updated.yml. Rollback removes the new etcd member FIRST (through a surviving member,
 * quorum re-checked), then the Node, server, volume, port, pool member; the token always goes.
 */
import { kaddPortDescription } from '../openstack/network.js';
import type { Context } from '../context.js';
import type { ClusterConfig } from '../config/types.js';
import type { Listener, OpenStackClient, Pool, Server, ServerGroup, Volume } from '../openstack/types.js';
import type { BootstrapToken, KNode, KubeApi } from '../kube/types.js';
import { parseDurationMs } from '../duration.js';
import { isControlPlane } from '../kube/labels.js';
import type { Transport } from '../etcd/types.js';
import type { Etcdctl, SnapshotResult } from '../etcd/etcdctl.js';
import { projectAdd, projectRemove, type ClusterView, type Projection, type Verdict } from '../etcd/quorum.js';
import { InterruptedError, KaddError, OperationError, PreflightError, UsageError } from '../errors.js';
import { registerSecret } from '../redact.js';
import { shellJoin } from '../shell.js';
import { exactNamePattern, nameClaimRival, nextNames, ownershipMetadata, ownershipTags, portName, roleNamePattern, volumeName } from './naming.js';
import { pollUntil, TimeoutError, type Verdict as WaitVerdict } from './poll.js';
import { diagnose, formatDiagnosis, type Diagnosis } from './diagnose.js';
import { apiEndpointOf, checkOwnership, firstIp, type QuotaRow } from './add-workers.js';
import { groupDiagnosis, observeCloud, serverBlockers, serverGroupCheck, settle, type CloudLookups } from './observe.js';
import type { LeftoverResource } from '../journal/index.js';
import { findStale, memberMatches, memberTable, withoutMembers, type EtcdAccess, type MemberRow, type StaleMember } from './master-etcd.js';
import { Ledger, describeLeftover, describeReaped, ownedBy, type LedgerJournal } from './engine/ledger.js';
import { Reapers } from './engine/reapers.js';
import { TokenLease } from './engine/token.js';
import { cleanupLeftovers } from './cleanup.js';

export const STAGES = ['active', 'registered', 'member', 'promoted', 'healthy', 'ready'] as const;
export type Stage = (typeof STAGES)[number];
export type StageTimeouts = Record<Stage, number>;

export const STAGE_TEXT: Record<Stage, string> = {
  active: 'server ACTIVE',
  registered: 'Node registered',
  member: 'etcd member present',
  promoted: 'etcd member promoted',
  healthy: 'every etcd member healthy',
  ready: 'Node Ready',
};

/** ms */
export const DEFAULT_STAGE_TIMEOUTS: StageTimeouts = {
  active: 600_000, registered: 900_000, member: 300_000, promoted: 300_000, healthy: 180_000, ready: 600_000,
};

export const API_PORT = 6443;

export interface AddMasterRequest {
  config: ClusterConfig;
  zone?: string;
  flavor?: string;
  snapshot: boolean;
  fixStale: boolean;
  keepFailed: boolean;
  timeouts: StageTimeouts;
  volumeTimeoutMs: number;
  /** bootstrap token TTL, seconds (extended while the server boots) */
  tokenTtlSeconds: number;
  pollIntervalMs: number;
  maxPollIntervalMs: number;
  /** how etcd is reached (for messages; default kube) */
  via?: 'kube' | 'ssh';
  /** the cluster file as given on the command line (for the command lines kadd suggests) */
  configArg?: string;
  /** names the new master must not take although no server has them now (kadd replace: the master it replaces) */
  reservedNames?: string[];
}

/** The cloud lookups of the shared preflight (lib/ops/observe.ts), plus what only a master add reads. */
export interface MasterObserved extends Pick<CloudLookups,
  'flavors' | 'image' | 'keypair' | 'zones' | 'volumeTypes' | 'network' | 'subnet' | 'securityGroup' | 'novaLimits' | 'cinderLimits' | 'neutronQuota' | 'volumes' | 'ports' | 'lb'> {
  /** the master servers (`<cluster>-master-N`) */
  masters: Server[];
  listeners: Listener[];
  pools: Pool[];
  /** null: no server_group configured, or not found */
  serverGroup?: ServerGroup | null;
  serverGroupFailed?: boolean;
  kube: { ok: boolean; version?: string; error?: string; server: string };
  ownership: { ok: boolean; reason: string };
  nodes: KNode[];
  featureGates?: Record<string, boolean>;
  etcd: { view: ClusterView; transport: string; nodeName: string } | { error: string };
  /** formats an etcdctl command an operator can paste (from the Etcdctl in use) */
  formatCommand?: (args: string[]) => string;
  errors: string[];
}

export interface AddMasterPlan {
  cluster: string;
  name: string;
  zone?: string;
  flavor: { id: string; name: string; vcpus: number; ram: number };
  image: { id: string; name: string };
  keypair: string;
  volumeName: string;
  portName: string;
  volumeSize: number;
  volumeType?: string;
  k8sVersion: string;
  apiEndpoint: string;
  network: { id: string; name: string };
  subnet: { id: string; name: string };
  securityGroup: { id: string; name: string };
  /** the `server_group` the master is put in (scheduler hint), with its policy and member count now */
  serverGroup?: { id: string; name: string; policy: string; members: number };
  lb?: { id: string; name: string; poolId: string; poolName: string; subnetId?: string };
  etcd: { via: string; nodeName: string; members: MemberRow[]; projection?: Projection };
  stale: (StaleMember & { fix: string })[];
  fixStale: boolean;
  /** n-masters written on success: max(config, masters found) + 1 */
  mastersAfter: number;
  snapshot: boolean;
  /** per-stage deadlines, ms (--timeout): what each watch waits at most */
  timeouts: StageTimeouts;
  featureGates?: Record<string, boolean>;
  adopt: { portId?: string; volumeId?: string };
  quota: QuotaRow[];
  warnings: string[];
  blockers: string[];
}

export interface AddMasterResult {
  cluster: string;
  name: string;
  serverId: string;
  ip: string;
  zone?: string;
  flavor: string;
  memberId: string;
  snapshot?: SnapshotResult;
  removedStale: string[];
  lbMember?: string;
  updatedConfig?: string;
  members: MemberRow[];
  durationMs: number;
}

export interface MasterUserDataInput {
  clusterName: string;
  nodeName: string;
  apiEndpoint: string;
  token: { id: string; secret: string };
  caCertHash: string;
  k8sVersion: string;
  certificateKey: string;
  advertiseAddress?: string;
  clusterFeatureGates?: Record<string, boolean>;
  labels?: Record<string, string>;
}

export interface AddMasterDeps {
  /** the operation's journal (begin() called); execute keeps its ledger on it */
  journal: LedgerJournal;
  caCertHash: (pem: string) => string;
  /** lib/cloudinit renderMasterUserData */
  renderUserData: (input: MasterUserDataInput) => Promise<{ text: string; base64: string; encoding: 'plain' | 'gzip'; base64Length: number; learnerMode?: boolean }>;
  /** lib/etcd generateCertificateKey (registers it as a secret) */
  certificateKey: () => string;
  /** lib/etcd kubeadmUploadCerts */
  uploadCerts: (transport: Transport, key: string) => Promise<void>;
  /** writes cfg.updated.yml with n-masters = value; returns the path */
  writeConfig: (nMasters: number) => Promise<string>;
}

// ------------------------------------------------------------------------------------------------
// request validation (pure, exit 2)

export function validateMasterRequest(req: AddMasterRequest): void {
  if (req.zone !== undefined && req.zone.trim() === '') throw new UsageError('--zone must not be empty; omit it to use the first configured availability zone');
  if (req.flavor !== undefined && req.flavor.trim() === '') throw new UsageError('--flavor must not be empty; omit it to use master_flavor from the cluster file');
  for (const s of STAGES) {
    const t = req.timeouts[s];
    if (!Number.isFinite(t) || t <= 0) throw new UsageError(`--timeout for stage ${s} must be a positive number of seconds`);
  }
  if (req.tokenTtlSeconds < 300) throw new UsageError('--token-ttl must be at least 300 seconds');
}

/** `--timeout 600` (every stage) or `--timeout active=600,ready=900` (seconds); returns ms per stage. */
export function parseStageTimeouts(v: string | number | undefined, base: StageTimeouts = DEFAULT_STAGE_TIMEOUTS): StageTimeouts {
  const out = { ...base };
  if (v === undefined || v === '') return out;
  const secs = (x: string, what: string) => {
    const ms = parseDurationMs(x);
    if (ms === undefined || !(ms > 0)) throw new UsageError(`--timeout ${what}: "${x}" is not a positive number of seconds or a duration (90s, 5m, 1h)`);
    return ms;
  };
  const s = String(v).trim();
  if (!s.includes('=')) {
    const ms = secs(s, 'value');
    for (const k of STAGES) out[k] = ms;
    return out;
  }
  for (const part of s.split(',')) {
    const [k, val] = part.split('=').map((x) => x.trim());
    if (!STAGES.includes(k as Stage)) throw new UsageError(`--timeout: unknown stage "${k}"; stages are ${STAGES.join(', ')}`);
    out[k as Stage] = secs(val ?? '', k!);
  }
  return out;
}

// ------------------------------------------------------------------------------------------------
// preflight (read-only)

export async function preflight(ctx: Context, req: AddMasterRequest, os: OpenStackClient, kube: KubeApi, etcd: Pick<EtcdAccess, 'etcdctl' | 'nodeName'> | { error: string }): Promise<MasterObserved> {
  const c = req.config;
  const errors: string[] = [];
  const cl = await observeCloud(os, c, 'master', errors, { lbRequired: true });
  const lb = cl.lb;
  const [listeners, pools] = await Promise.all([
    lb ? settle(os.loadbalancer.listListeners({ loadbalancer_id: lb.id }), errors, 'listing listeners') : Promise.resolve(null),
    lb ? settle(os.loadbalancer.listPools({ loadbalancer_id: lb.id }), errors, 'listing pools') : Promise.resolve(null),
  ]);


  const kubeInfo: MasterObserved['kube'] = { ok: false, server: kube.server() };
  let nodes: KNode[] = [];
  let featureGates: Record<string, boolean> | undefined;
  try {
    kubeInfo.version = (await kube.serverVersion()).gitVersion;
    kubeInfo.ok = true;
    nodes = await kube.listNodes();
    const cc = await kube.getClusterConfiguration();
    const fg = (cc as { featureGates?: Record<string, unknown> } | null)?.featureGates;
    if (fg && typeof fg === 'object') featureGates = Object.fromEntries(Object.entries(fg).filter(([, v]) => typeof v === 'boolean')) as Record<string, boolean>;
  } catch (e) {
    kubeInfo.error = e instanceof Error ? e.message : String(e);
  }
  const ownership = kubeInfo.ok ? await checkOwnership(c, kube, lb, os) : { ok: false, reason: 'the Kubernetes API did not answer' };

  let etcdObs: MasterObserved['etcd'];
  let formatCommand: ((args: string[]) => string) | undefined;
  if ('error' in etcd) etcdObs = { error: etcd.error };
  else {
    formatCommand = etcd.etcdctl.formatCommand;
    try {
      etcdObs = { view: await etcd.etcdctl.view(), transport: etcd.etcdctl.transport.describe, nodeName: etcd.nodeName };
    } catch (e) {
      etcdObs = { error: e instanceof Error ? e.message : String(e) };
    }
  }
  return {
    flavors: cl.flavors, image: cl.image, keypair: cl.keypair, zones: cl.zones, volumeTypes: cl.volumeTypes, network: cl.network,
    subnet: cl.subnet, securityGroup: cl.securityGroup, novaLimits: cl.novaLimits, cinderLimits: cl.cinderLimits,
    neutronQuota: cl.neutronQuota, masters: cl.servers, volumes: cl.volumes, ports: cl.ports, lb, listeners: listeners ?? [], pools: pools ?? [],
    serverGroup: cl.serverGroup, serverGroupFailed: cl.serverGroupFailed,
    kube: kubeInfo, ownership, nodes, featureGates, etcd: etcdObs, formatCommand, errors,
  };
}

// ------------------------------------------------------------------------------------------------
// plan (pure)

/** The API listener (port 6443, koris `master-listener-<cluster>`) and its pool (`master-pool-<cluster>`). Pure. */
export function findApiPool(cluster: string, listeners: Listener[], pools: Pool[]): { listener?: Listener; pool?: Pool } {
  const listener = listeners.find((l) => l.name === `master-listener-${cluster}`) ?? listeners.find((l) => l.protocol_port === API_PORT);
  const pool =
    (listener?.default_pool_id ? pools.find((p) => p.id === listener.default_pool_id) : undefined) ??
    pools.find((p) => p.name === `master-pool-${cluster}`) ??
    (listener ? pools.find((p) => p.listeners?.some((l) => l.id === listener.id)) : undefined);
  return { listener, pool };
}

export function planMaster(req: AddMasterRequest, o: MasterObserved): AddMasterPlan {
  const c = req.config;
  const blockers = [...o.errors];
  const warnings: string[] = [];
  const fmt = o.formatCommand ?? ((a: string[]) => ['etcdctl', ...a].join(' '));

  const flavorName = req.flavor ?? c.masterFlavor;
  const zone = req.zone ?? pickZone(c.availabilityZones, o.masters);
  const sb = serverBlockers(c, o, { flavorName, flavorKey: 'master_flavor', explicitFlavor: !!req.flavor, zones: [zone] });
  const flavor = sb.flavor;
  blockers.push(...sb.blockers);
  if (!o.network) blockers.push(`network ${c.privateNet.name} not found: a cluster with masters must already have it (private_net.name)`);
  else if (!o.subnet) blockers.push(`subnet ${c.privateNet.subnet.name} not found in network ${c.privateNet.name}`);
  if (!o.securityGroup) blockers.push(`security group ${c.securityGroup} not found`);

  // the API load balancer and its pool
  let lb: AddMasterPlan['lb'];
  if (!o.lb) blockers.push(`load balancer ${c.loadbalancer.name} not found (loadbalancer.name); the new master could not be added to the API pool`);
  else {
    const { listener, pool } = findApiPool(c.clusterName, o.listeners, o.pools);
    if (!pool) blockers.push(`load balancer ${o.lb.name} has no pool for the API (listener on port ${API_PORT} / master-pool-${c.clusterName})${listener ? ` (listener ${listener.name} has no default pool)` : ''}`);
    else lb = { id: o.lb.id, name: o.lb.name, poolId: pool.id, poolName: pool.name, subnetId: o.lb.vip_subnet_id ?? o.subnet?.id };
  }

  // Kubernetes
  if (!o.kube.ok) {
    blockers.push(apiUnreachableMessage({
      server: o.kube.server, error: o.kube.error, via: req.via ?? 'kube', ssh: c.ssh, configArg: req.configArg ?? c.file, zone: req.zone, flavor: req.flavor,
    }));
  }
  else if (!o.ownership.ok) blockers.push(`${o.ownership.reason}; pass the right --kubeconfig/--context`);
  const cps = o.nodes.filter(isControlPlane);
  if (o.kube.ok && cps.length === 0) blockers.push('no control-plane Node found (label node-role.kubernetes.io/control-plane)');
  for (const n of cps) if (!n.ready) blockers.push(`control-plane Node ${n.name} is not Ready: fix or remove it before adding a master`);
  const kv = /^v?(\d+)\.(\d+)/.exec(o.kube.version ?? '');
  const cv = /^v?(\d+)\.(\d+)/.exec(c.version.k8s);
  if (kv && cv && kv[2] !== cv[2]) warnings.push(`version.k8s is ${c.version.k8s} but the API server runs ${o.kube.version}; the new master installs ${c.version.k8s}`);

  // etcd
  let members: MemberRow[] = [];
  let projection: Projection | undefined;
  let stale: AddMasterPlan['stale'] = [];
  if ('error' in o.etcd) blockers.push(`cannot read the etcd member list: ${o.etcd.error}`);
  else {
    const view = o.etcd.view;
    members = memberTable(view);
    stale = findStale(view, o.nodes).map((s) => ({ ...s, fix: fmt(['member', 'remove', s.id]) }));
    const staleIds = stale.map((s) => s.id);
    let verdict: Verdict;
    if (stale.length && req.fixStale) {
      verdict = projectAdd(withoutMembers(view, staleIds), fmt);
      // each removal must itself be quorum-safe, in order, on the view as it will be
      let v = view;
      for (const s of stale) {
        const r = projectRemove(v, s.id, fmt);
        if (!r.allowed) blockers.push(`--fix-stale cannot remove ${s.name || s.id}: ${r.blockers.map((b) => b.message).join('; ')}`);
        v = withoutMembers(v, [s.id]);
      }
      warnings.push(`--fix-stale: ${stale.length} stale etcd member${stale.length > 1 ? 's' : ''} will be removed one at a time after the snapshot`);
    } else {
      verdict = projectAdd(view, fmt);
      if (stale.length) {
        blockers.push(
          `etcd has ${stale.length} stale member${stale.length > 1 ? 's' : ''} left by an earlier failed join: ${stale.map((s) => `${s.name || '(unstarted)'} ${s.id}: ${s.reason}`).join('; ')}. ` +
            `Re-run with --fix-stale to remove ${stale.length > 1 ? 'them one at a time' : 'it'} behind a quorum check, or on a master: ${stale.map((s) => s.fix).join(' ; ')}`,
        );
      }
    }
    projection = verdict.projection;
    for (const b of verdict.blockers) {
      if (!req.fixStale && b.memberId && staleIds.includes(b.memberId)) continue; // already listed above
      blockers.push(`${b.message}${b.fix ? ` (fix: ${b.fix})` : ''}`);
    }
    warnings.push(...verdict.warnings);
  }

  // name, adoption of a port/volume left by an interrupted run
  const name = nextNames(c.clusterName, 'master', [...o.masters.map((s) => s.name), ...cps.map((n) => n.name)], 1, req.reservedNames ?? [])[0]!;
  const port = o.ports.filter((p) => p.name === portName(name));
  const vol = o.volumes.filter((v) => v.name === volumeName(name));
  if (port.length > 1 || vol.length > 1) blockers.push(`several ports or volumes are named after ${name}; delete the duplicates first`);
  // a port or volume found by name is adopted only with kadd's proof for this cluster (13.9)
  const portProof = !port[0] || ownedBy(c.clusterName, name, port[0]);
  const volProof = !vol[0] || ownedBy(c.clusterName, name, vol[0]);
  if (!portProof) blockers.push(`port ${port[0]!.name} exists but carries no proof that kadd created it for cluster ${c.clusterName}; delete it first`);
  if (!volProof) blockers.push(`volume ${vol[0]!.name} exists but carries no kadd-cluster=${c.clusterName} metadata; delete it first`);
  const adopt = {
    portId: port[0] && portProof && !port[0].device_id ? port[0].id : undefined,
    volumeId: vol[0] && volProof && vol[0].status === 'available' ? vol[0].id : undefined,
  };
  if (port[0] && port[0].device_id) blockers.push(`port ${port[0].name} exists and is bound to ${port[0].device_id}; delete it first`);
  if (vol[0] && vol[0].status !== 'available') blockers.push(`volume ${vol[0].name} exists and is ${vol[0].status}; delete it first`);
  if (adopt.portId || adopt.volumeId) warnings.push(`adopting the ${[adopt.portId && 'port', adopt.volumeId && 'volume'].filter(Boolean).join(' and ')} left by an earlier run for ${name}`);

  // quota for one server
  const quota: QuotaRow[] = [];
  const row = (resource: string, need: number, max: number, used: number) => {
    const free = max < 0 ? ('unlimited' as const) : Math.max(0, max - used);
    const ok = free === 'unlimited' || need <= free;
    quota.push({ resource, need, free, ok });
    if (!ok) blockers.push(`quota: ${resource} needs ${need}, only ${free} free`);
  };
  if (o.novaLimits && flavor) {
    const l = o.novaLimits;
    row('instances', 1, l.maxTotalInstances, l.totalInstancesUsed);
    row('cores', flavor.vcpus, l.maxTotalCores, l.totalCoresUsed);
    row('ram (MiB)', flavor.ram, l.maxTotalRAMSize, l.totalRAMUsed);
  }
  if (o.cinderLimits && !adopt.volumeId) {
    row('volumes', 1, o.cinderLimits.maxTotalVolumes, o.cinderLimits.totalVolumesUsed);
    row('gigabytes', c.volumeSize, o.cinderLimits.maxTotalVolumeGigabytes, o.cinderLimits.totalGigabytesUsed);
  }
  if (o.neutronQuota?.port && !adopt.portId) row('ports', 1, o.neutronQuota.port.limit, o.neutronQuota.port.used + (o.neutronQuota.port.reserved ?? 0));
  const sg = serverGroupCheck(c, o, 1);
  blockers.push(...sg.blockers);
  warnings.push(...sg.warnings);

  return {
    cluster: c.clusterName, name, zone,
    flavor: flavor ? { id: flavor.id, name: flavor.name, vcpus: flavor.vcpus, ram: flavor.ram } : { id: '', name: flavorName, vcpus: 0, ram: 0 },
    image: { id: o.image?.id ?? '', name: c.image }, keypair: c.keypair, volumeName: volumeName(name), portName: portName(name),
    volumeSize: c.volumeSize, volumeType: c.storageClass, k8sVersion: c.version.k8s, apiEndpoint: apiEndpointOf(o.kube.server),
    network: { id: o.network?.id ?? '', name: c.privateNet.name }, subnet: { id: o.subnet?.id ?? '', name: c.privateNet.subnet.name },
    securityGroup: { id: o.securityGroup?.id ?? '', name: c.securityGroup }, ...(sg.group ? { serverGroup: sg.group } : {}), lb,
    etcd: { via: 'error' in o.etcd ? '' : o.etcd.transport, nodeName: 'error' in o.etcd ? '' : o.etcd.nodeName, members, projection },
    stale, fixStale: req.fixStale, mastersAfter: Math.max(c.nMasters, o.masters.length, cps.length) + 1, snapshot: req.snapshot, timeouts: req.timeouts, featureGates: o.featureGates, adopt, quota, warnings, blockers,
  };
}

/** Does the cluster file say how to reach the masters over SSH (a bastion or pinned host keys)? */
export function sshConfigured(ssh: ClusterConfig['ssh'] | undefined): boolean {
  return !!ssh && (!!ssh.bastion || !!ssh.knownHosts || Object.values(ssh.hostKeys ?? {}).some((k) => k.length > 0));
}

/** `kadd add --role master --via ssh [--zone Z] [--flavor F] [extra] CFG`, shell-quoted. Pure. */
export function viaSshCommand(o: { configArg: string; zone?: string; flavor?: string; extra?: string[] }): string {
  return shellJoin(['kadd', 'add', '--role', 'master', '--via', 'ssh', ...(o.zone ? ['--zone', o.zone] : []), ...(o.flavor ? ['--flavor', o.flavor] : []), ...(o.extra ?? []), o.configArg]);
}

/**
 * Pure: the preflight blocker when the Kubernetes API does not answer. Without --via ssh and with SSH
 * settings in the cluster file it names the exact `--via ssh` command line (etcd does not need the API);
 * with --via ssh it says what still needs the API. kadd never falls back to SSH on its own.
 */
export function apiUnreachableMessage(o: {
  server: string; error?: string; via: 'kube' | 'ssh'; ssh?: ClusterConfig['ssh']; configArg: string; zone?: string; flavor?: string;
}): string {
  const head = `the Kubernetes API at ${o.server} did not answer${o.error ? ` (${o.error})` : ''}`;
  const needs = 'the bootstrap token and the uploaded control-plane certificates are Secrets in the API, and the new master registers its Node and is watched until Ready through it';
  if (o.via === 'ssh') {
    return `${head}; --via ssh reaches etcd without the API, but adding a master still needs it: ${needs}. Nothing was changed: bring the API back (kube-apiserver on the masters, the API load balancer) and run again`;
  }
  if (sshConfigured(o.ssh)) {
    return `${head}. The cluster file has SSH settings, so etcd can be reached without the API: \`${viaSshCommand({ ...o, extra: ['--dry-run'] })}\` shows the etcd members and their health over SSH, and once the API answers again \`${viaSshCommand(o)}\` adds the master with etcd over SSH (the add itself needs the API: ${needs})`;
  }
  return `${head}; check --kubeconfig/--context and the API load balancer (adding a master needs the API: ${needs}); to look at etcd without the API, add ssh settings (bastion, host_keys or known_hosts) to the cluster file and use --via ssh --dry-run`;
}

/** The zone with the fewest masters among the configured ones (CAPI's PickFewest); ties: config order. */
export function pickZone(zones: string[], masters: Server[]): string | undefined {
  if (zones.length === 0) return undefined;
  const count = (z: string) => masters.filter((s) => s['OS-EXT-AZ:availability_zone'] === z).length;
  return [...zones].sort((a, b) => count(a) - count(b) || zones.indexOf(a) - zones.indexOf(b))[0];
}

export function assertMasterPlan(p: AddMasterPlan): void {
  if (p.blockers.length === 0) return;
  const n = p.blockers.length;
  throw new PreflightError(`preflight found ${n} problem${n > 1 ? 's' : ''}; nothing was changed`, {
    details: p.blockers,
    hint: p.stale.length && !p.fixStale ? 'remove the stale etcd members (--fix-stale) and run again' : 'fix the problems above and run again; `kadd add --role master --dry-run` shows the plan',
  });
}

// ------------------------------------------------------------------------------------------------
// execute

interface State {
  portId?: string;
  ip?: string;
  volumeId?: string;
  serverId?: string;
  memberId?: string;
  lbMemberId?: string;
  stage?: Stage | 'prepare';
}

class StageFailure extends Error {
  constructor(readonly stage: Stage | 'prepare', message: string, readonly diagnosis?: Diagnosis) {
    super(message);
  }
}

const FATAL_CONSOLE = /error execution phase|KADD-MARK stage=join-failed/;

export async function executeMaster(
  ctx: Context, req: AddMasterRequest, p: AddMasterPlan, os: OpenStackClient, kube: KubeApi, etcd: EtcdAccess, deps: AddMasterDeps,
): Promise<AddMasterResult> {
  const started = ctx.clock.now();
  const { io, signal } = ctx;
  const c = req.config;
  const journal = deps.journal;
  const ledger = new Ledger(journal, c.clusterName);
  const etcdctl: Etcdctl = etcd.etcdctl;
  // the first Ctrl-C starts the rollback: the reapers' waits are not stopped by it
  const reapers = new Reapers({ io, clock: ctx.clock, os, kube, etcdctl, cluster: c.clusterName, pollIntervalMs: req.pollIntervalMs, poolId: p.lb?.poolId });
  let lease: TokenLease | undefined;
  const tokenGone = async () => {
    await lease?.release(reapers);
  };
  const st: State = { portId: p.adopt.portId, volumeId: p.adopt.volumeId, stage: 'prepare' };
  const removedStale: string[] = [];
  let snapshot: SnapshotResult | undefined;
  const checkAbort = () => {
    if (signal.aborted) throw new InterruptedError();
  };

  // 1. snapshot before any change
  if (p.snapshot) {
    const line = io.progress(`${p.name}:snapshot`, `etcd snapshot on ${etcd.nodeName}`);
    const stamp = new Date(ctx.clock.now()).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
    try {
      snapshot = await etcdctl.snapshotSave(`${etcd.snapshotDir}/etcd-${c.clusterName}-${stamp}.db`);
    } catch (e) {
      line.fail('etcd snapshot failed');
      throw new OperationError('E_ETCD_SNAPSHOT', `etcd snapshot on ${etcd.nodeName} failed, nothing was changed: ${e instanceof Error ? e.message : e}`, {
        hint: 'free space under /var/lib/kadd/snapshots on that node, or pass --no-snapshot to go on without one',
      });
    }
    line.succeed(`etcd snapshot saved on ${etcd.nodeName}: ${snapshot.path}`);
  }
  checkAbort();

  // 2. stale members, one at a time, each behind a fresh quorum check
  if (p.fixStale) {
    for (const s of p.stale) {
      const v = await etcdctl.checkRemove(s.id);
      if (!v.view.members.some((m) => m.member.id === s.id)) continue;
      if (!v.allowed) {
        throw new OperationError('E_ETCD_STALE_REMOVE_REFUSED', `refusing to remove stale etcd member ${s.name || s.id}: ${v.blockers.map((b) => b.message).join('; ')}`, {
          rolledBack: [], details: removedStale.map((x) => `already removed: ${x}`),
        });
      }
      await journal.intent('etcd-member', s.name || s.id, { remove: s.id });
      await etcdctl.memberRemove(s.id);
      await journal.undone('etcd-member', s.name || s.id, s.id);
      removedStale.push(`${s.name || '(unstarted)'} ${s.id}`);
      io.log('info', `removed stale etcd member ${s.name || '(unstarted)'} ${s.id} (${s.reason})`);
    }
  }

  // 3. fresh verdict right before the change
  const verdict = await etcdctl.checkAdd();
  if (!verdict.allowed) {
    throw new OperationError('E_ETCD_ADD_REFUSED', 'etcd changed since preflight; refusing to add a member now', {
      details: verdict.blockers.map((b) => `${b.message}${b.fix ? ` (fix: ${b.fix})` : ''}`),
      rolledBack: [], hint: removedStale.length ? `stale members removed: ${removedStale.join(', ')}` : undefined,
    });
  }
  for (const w of verdict.warnings) if (!p.warnings.includes(w)) io.log('warn', w);

  try {
    // 4. certificate key + bootstrap token (never printed)
    const prep = io.progress(`${p.name}:prepare`, 'uploading control-plane certificates');
    const key = deps.certificateKey();
    registerSecret(key);
    await deps.uploadCerts(etcd.transport, key);
    lease = await TokenLease.create({ ledger, kube, clock: ctx.clock, io, ttlSeconds: req.tokenTtlSeconds, description: `kadd add --role master ${p.name}` });
    const token = lease.token;
    checkAbort();

    // 5. port, volume, server
    const md = ownershipMetadata(c.clusterName, 'master');
    const tags = ownershipTags(c.clusterName, 'master');
    if (st.portId) await ledger.adopt({ kind: 'port', name: p.portName, node: p.name, id: st.portId });
    if (st.volumeId) await ledger.adopt({ kind: 'volume', name: p.volumeName, node: p.name, id: st.volumeId });
    if (!st.portId) {
      prep.update('creating port');
      const port = await ledger.create({ kind: 'port', name: p.portName, node: p.name, details: { network: p.network.id } }, () => os.network.createPort({
        name: p.portName, network_id: p.network.id, fixed_ips: [{ subnet_id: p.subnet.id }], security_groups: [p.securityGroup.id], description: kaddPortDescription(c.clusterName, p.name),
      }));
      st.portId = port.id;
      st.ip = port.fixed_ips?.find((f) => f.subnet_id === p.subnet.id)?.ip_address ?? port.fixed_ips?.[0]?.ip_address;
      os.network.setPortTags(port.id, tags).catch((e) => io.log('debug', `tagging port ${p.portName}: ${e instanceof Error ? e.message : e}`));
    } else {
      const port = (await os.network.listPorts({ name: p.portName })).find((x) => x.id === st.portId);
      st.ip = port?.fixed_ips?.[0]?.ip_address;
    }
    if (!st.volumeId) {
      prep.update('creating boot volume');
      const v = await ledger.create({ kind: 'volume', name: p.volumeName, node: p.name, details: { size: p.volumeSize, zone: p.zone } }, () => os.volume.createVolume({
        name: p.volumeName, size: p.volumeSize, imageRef: p.image.id, availability_zone: p.zone,
        ...(p.volumeType ? { volume_type: p.volumeType } : {}), metadata: { ...md, 'kadd-server': p.name },
      }));
      st.volumeId = v.id;
    }
    prep.update('boot volume creating');
    await waitFor<Volume>(ctx, req, 'volume available', req.volumeTimeoutMs, async () => {
      const v = await os.volume.getVolume(st.volumeId!);
      if (v?.status === 'available') return { state: 'done', value: v };
      if (v?.status === 'error' || !v) return { state: 'failed', error: new StageFailure('prepare', `boot volume ${p.volumeName} ${v ? 'went to error' : 'disappeared'}`) };
      return { state: 'pending', note: v.status };
    });
    const ud = await deps.renderUserData({
      clusterName: c.clusterName, nodeName: p.name, apiEndpoint: p.apiEndpoint, token: { id: token.id, secret: token.secret },
      caCertHash: deps.caCertHash(await kube.clusterCaPem()), k8sVersion: p.k8sVersion, certificateKey: key,
      ...(st.ip ? { advertiseAddress: st.ip } : {}), ...(p.featureGates ? { clusterFeatureGates: p.featureGates } : {}),
    });
    prep.update('creating server');
    const created = await ledger.create({ kind: 'server', name: p.name, node: p.name, details: { zone: p.zone, flavor: p.flavor.name } }, () => os.compute.createServer({
      name: p.name, flavorRef: p.flavor.id, availability_zone: p.zone, key_name: p.keypair, networks: [{ port: st.portId! }],
      block_device_mapping_v2: [{ boot_index: 0, uuid: st.volumeId!, source_type: 'volume', destination_type: 'volume', delete_on_termination: true }],
      // base64 of exactly what cloud-init gets (gzip-compressed when the plain text would not fit)
      user_data_base64: ud.base64, metadata: { ...md }, tags,
      ...(p.serverGroup ? { 'OS-SCH-HNT:scheduler_hints': { group: p.serverGroup.id } } : {}),
    }));
    st.serverId = created.id;
    prep.succeed(`server ${p.name} created (${p.flavor.name}${p.zone ? `, ${p.zone}` : ''}${ud.learnerMode === false ? ', etcd learner mode off' : ''})`);

    // 6. watch, stage by stage
    const consoleFatal = async (stage: Stage): Promise<WaitVerdict<never> | undefined> => {
      const text = await os.compute.getConsoleOutput(st.serverId!, 200).catch(() => '');
      if (!FATAL_CONSOLE.test(text)) return undefined;
      const d = diagnose({ console: text });
      return { state: 'failed', error: new StageFailure(stage, `the join failed on ${p.name}: ${d.summary}`, d) };
    };
    const extendToken = () => lease!.keepAlive();

    const server = await stage<Server>(ctx, req, p, st, 'active', async () => {
      const s = await os.compute.getServer(st.serverId!);
      if (!s) return { state: 'failed', error: new StageFailure('active', `server ${p.name} disappeared`) };
      if (s.status === 'ACTIVE') {
        // names are claimed, not assumed (13.8): a server that took this name after the preflight keeps it
        // when it was created first; this one is rolled back instead of becoming a duplicate
        const rival = nameClaimRival(s, await os.compute.listServers({ name: exactNamePattern(p.name) }));
        if (rival) return { state: 'failed', error: new StageFailure('active', `server name ${p.name} was taken by another server (${rival.id}, created ${rival.created ?? '?'}) after the preflight; this master is rolled back instead of becoming a duplicate`) };
        return { state: 'done', value: s };
      }
      if (s.status === 'ERROR') return { state: 'failed', error: new StageFailure('active', `server ${p.name} went to ERROR: ${s.fault?.message ?? 'no fault message'}`, groupDiagnosis(diagnose({ fault: s.fault, status: 'ERROR' }), p.serverGroup)) };
      return { state: 'pending', note: `${s.status}${s['OS-EXT-STS:task_state'] ? ` (${s['OS-EXT-STS:task_state']})` : ''}` };
    });
    st.ip ??= firstIp(server);

    await stage<KNode>(ctx, req, p, st, 'registered', async () => {
      await extendToken();
      const n = await kube.getNode(p.name);
      if (n) {
        await ledger.observed({ kind: 'node', name: p.name, node: p.name });
        return { state: 'done', value: n };
      }
      return (await consoleFatal('registered')) ?? { state: 'pending', note: 'kubeadm join running' };
    });

    const findMine = (view: ClusterView) => view.members.find((m) => memberMatches(m.member, p.name, st.ip));
    await stage(ctx, req, p, st, 'member', async () => {
      const list = await etcdctl.memberList();
      const m = list.members.find((x) => memberMatches(x, p.name, st.ip));
      if (m) {
        st.memberId = m.id;
        await ledger.observed({ kind: 'etcd-member', name: p.name, node: p.name, id: m.id, details: { learner: m.isLearner } });
        return { state: 'done', value: m };
      }
      return (await consoleFatal('member')) ?? { state: 'pending', note: 'waiting for kubeadm to add the member' };
    });

    await stage(ctx, req, p, st, 'promoted', async () => {
      const list = await etcdctl.memberList();
      const m = list.members.find((x) => x.id === st.memberId);
      if (!m) return { state: 'failed', error: new StageFailure('promoted', `etcd member ${st.memberId} of ${p.name} disappeared from the member list`) };
      if (!m.isLearner) return { state: 'done', value: m };
      return (await consoleFatal('promoted')) ?? { state: 'pending', note: m.name ? 'learner started, catching up' : 'learner not started yet' };
    });

    await stage(ctx, req, p, st, 'healthy', async () => {
      const view = await etcdctl.view();
      const bad = view.members.filter((m) => !m.healthy || m.member.isLearner);
      if (bad.length === 0 && findMine(view)) return { state: 'done', value: view };
      return { state: 'pending', note: bad.map((m) => `${m.member.name || m.member.id}: ${m.reason ?? 'learner'}`).join('; ') };
    });

    await stage<KNode>(ctx, req, p, st, 'ready', async () => {
      const n = await kube.getNode(p.name);
      if (n?.ready) return { state: 'done', value: n };
      return { state: 'pending', note: n ? 'NotReady' : 'Node gone' };
    });

    // 7. API load balancer pool
    if (p.lb) {
      const line = io.progress(`${p.name}:lb`, `adding ${st.ip} to pool ${p.lb.poolName}`);
      const existing = (await os.loadbalancer.listMembers(p.lb.poolId)).find((m) => m.address === st.ip && m.protocol_port === API_PORT);
      if (existing) st.lbMemberId = existing.id;
      else {
        const lb = p.lb;
        const m = await ledger.create({ kind: 'lb-member', name: p.name, node: p.name, details: { pool: lb.poolId } }, () =>
          os.loadbalancer.createMember(lb.poolId, { name: p.name, address: st.ip!, protocol_port: API_PORT, ...(lb.subnetId ? { subnet_id: lb.subnetId } : {}) }));
        st.lbMemberId = m.id;
      }
      line.succeed(`${p.name} (${st.ip}:${API_PORT}) is a member of pool ${p.lb.poolName}`);
    }
  } catch (e) {
    const failure = e instanceof StageFailure ? e : undefined;
    const interrupted = signal.aborted || e instanceof InterruptedError;
    let diagnosis = failure?.diagnosis;
    if (!diagnosis && st.serverId && !interrupted) {
      const [srv, text] = await Promise.all([os.compute.getServer(st.serverId).catch(() => null), os.compute.getConsoleOutput(st.serverId, 200).catch(() => '')]);
      diagnosis = groupDiagnosis(diagnose({ fault: srv?.fault, console: text }), p.serverGroup);
    }
    if (diagnosis && failure) diagnosis = refineStall(failure.stage, diagnosis, p);
    const cause = e instanceof Error ? e.message : String(e);
    // --keep-failed keeps the server, volume and port for inspection, never an etcd member (Ctrl-C always rolls back)
    const keep = req.keepFailed && !interrupted;
    if (keep) await tokenGone(); // first: a kept server must not be able to finish its join
    const rb = io.progress(`${p.name}:rollback`, keep ? 'removing the etcd member, keeping the server (--keep-failed)' : 'rolling back');
    const { rolledBack, left, kept, etcdLeft } = await rollback(ledger, reapers, p.name, st.ip, keep);
    const tokens = ledger.of('').map((r) => r.id);
    await tokenGone();
    for (const id of tokens) if (id && !ledger.of('').some((r) => r.id === id)) rolledBack.push(`deleted bootstrap token ${id}`);
    if (left.length) rb.fail(`rollback left behind: ${left.join(', ')}`);
    else rb.succeed(`${keep ? 'cleaned up' : 'rolled back'}: ${rolledBack.join(', ') || 'nothing to undo'}${kept.length ? `; kept: ${kept.join(', ')}` : ''}`);
    const details = [
      ...(diagnosis ? formatDiagnosis(p.name, diagnosis).split('\n') : []),
      ...rolledBack.map((r) => `rolled back: ${r}`),
      ...kept.map((r) => `KEPT for inspection: ${r}`),
      ...left.map((r) => `LEFT BEHIND: ${r}`),
      ...(snapshot ? [`etcd snapshot taken before the change: ${snapshot.path} on ${etcd.nodeName}`] : []),
      ...removedStale.map((s) => `stale etcd member removed: ${s}`),
    ];
    const cfgArg = req.configArg ?? c.file;
    if (keep) {
      throw new OperationError('E_MASTER_ADD_FAILED', `adding master ${p.name} failed at stage "${STAGE_TEXT[st.stage as Stage] ?? 'prepare'}": ${cause}; ${etcdLeft ? 'its etcd member could NOT be removed (see below); ' : 'no etcd member of it is left; '}the server is kept for inspection (--keep-failed); the cluster file is unchanged`, {
        rolledBack, details, cause: e,
        hint: `inspect: openstack console log show ${st.serverId ?? p.name}${st.ip ? `; ssh ${c.ssh.user}@${st.ip}` : ''}; then delete it with \`kadd add --role master --cleanup ${cfgArg}\` (the next master add refuses until then); stop it meanwhile if it may retry its join: openstack server stop ${st.serverId ?? p.name}`,
      });
    }
    if (interrupted) throw new InterruptedError(`interrupted while adding ${p.name}; rolled back`, { details });
    throw new OperationError('E_MASTER_ADD_FAILED', `adding master ${p.name} failed at stage "${STAGE_TEXT[st.stage as Stage] ?? 'prepare'}": ${cause}; the cluster file is unchanged`, {
      rolledBack, details, cause: e,
      hint: diagnosis?.nextStep ?? (e instanceof KaddError ? e.hint : undefined),
    });
  } finally {
    await tokenGone();
  }
  await ledger.keep(p.name);

  // 8. the cluster file
  const view = await etcdctl.view().catch(() => null);
  let updatedConfig: string | undefined;
  try {
    updatedConfig = await deps.writeConfig(p.mastersAfter);
  } catch (e) {
    throw new OperationError('E_CONFIG_WRITE', `master ${p.name} was added, but writing the updated cluster file failed: ${e instanceof Error ? e.message : e}`, {
      hint: `set n-masters to ${p.mastersAfter} in ${c.file} by hand`,
    });
  }
  return {
    cluster: c.clusterName, name: p.name, serverId: st.serverId!, ip: st.ip ?? '', zone: p.zone, flavor: p.flavor.name, memberId: st.memberId!,
    snapshot, removedStale, lbMember: st.lbMemberId, updatedConfig, members: view ? memberTable(view) : [], durationMs: ctx.clock.now() - started,
  };
}

/**
 * Pure: when the console has no failure marker, name what a stalled control-plane join is waiting for
 * (kubeadm's discovery retrying the API endpoint, a learner kubeadm keeps trying to promote).
 */
export function refineStall(stage: Stage | 'prepare', d: Diagnosis, p: Pick<AddMasterPlan, 'name' | 'apiEndpoint' | 'lb' | 'securityGroup'>): Diagnosis {
  if (d.cause !== 'unknown') return d;
  const text = d.consoleTail.join('\n');
  const disc = [...text.matchAll(/\[discovery\] Trying to connect to API Server "([^"]+)"(?: \(retry (\d+)\))?/g)].pop();
  if (disc && (stage === 'registered' || stage === 'active')) {
    return {
      ...d,
      summary: `kubeadm on ${p.name} never reached the API server at ${disc[1]}${disc[2] ? ` (discovery retry ${disc[2]})` : ''}; the kubelet did not register`,
      nextStep: `check that ${p.name} can reach ${disc[1]}: security group ${p.securityGroup.name} (TCP 6443 from the cluster network)${p.lb ? `, load balancer ${p.lb.name} and its pool ${p.lb.poolName}` : ''}, routing from the subnet`,
      evidence: [disc[0]],
    };
  }
  if (stage === 'promoted' && /adding etcd member as learner/.test(text)) {
    return {
      ...d,
      summary: `the etcd learner of ${p.name} was added but did not start and catch up (etcd peer port 2380 between the masters? etcd static pod on ${p.name}?)`,
      nextStep: `with --keep-failed, look at \`crictl logs\` of etcd on ${p.name}; check TCP 2379-2380 between the masters in security group ${p.securityGroup.name}`,
      evidence: (text.match(/.*adding etcd member as learner.*/g) ?? []).slice(-1),
    };
  }
  return d;
}

/** One probe per tick through the one poller (lib/poll.ts): backoff with jitter, the stage's deadline, Ctrl-C. */
function waitFor<T>(ctx: Context, req: AddMasterRequest, what: string, timeoutMs: number, probe: () => Promise<WaitVerdict<T>>, onNote?: (n: string) => void): Promise<T> {
  return pollUntil<T>({
    what, timeoutMs, probe, onNote, clock: ctx.clock, signal: ctx.signal, intervalMs: req.pollIntervalMs, maxIntervalMs: req.maxPollIntervalMs,
    onError: (e) => ctx.io.log('warn', `${what}: polling failed, will retry: ${e instanceof Error ? e.message : e}`),
  });
}

async function stage<T>(ctx: Context, req: AddMasterRequest, p: AddMasterPlan, st: State, s: Stage, probe: () => Promise<WaitVerdict<T>>): Promise<T> {
  st.stage = s;
  const line = ctx.io.progress(`${p.name}:${s}`, `${p.name}: waiting for ${STAGE_TEXT[s]}`);
  const t0 = ctx.clock.now();
  try {
    const v = await waitFor(ctx, req, STAGE_TEXT[s], req.timeouts[s], probe, (note) => line.update(`${p.name}: waiting for ${STAGE_TEXT[s]} (${note})`));
    line.succeed(`${p.name}: ${STAGE_TEXT[s]} (${Math.round((ctx.clock.now() - t0) / 1000)}s)`);
    return v;
  } catch (e) {
    line.fail(`${p.name}: ${STAGE_TEXT[s]} failed`);
    if (e instanceof TimeoutError) throw new StageFailure(s, `no ${STAGE_TEXT[s]} within ${Math.round(req.timeouts[s] / 1000)}s`);
    throw e;
  }
}

/**
 * Undo through the reapers, in their fixed order: pool member; the new etcd member through a surviving
 * member (quorum re-checked); the Node; the server (waited until gone); a member kubeadm may have added
 * meanwhile; the volume; the port. With `keep` (--keep-failed) the server, volume and port stay,
 * everything else goes: etcd safety beats inspection. When the quorum check refuses to remove a started
 * voting member, its server is kept running too. Never throws.
 */
async function rollback(ledger: Ledger, reapers: Reapers, name: string, ip: string | undefined, keep: boolean): Promise<{ rolledBack: string[]; left: string[]; kept: string[]; etcdLeft: boolean }> {
  const r = await ledger.teardown(name, reapers, { readyNode: 'delete', ip, keep: keep ? ['server', 'volume', 'port'] : [] });
  return {
    rolledBack: r.deleted.map(describeReaped),
    left: r.left.map(describeReaped),
    kept: r.kept.map(describeReaped),
    etcdLeft: r.left.some((x) => x.ref.kind === 'etcd-member'),
  };
}

// ------------------------------------------------------------------------------------------------
// the whole operation

export interface RunAddMasterOptions {
  /** opens etcd access (master-adder or SSH); closed at the end whatever happens */
  openEtcd: () => Promise<EtcdAccess>;
  dryRun: boolean;
  /** --cleanup: what an earlier run left (journal), deleted before the preflight (etcd members first, quorum-checked) */
  cleanup?: { leftovers: LeftoverResource[] };
  /** asks before the first change when the plan reduces availability (lib/ops/availability.ts); throws to refuse */
  confirm?: (plan: AddMasterPlan) => Promise<void>;
}

export type RunAddMasterOutcome = { kind: 'dry-run'; plan: AddMasterPlan } | { kind: 'added'; plan: AddMasterPlan; result: AddMasterResult };

export async function runAddMaster(ctx: Context, req: AddMasterRequest, os: OpenStackClient, kube: KubeApi, deps: AddMasterDeps, o: RunAddMasterOptions): Promise<RunAddMasterOutcome> {
  validateMasterRequest(req);
  const line = ctx.io.progress('etcd-access', 'opening etcd access');
  let access: EtcdAccess | undefined;
  let accessError: string | undefined;
  try {
    access = await o.openEtcd();
    line.succeed(`etcd reached through ${access.transport.describe}`);
  } catch (e) {
    if (e instanceof KaddError && e.exitCode === 2 && !(e instanceof PreflightError)) throw e;
    if (e instanceof InterruptedError) throw e;
    accessError = `${e instanceof Error ? e.message : String(e)}${e instanceof KaddError && e.hint ? ` (${e.hint})` : ''}`;
    line.fail('cannot reach etcd');
  }
  try {
    const leftovers = o.cleanup?.leftovers ?? [];
    if (leftovers.length && o.dryRun) {
      ctx.io.log('warn', `--cleanup would delete what an earlier run left (not in a dry run):\n  ${leftovers.map(describeLeftover).join('\n  ')}`);
    } else if (leftovers.length) {
      const line = ctx.io.progress('cleanup', `cleaning up ${leftovers.length} resource(s) left by an earlier run`);
      const adder = access && 'adder' in access ? (access as EtcdAccess & { adder: { namespace: string; name: string } }).adder : undefined;
      const cluster = req.config.clusterName;
      // one path for both roles (lib/ops/cleanup.ts): every node in the reapers' order, etcd first
      const r = await cleanupLeftovers(ctx.io, Ledger.fromLeftovers(deps.journal, cluster, leftovers), new Reapers({
        io: ctx.io, clock: ctx.clock, os, kube, etcdctl: access?.etcdctl ?? null, cluster, pollIntervalMs: req.pollIntervalMs,
      }), {
        // the adder this run just opened has the same name as a leftover one: it goes when this run ends
        skip: (ref) => !!adder && ref.kind === 'deployment' && (ref.name === `${adder.namespace}/${adder.name}` || ref.name === adder.name),
      });
      if (r.left.length) {
        line.fail(`cleanup left ${r.left.length} thing(s) behind`);
        throw new OperationError('E_CLEANUP_INCOMPLETE', 'the cleanup could not remove everything the earlier run left; no master was added', {
          rolledBack: r.deleted, details: [...r.deleted.map((x) => `cleaned up: ${x}`), ...r.left.map((x) => `LEFT: ${x}`)],
          hint: accessError ? `etcd was not reachable (${accessError}); --via ssh reaches it over SSH` : 'fix what is listed and run `kadd add --role master --cleanup` again',
        });
      }
      line.succeed(`cleaned up what the earlier run left: ${r.deleted.join(', ') || 'nothing was there any more'}`);
      if (ctx.signal.aborted) throw new InterruptedError('interrupted after the cleanup; no master was added');
    }
    const observed = await preflight(ctx, req, os, kube, access ?? { error: accessError ?? 'no etcd access' });
    const plan = planMaster(req, observed);
    for (const w of plan.warnings) ctx.io.log('warn', w);
    if (o.dryRun) return { kind: 'dry-run', plan };
    assertMasterPlan(plan);
    await o.confirm?.(plan);
    if (ctx.signal.aborted) throw new InterruptedError('interrupted before any change; nothing to roll back');
    const result = await executeMaster(ctx, req, plan, os, kube, access!, deps);
    return { kind: 'added', plan, result };
  } finally {
    await access?.close();
  }
}
