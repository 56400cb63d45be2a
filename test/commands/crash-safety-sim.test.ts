/**
 * Issue 13 items on the simulator, through the CLI (in process and as child processes):
 * 13.1 a kill -9 between a port's create and its tags leaves nothing cleanup cannot remove.
 * 13.7 the certificate key never travels in an exec request URL (nor in any argv).
 * 13.8 a server name taken by someone else after the preflight is detected: that node is rolled back, not duplicated.
 * 13.10 a run's master adder is its own: another operation's adder is never deleted.
 * 13.14 bad input found in preflight: a kubeconfig CA that is no certificate, an auth_url that is no URL.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { FAST_FLAGS, startKaddSim, type KaddSim } from '../helpers/kadd-sim.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const rawPorts = (h: KaddSim): any[] => {
  const ports = (h.sim.state() as any).openstack?.ports ?? [];
  return Array.isArray(ports) ? ports : Object.values(ports);
};

describe('crash safety (issue 13) on the simulator', function () {
  this.timeout(120_000);
  let h: KaddSim | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  it('13.1: kill -9 while the port create is in flight: the port (untagged, id never journaled) is proven kadd\'s by its create and deleted by --cleanup', async () => {
    h = await startKaddSim({ nodes: 1 });
    h.sim.core.scenario.latency = { ...(h.sim.core.scenario.latency ?? {}), request: { network: { fixed: 1500 } } };
    const c = h.spawnKadd(['add', ...FAST_FLAGS, '--amount', '1', h.cfgPath]);
    await c.waitFor(/demo-node-2: port start/, 90_000);
    await sleep(500); // the POST is on its way (Neutron answers after 1.5 s): kill inside that window
    c.proc.kill('SIGKILL');
    await c.done;
    h.sim.core.scenario.latency = { ...(h.sim.core.scenario.latency ?? {}), request: {} };
    // the POST reached Neutron before the kill: the port appears, without tags, its id in no journal
    let port: any;
    for (let i = 0; i < 100 && !port; i++) {
      port = rawPorts(h).find((p) => p.name === 'demo-node-2-port-0');
      if (!port) await sleep(50);
    }
    assert.ok(port, 'the in-flight create made the port');
    assert.deepEqual(port.tags ?? [], [], 'killed before the tags were set');
    const { findUnfinished } = await import('../../lib/journal/index.js');
    const left = (await findUnfinished(h.cfgPath)).leftovers.filter((l) => l.kind === 'port');
    assert.deepEqual(left.map((l) => [l.name, l.state, l.id]), [['demo-node-2-port-0', 'maybe', undefined]]);

    const r = await h.kadd(['add', ...FAST_FLAGS, '--cleanup', '--amount', '1', h.cfgPath]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /cleanup: deleted port demo-node-2-port-0 /);
    assert.equal(rawPorts(h).filter((p) => p.id === port.id).length, 0, 'the untagged port is gone');
    assert.equal((await findUnfinished(h.cfgPath)).leftovers.length, 0);
  });

  it('13.1: a port of that name without kadd\'s tag or create-time description is not deleted by --cleanup', async () => {
    h = await startKaddSim({ nodes: 1 });
    const { Journal } = await import('../../lib/journal/index.js');
    // a run died after its intent; a port of that name was made by someone else (no tag, another description)
    const j = await Journal.open(h.cfgPath);
    await j.begin({ command: 'add --role node', args: {} });
    await j.intent('port', 'demo-node-2-port-0');
    await j.close();
    const { resolveCloud } = await import('../../lib/openstack/config.js');
    const { createOpenStackClient } = await import('../../lib/openstack/client.js');
    const { nullIo } = await import('../../lib/io.js');
    const cloud = await resolveCloud({ cli: {}, env: h.env, cwd: h.dir, io: nullIo } as never);
    const client = createOpenStackClient(cloud as never, { io: nullIo } as never);
    const network = await client.network.findNetwork('demo-net');
    const foreign = await client.network.createPort({ name: 'demo-node-2-port-0', network_id: network!.id, description: 'made by hand' });
    const r = await h.kadd(['add', ...FAST_FLAGS, '--cleanup', '--amount', '1', h.cfgPath]);
    assert.notEqual(r.code, 0, r.stderr);
    assert.match(r.stderr, /port \S+ is named demo-node-2-port-0 but has no kadd-cluster=demo tag or kadd description; not deleted/);
    assert.equal(rawPorts(h).filter((p) => p.id === foreign.id).length, 1, 'the foreign port stays');
  });

  for (const [what, ca] of [
    ['bad base64', 'bm90IGJhc2U2NCEhIQ=!'],
    ['base64 of something that is not PEM', Buffer.from('hello, not a certificate').toString('base64')],
    ['a PEM block that is no certificate', Buffer.from('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n').toString('base64')],
  ] as const) {
    it(`13.14: a kubeconfig whose CA is ${what} is refused with exit 2 before anything is created`, async () => {
      h = await startKaddSim({ nodes: 1 });
      const kc = readFileSync(h.env.KUBECONFIG!, 'utf8').replace('    insecure-skip-tls-verify: true\n', `    certificate-authority-data: ${ca}\n`);
      const bad = join(h.dir, 'bad-kubeconfig');
      writeFileSync(bad, kc);
      const before = JSON.stringify(h.mutations());
      for (const role of ['node', 'master']) {
        const r = await h.kadd(['add', '--role', role, ...FAST_FLAGS, h.cfgPath], { env: { KUBECONFIG: bad } });
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.stderr, /certificate-authority-data of cluster 'sim' .* (is not valid base64|is not a PEM certificate|holds a PEM block that is not a certificate)/);
      }
      assert.equal(JSON.stringify(h.mutations()), before, 'no network, subnet, router, Lease or anything else');
    });
  }

  it('13.14: an auth_url that is not a URL is bad input: exit 2, no request retried, nothing created', async () => {
    h = await startKaddSim({ nodes: 1 });
    const clouds = readFileSync(h.env.OS_CLIENT_CONFIG_FILE!, 'utf8').replace(/auth_url: .*/, 'auth_url: keystone.example.com:5000/v3');
    const bad = join(h.dir, 'bad-clouds.yaml');
    writeFileSync(bad, clouds);
    const before = JSON.stringify(h.counters());
    const t0 = Date.now();
    const r = await h.kadd(['add', ...FAST_FLAGS, h.cfgPath], { env: { OS_CLIENT_CONFIG_FILE: bad } });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /auth_url 'keystone\.example\.com:5000\/v3' of cloud 'sim' is not an http\(s\) URL/);
    assert.equal(JSON.stringify(h.counters()), before, 'not one request reached the cloud or the cluster');
    assert.ok(Date.now() - t0 < 10_000);
  });

  it('13.10: a master run deletes only its own adder; another operation\'s adder is left alone (and reported)', async () => {
    h = await startKaddSim({});
    const { renderAdderDeployment } = await import('../../lib/cloudinit/render.js');
    const { createKubeApi } = await import('../../lib/kube/client.js');
    const { loadKubeconfig } = await import('../../lib/kube/config.js');
    const { nullIo } = await import('../../lib/io.js');
    const kube = createKubeApi(await loadKubeconfig({ env: h.env, cwd: h.dir }), { io: nullIo });
    const theirs = await renderAdderDeployment({ clusterName: 'demo', nodeName: 'demo-master-1', image: 'registry.k8s.io/etcd:3.5.12-0', operationId: '20261204T100000-abcdef' });
    await kube.createDeployment(theirs.namespace, theirs.object);
    const deployments = () => ((h!.sim.kube as any).deployments('kube-system') as any[]).map((d) => d.metadata.name as string).filter((n) => n.startsWith('kadd-master-adder'));
    for (let i = 0; i < 100 && !(await kube.listPods('kube-system', { labelSelector: theirs.labelSelector })).some((p) => p.ready); i++) await sleep(50);
    const r = await h.kadd(['add', '--role', 'master', '--yes', ...FAST_FLAGS, h.cfgPath]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /another operation's master-adder is present \(kadd-master-adder-20261204t100000-abcdef-\S+\); left alone/);
    assert.doesNotMatch(r.stderr, /deleting a master-adder left behind/);
    assert.deepEqual(deployments(), ['kadd-master-adder-20261204t100000-abcdef'], 'theirs stays, ours is gone');
  });

  it('13.7: the certificate key reaches kubeadm through stdin, never in an exec URL; the master joins with it', async () => {
    h = await startKaddSim({});
    const r = await h.kadd(['add', '--role', 'master', '--yes', ...FAST_FLAGS, h.cfgPath]);
    assert.equal(r.code, 0, r.stderr);
    const { execUrls } = await import('../sim/kube/ws.js');
    const urls = execUrls((h.sim.kube as any).cluster);
    const upload = urls.filter((u) => decodeURIComponent(u).includes('upload-certs'));
    assert.equal(upload.length, 1, 'the certificates were uploaded through the adder');
    assert.match(decodeURIComponent(upload[0]!), /--config \/tmp\/kadd-upload-certs-[0-9a-f]+\.yaml/);
    assert.match(upload[0]!, /[?&]stdin=true/);
    for (const u of urls) {
      const d = decodeURIComponent(u.replace(/\+/g, ' '));
      assert.doesNotMatch(d, /certificate-key|certificateKey/, d);
      assert.doesNotMatch(d, /[0-9a-f]{64}/, `no 64-hex secret in ${d}`);
    }
    // the key that went through stdin is the one the new master joined with: kubeadm-certs was written
    // with it (the join would fail with "certificate key rejected" otherwise)
    assert.match(r.stdout, /master demo-master-2 added/);
    assert.doesNotMatch(r.stderr + r.stdout, /[0-9a-f]{64}/);
  });

  it('13.8: a server named demo-node-2 created by someone else after the preflight: kadd rolls its own back, no duplicate', async () => {
    h = await startKaddSim({ nodes: 1 });
    // someone else, ready to create demo-node-2 (the name kadd's preflight will choose)
    const { resolveCloud } = await import('../../lib/openstack/config.js');
    const { createOpenStackClient } = await import('../../lib/openstack/client.js');
    const { nullIo } = await import('../../lib/io.js');
    const client = createOpenStackClient((await resolveCloud({ cli: {}, env: h.env, cwd: h.dir, io: nullIo } as never)) as never, { io: nullIo } as never);
    const net = (await client.network.findNetwork('demo-net'))!;
    const flavor = (await client.compute.listFlavors()).find((f: { name: string }) => f.name === 'm1.small')!;
    const image = (await client.image.findImage('ubuntu-22.04'))!;
    // kadd's port create is slow and its boot volume takes 2.5 s to become available: its server create (which waits
    // for both) comes well after the moment the other server is created below
    h.sim.core.scenario.latency = { ...(h.sim.core.scenario.latency ?? {}), request: { network: { fixed: 1500 } }, volumeCreate: { fixed: 2500 } };
    const c = h.spawnKadd(['add', ...FAST_FLAGS, '--amount', '1', h.cfgPath]);
    await c.waitFor(/demo-node-2: port start/, 90_000);
    // kadd's port create is in flight: the other server gets the name first
    const theirs = await client.compute.createServer({ name: 'demo-node-2', flavorRef: flavor.id, imageRef: image.id, networks: [{ uuid: net.id }] } as never);
    h.sim.core.scenario.latency = { ...(h.sim.core.scenario.latency ?? {}), request: {} };
    const r = await c.done;
    assert.notEqual(r.code, 0, r.stderr);
    assert.match(r.stderr + r.stdout, /server name demo-node-2 was taken by another server \(\S+, created /);
    const named = h.servers().filter((s) => s.name === 'demo-node-2');
    assert.deepEqual(named.map((s) => s.id), [theirs.id], 'only theirs carries the name: kadd deleted its own');
    assert.equal(h.ports().filter((p) => p.name === 'demo-node-2-port-0').length, 0, 'its port rolled back');
  });
});
