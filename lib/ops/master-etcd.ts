/**
 * etcd side of control-plane changes: the member table (for output and the demo), stale-member detection
 * (pure), and opening etcdctl through the master-adder deployment or SSH.
 */
import type { Context } from '../context.js';
import type { ClusterConfig } from '../config/types.js';
import type { KNode, KubeApi } from '../kube/types.js';
import type { ClusterView, Verdict } from '../etcd/quorum.js';
import type { EtcdMember, Transport } from '../etcd/types.js';
import { Etcdctl, kubeadmEtcdctlOptions, type EtcdctlOptions } from '../etcd/etcdctl.js';
import { startAdder, type Adder } from './adder.js';

export interface MemberRow {
  name: string;
  /** lowercase hex */
  id: string;
  learner: boolean;
  started: boolean;
  healthy: boolean;
  leader: boolean;
  peer: string;
}

/** The etcd member table: name, id (hex), learner, started, healthy, leader; sorted by name, unnamed last. */
export function memberTable(view: ClusterView): MemberRow[] {
  return view.members
    .map((s) => ({
      name: s.member.name || '(unstarted)',
      id: s.member.id,
      learner: s.member.isLearner,
      started: s.started,
      healthy: s.healthy,
      leader: s.isLeader,
      peer: s.member.peerURLs.join(','),
    }))
    .sort((a, b) => Number(!a.started) - Number(!b.started) || a.name.localeCompare(b.name, 'en', { numeric: true }));
}

/** Plain-text rendering of the member table (fixed columns), for logs and the demo. */
export function formatMemberTable(rows: MemberRow[]): string {
  const head = ['NAME', 'ID', 'LEARNER', 'HEALTHY', 'LEADER'];
  const cells = rows.map((r) => [r.name, r.id, String(r.learner), String(r.healthy), r.leader ? '*' : '']);
  const w = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((x, i) => x.padEnd(w[i]!)).join('  ').trimEnd();
  return [line(head), ...cells.map(line)].join('\n');
}

function peerHost(m: EtcdMember): string[] {
  return m.peerURLs.flatMap((u) => {
    try {
      return [new URL(u).hostname.replace(/^\[|\]$/g, '')];
    } catch {
      return [];
    }
  });
}

/** Does this member belong to this Node (same name, or its peer URL is one of the Node's addresses)? */
export function memberMatchesNode(m: EtcdMember, n: { name: string; addresses: { address: string }[] }): boolean {
  if (m.name && m.name === n.name) return true;
  const hosts = peerHost(m);
  return n.addresses.some((a) => hosts.includes(a.address));
}

/** Does this member belong to the server with this name / IP? */
export function memberMatches(m: EtcdMember, name: string, ip?: string): boolean {
  return memberMatchesNode(m, { name, addresses: ip ? [{ address: ip }] : [] });
}

export interface StaleMember {
  id: string;
  name: string;
  reason: string;
}

/**
 * Pure. Members left behind by an earlier failed join: every member that never started (no name
 * published: learner or voter), and every member that matches no Node by name or address. A started
 * learner whose Node exists is a join in progress or stuck, not stale: it stays a blocker.
 */
export function findStale(view: ClusterView, nodes: KNode[]): StaleMember[] {
  const out: StaleMember[] = [];
  for (const s of view.members) {
    const m = s.member;
    const node = nodes.find((n) => memberMatchesNode(m, n));
    if (!s.started) out.push({ id: m.id, name: m.name, reason: `${m.isLearner ? 'learner' : 'member'} never started (peer ${m.peerURLs.join(',') || '?'})${node ? `; its Node ${node.name} did not finish joining` : '; no Node'}` });
    else if (!node) out.push({ id: m.id, name: m.name, reason: `${m.isLearner ? 'learner' : 'member'} ${m.name} has no Node in the cluster (peer ${m.peerURLs.join(',') || '?'})` });
  }
  return out;
}

/** The view with some members taken out (what the cluster looks like after --fix-stale). Pure. */
export function withoutMembers(view: ClusterView, ids: string[]): ClusterView {
  return { ...view, members: view.members.filter((s) => !ids.includes(s.member.id)) };
}

export interface EtcdAccess {
  etcdctl: Etcdctl;
  transport: Transport;
  /** the control-plane Node whose etcd answers (snapshots land there) */
  nodeName: string;
  /** host directory for snapshots on that node */
  snapshotDir: string;
  close(): Promise<void>;
}

export const DEFAULT_SNAPSHOT_DIR = '/var/lib/kadd/snapshots';

