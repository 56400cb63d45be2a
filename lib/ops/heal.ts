/**
 * kadd heal: the I/O half. observe -> planHeal (pure, lib/ops/heal-plan.ts) -> (with --apply) journal every
 * decision -> for each chosen node: the reboot ladder (--reboot-first: SOFT, bounded wait for Ready, HARD,
 * bounded wait) -> replace through kadd replace's own run (lib/ops/replace-run.ts runReplace; surge for a
 * worker when the quota allows, otherwise remove-first; a dead master always remove-first) -> the retry
 * annotations on the replacement (or the rebooted node).
 *
 * Locking: the journal's lock (Journal.open) is held while heal records its decisions and reboots; the
 * replace run takes it again for itself. Another kadd holding it refuses heal before anything changes.
 */
import type { Context } from '../context.js';
import type { ClusterConfig } from '../config/types.js';
import type { KubeApi } from '../kube/types.js';
import { Journal, lockClusterFile, readJournal, type FileLock } from '../journal/index.js';
import type { OpenStackClient } from '../openstack/types.js';
import { latestRoll } from './replace-roll.js';
import {
  HEAL_LAST_ANNOTATION, HEAL_RETRIES_ANNOTATION, planHeal, type HealDecision, type HealPlan, type HealRequest,
} from './heal-plan.js';
import { observeHeal } from './heal-observe.js';
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

export interface HealOutcome { node: string; action: string; outcome: 'recovered' | 'replaced' | 'failed'; replacement?: string; cause?: string }

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
  const [os, kube] = await Promise.all([ctx.openstack(), ctx.kube()]);
  // the lock first: another kadd on this cluster file refuses heal before it reads or changes anything; it is held
  // from the decision through the replace (handed to it), so no other kadd slips in between
  const lock = o.apply ? await lockClusterFile(config.file, { now: () => ctx.clock.now() }) : undefined;
  try {
    return await healUnderLock(ctx, config, req, o, os, kube, lock);
  } finally {
    await lock?.release();
  }
}

