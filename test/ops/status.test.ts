/** Unit tests of the pure status classifier (lib/ops/status.ts) and the logs helpers (lib/ops/logs.ts). */
import assert from 'node:assert/strict';
import { classifyStatus, providerServerId, serverRole, type StatusObserved } from '../../lib/ops/status.js';
import { checkNodeArg, closeNames, logsVerdict, newLines, splitLines, suggestServerNames } from '../../lib/ops/logs.js';
import { diagnose } from '../../lib/ops/diagnose.js';
import { UsageError } from '../../lib/errors.js';
import type { ClusterConfig } from '../../lib/config/types.js';
import type { Server } from '../../lib/openstack/types.js';
import type { KNode } from '../../lib/kube/types.js';
import type { ClusterView } from '../../lib/etcd/quorum.js';

const cfg = { file: '/x/cfg.yml', clusterName: 'demo', nMasters: 1, nNodes: 2, loadbalancer: { name: 'demo-lb' } } as ClusterConfig;

let ipn = 10;
function server(name: string, o: Partial<Server> = {}): Server {
  return {
    id: `id-${name}`, name, status: 'ACTIVE', 'OS-EXT-AZ:availability_zone': 'nova', flavor: { original_name: 'm1.medium' },
    addresses: { 'demo-net': [{ addr: `192.168.0.${ipn++}`, version: 4 }] }, metadata: {}, ...o,
  };
}
function node(name: string, o: Partial<KNode> & { readyStatus?: 'True' | 'False' | 'Unknown' } = {}): KNode {
  const st = o.readyStatus ?? 'True';
  return {
    name, labels: name.includes('master') ? { 'node-role.kubernetes.io/control-plane': '' } : {}, taints: [], unschedulable: false,
    ready: st === 'True', conditions: [{ type: 'Ready', status: st, ...(st === 'False' ? { reason: 'KubeletNotReady', message: 'cni plugin not initialized' } : {}) }],
    addresses: [{ type: 'InternalIP', address: '192.168.9.9' }], kubeletVersion: 'v1.30.2', ...o,
  };
}
function healthy(): { servers: Server[]; nodes: KNode[] } {
  const servers = [server('demo-master-1'), server('demo-node-1'), server('demo-node-2')];
  const nodes = servers.map((s) => node(s.name, { providerID: `openstack:///${s.id}` }));
  return { servers, nodes };
}

