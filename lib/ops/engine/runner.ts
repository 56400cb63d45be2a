/**
 * The one runner every mutating verb goes through (issue 9, design.md section 5):
 *
 *   lock (the cluster file's local lock; with `clusterLock`, the cluster-wide Lease too)
 *   -> unfinished journal (the verb refuses, or carries what a resume needs into its observation)
 *   -> connect (credentials proven before the cluster is touched) -> observe (one snapshot)
 *   -> plan (pure) -> --dry-run: stop here and hand the plan back
 *   -> preflight (blockers refuse, exit 2) -> nothing to do? -> confirmation
 *   -> journal begin -> execute -> commit (the cluster file update) -> journal end -> unlock
 *
 * The verb supplies only its own parts (`RunnerVerb`); the order, the locks, the journal's begin/end with
 * the right status (ok / failed / interrupted), a lost Lease (its error wins) and the cleanup in every path
 * are written once here. Rendering stays with the command: the runner returns what happened.
 *
 * The cluster file update comes before the journal's end on purpose: a crash between the two leaves an
 * unfinished journal whose resume re-runs idempotent steps and writes the file again; the other order
 * could leave a finished journal and a cluster file that still counts the removed nodes.
 */
import type { Context } from '../../context.js';
import { InterruptedError } from '../../errors.js';
import { Journal, findUnfinished, lockClusterFile, type FileLock, type JournalReport } from '../../journal/journal.js';
import { acquireClusterLock, withLock, type ClusterLock } from './lock.js';

export interface RunnerVerb<Obs, Plan, Result> {
  /** the journal's command name and the Lease's operation (`remove`, `cleanup`) */
  command: string;
  clusterFile: string;
  /** no lock, no journal, no change: the plan is handed back */
  dryRun: boolean;
  /** take the cluster-wide Lease as well (not on a dry run); `force`: --force-unlock */
  clusterLock?: { force: boolean };
  /** the unfinished journal, read under the local lock: throw to refuse (before any API call) */
  unfinished?(report: JournalReport): void | Promise<void>;
  /** prove the credentials (e.g. Keystone) before the Lease and the observation */
  connect?(ctx: Context): Promise<void>;
  /**
   * after the Lease, before `observe` (not on a dry run): settle what the unfinished journal holds in a
   * journal operation of its own (`kadd add --cleanup` deletes an interrupted run's leftovers first);
   * `openJournal` opens the journal under the held file lock (the verb begins, ends and closes it)
   */
  settle?(ctx: Context, report: JournalReport, openJournal: () => Promise<Journal>): Promise<void>;
  /**
   * Optional: begin the journal before `observe` (right after the Lease; never on a dry run), with these
   * args, for a verb whose observation itself records changes (add --role master: the master-adder it
   * deploys, the `--cleanup` of an earlier run's leftovers). `observe` then gets the begun journal;
   * `journalArgs` is not used.
   */
  beginEarly?(report: JournalReport): Record<string, unknown>;
  /** one look at the cluster (`journal`: begun when the verb has `beginEarly` and this is no dry run) */
  observe(ctx: Context, report: JournalReport, journal?: Journal): Promise<Obs>;
  /** pure: the observation -> the plan */
  plan(obs: Obs): Plan;
  /** throws when the plan is refused (blockers: exit 2, nothing changed) */
  preflight?(plan: Plan): void;
  /** nothing to do: the runner stops before the journal */
  isEmpty?(plan: Plan): boolean;
  /** throws when not confirmed */
  confirm?(plan: Plan): Promise<void>;
  /** what the journal records about the operation (resume reads it back) */
  journalArgs(plan: Plan, report: JournalReport): Record<string, unknown>;
  execute(ctx: Context, plan: Plan, journal: Journal, report: JournalReport): Promise<Result>;
  /** after a successful execute, before the journal's end (the cluster file update) */
  commit?(result: Result): Promise<void>;
  /**
   * the journal's end status for a result that came back (an exception ends it failed or interrupted);
   * `interrupted`: a verb whose execute comes back after Ctrl-C (add rolls back and returns)
   */
  status(result: Result): 'ok' | 'failed' | 'interrupted';
  /** resources the observation opened (an etcd connection); always called */
  close?(): Promise<void>;
  /**
   * Optional: locks the caller holds already (a verb run inside another, e.g. kadd heal's replace): the file
   * lock is used instead of taking it again, the Lease (when given) instead of `clusterLock`; neither is
   * released here (their holder does). Without it the runner takes and releases its own.
   */
  held?: HeldLocks;
  /** Optional: called once with the locks the operation holds (after `connect` and the Lease, before `observe`; not on a dry run), so a verb can hand them to a verb it runs inside */
  onLocked?(held: HeldLocks): void;
}

