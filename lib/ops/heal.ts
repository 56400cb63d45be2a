/**
 * kadd heal: the I/O half. observe -> planHeal (pure, lib/ops/heal-plan.ts) -> (with --apply) journal every
 * decision -> for each chosen node: the reboot ladder (--reboot-first: SOFT, bounded wait for Ready, HARD,
 * bounded wait) -> replace through kadd replace's own run (lib/ops/replace-run.ts runReplace; surge for a
 * worker when the quota allows, otherwise remove-first; a dead master always remove-first) -> the retry
 * annotations on the replacement (or the rebooted node).
 *
 * On the engine's runner (lib/ops/engine/runner.ts): without --apply the dry run (no lock, the report);
 * with it the cluster file's lock is taken first and held from the decision through every replace, which
 * runs as replace's own verb with that lock handed in (`held`; each replace takes the cluster Lease for
 * itself). Another kadd holding the lock refuses heal before anything changes.
 */
import type { Context } from '../context.js';
import type { ClusterConfig } from '../config/types.js';
import type { KubeApi } from '../kube/types.js';
import { readJournal, type Journal } from '../journal/index.js';
import type { OpenStackClient } from '../openstack/types.js';
import { latestRoll } from './replace-roll.js';
import {
  HEAL_LAST_ANNOTATION, HEAL_RETRIES_ANNOTATION, planHeal, type HealDecision, type HealPlan, type HealRequest,
} from './heal-plan.js';
import { observeHeal, type HealObservation } from './heal-observe.js';
import { NodeStages, type NodeOutcome, type StageRecord } from './engine/events.js';
import { runOperation, type HeldLocks } from './engine/runner.js';
import type { ReplaceRunOptions } from './replace-run.js';

export interface HealRunOptions {
  apply: boolean;
  /** bound of each wait for Ready after a reboot */
  rebootWaitMs: number;
  pollIntervalMs: number;
  adderImage?: string;
  /** --soak: seconds a surged replacement must stay Ready before the old node goes (as kadd replace) */
  soakSeconds: number;
  /** --resume: finish any unfinished kadd replace first (without it: only one an earlier heal started and that died) */
  resume?: boolean;
  /** --allow-adder: the report may create the master-adder to read etcd (--apply always may) */
  allowAdder?: boolean;
  /** what runReplace needs (timings, drain, config argument) */
  replace: Omit<ReplaceRunOptions, 'dryRun' | 'resume' | 'yes' | 'interactive'>;
}

export interface HealOutcome {
  node: string; action: string; outcome: 'recovered' | 'replaced' | 'failed'; replacement?: string; cause?: string;
  /** the reboot stages, or the replace step's stages (-f json: healNodeOutcomes) */
  stages?: StageRecord[];
}

export interface HealRun { plan: HealPlan; errors: string[]; outcomes: HealOutcome[] }

const msg = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** Wait (bounded) for the Node to be Ready; true when it is. */
async function waitReady(ctx: Context, kube: KubeApi, name: string, ms: number, pollMs: number): Promise<boolean> {
  const end = ctx.clock.now() + ms;
  while (ctx.clock.now() < end) {
    const n = await kube.getNode(name).catch(() => null);
    if (n?.ready) return true;
    await ctx.clock.sleep(Math.min(pollMs, Math.max(1, end - ctx.clock.now())), ctx.signal);
  }
  return false;
}

const annotate = (ctx: Context, kube: KubeApi, node: string, retries: number) =>
  kube.annotateNode(node, { [HEAL_LAST_ANNOTATION]: new Date(ctx.clock.now()).toISOString(), [HEAL_RETRIES_ANNOTATION]: String(retries) });

/**
 * The unfinished kadd replace to finish before healing, if any: with --resume any unfinished one; without, one
 * that an earlier heal handed a node to (its begin record lists the node among its actions) and that died
 * (kill -9, Ctrl-C). A replace that ended failed is left to a human or --resume (it may fail again).
 */
async function pendingRoll(cfg: string, resumeAny: boolean): Promise<string | undefined> {
  const { records } = await readJournal(cfg);
  const roll = latestRoll(records);
  if (!roll || roll.finished) return undefined;
  const target = (roll.args.request as { target?: string } | undefined)?.target;
  if (resumeAny) return target ?? roll.roll;
  if (roll.lastStatus !== 'unterminated' && roll.lastStatus !== 'interrupted') return undefined;
  const first = records.findIndex((r) => r.t === 'begin' && r.op === roll.ops[0]);
  const byHeal = records.slice(0, first).some((r) => r.t === 'begin' && r.command === 'heal' && Array.isArray(r.args.actions) && target !== undefined && (r.args.actions as string[]).includes(target));
  return byHeal ? target : undefined;
}

