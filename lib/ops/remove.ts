/**
 * `kadd remove`: observe -> plan (lib/ops/remove-plan.ts, pure) -> dry-run / confirm -> execute.
 *
 * Workers (several at once, capped): cordon -> drain (bounded; on timeout the node stays cordoned and the
 * server is never deleted unless --on-drain-timeout force) -> wait for VolumeAttachments to go -> delete the
 * server and wait until it is gone -> its kadd-owned volume and port -> the Node (after the server, so the
 * kubelet cannot register it again).
 *
 * Masters (one per run): etcd snapshot -> cordon/drain -> API pool member out (Octavia ACTIVE before and
 * after, 409 retried) -> move etcd leadership away if the victim leads, re-checked just before ->
 * member remove by id through another member -> verify two surviving members agree and all are healthy ->
 * stop the victim's control plane if reachable -> server, volume, port -> Node -> check cluster-info and
 * kubeadm-config point at the load balancer. A dead master: its member goes first, no drain beyond an
 * unreachable-node drain, no reset.
 *
 * Every step is journaled (Journal.step) with its inputs before it runs; `--resume` re-runs the recorded
 * victims with the recorded ids, and every step is idempotent (gone = done), so kill -9 anywhere converges.
 */
import type { Context } from '../context.js';
import type { ClusterConfig } from '../config/types.js';
import type { KNode, KPdb, KPod, KubeApi } from '../kube/types.js';
import type { LoadBalancer, Member, OpenStackClient, Server } from '../openstack/types.js';
import { OperationError } from '../errors.js';
import { drainNode, previewDrain, waitVolumeAttachmentsGone, type DrainResult } from '../kube/drain.js';
import { gateRemove } from '../etcd/quorum.js';
import type { Etcdctl } from '../etcd/etcdctl.js';
import type { RemoveReapers } from './remove-reapers.js';
import { findStale, memberMatchesNode, memberTable, withoutMembers, type EtcdAccess, type MemberRow } from './master-etcd.js';
import { firstIp } from './add-workers.js';
import { indexOf, roleNamePattern, type Role } from './naming.js';
import { mapLimit } from './poll.js';
import {
  assessDrain, candidatesOf, checkCapacity, deadReason, evictedPods, selectVictims,
  type RemovePlan, type RemoveRequest, type VictimPlan,
} from './remove-plan.js';

export interface StepJournal {
  step(step: string, node: string, state: 'start' | 'done' | 'skipped', details?: Record<string, unknown>): Promise<void>;
  intent(kind: 'server' | 'volume' | 'port' | 'node' | 'etcd-member' | 'lb-member', name: string, details?: Record<string, unknown>): Promise<void>;
  undone(kind: 'server' | 'volume' | 'port' | 'node' | 'etcd-member' | 'lb-member', name: string, id?: string): Promise<void>;
  /** the resource stays on purpose (a victim whose removal stopped before anything was deleted) */
  kept(kind: 'server' | 'volume' | 'port' | 'node' | 'etcd-member' | 'lb-member', name: string, id?: string): Promise<void>;
}

export interface RemoveDeps {
  journal: StepJournal;
  reapers: RemoveReapers;
  /** etcd access through a member other than `exclude` (masters only) */
  openEtcd(exclude: string[]): Promise<EtcdAccess>;
  /** stop the victim's control plane (kubeadm reset -f --skip-phases=remove-etcd-member); null when unreachable */
  stopControlPlane?(victim: VictimPlan): Promise<string | null>;
  writeConfig(changes: Record<string, number>): Promise<string>;
  pollIntervalMs: number;
  /** between 429 retries (5 s) */
  evictRetryMs?: number;
  volumeDetachTimeoutMs?: number;
  leaderMoveTimeoutMs?: number;
}

export interface Observation {
  plan: RemovePlan;
  /** kept open for execution (masters) */
  etcd?: EtcdAccess;
  pdbs: KPdb[];
}

const msg = (e: unknown) => (e instanceof Error ? e.message : String(e));