/** The locks an operation holds: the cluster file's local lock and, with `clusterLock`, the cluster Lease. */
export interface HeldLocks {
  fileLock?: FileLock;
  lease?: ClusterLock;
}

export type RunOutcome<Plan, Result> =
  | { kind: 'dry-run'; plan: Plan; report: JournalReport }
  | { kind: 'nothing'; plan: Plan }
  | { kind: 'done'; plan: Plan; result: Result };

export async function runOperation<Obs, Plan, Result>(ctx0: Context, verb: RunnerVerb<Obs, Plan, Result>): Promise<RunOutcome<Plan, Result>> {
  let ctx = ctx0;
  let fileLock: FileLock | undefined;
  let lease: ClusterLock | undefined;
  let journal: Journal | undefined;
  let status: 'ok' | 'failed' | 'interrupted' = 'failed';
  try {
    if (!verb.dryRun && !verb.held?.fileLock) fileLock = await lockClusterFile(verb.clusterFile, { now: () => ctx.clock.now() });
    const report = await findUnfinished(verb.clusterFile);
    await verb.unfinished?.(report);
    await verb.connect?.(ctx);
    if (verb.held?.lease && !verb.dryRun) ctx = withLock(ctx, verb.held.lease);
    else if (verb.clusterLock && !verb.dryRun) {
      lease = await acquireClusterLock(ctx, await ctx.kube(), { operation: verb.command, force: verb.clusterLock.force, clusterFile: verb.clusterFile });
      ctx = withLock(ctx, lease);
    }
    if (!verb.dryRun) verb.onLocked?.({ fileLock: fileLock ?? verb.held?.fileLock, lease: lease ?? verb.held?.lease });
    const heldLock = fileLock ?? verb.held?.fileLock;
    if (verb.settle && !verb.dryRun) await verb.settle(ctx, report, () => Journal.open(verb.clusterFile, { heldLock, now: () => ctx.clock.now() }));
    if (verb.beginEarly && !verb.dryRun) {
      journal = await Journal.open(verb.clusterFile, { heldLock, now: () => ctx.clock.now() });
      await journal.begin({ command: verb.command, args: verb.beginEarly(report) });
    }
    const plan = verb.plan(await verb.observe(ctx, report, journal));
    if (verb.dryRun) return { kind: 'dry-run', plan, report };
    verb.preflight?.(plan);
    if (verb.isEmpty?.(plan)) return { kind: 'nothing', plan };
    await verb.confirm?.(plan);
    if (!journal) {
      journal = await Journal.open(verb.clusterFile, { heldLock, now: () => ctx.clock.now() });
      await journal.begin({ command: verb.command, args: verb.journalArgs(plan, report) });
    }
    const result = await verb.execute(ctx, plan, journal, report);
    await verb.commit?.(result);
    status = verb.status(result);
    const lost = (lease ?? verb.held?.lease)?.lost();
    if (lost) throw lost;
    return { kind: 'done', plan, result };
  } catch (e) {
    status = ctx.signal.aborted || e instanceof InterruptedError ? 'interrupted' : 'failed';
    throw (lease ?? verb.held?.lease)?.lost() ?? e;
  } finally {
    await verb.close?.().catch(() => undefined);
    if (journal) {
      if (journal.operationId) await journal.end(status).catch(() => journal!.close());
      else await journal.close();
    }
    await lease?.release();
    await fileLock?.release();
  }
}
