/**
 * `--cleanup` for both roles: delete what earlier runs left, as their journal recorded it, through the
 * ledger and the reapers (lib/ops/engine). One node at a time in the reapers' fixed order (pool member ->
 * etcd member, quorum re-checked -> Node -> server -> volume -> port), then the operation-wide things
 * (bootstrap tokens, adder Deployments, `--fix-stale` removals that died midway). Shared infrastructure
 * (network, subnet, router, security group) is kept. A Node that joined and is Ready is never deleted
 * here: `kadd remove` drains it first, `--resume` keeps it. Only deletions that happened are reported.
 * `kadd cleanup` also sweeps the API pool (findOrphanMembers): members of servers that no longer exist.
 */
import type { Io } from '../io.js';
import type { Member, OpenStackClient, Port } from '../openstack/types.js';
import { describeReaped, type Ledger, type NodeReaper, type Ref } from './engine/ledger.js';
import { isKaddMemberName } from './naming.js';

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

/** An orphan to adopt into the cleanup's journal and hand to the reapers. */
export type OrphanRef = Omit<Ref, 'source'> & { id: string };

/**
 * The cluster's API pool as kadd cleanup sweeps it: the load balancer of the cluster file (default
 * `<cluster>-lb`), its pool `master-pool-<cluster>` or the default pool of its API listener. null when
 * there is no such load balancer or pool (a cluster without Octavia).
 */
export async function observeApiPool(os: OpenStackClient, cluster: string, lbName: string): Promise<{ poolId: string; members: Member[] } | null> {
  const lb = await os.loadbalancer.findLoadBalancer(lbName);
  if (!lb) return null;
  const [listeners, pools] = await Promise.all([os.loadbalancer.listListeners({ loadbalancer_id: lb.id }), os.loadbalancer.listPools({ loadbalancer_id: lb.id })]);
  const listener = listeners.find((l) => l.name === `master-listener-${cluster}`) ?? listeners.find((l) => l.protocol_port === 6443);
  const pool = pools.find((p) => p.name === `master-pool-${cluster}`) ?? pools.find((p) => p.id === listener?.default_pool_id);
  return pool ? { poolId: pool.id, members: await os.loadbalancer.listMembers(pool.id) } : null;
}

/**
 * Pure: members of the cluster's API pool whose address belongs to no existing server. A member kadd named
 * (`<cluster>-master-N`, the server's name) is kadd's and adopted for deletion; any other is refused and
 * named (koris or a person may have added it; kadd cannot prove whose it is). The ref's name carries the
 * address so that it never reads back as a node of the cluster (the reapers delete it by id, alone).
 */
export function findOrphanMembers(cluster: string, pool: { poolId: string; members: Member[] }, liveAddresses: Set<string>, journaled: Set<string>): { adopt: OrphanRef[]; refused: string[] } {
  const adopt: OrphanRef[] = [];
  const refused: string[] = [];
  for (const m of pool.members) {
    if (liveAddresses.has(m.address) || journaled.has(m.id)) continue;
    if (isKaddMemberName(cluster, m.name)) adopt.push({ kind: 'lb-member', name: `${m.name}@${m.address}`, id: m.id, node: '', details: { pool: pool.poolId } });
    else refused.push(`pool member ${m.name || '(unnamed)'} (${m.id}, ${m.address}): no server has this address, but kadd did not name it; remove it by hand if it is stale`);
  }
  return { adopt, refused };
}

/** The fixed addresses of the servers that exist (ports bound to a server that is not gone). */
export function liveServerAddresses(servers: { id: string; status: string }[], ports: Port[]): Set<string> {
  const live = new Set(servers.filter((s) => s.status !== 'DELETED' && s.status !== 'SOFT_DELETED').map((s) => s.id));
  return new Set(ports.filter((p) => p.device_id && live.has(p.device_id)).flatMap((p) => (p.fixed_ips ?? []).map((f) => f.ip_address)));
}
