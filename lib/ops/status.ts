/**
 * `kadd status`: one view of the cluster's machines joining OpenStack and Kubernetes.
 *
 * classifyStatus() is pure (unit-tested with fakes); gatherStatus() does the I/O, batched: one list call
 * per kind (servers by the cluster's name pattern, all Nodes), the load balancer's pools and members, the
 * journal file, and with `etcd` (and allowAdder) the member table through a short-lived master-adder. A failing source is
 * reported as a problem and the rest is still shown; bad input (exit-2 errors) is rethrown.
 */
import type { Context } from '../context.js';
import type { ClusterConfig } from '../config/types.js';
import type { KNode } from '../kube/types.js';
import type { Member, OpenStackClient, Pool, Server } from '../openstack/types.js';
import type { ClusterView } from '../etcd/quorum.js';
import { findUnfinished, pidAlive, type JournalReport } from '../journal/journal.js';
import { hostname } from 'node:os';
import { KaddError, UsageError } from '../errors.js';
import { TAG_CLUSTER, TAG_ROLE, indexOf, isKaddMemberName, type Role } from './naming.js';
import { byName, clusterServerPattern, novaClusterFilter } from './logs.js';
import type { MemberRow, StaleMember } from './master-etcd.js';

export type NodeState = 'Ready' | 'NotReady' | 'Unknown' | 'missing' | '?';

export interface MachineRow {
  name: string;
  role: Role;
  /** Nova status, or "missing" for a Node without a server */
  server: string;
  zone: string;
  flavor: string;
  ip: string;
  /** Ready / NotReady / Unknown (kubelet stopped posting) / missing (no Node) / ? (Kubernetes unreadable) */
  node: NodeState;
  /** the Node's name when it differs from the server's */
  nodeName?: string;
  cordoned: boolean;
  kubelet: string;
  problems: string[];
}

export type ProblemKind =
  | 'server-error' | 'server-not-active' | 'server-without-node' | 'node-without-server' | 'node-not-ready'
  | 'source-unavailable' | 'etcd-learner' | 'etcd-unhealthy' | 'etcd-unstarted' | 'etcd-stale' | 'etcd-unreadable'
  | 'lb-member-missing' | 'lb-member-stale' | 'lb-member-down' | 'leftover';

export interface Problem {
  kind: ProblemKind;
  subject: string;
  message: string;
  hint?: string;
}

export interface RoleCount {
  role: Role;
  expected: number;
  servers: number;
  nodes: number;
  ready: number;
}

export interface EtcdSection {
  members: MemberRow[];
  voters: number;
  quorum: number;
  tolerates: number;
  /** the control-plane Node the table was read through */
  via: string;
}

export interface LbSection {
  name: string;
  /** found / absent (no such LB) / unavailable (no Octavia, or an error) */
  state: 'found' | 'absent' | 'unavailable';
  note?: string;
  pools: { name: string; id: string; members: { name: string; address: string; port: number; status: string; server: string }[] }[];
}

export interface StatusReport {
  cluster: string;
  healthy: boolean;
  machines: MachineRow[];
  counts: RoleCount[];
  problems: Problem[];
  warnings: string[];
  notes: string[];
  etcd: EtcdSection | null;
  loadBalancer: LbSection | null;
  leftovers: { op: string; command: string; status: string; inProgress: boolean; resources: { kind: string; name: string; state: string; id?: string }[] }[];
}

/** What gatherStatus observed; every source may have failed (error text) or been skipped (undefined). */
export interface StatusObserved {
  servers: Server[] | { error: string };
  nodes: KNode[] | { error: string };
  lb?: { lbName: string; found: boolean; pools: (Pool & { memberList: Member[] })[] } | { lbName: string; error: string; absentService?: boolean };
  etcd?: { view: ClusterView; rows: MemberRow[]; stale: StaleMember[]; via: string } | { error: string };
  journal?: JournalReport | { error: string };
  /** ops of the journal that are running now (live pid on this host) */
  inProgressOps?: string[];
}

const isErr = (x: unknown): x is { error: string } => !!x && typeof x === 'object' && !Array.isArray(x) && typeof (x as { error?: unknown }).error === 'string';

export const CONTROL_PLANE_LABELS = ['node-role.kubernetes.io/control-plane', 'node-role.kubernetes.io/master'];