async function listClusterServers(os: OpenStackClient, cluster: string): Promise<Server[]> {
  const [m, n] = await Promise.all([
    os.compute.listServers({ name: roleNamePattern(cluster, 'master') }),
    os.compute.listServers({ name: roleNamePattern(cluster, 'node') }),
  ]);
  return [...m, ...n].filter((s) => s.status !== 'DELETED' && s.status !== 'SOFT_DELETED');
}

async function findPool(os: OpenStackClient, cluster: string, lbName: string): Promise<{ lb: LoadBalancer; poolId: string; members: Member[] } | null> {
  const lb = await os.loadbalancer.findLoadBalancer(lbName);
  if (!lb) return null;
  const pools = await os.loadbalancer.listPools({ loadbalancer_id: lb.id });
  const pool = pools.find((p) => p.name === `master-pool-${cluster}`) ?? pools[0];
  if (!pool) return null;
  return { lb, poolId: pool.id, members: await os.loadbalancer.listMembers(pool.id) };
}

/**
 * Observe the cluster and plan. `fixed` (resume) replaces the selection with the recorded victims and
 * their recorded ids; missing servers, Nodes, pool members and etcd members then count as already removed.
 */
export async function observeAndPlan(
  ctx: Context,
  req: RemoveRequest,
  config: ClusterConfig,
  os: OpenStackClient,
  kube: KubeApi,
  deps: Pick<RemoveDeps, 'openEtcd'>,
  fixed?: VictimPlan[],
): Promise<Observation> {
  const cluster = config.clusterName;
  const [servers, nodes, pdbs] = await Promise.all([listClusterServers(os, cluster), kube.listNodes(), kube.listPodDisruptionBudgets()]);
  const candidates = candidatesOf(cluster, servers, nodes);
  const blockers: string[] = [];
  const warnings: string[] = [];
  let victims: { name: string; role: Role; why: string }[];
  if (fixed) victims = fixed.map((v) => ({ name: v.name, role: v.role, why: `${v.why} (resumed)` }));
  else {
    const sel = selectVictims(req, candidates);
    blockers.push(...sel.errors);
    victims = sel.victims;
  }
  const role: Role = victims[0]?.role ?? req.role ?? 'node';
  if (role === 'master' && victims.length > 1) blockers.push(`masters are removed one per run (etcd changes one member at a time); got ${victims.length}: ${victims.map((v) => v.name).join(', ')}`);
  const now = ctx.clock.now();
  const pool = role === 'master' ? await findPool(os, cluster, config.loadbalancer.name || `${cluster}-lb`).catch((e) => {
    warnings.push(`cannot read the API load balancer: ${msg(e)}`);
    return null;
  }) : null;

  const previews = new Map<string, Awaited<ReturnType<typeof previewDrain>>>();
  // every victim observed at once (drain previews are independent)
  const plans: VictimPlan[] = await Promise.all(victims.map(async (v) => {
    const c = candidates.find((x) => x.name === v.name);
    const rec = fixed?.find((x) => x.name === v.name);
    const server = c?.server;
    const node = c?.node;
    const dead = c ? deadReason(c, now, req.deadAfterMs, req.dead) : 'nothing of it is left';
    const ip = server ? firstIp(server) : rec?.ip;
    const unreachable = node?.conditions.some((x) => x.type === 'Ready' && x.status === 'Unknown') ?? false;
    const vp: VictimPlan = {
      ...v, dead: !!dead, ...(dead ? { deadReason: dead } : {}),
      ...(server ? { serverId: server.id, serverStatus: server.status } : rec?.serverId ? { serverId: rec.serverId, serverStatus: 'gone' } : {}),
      ...(ip ? { ip } : {}),
      ...(node ? { node: node.name } : {}),
      drainMode: !node ? 'none' : dead || unreachable ? 'unreachable' : 'normal',
    };
    if (pool && ip) {
      const m = pool.members.find((x) => x.address === ip);
      if (m) vp.lbMember = { poolId: pool.poolId, memberId: m.id, address: m.address };
    } else if (rec?.lbMember && pool) {
      if (pool.members.some((x) => x.id === rec.lbMember!.memberId)) vp.lbMember = rec.lbMember;
    }
    if (node) {
      const pv = await previewDrain(kube, node.name, req, { pdbs, now, unreachable: vp.drainMode === 'unreachable' });
      previews.set(v.name, pv);
      const a = assessDrain(pv, req);
      vp.drain = a.summary;
      if (vp.drainMode === 'normal') {
        blockers.push(...a.blockers);
        warnings.push(...a.warnings);
      } else warnings.push(`${v.name}: ${dead ? 'dead' : 'unreachable'}: only an unreachable-node drain (grace 1 s, pods terminating > 1 s ignored); PodDisruptionBudgets may not be honoured`);
    }
    return vp;
  }));

  // capacity of the remaining schedulable nodes (a misfit warns)
  let capacity: RemovePlan['capacity'];
  const evict: KPod[] = [...previews.values()].flatMap(evictedPods);
  if (evict.length) {
    const allPods = await kube.listAllPods();
    const names = new Set(victims.map((v) => v.name));
    capacity = checkCapacity(evict, nodes.filter((n) => !names.has(n.name)), allPods);
    if (!capacity.fits) warnings.push(`capacity: ${capacity.unplaced.length} evicted pod(s) fit on no remaining schedulable node: ${capacity.unplaced.join(', ')}`);
  }

  // masters: etcd gates
  let etcdPart: RemovePlan['etcd'];
  let access: EtcdAccess | undefined;
  if (role === 'master' && plans.length === 1) {
    const v = plans[0]!;
    try {
      access = await deps.openEtcd([v.name]);
      const view = await access.etcdctl.view();
      const alarms = await access.etcdctl.alarmList().catch((e) => {
        warnings.push(`etcd: cannot read alarms (${msg(e)}); the member list and health checks still apply`);
        return [] as string[];
      });
      const stale = findStale(view, nodes);
      // by name, or by peer address: the Node's addresses and the server's IP (member names may differ from Node names)
      const vNode = nodes.find((n) => n.name === (v.node ?? v.name));
      const addresses = [...(vNode?.addresses ?? []), ...(v.ip ? [{ type: 'InternalIP', address: v.ip }] : [])];
      const mine = view.members.find((s) => memberMatchesNode(s.member, { name: v.name, addresses }));
      const recId = fixed?.find((x) => x.name === v.name)?.etcd?.memberId;
      const target = mine ?? (recId ? view.members.find((s) => s.member.id === recId) : undefined);
      const staleOthers = stale.filter((s) => s.id !== target?.member.id);
      const effective = req.fixStale ? withoutMembers(view, staleOthers.map((s) => s.id)) : view;
      let gate;
      if (target) {
        v.etcd = { memberId: target.member.id, memberName: target.member.name, leader: target.isLeader };
        gate = gateRemove(effective, target.member.id, { allowSingleMaster: req.allowSingleMaster }, access.etcdctl.formatCommand);
        for (const b of gate.blockers) blockers.push(`etcd: ${b.message}${b.fix ? ` (fix: ${b.fix})` : ''}`);
        warnings.push(...gate.warnings.map((w) => `etcd: ${w}`));
      } else {
        // already removed (resume) or never a member: nothing to gate but the survivors' health
        gate = gateRemove(effective, '0', { allowSingleMaster: req.allowSingleMaster });
        gate = { ...gate, blockers: [], allowed: true, summary: `after: ${view.members.filter((s) => !s.member.isLearner).length} members (the victim has no etcd member)` };
        warnings.push(`etcd: ${v.name} has no etcd member${fixed ? ' (already removed)' : ''}`);
      }
      if (staleOthers.length && !req.fixStale) {
        for (const s of staleOthers) blockers.push(`etcd: stale member ${s.name || '(unstarted)'} ${s.id}: ${s.reason} (--fix-stale removes it first)`);
      }
      if (alarms.length) blockers.push(...alarms.map((a) => `etcd alarm: ${a}`));
      // every control-plane Node needs a member (kubeadm stacked etcd)
      for (const n of nodes.filter((x) => x.labels['node-role.kubernetes.io/control-plane'] !== undefined && x.name !== v.name)) {
        if (!view.members.some((s) => memberMatchesNode(s.member, n))) blockers.push(`etcd: control-plane Node ${n.name} has no etcd member`);
      }
      const healthy = view.members.filter((s) => s.healthy && !s.member.isLearner && s.member.id !== target?.member.id);
      const idxOf = (name: string) => indexOf(cluster, 'master', name) ?? -1;
      const newest = healthy.sort((a, b) => idxOf(b.member.name) - idxOf(a.member.name))[0];
      etcdPart = {
        gate, members: memberTable(view), stale: staleOthers, alarms,
        ...(newest ? { leaderTarget: { id: newest.member.id, name: newest.member.name } } : {}),
      };
    } catch (e) {
      blockers.push(`etcd: cannot check the members: ${msg(e)}`);
    }
  }

  const nNodes = config.nNodes;
  const nMasters = config.nMasters;
  const gone = plans.length;
  const plan: RemovePlan = {
    cluster, role, victims: plans, blockers, warnings,
    ...(capacity ? { capacity } : {}),
    ...(etcdPart ? { etcd: etcdPart } : {}),
    config: {
      nMasters, nNodes,
      nMastersAfter: role === 'master' ? Math.max(0, nMasters - gone) : nMasters,
      nNodesAfter: role === 'node' ? Math.max(0, nNodes - gone) : nNodes,
    },
  };
  return { plan, pdbs, ...(access ? { etcd: access } : {}) };
}