async function healUnderLock(ctx: Context, config: ClusterConfig, req: HealRequest, o: HealRunOptions, os: OpenStackClient, kube: KubeApi, lock: FileLock | undefined): Promise<HealRun> {
  const { runReplace } = await import('./replace-run.js');
  const outcomes: HealOutcome[] = [];
  // a replace an earlier heal started and that died (kill -9): finished first, under this run's lock
  const pending = lock ? await pendingRoll(config.file, !!o.resume) : undefined;
  if (pending) {
    ctx.io.log('info', `finishing the kadd replace of ${pending} that an earlier run left unfinished`);
    try {
      const run = await runReplace(ctx, config, undefined, { ...o.replace, dryRun: false, resume: true, yes: true, interactive: false, heldLock: lock });
      for (const st of run.roll?.steps ?? []) {
        if (st.outcome === 'replaced' && st.new) await annotate(ctx, kube, st.new, 0).catch((e) => ctx.io.log('warn', `annotating ${st.new}: ${msg(e)}`));
        outcomes.push({ node: st.old, action: 'resume replace', outcome: st.outcome === 'replaced' ? 'replaced' : 'failed', ...(st.new ? { replacement: st.new } : {}), ...(st.outcome === 'replaced' ? {} : { cause: st.cause ?? run.roll?.aborted ?? 'not replaced' }) });
      }
    } catch (e) {
      outcomes.push({ node: pending, action: 'resume replace', outcome: 'failed', cause: msg(e) });
    }
  }
  const journal = lock ? await Journal.open(config.file, { now: () => ctx.clock.now(), heldLock: lock }) : undefined;
  const observed = await observeHeal(ctx, config, os, kube, { adderImage: o.adderImage, pollIntervalMs: o.pollIntervalMs, readEtcd: o.apply || !!o.allowAdder, holdsLock: !!journal }).catch(async (e) => {
    await journal?.close();
    throw e;
  });
  // what a resume finished counts against --max-in-flight
  const inFlight = outcomes.filter((x) => x.outcome === 'replaced').length;
  let plan = planHeal(req, { ...observed, ...(inFlight ? { inFlight } : {}) });
  // a worker surges only when the quota allows one more like it: replace's own dry run says so
  const replaceReq = (d: HealDecision, surge: boolean) => ({ target: d.name, all: false, surge, maxSurge: 1, maxUnavailable: 0, maxFailures: 0, soakSeconds: o.soakSeconds });
  const quotaShort: string[] = [];
  for (const name of plan.actions) {
    const d = plan.decisions.find((x) => x.name === name)!;
    if (d.role !== 'node' || d.strategy !== 'surge') continue;
    try {
      const dry = await runReplace(ctx, config, replaceReq(d, true), { ...o.replace, dryRun: true, resume: false, yes: true, interactive: false });
      if (dry.plan.blockers.some((b) => /^quota:/.test(b))) quotaShort.push(name);
    } catch (e) {
      observed.errors.push(`replace plan for ${name}: ${msg(e)}`);
    }
  }
  if (quotaShort.length) plan = planHeal(req, { ...observed, ...(inFlight ? { inFlight } : {}), surgeQuota: false, machines: observed.machines });
  if (!o.apply || !journal) return { plan, errors: observed.errors, outcomes };

  let status: 'ok' | 'failed' | 'interrupted' = 'failed';
  let ended = false;
  try {
    await journal.begin({ command: 'heal', args: { config: config.file, request: req, now: plan.now, actions: plan.actions } });
    for (const d of plan.decisions) await journal.step('heal-decision', d.name, d.action === 'none' ? 'skipped' : 'done', { action: d.action, reason: d.reason, detail: d.detail, problems: d.problems, ...(d.strategy ? { strategy: d.strategy } : {}) });
    const toReplace: HealDecision[] = [];
    for (const name of plan.actions) {
      const d = plan.decisions.find((x) => x.name === name)!;
      const m = observed.machines.find((x) => x.name === name)!;
      if (d.action === 'reboot-then-replace' && m.server) {
        let recovered = false;
        for (const type of d.reboots ?? ['SOFT', 'HARD']) {
          await journal.step('heal-reboot', name, 'start', { type });
          try {
            await os.compute.rebootServer(m.server.id, type);
          } catch (e) {
            await journal.step('heal-reboot', name, 'done', { type, error: msg(e) });
            ctx.io.log('warn', `${name}: ${type} reboot refused: ${msg(e)}`);
            continue;
          }
          ctx.io.log('info', `${name}: ${type} reboot; waiting up to ${Math.round(o.rebootWaitMs / 1000)}s for Ready`);
          recovered = await waitReady(ctx, kube, name, o.rebootWaitMs, o.pollIntervalMs);
          await journal.step('heal-reboot', name, 'done', { type, ready: recovered });
          if (recovered) break;
        }
        if (recovered) {
          await annotate(ctx, kube, name, d.retries ?? 0);
          outcomes.push({ node: name, action: 'reboot', outcome: 'recovered' });
          continue;
        }
      }
      toReplace.push(d);
    }
    // heal's operation ends first (one operation per command in the journal); the lock stays held, handed to replace
    await journal.end('ok');
    status = 'ok';
    ended = true;
    for (const d of toReplace) {
      const surge = d.strategy === 'surge' && !quotaShort.includes(d.name);
      try {
        const run = await runReplace(ctx, config, replaceReq(d, surge), { ...o.replace, dryRun: false, resume: false, yes: true, interactive: false, heldLock: lock });
        const step = run.roll?.steps.find((s) => s.old === d.name);
        if (step?.outcome === 'replaced') {
          if (step.new) await annotate(ctx, kube, step.new, d.retries ?? 0).catch((e) => ctx.io.log('warn', `annotating ${step.new}: ${msg(e)}`));
          outcomes.push({ node: d.name, action: `replace ${surge ? 'surge' : 'remove-first'}`, outcome: 'replaced', ...(step.new ? { replacement: step.new } : {}) });
        } else {
          outcomes.push({ node: d.name, action: `replace ${surge ? 'surge' : 'remove-first'}`, outcome: 'failed', cause: step?.cause ?? run.roll?.aborted ?? 'not replaced' });
        }
      } catch (e) {
        outcomes.push({ node: d.name, action: `replace ${surge ? 'surge' : 'remove-first'}`, outcome: 'failed', cause: msg(e) });
      }
    }
    return { plan, errors: observed.errors, outcomes };
  } catch (e) {
    status = ctx.signal.aborted ? 'interrupted' : 'failed';
    throw e;
  } finally {
    // after end() heal's operation is over (the lock is the caller's to release)
    if (!ended) {
      if (journal.operationId) await journal.end(status).catch(() => journal.close());
      else await journal.close().catch(() => undefined);
    }
  }
}