/** Role of a server: kadd-role metadata or tag, else the exact name pattern; undefined when neither says. */
export function serverRole(cluster: string, s: Server): Role | undefined {
  const meta = s.metadata?.[TAG_ROLE];
  if (meta === 'master' || meta === 'node') return meta;
  for (const t of s.tags ?? []) {
    if (t === `${TAG_ROLE}=master`) return 'master';
    if (t === `${TAG_ROLE}=node`) return 'node';
  }
  if (indexOf(cluster, 'master', s.name) !== null) return 'master';
  if (indexOf(cluster, 'node', s.name) !== null) return 'node';
  return undefined;
}

/** Role of a Node from its labels (control-plane or legacy master label). */
export function nodeRole(n: KNode): Role {
  return CONTROL_PLANE_LABELS.some((l) => l in n.labels) ? 'master' : 'node';
}

/** The server id in a providerID (`openstack:///<id>`, `openstack://<region>/<id>`), or undefined. */
export function providerServerId(providerID: string | undefined): string | undefined {
  if (!providerID) return undefined;
  const m = /^openstack:\/\/[^/]*\/([^/]+)$/.exec(providerID);
  return m?.[1];
}

/** Does a server belong to this cluster's view? Exact name pattern, or ownership metadata/tag naming this cluster. */
function ownedBy(cluster: string, s: Server): boolean {
  if (new RegExp(clusterServerPattern(cluster)).test(s.name)) return true;
  return s.metadata?.[TAG_CLUSTER] === cluster || (s.tags ?? []).includes(`${TAG_CLUSTER}=${cluster}`);
}

export function firstIpOf(s: Server): string {
  for (const addrs of Object.values(s.addresses ?? {})) {
    const v4 = addrs.find((a) => a.version === 4) ?? addrs[0];
    if (v4) return v4.addr;
  }
  return '';
}

function readyText(n: KNode): { state: NodeState; why?: string } {
  const c = n.conditions.find((x) => x.type === 'Ready');
  if (!c) return { state: n.ready ? 'Ready' : 'NotReady', why: 'no Ready condition yet' };
  if (c.status === 'True') return { state: 'Ready' };
  if (c.status === 'Unknown') return { state: 'Unknown', why: c.message || 'the kubelet stopped posting its status' };
  return { state: 'NotReady', why: [c.reason, c.message].filter(Boolean).join(': ') || undefined };
}

/**
 * Pure: join servers and Nodes, classify problems, count roles against the config, and fold in etcd,
 * the load balancer and the journal. `configPath` is used in hints only.
 */
