/**
 * `kadd cleanup -f json` on the simulator: a stage per node torn down on stderr, and `outcomes` per node on
 * stdout (docs/schemas/cleanup-result.json).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import { ROOT, startKaddSim, type KaddSim } from '../helpers/kadd-sim.js';
import { kaddPortDescription } from '../../lib/openstack/network.js';
import { nullIo } from '../../lib/io.js';
import { resolveCloud } from '../../lib/openstack/config.js';
import { createOpenStackClient } from '../../lib/openstack/client.js';
import { loadKubeconfig } from '../../lib/kube/config.js';
import { createKubeApi } from '../../lib/kube/client.js';

const schema = (name: string) => JSON.parse(readFileSync(join(ROOT, 'docs', 'schemas', `${name}.json`), 'utf8')) as object;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('kadd cleanup: stage events and -f json outcomes (simulator)', function () {
  this.timeout(90_000);
  let h: KaddSim | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  it('orphans of one node and a kadd token: one "cleanup" stage per node, outcomes removed; a dry run has none', async () => {
    h = await startKaddSim({ nodes: 1 });
    const os = createOpenStackClient(await resolveCloud({ cli: {}, env: h.env, cwd: h.dir }), { io: nullIo });
    const net = await os.network.findNetwork('demo-net');
    await os.network.createPort({ name: 'demo-node-7-port-0', network_id: net!.id, description: kaddPortDescription('demo', 'demo-node-7') });
    const vol = await os.volume.createVolume({ name: 'demo-node-7-root', size: 1, metadata: { 'kadd-cluster': 'demo' } });
    for (let i = 0; i < 100 && (await os.volume.getVolume(vol.id))?.status !== 'available'; i++) await sleep(50);
    const kube = createKubeApi(await loadKubeconfig({ env: h.env, cwd: h.dir }), { io: nullIo });
    await kube.createBootstrapToken({ ttlSeconds: 3600, description: 'kadd add --role node for demo' });

    const ajv = new (Ajv as unknown as typeof Ajv.default)({ allErrors: true, strict: false });
    ajv.addSchema(schema('node-outcome'));
    const check = ajv.compile(schema('cleanup-result'));

    const dry = await h.kadd(['cleanup', '--dry-run', '-f', 'json', h.cfgPath]);
    assert.equal(dry.code, 0, dry.stderr);
    const d = JSON.parse(dry.stdout) as Record<string, any>;
    assert.ok(check(d), JSON.stringify(check.errors, null, 2));
    assert.deepEqual(d.outcomes, []);
    assert.doesNotMatch(dry.stderr, /: cleanup start/, 'a dry run tears nothing down');

    const r = await h.kadd(['cleanup', '--poll-interval', '25', '-f', 'json', h.cfgPath]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const out = JSON.parse(r.stdout) as Record<string, any>;
    assert.ok(check(out), JSON.stringify(check.errors, null, 2));
    const byNode = Object.fromEntries(out.outcomes.map((o: any) => [o.node, o]));
    assert.deepEqual(Object.keys(byNode).sort(), ['demo-node-7', 'operation-wide']);
    assert.equal(byNode['demo-node-7'].outcome, 'removed');
    assert.deepEqual(byNode['demo-node-7'].stages.map((s: any) => `${s.stage}:${s.state}`), ['cleanup:done']);
    assert.match(byNode['demo-node-7'].stages[0].detail, /^2 deleted, 0 already gone$/);
    assert.equal(byNode['operation-wide'].outcome, 'removed');
    assert.match(r.stderr, /^\d\d:\d\d:\d\dZ demo-node-7: cleanup start: 2 resource\(s\)$/m);
    assert.match(r.stderr, /^\d\d:\d\d:\d\dZ demo-node-7: cleanup done after \d+s: 2 deleted, 0 already gone$/m);
    assert.doesNotMatch(r.stdout, /cleanup start/, 'events never on stdout');
  });
});