// ---------------------------------------------------------------- execution

export interface VictimResult {
  name: string;
  outcome: 'removed' | 'failed' | 'drain-timeout';
  steps: string[];
  drain?: Pick<DrainResult, 'evicted' | 'skipped' | 'remaining' | 'failed' | 'timedOut' | 'unreachable' | 'durationMs'>;
  error?: string;
}

export interface RemoveResult {
  cluster: string;
  role: Role;
  removed: string[];
  victims: VictimResult[];
  membersBefore?: MemberRow[];
  membersAfter?: MemberRow[];
  snapshot?: string;
  updatedConfig?: string;
  warnings: string[];
  durationMs: number;
}

async function journaled<T>(j: StepJournal, step: string, node: string, inputs: Record<string, unknown>, fn: () => Promise<T>, done?: (r: T) => Record<string, unknown> | undefined): Promise<T> {
  await j.step(step, node, 'start', inputs);
  const r = await fn();
  await j.step(step, node, 'done', done?.(r));
  return r;
}

/** Drain (or unreachable-drain) a victim; false when the run must stop for it (node stays cordoned). */
async function cordonAndDrain(ctx: Context, kube: KubeApi, req: RemoveRequest, v: VictimPlan, deps: RemoveDeps, vr: VictimResult): Promise<boolean> {
  if (!v.node || v.drainMode === 'none') return true;
  const node = v.node;
  const present = await kube.getNode(node);
  if (!present) return true;
  await journaled(deps.journal, 'cordon', v.name, { node }, () => kube.cordonNode(node, true));
  vr.steps.push('cordoned');
  const progress = ctx.io.progress(`drain:${v.name}`, `${v.name}: draining`);
  let evicted = 0;
  const d = await journaled(deps.journal, 'drain', v.name, { node, timeoutMs: req.drainTimeoutMs, unreachable: v.drainMode === 'unreachable', disableEviction: req.disableEviction }, () =>
    drainNode(kube, node, {
      deleteEmptyDirData: req.deleteEmptyDirData, force: req.force, disableEviction: req.disableEviction,
      timeoutMs: req.drainTimeoutMs, unreachable: v.drainMode === 'unreachable', clock: ctx.clock, signal: ctx.signal,
      pollIntervalMs: deps.pollIntervalMs, retryIntervalMs: deps.evictRetryMs ?? 5000,
      onEvent: (e) => {
        if (e.type === 'evicted' || e.type === 'deleted') progress.update(`${v.name}: ${++evicted} pod(s) evicted`);
        else if (e.type === 'blocked') ctx.io.log('info', `${v.name}: eviction of ${e.pod} refused (${e.message}); retrying in ${Math.round(e.retryInMs / 1000)}s`);
        else if (e.type === 'unreachable') ctx.io.log('warn', `${v.name}: the Node became unreachable: grace 1 s, pods terminating for more than 1 s are ignored`);
        else if (e.type === 'failed') ctx.io.log('error', `${v.name}: ${e.pod}: ${e.message}`);
      },
    }), (r) => ({ ok: r.ok, evicted: r.evicted.length, remaining: r.remaining.map((x) => x.pod) }));
  vr.drain = { evicted: d.evicted, skipped: d.skipped, remaining: d.remaining, failed: d.failed, timedOut: d.timedOut, unreachable: d.unreachable, durationMs: d.durationMs };
  if (d.blocked.length) {
    progress.fail(`${v.name}: drain blocked`);
    vr.outcome = 'failed';
    vr.error = `pods need a flag: ${d.blocked.map((b) => `${b.pod} (${b.flag ?? b.reason})`).join(', ')}; the node stays cordoned`;
    return false;
  }
  if (!d.ok) {
    const lines = d.remaining.map((r) => `${r.pod}: ${r.reason}${r.pdbs.length ? ` [PDB ${r.pdbs.join('; ')}]` : ''}`);
    if (req.onDrainTimeout === 'force' && !d.failed.length) {
      progress.warn(`${v.name}: drain timed out; --on-drain-timeout force: removing the node with ${d.remaining.length} pod(s) still on it`);
      ctx.io.log('warn', `${v.name}: still on the node: ${lines.join('; ')}`);
      return true;
    }
    progress.fail(`${v.name}: drain ${d.timedOut ? 'timed out' : 'failed'}; the node stays cordoned, its server is kept`);
    vr.outcome = 'drain-timeout';
    vr.error = `${d.timedOut ? `drain timed out after ${Math.round(req.drainTimeoutMs / 1000)}s` : 'drain failed'}; still on the node: ${lines.join('; ')}`;
    return false;
  }
  progress.succeed(`${v.name}: drained (${d.evicted.length} evicted, ${d.skipped.length} skipped)`);
  vr.steps.push('drained');
  if (v.drainMode === 'normal') {
    const va = await journaled(deps.journal, 'volume-detach', v.name, { node, timeoutMs: deps.volumeDetachTimeoutMs ?? 300_000 }, () =>
      waitVolumeAttachmentsGone(kube, node, { timeoutMs: deps.volumeDetachTimeoutMs ?? 300_000, pollIntervalMs: deps.pollIntervalMs, clock: ctx.clock, signal: ctx.signal }));
    if (!va.ok) {
      if (req.onDrainTimeout !== 'force') {
        vr.outcome = 'drain-timeout';
        vr.error = `volumes still attached to ${node}: ${va.remaining.join(', ')}; the node stays cordoned, its server is kept (--on-drain-timeout force removes it anyway)`;
        return false;
      }
      ctx.io.log('warn', `${v.name}: volumes still attached (${va.remaining.join(', ')}); --on-drain-timeout force: deleting the server anyway`);
    } else vr.steps.push('volumes detached');
  }
  return true;
}