export async function runHeal(ctx: Context, config: ClusterConfig, req: HealRequest, o: HealRunOptions): Promise<HealRun> {
  const { runReplace } = await import('./replace-run.js');
  const outcomes: HealOutcome[] = [];
  let held: HeldLocks = {};
  let pending: string | undefined;
  let clients: { os: OpenStackClient; kube: KubeApi } | undefined;
  let observed!: HealObservation;
  const quotaShort: string[] = [];
  // what a resume finished counts against --max-in-flight
  const inFlight = () => outcomes.filter((x) => x.outcome === 'replaced').length;
  // a worker surges only when the quota allows one more like it: replace's own dry run says so
  const replaceReq = (d: HealDecision, surge: boolean) => ({ target: d.name, all: false, surge, maxSurge: 1, maxUnavailable: 0, maxFailures: 0, soakSeconds: o.soakSeconds });
  const planOf = (obs: HealObservation) => planHeal(req, { ...obs, ...(inFlight() ? { inFlight: inFlight() } : {}), ...(quotaShort.length ? { surgeQuota: false, machines: obs.machines } : {}) });
  // replace's own verb, under heal's file lock (held from the decision through the replace: no other kadd slips in)
  const replace = (r: ReturnType<typeof replaceReq> | undefined) => runReplace(ctx, config, r, { ...o.replace, dryRun: false, resume: !r, yes: true, interactive: false, held: { fileLock: held.fileLock } });

  // without --apply the runner's dry run: no lock, no journal, the report only
  const run = await runOperation<HealObservation, HealPlan, HealOutcome[]>(ctx, {
    command: 'heal',
    clusterFile: config.file,
    dryRun: !o.apply,
    onLocked: (h) => {
      held = h;
    },
    async unfinished() {
      // a replace an earlier heal started and that died (kill -9): finished first (observe), under this run's lock
      if (o.apply) pending = await pendingRoll(config.file, !!o.resume);
    },
    async connect(c) {
      const [os, kube] = await Promise.all([c.openstack(), c.kube()]);
      clients = { os, kube };
    },
    async observe(c) {
      const { os, kube } = clients!;
      if (pending) {
        c.io.log('info', `finishing the kadd replace of ${pending} that an earlier run left unfinished`);
        try {
          const r = await replace(undefined);
          for (const st of r.roll?.steps ?? []) {
            if (st.outcome === 'replaced' && st.new) await annotate(c, kube, st.new, 0).catch((e) => c.io.log('warn', `annotating ${st.new}: ${msg(e)}`));
            outcomes.push({ node: st.old, action: 'resume replace', outcome: st.outcome === 'replaced' ? 'replaced' : 'failed', stages: st.stages ?? [], ...(st.new ? { replacement: st.new } : {}), ...(st.outcome === 'replaced' ? {} : { cause: st.cause ?? r.roll?.aborted ?? 'not replaced' }) });
          }
        } catch (e) {
          outcomes.push({ node: pending, action: 'resume replace', outcome: 'failed', cause: msg(e) });
        }
      }
      observed = await observeHeal(c, config, os, kube, { adderImage: o.adderImage, pollIntervalMs: o.pollIntervalMs, readEtcd: o.apply || !!o.allowAdder, holdsLock: o.apply });
      const first = planOf(observed);
      for (const name of first.actions) {
        const d = first.decisions.find((x) => x.name === name)!;
        if (d.role !== 'node' || d.strategy !== 'surge') continue;
        try {
          const dry = await runReplace(c, config, replaceReq(d, true), { ...o.replace, dryRun: true, resume: false, yes: true, interactive: false });
          if (dry.plan.blockers.some((b) => /^quota:/.test(b))) quotaShort.push(name);
        } catch (e) {
          observed.errors.push(`replace plan for ${name}: ${msg(e)}`);
        }
      }
      return observed;
    },
    plan: planOf,
    // a healthy cluster: nothing to record (a wait, a refusal or a deferral is journaled with its reason)
    isEmpty: (plan) => plan.decisions.every((d) => d.action === 'none'),
    journalArgs: (plan) => ({ config: config.file, request: req, now: plan.now, actions: plan.actions }),
    async execute(c, plan, journal) {
      for (const d of plan.decisions) await journal.step('heal-decision', d.name, d.action === 'none' ? 'skipped' : 'done', { action: d.action, reason: d.reason, detail: d.detail, problems: d.problems, ...(d.strategy ? { strategy: d.strategy } : {}) });
      const toReplace: HealDecision[] = [];
      for (const name of plan.actions) {
        const d = plan.decisions.find((x) => x.name === name)!;
        const m = observed.machines.find((x) => x.name === name)!;
        const stages = new NodeStages(c.io, c.clock, name);
        if (d.action === 'reboot-then-replace' && m.server && await rebootLadder(c, clients!, journal, d, m.server.id, stages, o)) {
          await annotate(c, clients!.kube, name, d.retries ?? 0);
          outcomes.push({ node: name, action: 'reboot', outcome: 'recovered', stages: stages.records });
          continue;
        }
        toReplace.push(d);
      }
      // heal's operation ends first (one operation per command in the journal); the lock stays held, handed to replace
      await journal.end('ok');
      for (const d of toReplace) {
        const surge = d.strategy === 'surge' && !quotaShort.includes(d.name);
        const action = `replace ${surge ? 'surge' : 'remove-first'}`;
        try {
          const r = await replace(replaceReq(d, surge));
          const step = r.roll?.steps.find((s) => s.old === d.name);
          const stages = step?.stages ?? [];
          if (step?.outcome === 'replaced') {
            if (step.new) await annotate(c, clients!.kube, step.new, d.retries ?? 0).catch((e) => c.io.log('warn', `annotating ${step.new}: ${msg(e)}`));
            outcomes.push({ node: d.name, action, outcome: 'replaced', stages, ...(step.new ? { replacement: step.new } : {}) });
          } else {
            outcomes.push({ node: d.name, action, outcome: 'failed', stages, cause: step?.cause ?? r.roll?.aborted ?? 'not replaced' });
          }
        } catch (e) {
          outcomes.push({ node: d.name, action, outcome: 'failed', cause: msg(e) });
        }
      }
      return outcomes;
    },
    // heal's own operation ended ok before the replaces (each replace journals its own end)
    status: () => 'ok',
  });
  return { plan: run.plan, errors: observed?.errors ?? [], outcomes };
}

