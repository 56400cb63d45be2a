/**
 * kadd add --role node, the watch: one batched list call per tick for all nodes of the run (boot volumes
 * available, servers ACTIVE, Nodes Ready), through lib/ops/poll.ts BatchWaiter. The waiters only report;
 * what a node's state becomes is the caller's (lib/ops/add-workers-execute.ts) through the hooks.
 */
import type { Context } from '../context.js';
import type { OpenStackClient, Server, Volume } from '../openstack/types.js';
import type { KNode, KubeApi } from '../kube/types.js';
import { OperationError } from '../errors.js';
import { nameClaimRival, roleNamePattern } from './naming.js';
import { BatchWaiter } from './poll.js';
import type { AddWorkersRequest } from './add-workers-plan.js';

export interface WatchHooks {
  /** a server of the run is listed and not ACTIVE yet */
  serverStatus(serverId: string, s: Server): void;
  /** a Node of the run is registered (Ready or not) */
  nodeRegistered(name: string): void;
  /** a Node of the run is registered and NotReady */
  nodeNotReady(name: string): void;
  /** every tick of every waiter: the bootstrap token's keep-alive */
  onTick(): Promise<void> | void;
}

export interface Waiters {
  volumes: BatchWaiter<Volume>;
  servers: BatchWaiter<Server>;
  nodes: BatchWaiter<KNode>;
}

/** The three waiters of one run; `started` is the run's start (the servers' changes-since window). */
export function batchWaiters(ctx: Context, req: AddWorkersRequest, os: OpenStackClient, kube: KubeApi, started: number, hooks: WatchHooks): Waiters {
  const io = ctx.io;
  const c = req.config;
  const signal = ctx.signal;
  const keepToken = () => hooks.onTick();

  // Adaptive polling. A boot volume is often available within a second of its create: first check after half
  // the poll interval. A server needs a few seconds at least: first check after the poll interval. Both back
  // off while nothing changes; when a status changes (a volume or server of the batch is done) the cadence
  // drops to half the interval, since the rest of the batch, created at the same time, usually follows.
  // Task states do not count as progress: on a loaded or real cloud they move through the whole build and
  // would keep the cadence short for all of it (measured: more polls, no earlier ACTIVE).
  const fastMs = Math.max(1, Math.round(req.pollIntervalMs / 2));
  const volumeWaiter = new BatchWaiter<Volume>({
    what: 'volume available',
    clock: ctx.clock, signal, intervalMs: fastMs, maxIntervalMs: req.maxPollIntervalMs,
    progressOf: (v) => v.status,
    fetch: async (ids) => {
      const vols = await os.volume.listVolumes({ metadata: { 'kadd-cluster': c.clusterName } });
      return new Map(vols.filter((v) => ids.includes(v.id)).map((v) => [v.id, v]));
    },
    check: (id, v) => {
      if (!v) return { state: 'pending', note: 'not listed yet' };
      if (v.status === 'available') return { state: 'done', value: v };
      if (v.status === 'error') return { state: 'failed', error: new VolumeErrorState(v) };
      return { state: 'pending', note: v.status };
    },
    onTick: keepToken,
    onFetchError: (e) => io.log('warn', `polling volumes failed, will retry: ${e instanceof Error ? e.message : e}`),
  });

  const nameTaken = new Map<string, Server>();
  // only this run's servers: changes-since a moment before the run (5 min of slack for the local clock
  // against the cloud's); if a server we wait for is missing from two lists in a row (a clock far ahead),
  // the filter is dropped for the rest of the run
  let changesSince: string | undefined = new Date(started - 300_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  let missedTicks = 0;
  const serverWaiter = new BatchWaiter<Server>({
    what: 'server ACTIVE',
    clock: ctx.clock, signal, intervalMs: fastMs, firstIntervalMs: req.pollIntervalMs, maxIntervalMs: req.maxPollIntervalMs,
    progressOf: (s) => s.status,
    fetch: async (ids) => {
      // One call for the whole batch. The filter is the role's name pattern, not an alternation of the
      // pending names: Nova on MySQL/MariaDB escapes `|` in the name regex, so `^(a|b)$` matches nothing.
      const list = await os.compute.listServers({ name: roleNamePattern(c.clusterName, 'node'), changesSince });
      const mine = list.filter((s) => ids.includes(s.id));
      // the same list shows a server that took one of our names after the preflight (13.8): no extra request
      // (a rival created after the run started is inside the changes-since window too)
      for (const s of mine) {
        const rival = nameClaimRival(s, list);
        if (rival) nameTaken.set(s.id, rival);
      }
      const found = new Map(mine.map((s) => [s.id, s]));
      if (changesSince && found.size < ids.length) {
        if (++missedTicks >= 2) {
          io.log('debug', `servers missing from the changes-since=${changesSince} list: polling without it`);
          changesSince = undefined;
        }
      } else missedTicks = 0;
      return found;
    },
    check: (id, s) => {
      const rival = nameTaken.get(id);
      if (rival) {
        return { state: 'failed', error: new OperationError('E_NAME_TAKEN', `server name ${rival.name} was taken by another server (${rival.id}, created ${rival.created ?? '?'}) after the preflight; this node is rolled back instead of becoming a duplicate`, { hint: 'another kadd, or someone by hand, is adding servers to this cluster; run kadd add again for the missing node' }) };
      }
      if (!s) return { state: 'pending', note: 'not listed yet' };
      if (s.status === 'ACTIVE') return { state: 'done', value: s };
      if (s.status === 'ERROR') return { state: 'failed', error: new ServerErrorState(s) };
      return { state: 'pending', note: s.status };
    },
    onObserve: (id, s) => {
      if (s && s.status !== 'ACTIVE') hooks.serverStatus(id, s);
    },
    onTick: keepToken,
    onFetchError: (e) => io.log('warn', `polling servers failed, will retry: ${e instanceof Error ? e.message : e}`),
  });

  const nodeWaiter = new BatchWaiter<KNode>({
    what: 'Node Ready',
    clock: ctx.clock, signal, intervalMs: req.pollIntervalMs, maxIntervalMs: req.maxPollIntervalMs,
    fetch: async (names) => {
      const nodes = await kube.listNodes();
      return new Map(nodes.filter((n) => names.includes(n.name)).map((n) => [n.name, n]));
    },
    check: (name, n) => {
      if (!n) return { state: 'pending', note: 'not registered' };
      hooks.nodeRegistered(name);
      return n.ready ? { state: 'done', value: n } : { state: 'pending', note: 'NotReady' };
    },
    onObserve: (name, n) => {
      if (n && !n.ready) hooks.nodeNotReady(name);
    },
    onTick: keepToken,
    onFetchError: (e) => io.log('warn', `polling Nodes failed, will retry: ${e instanceof Error ? e.message : e}`),
  });

  return { volumes: volumeWaiter, servers: serverWaiter, nodes: nodeWaiter };
}

export class VolumeErrorState extends OperationError {
  constructor(readonly volume: Volume) {
    super('E_VOLUME_ERROR', `volume ${volume.name ?? volume.id} went to error`);
  }
}

export class ServerErrorState extends Error {
  constructor(readonly server: Server) {
    super(`server ${server.name} went to ERROR: ${server.fault?.message ?? 'no fault message'}`);
  }
}
