import { strict as assert } from 'node:assert';
import { buildClusterView, formatVerdict, projectAdd, projectRemove, quorumOf, toleranceOf, type ClusterView, type MemberState } from '../../lib/etcd/quorum.js';
import type { EtcdMember } from '../../lib/etcd/types.js';

function member(i: number, extra: Partial<EtcdMember> = {}): EtcdMember {
  return { id: (0xa000 + i).toString(16), name: `m${i}`, peerURLs: [`https://10.0.0.${i}:2380`], clientURLs: [`https://10.0.0.${i}:2379`], isLearner: false, ...extra };
}

/** n voting members, the first u of them unhealthy */
function view(n: number, u: number, extra: MemberState[] = []): ClusterView {
  const members: MemberState[] = [];
  for (let i = 1; i <= n; i++) {
    members.push({ member: member(i), started: true, healthy: i > u, reason: i > u ? undefined : 'context deadline exceeded', isLeader: i === n });
  }
  return { members: [...members, ...extra], leaderId: member(n).id };
}

// Expected projections, written out by hand from CAPI's rule (new member unhealthy except 0/1 -> n+1):
// ADD_SAFE[n][u]: is (n+1) - (u + (n<=1 ? 0 : 1)) >= floor((n+1)/2)+1 ?
const ADD_SAFE: Record<number, boolean[]> = {
  1: [true, false],
  2: [true, false, false],
  3: [true, false, false, false],
  4: [true, true, false, false],
  5: [true, true, false, false],
  6: [true, true, true, false],
  7: [true, true, true, false],
};
// REMOVE_SAFE[n][u]: removing a HEALTHY member with u others unhealthy
const REMOVE_HEALTHY_SAFE: Record<number, boolean[]> = {
  1: [false],
  2: [true, false],
  3: [true, false, false],
  4: [true, true, false, false],
  5: [true, true, false, false],
  6: [true, true, true, false],
  7: [true, true, true, false],
};

