/**
 * The deletes `kadd remove` runs for one node (RemoveReapers), each idempotent (already gone = done),
 * ownership-proving and bounded. Servers of all victims are waited for with ONE batched list per tick.
 */
import type { Context } from '../context.js';
import type { KubeApi } from '../kube/types.js';
import type { OpenStackClient, Server } from '../openstack/types.js';
import { BatchWaiter } from './poll.js';
import { deleteVolumeWhenFree } from './add-workers.js';
import { roleNamePattern, TAG_CLUSTER } from './naming.js';
import type { RemoveReapers } from './remove.js';

export interface RemoveReaperOptions {
  cluster: string;
  pollIntervalMs: number;
  /** per server (default 300 s: R6) */
  serverTimeoutMs?: number;
  /** Octavia ACTIVE before and after a member delete (default 120 s) */
  lbActiveTimeoutMs?: number;
}

const GONE = new Set(['DELETED', 'SOFT_DELETED']);

export function createRemoveReapers(ctx: Context, os: OpenStackClient, kube: KubeApi, o: RemoveReaperOptions): RemoveReapers & { ticks(): number } {
  // one list per tick covers every server being waited for (both roles' name patterns, filtered in kadd)
  const waiter = new BatchWaiter<Server | null>({
    what: 'server gone',
    clock: ctx.clock,
    intervalMs: o.pollIntervalMs,
    maxIntervalMs: Math.max(o.pollIntervalMs, Math.min(o.pollIntervalMs * 5, 5000)),
    fetch: async (ids) => {
      const want = new Set(ids);
      const roles = new Set(ids.map((id) => id.split('\u0000')[1]!));
      const lists = await Promise.all([...roles].map((r) => os.compute.listServers({ name: roleNamePattern(o.cluster, r as 'master' | 'node') })));
      const byId = new Map<string, Server | null>();
      for (const s of lists.flat()) for (const k of want) if (k.startsWith(`${s.id}\u0000`)) byId.set(k, s);
      return byId;
    },
    check: (_k, s) => (!s || GONE.has(s.status) ? { state: 'done', value: null } : s.status === 'ERROR' && s['OS-EXT-STS:task_state'] !== 'deleting' ? { state: 'pending', note: 'ERROR' } : { state: 'pending' }),
  });

  const lbActive = async (what: string) => {
    const deadline = ctx.clock.now() + (o.lbActiveTimeoutMs ?? 120_000);
    for (;;) {
      const lb = await os.loadbalancer.findLoadBalancer(`${o.cluster}-lb`);
      if (!lb || lb.provisioning_status === 'ACTIVE') return;
      if (lb.provisioning_status === 'ERROR') throw new Error(`the API load balancer is in ERROR ${what}`);
      if (ctx.clock.now() >= deadline) throw new Error(`the API load balancer stayed ${lb.provisioning_status} ${what} for ${Math.round((o.lbActiveTimeoutMs ?? 120_000) / 1000)}s`);
      await ctx.clock.sleep(o.pollIntervalMs, ctx.signal);
    }
  };

  return {
    ticks: () => waiter.ticks,
    async server(id, name) {
      const role = /-master-\d+$/.test(name) ? 'master' : 'node';
      const s = await os.compute.getServer(id);
      if (!s || GONE.has(s.status)) return 'gone';
      // ownership: the id came from the plan (the server's exact kadd name `<cluster>-<role>-N`) and the name must still match
      if (s.name !== name) throw new Error(`server ${id} is now named ${s.name}, not ${name}; not deleted`);
      await os.compute.deleteServer(id);
      await waiter.wait(`${id}\u0000${role}`, o.serverTimeoutMs ?? 300_000);
      return 'deleted';
    },
    async volume(name, id) {
      const vols = id ? [await os.volume.getVolume(id)].filter((v) => v !== null) : (await os.volume.listVolumes({ name })).filter((v) => v.name === name);
      if (!vols.length) return 'gone';
      let out: 'deleted' | 'gone' | 'not-owned' = 'gone';
      for (const v of vols) {
        if (v.metadata?.[TAG_CLUSTER] !== o.cluster) {
          out = 'not-owned';
          ctx.io.log('warn', `volume ${v.id} is named ${name} but carries no ${TAG_CLUSTER}=${o.cluster} metadata; not deleted`);
          continue;
        }
        if (v.status !== 'deleting') await deleteVolumeWhenFree(os, v.id, ctx, o.pollIntervalMs);
        out = 'deleted';
      }
      return out;
    },
    async port(name, id) {
      const ports = (await os.network.listPorts({ name })).filter((p) => p.name === name && (!id || p.id === id));
      if (!ports.length) return 'gone';
      let out: 'deleted' | 'gone' | 'not-owned' = 'gone';
      for (const p of ports) {
        if (!p.tags?.includes(`${TAG_CLUSTER}=${o.cluster}`)) {
          out = 'not-owned';
          ctx.io.log('warn', `port ${p.id} is named ${name} but has no ${TAG_CLUSTER}=${o.cluster} tag; not deleted`);
          continue;
        }
        if (p.device_id && p.device_owner?.startsWith('compute:')) {
          const holder = await os.compute.getServer(p.device_id);
          if (holder && !GONE.has(holder.status)) throw new Error(`port ${p.id} is still bound to server ${holder.name}; not deleted`);
        }
        await os.network.deletePort(p.id);
        out = 'deleted';
      }
      return out;
    },
    async node(name) {
      const n = await kube.getNode(name);
      if (!n) return 'gone';
      await kube.deleteNode(name);
      return 'deleted';
    },
    async lbMember(poolId, memberId) {
      const members = await os.loadbalancer.listMembers(poolId);
      if (!members.some((m) => m.id === memberId)) return 'gone';
      await lbActive('before the member delete');
      await os.loadbalancer.deleteMember(poolId, memberId); // waits out 409 / PENDING_UPDATE (whenPoolIdle)
      await lbActive('after the member delete');
      return 'deleted';
    },
  };
}
