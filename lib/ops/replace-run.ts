/**
 * The whole `kadd replace` run as a verb of the engine's runner (lib/ops/engine/runner.ts, design.md section 5):
 *   file lock -> unfinished journal (--resume, or a refusal) -> connect -> cluster Lease -> observe -> plan (pure)
 *   -> --dry-run -> blockers -> confirm -> journal begin -> execute (the roll) -> cluster file -> journal end.
 * A paused roll is a result (journal end `failed`, a `paused` outcome for every node not reached), not an exception.
 * Resume: the latest roll in the journal (lib/ops/replace-roll.ts latestRoll) gives the request, the victim
 * order, the baseline of Ready Nodes and what each step went through; half-built replacements (created, never
 * healthy) are torn down through the engine's ledger and reapers first; complete steps are skipped, half-done
 * ones finished, the rest started.
 */
import type { Context } from '../context.js';
import type { ClusterConfig } from '../config/types.js';
import type { KubeApi } from '../kube/types.js';
import type { OpenStackClient } from '../openstack/types.js';
import { OperationError, PreflightError, UsageError } from '../errors.js';
import { readJournal, type Journal, type LeftoverResource } from '../journal/index.js';
import { runOperation, type HeldLocks } from './engine/runner.js';
import { exactNamePattern, indexOf, type Role } from './naming.js';
import { openEtcdViaAdder, type EtcdAccess } from './master-etcd.js';
import {
  planReplace, validateReplaceRequest, type Machine, type NodeSpec, type ReplacePlan, type ReplaceRequest, type ReplaceStep,
} from './replace-plan.js';
import { latestRoll, remainingSteps, STEP_NAME, type RollInfo } from './replace-roll.js';
import { observeReplace, runRoll, ReplacePaused, type RollResult } from './replace.js';
import { realSteps, type StepTimings } from './replace-steps.js';
import type { RemoveRequest } from './remove-plan.js';

export interface ReplaceRunOptions {
  dryRun: boolean;
  resume: boolean;
  /** --yes (or a resume): no confirmation */
  yes: boolean;
  /** is stdin a terminal (confirmation possible) */
  interactive: boolean;
  timings: StepTimings;
  drain: { timeoutMs: number; deleteEmptyDirData: boolean; force: boolean; evictRetryMs?: number };
  adderImage?: string;
  configArg: string;
  /** --force-unlock: take the cluster Lease (kube-system/kadd-lock) even when another kadd holds it */
  forceUnlock?: boolean;
  /** the caller holds these locks already (kadd heal, across its decision and this run): used, not taken again nor released */
  held?: HeldLocks;
}

export interface ReplaceRun {
  plan: ReplacePlan;
  roll?: RollResult;
  updatedConfig?: string;
  resumedFrom?: string;
  cleaned?: string[];
}

const msg = (e: unknown) => (e instanceof Error ? e.message : String(e));

/**
 * The changes to the cluster file once every node of a role runs as requested (pure): machines are the nodes
 * seen when this run started; a node counts as done when this roll replaced it or built it.
 * --flavor: master_flavor once every master is done, node_flavor once every worker is; --image and
 * --k8s-version: once every node is.
 */
export function configChanges(
  machines: { name: string; role: Role }[], replacedOlds: ReadonlySet<string>, built: ReadonlySet<string>,
  req: Pick<ReplaceRequest, 'image' | 'flavor' | 'k8sVersion'>, versionTo?: string,
): Record<string, string> {
  const outdated = (role: Role) => machines.filter((m) => m.role === role && !replacedOlds.has(m.name) && !built.has(m.name));
  const mastersDone = outdated('master').length === 0;
  const workersDone = outdated('node').length === 0;
  const changes: Record<string, string> = {};
  if (req.flavor && mastersDone) changes.master_flavor = req.flavor;
  if (req.flavor && workersDone) changes.node_flavor = req.flavor;
  if (mastersDone && workersDone) {
    if (req.image) changes.image = req.image;
    if (req.k8sVersion && versionTo) changes['version.k8s'] = versionTo;
  }
  return changes;
}

