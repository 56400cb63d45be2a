/**
 * `kadd remove` planning (pure, no I/O): victim selection, the drain preview per victim turned into
 * blockers and warnings, the capacity check of the remaining schedulable nodes, and the master gates.
 * lib/ops/remove.ts observes the cluster and executes the plan.
 */
import type { KNode, KPod, KPdb } from '../kube/types.js';
import type { DrainPreview, PodPreview } from '../kube/drain.js';
import { formatCpu, formatMemory } from '../kube/quantity.js';
import type { RemoveGate } from '../etcd/quorum.js';
import type { MemberRow } from './master-etcd.js';
import type { Server } from '../openstack/types.js';
import { indexOf, type Role } from './naming.js';

export const REMOVE_FIRST_ANNOTATION = 'kadd.io/remove-first';
export const CONTROL_PLANE_LABEL = 'node-role.kubernetes.io/control-plane';

export interface RemoveRequest {
  /** victims by name (servers or Nodes of the cluster) */
  names: string[];
  /** or: kadd picks `amount` victims of `role` */
  role?: Role;
  amount?: number;
  order: 'newest' | 'oldest';
  /** with `amount`: picked before any other rule (the nodes of an interrupted kadd add this remove finishes) */
  prefer?: string[];
  deleteEmptyDirData: boolean;
  force: boolean;
  disableEviction: boolean;
  drainTimeoutMs: number;
  onDrainTimeout: 'fail' | 'force';
  dead: boolean;
  deadAfterMs: number;
  allowSingleMaster: boolean;
  fixStale: boolean;
  /** workers removed at once */
  concurrency: number;
}

/** One server/Node of the cluster, as the selection sees it. */
export interface Candidate {
  name: string;
  role: Role;
  index: number;
  server?: Server;
  node?: KNode;
}

/** Why a candidate is unhealthy (undefined: healthy). Pure. */
export function unhealthyReason(c: Candidate): string | undefined {
  if (!c.server) return 'no server (deleted out of band?)';
  if (c.server.status === 'ERROR' || c.server.status === 'SHUTOFF') return `server ${c.server.status}`;
  if (!c.node) return 'no Node';
  const ready = c.node.conditions.find((x) => x.type === 'Ready');
  if (!ready || ready.status !== 'True') return `Node ${ready ? (ready.status === 'Unknown' ? 'Unknown (unreachable)' : 'NotReady') : 'has no Ready condition'}`;
  return undefined;
}

/**
 * Is the candidate dead (no drain, member removed first, no reset)? Nova says ERROR/SHUTOFF/gone, or the
 * Node has been Ready=Unknown for longer than deadAfterMs. `--dead` forces it.
 */
export function deadReason(c: Candidate, now: number, deadAfterMs: number, forced: boolean): string | undefined {
  if (!c.server) return 'its server is gone';
  if (c.server.status === 'ERROR' || c.server.status === 'SHUTOFF') return `its server is ${c.server.status}`;
  const ready = c.node?.conditions.find((x) => x.type === 'Ready');
  if (ready?.status === 'Unknown') {
    const since = ready.lastTransitionTime ? Date.parse(ready.lastTransitionTime) : NaN;
    if (Number.isFinite(since) && now - since >= deadAfterMs) return `its Node has been unreachable for ${Math.round((now - since) / 1000)}s (--dead-after ${Math.round(deadAfterMs / 1000)}s)`;
    if (forced) return 'its Node is unreachable (--dead)';
  }
  if (forced) return '--dead';
  return undefined;
}

export interface Victim {
  name: string;
  role: Role;
  /** why it was picked */
  why: string;
}

/**
 * Pure. By name: every name must be a candidate (server or Node of the cluster), all of one role. By
 * `--role --amount`: `prefer` first (an interrupted add's nodes), then unhealthy, then annotated
 * kadd.io/remove-first, then newest (highest index) or oldest; ties by index.
 */
