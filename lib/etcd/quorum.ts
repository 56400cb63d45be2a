/**
 * Quorum projections for membership changes (pure, no I/O).
 *
 * Add follows Cluster API's KubeadmControlPlane rule (targetEtcdClusterHealthy): the new member is
 * counted as unhealthy, except when the cluster has 0 or 1 voting members (otherwise 1 -> 2 could
 * never happen); any learner makes the change unsafe. kadd is stricter than the projection: it refuses
 * while any member is unhealthy or unstarted, or any learner exists, and lists each with the command
 * that would clean it up.
 */
import type { EtcdEndpointHealth, EtcdEndpointStatus, EtcdMember } from './types.js';

export interface MemberState {
  member: EtcdMember;
  /** started = the member has published its name (etcdctl shows "unstarted" otherwise) */
  started: boolean;
  healthy: boolean;
  /** why it is unhealthy */
  reason?: string;
  isLeader: boolean;
}

export interface ClusterView {
  members: MemberState[];
  leaderId?: string;
}

export interface Blocker {
  code:
    | 'E_ETCD_LEARNER_PRESENT'
    | 'E_ETCD_MEMBER_UNHEALTHY'
    | 'E_ETCD_MEMBER_UNSTARTED'
    | 'E_ETCD_NO_QUORUM'
    | 'E_ETCD_QUORUM_AT_RISK'
    | 'E_ETCD_LAST_MEMBER'
    | 'E_ETCD_EMPTY'
    | 'E_ETCD_MEMBER_NOT_FOUND';
  message: string;
  memberId?: string;
  /** the command that would clean this up (printed for the operator, never run implicitly) */
  fix?: string;
}

export interface Projection {
  votersBefore: number;
  unhealthyBefore: number;
  quorumBefore: number;
  votersAfter: number;
  /** unhealthy voters after the change (for add: counting the new member, per CAPI) */
  unhealthyAfter: number;
  quorumAfter: number;
  /** failures the cluster tolerates after the change once everything is healthy */
  toleranceAfter: number;
  /** the projection alone (CAPI's canSafely...) */
  safe: boolean;
}

export interface Verdict {
  allowed: boolean;
  blockers: Blocker[];
  warnings: string[];
  projection: Projection;
}

export function quorumOf(voters: number): number {
  return Math.floor(voters / 2) + 1;
}

export function toleranceOf(voters: number): number {
  return voters === 0 ? 0 : voters - quorumOf(voters);
}

/** Renders an etcdctl command line for a blocker's fix (the Etcdctl class passes one with its flags). */
export type CommandFormatter = (args: string[]) => string;
export const plainEtcdctl: CommandFormatter = (args) => ['etcdctl', ...args].join(' ');

function label(m: EtcdMember): string {
  return m.name ? `${m.name} (${m.id})` : `${m.id} (unstarted, peer ${m.peerURLs.join(',') || '?'})`;
}

/**
 * Combine `member list`, `endpoint health` and (optionally) `endpoint status` into one view.
 * A member is healthy when it has started, it has a client URL, and every health result for its
 * client URLs says healthy (at least one must exist). Status errors mark it unhealthy too.
 */
export function buildClusterView(
  members: EtcdMember[],
  health: EtcdEndpointHealth[],
  status: EtcdEndpointStatus[] = [],
): ClusterView {
  const norm = (u: string) => u.replace(/\/+$/, '');
  const leaderVotes = status.filter((s) => s.leaderId && !s.errors?.length).map((s) => s.leaderId);
  const leaderId = leaderVotes.length ? mostCommon(leaderVotes) : undefined;
  return {
    leaderId,
    members: members.map((m) => {
      const started = m.name !== '';
      const h = health.filter((x) => m.clientURLs.some((u) => norm(u) === norm(x.endpoint)));
      const st = status.filter((s) => s.memberId === m.id || m.clientURLs.some((u) => norm(u) === norm(s.endpoint)));
      let healthy = started && h.length > 0 && h.every((x) => x.health);
      let reason: string | undefined;
      if (!started) reason = 'never started (no name published)';
      else if (m.clientURLs.length === 0) reason = 'no client URL';
      else if (h.length === 0) reason = 'no health result for its client URL';
      else if (!healthy) reason = h.find((x) => !x.health)?.error ?? 'unhealthy';
      const stErr = st.flatMap((s) => s.errors ?? []);
      if (healthy && stErr.length) {
        healthy = false;
        reason = stErr.join('; ');
      }
      return { member: m, started, healthy, reason: healthy ? undefined : reason, isLeader: leaderId === m.id };
    }),
  };
}

function mostCommon(xs: string[]): string {
  const c = new Map<string, number>();
  for (const x of xs) c.set(x, (c.get(x) ?? 0) + 1);
  return [...c.entries()].sort((a, b) => b[1] - a[1])[0][0];
}