export function classifyStatus(config: ClusterConfig, obs: StatusObserved, configPath = config.file): StatusReport {
  const cluster = config.clusterName;
  const problems: Problem[] = [];
  const warnings: string[] = [];
  const notes: string[] = [];
  const servers = isErr(obs.servers) ? [] : obs.servers.filter((s) => s.status !== 'DELETED' && ownedBy(cluster, s)).sort(byName);
  const nodes = isErr(obs.nodes) ? [] : [...obs.nodes].sort(byName);
  if (isErr(obs.servers)) problems.push({ kind: 'source-unavailable', subject: 'openstack', message: `servers could not be listed: ${obs.servers.error}` });
  if (isErr(obs.nodes)) problems.push({ kind: 'source-unavailable', subject: 'kubernetes', message: `Nodes could not be listed: ${obs.nodes.error}` });
  const kubeKnown = !isErr(obs.nodes);
  const osKnown = !isErr(obs.servers);

  // ---- join: providerID first, then the name (Node names are the lower-cased hostname)
  const byId = new Map(servers.map((s) => [s.id, s]));
  const nodeOf = new Map<string, KNode>();
  const serverOfNode = new Map<string, Server>();
  const mismatched = new Map<string, string>();
  for (const n of nodes) {
    const pid = providerServerId(n.providerID);
    const s = pid ? byId.get(pid) : undefined;
    if (s && !nodeOf.has(s.id)) {
      nodeOf.set(s.id, n);
      serverOfNode.set(n.name, s);
    }
  }
  for (const n of nodes) {
    if (serverOfNode.has(n.name)) continue;
    const s = servers.find((x) => !nodeOf.has(x.id) && x.name.toLowerCase() === n.name.toLowerCase());
    if (!s) continue;
    const pid = providerServerId(n.providerID);
    if (pid && pid !== s.id) {
      // same name, other server id: the server was recreated while the Node object stayed (spec.providerID
      // is immutable, so the new kubelet kept the old one). Joined by name; a warning, since the Node's
      // Ready condition tells whether the new machine's kubelet is really behind it
      mismatched.set(n.name, pid);
    }
    nodeOf.set(s.id, n);
    serverOfNode.set(n.name, s);
  }

  const machines: MachineRow[] = [];
  for (const s of servers) {
    const n = nodeOf.get(s.id);
    const role = serverRole(cluster, s) ?? (n ? nodeRole(n) : 'node');
    const row: MachineRow = {
      name: s.name, role, server: s.status, zone: s['OS-EXT-AZ:availability_zone'] ?? '', flavor: s.flavor?.original_name ?? s.flavor?.id ?? '',
      ip: firstIpOf(s), node: kubeKnown ? 'missing' : '?', cordoned: false, kubelet: '', problems: [],
    };
    const add = (kind: ProblemKind, message: string, hint?: string) => {
      row.problems.push(message);
      problems.push({ kind, subject: s.name, message, ...(hint ? { hint } : {}) });
    };
    if (s.status === 'ERROR') {
      add('server-error', `server ERROR${s.fault?.message ? `: ${s.fault.message}` : ''}`, `\`kadd logs ${configPath} ${s.name}\` shows the console and the diagnosis`);
    } else if (s.status !== 'ACTIVE') {
      add('server-not-active', `server ${s.status}${s['OS-EXT-STS:task_state'] ? ` (${s['OS-EXT-STS:task_state']})` : ''}`, s.status === 'BUILD' ? 'still building; run `kadd status` again shortly' : `start it with \`openstack server start ${s.name}\` if that was not intended`);
    }
    if (n) {
      const r = readyText(n);
      row.node = r.state;
      if (n.name !== s.name) row.nodeName = n.name;
      row.cordoned = n.unschedulable;
      row.kubelet = n.kubeletVersion ?? '';
      if (r.state !== 'Ready') add('node-not-ready', `Node ${r.state}${r.why ? `: ${r.why}` : ''}`, `\`kubectl describe node ${n.name}\`; \`kadd logs ${configPath} ${s.name}\` for the boot`);
      const oldId = mismatched.get(n.name);
      if (oldId) warnings.push(`${s.name}: its Node's providerID names server ${oldId}, not this server (${s.id}): the server was recreated under the same name; if the Node misbehaves, \`kubectl delete node ${n.name}\` and restart its kubelet to re-register`);
      const nr = nodeRole(n);
      if (serverRole(cluster, s) && nr !== role) warnings.push(`${s.name}: the server says ${role} but its Node ${n.name} is labelled ${nr === 'master' ? 'control-plane' : 'as a worker'}`);
    } else if (kubeKnown && s.status !== 'ERROR') {
      add('server-without-node', 'no Node registered for this server (the kubelet never joined)', `\`kadd logs ${configPath} ${s.name}\` shows why`);
    }
    machines.push(row);
  }
  // Nodes without a server
  for (const n of nodes) {
    if (serverOfNode.has(n.name) || !osKnown) continue;
    const r = readyText(n);
    const role = nodeRole(n);
    const message = `Node has no server in OpenStack${n.providerID ? ` (providerID ${n.providerID})` : ''}`;
    problems.push({ kind: 'node-without-server', subject: n.name, message, hint: `if the machine is gone: \`kubectl delete node ${n.name}\`` });
    machines.push({ name: n.name, role, server: 'missing', zone: '', flavor: '', ip: n.addresses.find((a) => a.type === 'InternalIP')?.address ?? '', node: r.state, cordoned: n.unschedulable, kubelet: n.kubeletVersion ?? '', problems: [message] });
  }
  machines.sort((a, b) => (a.role === b.role ? byName(a, b) : a.role === 'master' ? -1 : 1));

  // ---- counts per role against the config
  const counts: RoleCount[] = (['master', 'node'] as Role[]).map((role) => {
    const rows = machines.filter((m) => m.role === role);
    return {
      role, expected: role === 'master' ? config.nMasters : config.nNodes,
      servers: rows.filter((m) => m.server !== 'missing').length,
      nodes: rows.filter((m) => m.node !== 'missing' && m.node !== '?').length,
      ready: rows.filter((m) => m.node === 'Ready').length,
    };
  });
  if (osKnown) {
    for (const c of counts) {
      if (c.servers !== c.expected) {
        const key = c.role === 'master' ? 'n-masters' : 'n-nodes';
        warnings.push(`${configPath} says ${key}: ${c.expected}, the cluster has ${c.servers} ${c.role === 'master' ? 'master' : 'worker'} server${c.servers === 1 ? '' : 's'}${c.servers > c.expected ? ' (a *.updated.yml not copied back?)' : ''}`);
      }
    }
  }

  // ---- etcd
  let etcd: EtcdSection | null = null;
  if (obs.etcd) {
    if (isErr(obs.etcd)) {
      problems.push({ kind: 'etcd-unreadable', subject: 'etcd', message: `the etcd members could not be read: ${obs.etcd.error}` });
    } else {
      const voters = obs.etcd.view.members.filter((m) => !m.member.isLearner).length;
      const quorum = Math.floor(voters / 2) + 1;
      etcd = { members: obs.etcd.rows, voters, quorum, tolerates: voters === 0 ? 0 : voters - quorum, via: obs.etcd.via };
      const staleIds = new Set(obs.etcd.stale.map((x) => x.id));
      for (const st of obs.etcd.stale) {
        problems.push({ kind: 'etcd-stale', subject: `etcd ${st.name || '(unstarted)'} ${st.id}`, message: `stale etcd member: ${st.reason}`, hint: `remove it with \`kadd add --role master --fix-stale ${configPath}\` (quorum-checked), or \`etcdctl member remove ${st.id}\`` });
      }
      for (const ms of obs.etcd.view.members) {
        const m = ms.member;
        if (staleIds.has(m.id)) continue;
        const label = `etcd ${m.name || '(unstarted)'} ${m.id}`;
        if (!ms.started) problems.push({ kind: 'etcd-unstarted', subject: label, message: 'member never started' });
        else if (m.isLearner) problems.push({ kind: 'etcd-learner', subject: label, message: 'learner (a control-plane join in progress or stuck); no master can be added or removed until it is promoted or removed' });
        if (ms.started && !ms.healthy) problems.push({ kind: 'etcd-unhealthy', subject: label, message: `member unhealthy${ms.reason ? `: ${ms.reason}` : ''}` });
      }
      if (voters > 0 && voters % 2 === 0) warnings.push(`etcd has ${voters} voting members: an even count tolerates no more failures than ${voters - 1}; add or remove one master`);
      if (counts[0]!.servers !== voters && osKnown) warnings.push(`${counts[0]!.servers} master server(s) but ${voters} voting etcd member(s)`);
    }
  }

  // ---- load balancer pool members of the masters
  let loadBalancer: LbSection | null = null;
  if (obs.lb) {
    if (isErr(obs.lb)) {
      loadBalancer = { name: obs.lb.lbName, state: 'unavailable', note: obs.lb.error, pools: [] };
      notes.push(obs.lb.absentService ? `load balancer not checked: ${obs.lb.error}` : `load balancer ${obs.lb.lbName} not checked: ${obs.lb.error}`);
    } else if (!obs.lb.found) {
      loadBalancer = { name: obs.lb.lbName, state: 'absent', pools: [] };
      notes.push(`load balancer ${obs.lb.lbName} not found (loadbalancer.name); pool members not checked`);
    } else {
      const masters = servers.filter((s) => (serverRole(cluster, s) ?? 'node') === 'master');
      const byIp = new Map(masters.map((s) => [firstIpOf(s), s]));
      const apiPools = obs.lb.pools.filter((p) => p.name === `master-pool-${cluster}`);
      const pools = apiPools.length ? apiPools : obs.lb.pools;
      loadBalancer = {
        name: obs.lb.lbName, state: 'found',
        pools: pools.map((p) => ({
          name: p.name, id: p.id,
          members: p.memberList.map((m) => ({ name: m.name ?? '', address: m.address, port: m.protocol_port, status: m.operating_status ?? m.provisioning_status ?? '', server: byIp.get(m.address)?.name ?? '' })),
        })),
      };
      const members = pools.flatMap((p) => p.memberList.map((m) => ({ pool: p, m })));
      if (osKnown) {
        for (const s of masters) {
          if (s.status !== 'ACTIVE') continue;
          const ip = firstIpOf(s);
          if (ip && !members.some((x) => x.m.address === ip)) {
            problems.push({ kind: 'lb-member-missing', subject: s.name, message: `master ${s.name} (${ip}) is not a member of the API pool${pools.length ? ` ${pools.map((p) => p.name || p.id).join(', ')}` : 's (the load balancer has no pool)'}`, hint: pools[0] ? `\`openstack loadbalancer member create --address ${ip} --protocol-port 6443 ${pools[0].id}\`` : undefined });
          }
        }
        for (const { pool, m } of members) {
          if (!byIp.has(m.address)) {
            const byHand = `\`openstack loadbalancer member delete ${pool.id} ${m.id}\``; // cleanup deletes only kadd's members of no server
            problems.push({ kind: 'lb-member-stale', subject: `${pool.name || pool.id} ${m.address}`, message: `pool member ${m.name || m.id} (${m.address}) is no master of the cluster`, hint: isKaddMemberName(cluster, m.name) && !servers.some((s) => firstIpOf(s) === m.address) ? `\`kadd cleanup ${configPath}\` deletes it (by hand: ${byHand})` : `kadd did not name it or a server has its address, so \`kadd cleanup ${configPath}\` leaves it; if it is stale: ${byHand}` });
          } else if (m.operating_status === 'ERROR' || m.operating_status === 'OFFLINE') {
            problems.push({ kind: 'lb-member-down', subject: byIp.get(m.address)!.name, message: `pool member ${m.address} is ${m.operating_status} (the health monitor cannot reach the API server on it)` });
          }
        }
      }
    }
  }

  // ---- journal leftovers
  const leftovers: StatusReport['leftovers'] = [];
  if (obs.journal) {
    if (isErr(obs.journal)) warnings.push(`the journal could not be read: ${obs.journal.error}`);
    else {
      if (obs.journal.skippedLines) warnings.push(`${obs.journal.path}: ${obs.journal.skippedLines} unreadable line(s) (a write torn by a crash)`);
      for (const op of obs.journal.operations) {
        const inProgress = (obs.inProgressOps ?? []).includes(op.op);
        leftovers.push({ op: op.op, command: op.command, status: inProgress ? 'running' : op.status, inProgress, resources: op.resources.map((r) => ({ kind: r.kind, name: r.name, state: r.state, ...(r.id ? { id: r.id } : {}) })) });
        if (inProgress) notes.push(`operation ${op.op} (${op.command}) is running now (pid ${op.pid})`);
        else if (op.resources.length) {
          problems.push({
            kind: 'leftover', subject: `journal ${op.op}`,
            message: `${op.command} ${op.status === 'unterminated' ? 'did not finish (crash or kill)' : op.status} and left ${op.resources.map((r) => `${r.kind} ${r.name}${r.state === 'maybe' ? ' (maybe)' : ''}`).join(', ')}`,
            hint: `\`kadd add --resume ${configPath}\` finishes it, \`kadd add --cleanup ${configPath}\` deletes what it created`,
          });
        }
      }
    }
  }

  return { cluster, healthy: problems.length === 0, machines, counts, problems, warnings, notes, etcd, loadBalancer, leftovers };
}

