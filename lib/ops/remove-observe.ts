/**
 * `kadd remove`, observe and plan: one look at the cluster (servers, Nodes, PDBs, drain previews, the API
 * pool, etcd gates for a master) -> the RemovePlan (lib/ops/remove-plan.ts holds the pure parts).
 */
import type { Context } from '../context.js';
import type { ClusterConfig } from '../config/types.js';
import type { KPdb, KPod, KubeApi } from '../kube/types.js';
import type { LoadBalancer, Member, OpenStackClient, Server } from '../openstack/types.js';
import { previewDrain } from '../kube/drain.js';
import { gateRemove } from '../etcd/quorum.js';
import { findStale, memberMatchesNode, memberTable, withoutMembers, type EtcdAccess } from './master-etcd.js';
import { firstIp } from './add-workers.js';
import { indexOf, roleNamePattern, type Role } from './naming.js';
import { msg, type RemoveDeps } from './remove-steps.js';
import {
  assessDrain, candidatesOf, checkCapacity, deadReason, evictedPods, selectVictims,
  type RemovePlan, type RemoveRequest, type VictimPlan,
} from './remove-plan.js';

export interface Observation {
  plan: RemovePlan;
  /** kept open for execution (masters) */
  etcd?: EtcdAccess;
  pdbs: KPdb[];
}

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
