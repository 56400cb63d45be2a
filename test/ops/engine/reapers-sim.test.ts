/**
 * The reapers against the simulator (real OpenStack and Kubernetes clients, real journal): the fixed
 * order, ownership proofs, already-gone = done, the Ready-Node refusal and "in use by a live server".
 */
import { strict as assert } from 'node:assert';
import { Journal, findUnfinished } from '../../../lib/journal/index.js';
import { Ledger, portDescription } from '../../../lib/ops/engine/ledger.js';
import { REAP_ORDER, Reapers, type ReapContext } from '../../../lib/ops/engine/reapers.js';
import { masterSimHooks, type SimHarness } from '../../commands/add-master-sim.helpers.js';
import type { OpenStackClient } from '../../../lib/openstack/types.js';

/** the real client, with every call recorded in order (a spy, not a fake: the calls go to the simulator) */
function spy(os: OpenStackClient, calls: string[]): OpenStackClient {
  const wrap = <T extends object>(svc: string, o: T): T =>
    new Proxy(o, {
      get(t, k) {
        const v = (t as Record<string | symbol, unknown>)[k];
        return typeof v === 'function' ? (...a: unknown[]) => {
          calls.push(`${svc}.${String(k)}`);
          return (v as (...x: unknown[]) => unknown).apply(t, a);
        } : v;
      },
    });
  return { ...os, compute: wrap('compute', os.compute), volume: wrap('volume', os.volume), network: wrap('network', os.network), loadbalancer: wrap('lb', os.loadbalancer) };
}