export function selectVictims(req: Pick<RemoveRequest, 'names' | 'role' | 'amount' | 'order' | 'prefer'>, candidates: Candidate[]): { victims: Victim[]; errors: string[] } {
  const errors: string[] = [];
  if (req.names.length) {
    const victims: Victim[] = [];
    for (const n of [...new Set(req.names)]) {
      const c = candidates.find((x) => x.name === n);
      if (!c) {
        errors.push(`${n} is neither a server nor a Node of this cluster`);
        continue;
      }
      if (req.role && c.role !== req.role) errors.push(`${n} is a ${c.role}, not a ${req.role}`);
      victims.push({ name: n, role: c.role, why: 'named on the command line' });
    }
    const roles = new Set(victims.map((v) => v.role));
    if (roles.size > 1) errors.push('remove workers and masters in separate runs (masters go one per run)');
    return { victims, errors };
  }
  const role = req.role ?? 'node';
  const amount = req.amount ?? 1;
  const pool = candidates.filter((c) => c.role === role);
  const ranked = pool
    .map((c) => ({ c, bad: unhealthyReason(c), marked: c.node?.annotations?.[REMOVE_FIRST_ANNOTATION] !== undefined, pref: !!req.prefer?.includes(c.name) }))
    .sort((a, b) => {
      if (a.pref !== b.pref) return a.pref ? -1 : 1;
      if (!!a.bad !== !!b.bad) return a.bad ? -1 : 1;
      if (a.marked !== b.marked) return a.marked ? -1 : 1;
      return req.order === 'oldest' ? a.c.index - b.c.index : b.c.index - a.c.index;
    });
  if (amount > pool.length) errors.push(`--amount ${amount}: the cluster has only ${pool.length} ${role === 'master' ? 'master' : 'worker'}(s)`);
  const victims = ranked.slice(0, amount).map(({ c, bad, marked, pref }) => ({
    name: c.name,
    role,
    why: pref ? 'its interrupted kadd add is finished by this remove' : bad ? `unhealthy: ${bad}` : marked ? `annotated ${REMOVE_FIRST_ANNOTATION}` : `${req.order} (index ${c.index})`,
  }));
  return { victims, errors };
}

/** Candidates from the cluster's servers and Nodes (a Node without a server and a server without a Node both count). Pure. */
export function candidatesOf(cluster: string, servers: Server[], nodes: KNode[]): Candidate[] {
  const out = new Map<string, Candidate>();
  for (const role of ['master', 'node'] as const) {
    for (const s of servers) {
      const i = indexOf(cluster, role, s.name);
      if (i !== null) out.set(s.name, { name: s.name, role, index: i, server: s });
    }
  }
  for (const n of nodes) {
    const c = out.get(n.name);
    if (c) {
      c.node = n;
      continue;
    }
    const cp = n.labels[CONTROL_PLANE_LABEL] !== undefined;
    const role: Role = cp ? 'master' : 'node';
    const i = indexOf(cluster, role, n.name);
    if (i !== null) out.set(n.name, { name: n.name, role, index: i, node: n });
  }
  return [...out.values()];
}

// ---------------------------------------------------------------- drain preview -> blockers

export interface PodLine {
  pod: string;
  classes: string[];
  action: 'skip' | 'evict' | 'block';
  reason?: string;
  pdbs: string[];
  /** "201 allowed" | "429 blocked: ..." | "500 two PDBs" | ... */
  dryRun?: string;
}

export interface DrainSummary {
  node: string;
  pods: PodLine[];
  counts: { evict: number; skip: number; block: number; pv: number };
}

function dryRunText(p: PodPreview): string | undefined {
  const r = p.dryRun;
  if (!r) return undefined;
  switch (r.outcome) {
    case 'evicted':
      return 'allowed';
    case 'gone':
      return 'already gone';
    case 'blocked':
      return `429 now: ${r.message}`;
    case 'multiple-pdbs':
      return `500: ${r.message}`;
    case 'namespace-terminating':
      return `namespace terminating: ${r.message}`;
  }
}

/**
 * Pure: a Node's drain preview -> its pod lines, blockers (exit 2 unless a flag handles them) and warnings.
 * A pod that needs --force/--delete-emptydir-data blocks; a pod under two PDBs blocks unless
 * --disable-eviction; a PDB that can never allow a disruption blocks unless --disable-eviction or
 * --on-drain-timeout force; a 429 now is a warning (the drain retries it within --drain-timeout).
 */
