/**
 * kadd heal: what one run sees (the input of planHeal, lib/ops/heal-plan.ts). Nova servers, Nodes and, for
 * masters, the signals the plan judges them by:
 * - apiserver /readyz of each master whose Node is Ready, through the API's node proxy (kubeadm's API server talks
 *   to the etcd member on its own host, so one master's /readyz fails while the load balancer's answers ok). A
 *   NotReady master is unhealthy already; its proxy would only time out, so it is not asked.
 * - etcd: the member list and health, and `etcdctl alarm list` (NOSPACE, CORRUPT) per member, read through the
 *   master-adder on a Ready master. Creating that pod is a change to the cluster: the report mode (no --apply)
 *   does it only with --allow-adder, and otherwise says that etcd was not checked (master decisions then refuse
 *   rather than guess).
 */
import type { Context } from '../context.js';
import type { ClusterConfig } from '../config/types.js';
import type { KubeApi, KNode } from '../kube/types.js';
import type { OpenStackClient, Server } from '../openstack/types.js';
import type { ClusterView } from '../etcd/quorum.js';
import { parseAlarmList } from '../etcd/parse.js';
import { findUnfinished, lockPath, pidAlive } from '../journal/index.js';
import { holderOf, LOCK_NAME, LOCK_NAMESPACE } from '../kube/lease.js';
import { describeHolder } from './engine/lock.js';
import { roleNamePattern } from './naming.js';
import { machinesOf } from './replace.js';
import type { HealMachine, HealObserved } from './heal-plan.js';

export interface HealObserveOptions {
  adderImage?: string;
  pollIntervalMs: number;
  /** may the master-adder be created to read etcd (--apply or --allow-adder) */
  readEtcd: boolean;
  /** this run holds the cluster file's lock (--apply): the lock file is ours, not a sign of another kadd */
  holdsLock: boolean;
}

export type HealObservation = HealObserved & { errors: string[]; nodes: KNode[] };

const msg = (e: unknown) => (e instanceof Error ? e.message : String(e));

export const ETCD_NOT_CHECKED = 'etcd not checked: reading it creates the master-adder pod on a master, which the report does only with --allow-adder (--apply reads it)';

/** etcd through the master-adder: the view and the alarms per member (hex id); alarms unreadable -> an error line, view kept */
async function readEtcd(ctx: Context, config: ClusterConfig, kube: KubeApi, exclude: string[], o: HealObserveOptions, errors: string[]): Promise<{ view: ClusterView; alarms: Map<string, string[]> } | undefined> {
  const { openEtcdViaAdder } = await import('./master-etcd.js');
  try {
    const a = await openEtcdViaAdder(ctx, kube, config, { exclude, image: o.adderImage, pollIntervalMs: o.pollIntervalMs });
    try {
      const view = await a.etcdctl.view();
      let alarms = new Map<string, string[]>();
      try {
        alarms = parseAlarmList(await a.etcdctl.alarmList());
      } catch (e) {
        errors.push(`reading etcd alarms: ${msg(e)}`);
      }
      return { view, alarms };
    } finally {
      await a.close().catch(() => undefined);
    }
  } catch (e) {
    errors.push(`reading etcd: ${msg(e)}`);
    return undefined;
  }
}

/**
 * Master changes under way that the machines do not show (one line each): an unfinished kadd operation on
 * masters in the journal (not heal's own), the cluster lock (the kadd-lock Lease; the local lock file when this
 * run does not hold it) held by a live kadd, an etcd learner.
 */
async function masterChanges(config: ClusterConfig, kube: KubeApi, view: ClusterView | undefined, o: HealObserveOptions, now: number, errors: string[]): Promise<string[]> {
  const out: string[] = [];
  const masterish = /-master-\d+|"role":"master"/;
  try {
    for (const op of (await findUnfinished(config.file)).operations) {
      if (op.command === 'heal') continue;
      if (op.resources.some((r) => masterish.test(r.name)) || masterish.test(JSON.stringify(op.args))) out.push(`kadd ${op.command} (operation ${op.op}, ${op.status}) did not finish on masters; finish it first (--resume)`);
    }
  } catch (e) {
    errors.push(`reading the journal: ${msg(e)}`);
    out.push('the journal could not be read');
  }
  try {
    const lease = await kube.getLease(LOCK_NAMESPACE, LOCK_NAME);
    const h = lease ? holderOf(lease, now) : null;
    if (h && h.expiresInMs > 0) out.push(`the cluster lock is held by ${describeHolder(h, now)}`);
  } catch (e) {
    errors.push(`reading the cluster lock: ${msg(e)}`);
    out.push('the cluster lock could not be read');
  }
  if (!o.holdsLock) {
    const { readFile } = await import('node:fs/promises');
    const held = await readFile(lockPath(config.file), 'utf8').then((t) => JSON.parse(t) as { pid?: number; host?: string }).catch(() => undefined);
    const { hostname } = await import('node:os');
    if (held && typeof held.pid === 'number' && (held.host !== hostname() || pidAlive(held.pid))) out.push(`another kadd (pid ${held.pid} on ${held.host}) holds this cluster file's lock`);
  }
  for (const mem of view?.members ?? []) if (mem.member.isLearner) out.push(`etcd learner ${mem.member.name || mem.member.id} (a master join in progress)`);
  return out;
}

