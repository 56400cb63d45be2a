/**
 * kadd add --role master (design.md section 4), the plan: the stages and their timeouts, the request, what
 * the preflight observed (lib/ops/add-master-run.ts) and the plan made of it (pure: quorum projection, stale
 * members, adoption, quota, blockers). lib/ops/add-master.ts re-exports all of it.
 */
import type { ClusterConfig } from '../config/types.js';
import type { Listener, Pool, Server, ServerGroup } from '../openstack/types.js';
import type { KNode } from '../kube/types.js';
import { parseDurationMs } from '../duration.js';
import { isControlPlane } from '../kube/labels.js';
import { projectAdd, projectRemove, type ClusterView, type Projection, type Verdict } from '../etcd/quorum.js';
import { PreflightError, UsageError } from '../errors.js';
import { shellJoin } from '../shell.js';
import { nextNames, portName, volumeName } from './naming.js';
import { apiEndpointOf, type QuotaRow } from './add-workers-plan.js';
import { serverBlockers, serverGroupCheck, type CloudLookups } from './observe.js';
import { findStale, memberTable, withoutMembers, type MemberRow, type StaleMember } from './master-etcd.js';
import { ownedBy } from './engine/ledger.js';

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
  /**
   * `skipped`: not read on purpose (a dry run deploys no master-adder without --allow-adder); the plan lists
   * what that leaves unchecked. `adder`: read through a master-adder this run deployed.
   */
  etcd: { view: ClusterView; transport: string; nodeName: string; adder?: boolean } | { error: string } | { skipped: string };
  /** formats an etcdctl command an operator can paste (from the Etcdctl in use) */
  formatCommand?: (args: string[]) => string;
  errors: string[];
}

export interface UncheckedItem {
  check: string;
  reason: string;
}

/** What a master dry run without etcd access leaves unchecked (the real run checks all of it before any change). */
export const ETCD_CHECKS = [
  'the etcd member list and the health of each member',
  'the quorum projection (voting members and failures tolerated, before and after) from the real member list',
  'stale etcd members left by an earlier failed join (--fix-stale)',
] as const;

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
  /** `adder`: etcd was read through a master-adder deployed by this run (deleted again when it ends) */
  etcd: { via: string; nodeName: string; members: MemberRow[]; projection?: Projection; adder: boolean };
  /** what this plan did not check, and why (a dry run without the master-adder: etcd); empty when all was checked */
  unchecked: UncheckedItem[];
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
  const unchecked: UncheckedItem[] = [];
  if ('skipped' in o.etcd) {
    const reason = o.etcd.skipped;
    unchecked.push(...ETCD_CHECKS.map((check) => ({ check, reason })));
  } else if ('error' in o.etcd) blockers.push(`cannot read the etcd member list: ${o.etcd.error}`);
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
    etcd: 'view' in o.etcd
      ? { via: o.etcd.transport, nodeName: o.etcd.nodeName, members, projection, adder: !!o.etcd.adder }
      : { via: '', nodeName: '', members, projection, adder: false },
    unchecked,
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
