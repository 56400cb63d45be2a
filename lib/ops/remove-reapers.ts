/**
 * `kadd remove`'s teardown on the engine's reapers (lib/ops/engine/reapers.ts), in remove's order:
 *
 *   pool member (alone, Octavia ACTIVE before and after; masters only, before the etcd member goes)
 *   ... etcd member: lib/ops/remove.ts (leader move, re-check, verify) ...
 *   server (waited until gone, ONE batched list per tick for every victim) -> volume -> port
 *   -> Node last, so the kubelet cannot register it again while the server still runs.
 *
 * The reapers prove ownership (journal ids, kadd metadata/tags/description) and treat gone as done.
 */
import type { Context } from '../context.js';
import type { KubeApi } from '../kube/types.js';
import type { Etcdctl } from '../etcd/etcdctl.js';
import type { OpenStackClient, Server } from '../openstack/types.js';
import { BatchWaiter } from './poll.js';
import { roleNamePattern, volumeName, portName } from './naming.js';
import { Reapers } from './engine/reapers.js';
import type { Reaped, Ref } from './engine/ledger.js';

export interface HostTeardown {
  server?: { id: string; state: string };
  volume: string;
  port: string;
}

export interface RemoveReapers {
  /** the API pool member of a master, alone */
  lbMember(node: string, poolId: string, memberId: string): Promise<'deleted' | 'gone'>;
  /** server (wait gone) -> its volume -> its port; throws when any is refused or failed */
  host(node: string, serverId: string | undefined, ip: string | undefined): Promise<HostTeardown>;
  /** the Node object */
  node(node: string): Promise<'deleted' | 'gone'>;
  /** list calls made while waiting for servers (benchmarks: one per tick) */
  ticks(): number;
}

export interface RemoveReaperOptions {
  cluster: string;
  pollIntervalMs: number;
  /** per server (default 300 s: R6) */
  serverTimeoutMs?: number;
  /** Octavia ACTIVE before and after a member delete (default 120 s) */
  lbActiveTimeoutMs?: number;
  etcdctl?: () => Etcdctl | null;
}

const GONE = new Set(['DELETED', 'SOFT_DELETED']);
const msg = (e: unknown) => (e instanceof Error ? e.message : String(e));

function failure(what: string, r: Reaped[]): Error | undefined {
  const bad = r.filter((x) => x.state === 'refused' || x.state === 'failed');
  if (!bad.length) return undefined;
  return new Error(`${what}: ${bad.map((x) => `${x.ref.kind} ${x.ref.name}: ${x.state}${x.reason ? ` (${x.reason})` : ''}`).join('; ')}`);
}

export function createRemoveReapers(ctx: Context, os: OpenStackClient, kube: KubeApi, o: RemoveReaperOptions): RemoveReapers {
  // one list per tick covers every server being waited for (the exact name pattern of their role)
  const roleOf = new Map<string, 'master' | 'node'>();
  const waiter = new BatchWaiter<Server | null>({
    what: 'server gone',
    clock: ctx.clock,
    signal: ctx.signal,
    intervalMs: o.pollIntervalMs,
    maxIntervalMs: Math.max(o.pollIntervalMs, Math.min(o.pollIntervalMs * 5, 5000)),
    fetch: async (ids) => {
      const roles = [...new Set(ids.map((id) => roleOf.get(id) ?? 'node'))];
      const lists = await Promise.all(roles.map((r) => os.compute.listServers({ name: roleNamePattern(o.cluster, r) })));
      const byId = new Map<string, Server | null>();
      for (const s of lists.flat()) if (ids.includes(s.id)) byId.set(s.id, s);
      return byId;
    },
    check: (_k, s) => (!s || GONE.has(s.status) ? { state: 'done', value: null } : { state: 'pending' }),
  });
  const reapers = () =>
    new Reapers({
      io: ctx.io, clock: ctx.clock, os, kube, cluster: o.cluster, pollIntervalMs: o.pollIntervalMs,
      etcdctl: o.etcdctl?.() ?? null,
      deadlines: { server: o.serverTimeoutMs ?? 300_000 },
      waitServerGone: async (id, timeoutMs) => {
        if (!roleOf.has(id)) roleOf.set(id, 'node');
        await waiter.wait(id, timeoutMs);
      },
    });

  const lbActive = async (what: string) => {
    const limit = o.lbActiveTimeoutMs ?? 120_000;
    const deadline = ctx.clock.now() + limit;
    for (;;) {
      const lb = await os.loadbalancer.findLoadBalancer(`${o.cluster}-lb`);
      if (!lb || lb.provisioning_status === 'ACTIVE') return;
      if (lb.provisioning_status === 'ERROR') throw new Error(`the API load balancer is in ERROR ${what}`);
      if (ctx.clock.now() >= deadline) throw new Error(`the API load balancer stayed ${lb.provisioning_status} ${what} for ${Math.round(limit / 1000)}s`);
      await ctx.clock.sleep(o.pollIntervalMs, ctx.signal);
    }
  };

  return {
    ticks: () => waiter.ticks,
    async lbMember(node, poolId, memberId) {
      await lbActive('before the member delete');
      const ref: Ref = { kind: 'lb-member', name: node, id: memberId, node, source: 'journal', details: { pool: poolId } };
      const r = await reapers().reapPoolMember(ref, node);
      const err = failure(`pool member of ${node}`, [r]);
      if (err) throw err;
      await lbActive('after the member delete');
      return r.state === 'deleted' ? 'deleted' : 'gone';
    },
    async host(node, serverId, ip) {
      if (serverId) roleOf.set(serverId, /-master-[0-9]+$/.test(node) ? 'master' : 'node');
      const refs: Ref[] = [
        ...(serverId ? [{ kind: 'server' as const, name: node, id: serverId, node, source: 'journal' as const }] : []),
        { kind: 'volume', name: volumeName(node), node, source: 'maybe' },
        { kind: 'port', name: portName(node), node, source: 'maybe' },
      ];
      // the Node stays until the server is gone (it is deleted by node() afterwards)
      const r = await reapers().reapNode(node, refs, { keep: ['node'], readyNode: 'delete', ...(ip ? { ip } : {}) });
      const err = failure(`tearing down ${node}`, r.filter((x) => x.ref.kind !== 'node'));
      if (err) throw err;
      const st = (k: string) => r.find((x) => x.ref.kind === k)?.state ?? 'absent';
      return { ...(serverId ? { server: { id: serverId, state: st('server') } } : {}), volume: st('volume'), port: st('port') };
    },
    async node(node) {
      try {
        const n = await kube.getNode(node);
        if (!n) return 'gone';
      } catch (e) {
        throw new Error(`looking up Node ${node}: ${msg(e)}`);
      }
      const r = await reapers().reapNode(node, [{ kind: 'node', name: node, node, source: 'journal' }], { keep: ['server', 'volume', 'port'], readyNode: 'delete' });
      const err = failure(`Node ${node}`, r.filter((x) => x.ref.kind === 'node'));
      if (err) throw err;
      return r.some((x) => x.ref.kind === 'node' && x.state === 'deleted') ? 'deleted' : 'gone';
    },
  };
}
