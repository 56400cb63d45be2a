/**
 * kadd replace on the simulator: each replaced node's lifecycle stage events on stderr (replace > add,
 * soak, remove-old for a surge; remove-old, add for remove-first) and the per-node outcomes of `-f json`
 * on stdout, validated against docs/schemas/replace-result.json.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import { FAST_FLAGS, ROOT, startKaddSim, type KaddSim } from '../helpers/kadd-sim.js';

const FLAGS = [...FAST_FLAGS, '--soak', '0', '--yes', '--drain-timeout', '20s'];
const schema = (name: string) => JSON.parse(readFileSync(join(ROOT, 'docs', 'schemas', `${name}.json`), 'utf8')) as object;

function validator() {
  const ajv = new (Ajv as unknown as typeof Ajv.default)({ allErrors: true, strict: false });
  ajv.addSchema(schema('node-outcome'));
  return ajv.compile(schema('replace-result'));
}

/** replace's own stage events of one node, in order: "stage state" (remove's own stages of the node left out) */
function events(stderr: string, node: string): string[] {
  const re = new RegExp(`^\\d\\d:\\d\\d:\\d\\dZ ${node}: (replace|add|soak|remove-old|remove-new) (start|done|failed|skipped)\\b`, 'gm');
  return [...stderr.matchAll(re)].map((m) => `${m[1]} ${m[2]}`);
}

describe('kadd replace: stage events and -f json outcomes (simulator)', function () {
  this.timeout(120_000);
  let h: KaddSim | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  it('surge, one worker: replace > add > remove-old; outcome "replaced" by the new node, with those stages', async () => {
    h = await startKaddSim({ masters: 1, nodes: 2 });
    const r = await h.kadd(['replace', '-f', 'json', h.cfgPath, 'demo-node-1', ...FLAGS]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(events(r.stderr, 'demo-node-1'), ['replace start', 'add start', 'add done', 'remove-old start', 'remove-old done', 'replace done']);
    // the gated remove of the old node still reports its own stages under the same node
    assert.match(r.stderr, /^\d\d:\d\d:\d\dZ demo-node-1: drain done/m);
    const out = JSON.parse(r.stdout) as Record<string, any>;
    const check = validator();
    assert.ok(check(out), JSON.stringify(check.errors, null, 2));
    assert.equal(out.outcomes.length, 1);
    const o = out.outcomes[0];
    assert.deepEqual([o.node, o.outcome, o.by], ['demo-node-1', 'replaced', 'demo-node-3']);
    assert.deepEqual(o.stages.map((s: any) => `${s.stage}:${s.state}`), ['add:done', 'remove-old:done']);
    assert.match(o.stages[0].detail, /^demo-node-3 healthy$/);
  });

  it('remove-first (--no-surge): replace > remove-old > add', async () => {
    h = await startKaddSim({ masters: 1, nodes: 2 });
    const r = await h.kadd(['replace', '--no-surge', '-f', 'json', h.cfgPath, 'demo-node-1', ...FLAGS]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(events(r.stderr, 'demo-node-1'), ['replace start', 'remove-old start', 'remove-old done', 'add start', 'add done', 'replace done']);
    const out = JSON.parse(r.stdout) as Record<string, any>;
    const check = validator();
    assert.ok(check(out), JSON.stringify(check.errors, null, 2));
    assert.deepEqual(out.outcomes.map((o: any) => `${o.node} ${o.outcome} ${o.by}`), ['demo-node-1 replaced demo-node-3']);
  });

  it('a replacement that never joins: the add stage fails, outcome "failed" at stage add, the old node kept', async () => {
    h = await startKaddSim({ masters: 1, nodes: 2, scenario: { faults: { kubeletNeverJoins: ['^demo-node-3$'] } } });
    const f = [...FLAGS];
    f[f.indexOf('--timeout') + 1] = '2';
    const r = await h.kadd(['replace', '-f', 'json', h.cfgPath, 'demo-node-1', ...f]);
    assert.notEqual(r.code, 0, r.stderr);
    assert.deepEqual(events(r.stderr, 'demo-node-1'), ['replace start', 'add start', 'add failed', 'replace failed']);
    const out = JSON.parse(r.stdout) as Record<string, any>;
    const check = validator();
    assert.ok(check(out), JSON.stringify(check.errors, null, 2));
    const o = out.outcomes[0];
    assert.deepEqual([o.node, o.outcome, o.stage], ['demo-node-1', 'failed', 'add']);
    assert.match(o.error, /demo-node-3/);
    assert.deepEqual(h.serverNames('node'), ['demo-node-1', 'demo-node-2']);
  });
});
