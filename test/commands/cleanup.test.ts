/**
 * `kadd cleanup` on the simulator: the journal's leftovers of a kill -9'd add, and orphans planted
 * directly in the simulator (kadd-owned port/volume swept, a foreign port of a matching name refused).
 */
import assert from 'node:assert/strict';
import { FAST_FLAGS, startKaddSim, type KaddSim } from '../helpers/kadd-sim.js';
import { findOrphans } from '../../lib/commands/cleanup.js';
import { ownedBy } from '../../lib/ops/engine/ledger.js';
import { kaddPortDescription } from '../../lib/openstack/network.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function kubeOf(h: KaddSim) {
  const { loadKubeconfig } = await import('../../lib/kube/config.js');
  const { createKubeApi } = await import('../../lib/kube/client.js');
  const { nullIo } = await import('../../lib/io.js');
  return createKubeApi(await loadKubeconfig({ env: h.env, cwd: h.dir }), { io: nullIo });
}

async function client(h: KaddSim) {
  const { resolveCloud } = await import('../../lib/openstack/config.js');
  const { createOpenStackClient } = await import('../../lib/openstack/client.js');
  const { nullIo } = await import('../../lib/io.js');
  const cloud = await resolveCloud({ cli: {}, env: h.env, cwd: h.dir, io: nullIo } as never);
  return createOpenStackClient(cloud as never, { io: nullIo } as never);
}

function of(h: KaddSim, names: string[]) {
  return {
    servers: h.servers().filter((s) => names.includes(s.name)).map((s) => s.name).sort(),
    volumes: h.volumes().filter((v) => names.some((n) => v.name === `${n}-root`) && v.status !== 'deleting').map((v) => v.name).sort(),
    ports: h.ports().filter((p) => names.some((n) => p.name === `${n}-port-0`)).map((p) => p.name).sort(),
  };
}