describe('ops/status classifyStatus', () => {
  it('a healthy cluster: one row per machine, masters first, no problems, counts match', () => {
    const { servers, nodes } = healthy();
    const r = classifyStatus(cfg, { servers: [...servers].reverse(), nodes });
    assert.equal(r.healthy, true);
    assert.deepEqual(r.machines.map((m) => [m.name, m.role, m.server, m.node, m.kubelet, m.flavor, m.zone]), [
      ['demo-master-1', 'master', 'ACTIVE', 'Ready', 'v1.30.2', 'm1.medium', 'nova'],
      ['demo-node-1', 'node', 'ACTIVE', 'Ready', 'v1.30.2', 'm1.medium', 'nova'],
      ['demo-node-2', 'node', 'ACTIVE', 'Ready', 'v1.30.2', 'm1.medium', 'nova'],
    ]);
    assert.deepEqual(r.counts, [
      { role: 'master', expected: 1, servers: 1, nodes: 1, ready: 1 },
      { role: 'node', expected: 2, servers: 2, nodes: 2, ready: 2 },
    ]);
    assert.deepEqual(r.warnings, []);
  });

  it('NotReady, Unknown, server without Node, Node without server, ERROR with its fault', () => {
    const { servers, nodes } = healthy();
    servers.push(server('demo-node-3'), server('demo-node-4', { status: 'ERROR', fault: { code: 500, message: 'No valid host was found.' } }));
    nodes[1] = node('demo-node-1', { providerID: `openstack:///${servers[1]!.id}`, readyStatus: 'False' });
    nodes[2] = node('demo-node-2', { providerID: `openstack:///${servers[2]!.id}`, readyStatus: 'Unknown' });
    nodes.push(node('old-worker-9'));
    const r = classifyStatus(cfg, { servers, nodes }, 'cfg.yml');
    assert.equal(r.healthy, false);
    const by = (s: string) => r.problems.filter((p) => p.subject === s).map((p) => p.kind);
    assert.deepEqual(by('demo-node-1'), ['node-not-ready']);
    assert.match(r.machines.find((m) => m.name === 'demo-node-1')!.problems[0]!, /NotReady: KubeletNotReady: cni plugin/);
    assert.equal(r.machines.find((m) => m.name === 'demo-node-2')!.node, 'Unknown');
    assert.deepEqual(by('demo-node-3'), ['server-without-node']);
    assert.match(r.problems.find((p) => p.subject === 'demo-node-3')!.hint!, /kadd logs cfg\.yml demo-node-3/);
    assert.deepEqual(by('demo-node-4'), ['server-error']);
    assert.match(r.machines.find((m) => m.name === 'demo-node-4')!.problems.join(), /No valid host/);
    assert.equal(r.machines.find((m) => m.name === 'demo-node-4')!.node, 'missing');
    assert.deepEqual(by('old-worker-9'), ['node-without-server']);
    const orphan = r.machines.find((m) => m.name === 'old-worker-9')!;
    assert.equal(orphan.server, 'missing');
    assert.equal(orphan.ip, '192.168.9.9');
    // 4 worker servers against n-nodes 2: a warning, not a problem
    assert.ok(r.warnings.some((w) => /n-nodes: 2, the cluster has 4 worker servers/.test(w)), r.warnings.join('\n'));
  });

  it('joins by providerID before the name; a server recreated under the same name is joined by name with a warning', () => {
    const s = server('demo-node-1', { id: 'new-id' });
    const n = node('demo-node-1', { providerID: 'openstack:///old-id' });
    const r = classifyStatus({ ...cfg, nMasters: 0, nNodes: 1 }, { servers: [s], nodes: [n] });
    assert.equal(r.healthy, true, JSON.stringify(r.problems));
    assert.equal(r.machines.length, 1);
    assert.match(r.warnings.join(), /providerID names server old-id, not this server \(new-id\)/);
    // providerID wins over the name: a Node named like another server is joined to its own server
    const a = server('demo-node-1', { id: 'a' });
    const b = server('demo-node-2', { id: 'b' });
    const r1 = classifyStatus({ ...cfg, nMasters: 0, nNodes: 2 }, { servers: [a, b], nodes: [node('demo-node-1', { providerID: 'openstack:///b' })] });
    assert.equal(r1.machines.find((m) => m.name === 'demo-node-2')!.nodeName, 'demo-node-1');
    assert.deepEqual(r1.problems.map((p) => [p.kind, p.subject]), [['server-without-node', 'demo-node-1']]);
    // providerID with a region, Node name differing from the server name
    const s2 = server('demo-node-2', { id: 'abc' });
    const n2 = node('worker-abc', { providerID: 'openstack://RegionOne/abc' });
    const r2 = classifyStatus({ ...cfg, nMasters: 0, nNodes: 1 }, { servers: [s2], nodes: [n2] });
    assert.equal(r2.healthy, true, JSON.stringify(r2.problems));
    assert.equal(r2.machines[0]!.nodeName, 'worker-abc');
    assert.equal(providerServerId('openstack:///x'), 'x');
    assert.equal(providerServerId('aws:///x'), undefined);
  });

  it('roles come from metadata or tags, then the exact name pattern, never a substring', () => {
    assert.equal(serverRole('demo', server('demo-node-1', { metadata: { 'kadd-role': 'master' } })), 'master');
    assert.equal(serverRole('demo', server('demo-node-1', { tags: ['kadd-role=master'] })), 'master');
    assert.equal(serverRole('demo', server('demo-master-2')), 'master');
    assert.equal(serverRole('demo', server('demo-master-x')), undefined);
    assert.equal(serverRole('demo', server('demo-mastermind-1')), undefined);
    // a server of another cluster whose name merely contains ours is not listed
    const r = classifyStatus(cfg, { servers: [...healthy().servers, server('demo-node-1-backup'), server('xdemo-node-1')], nodes: healthy().nodes.map((n) => ({ ...n, providerID: undefined })) });
    assert.deepEqual(r.machines.map((m) => m.name), ['demo-master-1', 'demo-node-1', 'demo-node-2']);
  });

  it('a source that failed is a problem, and its column shows "?"', () => {
    const { servers } = healthy();
    const r = classifyStatus(cfg, { servers, nodes: { error: 'connect ECONNREFUSED' } });
    assert.equal(r.healthy, false);
    assert.deepEqual(r.problems.map((p) => p.kind), ['source-unavailable']);
    assert.ok(r.machines.every((m) => m.node === '?' && m.problems.length === 0));
  });

  it('load balancer: missing master, stale member, absent Octavia is a note', () => {
    const { servers, nodes } = healthy();
    const m2 = server('demo-master-2');
    const obs: StatusObserved = {
      servers: [...servers, m2], nodes: [...nodes, node('demo-master-2', { providerID: `openstack:///${m2.id}` })],
      lb: { lbName: 'demo-lb', found: true, pools: [{ id: 'p1', name: 'master-pool-demo', protocol: 'TCP', lb_algorithm: 'ROUND_ROBIN', memberList: [
        { id: 'm1', name: 'demo-master-1', address: servers[0]!.addresses!['demo-net']![0]!.addr, protocol_port: 6443, operating_status: 'NO_MONITOR' },
        { id: 'm9', name: 'demo-master-9', address: '192.168.77.77', protocol_port: 6443 },
      ] }] },
    };
    const r = classifyStatus({ ...cfg, nMasters: 2 }, obs);
    assert.deepEqual(r.problems.map((p) => [p.kind, p.subject]), [['lb-member-missing', 'demo-master-2'], ['lb-member-stale', 'master-pool-demo 192.168.77.77']]);
    assert.match(r.problems[0]!.hint!, /member create --address 192\.168\.0\.\d+ --protocol-port 6443 p1/);
    // a stale member kadd named: `kadd cleanup` deletes it (the openstack command stays as the manual way)
    assert.match(r.problems[1]!.hint!, /^`kadd cleanup \/x\/cfg\.yml` deletes it \(by hand: `openstack loadbalancer member delete p1 m9`\)$/);
    // one kadd did not name (cleanup refuses those), or whose address a worker has (cleanup keeps those): the openstack command
    const w = servers.find((x) => x.name === 'demo-node-1')!.addresses!['demo-net']![0]!.addr;
    const other = classifyStatus({ ...cfg, nMasters: 2 }, { ...obs, lb: { ...obs.lb!, pools: [{ ...(obs.lb as any).pools[0], memberList: [
      { id: 'm7', name: '', address: '192.168.66.66', protocol_port: 6443 }, { id: 'm8', name: 'demo-master-8', address: w, protocol_port: 6443 },
    ] }] } as StatusObserved['lb'] });
    const stale = other.problems.filter((p) => p.kind === 'lb-member-stale');
    assert.equal(stale.length, 2);
    for (const [p, id] of [[stale[0]!, 'm7'], [stale[1]!, 'm8']] as const) {
      assert.match(p.hint!, /kadd cleanup \/x\/cfg\.yml` leaves it; if it is stale: `openstack loadbalancer member delete p1 /);
      assert.ok(p.hint!.endsWith(`p1 ${id}\``), p.hint);
    }
    assert.equal(r.loadBalancer!.pools[0]!.members[0]!.server, 'demo-master-1');
    const r2 = classifyStatus(cfg, { ...healthy(), lb: { lbName: 'demo-lb', error: 'no Octavia', absentService: true } });
    assert.equal(r2.healthy, true);
    assert.match(r2.notes.join(), /not checked/);
    const r3 = classifyStatus(cfg, { ...healthy(), lb: { lbName: 'demo-lb', found: false, pools: [] } });
    assert.equal(r3.healthy, true);
    assert.match(r3.notes.join(), /demo-lb not found/);
  });

  it('etcd: learner, unhealthy and stale members are problems with the cleanup hint; quorum numbers', () => {
    const mk = (id: string, name: string, o: { learner?: boolean; started?: boolean; healthy?: boolean; leader?: boolean } = {}) => ({
      member: { id, name, peerURLs: [`https://10.0.0.${id}:2380`], clientURLs: [], isLearner: !!o.learner },
      started: o.started ?? true, healthy: o.healthy ?? true, isLeader: !!o.leader, ...(o.healthy === false ? { reason: 'context deadline exceeded' } : {}),
    });
    const view: ClusterView = { members: [mk('1', 'demo-master-1', { leader: true }), mk('2', 'demo-master-2', { healthy: false }), mk('3', 'demo-master-7', { learner: true }), mk('4', 'demo-master-3')] };
    const stale = [{ id: '4', name: 'demo-master-3', reason: 'member demo-master-3 has no Node in the cluster' }];
    const rows = view.members.map((s) => ({ name: s.member.name, id: s.member.id, learner: s.member.isLearner, started: s.started, healthy: s.healthy, leader: s.isLeader, peer: '' }));
    const r = classifyStatus(cfg, { ...healthy(), etcd: { view, rows, stale, via: 'demo-master-1' } }, 'cfg.yml');
    const kinds = r.problems.map((p) => p.kind);
    assert.deepEqual(kinds, ['etcd-stale', 'etcd-unhealthy', 'etcd-learner']);
    assert.match(r.problems[0]!.hint!, /kadd add --role master --fix-stale cfg\.yml/);
    assert.match(r.problems[0]!.hint!, /etcdctl member remove 4/);
    assert.deepEqual([r.etcd!.voters, r.etcd!.quorum, r.etcd!.tolerates], [3, 2, 1]);
    const bad = classifyStatus(cfg, { ...healthy(), etcd: { error: 'no Ready control-plane Node' } });
    assert.deepEqual(bad.problems.map((p) => p.kind), ['etcd-unreadable']);
  });

  it('journal leftovers are problems unless the operation is running now', () => {
    const journal = {
      path: '/x/.cfg.yml.kadd-journal.jsonl', skippedLines: 0, leftovers: [],
      operations: [
        { op: 'op1', command: 'add', args: {}, pid: 1, host: 'h', startedAt: '', status: 'interrupted' as const, resources: [{ kind: 'server' as const, name: 'demo-node-5', state: 'created' as const, op: 'op1', id: 'x' }] },
        { op: 'op2', command: 'add', args: {}, pid: 2, host: 'h', startedAt: '', status: 'unterminated' as const, resources: [{ kind: 'port' as const, name: 'demo-node-6-port-0', state: 'maybe' as const, op: 'op2' }] },
      ],
    };
    const r = classifyStatus(cfg, { ...healthy(), journal, inProgressOps: ['op2'] }, 'cfg.yml');
    assert.deepEqual(r.problems.map((p) => [p.kind, p.subject]), [['leftover', 'journal op1']]);
    assert.match(r.problems[0]!.message, /interrupted and left server demo-node-5/);
    assert.match(r.problems[0]!.hint!, /--resume cfg\.yml.*--cleanup cfg\.yml/);
    assert.deepEqual(r.leftovers.map((l) => [l.op, l.status]), [['op1', 'interrupted'], ['op2', 'running']]);
    assert.match(r.notes.join(), /op2 \(add\) is running now/);
  });
});