/** The reboot ladder (--reboot-first: SOFT, bounded wait for Ready, HARD, bounded wait); true when the node came back. */
async function rebootLadder(
  ctx: Context, { os, kube }: { os: OpenStackClient; kube: KubeApi }, journal: Journal, d: HealDecision, serverId: string, stages: NodeStages, o: HealRunOptions,
): Promise<boolean> {
  for (const type of d.reboots ?? ['SOFT', 'HARD']) {
    const stage = `reboot-${type.toLowerCase()}`;
    await journal.step('heal-reboot', d.name, 'start', { type });
    stages.start(stage);
    try {
      await os.compute.rebootServer(serverId, type);
    } catch (e) {
      await journal.step('heal-reboot', d.name, 'done', { type, error: msg(e) });
      stages.failed(stage, `refused: ${msg(e)}`);
      ctx.io.log('warn', `${d.name}: ${type} reboot refused: ${msg(e)}`);
      continue;
    }
    ctx.io.log('info', `${d.name}: ${type} reboot; waiting up to ${Math.round(o.rebootWaitMs / 1000)}s for Ready`);
    const ready = await waitReady(ctx, kube, d.name, o.rebootWaitMs, o.pollIntervalMs);
    await journal.step('heal-reboot', d.name, 'done', { type, ready });
    if (ready) {
      stages.done(stage, 'Ready again');
      return true;
    }
    stages.failed(stage, `not Ready after ${Math.round(o.rebootWaitMs / 1000)}s`);
  }
  return false;
}

/** Pure: heal's outcomes as the engine's NodeOutcome (recovered -> kept, replaced (by), failed (error)), with heal's action. */
export function healNodeOutcomes(outcomes: HealOutcome[]): (NodeOutcome & { action: string })[] {
  return outcomes.map((x) => {
    const base = { node: x.node, action: x.action, stages: x.stages ?? [] };
    if (x.outcome === 'recovered') return { ...base, outcome: 'kept', reason: 'recovered after a reboot' };
    if (x.outcome === 'replaced') return { ...base, outcome: 'replaced', ...(x.replacement ? { by: x.replacement } : {}) };
    return { ...base, outcome: 'failed', error: x.cause ?? 'failed' };
  });
}