// -------------------------------------------------------------------------------------------------
// I/O

export interface GatherOptions {
  etcd: boolean;
  /** --allow-adder: --etcd may create the master-adder (deleted afterwards); without it --etcd is refused */
  allowAdder?: boolean;
  /** journal readers (tests) */
  findUnfinished?: (cfgPath: string) => Promise<JournalReport>;
  isRunning?: (pid: number, host: string) => boolean;
  /** adder poll interval (tests) */
  pollIntervalMs?: number;
}

export const MAX_FAULT_FETCHES = 10;
const message = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0]!;
/** bad input (exit 2: kubeconfig, clouds.yaml, region) is not a "source unavailable": it stops the command */
const rethrowUsage = (e: unknown) => {
  if (KaddError.is(e) && e.exitCode === 2) throw e;
  return { error: message(e) };
};

/** `status` writes nothing unless --allow-adder lets --etcd create the adder (exit 2 before any API call). */
export function assertReadOnlyEtcd(opts: Pick<GatherOptions, 'etcd' | 'allowAdder'>): void {
  if (opts.etcd && !opts.allowAdder) {
    throw new UsageError('--etcd reads the etcd members through the master-adder, a privileged host-network Deployment in kube-system; `kadd status` creates nothing without --allow-adder', { hint: 'add --allow-adder (kadd creates the adder and deletes it afterwards), or run `etcdctl member list` on a master yourself' });
  }
}
function defaultIsRunning(pid: number, host: string): boolean {
  return host === hostname() && pidAlive(pid);
}

