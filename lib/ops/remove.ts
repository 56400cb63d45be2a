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
 *
 * Files: remove-observe.ts (observe + plan), remove-steps.ts (the steps both roles share and the one victim
 * epilogue, runVictim), remove-master.ts (the etcd-aware master path), this file (workers, executeRemove).
 */
import type { Context } from '../context.js';
import type { KNode, KubeApi } from '../kube/types.js';
import { memberTable } from './master-etcd.js';
import { mapLimit } from './poll.js';
import { NodeStages } from './engine/events.js';
import { cordonAndDrain, msg, outcomeOf, runVictim, teardown, type RemoveDeps, type RemoveResult, type VictimResult } from './remove-steps.js';
import { removeMaster, verifyMembership } from './remove-master.js';
import type { Observation } from './remove-observe.js';
import type { RemovePlan, RemoveRequest, VictimPlan } from './remove-plan.js';

export { observeAndPlan, type Observation } from './remove-observe.js';
export { verifyMembership };
export type { RemoveDeps, RemoveResult, StepJournal, VictimResult } from './remove-steps.js';

async function removeWorker(ctx: Context, req: RemoveRequest, kube: KubeApi, v: VictimPlan, deps: RemoveDeps, st: NodeStages): Promise<VictimResult> {
  return runVictim(ctx, v, st, async (vr) => {
    if (!(await cordonAndDrain(ctx, kube, req, v, deps, vr, st))) return false;
    await teardown(v, deps, vr, st);
  });
}

export async function executeRemove(ctx: Context, req: RemoveRequest, obs: Observation, kube: KubeApi, deps: RemoveDeps): Promise<RemoveResult> {
  const started = ctx.clock.now();
  const plan = obs.plan;
  const result: RemoveResult = { cluster: plan.cluster, role: plan.role, removed: [], victims: [], outcomes: [], warnings: [...plan.warnings], durationMs: 0 };
  const stages = new Map(plan.victims.map((v) => [v.name, new NodeStages(ctx.io, ctx.clock, v.name)]));
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
    const vr = await removeMaster(ctx, req, kube, plan, v, access, deps, result, stages.get(v.name)!);
    result.victims.push(vr);
    result.membersAfter = await access.etcdctl.view().then((x) => memberTable(x), () => undefined);
  } else {
    const settled = await mapLimit(plan.victims, Math.max(1, req.concurrency), (v) => removeWorker(ctx, req, kube, v, deps, stages.get(v.name)!));
    for (const [i, s] of settled.entries()) {
      result.victims.push(s.status === 'fulfilled' ? s.value : { name: plan.victims[i]!.name, outcome: 'failed', steps: [], error: msg(s.reason) });
    }
  }
  result.removed = result.victims.filter((x) => x.outcome === 'removed').map((x) => x.name);
  result.outcomes = result.victims.map((vr) => outcomeOf(vr, stages.get(vr.name)));
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
