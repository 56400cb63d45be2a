/**
 * The steps a `kadd remove` victim goes through, shared by workers (lib/ops/remove.ts) and masters
 * (lib/ops/remove-master.ts): the journaled step and its lifecycle stage, the victim epilogue (`runVictim`),
 * cordon + drain + volume detach, and the teardown (server, volume, port, then the Node).
 */
import type { Context } from '../context.js';
import type { KubeApi } from '../kube/types.js';
import { drainNode, waitVolumeAttachmentsGone, type DrainResult } from '../kube/drain.js';
import type { RemoveReapers } from './remove-reapers.js';
import type { EtcdAccess, MemberRow } from './master-etcd.js';
import type { Role } from './naming.js';
import type { NodeOutcome, NodeStages } from './engine/events.js';
import type { RemoveRequest, VictimPlan } from './remove-plan.js';

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

export const msg = (e: unknown) => (e instanceof Error ? e.message : String(e));

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
  /** per node: what happened and the stages it went through (docs/schemas/remove-result.json) */
  outcomes: NodeOutcome[];
  membersBefore?: MemberRow[];
  membersAfter?: MemberRow[];
  snapshot?: string;
  updatedConfig?: string;
  warnings: string[];
  durationMs: number;
}
/** A journaled step, and (with `st`) the lifecycle stage of the same name: start -> fn -> done, or failed. */
export async function journaled<T>(j: StepJournal, step: string, node: string, inputs: Record<string, unknown>, fn: () => Promise<T>, done?: (r: T) => Record<string, unknown> | undefined, st?: NodeStages, detail?: (r: T) => string | undefined): Promise<T> {
  const body = async () => {
    await j.step(step, node, 'start', inputs);
    const r = await fn();
    await j.step(step, node, 'done', done?.(r));
    return r;
  };
  return st ? st.run(step, body, detail) : body();
}

/** The lifecycle stage that spans a victim's whole removal (the TTY renderer closes the node's line on it). */
export const ROOT = 'remove';

export function outcomeOf(vr: VictimResult, st: NodeStages | undefined): NodeOutcome {
  const stages = st?.through(ROOT) ?? [];
  if (vr.outcome === 'removed') return { node: vr.name, outcome: 'removed', stages };
  if (vr.outcome === 'drain-timeout') return { node: vr.name, outcome: 'kept', stages, reason: vr.error ?? 'drain timed out' };
  const stage = st?.through(ROOT).reverse().find((r) => r.state === 'failed')?.stage;
  return { node: vr.name, outcome: 'failed', stages, error: vr.error ?? 'failed', ...(stage ? { stage } : {}) };
}

/**
 * One victim's removal, the epilogue written once for workers and masters: the root stage spans it;
 * `before` (masters: stale members, snapshot) fails the whole run when it throws; `body` returns false when
 * the victim stops on purpose (a drain that timed out: cordoned, kept); any other error makes the victim
 * `failed`; Ctrl-C is rethrown.
 */
export async function runVictim(
  ctx: Context,
  v: VictimPlan,
  st: NodeStages,
  body: (vr: VictimResult) => Promise<boolean | void>,
  before?: (vr: VictimResult) => Promise<void>,
): Promise<VictimResult> {
  const vr: VictimResult = { name: v.name, outcome: 'removed', steps: [] };
  st.start(ROOT);
  try {
    await before?.(vr);
  } catch (e) {
    st.failed(ROOT, msg(e));
    throw e;
  }
  try {
    if ((await body(vr)) !== false) ctx.io.log('info', `${v.name}: removed (${vr.steps.join(', ')})`);
  } catch (e) {
    if (ctx.signal.aborted) {
      st.failed(ROOT, 'interrupted');
      throw e;
    }
    vr.outcome = 'failed';
    vr.error = msg(e);
  }
  if (vr.outcome === 'removed') st.done(ROOT, vr.steps.join(', '));
  else st.failed(ROOT, vr.error ?? vr.outcome);
  return vr;
}