/** Open etcdctl through the master-adder deployment on a healthy control-plane Node. */
export async function openEtcdViaAdder(
  ctx: Context,
  kube: KubeApi,
  config: ClusterConfig,
  opts: { exclude?: string[]; image?: string; readyTimeoutMs?: number; pollIntervalMs?: number; snapshotDir?: string; operationId?: string; etcdctl?: Partial<EtcdctlOptions>; journal?: Parameters<typeof startAdder>[0]['journal'] } = {},
): Promise<EtcdAccess & { adder: Adder }> {
  const { renderAdderDeployment, etcdImageFor } = await import('../cloudinit/render.js');
  const snapshotDir = opts.snapshotDir ?? DEFAULT_SNAPSHOT_DIR;
  const image = opts.image ?? etcdImageFor(await kube.getClusterConfiguration(), config.version.k8s);
  const adder = await startAdder({
    kube, clock: ctx.clock, io: ctx.io, signal: ctx.signal, exclude: opts.exclude,
    readyTimeoutMs: opts.readyTimeoutMs, pollIntervalMs: opts.pollIntervalMs, journal: opts.journal,
    render: (nodeName) => renderAdderDeployment({
      clusterName: config.clusterName, nodeName, image, now: ctx.clock.now(), uploadCerts: true, snapshotDir,
      ...(opts.operationId ? { operationId: opts.operationId } : {}), requestedBy: 'kadd add --role master',
    }),
  });
  const etcdctl = new Etcdctl(adder.transport, { ...kubeadmEtcdctlOptions('healthcheck-client'), clock: ctx.clock, ...opts.etcdctl });
  return { etcdctl, transport: adder.transport, nodeName: adder.nodeName, snapshotDir, adder, close: adder.close };
}

/**
 * For `npm run demo` and `kadd status`: the etcd member table, read through a short-lived master-adder
 * (created, read, deleted).
 */
export async function readEtcdMembers(ctx: Context, kube: KubeApi, config: ClusterConfig, opts: { pollIntervalMs?: number } = {}): Promise<{ rows: MemberRow[]; verdict: Verdict; nodeName: string }> {
  const access = await openEtcdViaAdder(ctx, kube, config, opts);
  try {
    const v = await access.etcdctl.checkAdd();
    return { rows: memberTable(v.view), verdict: v, nodeName: access.nodeName };
  } finally {
    await access.close();
  }
}

export interface MemberRemovalOutcome {
  /** "id (name)" of each member removed */
  removed: string[];
  /** members the quorum check refused to remove (left in etcd), with the command for later */
  refused: { id: string; name: string; reason: string; fix: string; startedVoter: boolean }[];
  /** members whose removal failed for another reason (etcdctl unreachable, ...) */
  failed: { id: string; name: string; reason: string; fix: string; startedVoter: boolean }[];
}

/**
 * Remove every etcd member that belongs to one server (by recorded id, name or peer address) through a
 * surviving member, one at a time, each behind a fresh quorum check (projectRemove). Never throws: what
 * could not be removed is returned with the reason and the command that removes it by hand. A member
 * already gone counts as removed. `onRemoved` runs after each removal (journal).
 */
export async function removeServerMembers(
  etcdctl: Etcdctl,
  /** idsOnly: match by the given ids, never by name or address (a stale member recorded by id) */
  target: { name: string; ip?: string; ids?: string[]; idsOnly?: boolean },
  onRemoved?: (id: string, name: string) => Promise<void>,
): Promise<MemberRemovalOutcome> {
  const out: MemberRemovalOutcome = { removed: [], refused: [], failed: [] };
  const ids = (target.ids ?? []).filter(Boolean);
  let list: EtcdMember[];
  try {
    list = (await etcdctl.memberList()).members;
  } catch (e) {
    const reason = `cannot read the etcd member list: ${e instanceof Error ? e.message : e}`;
    for (const id of ids) out.failed.push({ id, name: target.name, reason, fix: etcdctl.formatCommand(['member', 'remove', id]), startedVoter: true });
    if (!ids.length) out.failed.push({ id: '?', name: target.name, reason, fix: etcdctl.formatCommand(['member', 'list']), startedVoter: true });
    return out;
  }
  const mine = list.filter((m) => ids.includes(m.id) || (!target.idsOnly && memberMatches(m, target.name, target.ip)));
  for (const m of mine) {
    const label = `${m.id}${m.name ? ` (${m.name})` : ''}`;
    const fix = etcdctl.formatCommand(['member', 'remove', m.id]);
    const startedVoter = !m.isLearner && !!m.name;
    try {
      const v = await etcdctl.checkRemove(m.id);
      const real = v.blockers.filter((b) => b.code !== 'E_ETCD_MEMBER_NOT_FOUND');
      if (!v.allowed && real.length) {
        out.refused.push({ id: m.id, name: m.name, reason: `quorum check refused: ${real.map((b) => b.message).join('; ')}`, fix, startedVoter });
        continue;
      }
      if (v.allowed) await etcdctl.memberRemove(m.id);
      out.removed.push(label);
      await onRemoved?.(m.id, m.name || target.name);
    } catch (e) {
      out.failed.push({ id: m.id, name: m.name, reason: e instanceof Error ? e.message : String(e), fix, startedVoter });
    }
  }
  return out;
}