export async function runReplace(ctx: Context, config: ClusterConfig, reqIn: ReplaceRequest | undefined, o: ReplaceRunOptions): Promise<ReplaceRun> {
  let roll: RollInfo | undefined;
  let req!: ReplaceRequest;
  let rollOps = new Set<string>();
  let clients: { os: OpenStackClient; kube: KubeApi } | undefined;
  let observed!: Awaited<ReturnType<typeof observeReplace>>;
  const pollMs = o.timings.pollIntervalMs;
  // one master-adder for the whole run, moved only when a step needs etcd through another master (the one it
  // runs on is being replaced); closing a handed-out access does nothing, the run closes the adder at its end
  let shared: EtcdAccess | undefined;
  const openEtcd = async (exclude: string[]): Promise<EtcdAccess> => {
    if (shared && exclude.includes(shared.nodeName)) {
      const old = shared;
      shared = undefined;
      await old.close().catch(() => undefined);
    }
    shared ??= await openEtcdViaAdder(ctx, clients!.kube, config, { exclude, image: o.adderImage, pollIntervalMs: pollMs });
    return { ...shared, close: async () => undefined };
  };
  const closeEtcd = async () => {
    const a = shared;
    shared = undefined;
    await a?.close().catch(() => undefined);
  };
  // Nodes Ready when the roll (its first run) started: the gates' baseline
  const baselineOf = () => (roll ? new Set((roll.args.baseline as string[] | undefined) ?? []) : new Set(observed.nodes.filter((n) => n.ready).map((n) => n.name)));
  type Done = { roll: RollResult; cleaned: string[]; changes: Record<string, string>; updatedConfig?: string };

  const run = await runOperation<typeof observed, ReplacePlan, Done>(ctx, {
    command: 'replace',
    clusterFile: config.file,
    dryRun: o.dryRun,
    clusterLock: { force: !!o.forceUnlock },
    ...(o.held ? { held: o.held } : {}),
    // the journal: --resume takes the latest roll's request and its remaining steps; an unfinished roll or
    // another command's leftovers refuse a new one (one membership change at a time), before any API call
    async unfinished(report) {
      const last = latestRoll((await readJournal(config.file)).records);
      if (o.resume) {
        if (!last || last.finished) throw new UsageError(`--resume: the journal records no unfinished kadd replace for ${o.configArg}`, { hint: 'start one with kadd replace cfg.yml NODE or --all' });
        roll = last;
        req = { ...(last.args.request as ReplaceRequest) };
        req.only = remainingSteps(last, (last.args.order as string[] | undefined) ?? []);
      } else {
        if (!reqIn) throw new UsageError('nothing to replace');
        req = reqIn;
        if (last && !last.finished && !o.dryRun) {
          throw new PreflightError(`a kadd replace on ${o.configArg} did not finish (${last.lastStatus}); nothing was changed`, {
            code: 'E_REPLACE_UNFINISHED', hint: `\`kadd replace --resume ${o.configArg}\` continues it`,
          });
        }
      }
      validateReplaceRequest(req);
      rollOps = new Set(roll?.ops ?? []);
      const foreign = report.leftovers.filter((l) => !rollOps.has(l.op));
      if (foreign.length && !o.dryRun) {
        throw new PreflightError(`an earlier kadd run on ${o.configArg} did not finish (${foreign.length} resource(s) in its journal); nothing was changed`, {
          code: 'E_LEFTOVERS', details: foreign.map((l) => `${l.kind} ${l.name}${l.id ? ` (${l.id})` : ''}`),
          hint: `finish or clean it up first (kadd remove --resume / kadd add --cleanup ${o.configArg}); journal: ${report.path}`,
        });
      }
    },
    async connect(c) {
      const [os, kube] = await Promise.all([c.openstack(), c.kube()]);
      clients = { os, kube };
    },
    async observe(c) {
      const wantsMasters = req.target ? /-master-\d+$/.test(req.target) : req.role !== 'node';
      observed = await observeReplace(c, config.clusterName, clients!.os, clients!.kube, {
        defaults: {
          image: config.image, masterFlavor: config.masterFlavor, nodeFlavor: config.nodeFlavor, serverGroup: config.serverGroup,
          volumeSize: config.volumeSize, k8sVersion: config.version.k8s,
        },
        ...(wantsMasters ? {
          etcdView: async (masters) => {
            // through another master than the one replaced; the only master is all there is (surge 1 -> 2 -> 1)
            const a = await openEtcd(req.target && masters.some((m) => m !== req.target) ? [req.target] : []);
            try {
              return await a.etcdctl.view();
            } finally {
              await a.close();
            }
          },
        } : {}),
      });
      return observed;
    },
    plan: (obs) => resumedPlan(config.clusterName, req, obs, roll),
    preflight(plan) {
      if (!plan.blockers.length) return;
      throw new PreflightError(`kadd replace refused: ${plan.blockers.length} problem${plan.blockers.length === 1 ? '' : 's'}; nothing was created or removed`, {
        code: 'E_REPLACE_PREFLIGHT', details: plan.blockers,
        hint: plan.blockers.some((b) => /^quota:/.test(b)) && !req.all && req.surge ? `\`kadd replace --no-surge ${o.configArg} ${req.target}\` removes the old node first and needs no extra quota` : `\`kadd replace --dry-run\` shows the plan`,
      });
    },
    isEmpty: (plan) => !roll && plan.phases.every((p) => !p.steps.length),
    async confirm(plan) {
      if (o.yes || roll) return;
      if (!o.interactive) throw new UsageError('kadd replace asks for confirmation, and stdin is not a terminal: give --yes to proceed (kadd replace --dry-run shows the plan)');
      if (!(await ctx.io.confirm(`replace ${plan.phases.flatMap((p) => p.steps.map((s) => s.old)).join(', ')}?`, false))) throw new UsageError('not confirmed; nothing was changed');
    },
    journalArgs: (plan) => (roll
      ? { roll: roll.roll, resume: true, config: config.file }
      : { roll: undefined, config: config.file, request: { ...req, only: undefined }, order: plan.phases.flatMap((p) => p.steps.map((s) => s.old)), baseline: [...baselineOf()] }),
    async execute(c, plan, journal, report) {
      const { os, kube } = clients!;
      const cleaned: string[] = [];
      // resume: replacements that were being built when the run died are torn down first (never half-joined nodes left)
      if (roll) {
        const half = report.leftovers.filter((l) => rollOps.has(l.op) && !l.details?.remove);
        if (half.length) cleaned.push(...(await teardownHalfBuilt(c, config, os, kube, journal, half, openEtcd, pollMs)));
      }
      const steps = realSteps(c, {
        config, os, kube, journal, openEtcd, timings: o.timings,
        removeNode: (input) => removeOne(c, config, os, kube, journal, input, o, openEtcd),
      });
      const prior = roll ? new Map([...roll.steps].map(([k, v]) => [k, { removedOld: v.removedOld || !observed.machines.some((m) => m.name === k), added: v.added, failures: v.failures }])) : undefined;
      const result = await runRoll(c, plan, steps, {
        step: (old, phase, details) => {
          const like = phase === 'start' ? plan.phases.flatMap((p) => p.steps).find((s) => s.old === old)?.like : undefined;
          return journal.step(STEP_NAME, old, phase === 'start' ? 'start' : 'done', { phase, ...(details ?? {}), ...(like ? { like } : {}) });
        },
      }, { soakMs: req.soakSeconds * 1000, pollIntervalMs: pollMs, baseline: baselineOf(), ...(prior ? { prior } : {}) });
      if (roll) await closeRemovals(os, kube, journal, report.leftovers.filter((l) => rollOps.has(l.op) && l.details?.remove));
      const changes = rollSucceeded(result) ? configChanges(observed.machines, ...doneNodes(result, roll), req, plan.version?.to ?? (req.k8sVersion ? req.k8sVersion : undefined)) : {};
      return { roll: result, cleaned, changes };
    },
    // the cluster file, once every node of a role runs as requested (before the journal's end: a crash in between is resumed)
    async commit(done) {
      if (!Object.keys(done.changes).length) return;
      const { writeUpdatedConfig } = await import('../config/write.js');
      done.updatedConfig = (await writeUpdatedConfig(config.file, done.changes)).path;
    },
    // a paused, aborted or partly failed roll ends failed: `--resume` continues it
    status: (done) => (rollSucceeded(done.roll) ? 'ok' : 'failed'),
    close: closeEtcd,
  });
  const resumed = roll ? { resumedFrom: roll.roll } : {};
  if (run.kind !== 'done') return { plan: run.plan, ...resumed };
  const { roll: result, cleaned, updatedConfig } = run.result;
  return { plan: run.plan, roll: result, updatedConfig, ...resumed, ...(cleaned.length ? { cleaned } : {}) };
}