/** server (wait gone) -> volume -> port -> Node: the Node last, so the kubelet cannot register it again. */
async function teardown(v: VictimPlan, deps: RemoveDeps, vr: VictimResult): Promise<void> {
  const j = deps.journal;
  const vol = `${v.name}-root`;
  const port = `${v.name}-port-0`;
  // every input journaled before the deletes run (a crash in between: --resume finds them by id/name)
  if (v.serverId) await j.intent('server', v.name, { remove: true, id: v.serverId });
  await j.intent('volume', vol, { remove: true });
  await j.intent('port', port, { remove: true });
  await j.step('teardown', v.name, 'start', { serverId: v.serverId, volume: vol, port, ip: v.ip });
  const r = await deps.reapers.host(v.name, v.serverId, v.ip);
  if (v.serverId) await j.undone('server', v.name, v.serverId);
  await j.undone('volume', vol);
  await j.undone('port', port);
  await j.step('teardown', v.name, 'done', { server: r.server?.state, volume: r.volume, port: r.port });
  if (r.server) vr.steps.push(`server ${r.server.state}`);
  if (r.volume === 'deleted') vr.steps.push('volume deleted');
  if (r.port === 'deleted') vr.steps.push('port deleted');
  const node = v.node ?? v.name;
  await j.intent('node', node, { remove: true });
  const rn = await deps.reapers.node(node);
  await j.undone('node', node);
  vr.steps.push(`Node ${rn}`);
}