describe('etcd quorum projection', () => {
  it('quorum and tolerance table (etcd FAQ)', () => {
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map(quorumOf), [1, 2, 2, 3, 3, 4, 4]);
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map(toleranceOf), [0, 0, 1, 1, 2, 2, 3]);
  });

  describe('add: 1..7 members x 0..3 unhealthy', () => {
    for (let n = 1; n <= 7; n++) {
      for (let u = 0; u <= Math.min(3, n); u++) {
        it(`${n} members, ${u} unhealthy`, () => {
          const v = projectAdd(view(n, u));
          assert.equal(v.projection.safe, ADD_SAFE[n][u], 'projection');
          // kadd refuses while anything is unhealthy, whatever the projection says
          assert.equal(v.allowed, u === 0, 'allowed');
          assert.equal(v.projection.votersAfter, n + 1);
          assert.equal(v.projection.quorumAfter, quorumOf(n + 1));
          if (u > 0) {
            const unhealthy = v.blockers.filter((b) => b.code === 'E_ETCD_MEMBER_UNHEALTHY');
            const lost = n - u < quorumOf(n);
            assert.equal(v.blockers.some((b) => b.code === 'E_ETCD_NO_QUORUM'), lost);
            assert.equal(unhealthy.length, u);
            for (const b of unhealthy) assert.match(b.fix!, new RegExp(`etcdctl member remove ${b.memberId}$`));
          }
          assert.equal(v.warnings.some((w) => /even number of members \(\d+\)/.test(w)), (n + 1) % 2 === 0);
          assert.equal(v.warnings.some((w) => /cannot make progress until the new member has started/.test(w)), n === 1);
        });
      }
    }
  });

  describe('remove a healthy member: 1..7 members x 0..3 others unhealthy', () => {
    for (let n = 1; n <= 7; n++) {
      for (let u = 0; u <= Math.min(3, n - 1); u++) {
        it(`${n} members, ${u} unhealthy`, () => {
          const vw = view(n, u);
          const healthy = vw.members[n - 1].member.id; // the last one is healthy (and the leader)
          const v = projectRemove(vw, healthy);
          assert.equal(v.projection.safe, REMOVE_HEALTHY_SAFE[n][u], 'projection');
          assert.equal(v.allowed, REMOVE_HEALTHY_SAFE[n][u], 'allowed');
          if (n === 1) assert.equal(v.blockers[0].code, 'E_ETCD_LAST_MEMBER');
          if (v.allowed) assert.ok(v.warnings.some((w) => /current leader/.test(w)));
        });
      }
    }
  });

  it('removing the unhealthy member itself is safe while quorum holds', () => {
    assert.equal(projectRemove(view(3, 1), member(1).id).allowed, true);
    assert.equal(projectRemove(view(5, 2), member(1).id).allowed, true);
    // 2 members, one dead: quorum (2) is already lost, member remove cannot commit
    const v = projectRemove(view(2, 1), member(1).id);
    assert.equal(v.allowed, false);
    assert.equal(v.blockers[0].code, 'E_ETCD_NO_QUORUM');
    // 3 members, 2 dead: refused
    assert.equal(projectRemove(view(3, 2), member(1).id).allowed, false);
  });

  it('1 -> 2 is allowed with the progress warning; 2 -> 3 is not even', () => {
    const one = projectAdd(view(1, 0));
    assert.equal(one.allowed, true);
    assert.equal(one.warnings.length, 2); // progress + even
    const two = projectAdd(view(2, 0));
    assert.deepEqual(two.warnings, []);
  });

  it('a learner blocks add (even a started one) and its fix is printed', () => {
    const unstarted: MemberState = { member: member(9, { name: '', clientURLs: [], isLearner: true, id: 'f5fee0ecf9cc3161' }), started: false, healthy: false, isLeader: false };
    const v = projectAdd(view(3, 0, [unstarted]));
    assert.equal(v.allowed, false);
    assert.equal(v.projection.safe, false);
    assert.deepEqual(v.blockers.map((b) => b.code), ['E_ETCD_LEARNER_PRESENT']);
    assert.equal(v.blockers[0].fix, 'etcdctl member remove f5fee0ecf9cc3161');
    assert.match(v.blockers[0].message, /never started/);
    // learners are not voters: the projection counts 3 voters
    assert.equal(v.projection.votersBefore, 3);

    const started: MemberState = { member: member(9, { isLearner: true }), started: true, healthy: true, isLeader: false };
    const v2 = projectAdd(view(3, 0, [started]), (a) => `E ${a.join(' ')}`);
    assert.equal(v2.allowed, false);
    assert.match(v2.blockers[0].fix!, /^E member promote a009 .* or E member remove a009$/);
  });

  it('an unstarted voting member blocks add and counts as unhealthy', () => {
    const unstarted: MemberState = { member: member(4, { name: '', clientURLs: [] }), started: false, healthy: false, isLeader: false };
    const v = projectAdd(view(3, 0, [unstarted]));
    assert.equal(v.allowed, false);
    assert.equal(v.projection.votersBefore, 4);
    assert.equal(v.projection.unhealthyBefore, 1);
    assert.ok(v.blockers.some((b) => b.code === 'E_ETCD_MEMBER_UNSTARTED' && b.fix === 'etcdctl member remove a004'));
  });

  it('removing a learner is always quorum-neutral; removing a voter while a learner exists is refused', () => {
    const learner: MemberState = { member: member(9, { name: '', clientURLs: [], isLearner: true }), started: false, healthy: false, isLeader: false };
    const rmLearner = projectRemove(view(3, 1, [learner]), member(9).id);
    assert.equal(rmLearner.allowed, true);
    assert.equal(rmLearner.projection.votersAfter, 3);
    const rmVoter = projectRemove(view(3, 0, [learner]), member(1).id);
    assert.equal(rmVoter.allowed, false);
    assert.ok(rmVoter.blockers.some((b) => b.code === 'E_ETCD_LEARNER_PRESENT'));
    assert.equal(projectRemove(view(3, 0), 'beef').blockers[0].code, 'E_ETCD_MEMBER_NOT_FOUND');
  });

  it('0 members: nothing to add to', () => {
    const v = projectAdd({ members: [] });
    assert.equal(v.allowed, false);
    assert.equal(v.blockers[0].code, 'E_ETCD_EMPTY');
  });

  it('buildClusterView maps health and status to members by client URL', () => {
    const ms = [member(1), member(2), member(3), member(4, { name: '', clientURLs: [], isLearner: true })];
    const v = buildClusterView(
      ms,
      [
        { endpoint: 'https://10.0.0.1:2379', health: true },
        { endpoint: 'https://10.0.0.2:2379/', health: true },
        { endpoint: 'https://10.0.0.3:2379', health: false, error: 'context deadline exceeded' },
      ],
      [
        { endpoint: 'https://10.0.0.1:2379', memberId: 'a001', leaderId: 'a002', isLearner: false },
        { endpoint: 'https://10.0.0.2:2379', memberId: 'a002', leaderId: 'a002', isLearner: false },
      ],
    );
    assert.equal(v.leaderId, 'a002');
    assert.deepEqual(v.members.map((m) => [m.member.id, m.healthy, m.started, m.isLeader]), [
      ['a001', true, true, false],
      ['a002', true, true, true],
      ['a003', false, true, false],
      ['a004', false, false, false],
    ]);
    assert.equal(v.members[2].reason, 'context deadline exceeded');
    // a status error also makes a member unhealthy; no health result at all does too
    const v2 = buildClusterView([member(1), member(2)], [{ endpoint: 'https://10.0.0.1:2379', health: true }], [
      { endpoint: 'https://10.0.0.1:2379', memberId: 'a001', leaderId: 'a001', isLearner: false, errors: ['NOSPACE'] },
    ]);
    assert.deepEqual(v2.members.map((m) => [m.healthy, m.reason]), [[false, 'NOSPACE'], [false, 'no health result for its client URL']]);
  });

  it('formatVerdict prints blockers with fixes, then warnings', () => {
    const lines = formatVerdict(projectAdd(view(3, 1)));
    assert.match(lines[0], /^refused: etcd member m1 \(a001\) is unhealthy: context deadline exceeded\n  fix: .*etcdctl member remove a001$/);
  });
});