/** Learners are not voters; unstarted non-learner members are voters that count as unhealthy. */
function voters(view: ClusterView): MemberState[] {
  return view.members.filter((s) => !s.member.isLearner);
}

function learnerAndHealthBlockers(view: ClusterView, fmt: CommandFormatter, exceptId?: string): Blocker[] {
  const out: Blocker[] = [];
  for (const s of view.members) {
    if (s.member.id === exceptId) continue;
    const m = s.member;
    if (m.isLearner) {
      out.push({
        code: 'E_ETCD_LEARNER_PRESENT',
        memberId: m.id,
        message: `etcd learner ${label(m)} is present${s.started ? '' : ' and never started'}: a learner left by an earlier or running join blocks any membership change`,
        fix: s.started
          ? `${fmt(['member', 'promote', m.id])}  (if its node is meant to stay), or ${fmt(['member', 'remove', m.id])}`
          : fmt(['member', 'remove', m.id]),
      });
    } else if (!s.started) {
      out.push({
        code: 'E_ETCD_MEMBER_UNSTARTED',
        memberId: m.id,
        message: `etcd member ${label(m)} was added but never started: it counts against quorum`,
        fix: fmt(['member', 'remove', m.id]),
      });
    } else if (!s.healthy) {
      out.push({
        code: 'E_ETCD_MEMBER_UNHEALTHY',
        memberId: m.id,
        message: `etcd member ${label(m)} is unhealthy: ${s.reason ?? 'unknown'}`,
        fix: `bring its node back (kubelet, etcd static pod); if the node is gone for good: ${fmt(['member', 'remove', m.id])}`,
      });
    }
  }
  return out;
}

/** voters and unhealthy voters before and after a change -> the Projection (quorum and tolerance derived). */
function project(before: number, unhealthyBefore: number, after: number, unhealthyAfter: number, safe: boolean): Projection {
  return {
    votersBefore: before, unhealthyBefore, quorumBefore: quorumOf(before),
    votersAfter: after, unhealthyAfter, quorumAfter: quorumOf(after), toleranceAfter: toleranceOf(after),
    safe,
  };
}

/** May one member be added now? */
export function projectAdd(view: ClusterView, fmt: CommandFormatter = plainEtcdctl): Verdict {
  const v = voters(view);
  const n = v.length;
  const u = v.filter((s) => !s.healthy).length;
  const learners = view.members.filter((s) => s.member.isLearner).length;
  const after = n + 1;
  // CAPI: the new member counts as unhealthy, except when scaling 0 -> 1 and 1 -> 2.
  const unhealthyAfter = n <= 1 ? u : u + 1;
  const quorumAfter = quorumOf(after);
  const numericSafe = after - unhealthyAfter >= quorumAfter;
  const projection = project(n, u, after, unhealthyAfter, learners === 0 && numericSafe);
  const blockers: Blocker[] = [];
  const warnings: string[] = [];
  if (n === 0) {
    blockers.push({ code: 'E_ETCD_EMPTY', message: 'etcd reports no voting member: there is no cluster to add to (that is kubeadm init, not a join)' });
  } else if (n - u < quorumOf(n)) {
    blockers.push({
      code: 'E_ETCD_NO_QUORUM',
      message: `etcd has lost quorum: ${n - u} of ${n} voting members healthy, ${quorumOf(n)} needed; no membership change can commit (recover the failed members or restore from a snapshot first)`,
    });
  }
  blockers.push(...learnerAndHealthBlockers(view, fmt));
  if (n > 0 && !numericSafe && !blockers.some((b) => b.code === 'E_ETCD_NO_QUORUM')) {
    blockers.push({
      code: 'E_ETCD_QUORUM_AT_RISK',
      message: `adding a member would risk quorum: ${after - unhealthyAfter} of ${after} members healthy while the new one starts, ${quorumAfter} needed`,
    });
  }
  if (n === 1) {
    warnings.push(
      'etcd goes from 1 to 2 members: quorum becomes 2, so etcd cannot make progress until the new member has started (the API server stalls in that window)',
    );
  }
  if (after % 2 === 0 && n > 0) {
    warnings.push(
      `etcd will have an even number of members (${after}): it tolerates ${toleranceOf(after)} failure(s), no more than with ${after - 1}; add one more master to gain tolerance`,
    );
  }
  return { allowed: blockers.length === 0, blockers, warnings, projection };
}