async function removeWorker(ctx: Context, req: RemoveRequest, kube: KubeApi, v: VictimPlan, deps: RemoveDeps): Promise<VictimResult> {
  const vr: VictimResult = { name: v.name, outcome: 'removed', steps: [] };
  try {
    if (!(await cordonAndDrain(ctx, kube, req, v, deps, vr))) return vr;
    await teardown(v, deps, vr);
    ctx.io.log('info', `${v.name}: removed (${vr.steps.join(', ')})`);
  } catch (e) {
    if (ctx.signal.aborted) throw e;
    vr.outcome = 'failed';
    vr.error = msg(e);
  }
  return vr;
}

/** Move leadership away from `victimId` (sent to the leader's endpoint) until another member leads; bounded. */
async function ensureNotLeader(ctx: Context, etcdctl: Etcdctl, victimId: string, targetId: string | undefined, timeoutMs: number, pollMs: number): Promise<boolean> {
  const deadline = ctx.clock.now() + timeoutMs;
  let moved = false;
  for (;;) {
    const l = await etcdctl.leader();
    if (l.id && l.id !== victimId) return moved;
    if (ctx.clock.now() >= deadline) throw new OperationError('E_ETCD_LEADER_MOVE', `etcd leadership is still on the member being removed (${victimId}) after ${Math.round(timeoutMs / 1000)}s`, { hint: 'check the etcd logs; the member is NOT removed; run kadd remove --resume to retry' });
    if (l.id === victimId && l.endpoint && targetId) {
      try {
        ctx.io.log('info', `etcd: moving leadership from ${victimId} to ${targetId} (sent to the leader's endpoint ${l.endpoint})`);
        await etcdctl.moveLeader(targetId, l.endpoint);
        moved = true;
      } catch (e) {
        ctx.io.log('warn', `etcd move-leader: ${msg(e)}; reading the leader again`);
      }
    }
    await ctx.clock.sleep(pollMs, ctx.signal);
  }
}

