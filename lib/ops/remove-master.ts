/**
 * `kadd remove` of one master: etcd snapshot -> cordon/drain -> API pool member out -> etcd leadership
 * moved away (re-checked just before) -> member remove by id through another member -> verify from two
 * surviving members -> stop the victim's control plane if reachable -> server, volume, port -> Node ->
 * cluster-info / kubeadm-config checked. A dead master: its member goes first, no real drain, no reset.
 */
import type { Context } from '../context.js';
import type { KubeApi } from '../kube/types.js';
import { OperationError } from '../errors.js';
import { gateRemove } from '../etcd/quorum.js';
import type { Etcdctl } from '../etcd/etcdctl.js';
import type { EtcdAccess } from './master-etcd.js';
import type { NodeStages } from './engine/events.js';
import { cordonAndDrain, journaled, msg, runVictim, teardown, type RemoveDeps, type RemoveResult, type VictimResult } from './remove-steps.js';
import type { RemovePlan, RemoveRequest, VictimPlan } from './remove-plan.js';

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

export async function removeMaster(ctx: Context, req: RemoveRequest, kube: KubeApi, plan: RemovePlan, v: VictimPlan, access: EtcdAccess, deps: RemoveDeps, result: RemoveResult, st: NodeStages): Promise<VictimResult> {
  const j = deps.journal;
  const etcd = access.etcdctl;
  const pollMs = deps.pollIntervalMs;
  const memberId = v.etcd?.memberId;
  // before the victim's own steps, and fatal for the whole run when they fail: --fix-stale (stale members
  // first, one at a time, each behind a fresh gate), then the snapshot before any membership change
  const before = async (vr: VictimResult) => {
    if (req.fixStale) {
      for (const s of plan.etcd?.stale ?? []) {
        await st.run('stale-member', async () => {
          await j.intent('etcd-member', s.name || s.id, { remove: s.id, stale: true });
          await etcd.memberRemove(s.id);
          await j.undone('etcd-member', s.name || s.id, s.id);
        }, () => s.id);
        vr.steps.push(`stale member ${s.id} removed`);
      }
    }
    const snapPath = `${access.snapshotDir}/kadd-remove-${v.name}-${new Date(ctx.clock.now()).toISOString().replace(/[-:.]/g, '')}.db`;
    const snap = await journaled(j, 'snapshot', v.name, { path: snapPath, node: access.nodeName }, () => etcd.snapshotSave(snapPath), undefined, st, (x) => `${access.nodeName}:${x.path}`);
    result.snapshot = `${access.nodeName}:${snap.path}`;
    vr.steps.push('snapshot');
  };
  // a dead master: its member goes first (etcd FAQ), no real drain, no reset
  const removeMember = async (vr: VictimResult) => {
    if (!memberId) {
      st.skipped('etcd-member', 'no etcd member');
      return j.undone('etcd-member', v.name); // gone (a resume: the dead run removed it, unrecorded): close that intent
    }
    if (!v.dead) {
      const moved = await journaled(j, 'leader-move', v.name, { memberId, target: plan.etcd?.leaderTarget?.id }, () =>
        ensureNotLeader(ctx, etcd, memberId, plan.etcd?.leaderTarget?.id, deps.leaderMoveTimeoutMs ?? 60_000, pollMs), undefined, st, (m) => (m ? `to ${plan.etcd?.leaderTarget?.name}` : 'not the leader'));
      if (moved) vr.steps.push(`leadership moved to ${plan.etcd?.leaderTarget?.name}`);
    }
    st.start('etcd-member', memberId);
    // re-check just before the removal (leadership may have come back), then remove through another member
    await j.intent('etcd-member', v.etcd!.memberName || v.name, { remove: memberId });
    await j.step('member-remove', v.name, 'start', { memberId, via: access.nodeName });
    if (!v.dead) await ensureNotLeader(ctx, etcd, memberId, plan.etcd?.leaderTarget?.id, deps.leaderMoveTimeoutMs ?? 60_000, pollMs);
    const g = await etcd.checkRemove(memberId);
    const gate = gateRemove(g.view, memberId, { allowSingleMaster: req.allowSingleMaster });
    const real = gate.blockers.filter((b) => b.code !== 'E_ETCD_MEMBER_NOT_FOUND');
    if (g.view.members.some((s) => s.member.id === memberId) && real.length) {
      st.failed('etcd-member', 'refused at the last quorum check');
      throw new OperationError('E_ETCD_QUORUM_AT_RISK', `etcd refused at the last check: ${real.map((b) => b.message).join('; ')}`, { hint: 'nothing in etcd was changed; fix the members and run kadd remove --resume' });
    }
    const r = await etcd.memberRemove(memberId).catch((e) => {
      st.failed('etcd-member', msg(e));
      throw e;
    });
    await j.undone('etcd-member', v.etcd!.memberName || v.name, memberId);
    await j.step('member-remove', v.name, 'done', { removed: r.removed });
    st.done('etcd-member', r.removed ? 'removed' : 'already gone');
    vr.steps.push(r.removed ? `etcd member ${memberId} removed` : `etcd member ${memberId} already gone`);
    const ver = await journaled(j, 'verify', v.name, { removedId: memberId }, () => verifyMembership(etcd, memberId), undefined, st, (x) => (x.ok ? `from ${x.endpoints.join(' and ')}` : x.problems.join('; ')));
    if (!ver.ok) throw new OperationError('E_ETCD_VERIFY', `after removing ${memberId}: ${ver.problems.join('; ')}`, { hint: 'the member is removed; inspect etcd, then kadd remove --resume finishes the rest' });
    vr.steps.push(`verified from ${ver.endpoints.join(' and ')}`);
  };
  return runVictim(ctx, v, st, async (vr) => {
    if (v.dead) await removeMember(vr);
    if (!(await cordonAndDrain(ctx, kube, req, v, deps, vr, st))) return false;
    // the API pool member leaves before the etcd member (the LB never routes to an apiserver whose etcd is gone)
    if (v.lbMember) {
      const lb = v.lbMember;
      const r = await st.run('lb-member', async () => {
        await j.intent('lb-member', v.name, { remove: true, poolId: lb.poolId, id: lb.memberId });
        const x = await deps.reapers.lbMember(v.name, lb.poolId, lb.memberId);
        await j.undone('lb-member', v.name, lb.memberId);
        return x;
      }, (x) => `pool member ${x}`);
      vr.steps.push(`pool member ${r}`);
    } else {
      st.skipped('lb-member', 'not in the API pool');
      await j.undone('lb-member', v.name); // gone (a resume: the dead run deleted it, unrecorded): close that intent
    }
    if (!v.dead) await removeMember(vr);
    if (!v.dead && deps.stopControlPlane) {
      const s = await journaled(j, 'stop-control-plane', v.name, { ip: v.ip }, () => deps.stopControlPlane!(v).catch((e) => `failed: ${msg(e)}`), undefined, st, (x) => x ?? 'not reachable');
      if (s) vr.steps.push(`control plane: ${s}`);
      else result.warnings.push(`${v.name}: control plane not stopped (not reachable); its server is deleted next`);
    }
    await teardown(v, deps, vr, st);
    // cluster-info and kubeadm-config must point at the load balancer, not at the removed node
    await journaled(j, 'check-endpoints', v.name, { ip: v.ip }, async () => {
      const ci = await kube.readConfigMap('kube-public', 'cluster-info');
      const cc = await kube.getClusterConfiguration();
      const ep = String(cc?.controlPlaneEndpoint ?? '');
      const server = /server:\s*(\S+)/.exec(ci?.kubeconfig ?? '')?.[1] ?? '';
      for (const [what, val] of [['kube-public/cluster-info server', server], ['kubeadm-config controlPlaneEndpoint', ep]] as const) {
        if (v.ip && val.includes(v.ip)) result.warnings.push(`${what} is ${val}: it points at the removed master ${v.name}; point it at the load balancer (new joins would fail)`);
      }
    }, undefined, st);
  }, before);
}