export function assessDrain(preview: DrainPreview, req: Pick<RemoveRequest, 'disableEviction' | 'onDrainTimeout'>): { summary: DrainSummary; blockers: string[]; warnings: string[] } {
  const blockers: string[] = [];
  const warnings: string[] = [];
  const pods: PodLine[] = [];
  const counts = { evict: 0, skip: 0, block: 0, pv: 0 };
  for (const p of preview.pods) {
    const name = `${p.pod.namespace}/${p.pod.name}`;
    counts[p.action]++;
    if (p.classes.includes('pv')) counts.pv++;
    const dry = dryRunText(p);
    pods.push({ pod: name, classes: p.classes, action: p.action, ...(p.reason ? { reason: p.reason } : {}), pdbs: p.pdbs, ...(dry ? { dryRun: dry } : {}) });
    if (p.action === 'block') blockers.push(`${preview.node}: pod ${name}: ${p.reason} (${p.flag} lets kadd evict it)`);
    if (p.action !== 'evict') continue;
    if (p.classes.includes('pv')) warnings.push(`${preview.node}: pod ${name} uses PersistentVolumeClaim(s) ${p.pod.pvcVolumes.join(', ')}: kadd waits for its volume to detach`);
    const two = p.pdbProblems.find((x) => /selected by \d+ PodDisruptionBudgets/.test(x)) ?? (p.dryRun?.outcome === 'multiple-pdbs' ? p.dryRun.message : undefined);
    if (two) {
      if (req.disableEviction) warnings.push(`${preview.node}: pod ${name}: ${two}; --disable-eviction deletes it anyway`);
      else blockers.push(`${preview.node}: pod ${name}: ${two}; fix the budgets, or --disable-eviction deletes pods without asking the budgets`);
    }
    for (const why of p.pdbProblems.filter((x) => x !== two)) {
      if (req.disableEviction) warnings.push(`${preview.node}: pod ${name}: ${why}; --disable-eviction deletes it anyway`);
      else if (req.onDrainTimeout === 'force') warnings.push(`${preview.node}: pod ${name}: ${why}; the drain will time out and --on-drain-timeout force deletes the server with the pod on it`);
      else blockers.push(`${preview.node}: pod ${name}: ${why}; the drain could only time out (scale the workload up or relax the budget; or --disable-eviction / --on-drain-timeout force)`);
    }
    if (p.dryRun?.outcome === 'blocked' && !p.pdbProblems.length) {
      warnings.push(`${preview.node}: pod ${name}: a dry-run eviction is refused now (${p.dryRun.message}); the drain retries every 5 s within --drain-timeout`);
    }
  }
  if (req.disableEviction && counts.evict) warnings.push(`${preview.node}: --disable-eviction: ${counts.evict} pod(s) are DELETED, bypassing every PodDisruptionBudget`);
  return { summary: { node: preview.node, pods, counts }, blockers, warnings };
}

// ---------------------------------------------------------------- capacity

export interface CapacityReport {
  /** requests of the pods to be evicted */
  need: { cpuMilli: number; memoryBytes: number; pods: number };
  /** free allocatable of the remaining schedulable nodes */
  free: { cpuMilli: number; memoryBytes: number; nodes: number };
  /** pods that fit on no remaining node (first-fit, largest first) */
  unplaced: string[];
  fits: boolean;
}

function tolerates(pod: KPod, taint: { key: string; value?: string; effect: string }): boolean {
  return pod.tolerations.some((t) => {
    if (t.effect && t.effect !== taint.effect) return false;
    if (t.operator === 'Exists') return !t.key || t.key === taint.key;
    return t.key === taint.key && (t.value ?? '') === (taint.value ?? '');
  });
}

function schedulable(n: KNode, pod: KPod): boolean {
  for (const [k, v] of Object.entries(pod.nodeSelector)) if (n.labels[k] !== v) return false;
  return n.taints.filter((t) => t.effect === 'NoSchedule' || t.effect === 'NoExecute').every((t) => tolerates(pod, t));
}

/**
 * Pure, coarse (requests, nodeSelector and taints; no affinity): do the evicted pods' requests fit on the
 * remaining Ready, schedulable nodes? First-fit decreasing over each node's free allocatable.
 */
export function checkCapacity(evicted: KPod[], remaining: KNode[], allPods: KPod[]): CapacityReport {
  const nodes = remaining.filter((n) => n.ready && !n.unschedulable && n.allocatable);
  const free = nodes.map((n) => {
    const used = allPods.filter((p) => p.nodeName === n.name && !['Succeeded', 'Failed'].includes(p.phase ?? ''));
    return {
      n,
      cpu: n.allocatable!.cpuMilli - used.reduce((s, p) => s + p.requests.cpuMilli, 0),
      mem: n.allocatable!.memoryBytes - used.reduce((s, p) => s + p.requests.memoryBytes, 0),
      pods: n.allocatable!.pods - used.length,
    };
  });
  const need = { cpuMilli: 0, memoryBytes: 0, pods: evicted.length };
  for (const p of evicted) {
    need.cpuMilli += p.requests.cpuMilli;
    need.memoryBytes += p.requests.memoryBytes;
  }
  const unplaced: string[] = [];
  const order = [...evicted].sort((a, b) => b.requests.cpuMilli - a.requests.cpuMilli || b.requests.memoryBytes - a.requests.memoryBytes);
  for (const p of order) {
    const slot = free.find((f) => schedulable(f.n, p) && f.cpu >= p.requests.cpuMilli && f.mem >= p.requests.memoryBytes && f.pods >= 1);
    if (!slot) {
      unplaced.push(`${p.namespace}/${p.name} (${formatCpu(p.requests.cpuMilli)} CPU, ${formatMemory(p.requests.memoryBytes)})`);
      continue;
    }
    slot.cpu -= p.requests.cpuMilli;
    slot.mem -= p.requests.memoryBytes;
    slot.pods -= 1;
  }
  return {
    need,
    free: {
      cpuMilli: free.reduce((s, f) => s + Math.max(0, f.cpu), 0),
      memoryBytes: free.reduce((s, f) => s + Math.max(0, f.mem), 0),
      nodes: free.length,
    },
    unplaced,
    fits: unplaced.length === 0,
  };
}

