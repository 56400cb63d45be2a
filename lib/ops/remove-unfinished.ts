/**
 * `kadd remove` and the unfinished journal (the runner's `unfinished` step, lib/ops/engine/runner.ts), read
 * under the local lock before any API call:
 *
 *  - `--resume`: the unfinished kadd remove to continue (its recorded victims and request). A remove killed
 *    after its last delete but before the cluster file has no leftovers: it is still found, as the run of
 *    the journal's last `begin` record that never ended.
 *  - an unfinished kadd add whose every leftover belongs to a node being removed (or is operation-wide):
 *    the remove finishes it (finishableAdds). Named victims and `--role R --amount N` alike: with an amount,
 *    the interrupted add's nodes of that role are picked first (`prefer`), and a plan that does not reach
 *    them all is blocked.
 *  - anything else unfinished: refused (E_LEFTOVERS, one membership change at a time); a dry run only shows.
 *
 * After the victims are removed, `finishAdds` tears down what the add still holds (token, adder) through
 * the ledger and the reapers, as `kadd cleanup` does.
 */
import type { Context } from '../context.js';
import type { ClusterConfig } from '../config/types.js';
import type { KubeApi } from '../kube/types.js';
import type { OpenStackClient } from '../openstack/types.js';
import { PreflightError, UsageError } from '../errors.js';
import { findUnfinished, readJournal, type Journal, type JournalReport, type UnfinishedOperation } from '../journal/journal.js';
import { Ledger, isMasterName, nodeOf } from './engine/ledger.js';
import { Reapers } from './engine/reapers.js';
import { cleanupLeftovers } from './cleanup.js';
import type { RemovePlan, RemoveRequest, VictimPlan } from './remove-plan.js';

/**
 * Pure: the unfinished `kadd add` operations whose every leftover belongs to a node being removed (by
 * kadd's naming) or is operation-wide (bootstrap token, adder Deployment, certificate-key material). A
 * master add killed after its server was created leaves such a journal while kubeadm finishes the join on
 * its own: removing that master also finishes the add. null when any leftover is not of that kind
 * (another node's, another verb's): the remove is refused as before.
 */
export function finishableAdds(report: Pick<JournalReport, 'operations' | 'leftovers'>, cluster: string, victims: string[]): { ops: string[]; nodes: string[] } | null {
  return victims.length ? finishable(report, cluster, new Set(victims)) : null;
}

/** finishableAdds for a set of victim names (empty: with `--amount` before the pick, only operation-wide leftovers qualify) */
function finishable(report: Pick<JournalReport, 'operations' | 'leftovers'>, cluster: string, names: Set<string>): { ops: string[]; nodes: string[] } | null {
  if (!report.leftovers.length) return null;
  const adds = new Set(report.operations.filter((o) => o.command === 'add' || o.command.startsWith('add ')).map((o) => o.op));
  const nodes = new Set<string>();
  for (const l of report.leftovers) {
    if (!adds.has(l.op)) return null;
    const node = nodeOf(cluster, l.kind, l.name, l.details);
    if (node ? !names.has(node) : !['token', 'deployment', 'certificate-key'].includes(l.kind)) return null;
    if (node) nodes.add(node);
  }
  return { ops: [...new Set(report.leftovers.map((l) => l.op))], nodes: [...nodes] };
}

/**
 * Pure: for `--role R --amount N`, the nodes an interrupted add left that this remove may take as its
 * victims: every leftover node is of role R and there are at most N of them (else null: the usual refusal);
 * [] when the add left only operation-wide things (its token): any victims finish it.
 */
export function interruptedAddNodes(report: Pick<JournalReport, 'leftovers'>, cluster: string, role: 'node' | 'master', amount: number): string[] | null {
  const nodes = [...new Set(report.leftovers.map((l) => nodeOf(cluster, l.kind, l.name, l.details)).filter(Boolean))];
  if (nodes.length > amount || !nodes.every((n) => isMasterName(cluster, n) === (role === 'master'))) return null;
  return nodes;
}

/**
 * Pure: the unfinished kadd remove of the journal, newest first: one with leftovers, or (`lastBegin`) the
 * run of the last begin record that never ended (it died after its last delete, before the cluster file).
 */
export function unfinishedRemoveOf(operations: UnfinishedOperation[], lastBegin?: string): UnfinishedOperation | undefined {
  return [...operations].reverse().find((o) => o.command === 'remove' && (o.resources.length > 0 || (o.op === lastBegin && o.status === 'unterminated')));
}

/** What the unfinished journal makes of this remove. */
export type RemoveStart =
  | { kind: 'fresh'; request: RemoveRequest }
  /** --resume: the recorded victims and request */
  | { kind: 'resume'; request: RemoveRequest; victims: VictimPlan[] }
  /** this remove also finishes the interrupted kadd add operations `ops` (their nodes: `nodes`) */
  | { kind: 'finish-adds'; request: RemoveRequest; ops: string[]; nodes: string[] };

/**
 * The runner's `unfinished` step of `kadd remove`: throws the refusal (UsageError / PreflightError, exit 2)
 * or says how the run starts. `configArg` is the cluster file as the user typed it (for the hints).
 */
