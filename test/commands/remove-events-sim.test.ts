/**
 * kadd remove (workers) on the simulator: the lifecycle stage events on stderr (one plain line per event
 * off a TTY) and the per-node outcomes of `-f json` on stdout, validated against docs/schemas.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import { ROOT, startKaddSim, type KaddSim } from '../helpers/kadd-sim.js';

const FAST = ['--yes', '--poll-interval', '25', '--evict-retry', '200'];
const schema = (name: string) => JSON.parse(readFileSync(join(ROOT, 'docs', 'schemas', `${name}.json`), 'utf8')) as object;

function validator() {
  const ajv = new (Ajv as unknown as typeof Ajv.default)({ allErrors: true, strict: false });
  ajv.addSchema(schema('node-outcome'));
  return ajv.compile(schema('remove-result'));
}

/** the stage events of one node, in order: "stage state" */
function events(stderr: string, node: string): string[] {
  const re = new RegExp(`^\\d\\d:\\d\\d:\\d\\dZ ${node}: (\\S+) (start|done|failed|skipped|waiting)\\b`, 'gm');
  return [...stderr.matchAll(re)].map((m) => `${m[1]} ${m[2]}`);
}

describe('kadd remove: stage events and -f json outcomes (simulator)', function () {
  this.timeout(60_000);
  let h: KaddSim | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  it('a worker remove: remove > cordon > drain > volume-detach > server > node, and outcome "removed" with those stages', async () => {
    h = await startKaddSim({
      masters: 1, nodes: 3,
      scenario: { kube: { podStartup: { uniform: [20, 40] }, podTermination: { uniform: [20, 40] }, volumeAttach: 30, volumeDetach: 30, workloads: [{ name: 'shop', replicas: 2 }] } },
    });
    const r = await h.kadd(['remove', ...FAST, '-f', 'json', h.cfgPath, 'demo-node-3']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(events(r.stderr, 'demo-node-3'), [
      'remove start',
      'cordon start', 'cordon done',
      'drain start', 'drain done',
      'volume-detach start', 'volume-detach done',
      'server start', 'server done',
      'node start', 'node done',
      'remove done',
    ]);
    // stdout is the JSON result only: no event line leaked there
    const out = JSON.parse(r.stdout) as Record<string, any>;
    const check = validator();
    assert.ok(check(out), JSON.stringify(check.errors, null, 2));
    assert.deepEqual(out.removed, ['demo-node-3']);
    assert.equal(out.outcomes.length, 1);
    const o = out.outcomes[0];
    assert.equal(o.node, 'demo-node-3');
    assert.equal(o.outcome, 'removed');
    assert.deepEqual(o.stages.map((s: any) => `${s.stage}:${s.state}`), ['cordon:done', 'drain:done', 'volume-detach:done', 'server:done', 'node:done']);
    assert.match(o.stages[3].detail, /^server deleted, volume (deleted|absent), port (deleted|absent)$/);
    assert.ok(o.stages.every((s: any) => Number.isInteger(s.elapsedMs) && s.elapsedMs >= 0));
  });

  it('a drain that times out: the drain stage fails, the node is "kept" with the reason, exit 1', async () => {
    h = await startKaddSim({
      masters: 1, nodes: 3,
      scenario: { kube: { podStartup: { uniform: [20, 40] }, podTermination: { uniform: [20, 40] }, workloads: [{ name: 'api', replicas: 2, nodes: ['demo-node-3', 'demo-node-1'], pdb: { minAvailable: 1 } }] } },
    });
    const k = h.sim.kube as any;
    const other = k.pods('default').find((p: any) => p.metadata.labels?.app === 'api' && p.spec.nodeName === 'demo-node-1');
    k.setCrashLoop('default', other.metadata.name, true);
    await new Promise((res) => setTimeout(res, 300));
    const r = await h.kadd(['remove', ...FAST, '--drain-timeout', '2s', '-f', 'json', h.cfgPath, 'demo-node-3']);
    assert.equal(r.code, 1, r.stderr);
    const ev = events(r.stderr, 'demo-node-3');
    assert.deepEqual(ev.filter((e) => !e.endsWith('waiting')), ['remove start', 'cordon start', 'cordon done', 'drain start', 'drain failed', 'remove failed']);
    assert.ok(ev.includes('drain waiting'), 'the 429 retries are wait events');
    const out = JSON.parse(r.stdout) as Record<string, any>;
    const check = validator();
    assert.ok(check(out), JSON.stringify(check.errors, null, 2));
    const o = out.outcomes[0];
    assert.equal(o.outcome, 'kept');
    assert.match(o.reason, /drain timed out after 2s/);
    assert.deepEqual(o.stages.map((s: any) => `${s.stage}:${s.state}`), ['cordon:done', 'drain:failed']);
    assert.ok(h.serverNames().includes('demo-node-3'));
  });
});
