/**
 * Confirmation of an operation that reduces availability (issue 12 point 4). Adding a second master turns
 * one etcd voter into two: the quorum becomes 2 while the new member is still starting, so the API server
 * stalls until it has started, and a cluster of two tolerates no more failures than one. Such a run shows
 * its plan and asks on a terminal; `--yes` answers; without a terminal and without `--yes` it is refused
 * (exit 2) before any API write. Adding a third master (2 -> 3) raises the fault tolerance: no question.
 *
 * Two gates, one rule: `refuseUnconfirmedEarly` before the lock and the adder (from a read-only count of
 * the masters, observeMastersReadOnly), `confirmAvailability` after the plan (from the plan's etcd
 * projection), just before the first OpenStack resource is created.
 */
import type { Context } from '../context.js';
import type { KubeApi } from '../kube/types.js';
import type { OpenStackClient } from '../openstack/types.js';
import { isControlPlane } from '../kube/labels.js';
import { UsageError } from '../errors.js';
import { roleNamePattern } from './naming.js';

export interface ConfirmOptions {
  /** --yes */
  yes: boolean;
  /** stdin is a terminal (a question can be answered) */
  interactive: boolean;
  /** the cluster file as given (for the hint) */
  configArg: string;
}

/** Pure: adding one master to a cluster of `mastersBefore` (etcd voters) reduces availability while it joins. */
export function masterAddReducesAvailability(mastersBefore: number): boolean {
  return mastersBefore === 1;
}

const WHY = 'adding a second master stalls the API server until the new etcd member has started (quorum 1 -> 2), and two masters tolerate no failure';

function refusal(configArg: string): UsageError {
  return new UsageError(`kadd add --role master asks for confirmation (${WHY}), and stdin is not a terminal; nothing was changed`, {
    hint: `give --yes to proceed: \`kadd add --role master --yes ${configArg}\` (\`--dry-run\` shows the plan)`,
  });
}

/** The masters seen read-only: master servers by kadd's naming, control-plane Nodes (names). */
export interface MastersSeen {
  servers: string[];
  controlPlaneNodes: string[];
}

/** Reads the masters without writing anything; undefined when neither source answered (the later gate decides). */
export async function observeMastersReadOnly(os: OpenStackClient, kube: KubeApi, cluster: string): Promise<MastersSeen | undefined> {
  const [nodes, servers] = await Promise.all([
    kube.listNodes().then((ns) => ns.filter(isControlPlane).map((n) => n.name), () => undefined),
    os.compute.listServers({ name: roleNamePattern(cluster, 'master') }).then((ss) => ss.map((s) => s.name), () => undefined),
  ]);
  if (nodes === undefined && servers === undefined) return undefined;
  return { servers: servers ?? [], controlPlaneNodes: nodes ?? [] };
}

/** The masters there are now: the larger of the two counts. */
export function mastersNow(seen: MastersSeen | undefined): number | undefined {
  return seen && Math.max(seen.servers.length, seen.controlPlaneNodes.length);
}

/** Before any API write: one master now, no --yes and no terminal -> exit 2 with the hint. */
export function refuseUnconfirmedEarly(mastersNow: number | undefined, o: ConfirmOptions): void {
  if (o.yes || o.interactive || mastersNow === undefined) return;
  if (masterAddReducesAvailability(mastersNow)) throw refusal(o.configArg);
}

/**
 * After the plan: when the plan's etcd projection goes from one voter to two, show the plan and ask
 * (terminal), proceed (--yes) or refuse (exit 2). `formattedPlan` is printed to stderr before the question.
 */
export async function confirmAvailability(ctx: Context, plan: { name: string; etcd: { projection?: { votersBefore: number } } }, formattedPlan: string, o: ConfirmOptions): Promise<void> {
  const before = plan.etcd.projection?.votersBefore;
  if (o.yes || before === undefined || !masterAddReducesAvailability(before)) return;
  ctx.io.log('info', formattedPlan.trimEnd());
  if (!o.interactive) throw refusal(o.configArg);
  ctx.io.log('warn', WHY);
  if (!(await ctx.io.confirm(`add master ${plan.name} (1 -> 2 masters)?`, false))) throw new UsageError('not confirmed; nothing was changed');
}