describe('kadd cleanup (simulator)', function () {
  this.timeout(90_000);
  let h: KaddSim | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  it('kill -9 while servers build, then kadd cleanup: nothing of that run is left, no node is added, the Ready node stays', async () => {
    h = await startKaddSim({ scenario: { latency: { serverBuild: { fixed: 4000 } }, faults: { kubeletNeverJoins: ['^demo-node-[23]$'] } } });
    const c = h.spawnKadd(['add', ...FAST_FLAGS, '--amount', '2', h.cfgPath]);
    for (const n of [2, 3]) await c.waitFor(new RegExp(`demo-node-${n}: active waiting.*server BUILD`), 45_000);
    c.proc.kill('SIGKILL');
    await c.done;
    assert.deepEqual(of(h, ['demo-node-2', 'demo-node-3']).servers, ['demo-node-2', 'demo-node-3']);
    assert.equal(h.bootstrapTokens().length, 1, 'the killed run left its token');
    const nodesBefore = [...h.nodes().entries()].sort();

    // --dry-run: lists, sends no mutating request
    h.sim.resetCounters();
    const dry = await h.kadd(['cleanup', '--dry-run', h.cfgPath]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /would delete: server demo-node-2/);
    assert.match(dry.stdout, /would delete: token/);
    assert.deepEqual(h.mutations(), {}, 'a dry run changes nothing');
    assert.deepEqual(of(h, ['demo-node-2', 'demo-node-3']).servers, ['demo-node-2', 'demo-node-3']);

    const r = await h.kadd(['cleanup', '--poll-interval', '25', h.cfgPath]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /deleted: server demo-node-2/);
    assert.deepEqual(of(h, ['demo-node-2', 'demo-node-3']), { servers: [], volumes: [], ports: [] });
    assert.deepEqual(h.bootstrapTokens(), []);
    assert.deepEqual([...h.nodes().entries()].sort(), nodesBefore, 'no node added, the Ready node untouched');
    assert.deepEqual(h.serverNames(), ['demo-node-1']);
    // the journal is clean: a second cleanup finds nothing and a plain add no longer asks about leftovers
    const again = await h.kadd(['cleanup', h.cfgPath]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /nothing to clean up/);
    const add = await h.kadd(['add', ...FAST_FLAGS, '--amount', '1', '--dry-run', h.cfgPath]);
    assert.equal(add.code, 0, add.stderr);
  });

  it('orphans planted in the simulator: a kadd-owned port, volume, token and adder are swept, a foreign port of a matching name and a foreign token are refused/kept (exit 1)', async () => {
    h = await startKaddSim({ nodes: 1 });
    const os = await client(h);
    const net = await os.network.findNetwork('demo-net');
    const owned = await os.network.createPort({ name: 'demo-node-7-port-0', network_id: net!.id, description: kaddPortDescription('demo', 'demo-node-7') });
    const foreign = await os.network.createPort({ name: 'demo-node-8-port-0', network_id: net!.id, description: 'made by hand' });
    const vol = await os.volume.createVolume({ name: 'demo-node-7-root', size: 1, metadata: { 'kadd-cluster': 'demo' } });
    for (let i = 0; i < 100 && (await os.volume.getVolume(vol.id))?.status !== 'available'; i++) await sleep(50);
    const kube = await kubeOf(h);
    const kaddToken = await kube.createBootstrapToken({ ttlSeconds: 3600, description: 'kadd add --role node for demo' });
    const userToken = await kube.createBootstrapToken({ ttlSeconds: 3600, description: 'made by kubeadm token create' });
    await kube.createDeployment('kube-system', {
      apiVersion: 'apps/v1', kind: 'Deployment',
      metadata: { name: 'kadd-master-adder-op-dead', namespace: 'kube-system', labels: { 'app.kubernetes.io/name': 'kadd-master-adder', 'app.kubernetes.io/managed-by': 'kadd', 'kadd.io/operation-id': 'op-dead' } },
      spec: { replicas: 0, selector: { matchLabels: { 'kadd.io/operation-id': 'op-dead' } }, template: { metadata: { labels: { 'kadd.io/operation-id': 'op-dead' } }, spec: { containers: [{ name: 'a', image: 'x' }] } } },
    });
    await kube.createDeployment('kube-system', {
      apiVersion: 'apps/v1', kind: 'Deployment',
      metadata: { name: 'coredns-extra', namespace: 'kube-system', labels: { app: 'coredns-extra' } },
      spec: { replicas: 0, selector: { matchLabels: { app: 'coredns-extra' } }, template: { metadata: { labels: { app: 'coredns-extra' } }, spec: { containers: [{ name: 'a', image: 'x' }] } } },
    });
    const adders = async () => (await kube.listDeployments('kube-system', 'app.kubernetes.io/managed-by=kadd')).map((d) => d.name);
    assert.deepEqual(await adders(), ['kadd-master-adder-op-dead']);
    const nodesBefore = [...h.nodes().entries()].sort();
    const serversBefore = h.servers().map((s) => s.id).sort();

    h.sim.resetCounters();
    const dry = await h.kadd(['cleanup', '--dry-run', '-f', 'json', h.cfgPath]);
    assert.equal(dry.code, 1, dry.stderr);
    const plan = JSON.parse(dry.stdout);
    assert.equal(plan.dryRun, true);
    assert.ok(plan.deleted.some((d: string) => d.startsWith(`port demo-node-7-port-0 (${owned.id})`)), dry.stdout);
    assert.ok(plan.deleted.some((d: string) => d.startsWith(`volume demo-node-7-root (${vol.id})`)), dry.stdout);
    assert.ok(plan.refused.some((d: string) => d.startsWith(`port demo-node-8-port-0 (${foreign.id}): it carries no proof`)), dry.stdout);
    assert.ok(plan.deleted.some((d: string) => d.startsWith(`token bootstrap-token (${kaddToken.id})`)), dry.stdout);
    assert.ok(plan.deleted.some((d: string) => d.startsWith('deployment kube-system/kadd-master-adder-op-dead')), dry.stdout);
    assert.ok(!dry.stdout.includes(userToken.id), 'a token kadd did not make is not kadd\'s to touch');
    assert.ok(!dry.stdout.includes(kaddToken.secret), 'no token secret in the output');
    assert.deepEqual(h.mutations(), {});

    const r = await h.kadd(['cleanup', '--poll-interval', '25', h.cfgPath]);
    assert.equal(r.code, 1, r.stderr + r.stdout);
    assert.match(r.stdout, /deleted: port demo-node-7-port-0/);
    assert.match(r.stdout, /deleted: volume demo-node-7-root/);
    assert.match(r.stdout, /not deleted: port demo-node-8-port-0 .*no proof that kadd created it/);
    const ports = h.ports().map((p) => p.id);
    assert.ok(!ports.includes(owned.id), 'the orphan port is gone');
    assert.ok(ports.includes(foreign.id), 'the foreign port stays');
    assert.ok(!h.volumes().some((v) => v.id === vol.id && v.status !== 'deleting'), 'the orphan volume is gone');
    assert.deepEqual(h.bootstrapTokens().map((t) => t.id), [userToken.id], 'the kadd token is gone, the user\'s stays');
    assert.deepEqual(await adders(), [], 'the dead operation\'s adder is gone');
    assert.equal((await kube.listDeployments('kube-system', 'app=coredns-extra')).length, 1, 'other Deployments stay');
    assert.deepEqual(h.servers().map((s) => s.id).sort(), serversBefore, 'no server touched');
    assert.deepEqual([...h.nodes().entries()].sort(), nodesBefore, 'no Node touched');
  });

  it('--dry-run while another kadd holds the cluster lock: that run\'s token is refused, not planned; once the holder stopped renewing past its duration it is planned', async () => {
    h = await startKaddSim({ nodes: 1 });
    const kube = await kubeOf(h);
    const token = await kube.createBootstrapToken({ ttlSeconds: 3600, description: 'kadd add --role node for demo' });
    const now = Date.now();
    const held = await kube.createLease('kube-system', 'kadd-lock', { holderIdentity: 'ops@laptop pid 4242', leaseDurationSeconds: 30, acquireTime: now, renewTime: now, leaseTransitions: 0, annotations: {} });
    h.sim.resetCounters();
    const dry = await h.kadd(['cleanup', '--dry-run', '-f', 'json', h.cfgPath]);
    const plan = JSON.parse(dry.stdout);
    assert.ok(plan.refused.some((d: string) => d.includes(token.id) && d.includes('kadd (ops@laptop pid 4242) holds the cluster lock')), dry.stdout);
    assert.ok(!plan.deleted.some((d: string) => d.includes(token.id)), dry.stdout);
    assert.deepEqual(h.mutations(), {}, 'a dry run changes nothing');

    // the holder's last renewal is older than its duration: the lock's own rule (holderOf) says it is free
    await kube.replaceLease('kube-system', 'kadd-lock', held.resourceVersion, { holderIdentity: 'ops@laptop pid 4242', leaseDurationSeconds: 30, acquireTime: now - 60_000, renewTime: now - 31_000, leaseTransitions: 0, annotations: {} });
    const dry2 = await h.kadd(['cleanup', '--dry-run', '-f', 'json', h.cfgPath]);
    const plan2 = JSON.parse(dry2.stdout);
    assert.ok(plan2.deleted.some((d: string) => d.startsWith(`token bootstrap-token (${token.id})`)), dry2.stdout);
    assert.ok(!dry2.stdout.includes(token.secret), 'no token secret in the output');
  });

  it('the API pool: a kadd-named member of a server that is gone is deleted through the reapers (dry run first), a foreign one is refused, live masters\' stay', async () => {
    h = await startKaddSim({ masters: 2, nodes: 1 });
    const os = await client(h);
    const { observeApiPool } = await import('../../lib/ops/cleanup.js');
    const pool = (await observeApiPool(os, 'demo', 'demo-lb'))!;
    assert.equal(pool.members.length, 2, 'the seeded masters are members');
    const idle = async () => { for (let i = 0; i < 100 && (await os.loadbalancer.listMembers(pool.poolId)).some((m) => m.provisioning_status && m.provisioning_status !== 'ACTIVE'); i++) await sleep(50); };
    const ours = await os.loadbalancer.createMember(pool.poolId, { name: 'demo-master-7', address: '192.168.250.7', protocol_port: 6443 });
    await idle();
    const theirs = await os.loadbalancer.createMember(pool.poolId, { name: 'bastion', address: '192.168.250.8', protocol_port: 6443 });
    await idle();
    const members = async () => (await os.loadbalancer.listMembers(pool.poolId)).map((m) => m.id).sort();
    const before = await members();

    h.sim.resetCounters();
    const dry = await h.kadd(['cleanup', '--dry-run', h.cfgPath]);
    assert.equal(dry.code, 1, dry.stderr);
    assert.match(dry.stdout, new RegExp(`would delete: lb-member demo-master-7@192\\.168\\.250\\.7 \\(${ours.id}\\) \\(orphan\\)`));
    assert.match(dry.stdout, new RegExp(`not deleted: pool member bastion \\(${theirs.id}, 192\\.168\\.250\\.8\\): no server has this address, but kadd did not name it`));
    assert.deepEqual(h.mutations(), {}, 'a dry run changes nothing');
    assert.deepEqual(await members(), before);
    // one server list serves the orphans and the pool's live addresses (it was listed twice)
    const serverLists = (c: Record<string, number>) => Object.entries(c).filter(([k]) => /^compute GET \S*\/servers(\/detail)?$/.test(k)).reduce((n, [, v]) => n + v, 0);
    assert.equal(serverLists(h.counters()), 1, JSON.stringify(h.counters()));

    const r = await h.kadd(['cleanup', '--poll-interval', '25', h.cfgPath]);
    assert.equal(r.code, 1, r.stderr + r.stdout);
    assert.match(r.stdout, new RegExp(`deleted: pool member demo-master-7@192\\.168\\.250\\.7 \\(${ours.id}\\)`));
    assert.match(r.stdout, /not deleted: pool member bastion/);
    await idle();
    assert.deepEqual(await members(), before.filter((id) => id !== ours.id), 'only the orphan went: the masters\' members and the foreign one stay');
    const { findUnfinished } = await import('../../lib/journal/index.js');
    assert.deepEqual((await findUnfinished(h.cfgPath)).leftovers, [], 'adopted, deleted, journaled undone');
    const again = await h.kadd(['cleanup', '--dry-run', h.cfgPath]);
    assert.doesNotMatch(again.stdout, /demo-master-7/);
  });

  it('--servers: a kadd worker server without a Node is reported without it, deleted (with its Node-less port) with it; one without kadd\'s proof and the Ready worker stay', async () => {
    h = await startKaddSim({ nodes: 1, scenario: { faults: { kubeletNeverJoins: ['^demo-node-[56]$'] } } });
    const os = await client(h);
    const net = (await os.network.findNetwork('demo-net'))!;
    const flavor = (await os.compute.listFlavors()).find((f: { name: string }) => f.name === 'm1.small')!;
    const image = (await os.image.findImage('ubuntu-22.04'))!;
    const port = await os.network.createPort({ name: 'demo-node-5-port-0', network_id: net.id, description: kaddPortDescription('demo', 'demo-node-5') });
    const ours = await os.compute.createServer({ name: 'demo-node-5', flavorRef: flavor.id, imageRef: image.id, networks: [{ port: port.id }], metadata: { 'kadd-cluster': 'demo' } } as never);
    const theirs = await os.compute.createServer({ name: 'demo-node-6', flavorRef: flavor.id, imageRef: image.id, networks: [{ uuid: net.id }] } as never);
    for (let i = 0; i < 100 && h.servers().some((s) => s.status === 'BUILD'); i++) await sleep(50);
    const nodesBefore = [...h.nodes().entries()].sort();

    const without = await h.kadd(['cleanup', '--poll-interval', '25', h.cfgPath]);
    assert.equal(without.code, 1, without.stderr + without.stdout);
    assert.match(without.stdout, new RegExp(`not deleted: server demo-node-5 \\(${ours.id}\\): kadd's, ACTIVE, no Node; give --servers to delete it`));
    assert.match(without.stdout, new RegExp(`not deleted: server demo-node-6 \\(${theirs.id}\\): no Node, and it carries no proof`));
    assert.deepEqual(h.serverNames(), ['demo-node-1', 'demo-node-5', 'demo-node-6'], 'nothing deleted without --servers');

    h.sim.resetCounters();
    const dry = await h.kadd(['cleanup', '--servers', '--dry-run', h.cfgPath]);
    assert.equal(dry.code, 1, dry.stderr);
    assert.match(dry.stdout, new RegExp(`would delete: server demo-node-5 \\(${ours.id}\\) \\(orphan\\)`));
    assert.deepEqual(h.mutations(), {}, 'a dry run changes nothing');

    const r = await h.kadd(['cleanup', '--servers', '--poll-interval', '25', h.cfgPath]);
    assert.equal(r.code, 1, r.stderr + r.stdout); // demo-node-6 is still refused
    assert.match(r.stdout, new RegExp(`deleted: server demo-node-5 \\(${ours.id}\\)`));
    assert.match(r.stdout, /not deleted: server demo-node-6 .*no proof/);
    assert.deepEqual(h.serverNames(), ['demo-node-1', 'demo-node-6'], 'only the proven Node-less worker went');
    assert.ok(!h.ports().some((p) => p.id === port.id), 'its port went with it');
    assert.deepEqual([...h.nodes().entries()].sort(), nodesBefore, 'the Ready worker and every Node untouched');
    const { findUnfinished } = await import('../../lib/journal/index.js');
    assert.deepEqual((await findUnfinished(h.cfgPath)).leftovers, []);
  });

  it('bad input: exit 2, no API call', async () => {
    h = await startKaddSim({ nodes: 1 });
    h.sim.resetCounters();
    const r = await h.kadd(['cleanup', '--poll-interval', '0', h.cfgPath]);
    assert.equal(r.code, 2, r.stderr);
    assert.deepEqual(h.counters(), {});
  });
});