/** Drain (or unreachable-drain) a victim; false when the run must stop for it (node stays cordoned). */
export async function cordonAndDrain(ctx: Context, kube: KubeApi, req: RemoveRequest, v: VictimPlan, deps: RemoveDeps, vr: VictimResult, st: NodeStages): Promise<boolean> {
  if (!v.node || v.drainMode === 'none') {
    st.skipped('drain', 'no Node');
    return true;
  }
  const node = v.node;
  const present = await kube.getNode(node);
  if (!present) {
    st.skipped('drain', `the Node ${node} is gone`);
    return true;
  }
  await journaled(deps.journal, 'cordon', v.name, { node }, () => kube.cordonNode(node, true), undefined, st);
  vr.steps.push('cordoned');
  const progress = ctx.io.progress(`drain:${v.name}`, `${v.name}: draining`);
  let evicted = 0;
  st.start('drain', v.drainMode === 'unreachable' ? 'unreachable-node drain' : undefined);
  const d = await journaled(deps.journal, 'drain', v.name, { node, timeoutMs: req.drainTimeoutMs, unreachable: v.drainMode === 'unreachable', disableEviction: req.disableEviction }, () =>
    drainNode(kube, node, {
      deleteEmptyDirData: req.deleteEmptyDirData, force: req.force, disableEviction: req.disableEviction,
      timeoutMs: req.drainTimeoutMs, unreachable: v.drainMode === 'unreachable', clock: ctx.clock, signal: ctx.signal,
      pollIntervalMs: deps.pollIntervalMs, retryIntervalMs: deps.evictRetryMs ?? 5000,
      onEvent: (e) => {
        if (e.type === 'evicted' || e.type === 'deleted') progress.update(`${v.name}: ${++evicted} pod(s) evicted`);
        else if (e.type === 'blocked') {
          ctx.io.log('info', `${v.name}: eviction of ${e.pod} refused (${e.message}); retrying in ${Math.round(e.retryInMs / 1000)}s`);
          st.wait('drain', `eviction of ${e.pod} refused; retrying`);
        }
        else if (e.type === 'unreachable') ctx.io.log('warn', `${v.name}: the Node became unreachable: grace 1 s, pods terminating for more than 1 s are ignored`);
        else if (e.type === 'failed') ctx.io.log('error', `${v.name}: ${e.pod}: ${e.message}`);
      },
    }), (r) => ({ ok: r.ok, evicted: r.evicted.length, remaining: r.remaining.map((x) => x.pod) })).catch((e) => {
    st.failed('drain', msg(e));
    throw e;
  });
  vr.drain = { evicted: d.evicted, skipped: d.skipped, remaining: d.remaining, failed: d.failed, timedOut: d.timedOut, unreachable: d.unreachable, durationMs: d.durationMs };
  if (d.blocked.length) {
    progress.fail(`${v.name}: drain blocked`);
    vr.outcome = 'failed';
    vr.error = `pods need a flag: ${d.blocked.map((b) => `${b.pod} (${b.flag ?? b.reason})`).join(', ')}; the node stays cordoned`;
    st.failed('drain', vr.error);
    return false;
  }
  if (!d.ok) {
    const lines = d.remaining.map((r) => `${r.pod}: ${r.reason}${r.pdbs.length ? ` [PDB ${r.pdbs.join('; ')}]` : ''}`);
    if (req.onDrainTimeout === 'force' && !d.failed.length) {
      progress.warn(`${v.name}: drain timed out; --on-drain-timeout force: removing the node with ${d.remaining.length} pod(s) still on it`);
      ctx.io.log('warn', `${v.name}: still on the node: ${lines.join('; ')}`);
      st.done('drain', `timed out; --on-drain-timeout force: ${d.remaining.length} pod(s) left`);
      return true;
    }
    progress.fail(`${v.name}: drain ${d.timedOut ? 'timed out' : 'failed'}; the node stays cordoned, its server is kept`);
    vr.outcome = 'drain-timeout';
    vr.error = `${d.timedOut ? `drain timed out after ${Math.round(req.drainTimeoutMs / 1000)}s` : 'drain failed'}; still on the node: ${lines.join('; ')}`;
    st.failed('drain', vr.error);
    return false;
  }
  progress.succeed(`${v.name}: drained (${d.evicted.length} evicted, ${d.skipped.length} skipped)`);
  st.done('drain', `${d.evicted.length} evicted, ${d.skipped.length} skipped`);
  vr.steps.push('drained');
  if (v.drainMode === 'normal') {
    const va = await journaled(deps.journal, 'volume-detach', v.name, { node, timeoutMs: deps.volumeDetachTimeoutMs ?? 300_000 }, () =>
      waitVolumeAttachmentsGone(kube, node, { timeoutMs: deps.volumeDetachTimeoutMs ?? 300_000, pollIntervalMs: deps.pollIntervalMs, clock: ctx.clock, signal: ctx.signal }),
    undefined, st, (r) => (r.ok ? undefined : `still attached: ${r.remaining.join(', ')}`));
    if (!va.ok) {
      if (req.onDrainTimeout !== 'force') {
        vr.outcome = 'drain-timeout';
        vr.error = `volumes still attached to ${node}: ${va.remaining.join(', ')}; the node stays cordoned, its server is kept (--on-drain-timeout force removes it anyway)`;
        return false;
      }
      ctx.io.log('warn', `${v.name}: volumes still attached (${va.remaining.join(', ')}); --on-drain-timeout force: deleting the server anyway`);
    } else vr.steps.push('volumes detached');
  } else st.skipped('volume-detach', 'the Node is unreachable');
  return true;
}

/** server (wait gone) -> volume -> port -> Node: the Node last, so the kubelet cannot register it again. */
export async function teardown(v: VictimPlan, deps: RemoveDeps, vr: VictimResult, st: NodeStages): Promise<void> {
  const j = deps.journal;
  const vol = `${v.name}-root`;
  const port = `${v.name}-port-0`;
  st.start('server', v.serverId);
  // every input journaled before the deletes run (a crash in between: --resume finds them by id/name)
  if (v.serverId) await j.intent('server', v.name, { remove: true, id: v.serverId });
  await j.intent('volume', vol, { remove: true });
  await j.intent('port', port, { remove: true });
  await j.step('teardown', v.name, 'start', { serverId: v.serverId, volume: vol, port, ip: v.ip });
  const r = await deps.reapers.host(v.name, v.serverId, v.ip).catch((e) => {
    st.failed('server', msg(e));
    throw e;
  });
  if (v.serverId) await j.undone('server', v.name, v.serverId);
  await j.undone('volume', vol);
  await j.undone('port', port);
  await j.step('teardown', v.name, 'done', { server: r.server?.state, volume: r.volume, port: r.port });
  if (r.server) vr.steps.push(`server ${r.server.state}`);
  if (r.volume === 'deleted') vr.steps.push('volume deleted');
  if (r.port === 'deleted') vr.steps.push('port deleted');
  st.done('server', `server ${r.server?.state ?? 'none'}, volume ${r.volume}, port ${r.port}`);
  const node = v.node ?? v.name;
  const rn = await st.run('node', async () => {
    await j.intent('node', node, { remove: true });
    const x = await deps.reapers.node(node);
    await j.undone('node', node);
    return x;
  }, (x) => `Node ${x}`);
  vr.steps.push(`Node ${rn}`);
}
