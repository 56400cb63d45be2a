/** Whole-command tests of `kadd status` on the simulator (test/sim). */
import assert from 'node:assert/strict';
import { handleStatus, formatStatusTable } from '../../lib/commands/status.js';
import { loadClusterConfig } from '../../lib/config/load.js';
import type { ClusterConfig } from '../../lib/config/types.js';
import type { StatusReport } from '../../lib/ops/status.js';
import { type SimHarness, masterSimHooks } from './add-master-sim.helpers.js';

describe('kadd status (simulator)', function () {
  this.timeout(60_000);
  const sim = masterSimHooks();
  let h: SimHarness | undefined;
  let config: ClusterConfig;
  const noJournal = { findUnfinished: async (p: string) => ({ path: p, operations: [], leftovers: [], skippedLines: 0 }) };

  async function start(masters = 1) {
    h = await sim.start({}, masters);
    config = (await loadClusterConfig(h.cfgPath)).config;
    // as the cloud-controller-manager does: the seeded Nodes' providerID names their servers
    for (const s of h.sim.openstack.store.servers.values()) if (h.kubeSim.node(s.name)) h.kubeSim.attachServer(s.name, s.id);
    h.sim.resetCounters();
    return h;
  }

  it('a healthy cluster: exit 0, one row per machine, pool members, one list call per kind', async () => {
    const h = await start();
    const code = await handleStatus({ config: 'cfg.yml', etcd: false }, h.ctx, config, noJournal);
    assert.equal(code, 0, h.io.results.join('') + h.io.lines.join('\n'));
    const out = h.io.results.join('');
    assert.match(out, /^NAME\s+ROLE\s+SERVER\s+ZONE\s+FLAVOR\s+IP\s+NODE\s+KUBELET\s+PROBLEMS\n/);
    assert.match(out, /demo-master-1\s+master\s+ACTIVE\s+nova\s+m1\.medium\s+192\.168\.\d+\.\d+\s+Ready\s+v1\.30\.2/);
    assert.match(out, /demo-node-1\s+node\s+ACTIVE\s+\S+\s+m1\.medium\s+192\.168\.\d+\.\d+\s+Ready/);
    assert.match(out, /masters: 1 server, 1\/1 Nodes Ready \(config: 1\); workers: 1 server, 1\/1 Nodes Ready \(config: 1\)/);
    assert.match(out, /load balancer demo-lb, pool master-pool-demo: 1 member\n.*\n.*demo-master-1/);
    assert.doesNotMatch(out, /problem/);
    assert.ok(h.io.lines.some((l) => /cluster demo: healthy/.test(l)));
    const req = h.sim.counters().requests as Record<string, number>;
    const serverLists = Object.entries(req).filter(([k]) => /^compute GET .*servers\/detail/.test(k)).reduce((a, [, v]) => a + v, 0);
    const nodeLists = Object.entries(req).filter(([k]) => /^kube GET \/api\/v1\/nodes$/.test(k)).reduce((a, [, v]) => a + v, 0);
    assert.equal(serverLists, 1, JSON.stringify(req));
    assert.equal(nodeLists, 1, JSON.stringify(req));
    assert.ok(!Object.keys(req).some((k) => /^kube GET \/api\/v1\/nodes\/./.test(k) || /^compute GET \/compute\/v2\.1\/servers\/[^d]/.test(k)), `no per-node call: ${JSON.stringify(req)}`);
  });

  it('a Node NotReady: exit 1 with the reason', async () => {
    const h = await start();
    h.kubeSim.cluster.setNodeReady('demo-node-1', false);
    const code = await handleStatus({ config: 'cfg.yml', etcd: false }, h.ctx, config, noJournal);
    assert.equal(code, 1);
    const out = h.io.results.join('');
    assert.match(out, /demo-node-1\s+node\s+ACTIVE.*NotReady.*Node NotReady: KubeletNotReady/);
    assert.match(out, /1 problem:\n  demo-node-1: Node NotReady/);
    assert.ok(h.io.lines.some((l) => /^warn: cluster demo: 1 problem \(exit code 1\)/.test(l)), h.io.lines.join('\n'));
  });

  it('a server without a Node, an ERROR server with its fault, a Node without a server', async () => {
    const h = await start();
    await h.kube.deleteNode('demo-node-1');
    const st = h.sim.openstack.store;
    const m1 = [...st.servers.values()].find((s) => s.name === 'demo-master-1')!;
    // a second worker that went to ERROR (as Nova does when no host fits)
    const n1 = [...st.servers.values()].find((s) => s.name === 'demo-node-1')!;
    const { randomUUID } = await import('node:crypto');
    const errId = randomUUID();
    st.servers.set(errId, { ...n1, id: errId, name: 'demo-node-2', status: 'ERROR', vmState: 'error', ports: [], createdPorts: [], volumes: [], fault: { code: 500, message: 'No valid host was found. There are not enough hosts available.', created: h.sim.core.now() } });
    const code = await handleStatus({ config: 'cfg.yml', etcd: false, format: 'json' }, h.ctx, config, noJournal);
    assert.equal(code, 1);
    const r: StatusReport = JSON.parse(h.io.results.join(''));
    const kinds = r.problems.map((p) => `${p.subject} ${p.kind}`).sort();
    assert.deepEqual(kinds, ['demo-node-1 server-without-node', 'demo-node-2 server-error']);
    const e = r.machines.find((m) => m.name === 'demo-node-2')!;
    assert.match(e.problems[0], /server ERROR: No valid host/);
    assert.ok(r.warnings.some((w: string) => /n-nodes: 1, the cluster has 2 worker servers/.test(w)));
    // now the other way round: the server is deleted, its Node stays
    h.io.results.length = 0;
    await h.os.compute.deleteServer(m1.id);
    await new Promise((res) => setTimeout(res, 300)); // the sim deletes after its (scaled) latency
    assert.equal(await handleStatus({ config: 'cfg.yml', etcd: false, format: 'json' }, h.ctx, config, noJournal), 1);
    const r2: StatusReport = JSON.parse(h.io.results.join(''));
    const orphan = r2.machines.find((m) => m.name === 'demo-master-1')!;
    assert.equal(orphan.server, 'missing');
    assert.ok(r2.problems.some((p) => p.kind === 'node-without-server' && p.subject === 'demo-master-1'), JSON.stringify(r2.problems));
    assert.ok(r2.problems.some((p) => p.kind === 'lb-member-stale'), 'the deleted master is still in the pool');
  });

  it('-f json: the documented shape; --etcd adds the member table and deletes the adder', async () => {
    const h = await start();
    const code = await handleStatus({ config: 'cfg.yml', etcd: true, 'allow-adder': true, format: 'json' }, h.ctx, config, { ...noJournal, pollIntervalMs: 50 });
    assert.equal(code, 0, h.io.results.join('') + h.io.lines.join('\n'));
    const r: StatusReport = JSON.parse(h.io.results.join(''));
    assert.deepEqual(Object.keys(r).sort(), ['cluster', 'counts', 'etcd', 'healthy', 'leftovers', 'loadBalancer', 'machines', 'notes', 'problems', 'warnings']);
    assert.equal(r.cluster, 'demo');
    assert.equal(r.healthy, true);
    assert.deepEqual(Object.keys(r.machines[0]).sort(), ['cordoned', 'flavor', 'ip', 'kubelet', 'name', 'node', 'problems', 'role', 'server', 'zone']);
    assert.deepEqual(r.machines.map((m) => [m.name, m.role, m.node]), [['demo-master-1', 'master', 'Ready'], ['demo-node-1', 'node', 'Ready']]);
    assert.deepEqual(r.etcd!.members.map((m) => [m.name, m.learner, m.healthy, m.leader]), [['demo-master-1', false, true, true]]);
    assert.deepEqual([r.etcd!.voters, r.etcd!.quorum, r.etcd!.tolerates], [1, 1, 0]);
    assert.equal(r.loadBalancer!.state, 'found');
    assert.equal(h.kubeSim.deployments('kube-system').filter((d: any) => d.metadata.name.startsWith('kadd-master-adder')).length, 0, 'adder deleted');
    // a stale learner (a failed join left it) is a problem with the cleanup hint
    h.kubeSim.etcd.add(['https://10.0.0.99:2380'], true, 'demo-master-7', '', '10.0.0.99');
    h.io.results.length = 0;
    assert.equal(await handleStatus({ config: 'cfg.yml', etcd: true, 'allow-adder': true }, h.ctx, config, { ...noJournal, pollIntervalMs: 50 }), 1);
    const out = h.io.results.join('');
    assert.match(out, /etcd \(read via demo-master-1\)/);
    assert.match(out, /stale etcd member/);
    assert.match(out, /fix: remove it with `kadd add --role master --fix-stale cfg\.yml`/);
  });

  it('--etcd without --allow-adder: exit 2 with the hint, no Deployment created (read-only); with it the adder is created and deleted', async () => {
    const h = await start();
    const deployPosts = () => Object.entries(h.sim.counters().requests as Record<string, number>).filter(([k]) => /^kube POST .*\/deployments$/.test(k)).reduce((a, [, v]) => a + v, 0);
    const err = await handleStatus({ config: 'cfg.yml', etcd: true }, h.ctx, config, { ...noJournal, pollIntervalMs: 50 }).catch((e) => e);
    assert.equal(err?.exitCode, 2, String(err));
    assert.match(err.message, /--allow-adder/);
    assert.match(err.hint, /--allow-adder/);
    assert.equal(deployPosts(), 0, 'no Deployment created');
    assert.equal(h.kubeSim.deployments('kube-system').filter((d: any) => d.metadata.name.startsWith('kadd-master-adder')).length, 0);
    assert.equal(h.sim.counters().byService.kube ?? 0, 0, 'not one Kubernetes request');
    // without --etcd: a read-only status, no write of any kind
    assert.equal(await handleStatus({ config: 'cfg.yml', etcd: false }, h.ctx, config, noJournal), 0);
    assert.deepEqual(Object.keys(h.sim.counters().requests).filter((k) => !/ GET /.test(k) && !/auth\/tokens$/.test(k)), [], 'status only reads (and authenticates)');
    // --etcd --allow-adder: the adder is created once and deleted
    assert.equal(await handleStatus({ config: 'cfg.yml', etcd: true, 'allow-adder': true }, h.ctx, config, { ...noJournal, pollIntervalMs: 50 }), 0);
    assert.equal(deployPosts(), 1, 'the adder was created');
    assert.equal(h.kubeSim.deployments('kube-system').filter((d: any) => d.metadata.name.startsWith('kadd-master-adder')).length, 0, 'and deleted');
  });

  it('reads the real journal next to the cluster file: an interrupted run is listed', async () => {
    const h = await start();
    const { Journal } = await import('../../lib/journal/journal.js');
    const j = await Journal.open(h.cfgPath);
    await j.begin({ command: 'add', args: { amount: 1 } });
    await j.intent('server', 'demo-node-2');
    await j.done('server', 'demo-node-2', 'abc');
    await j.end('interrupted');
    await j.close();
    const code = await handleStatus({ config: 'cfg.yml', etcd: false, format: 'yaml' }, h.ctx, config);
    assert.equal(code, 1);
    const out = h.io.results.join('');
    assert.match(out, /kind: leftover/);
    assert.match(out, /interrupted and left server demo-node-2/);
  });

  it('formats an empty cluster without crashing', () => {
    const out = formatStatusTable({ cluster: 'x', healthy: true, machines: [], counts: [], problems: [], warnings: [], notes: [], etcd: null, loadBalancer: null, leftovers: [] });
    assert.match(out, /no servers or Nodes found for cluster x/);
  });
});
