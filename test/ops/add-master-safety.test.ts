/** Pure pieces of the master path's safety: the API-down message, leftovers, --resume refusal. */
import assert from 'node:assert/strict';
import { apiUnreachableMessage, sshConfigured, viaSshCommand } from '../../lib/ops/add-master.js';
import { Ledger, describeLeftover, nodeOf } from '../../lib/ops/engine/ledger.js';
import { leftoversError, parseAddMasterArgs } from '../../lib/commands/add-master.js';
import { removeServerMembers } from '../../lib/ops/master-etcd.js';
import { UsageError } from '../../lib/errors.js';
import type { LeftoverResource } from '../../lib/journal/index.js';

const noSsh = { user: 'ubuntu', port: 22, hostKeys: {} };
const pinned = { user: 'ubuntu', port: 22, hostKeys: { '10.0.0.5': ['SHA256:abc'] } };
const bastion = { user: 'ubuntu', port: 22, hostKeys: {}, bastion: { host: 'jump', port: 22, user: 'ops' } };

describe('add-master: API unreachable message', () => {
  const base = { server: 'https://10.0.0.2:6443', error: 'connect ECONNREFUSED 10.0.0.2:6443', configArg: 'prod cluster.yml' };

  it('with pinned host keys or a bastion: names the exact --via ssh command lines', () => {
    for (const ssh of [pinned, bastion, { ...noSsh, knownHosts: '/etc/kadd/known_hosts' }]) {
      assert.equal(sshConfigured(ssh), true);
      const m = apiUnreachableMessage({ ...base, via: 'kube', ssh, zone: 'az2' });
      assert.match(m, /^the Kubernetes API at https:\/\/10\.0\.0\.2:6443 did not answer \(connect ECONNREFUSED 10\.0\.0\.2:6443\)\./);
      assert.ok(m.includes("`kadd add --role master --via ssh --zone az2 --dry-run 'prod cluster.yml'`"), m);
      assert.ok(m.includes("`kadd add --role master --via ssh --zone az2 'prod cluster.yml'`"), m);
      assert.match(m, /needs the API: the bootstrap token/);
    }
  });

  it('without ssh settings: no --via ssh command line to paste, says what to add', () => {
    assert.equal(sshConfigured(noSsh), false);
    assert.equal(sshConfigured({ ...noSsh, hostKeys: { h: [] } }), false);
    const m = apiUnreachableMessage({ ...base, via: 'kube', ssh: noSsh });
    assert.doesNotMatch(m, /kadd add --role master --via ssh/);
    assert.match(m, /add ssh settings \(bastion, host_keys or known_hosts\)/);
    assert.match(m, /--kubeconfig\/--context/);
  });

  it('with --via ssh: refuses and says what still needs the API (no fallback)', () => {
    const m = apiUnreachableMessage({ ...base, via: 'ssh', ssh: pinned });
    assert.match(m, /--via ssh reaches etcd without the API, but adding a master still needs it/);
    assert.match(m, /bootstrap token/);
    assert.match(m, /registers its Node/);
    assert.match(m, /Nothing was changed/);
    assert.doesNotMatch(m, /`kadd add/);
  });

  it('viaSshCommand quotes what the shell would split', () => {
    assert.equal(viaSshCommand({ configArg: 'cfg.yml' }), 'kadd add --role master --via ssh cfg.yml');
    assert.equal(viaSshCommand({ configArg: "it's.yml", flavor: 'm1 big' }), "kadd add --role master --via ssh --flavor 'm1 big' 'it'\\''s.yml'");
  });
});

describe('add-master: leftovers of a run that died', () => {
  const l = (kind: LeftoverResource['kind'], name: string, id?: string, extra: Partial<LeftoverResource> = {}): LeftoverResource => ({ kind, name, id, state: id ? 'created' : 'maybe', op: 'op1', ...extra });

  it('groups each master server with its volume, port, Node, pool and etcd members; the rest apart', () => {
    const ls = [
      l('port', 'demo-master-2-port-0', 'p1'), l('volume', 'demo-master-2-root', 'v1'), l('server', 'demo-master-2', 's1'),
      l('etcd-member', 'demo-master-2', 'a1b2'), l('lb-member', 'demo-master-2', 'm1', { details: { pool: 'pool1' } }),
      l('token', 'bootstrap-token', 'abcdef'), l('deployment', 'kube-system/kadd-master-adder', 'kadd-master-adder'),
      l('server', 'demo-node-4', 'w1'), l('etcd-member', 'demo-master-9', undefined, { details: { remove: 'ff' } }),
      l('server', 'other-master-2', 'x'), l('volume', 'demo-master-3-port-0'),
    ];
    // the ledger groups leftovers by the server they belong to (the unit the reapers tear down)
    const noJournal = { intent: async () => {}, done: async () => {}, undone: async () => {}, kept: async () => {}, notCreated: async () => {} };
    const g = Ledger.fromLeftovers(noJournal, 'demo', ls);
    assert.deepEqual(g.nodes().filter((n) => /master/.test(n)), ['demo-master-2']);
    assert.deepEqual(g.of('demo-master-2').map((x) => x.kind), ['port', 'volume', 'server', 'etcd-member', 'lb-member']);
    const rest = g.all().filter((x) => x.node !== 'demo-master-2');
    assert.deepEqual(rest.map((x) => x.name), ['bootstrap-token', 'kube-system/kadd-master-adder', 'demo-node-4', 'demo-master-9', 'other-master-2', 'demo-master-3-port-0']);
    assert.deepEqual(rest.filter((x) => x.node !== '').map((x) => x.node), ['demo-node-4'], 'a worker server is its own node; the rest is operation-wide');
    assert.equal(nodeOf('de.mo', 'server', 'deXmo-master-1'), '', 'cluster name is not a regex');
  });

  it('the refusal lists every leftover and offers --cleanup, exit 2', () => {
    const e = leftoversError([l('server', 'demo-master-2', 's1'), l('port', 'demo-master-2-port-0')], 'cfg.yml', '/x/.cfg.yml.kadd-journal.jsonl');
    assert.equal(e.exitCode, 2);
    assert.equal(e.code, 'E_LEFTOVERS');
    assert.deepEqual(e.details, ['server demo-master-2 (s1)', 'port demo-master-2-port-0 (may exist: the run died while creating it)']);
    assert.match(e.hint!, /`kadd add --role master --cleanup cfg\.yml`/);
    assert.match(e.hint!, /etcd member first, behind a quorum check/);
    assert.equal(describeLeftover(l('token', 'bootstrap-token', 'abcdef')), 'token bootstrap-token (abcdef)');
  });

  it('--resume is refused for masters before any API call, with the --cleanup line', () => {
    assert.throws(() => parseAddMasterArgs({ config: 'cfg.yml', resume: true }), (e: unknown) =>
      e instanceof UsageError && /never resumed/.test(e.message) && /kadd add --role master --cleanup cfg\.yml/.test(e.hint ?? ''));
    assert.equal(parseAddMasterArgs({ config: 'c', cleanup: true }).cleanup, true);
  });

  it('argv: --poll-interval and --boot-timeout of the add command reach the master request', () => {
    const a = parseAddMasterArgs({ config: 'c', 'poll-interval': 25, 'boot-timeout': 6 });
    assert.equal(a.request.pollIntervalMs, 25);
    assert.equal(a.request.maxPollIntervalMs, 125);
    assert.equal(a.request.volumeTimeoutMs, 6000);
    assert.throws(() => parseAddMasterArgs({ config: 'c', 'poll-interval': 0 }), /--poll-interval/);
  });
});

describe('add-master: removeServerMembers (quorum-checked removal through a surviving member)', () => {
  // a fake Etcdctl over a member list; health per member
  function fake(members: { id: string; name: string; ip: string; learner?: boolean; healthy?: boolean }[]) {
    const removed: string[] = [];
    const view = () => ({
      members: members.filter((m) => !removed.includes(m.id)).map((m) => ({
        member: { id: m.id, name: m.name, peerURLs: [`https://${m.ip}:2380`], clientURLs: m.name ? [`https://${m.ip}:2379`] : [], isLearner: !!m.learner },
        started: !!m.name, healthy: m.healthy ?? !!m.name, isLeader: m.id === 'a',
      })),
    });
    const etcdctl = {
      formatCommand: (a: string[]) => `etcdctl ${a.join(' ')}`,
      memberList: async () => ({ members: view().members.map((s) => s.member) }),
      checkRemove: async (id: string) => {
        const { projectRemove } = await import('../../lib/etcd/quorum.js');
        const v = view();
        return { ...projectRemove(v, id), view: v };
      },
      memberRemove: async (id: string) => {
        removed.push(id);
        return { removed: true };
      },
    };
    return { etcdctl: etcdctl as never, removed };
  }

  it('removes an unstarted learner matched by peer address, and a promoted voter matched by name', async () => {
    const f = fake([{ id: 'a', name: 'm-1', ip: '10.0.0.1' }, { id: 'b', name: '', ip: '10.0.0.7', learner: true }]);
    const r = await removeServerMembers(f.etcdctl, { name: 'm-2', ip: '10.0.0.7' });
    assert.deepEqual(f.removed, ['b']);
    assert.deepEqual(r.removed, ['b']);
    const g = fake([{ id: 'a', name: 'm-1', ip: '10.0.0.1' }, { id: 'c', name: 'm-2', ip: '10.0.0.8' }]);
    const undone: string[] = [];
    const r2 = await removeServerMembers(g.etcdctl, { name: 'm-2' }, async (id) => void undone.push(id));
    assert.deepEqual(r2.removed, ['c (m-2)']);
    assert.deepEqual(undone, ['c']);
  });

  it('idsOnly: a stale member recorded by id is removed, never another member that shares its name or address', async () => {
    const f = fake([{ id: 'a', name: 'm-1', ip: '10.0.0.1' }, { id: 'b', name: 'm-2', ip: '10.0.0.2' }, { id: 'ff', name: '', ip: '10.0.0.2', learner: true }]);
    const r = await removeServerMembers(f.etcdctl, { name: 'm-2', ip: '10.0.0.2', ids: ['ff'], idsOnly: true });
    assert.deepEqual(f.removed, ['ff']);
    assert.deepEqual(r.removed, ['ff']);
  });

  it('refuses (and says how to do it later) when the removal would break quorum; a started voter is flagged', async () => {
    // 3 voters, one of the old ones down: removing the new healthy voter leaves 1 healthy of 2
    const f = fake([{ id: 'a', name: 'm-1', ip: '1' }, { id: 'b', name: 'm-2', ip: '2', healthy: false }, { id: 'c', name: 'm-3', ip: '3' }]);
    const r = await removeServerMembers(f.etcdctl, { name: 'm-3' });
    assert.deepEqual(f.removed, []);
    assert.equal(r.refused.length, 1);
    assert.equal(r.refused[0]!.startedVoter, true);
    assert.match(r.refused[0]!.reason, /quorum check refused/);
    assert.equal(r.refused[0]!.fix, 'etcdctl member remove c');
  });

  it('an unreadable member list is a failure, never a silent success', async () => {
    const etcdctl = { formatCommand: (a: string[]) => a.join(' '), memberList: async () => { throw new Error('exec timed out'); } };
    const r = await removeServerMembers(etcdctl as never, { name: 'm-2', ids: ['abc'] });
    assert.equal(r.removed.length, 0);
    assert.equal(r.failed.length, 1);
    assert.match(r.failed[0]!.reason, /exec timed out/);
  });
});