export async function observeHeal(ctx: Context, config: ClusterConfig, os: OpenStackClient, kube: KubeApi, o: HealObserveOptions): Promise<HealObservation> {
  const errors: string[] = [];
  const cluster = config.clusterName;
  const settle = async <T>(p: Promise<T>, what: string): Promise<T | null> => {
    try { return await p; } catch (e) { errors.push(`${what}: ${msg(e)}`); return null; }
  };
  const [masters, workers, nodes] = await Promise.all([
    settle(os.compute.listServers({ name: roleNamePattern(cluster, 'master') }), 'listing masters'),
    settle(os.compute.listServers({ name: roleNamePattern(cluster, 'node') }), 'listing workers'),
    settle(kube.listNodes(), 'listing Nodes'),
  ]);
  if (!masters || !workers || !nodes) throw new Error(`cannot observe the cluster: ${errors.join('; ')}`);
  const servers: Server[] = [...masters, ...workers];
  const masterNodes = nodes.filter((n) => /-master-\d+$/.test(n.name) && n.name.startsWith(`${cluster}-`));
  const readyMasters = masterNodes.filter((n) => n.ready);
  // each Ready master's own API server, in parallel (never throws)
  const readyz = new Map(await Promise.all(readyMasters.map(async (n) => [n.name, await kube.apiserverReadyzOn(n.name)] as const)));
  // etcd only matters with more than one master (one master is never replaced), and is read through a Ready one
  let etcd: { view: ClusterView; alarms: Map<string, string[]> } | undefined;
  let etcdNote: string | undefined;
  if (masters.length > 1 && readyMasters.length) {
    if (o.readEtcd) etcd = await readEtcd(ctx, config, kube, masterNodes.filter((n) => !n.ready).map((n) => n.name), o, errors);
    else etcdNote = ETCD_NOT_CHECKED;
  }
  const changes = masters.length > 1 ? await masterChanges(config, kube, etcd?.view, o, ctx.clock.now(), errors) : [];
  const raw = new Map(servers.map((s) => [s.name, s]));
  const knodes = new Map(nodes.map((n) => [n.name, n]));
  const machines: HealMachine[] = machinesOf(cluster, servers, nodes, [], etcd?.view).map((m) => {
    const s = m.server ? raw.get(m.name) : undefined;
    const kn = knodes.get(m.name);
    const readyCond = kn?.conditions.find((c) => c.type === 'Ready') as { lastTransitionTime?: string | Date } | undefined;
    const lt = readyCond?.lastTransitionTime;
    const rz = readyz.get(m.name);
    return {
      name: m.name, role: m.role,
      ...(m.server ? { server: { id: m.server.id, status: m.server.status, ...(m.server.created ? { created: m.server.created } : {}), ...(s?.updated ? { updated: s.updated } : {}), ...(s?.['OS-EXT-STS:task_state'] ? { taskState: s['OS-EXT-STS:task_state'] } : {}) } } : {}),
      ...(m.node ? { node: { ready: m.node.ready, ...(lt ? { readySince: new Date(lt).toISOString() } : {}), ...(m.node.created ? { created: new Date(m.node.created).toISOString() } : {}), annotations: m.node.annotations } } : {}),
      ...(m.member ? { member: { started: m.member.started, healthy: m.member.healthy, alarms: etcd?.alarms.get(m.member.id) ?? [] } } : {}),
      ...(m.role === 'master' && rz ? { apiserverReady: rz.ok, ...(rz.ok ? {} : { apiserverDetail: rz.detail }) } : {}),
    };
  });
  return { cluster, now: new Date(ctx.clock.now()).toISOString(), machines, etcdKnown: !!etcd, ...(etcdNote ? { etcdNote } : {}), ...(changes.length ? { masterChanges: changes } : {}), surgeQuota: true, errors, nodes };
}
