/**
 * Leftovers of a master run that died (kill -9, crash, power loss): what its journal recorded and never
 * undid. A half-joined control-plane node is cleaned up, never resumed (`kadd add --role master --cleanup`).
 *
 * Per master server the order is the rollback's: pool member -> its etcd member(s) through a surviving
 * member, each behind a fresh quorum check -> Node -> server (waited until gone) -> a member kubeadm may
 * have added meanwhile -> volume -> port. A started voting member the quorum check refuses to remove keeps
 * its server running (deleting it would take a healthy voter away without a removal). Without etcd access
 * no master server is touched. Worker leftovers in the same journal go through lib/ops/cleanup.ts.
 */
import { portOwnedByKadd } from '../openstack/network.js';
import type { Context } from '../context.js';
import type { KubeApi } from '../kube/types.js';
import type { OpenStackClient, Port, Server } from '../openstack/types.js';
import type { LeftoverResource } from '../journal/index.js';
import type { JournalLike } from './add-workers.js';
import { deleteVolumeWhenFree, firstIp, waitGone } from './add-workers.js';
import { exactNamePattern, portName, volumeName } from './naming.js';
import { removeServerMembers, type EtcdAccess } from './master-etcd.js';

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** One line per leftover resource, for messages. */
export function describeLeftover(l: LeftoverResource): string {
  return `${l.kind} ${l.name}${l.id ? ` (${l.id})` : ''}${l.state === 'maybe' ? ' (may exist: the run died while creating it)' : ''}`;
}

/** Pure: the master server a leftover belongs to (server, its volume/port, Node, pool/etcd member), or null. */
export function masterOf(cluster: string, l: LeftoverResource): string | null {
  const re = new RegExp(`^(${escapeRe(cluster)}-master-[0-9]+)(-root|-port-0)?$`);
  if (!['server', 'volume', 'port', 'node', 'lb-member', 'etcd-member'].includes(l.kind)) return null;
  const m = re.exec(l.name);
  if (!m) return null;
  if ((l.kind === 'volume' && m[2] !== '-root') || (l.kind === 'port' && m[2] !== '-port-0')) return null;
  if (l.kind !== 'volume' && l.kind !== 'port' && m[2]) return null;
  // a --fix-stale removal that died midway is an etcd-member intent named after the stale member: not ours
  if (l.kind === 'etcd-member' && l.details && 'remove' in l.details) return null;
  return m[1]!;
}

/** Pure: leftovers split into master servers (by name) and the rest. */
export function groupMasterLeftovers(cluster: string, leftovers: LeftoverResource[]): { masters: Map<string, LeftoverResource[]>; rest: LeftoverResource[] } {
  const masters = new Map<string, LeftoverResource[]>();
  const rest: LeftoverResource[] = [];
  for (const l of leftovers) {
    const m = masterOf(cluster, l);
    if (m) masters.set(m, [...(masters.get(m) ?? []), l]);
    else rest.push(l);
  }
  return { masters, rest };
}

export interface MasterCleanupOptions {
  cluster: string;
  pollIntervalMs: number;
  /** the API pool the masters are members of (for pool-member leftovers recorded without a pool id) */
  poolId?: string;
  /** `namespace/name` of the master-adder this run opened (a leftover of the same name was replaced by it) */
  adder?: string;
  /** lib/ops/cleanup.ts cleanupLeftovers, for worker leftovers (injected: that file belongs to the worker path) */
  cleanupOthers?: (leftovers: LeftoverResource[]) => Promise<string[]>;
}

export interface MasterCleanupResult {
  cleaned: string[];
  left: string[];
}

