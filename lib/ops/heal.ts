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
import { Journal } from '../journal/index.js';
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

export async function runHeal(ctx: Context, config: ClusterConfig, req: HealRequest, o: HealRunOptions): Promise<HealRun> {
  const [os, kube] = await Promise.all([ctx.openstack(), ctx.kube()]);
  // the lock first: another kadd on this cluster file refuses heal before it reads or changes anything
  const journal = o.apply ? await Journal.open(config.file, { now: () => ctx.clock.now() }) : undefined;
  const observed = await observeHeal(ctx, config, os, kube, { adderImage: o.adderImage, pollIntervalMs: o.pollIntervalMs, readEtcd: o.apply || !!o.allowAdder, holdsLock: !!journal }).catch(async (e) => {
    await journal?.close();
    throw e;
  });
  let plan = planHeal(req, observed);
  // a worker surges only when the quota allows one more like it: replace's own dry run says so
  const { runReplace } = await import('./replace-run.js');
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
  if (quotaShort.length) plan = planHeal(req, { ...observed, surgeQuota: false, machines: observed.machines });
  const outcomes: HealOutcome[] = [];
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
          await kube.annotateNode(name, { [HEAL_LAST_ANNOTATION]: new Date(ctx.clock.now()).toISOString(), [HEAL_RETRIES_ANNOTATION]: String(d.retries ?? 0) });
          outcomes.push({ node: name, action: 'reboot', outcome: 'recovered' });
          continue;
        }
      }
      toReplace.push(d);
    }
    // replace takes the journal's lock itself: heal's operation ends first
    await journal.end('ok');
    status = 'ok';
    ended = true;
    for (const d of toReplace) {
      const surge = d.strategy === 'surge' && !quotaShort.includes(d.name);
      try {
        const run = await runReplace(ctx, config, replaceReq(d, surge), { ...o.replace, dryRun: false, resume: false, yes: true, interactive: false });
        const step = run.roll?.steps.find((s) => s.old === d.name);
        if (step?.outcome === 'replaced') {
          if (step.new) await kube.annotateNode(step.new, { [HEAL_LAST_ANNOTATION]: new Date(ctx.clock.now()).toISOString(), [HEAL_RETRIES_ANNOTATION]: String(d.retries ?? 0) }).catch((e) => ctx.io.log('warn', `annotating ${step.new}: ${msg(e)}`));
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
    // after end() the lock is released (and may belong to another run by now): never touch it again
    if (!ended) {
      if (journal.operationId) await journal.end(status).catch(() => journal.close());
      else await journal.close().catch(() => undefined);
    }
  }
}