describe('findOrphans (pure)', () => {
  const seen = {
    servers: [
      { id: 's1', name: 'demo-node-1', status: 'ACTIVE', metadata: { 'kadd-cluster': 'demo' } },
      { id: 's5', name: 'demo-node-5', status: 'ERROR', metadata: { 'kadd-cluster': 'demo' } },
      { id: 's6', name: 'demo-master-6', status: 'ACTIVE', metadata: { 'kadd-cluster': 'demo' } },
      { id: 's9', name: 'demo-node-9', status: 'ACTIVE' },
    ],
    ports: [
      { id: 'p1', name: 'demo-node-1-port-0', device_id: 's1', tags: ['kadd-cluster=demo'] },
      { id: 'p2', name: 'demo-node-2-port-0', device_id: 'gone', tags: ['kadd-cluster=demo'] },
      { id: 'p3', name: 'demo-node-3-port-0', description: 'made by hand' },
      { id: 'p4', name: 'other-node-1-port-0', tags: ['kadd-cluster=other'] },
    ],
    volumes: [
      { id: 'v1', name: 'demo-node-1-root', status: 'in-use', metadata: { 'kadd-cluster': 'demo' }, attachments: [{ server_id: 's1' }] },
      { id: 'v2', name: 'demo-node-2-root', status: 'available', metadata: { 'kadd-cluster': 'demo' } },
      { id: 'v3', name: 'demo-node-3-root', status: 'available' },
    ],
    nodeNames: new Set(['demo-node-1']),
    journaled: new Set<string>(),
  };
  it('sweeps only proven, unheld ports and volumes; reports servers without a Node; masters never', () => {
    const r = findOrphans('demo', seen, { servers: false }, ownedBy);
    assert.deepEqual(r.adopt.map((a) => a.id).sort(), ['p2', 'v2']);
    assert.ok(r.refused.some((x) => x.startsWith('port demo-node-3-port-0 (p3): it carries no proof')));
    assert.ok(r.refused.some((x) => x.startsWith('volume demo-node-3-root (v3): it carries no proof')));
    assert.ok(r.refused.some((x) => x.startsWith('server demo-node-5 (s5): kadd\'s, ERROR, no Node; give --servers')));
    assert.ok(r.refused.some((x) => x.startsWith('server demo-master-6 (s6): a master without a Node')));
    assert.ok(r.refused.some((x) => x.startsWith('server demo-node-9 (s9): no Node, and it carries no proof')));
    assert.ok(!r.refused.concat(r.adopt.map((a) => a.name)).some((x) => x.includes('demo-node-1 ') || x.includes('other-')));
  });
  it('--servers adopts a kadd-owned worker server without a Node, never one with a Node, never a master', () => {
    const r = findOrphans('demo', seen, { servers: true }, ownedBy);
    assert.deepEqual(r.adopt.filter((a) => a.kind === 'server').map((a) => a.id), ['s5']);
    const journaled = findOrphans('demo', { ...seen, journaled: new Set(['p2', 'v2', 's5']) }, { servers: true }, ownedBy);
    assert.deepEqual(journaled.adopt, [], 'what the journal covers is left to the journal cleanup');
  });
});
