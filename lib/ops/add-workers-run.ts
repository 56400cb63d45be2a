/**
 * The whole `kadd add --role node` run around the op: journal and lock, leftovers of an earlier
 * interrupted run (resume or clean up), preflight, dry-run, execute, result.
 */
import type { Context } from '../context.js';
import type { ClusterConfig } from '../config/types.js';
import type { OpenStackClient } from '../openstack/types.js';
import type { KubeApi } from '../kube/types.js';
import { OperationError, PreflightError, UsageError } from '../errors.js';
import {
  assertNoBlockers, execute, plan, preflight, validateRequest,
  type AddWorkersDeps, type AddWorkersPlan, type AddWorkersRequest, type AddWorkersResult,
} from './add-workers.js';
import { caCertHash } from '../kube/ca.js';
import { Journal, findUnfinished, lockClusterFile, type FileLock, type JournalReport, type LeftoverResource } from '../journal/index.js';
import { acquireClusterLock, withLock, type ClusterLock } from './engine/lock.js';
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


/**
 * Locks first (the cluster file's, then the cluster's Lease), then everything else: a second run is told
 * that another kadd is running before it reads the journal. A dry run takes neither (it changes nothing).
 */
export async function runAddWorkers(ctx: Context, req: AddWorkersRequest, opts: RunAddWorkersOptions): Promise<AddWorkersRun> {
  validateRequest(req);
  if (opts.dryRun) return runAddWorkersLocked(ctx, req, opts, undefined, await findUnfinished(req.config.file));
  const fileLock = await lockClusterFile(req.config.file, { now: () => ctx.clock.now() });
  let cluster: ClusterLock | undefined;
  try {
    // leftovers of an earlier run that did not end well (Ctrl-C twice, kill -9, crash), read under the lock
    const report = await findUnfinished(req.config.file);
    refuseMasterLeftovers(req.config, report);
    // bad clouds.yaml / kubeconfig input (exit 2) before anything, the Lease included, is touched
    // and credentials that do not work (a wrong password, a Keystone that is not there) refused before the
    // cluster is touched at all: the first request is the authentication
    const kube = await ctx.kube();
    await (await ctx.openstack()).projectId();
    cluster = await acquireClusterLock(ctx, kube, { operation: 'add --role node', force: opts.forceUnlock, clusterFile: req.config.file });
    const out = await runAddWorkersLocked(withLock(ctx, cluster), req, opts, fileLock, report);
    const lost = cluster.lost();
    if (lost) throw lost;
    return out;
  } catch (e) {
    throw cluster?.lost() ?? e;
  } finally {
    await cluster?.release();
    await fileLock.release();
  }
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

async function runAddWorkersLocked(ctx: Context, req: AddWorkersRequest, opts: RunAddWorkersOptions, fileLock: FileLock | undefined, report: JournalReport): Promise<AddWorkersRun> {
  const c: ClusterConfig = req.config;
  let cleaned: string[] | undefined;
  // 13.2: a resume finishes the interrupted run and never starts a new batch silently
  const open = report.operations.filter((o) => o.command === 'add --role node' && o.status === 'unterminated');
  if (opts.leftovers === 'resume' && report.leftovers.length === 0 && !opts.dryRun) {
    if (!open.length) {
      throw new UsageError(`--resume: the journal records no unfinished run on ${c.file}; nothing was changed`, { hint: 'run `kadd add` without --resume to add nodes' });
    }
    return { result: await finishInterrupted(ctx, c, open.map((o) => o.op), fileLock) };
  }
  if (report.leftovers.length > 0 && !opts.dryRun) {
    refuseMasterLeftovers(c, report);
    const list = report.leftovers.map(describeLeftover);
    let choice = opts.leftovers;
    if (!choice) {
      ctx.io.log('warn', `an earlier kadd run on ${c.file} did not finish; left over:\n  ${list.join('\n  ')}`);
      const resume = await ctx.io.confirm('resume it (adopt what exists and finish those nodes)? [y/N]', false);
      if (resume) choice = 'resume';
      else {
        throw new PreflightError(`an earlier kadd run did not finish and left ${list.length} resource(s): ${list.join(', ')}`, {
          code: 'E_LEFTOVERS',
          hint: `re-run with --resume to finish those nodes, or with --cleanup to delete them first (journal: ${report.path})`,
        });
      }
    }
    if (choice === 'resume') {
      const names = leftoverNodeNames(c.clusterName, report.leftovers);
      if (names.length > req.amount) {
        throw new UsageError(`the interrupted run was creating ${names.length} nodes (${names.join(', ')}); use --amount ${names.length} or more with --resume`);
      }
      req = { ...req, resumeNames: names, journaledIds: report.leftovers.map((l) => l.id).filter((x): x is string => !!x) };
      ctx.io.log('info', `resuming ${names.join(', ')}`);
      // adopted servers were booted with the interrupted run's bootstrap token: keep it alive while this
      // run waits for them, and delete it at the end with this run's own token
      const tokenIds = report.leftovers.filter((l) => l.kind === 'token' && l.id).map((l) => l.id!);
      if (tokenIds.length) req = { ...req, adoptTokenIds: tokenIds };
    }
    if (choice === 'cleanup') {
      const os = await ctx.openstack();
      const kube = await ctx.kube();
      const journal = await Journal.open(c.file, { heldLock: fileLock });
      try {
        await journal.begin({ command: 'cleanup', args: { of: report.operations.map((o) => o.op) } });
        const ledger = Ledger.fromLeftovers(journal, c.clusterName, report.leftovers);
        const r = await cleanupLeftovers(ctx.io, ledger, new Reapers({ io: ctx.io, clock: ctx.clock, os, kube, cluster: c.clusterName, pollIntervalMs: req.pollIntervalMs }));
        cleaned = r.deleted;
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
    }
  }

  const [os, kube]: [OpenStackClient, KubeApi] = await Promise.all([ctx.openstack(), ctx.kube()]);
  const render = async (input: Parameters<AddWorkersDeps['renderUserData']>[0]) => {
    const { renderWorkerUserData } = await import('../cloudinit/index.js');
    const r = await renderWorkerUserData({ ...input, taints: input.taints as never });
    return r.text;
  };
  const observed = await preflight(ctx, req, os, kube, { renderUserData: render, caCertHash });
  // a stale cluster file (the *.updated.yml not copied back) is refused before anything is created (issue 12 pt 5);
  // after the lock, so that a concurrent kadd is reported as such; a resume counts from the cluster anyway
  const counted = opts.leftovers === 'resume' ? c : reconcileCount(ctx.io, c, 'node', clusterCount(c.clusterName, 'node', observed.servers.map((s) => s.name), [], leftoverNodeNames(c.clusterName, report.leftovers)), { accept: !!opts.acceptDrift, configArg: opts.configArg ?? c.file });
  const p = plan(req, observed);
  if (opts.dryRun) return { plan: p, cleaned };
  for (const w of p.warnings) ctx.io.log('warn', w);
  assertNoBlockers(p);

  const journal = await Journal.open(c.file, { heldLock: fileLock });
  let result: AddWorkersResult | undefined;
  const off = ctx.onHardStop?.(() => `stopped before the rollback finished; what is left is recorded in ${journal.path}; \`kadd add --cleanup ${c.file}\` deletes it (a joined, Ready node is kept: \`kadd remove\` or \`--resume\`)`);
  try {
    await journal.begin({ command: 'add --role node', args: opts.argsForJournal });
    result = await execute(ctx, req, p, os, kube, {
      renderUserData: render,
      caCertHash,
      ledger: new Ledger(journal, c.clusterName),
      // after a resume the file counts what exists (13.2), not the stale file's count plus this run's
      writeConfig: async (added) => (await writeUpdatedConfig(c.file, { 'n-nodes': req.resumeNames ? await countWorkers(ctx, c) : counted.nNodes + added })).path,
    });
    if (!req.resumeNames && result.updatedConfig) result = { ...result, nNodes: counted.nNodes + result.added };
    // the interrupted runs this one resumed are finished now
    if (req.resumeNames && !result.interrupted) for (const o of report.operations) if (o.status === 'unterminated') await journal.endEarlier(o.op, 'ok');
    const failed = result.nodes.some((n) => n.outcome !== 'joined' && n.outcome !== 'active');
    await journal.end(result.interrupted ? 'interrupted' : failed ? 'failed' : 'ok');
  } catch (e) {
    await journal.end(ctx.signal.aborted ? 'interrupted' : 'failed').catch(() => undefined);
    throw e;
  } finally {
    off?.();
    await journal.close();
  }
  return { plan: p, result, cleaned };
}

/** The worker servers that exist and are ACTIVE (what the cluster file's n-nodes must say). */
async function countWorkers(ctx: Context, c: ClusterConfig): Promise<number> {
  const os = await ctx.openstack();
  return (await os.compute.listServers({ name: roleNamePattern(c.clusterName, 'node') })).filter((s) => s.status === 'ACTIVE').length;
}

/**
 * An interrupted run whose every node was kept (killed while it wrote the cluster file): write the file
 * with what exists and end that run. Nothing is created.
 */
async function finishInterrupted(ctx: Context, c: ClusterConfig, ops: string[], fileLock: FileLock | undefined): Promise<AddWorkersResult> {
  const started = ctx.clock.now();
  const n = await countWorkers(ctx, c);
  ctx.io.log('info', `resuming: the interrupted run created its nodes; writing the cluster file for the ${n} worker(s) that exist`);
  const journal = await Journal.open(c.file, { heldLock: fileLock });
  try {
    await journal.begin({ command: 'add --role node --resume', args: { finishes: ops } });
    const updated = (await writeUpdatedConfig(c.file, { 'n-nodes': n })).path;
    for (const op of ops) await journal.endEarlier(op, 'ok');
    await journal.end('ok');
    return { cluster: c.clusterName, requested: 0, added: 0, nodes: [], updatedConfig: updated, nNodes: n, interrupted: false, durationMs: ctx.clock.now() - started };
  } finally {
    await journal.close();
  }
}