// ---------------------------------------------------------------- the plan

export interface VictimPlan extends Victim {
  dead: boolean;
  deadReason?: string;
  serverId?: string;
  serverStatus?: string;
  ip?: string;
  /** the Node (absent when none exists) */
  node?: string;
  drain?: DrainSummary;
  /** "unreachable": only an unreachable-node drain (grace 1 s) */
  drainMode: 'normal' | 'unreachable' | 'none';
  lbMember?: { poolId: string; memberId: string; address: string };
  etcd?: { memberId: string; memberName: string; leader: boolean };
}

export interface RemovePlan {
  cluster: string;
  role: Role;
  victims: VictimPlan[];
  blockers: string[];
  warnings: string[];
  capacity?: CapacityReport;
  etcd?: {
    gate: RemoveGate;
    members: MemberRow[];
    /** stale members (--fix-stale removes them first) */
    stale: { id: string; name: string; reason: string }[];
    /** where leadership goes if the victim leads (newest healthy member) */
    leaderTarget?: { id: string; name: string };
    alarms: string[];
  };
  config: { nMasters: number; nNodes: number; nMastersAfter: number; nNodesAfter: number };
}

export function formatRemovePlan(p: RemovePlan): string {
  const out: string[] = [];
  out.push(`plan: remove ${p.victims.length} ${p.role === 'master' ? 'master' : 'worker'}(s) from ${p.cluster}`);
  for (const v of p.victims) {
    out.push(`  ${v.name}: ${v.why}${v.dead ? `; dead (${v.deadReason})` : ''}`);
    out.push(`    server ${v.serverId ? `${v.serverId} (${v.serverStatus}${v.ip ? `, ${v.ip}` : ''})` : 'none'}, Node ${v.node ?? 'none'}, drain ${v.drainMode}`);
    if (v.lbMember) out.push(`    load balancer: pool member ${v.lbMember.memberId} (${v.lbMember.address}) leaves the API pool first`);
    if (v.etcd) out.push(`    etcd member ${v.etcd.memberName || '(unnamed)'} ${v.etcd.memberId}${v.etcd.leader ? ' (leader: leadership moves first)' : ''}`);
    if (v.drain) {
      const c = v.drain.counts;
      out.push(`    pods: ${c.evict} to evict, ${c.skip} skipped, ${c.block} blocked${c.pv ? `, ${c.pv} with PersistentVolumes` : ''}`);
      for (const l of v.drain.pods) {
        out.push(`      ${l.action.padEnd(5)} ${l.pod} [${l.classes.join(',') || 'replicated'}]${l.pdbs.length ? ` pdb ${l.pdbs.join(',')}` : ''}${l.dryRun ? ` dry-run: ${l.dryRun}` : ''}${l.reason && l.action !== 'evict' ? ` (${l.reason})` : ''}`);
      }
    }
  }
  if (p.capacity) {
    const c = p.capacity;
    out.push(`capacity: evicted pods request ${formatCpu(c.need.cpuMilli)} CPU, ${formatMemory(c.need.memoryBytes)}; ${c.free.nodes} remaining schedulable node(s) have ${formatCpu(c.free.cpuMilli)} CPU, ${formatMemory(c.free.memoryBytes)} free${c.fits ? '' : `; do not fit: ${c.unplaced.join(', ')}`}`);
  }
  if (p.etcd) {
    out.push(`etcd: ${p.etcd.gate.projection.votersBefore} -> ${p.etcd.gate.projection.votersAfter} members; ${p.etcd.gate.summary}`);
    if (p.etcd.leaderTarget) out.push(`  leadership goes to ${p.etcd.leaderTarget.name} (${p.etcd.leaderTarget.id}) if the victim leads`);
    for (const s of p.etcd.stale) out.push(`  stale member ${s.name || '(unstarted)'} ${s.id}: ${s.reason}`);
    for (const a of p.etcd.alarms) out.push(`  alarm: ${a}`);
  }
  out.push(`config: n-masters ${p.config.nMasters} -> ${p.config.nMastersAfter}, n-nodes ${p.config.nNodes} -> ${p.config.nNodesAfter}`);
  for (const w of p.warnings) out.push(`warning: ${w}`);
  for (const b of p.blockers) out.push(`blocker: ${b}`);
  return out.join('\n') + '\n';
}

/** Pods that will be evicted from a preview (for the capacity check). */
export function evictedPods(preview: DrainPreview): KPod[] {
  return preview.pods.filter((p) => p.action === 'evict' && !['Succeeded', 'Failed'].includes(p.pod.phase ?? '')).map((p) => p.pod);
}

export type { KPdb };
