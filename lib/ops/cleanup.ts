/**
 * `--cleanup` for both roles: delete what earlier runs left, as their journal recorded it, through the
 * ledger and the reapers (lib/ops/engine). One node at a time in the reapers' fixed order (pool member ->
 * etcd member, quorum re-checked -> Node -> server -> volume -> port), then the operation-wide things
 * (bootstrap tokens, adder Deployments, `--fix-stale` removals that died midway). Shared infrastructure
 * (network, subnet, router, security group) is kept. A Node that joined and is Ready is never deleted
 * here: `kadd remove` drains it first, `--resume` keeps it. Only deletions that happened are reported.
 */
import type { Io } from '../io.js';
import { describeReaped, type Ledger, type NodeReaper, type Ref } from './engine/ledger.js';

export interface CleanupReport {
  /** what was deleted (`deleted server X (id)`, `removed etcd member ID (X)`) */
  deleted: string[];
  /** what is still there, with the reason (refused, failed) */
  left: string[];
}

export async function cleanupLeftovers(
  io: Io,
  ledger: Ledger,
  reapers: NodeReaper,
  o: {
    /** refs to leave alone entirely (the adder Deployment this run just opened under the same name) */
    skip?: (r: Ref) => boolean;
  } = {},
): Promise<CleanupReport> {
  const report: CleanupReport = { deleted: [], left: [] };
  for (const node of [...ledger.nodes(), '']) {
    const r = await ledger.teardown(node, reapers, { readyNode: 'refuse', ...(o.skip ? { skip: o.skip } : {}) });
    for (const x of r.deleted) {
      const line = describeReaped(x);
      report.deleted.push(line);
      io.log('info', `cleanup: ${line}`);
    }
    for (const x of r.left) {
      const line = describeReaped(x);
      report.left.push(line);
      io.log('warn', `cleanup: not deleted: ${line}`);
    }
  }
  return report;
}
