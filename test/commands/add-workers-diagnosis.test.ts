/**
 * `kadd add --role node` failure handling and request economy found on a real Zed cloud (issue 14), on the
 * simulator: a quota fault is not retried, a boot volume in error is explained from Cinder's user messages,
 * a NoValidHost names the flavor's extra specs, the progress line says a word once, and the ownership tags
 * go into the port create, kept where Neutron has `tag-creation` (one PUT per port where the answer shows them dropped).
 */
import assert from 'node:assert/strict';
import { FAST_FLAGS, startKaddSim, type KaddSim } from '../helpers/kadd-sim.js';

const add = (h: KaddSim, ...args: string[]) => h.kadd(['add', ...FAST_FLAGS, ...args, h.cfgPath]);

function assertGone(h: KaddSim, name: string): void {
  assert.deepEqual(h.servers().filter((s) => s.name === name), [], `server ${name} left`);
  assert.deepEqual(h.volumes().filter((v) => v.name === `${name}-root` && v.status !== 'deleting'), [], `volume ${name}-root left`);
  assert.deepEqual(h.ports().filter((p) => p.name === `${name}-port-0`), [], `port ${name}-port-0 left`);
}

describe('kadd add --role node: failure diagnosis and port tags (simulator)', function () {
  this.timeout(60_000);
  let h: KaddSim | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  it('a server ERROR with a "Quota exceeded" fault is not retried: that node fails at once with the quota cause', async () => {
    h = await startKaddSim({
      scenario: { faults: { serverError: [{ name: '-node-2$', message: 'Quota exceeded for instances: Requested 1, but already used 10 of 10 instances', code: 403, times: 1 }] } },
    });
    const r = await add(h, '--amount', '1', '-f', 'json');
    assert.equal(r.code, 1, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.nodes[0].attempts, 1, 'no second attempt');
    assert.equal(out.nodes[0].diagnosis.cause, 'quota');
    assert.match(out.nodes[0].cause, /over quota \(not retried\): Quota exceeded for instances/);
    const c = h.counters();
    assert.equal(c['compute POST /compute/v2.1/servers'], 1, 'one server create, not a rebuilt port+volume+server');
    assert.equal(c['volume POST /volume/v3/{id}/volumes'], 1);
    assert.equal(c['network POST /network/v2.0/ports'], 1);
    assert.match(r.stderr, /demo-node-2: the project quota was exceeded while building/);
    assertGone(h, 'demo-node-2');
  });

  it('other ERROR faults are still retried once (the quota rule is not a catch-all)', async () => {
    h = await startKaddSim({ scenario: { faults: { serverError: [{ name: '-node-2$', message: 'Build of instance aborted: Failed to allocate the network(s)', times: 1 }] } } });
    const r = await add(h, '--amount', '1', '-f', 'json');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).nodes[0].attempts, 2);
  });

  it('a boot volume in error is diagnosed from Cinder\'s user messages; the progress line says "failed" once', async () => {
    h = await startKaddSim({ scenario: { faults: { volumeError: [{ name: '-node-2-root$' }] } } });
    const r = await add(h, '--amount', '1');
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /demo-node-2: Cinder could not create boot volume demo-node-2-root: schedule allocate volume:Could not find any available weighted backend\./);
    assert.match(r.stderr, /next step: no storage backend can hold it: check volume type ssd in zone nova/);
    assert.match(r.stderr, /evidence: cinder: schedule allocate volume:Could not find any available weighted backend\. \(VOLUME_VOLUME_001_003\)/);
    assert.match(r.stdout, /demo-node-2 .*rolled-back .*boot volume demo-node-2-root went to error: schedule allocate volume/);
    assert.match(r.stderr, /demo-node-2: add failed after \S+: boot volume demo-node-2-root went to error/);
    assert.doesNotMatch(r.stderr, /FAILED: failed/i);
    assert.equal(h.counters()['volume GET /volume/v3/{id}/messages'], 1, 'the messages read once');
    assertGone(h, 'demo-node-2');
  });

  it('a NoValidHost on a flavor with extra specs names the specs (not "a smaller --flavor")', async () => {
    h = await startKaddSim({
      scenario: {
        compute: { flavors: [{ name: 'gpu.large', vcpus: 2, ram: 4096, disk: 20, extraSpecs: { 'resources:VGPU': '1', 'trait:CUSTOM_A100': 'required', 'quota:cpu_shares': '2048' } }] },
        faults: { serverError: [{ name: '-node-2$', message: 'No valid host was found. There are not enough hosts available.', times: 2 }] },
      },
    });
    const r = await add(h, '--amount', '1', '--flavor', 'gpu.large');
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /demo-node-2: Nova found no host that satisfies the extra specs of flavor gpu\.large \(resources:VGPU=1, trait:CUSTOM_A100=required\)/);
    assert.match(r.stderr, /evidence: flavor gpu\.large extra specs: resources:VGPU=1, trait:CUSTOM_A100=required/);
    assert.doesNotMatch(r.stderr, /cpu_shares/, 'quota:* specs only tune the hypervisor');
    assert.doesNotMatch(r.stderr, /smaller --flavor/);
  });

  it('a NoValidHost on a flavor without extra specs still points at capacity', async () => {
    h = await startKaddSim({ scenario: { faults: { serverError: [{ name: '-node-2$', message: 'No valid host was found. There are not enough hosts available.', times: 2 }] } } });
    const r = await add(h, '--amount', '1');
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /Nova found no hypervisor that fits the flavor in this zone/);
    assert.match(r.stderr, /smaller --flavor/);
  });

  it('Neutron with tag-creation: ports are created with their tags, no tag PUT', async () => {
    h = await startKaddSim({ nodes: 1, scenario: { network: { extensions: ['tag-creation'] } } });
    const r = await add(h, '--amount', '3');
    assert.equal(r.code, 0, r.stderr);
    const c = h.counters();
    assert.equal(c['network GET /network/v2.0/extensions'] ?? 0, 0, 'no extension list: the create\'s answer shows the tags were kept');
    assert.equal(c['network POST /network/v2.0/ports'], 3);
    assert.equal(c['network PUT /network/v2.0/ports/{id}/tags'] ?? 0, 0);
    const ports = [...(h.sim.openstack.store.ports.values() as Iterable<{ name: string; tags: string[] }>)].filter((p) => /^demo-node-[234]-port-0$/.test(p.name));
    assert.equal(ports.length, 3);
    for (const p of ports) assert.deepEqual([...p.tags].sort(), ['kadd-cluster=demo', 'kadd-role=node'], p.name);
  });

  it('Neutron without tag-creation (Zed): tags by one PUT per port after the create', async () => {
    h = await startKaddSim({ nodes: 1 });
    const r = await add(h, '--amount', '3');
    assert.equal(r.code, 0, r.stderr);
    const c = h.counters();
    assert.equal(c['network GET /network/v2.0/extensions'] ?? 0, 0, 'no extension list: the create\'s answer shows the tags were dropped');
    assert.equal(c['network PUT /network/v2.0/ports/{id}/tags'], 3);
    const ports = [...(h.sim.openstack.store.ports.values() as Iterable<{ name: string; tags: string[] }>)].filter((p) => /^demo-node-[234]-port-0$/.test(p.name));
    for (const p of ports) assert.deepEqual([...p.tags].sort(), ['kadd-cluster=demo', 'kadd-role=node'], p.name);
  });
});