const rollSucceeded = (r: RollResult) => !r.paused && !r.aborted && r.steps.every((s) => s.outcome === 'replaced');

/** The old nodes this roll (and, resumed, its earlier runs) replaced, and the nodes it built. */
function doneNodes(r: RollResult, roll: RollInfo | undefined): [Set<string>, Set<string>] {
  const replacedOlds = new Set(r.steps.filter((x) => x.outcome === 'replaced').map((x) => x.old));
  const built = new Set(r.steps.filter((x) => x.outcome === 'replaced' && x.new).map((x) => x.new!));
  if (roll) for (const [k, v] of roll.steps) if (v.complete) {
    replacedOlds.add(k);
    if (v.added) built.add(v.added.name);
  }
  return [replacedOlds, built];
}

/**
 * Pure: the plan of the observation; a resumed roll adds the steps whose old node is gone already (remove-first,
 * or removed before the crash) with their recorded spec.
 */
function resumedPlan(cluster: string, req: ReplaceRequest, observed: Awaited<ReturnType<typeof observeReplace>>, roll: RollInfo | undefined): ReplacePlan {
  const resumeOnly: ReplaceStep[] = [];
  for (const [old, s] of roll?.steps ?? []) {
    if (s.complete || !req.only?.includes(old) || observed.machines.some((m) => m.name === old)) continue;
    const like = s.like as NodeSpec | undefined;
    // added and old gone: only the complete record is missing
    if (s.added || !like) continue;
    const role: Role = indexOf(cluster, 'master', old) !== null ? 'master' : 'node';
    resumeOnly.push({
      old, role, newName: '', strategy: { kind: 'remove-first', reason: `resumed: ${old} was removed already` }, dead: true, unhealthy: ['removed'],
      orderReason: 'resumed', from: {}, like,
    });
  }
  const plan = planReplace(req, observed);
  plan.blockers.unshift(...observed.errors);
  for (const st of resumeOnly) {
    let ph = plan.phases.find((p) => p.role === st.role);
    if (!ph) {
      ph = { role: st.role, steps: [], maxSurge: st.role === 'master' ? 1 : req.maxSurge, maxUnavailable: st.role === 'master' ? 0 : Math.max(1, req.maxUnavailable) };
      plan.phases.push(ph);
      plan.phases.sort((a, b) => (a.role === b.role ? 0 : a.role === 'master' ? -1 : 1));
    }
    ph.steps.unshift(st);
    if (ph.maxUnavailable === 0 && ph.role === 'node') ph.maxUnavailable = 1;
  }
  return plan;
}