async function until(cond: () => Promise<boolean> | boolean, ms: number, what: string) {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** a worker the way kadd builds one: port (kadd description), boot volume (kadd metadata), server */
async function buildWorker(h: SimHarness, name: string, o: { describe?: boolean } = {}) {
  const net = await h.os.network.findNetwork('demo-net');
  const sub = await h.os.network.findSubnet('demo-subnet', net!.id);
  const img = await h.os.image.findImage('ubuntu-22.04');
  const port = await h.os.network.createPort({
    name: `${name}-port-0`, network_id: net!.id, fixed_ips: [{ subnet_id: sub!.id }], ...(o.describe === false ? {} : { description: portDescription('demo', name) }),
  });
  const vol = await h.os.volume.createVolume({ name: `${name}-root`, size: 10, imageRef: img!.id, availability_zone: 'nova', metadata: { 'kadd-cluster': 'demo', 'kadd-role': 'node' } });
  await until(async () => (await h.os.volume.getVolume(vol.id))?.status === 'available', 10_000, 'volume available');
  const srv = await h.os.compute.createServer({
    name, flavorRef: '1', availability_zone: 'nova', key_name: 'kadd', networks: [{ port: port.id }], metadata: { 'kadd-cluster': 'demo', 'kadd-role': 'node' },
    block_device_mapping_v2: [{ boot_index: 0, uuid: vol.id, source_type: 'volume', destination_type: 'volume', delete_on_termination: true }],
  });
  await until(async () => (await h.os.compute.getServer(srv.id))?.status === 'ACTIVE', 10_000, 'server ACTIVE');
  return { portId: port.id, volumeId: vol.id, serverId: srv.id };
}

describe('engine: reapers on the simulator', function () {
  this.timeout(60_000);
  const hooks = masterSimHooks();

  async function setup(h: SimHarness, calls: string[] = []) {
    const journal = await Journal.open(h.cfgPath);
    await journal.begin({ command: 'test' });
    const rc: ReapContext = { io: h.io, clock: h.ctx.clock, os: spy(h.os, calls), kube: h.kube, cluster: 'demo', pollIntervalMs: 20, deadlines: { server: 20_000, volume: 20_000 } };
    return { journal, rc, reapers: new Reapers(rc) };
  }

  it('tears one worker down in the fixed order, waits until gone, journals undone, reports only real deletions', async () => {
    const h = await hooks.start();
    const w = await buildWorker(h, 'demo-node-5');
    const calls: string[] = [];
    const { journal, reapers, rc } = await setup(h, calls);
    const ledger = new Ledger(journal, 'demo');
    for (const [kind, name, id] of [['port', 'demo-node-5-port-0', w.portId], ['volume', 'demo-node-5-root', w.volumeId], ['server', 'demo-node-5', w.serverId]] as const) {
      await ledger.create({ kind, name, node: 'demo-node-5' }, async () => ({ id }));
    }
    const r = await ledger.teardown('demo-node-5', reapers, { readyNode: 'delete' });
    assert.deepEqual(r.left, []);
    // the volume went with its server (delete_on_termination): gone, but kadd sent no DELETE for it
    assert.deepEqual(r.deleted.map((x) => x.ref.kind).sort(), ['port', 'server']);
    assert.deepEqual(r.reaped.find((x) => x.ref.kind === 'volume')?.state, 'absent');
    const order = calls.filter((c) => /delete(Server|Volume|Port)$/.test(c));
    assert.deepEqual(order, ['compute.deleteServer', 'network.deletePort']);
    assert.ok(calls.lastIndexOf('compute.getServer') < calls.indexOf('network.deletePort'), 'the server was seen gone before the port went');
    assert.equal(await h.os.compute.getServer(w.serverId), null);
    assert.equal(await h.os.volume.getVolume(w.volumeId), null, 'waited until the volume is really gone (13.11)');
    assert.deepEqual((await h.os.network.listPorts({ name: 'demo-node-5-port-0' })).length, 0);
    await journal.end('ok');
    assert.deepEqual((await findUnfinished(h.cfgPath)).leftovers, []);
    // idempotent: a second teardown of the same refs finds everything gone and deletes nothing
    const j2 = await Journal.open(h.cfgPath);
    await j2.begin({ command: 'again' });
    const again = Ledger.fromLeftovers(j2, 'demo', [
      { kind: 'server', name: 'demo-node-5', id: w.serverId, state: 'created', op: 'x' },
      { kind: 'port', name: 'demo-node-5-port-0', id: w.portId, state: 'created', op: 'x' },
    ]);
    const r2 = await again.teardown('demo-node-5', new Reapers(rc), { readyNode: 'delete' });
    assert.deepEqual(r2.deleted, []);
    assert.deepEqual(r2.reaped.map((x) => x.state), ['absent', 'absent']);
    await j2.close();
  });

  it('a run that died mid-create: found by exact name, deleted only with kadd\'s proof (description 13.1 / metadata)', async () => {
    const h = await hooks.start();
    const proven = await buildWorker(h, 'demo-node-6');
    const foreign = await buildWorker(h, 'demo-node-7', { describe: false });
    await h.os.compute.deleteServer(foreign.serverId);
    await until(async () => !(await h.os.compute.getServer(foreign.serverId)), 10_000, 'foreign server gone');
    const { journal, reapers } = await setup(h);
    const fromJournal = Ledger.fromLeftovers(journal, 'demo', [
      { kind: 'server', name: 'demo-node-6', state: 'maybe', op: 'x' },
      { kind: 'port', name: 'demo-node-6-port-0', state: 'maybe', op: 'x' },
      { kind: 'port', name: 'demo-node-7-port-0', state: 'maybe', op: 'x' },
    ]);
    const r6 = await fromJournal.teardown('demo-node-6', reapers, { readyNode: 'refuse' });
    assert.deepEqual(r6.left, []);
    assert.deepEqual(r6.deleted.map((x) => x.ref.kind).sort(), ['port', 'server']);
    assert.equal(await h.os.compute.getServer(proven.serverId), null);
    const r7 = await fromJournal.teardown('demo-node-7', reapers, { readyNode: 'refuse' });
    assert.deepEqual(r7.left.map((x) => [x.ref.kind, x.state]), [['port', 'refused']]);
    assert.match(r7.left[0]!.reason!, /no kadd-cluster=demo tag or kadd description/);
    assert.equal((await h.os.network.listPorts({ name: 'demo-node-7-port-0' })).length, 1, 'an unproven port is never deleted');
    await journal.close();
  });

  it('cleanup never deletes a joined, Ready Node\'s server (13.12); a rollback of its own node deletes Node and server', async () => {
    const h = await hooks.start();
    const seeded = (await h.os.compute.listServers({ name: '^demo-node-1$' }))[0]!;
    assert.equal((await h.kube.getNode('demo-node-1'))?.ready, true);
    const { journal, reapers } = await setup(h);
    const l = Ledger.fromLeftovers(journal, 'demo', [{ kind: 'server', name: 'demo-node-1', id: seeded.id, state: 'created', op: 'x' }]);
    const refused = await l.teardown('demo-node-1', reapers);
    assert.deepEqual(refused.reaped.map((x) => x.state), ['refused']);
    assert.match(refused.reaped[0]!.reason!, /joined and is Ready; `kadd remove demo-node-1` drains/);
    assert.ok(await h.os.compute.getServer(seeded.id), 'the server is untouched');
    assert.ok(await h.kube.getNode('demo-node-1'), 'the Node is untouched');

    const done = await l.teardown('demo-node-1', reapers, { readyNode: 'delete' });
    assert.deepEqual(done.left, []);
    assert.deepEqual(done.deleted.map((x) => x.ref.kind), ['node', 'server'], 'the Node object goes with its server');
    assert.equal(await h.kube.getNode('demo-node-1'), null);
    await journal.close();
  });

  it('never touches a volume or port in use by a live server that is not being torn down (13.9)', async () => {
    const h = await hooks.start();
    const live = await buildWorker(h, 'demo-node-8');
    const { journal, reapers } = await setup(h);
    // a record that (wrongly) names node-8's volume and port under another node: its server is not torn down
    const l = Ledger.fromLeftovers(journal, 'demo', [
      { kind: 'volume', name: 'demo-node-9-root', id: live.volumeId, state: 'created', op: 'x' },
      { kind: 'port', name: 'demo-node-9-port-0', id: live.portId, state: 'created', op: 'x' },
    ]);
    const r = await l.teardown('demo-node-9', reapers);
    assert.deepEqual(r.deleted, [], 'nothing was deleted');
    const vol = r.reaped.find((x) => x.ref.kind === 'volume')!;
    assert.equal(vol.state, 'refused');
    assert.match(vol.reason!, /in use by server/);
    const port = r.reaped.find((x) => x.ref.kind === 'port')!;
    assert.equal(port.state, 'refused');
    assert.match(port.reason!, /in use by server/);
    assert.equal((await h.os.network.listPorts({ name: 'demo-node-8-port-0' })).length, 1);
    assert.ok(await h.os.volume.getVolume(live.volumeId));
    assert.equal((await h.os.compute.getServer(live.serverId))?.status, 'ACTIVE');
    await journal.close();
  });

  it('REAP_ORDER is the documented order', () => {
    assert.deepEqual(REAP_ORDER, ['lb-member', 'etcd-member', 'node', 'server', 'volume', 'port', 'token', 'deployment']);
  });
});
