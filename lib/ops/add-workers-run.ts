/**
 * `kadd add --role node` on the one runner (lib/ops/engine/runner.ts), the verb's parts:
 *
 *   unfinished  a master run's leftovers refused; the leftovers/--resume/--cleanup choice (no API call yet)
 *   connect     the kubeconfig and the Keystone credentials proven before the cluster is touched
 *   (Lease)     the cluster lock; `--force-unlock` takes it over
 *   settle      --cleanup: the interrupted run's leftovers deleted first (a journal operation of its own)
 *   observe     the preflight observation (add-workers-preflight.ts) and the drift check; for a --resume
 *               whose nodes were all kept, the workers that exist
 *   plan        add-workers-plan.ts (pure); a dry run ends here
 *   preflight   warnings, blockers (exit 2)
 *   execute     add-workers-execute.ts, journaled through the Ledger
 *   commit      the cluster file (n-nodes), and the resumed runs ended
 */
import type { Context } from '../context.js';
import type { ClusterConfig } from '../config/types.js';
import type { OpenStackClient } from '../openstack/types.js';
import type { KubeApi } from '../kube/types.js';
import { OperationError, PreflightError, UsageError } from '../errors.js';
import {
  assertNoBlockers, execute, plan, preflight, validateRequest,
  type AddWorkersDeps, type AddWorkersPlan, type AddWorkersRequest, type AddWorkersResult, type Observed,
} from './add-workers.js';
import { caCertHash } from '../kube/ca.js';
import { findUnfinished, type Journal, type JournalReport, type LeftoverResource } from '../journal/index.js';
import { runOperation } from './engine/runner.js';
import { writeUpdatedConfig } from '../config/write.js';
import { cleanupLeftovers } from './cleanup.js';
import { escapeRegex, roleNamePattern } from './naming.js';
import { Ledger, describeLeftover } from './engine/ledger.js';
import { Reapers } from './engine/reapers.js';
import { clusterCount, reconcileCount } from './drift.js';

export type LeftoverChoice = 'resume' | 'cleanup' | undefined;

export interface AddWorkersRun {
  /** absent when a resume only finished the interrupted run (nothing was planned) */
  plan?: AddWorkersPlan;
  result?: AddWorkersResult;
  /** resources of an earlier run that were cleaned up first */
  cleaned?: string[];
}

/** Server names an interrupted worker-add run was creating (from its servers, volumes and ports). */
export function leftoverNodeNames(cluster: string, leftovers: LeftoverResource[]): string[] {
  const names = new Set<string>();
  const re = new RegExp(`^(${escapeRegex(cluster)}-node-[0-9]+)(-root|-port-0)?$`);
  for (const l of leftovers) {
    if (l.kind !== 'server' && l.kind !== 'volume' && l.kind !== 'port') continue;
    const m = re.exec(l.name);
    if (m) names.add(m[1]);
  }
  return [...names];
}

export interface RunAddWorkersOptions {
  dryRun: boolean;
  leftovers: LeftoverChoice;
  argsForJournal: Record<string, unknown>;
  /** take the cluster lock even when another kadd holds it (warns) */
  forceUnlock?: boolean;
  /** --accept-drift: a file whose n-nodes disagrees with the cluster is counted from the cluster (lib/ops/drift.ts) */
  acceptDrift?: boolean;
  /** the cluster file as given (messages) */
  configArg?: string;
}

/** a new batch, or (13.2) a --resume whose interrupted run kept every node: only the file is written */
type WorkersObs = { kind: 'add'; observed: Observed; counted: ClusterConfig } | { kind: 'finish'; workers: number; ops: string[] };
type WorkersPlan = { kind: 'add'; plan: AddWorkersPlan; counted: ClusterConfig } | Extract<WorkersObs, { kind: 'finish' }>;

const COMMAND = 'add --role node';