/** A dead run's removal intents whose resource is gone now (it died between the delete and its record): closed. */
async function closeRemovals(os: OpenStackClient, kube: KubeApi, journal: Journal, removals: LeftoverResource[]): Promise<void> {
  for (const l of removals) {
    const id = (l.details?.id as string | undefined) ?? l.id;
    const srv = l.kind === 'server' && id ? await os.compute.getServer(id) : null;
    const gone = l.kind === 'server' ? !srv || ['DELETED', 'SOFT_DELETED'].includes(srv.status)
      : l.kind === 'node' ? !(await kube.getNode(l.name))
        : l.kind === 'volume' ? !(await os.volume.listVolumes({ name: l.name })).length
          : l.kind === 'port' ? !(await os.network.listPorts({ name: l.name })).length : false;
    if (gone) await journal.undone(l.kind, l.name, id);
  }
}

/** The full gated remove of one node, through kadd remove's own op (lib/ops/remove.ts). */
async function removeOne(
  ctx: Context, config: ClusterConfig, os: OpenStackClient, kube: KubeApi, journal: Journal,
  input: { role: Role; name: string; dead: boolean; reason: string }, o: ReplaceRunOptions, openEtcd: (exclude: string[]) => Promise<EtcdAccess>,
): Promise<void> {
  const [{ observeAndPlan, executeRemove }, { createRemoveReapers }] = await Promise.all([import('./remove.js'), import('./remove-reapers.js')]);
  // already gone (a resumed step): nothing of it is left to remove
  const [srv, node] = await Promise.all([
    os.compute.listServers({ name: exactNamePattern(input.name) }).then((l) => l.filter((s) => s.status !== 'DELETED' && s.status !== 'SOFT_DELETED')),
    kube.getNode(input.name),
  ]);
  if (!srv.length && !node) return;
  const req: RemoveRequest = {
    names: [input.name], order: 'oldest', deleteEmptyDirData: o.drain.deleteEmptyDirData, force: o.drain.force, disableEviction: false,
    drainTimeoutMs: o.drain.timeoutMs, onDrainTimeout: 'fail', dead: input.dead, deadAfterMs: 300_000,
    // a master replaced on a 1- or 2-master cluster passes through one member for a moment; the replacement is already (surge) or next (remove-first) in
    allowSingleMaster: true, fixStale: false, concurrency: 1,
  };
  let access: EtcdAccess | undefined;
  const open = async (exclude: string[]) => (access ??= await openEtcd([...new Set([...exclude, input.name])]));
  try {
    // a master: the shared master-adder moves off it first (its pod would otherwise be one to drain)
    if (input.role === 'master') await open([input.name]);
    const obs = await observeAndPlan(ctx, req, config, os, kube, { openEtcd: open });
    if (obs.plan.blockers.length) {
      throw new OperationError('E_REPLACE_REMOVE_REFUSED', `removing ${input.name} was refused: ${obs.plan.blockers.join('; ')}`, { details: obs.plan.blockers });
    }
    const reapers = createRemoveReapers(ctx, os, kube, { cluster: config.clusterName, pollIntervalMs: o.timings.pollIntervalMs, etcdctl: () => access?.etcdctl ?? null });
    const r = await executeRemove(ctx, req, obs, kube, {
      journal, reapers, openEtcd: open, pollIntervalMs: o.timings.pollIntervalMs, writeConfig: async () => '',
      ...(o.drain.evictRetryMs !== undefined ? { evictRetryMs: o.drain.evictRetryMs } : {}),
    });
    const v = r.victims[0];
    if (!v || v.outcome !== 'removed') {
      throw new OperationError(v?.outcome === 'drain-timeout' ? 'E_DRAIN_TIMEOUT' : 'E_REPLACE_REMOVE_FAILED', `removing ${input.name} failed: ${v?.error ?? v?.outcome ?? 'no result'}`, {
        details: v?.drain?.remaining?.map((p) => `still on ${input.name}: ${typeof p === 'string' ? p : JSON.stringify(p)}`) ?? [],
      });
    }
  } finally {
    await access?.close().catch(() => undefined);
  }
}