/** May member `id` (hex) be removed now? Never the last member, never below quorum. */
export function projectRemove(view: ClusterView, id: string, fmt: CommandFormatter = plainEtcdctl): Verdict {
  const target = view.members.find((s) => s.member.id === id);
  const v = voters(view);
  const n = v.length;
  const u = v.filter((s) => !s.healthy).length;
  const blockers: Blocker[] = [];
  const warnings: string[] = [];
  if (!target) {
    blockers.push({ code: 'E_ETCD_MEMBER_NOT_FOUND', memberId: id, message: `etcd member ${id} is not in the member list (already removed?)` });
    return {
      allowed: false,
      blockers,
      warnings,
      projection: project(n, u, n, u, false),
    };
  }
  const isVoter = !target.member.isLearner;
  const after = isVoter ? n - 1 : n;
  const unhealthyAfter = isVoter && !target.healthy ? u - 1 : u;
  const quorumAfter = quorumOf(after);
  // removing a learner never changes quorum; it only needs the cluster to be able to commit
  const safe = isVoter ? after >= 1 && after - unhealthyAfter >= quorumAfter : n - u >= quorumOf(n);
  const projection = project(n, u, after, unhealthyAfter, safe);
  if (isVoter && n <= 1) {
    blockers.push({ code: 'E_ETCD_LAST_MEMBER', memberId: id, message: `etcd member ${label(target.member)} is the last voting member; removing it destroys the cluster` });
  } else if (n - u < quorumOf(n)) {
    blockers.push({
      code: 'E_ETCD_NO_QUORUM',
      message: `etcd has lost quorum: ${n - u} of ${n} voting members healthy, ${quorumOf(n)} needed; member remove cannot commit (recover members or restore from a snapshot)`,
    });
  } else if (!safe) {
    blockers.push({
      code: 'E_ETCD_QUORUM_AT_RISK',
      memberId: id,
      message: `removing ${label(target.member)} would leave ${after - unhealthyAfter} healthy of ${after} voting members, below quorum ${quorumAfter}`,
    });
  }
  if (isVoter) {
    // A learner being present while a voter is removed: CAPI refuses any change then; so does kadd.
    for (const b of learnerAndHealthBlockers(view, fmt, id)) if (b.code === 'E_ETCD_LEARNER_PRESENT') blockers.push(b);
    if (n === 2) warnings.push('removing a member from a two-member etcd cluster is unsafe if the remaining member has any problem (etcd docs)');
    if (after > 1 && after % 2 === 0) {
      warnings.push(`etcd will have an even number of members (${after}): it tolerates ${toleranceOf(after)} failure(s)`);
    }
    if (target.isLeader) warnings.push(`${label(target.member)} is the current leader: a new election follows its removal`);
  }
  return { allowed: blockers.length === 0, blockers, warnings, projection };
}

/** Human-readable verdict, one line per blocker (with its fix) and warning. */
export function formatVerdict(v: Verdict): string[] {
  const out: string[] = [];
  for (const b of v.blockers) out.push(`refused: ${b.message}${b.fix ? `\n  fix: ${b.fix}` : ''}`);
  for (const w of v.warnings) out.push(`warning: ${w}`);
  return out;
}

export interface RemoveGate extends Verdict {
  /** "after: 2 members, quorum 2, tolerates 0 failures" */
  summary: string;
}

/**
 * The remove gate for `kadd remove` (a master): projectRemove (healthy remaining >= floor(remaining/2)+1,
 * never 1 -> 0) plus kadd's stricter rules: every OTHER member started and healthy, no learner, and
 * 2 -> 1 only with --allow-single-master. A dead target counts as gone in the projection (it is unhealthy,
 * so removing it does not lower the healthy count).
 */
export function gateRemove(view: ClusterView, id: string, opts: { allowSingleMaster?: boolean } = {}, fmt: CommandFormatter = plainEtcdctl): RemoveGate {
  const v = projectRemove(view, id, fmt);
  const blockers = [...v.blockers];
  const warnings = [...v.warnings];
  const target = view.members.find((s) => s.member.id === id);
  if (target && !target.member.isLearner) {
    for (const b of learnerAndHealthBlockers(view, fmt, id)) {
      if (!blockers.some((x) => x.code === b.code && x.memberId === b.memberId)) blockers.push(b);
    }
    if (v.projection.votersBefore === 2 && v.projection.votersAfter === 1) {
      if (!opts.allowSingleMaster) {
        blockers.push({
          code: 'E_ETCD_QUORUM_AT_RISK',
          memberId: id,
          message: 'removing this master leaves a single etcd member: no failure tolerance at all (give --allow-single-master if that is what you want)',
        });
      } else warnings.push('--allow-single-master: etcd is left with one member and tolerates no failure');
    }
  }
  const p = v.projection;
  const summary = `after: ${p.votersAfter} member${p.votersAfter === 1 ? '' : 's'}, quorum ${p.quorumAfter}, tolerates ${p.toleranceAfter} failure${p.toleranceAfter === 1 ? '' : 's'}`;
  return { allowed: blockers.length === 0, blockers, warnings, projection: p, summary };
}