/** The locks come first (the runner's order): a second run is told that another kadd is running before it reads the journal. */
export async function runAddWorkers(ctx: Context, request: AddWorkersRequest, opts: RunAddWorkersOptions): Promise<AddWorkersRun> {
  validateRequest(request);
  let req = request;
  const c: ClusterConfig = req.config;
  let cleaned: string[] | undefined;
  let cleanupFirst = false;
  /** the unterminated runs a --resume without leftovers finishes */
  let finishing: string[] | undefined;
  /** the resumed runs, ended once this one's nodes are kept */
  let resumed: string[] = [];
  let journal: Journal | undefined;
  let planned: WorkersPlan | undefined;
  const render = async (input: Parameters<AddWorkersDeps['renderUserData']>[0]) => {
    const { renderWorkerUserData } = await import('../cloudinit/index.js');
    const r = await renderWorkerUserData({ ...input, taints: input.taints as never });
    return r.text;
  };

  const run = await runOperation<WorkersObs, WorkersPlan, AddWorkersResult>(ctx, {
    command: COMMAND,
    clusterFile: c.file,
    dryRun: opts.dryRun,
    clusterLock: { force: !!opts.forceUnlock },
    // leftovers of an earlier run that did not end well (Ctrl-C twice, kill -9, crash), read under the file lock
    async unfinished(report) {
      if (opts.dryRun) return;
      refuseMasterLeftovers(c, report);
      // 13.2: a resume finishes the interrupted run and never starts a new batch silently
      const open = report.operations.filter((o) => o.command === COMMAND && o.status === 'unterminated');
      if (opts.leftovers === 'resume' && report.leftovers.length === 0) {
        if (!open.length) throw new UsageError(`--resume: the journal records no unfinished run on ${c.file}; nothing was changed`, { hint: 'run `kadd add` without --resume to add nodes' });
        finishing = open.map((o) => o.op);
        return;
      }
      if (!report.leftovers.length) return;
      const list = report.leftovers.map(describeLeftover);
      let choice = opts.leftovers;
      if (!choice) {
        ctx.io.log('warn', `an earlier kadd run on ${c.file} did not finish; left over:\n  ${list.join('\n  ')}`);
        if (!(await ctx.io.confirm('resume it (adopt what exists and finish those nodes)? [y/N]', false))) {
          throw new PreflightError(`an earlier kadd run did not finish and left ${list.length} resource(s): ${list.join(', ')}`, {
            code: 'E_LEFTOVERS',
            hint: `re-run with --resume to finish those nodes, or with --cleanup to delete them first (journal: ${report.path})`,
          });
        }
        choice = 'resume';
      }
      if (choice === 'cleanup') {
        cleanupFirst = true;
        return;
      }
      const names = leftoverNodeNames(c.clusterName, report.leftovers);
      if (names.length > req.amount) {
        throw new UsageError(`the interrupted run was creating ${names.length} nodes (${names.join(', ')}); use --amount ${names.length} or more with --resume`);
      }
      req = { ...req, resumeNames: names, journaledIds: report.leftovers.map((l) => l.id).filter((x): x is string => !!x) };
      resumed = report.operations.filter((o) => o.status === 'unterminated').map((o) => o.op);
      ctx.io.log('info', `resuming ${names.join(', ')}`);
      // adopted servers were booted with the interrupted run's bootstrap token: keep it alive while this
      // run waits for them, and delete it at the end with this run's own token
      const tokenIds = report.leftovers.filter((l) => l.kind === 'token' && l.id).map((l) => l.id!);
      if (tokenIds.length) req = { ...req, adoptTokenIds: tokenIds };
    },
    // bad clouds.yaml / kubeconfig input (exit 2) before anything, the Lease included, is touched, and
    // credentials that do not work refused before the cluster is touched at all: the first request is the authentication
    async connect(cx) {
      if (opts.dryRun) return;
      await cx.kube();
      await (await cx.openstack()).projectId();
    },
    async settle(cx, report, openJournal) {
      if (cleanupFirst) cleaned = await cleanupFirstOf(cx, req, report, openJournal);
    },
    async observe(cx, report) {
      if (finishing) return { kind: 'finish', workers: await countWorkers(cx, c), ops: finishing };
      const [os, kube] = await Promise.all([cx.openstack(), cx.kube()]);
      const observed = await preflight(cx, req, os, kube, { renderUserData: render, caCertHash });
      // a stale cluster file (the *.updated.yml not copied back) is refused before anything is created (issue 12 pt 5);
      // after the lock, so that a concurrent kadd is reported as such; a resume counts from the cluster anyway
      const counted = opts.leftovers === 'resume' ? c : reconcileCount(cx.io, c, 'node', clusterCount(c.clusterName, 'node', observed.servers.map((s) => s.name), [], leftoverNodeNames(c.clusterName, report.leftovers)), { accept: !!opts.acceptDrift, configArg: opts.configArg ?? c.file });
      return { kind: 'add', observed, counted };
    },
    plan: (o) => (o.kind === 'finish' ? o : { kind: 'add', plan: plan(req, o.observed), counted: o.counted }),
    preflight(p) {
      if (p.kind !== 'add') return;
      for (const w of p.plan.warnings) ctx.io.log('warn', w);
      assertNoBlockers(p.plan);
    },
    journalArgs: (p) => (p.kind === 'finish' ? { finishes: p.ops } : opts.argsForJournal),
    async execute(cx, p, j) {
      journal = j;
      planned = p;
      if (p.kind === 'finish') {
        cx.io.log('info', `resuming: the interrupted run created its nodes; writing the cluster file for the ${p.workers} worker(s) that exist`);
        return { cluster: c.clusterName, requested: 0, added: 0, nodes: [], outcomes: [], interrupted: false, durationMs: 0 };
      }
      const [os, kube]: [OpenStackClient, KubeApi] = await Promise.all([cx.openstack(), cx.kube()]);
      const off = cx.onHardStop?.(() => `stopped before the rollback finished; what is left is recorded in ${j.path}; \`kadd add --cleanup ${c.file}\` deletes it (a joined, Ready node is kept: \`kadd remove\` or \`--resume\`)`);
      try {
        return await execute(cx, req, p.plan, os, kube, { renderUserData: render, caCertHash, ledger: new Ledger(j, c.clusterName) });
      } finally {
        off?.();
      }
    },
    // the cluster file for the nodes that joined (before the journal's end: a crash between leaves a run --resume finishes)
    async commit(r) {
      const p = planned!;
      if (p.kind === 'finish') {
        r.updatedConfig = (await writeUpdatedConfig(c.file, { 'n-nodes': p.workers })).path;
        r.nNodes = p.workers;
        for (const op of p.ops) await journal!.endEarlier(op, 'ok');
        return;
      }
      if (r.added > 0) {
        // after a resume the file counts what exists (13.2), not the stale file's count plus this run's
        const n = req.resumeNames ? await countWorkers(ctx, c) : p.counted.nNodes + r.added;
        r.updatedConfig = (await writeUpdatedConfig(c.file, { 'n-nodes': n })).path;
        if (!req.resumeNames) r.nNodes = n;
      }
      // the interrupted runs this one resumed are finished now
      if (req.resumeNames && !r.interrupted) for (const op of resumed) await journal!.endEarlier(op, 'ok');
    },
    status: (r) => (r.interrupted ? 'interrupted' : r.nodes.some((n) => n.outcome !== 'joined' && n.outcome !== 'active') ? 'failed' : 'ok'),
  });
  if (run.kind === 'nothing') return { cleaned };
  const p = run.plan.kind === 'add' ? run.plan.plan : undefined;
  return run.kind === 'dry-run' ? { plan: p } : { plan: p, result: run.result, cleaned };
}