export async function startRemove(
  report: JournalReport,
  req: RemoveRequest,
  o: { resume: boolean; dryRun: boolean; clusterFile: string; configArg: string; cluster: string; io: Context['io'] },
): Promise<RemoveStart> {
  const records = o.resume ? (await readJournal(o.clusterFile)).records : [];
  const unfinished = unfinishedRemoveOf(report.operations, records.filter((r) => r.t === 'begin').pop()?.op);
  if (o.resume) {
    if (!unfinished) throw new UsageError(`--resume: the journal records no unfinished kadd remove for ${o.configArg}`, { hint: `journal: ${report.path}` });
    const victims = (unfinished.args.victims as VictimPlan[] | undefined) ?? [];
    // the run died before it recorded its victims: nothing of it happened
    if (!victims.length && !records.some((r) => r.op === unfinished.op && r.t === 'step')) {
      throw new UsageError('--resume: the unfinished kadd remove recorded no victims (it died before changing anything); run kadd remove again');
    }
    const recorded = (unfinished.args.request as Partial<RemoveRequest> | undefined) ?? {};
    return { kind: 'resume', victims, request: { ...req, ...recorded, names: victims.map((v) => v.name), concurrency: req.concurrency, drainTimeoutMs: req.drainTimeoutMs } };
  }
  if (!report.leftovers.length) return { kind: 'fresh', request: req };
  if (!unfinished) {
    // named victims, or with --amount the interrupted add's own nodes (picked first)
    const named = req.names.length ? req.names : req.amount !== undefined ? interruptedAddNodes(report, o.cluster, req.role ?? 'node', req.amount) : null;
    const finishing = named ? finishable(report, o.cluster, new Set(named)) : null;
    if (finishing) {
      o.io.log('info', `kadd remove also finishes the interrupted kadd add${finishing.nodes.length || req.names.length ? ` of ${(finishing.nodes.length ? finishing.nodes : req.names).join(', ')}` : ''} (${report.leftovers.length} resource(s) in its journal)`);
      return { kind: 'finish-adds', ops: finishing.ops, nodes: finishing.nodes, request: req.names.length ? req : { ...req, prefer: finishing.nodes } };
    }
  }
  if (o.dryRun) return { kind: 'fresh', request: req };
  const cmd = unfinished ? `kadd remove --resume ${o.configArg}` : `kadd add --cleanup ${o.configArg}`;
  throw new PreflightError(`an earlier kadd run on ${o.configArg} did not finish (${report.leftovers.length} resource(s) in its journal); nothing was changed`, {
    code: 'E_LEFTOVERS', hint: `\`${cmd}\` finishes it first (journal: ${report.path})`,
    details: report.leftovers.map((l) => `${l.kind} ${l.name}${l.id ? ` (${l.id})` : ''}`),
  });
}

/**
 * Pure (mutates the plan): a remove that finishes an interrupted add. The add never counted its nodes in the
 * cluster file, so removing them leaves the counts as they are; a plan whose victims miss one of them is blocked.
 */
export function planFinishing(plan: RemovePlan, start: Extract<RemoveStart, { kind: 'finish-adds' }>): void {
  const victims = new Set(plan.victims.map((v) => v.name));
  const missing = start.nodes.filter((n) => !victims.has(n));
  if (missing.length) {
    plan.blockers.push(`the interrupted kadd add left resources of ${missing.join(', ')}, which this run does not remove: \`kadd add --cleanup\` or \`kadd remove <node>\` finishes it first`);
    return;
  }
  const uncounted = plan.victims.filter((v) => start.nodes.includes(v.name)).length;
  if (plan.role === 'master') plan.config.nMastersAfter = Math.min(plan.config.nMasters, plan.config.nMastersAfter + uncounted);
  else plan.config.nNodesAfter = Math.min(plan.config.nNodes, plan.config.nNodesAfter + uncounted);
  const of = start.nodes.length ? start.nodes : plan.victims.map((v) => v.name);
  plan.warnings.push(`this also finishes the interrupted kadd add of ${of.join(', ')}: its leftovers (bootstrap token, master-adder, what the removal leaves) are torn down afterwards`);
}

/** The cluster file's counts after a remove that finished an add (its nodes were never counted). */
export function finishedCounts(plan: RemovePlan): Record<string, number> {
  return plan.role === 'master' ? { 'n-masters': plan.config.nMastersAfter } : { 'n-nodes': plan.config.nNodesAfter };
}

/**
 * After the victims are removed: tear down what the interrupted kadd add runs still hold in the journal
 * (the bootstrap token, the master-adder, records of what the removal deleted), as `kadd cleanup` does:
 * already-gone resources close their records. What cannot be deleted becomes a warning.
 */
export async function finishAdds(
  ctx: Context, config: Pick<ClusterConfig, 'file' | 'clusterName'>, journal: Journal, clients: { os: OpenStackClient; kube: KubeApi },
  ops: string[], pollIntervalMs: number, warnings: string[],
): Promise<void> {
  const left = (await findUnfinished(config.file)).leftovers.filter((l) => ops.includes(l.op));
  if (!left.length) return;
  const reapers = new Reapers({ io: ctx.io, clock: ctx.clock, signal: ctx.signal, ...clients, cluster: config.clusterName, pollIntervalMs });
  const r = await cleanupLeftovers(ctx.io, Ledger.fromLeftovers(journal, config.clusterName, left), reapers);
  for (const x of r.left) warnings.push(`the interrupted kadd add left: ${x}; \`kadd cleanup ${config.file}\` retries it`);
}