/** Two surviving members report the same member list, without the victim, and all endpoints are healthy. */
export async function verifyMembership(etcdctl: Etcdctl, removedId: string | undefined): Promise<{ ok: boolean; problems: string[]; endpoints: string[] }> {
  const list = await etcdctl.memberList();
  const eps = list.members.filter((m) => m.clientURLs.length && !m.isLearner).map((m) => m.clientURLs[0]!).slice(0, 2);
  const problems: string[] = [];
  const views = await Promise.all(eps.map((ep) => etcdctl.memberListAt(ep).then((l) => l.members.map((m) => m.id).sort().join(','), (e) => `error: ${msg(e)}`)));
  if (eps.length >= 2 && views[0] !== views[1]) problems.push(`members disagree: ${eps[0]} sees [${views[0]}], ${eps[1]} sees [${views[1]}]`);
  if (removedId && views.some((v) => v.split(',').includes(removedId))) problems.push(`member ${removedId} is still listed`);
  const health = await etcdctl.endpointHealth();
  for (const h of health) if (!h.health) problems.push(`${h.endpoint} is unhealthy: ${h.error ?? '?'}`);
  return { ok: problems.length === 0, problems, endpoints: eps };
}

async function removeMaster(ctx: Context, req: RemoveRequest, kube: KubeApi, plan: RemovePlan, v: VictimPlan, access: EtcdAccess, deps: RemoveDeps, result: RemoveResult): Promise<VictimResult> {
  const vr: VictimResult = { name: v.name, outcome: 'removed', steps: [] };
  const j = deps.journal;
  const etcd = access.etcdctl;
  const pollMs = deps.pollIntervalMs;
  // --fix-stale: stale members first, one at a time, each behind a fresh gate
  if (req.fixStale) {
    for (const s of plan.etcd?.stale ?? []) {
      await j.intent('etcd-member', s.name || s.id, { remove: s.id, stale: true });
      await etcd.memberRemove(s.id);
      await j.undone('etcd-member', s.name || s.id, s.id);
      vr.steps.push(`stale member ${s.id} removed`);
    }
  }
  // snapshot before any membership change
  const snapPath = `${access.snapshotDir}/kadd-remove-${v.name}-${new Date(ctx.clock.now()).toISOString().replace(/[-:.]/g, '')}.db`;
  const snap = await journaled(j, 'snapshot', v.name, { path: snapPath, node: access.nodeName }, () => etcd.snapshotSave(snapPath));
  result.snapshot = `${access.nodeName}:${snap.path}`;
  vr.steps.push('snapshot');
  const memberId = v.etcd?.memberId;
  // a dead master: its member goes first (etcd FAQ), no real drain, no reset
  const removeMember = async () => {
    if (!memberId) return j.undone('etcd-member', v.name); // gone (a resume: the dead run removed it, unrecorded): close that intent
    if (!v.dead) {
      const moved = await journaled(j, 'leader-move', v.name, { memberId, target: plan.etcd?.leaderTarget?.id }, () =>
        ensureNotLeader(ctx, etcd, memberId, plan.etcd?.leaderTarget?.id, deps.leaderMoveTimeoutMs ?? 60_000, pollMs));
      if (moved) vr.steps.push(`leadership moved to ${plan.etcd?.leaderTarget?.name}`);
    }
    // re-check just before the removal (leadership may have come back), then remove through another member
    await j.intent('etcd-member', v.etcd!.memberName || v.name, { remove: memberId });
    await j.step('member-remove', v.name, 'start', { memberId, via: access.nodeName });
    if (!v.dead) await ensureNotLeader(ctx, etcd, memberId, plan.etcd?.leaderTarget?.id, deps.leaderMoveTimeoutMs ?? 60_000, pollMs);
    const g = await etcd.checkRemove(memberId);
    const gate = gateRemove(g.view, memberId, { allowSingleMaster: req.allowSingleMaster });
    const real = gate.blockers.filter((b) => b.code !== 'E_ETCD_MEMBER_NOT_FOUND');
    if (g.view.members.some((s) => s.member.id === memberId) && real.length) {
      throw new OperationError('E_ETCD_QUORUM_AT_RISK', `etcd refused at the last check: ${real.map((b) => b.message).join('; ')}`, { hint: 'nothing in etcd was changed; fix the members and run kadd remove --resume' });
    }
    const r = await etcd.memberRemove(memberId);
    await j.undone('etcd-member', v.etcd!.memberName || v.name, memberId);
    await j.step('member-remove', v.name, 'done', { removed: r.removed });
    vr.steps.push(r.removed ? `etcd member ${memberId} removed` : `etcd member ${memberId} already gone`);
    const ver = await journaled(j, 'verify', v.name, { removedId: memberId }, () => verifyMembership(etcd, memberId));
    if (!ver.ok) throw new OperationError('E_ETCD_VERIFY', `after removing ${memberId}: ${ver.problems.join('; ')}`, { hint: 'the member is removed; inspect etcd, then kadd remove --resume finishes the rest' });
    vr.steps.push(`verified from ${ver.endpoints.join(' and ')}`);
  };
  try {
    if (v.dead) await removeMember();
    if (!(await cordonAndDrain(ctx, kube, req, v, deps, vr))) return vr;
    // the API pool member leaves before the etcd member (the LB never routes to an apiserver whose etcd is gone)
    if (v.lbMember) {
      await j.intent('lb-member', v.name, { remove: true, poolId: v.lbMember.poolId, id: v.lbMember.memberId });
      const r = await deps.reapers.lbMember(v.name, v.lbMember.poolId, v.lbMember.memberId);
      await j.undone('lb-member', v.name, v.lbMember.memberId);
      vr.steps.push(`pool member ${r}`);
    } else await j.undone('lb-member', v.name); // gone (a resume: the dead run deleted it, unrecorded): close that intent
    if (!v.dead) await removeMember();
    if (!v.dead && deps.stopControlPlane) {
      const s = await journaled(j, 'stop-control-plane', v.name, { ip: v.ip }, () => deps.stopControlPlane!(v).catch((e) => `failed: ${msg(e)}`));
      if (s) vr.steps.push(`control plane: ${s}`);
      else result.warnings.push(`${v.name}: control plane not stopped (not reachable); its server is deleted next`);
    }
    await teardown(v, deps, vr);
    // cluster-info and kubeadm-config must point at the load balancer, not at the removed node
    await journaled(j, 'check-endpoints', v.name, { ip: v.ip }, async () => {
      const ci = await kube.readConfigMap('kube-public', 'cluster-info');
      const cc = await kube.getClusterConfiguration();
      const ep = String(cc?.controlPlaneEndpoint ?? '');
      const server = /server:\s*(\S+)/.exec(ci?.kubeconfig ?? '')?.[1] ?? '';
      for (const [what, val] of [['kube-public/cluster-info server', server], ['kubeadm-config controlPlaneEndpoint', ep]] as const) {
        if (v.ip && val.includes(v.ip)) result.warnings.push(`${what} is ${val}: it points at the removed master ${v.name}; point it at the load balancer (new joins would fail)`);
      }
    });
    ctx.io.log('info', `${v.name}: removed (${vr.steps.join(', ')})`);
  } catch (e) {
    if (ctx.signal.aborted) throw e;
    vr.outcome = 'failed';
    vr.error = msg(e);
  }
  return vr;
}