/** Observe everything in parallel: one list call per kind. */
export async function gatherStatus(ctx: Context, config: ClusterConfig, opts: GatherOptions): Promise<StatusObserved> {
  assertReadOnlyEtcd(opts);
  const cluster = config.clusterName;
  const osP = ctx.openstack();
  const kubeP = ctx.kube();
  // a bad clouds.yaml/kubeconfig is exit 2 before anything else
  const [osR, kubeR] = await Promise.allSettled([osP, kubeP]);
  if (osR.status === 'rejected') rethrowUsage(osR.reason);
  if (kubeR.status === 'rejected') rethrowUsage(kubeR.reason);
  const os = osR.status === 'fulfilled' ? osR.value : undefined;
  const kube = kubeR.status === 'fulfilled' ? kubeR.value : undefined;

  const serversP: Promise<Server[] | { error: string }> = os
    ? os.compute.listServers({ name: novaClusterFilter(cluster) }).catch(rethrowUsage)
    : Promise.resolve({ error: message((osR as PromiseRejectedResult).reason) });
  const nodesP: Promise<KNode[] | { error: string }> = kube
    ? kube.listNodes().catch(rethrowUsage)
    : Promise.resolve({ error: message((kubeR as PromiseRejectedResult).reason) });
  const lbP = os ? gatherLb(os, config.loadbalancer.name) : Promise.resolve(undefined);
  const journalP = (opts.findUnfinished ?? findUnfinished)(config.file).catch((e: unknown) => ({ error: message(e) }));
  const etcdP = opts.etcd && kube
    ? (async () => {
        const { openEtcdViaAdder, memberTable } = await import('./master-etcd.js');
        const access = await openEtcdViaAdder(ctx, kube, config, { pollIntervalMs: opts.pollIntervalMs });
        try {
          const v = await access.etcdctl.checkAdd();
          return { view: v.view, rows: memberTable(v.view), via: access.nodeName };
        } finally {
          await access.close();
        }
      })().catch(rethrowUsage)
    : Promise.resolve(opts.etcd ? { error: 'the Kubernetes API is not reachable' } : undefined);

  // Nova's list bodies do not carry `fault` (seen on a real cloud; the simulator does the same): fetch it
  // for ERROR servers only, at most MAX_FAULT_FETCHES, in parallel; a healthy cluster costs no per-server call
  const serversWithFaults = serversP.then(async (list) => {
    if (!os || isErr(list)) return list;
    const missing = list.filter((s) => s.status === 'ERROR' && !s.fault).slice(0, MAX_FAULT_FETCHES);
    const got = await Promise.all(missing.map((s) => os.compute.getServer(s.id).catch(() => null)));
    const faults = new Map(got.filter((g): g is Server => !!g?.fault).map((g) => [g.id, g.fault!]));
    return faults.size ? list.map((s) => (faults.has(s.id) ? { ...s, fault: faults.get(s.id) } : s)) : list;
  });
  const [servers, nodes, lb, journal, etcdRaw] = await Promise.all([serversWithFaults, nodesP, lbP, journalP, etcdP]);
  let etcd: StatusObserved['etcd'];
  if (etcdRaw && !isErr(etcdRaw)) {
    const { findStale } = await import('./master-etcd.js');
    etcd = { ...etcdRaw, stale: findStale(etcdRaw.view, isErr(nodes) ? [] : nodes) };
  } else etcd = etcdRaw;
  const isRunning = opts.isRunning ?? defaultIsRunning;
  const inProgressOps = journal && !isErr(journal) ? journal.operations.filter((o) => o.status === 'unterminated' && isRunning(o.pid, o.host)).map((o) => o.op) : [];
  return { servers, nodes, lb, etcd, journal, inProgressOps };
}

async function gatherLb(os: OpenStackClient, lbName: string): Promise<StatusObserved['lb']> {
  try {
    const lb = await os.loadbalancer.findLoadBalancer(lbName);
    if (!lb) return { lbName, found: false, pools: [] };
    const pools = await os.loadbalancer.listPools({ loadbalancer_id: lb.id });
    const withMembers = await Promise.all(pools.map(async (p) => ({ ...p, memberList: await os.loadbalancer.listMembers(p.id) })));
    return { lbName, found: true, pools: withMembers };
  } catch (e) {
    const code = KaddError.is(e) ? e.code : '';
    const status = (e as { status?: number }).status;
    if (code === 'E_OPENSTACK_NO_SERVICE' || code === 'E_OPENSTACK_REGION' || status === 404) return { lbName, error: 'this cloud (region) has no Octavia load-balancer service', absentService: true };
    return { lbName, error: message(e) };
  }
}