/** Tear down replacements a dead run was building (created, never healthy), through the engine's ledger and reapers. */
async function teardownHalfBuilt(
  ctx: Context, config: ClusterConfig, os: OpenStackClient, kube: KubeApi, journal: Journal, half: LeftoverResource[],
  openEtcd: (exclude: string[]) => Promise<EtcdAccess>, pollMs: number,
): Promise<string[]> {
  const [{ Ledger }, { Reapers }] = await Promise.all([import('./engine/ledger.js'), import('./engine/reapers.js')]);
  const ledger = Ledger.fromLeftovers(journal, config.clusterName, half);
  const masters = ledger.nodes().filter((n) => indexOf(config.clusterName, 'master', n) !== null);
  let access: EtcdAccess | undefined;
  const out: string[] = [];
  try {
    if (masters.length) access = await openEtcd(masters);
    const reapers = new Reapers({ io: ctx.io, clock: ctx.clock, os, kube, etcdctl: access?.etcdctl ?? null, cluster: config.clusterName, pollIntervalMs: pollMs });
    const left: string[] = [];
    for (const node of ledger.nodes()) {
      const r = await ledger.teardown(node, reapers, { readyNode: 'delete' });
      out.push(...r.deleted.map((x) => `${x.ref.kind} ${x.ref.name}`));
      left.push(...r.left.map((x) => `${x.ref.kind} ${x.ref.name}: ${x.reason ?? x.state}`));
    }
    // operation-wide: the dead run's bootstrap token, a master-adder Deployment
    for (const x of await reapers.reapShared(ledger.of(''))) {
      if (x.state === 'deleted' || x.state === 'absent') await ledger.gone(x.ref);
      if (x.state === 'deleted') out.push(`${x.ref.kind} ${x.ref.name}`);
      if (x.state === 'refused' || x.state === 'failed') left.push(`${x.ref.kind} ${x.ref.name}: ${x.reason ?? x.state}`);
    }
    if (left.length) {
      throw new OperationError('E_REPLACE_RESUME_CLEANUP', `resuming: a half-built replacement could not be removed: ${left.join('; ')}`, {
        details: left, hint: 'fix what is named and run kadd replace --resume again',
      });
    }
    if (out.length) ctx.io.log('info', `resume: removed what the interrupted run was building: ${out.join(', ')}`);
    return out;
  } catch (e) {
    if (e instanceof OperationError) throw e;
    throw new OperationError('E_REPLACE_RESUME_CLEANUP', `resuming: tearing down a half-built replacement failed: ${msg(e)}`);
  } finally {
    await access?.close().catch(() => undefined);
  }
}

export { ReplacePaused };
export type { Machine };