export async function executeRemove(ctx: Context, req: RemoveRequest, obs: Observation, kube: KubeApi, deps: RemoveDeps): Promise<RemoveResult> {
  const started = ctx.clock.now();
  const plan = obs.plan;
  const result: RemoveResult = { cluster: plan.cluster, role: plan.role, removed: [], victims: [], warnings: [...plan.warnings], durationMs: 0 };
  // every victim is recorded before anything is touched: an unfinished remove is visible to every other
  // command (one membership change at a time) and --resume knows what it was about
  for (const v of plan.victims) {
    if (v.serverId) await deps.journal.intent('server', v.name, { remove: true, id: v.serverId, ip: v.ip });
    if (v.node) await deps.journal.intent('node', v.node, { remove: true });
  }
  if (plan.role === 'master') {
    const v = plan.victims[0]!;
    const access = obs.etcd ?? (await deps.openEtcd([v.name]));
    result.membersBefore = plan.etcd?.members;
    const vr = await removeMaster(ctx, req, kube, plan, v, access, deps, result);
    result.victims.push(vr);
    result.membersAfter = await access.etcdctl.view().then((x) => memberTable(x), () => undefined);
  } else {
    const settled = await mapLimit(plan.victims, Math.max(1, req.concurrency), (v) => removeWorker(ctx, req, kube, v, deps));
    for (const [i, s] of settled.entries()) {
      result.victims.push(s.status === 'fulfilled' ? s.value : { name: plan.victims[i]!.name, outcome: 'failed', steps: [], error: msg(s.reason) });
    }
  }
  result.removed = result.victims.filter((x) => x.outcome === 'removed').map((x) => x.name);
  // a victim that stopped before anything of it was deleted (drain timeout, blocked pods) stays on purpose
  for (const vr of result.victims) {
    if (vr.outcome === 'removed' || vr.steps.some((s) => /deleted|removed|gone/.test(s))) continue;
    const v = plan.victims.find((x) => x.name === vr.name)!;
    if (v.serverId) await deps.journal.kept('server', v.name, v.serverId);
    if (v.node) await deps.journal.kept('node', v.node);
  }
  if (result.removed.length) {
    const changes: Record<string, number> = plan.role === 'master' ? { 'n-masters': Math.max(0, plan.config.nMasters - result.removed.length) } : { 'n-nodes': Math.max(0, plan.config.nNodes - result.removed.length) };
    result.updatedConfig = await deps.writeConfig(changes);
  }
  result.durationMs = ctx.clock.now() - started;
  return result;
}

export type { RemovePlan, RemoveRequest, VictimPlan, KNode };