describe('ops/logs helpers', () => {
  it('the NODE argument: the cluster pattern is checked offline with a suggestion', () => {
    assert.doesNotThrow(() => checkNodeArg(cfg, 'demo-node-3'));
    assert.doesNotThrow(() => checkNodeArg(cfg, 'demo-master-12'));
    for (const bad of ['node-3', 'prod-node-3', 'demo-node', 'demo-node-3x', 'demo-nodes-3']) {
      assert.throws(() => checkNodeArg(cfg, bad), (e: unknown) => e instanceof UsageError && e.exitCode === 2 && /not a server of cluster demo/.test(e.message), bad);
    }
    assert.throws(() => checkNodeArg(cfg, 'node-3'), (e: unknown) => e instanceof UsageError && /did you mean demo-node-3\?/.test(e.hint ?? ''));
    assert.deepEqual(suggestServerNames('demo', 'prod-master-02'), ['demo-master-2']);
    assert.deepEqual(suggestServerNames('demo', 'frobnicate'), []);
    assert.deepEqual(closeNames('demo-node-13', ['demo-node-1', 'demo-node-3', 'demo-master-1']), ['demo-node-1', 'demo-node-3']);
  });

  it('newLines finds what came after the last printed lines, even with repeated lines', () => {
    assert.deepEqual(newLines([], ['a', 'b']), { lines: ['a', 'b'], gap: false });
    assert.deepEqual(newLines(['a', 'b', 'c'], ['b', 'c', 'd', 'e']), { lines: ['d', 'e'], gap: false });
    assert.deepEqual(newLines(['x', 'x'], ['x', 'x', 'x']), { lines: ['x'], gap: false });
    assert.deepEqual(newLines(['a', 'x', 'x'], ['x', 'x', 'b']), { lines: ['b'], gap: false });
    assert.deepEqual(newLines(['a', 'b'], ['a', 'b']), { lines: [], gap: false });
    assert.deepEqual(newLines(['a', 'b'], ['q', 'r']), { lines: ['q', 'r'], gap: true });
    assert.deepEqual(splitLines('a\r\nb\nlogin: '), { lines: ['a', 'b'], partial: 'login: ' });
  });

  it('logsVerdict: a joined server is not "still joining"; the next step never points at kadd logs NODE', () => {
    const joined = diagnose({ console: 'KADD-MARK stage=join-start\nKADD-MARK stage=join-ok\n' });
    const v = logsVerdict(joined, { name: 'demo-node-1', configPath: 'cfg.yml', follow: false, status: 'ACTIVE' });
    assert.match(v.summary, /finished \(last stage: join-ok\)/);
    assert.match(v.nextStep, /kadd status cfg\.yml/);
    const failed = logsVerdict(diagnose({ console: 'KADD-MARK stage=join-failed rc=1\n' }), { name: 'demo-node-1', configPath: 'cfg.yml', follow: false, status: 'ACTIVE' });
    assert.equal(failed.cause, 'join-failed');
    assert.doesNotMatch(failed.nextStep, /kadd logs/);
    const running = logsVerdict(diagnose({ console: 'KADD-MARK stage=packages-start\n' }), { name: 'demo-node-1', configPath: 'cfg.yml', follow: false, status: 'ACTIVE' });
    assert.match(running.nextStep, /kadd logs cfg\.yml demo-node-1 --follow/);
    assert.deepEqual(running.consoleTail, []);
  });
});