/**
 * A master run's leftovers are never handled here: deleting a control-plane server without removing its
 * etcd member first could cost quorum; `kadd add --role master --cleanup` does it in that order.
 */
function refuseMasterLeftovers(c: ClusterConfig, report: JournalReport): void {
  if (report.leftovers.length === 0) return;
  const masterOps = new Set(report.operations.filter((o) => /--role master/.test(o.command)).map((o) => o.op));
  const masterLeft = report.leftovers.filter(
    (l) => masterOps.has(l.op) || ['etcd-member', 'lb-member', 'deployment', 'certificate-key'].includes(l.kind) || new RegExp(`^${escapeRegex(c.clusterName)}-master-[0-9]+`).test(l.name),
  );
  if (masterLeft.length) {
    throw new PreflightError(
      `an interrupted \`kadd add --role master\` left ${masterLeft.length} resource(s): ${masterLeft.map(describeLeftover).join(', ')}`,
      { code: 'E_MASTER_LEFTOVERS', hint: `run \`kadd add --role master --cleanup ${c.file}\` first: it removes the etcd member before the server (journal: ${report.path})` },
    );
  }
}

/** --cleanup: delete what the interrupted run left (its own `cleanup` operation), then refuse if anything stayed. */
async function cleanupFirstOf(ctx: Context, req: AddWorkersRequest, report: JournalReport, openJournal: () => Promise<Journal>): Promise<string[]> {
  const c = req.config;
  const [os, kube] = await Promise.all([ctx.openstack(), ctx.kube()]);
  const journal = await openJournal();
  let deleted: string[];
  try {
    await journal.begin({ command: 'cleanup', args: { of: report.operations.map((o) => o.op) } });
    const ledger = Ledger.fromLeftovers(journal, c.clusterName, report.leftovers);
    const r = await cleanupLeftovers(ctx.io, ledger, new Reapers({ io: ctx.io, clock: ctx.clock, os, kube, cluster: c.clusterName, pollIntervalMs: req.pollIntervalMs }));
    deleted = r.deleted;
    await journal.end(r.left.length ? 'failed' : 'ok');
  } finally {
    await journal.close();
  }
  // never build new nodes on top of leftovers that could not be deleted (each one was named above)
  const still = (await findUnfinished(c.file)).leftovers;
  if (still.length) {
    throw new OperationError('E_CLEANUP_INCOMPLETE', `--cleanup could not delete ${still.length} left-over resource(s): ${still.map(describeLeftover).join(', ')}; nothing new was created`, {
      hint: 'see the warnings above; remove them by hand (or fix the cause) and run --cleanup again',
    });
  }
  return deleted;
}

/** The worker servers that exist and are ACTIVE (what the cluster file's n-nodes must say). */
async function countWorkers(ctx: Context, c: ClusterConfig): Promise<number> {
  const os = await ctx.openstack();
  return (await os.compute.listServers({ name: roleNamePattern(c.clusterName, 'node') })).filter((s) => s.status === 'ACTIVE').length;
}