/** Delete what an earlier master run left. Never throws for one resource; returns what was done and left. */
export async function cleanupMasterLeftovers(
  ctx: Context, os: OpenStackClient, kube: KubeApi, etcd: EtcdAccess | null, leftovers: LeftoverResource[], journal: JournalLike, o: MasterCleanupOptions,
): Promise<MasterCleanupResult> {
  const cleaned: string[] = [];
  const left: string[] = [];
  const io = ctx.io;
  const { masters, rest } = groupMasterLeftovers(o.cluster, leftovers);
  const step = async (what: string, fn: () => Promise<void>): Promise<boolean> => {
    try {
      await fn();
      cleaned.push(what);
      io.log('info', `cleanup: ${what}`);
      return true;
    } catch (e) {
      left.push(`${what.replace(/^(deleted|removed) /, '')}: ${e instanceof Error ? e.message : e}`);
      io.log('warn', `cleanup: ${what} failed: ${e instanceof Error ? e.message : e}`);
      return false;
    }
  };
  const undone = async (ls: LeftoverResource[]) => {
    for (const l of ls) await journal.undone(l.kind, l.name, l.id);
  };

  for (const [name, ls] of masters) {
    const of = (k: string) => ls.filter((l) => l.kind === k);
    // the server: by recorded id, else by exact name (it must carry this cluster's ownership metadata)
    let servers: Server[] = [];
    const ids = of('server').map((l) => l.id).filter(Boolean) as string[];
    let port: Port | undefined;
    try {
      // a failed lookup is not "gone": this master is left as it is, and said so
      for (const id of ids) {
        const s = await os.compute.getServer(id);
        if (s) servers.push(s);
      }
      if (!ids.length) {
        servers = (await os.compute.listServers({ name: exactNamePattern(name) })).filter((s) => s.metadata?.['kadd-cluster'] === o.cluster);
      }
      // a port found by name must prove it is kadd's: its tag, or the description written in the create (13.1)
      port = (await os.network.listPorts({ name: portName(name) })).find((p) => portOwnedByKadd(p, o.cluster, name));
    } catch (e) {
      left.push(`${name}: not touched, looking up its server or port failed (${e instanceof Error ? e.message : String(e)}); run --cleanup again`);
      continue;
    }
    const ip = servers.map(firstIp).find(Boolean) ?? port?.fixed_ips?.[0]?.ip_address;
    const memberIds = of('etcd-member').map((l) => l.id).filter(Boolean) as string[];

    if (!etcd) {
      left.push(`${name}: not touched, etcd is not reachable to remove its member first (use --via ssh, or fix the master-adder)`);
      continue;
    }
    for (const l of of('lb-member')) {
      const pool = (l.details?.pool as string | undefined) ?? o.poolId;
      if (!l.id || !pool) {
        left.push(`pool member ${l.name}: no pool/member id recorded; remove it by hand if it exists`);
        continue;
      }
      if (await step(`deleted pool member ${l.name}`, () => os.loadbalancer.deleteMember(pool, l.id!))) await undone([l]);
    }
    let protect = false;
    const removeMembers = async () => {
      const r = await removeServerMembers(etcd.etcdctl, { name, ip, ids: memberIds }, (id) => journal.undone('etcd-member', name, id));
      for (const x of r.removed) {
        cleaned.push(`removed etcd member ${x}`);
        io.log('info', `cleanup: removed etcd member ${x}`);
      }
      for (const x of [...r.refused, ...r.failed]) {
        if (x.startedVoter) protect = true;
        left.push(`etcd member ${x.id}${x.name ? ` (${x.name})` : ''}: ${x.reason}; when etcd is healthy again: ${x.fix}`);
      }
      return r;
    };
    const first = await removeMembers();
    if (protect) {
      left.push(`${name}: server, volume and port kept running, its etcd member is a voting member the quorum check refused to remove`);
      continue;
    }
    if (!first.failed.length && !first.refused.length) await undone(of('etcd-member'));
    if (await kube.getNode(name).catch(() => null)) {
      if (await step(`deleted Node ${name}`, () => kube.deleteNode(name))) await undone(of('node'));
    } else await undone(of('node'));
    let serversGone = true;
    for (const s of servers) {
      const ok = await step(`deleted server ${name} (${s.id})`, async () => {
        await os.compute.deleteServer(s.id);
        await waitGone(() => os.compute.getServer(s.id), ctx, 180_000, o.pollIntervalMs);
      });
      serversGone &&= ok;
    }
    if (serversGone) await undone(of('server'));
    if (servers.length) await removeMembers(); // kubeadm may have added its member before the server went
    const byName = await os.volume.listVolumes({ name: volumeName(name) }).catch((e: unknown) => {
      left.push(`volume ${volumeName(name)}: looking it up by name failed (${e instanceof Error ? e.message : String(e)}); run --cleanup again`);
      return [];
    });
    const vols = [
      ...(of('volume').map((l) => l.id).filter(Boolean) as string[]),
      ...byName.filter((v) => v.metadata?.['kadd-cluster'] === o.cluster).map((v) => v.id),
    ];
    let volsGone = true;
    for (const id of [...new Set(vols)]) volsGone = (await step(`deleted volume ${volumeName(name)} (${id})`, () => deleteVolumeWhenFree(os, id, ctx, o.pollIntervalMs))) && volsGone;
    if (volsGone) await undone(of('volume'));
    const ports = [...new Set([...(of('port').map((l) => l.id).filter(Boolean) as string[]), ...(port ? [port.id] : [])])];
    let portsGone = true;
    for (const id of ports) portsGone = (await step(`deleted port ${portName(name)} (${id})`, () => os.network.deletePort(id))) && portsGone;
    if (portsGone) await undone(of('port'));
  }

  // tokens, the adder, stale-member removals that died midway; worker resources go to the worker cleanup
  const others: LeftoverResource[] = [];
  for (const l of rest) {
    if (l.kind === 'token') {
      if (!l.id) {
        await undone([l]); // created or not, an unrecorded token expires on its own (TTL)
        continue;
      }
      if (await step(`deleted bootstrap token ${l.id}`, () => kube.deleteBootstrapToken(l.id!))) await undone([l]);
    } else if (l.kind === 'deployment') {
      const [ns, n] = l.name.includes('/') ? l.name.split('/', 2) : ['kube-system', l.name];
      // a fresh adder of this run has the same name and is deleted when the run ends
      if (o.adder && o.adder === `${ns}/${n}`) {
        cleaned.push(`master-adder ${l.name} (replaced by this run's, deleted at its end)`);
        continue;
      }
      if (await step(`deleted master-adder ${l.name}`, () => kube.deleteDeployment(ns!, n!))) await undone([l]);
    } else if (l.kind === 'etcd-member') {
      const id = l.id ?? (l.details?.remove as string | undefined);
      if (!etcd || !id) {
        left.push(`etcd member ${l.name}${id ? ` ${id}` : ''}: check with \`etcdctl member list\`; the next preflight lists it if it is stale`);
        continue;
      }
      const r = await removeServerMembers(etcd.etcdctl, { name: l.name, ids: [id], idsOnly: true });
      for (const x of r.removed) cleaned.push(`removed etcd member ${x}`);
      for (const x of [...r.refused, ...r.failed]) left.push(`etcd member ${x.id}: ${x.reason}; later: ${x.fix}`);
      if (!r.refused.length && !r.failed.length) await undone([l]);
    } else if (['network', 'subnet', 'router', 'security-group', 'certificate-key', 'snapshot'].includes(l.kind)) {
      await undone([l]); // shared infrastructure and records kept on purpose
    } else {
      others.push(l);
    }
  }
  if (others.length) {
    if (o.cleanupOthers) cleaned.push(...(await o.cleanupOthers(others)));
    else for (const l of others) left.push(`${describeLeftover(l)}: not a master resource; \`kadd add --cleanup\` (workers) removes it`);
  }
  return { cleaned, left };
}
