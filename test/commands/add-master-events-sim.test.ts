/** kadd add --role master: the new master's stage events on stderr and its `added` outcome in -f json. */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import { FAST_FLAGS, ROOT, startKaddSim, type KaddSim } from '../helpers/kadd-sim.js';

const schema = (name: string) => JSON.parse(readFileSync(join(ROOT, 'docs', 'schemas', `${name}.json`), 'utf8')) as object;

function events(stderr: string, node: string): string[] {
  const re = new RegExp(`^\\d\\d:\\d\\d:\\d\\dZ ${node}: (\\S+) (start|done|failed|skipped)\\b`, 'gm');
  return [...stderr.matchAll(re)].map((m) => `${m[1]} ${m[2]}`);
}

describe('kadd add --role master: stage events and -f json outcomes (simulator)', function () {
  this.timeout(90_000);
  let h: KaddSim | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  it('add > snapshot > etcd-check > prepare > port > volume > server > watch stages > lb-member, outcome "added"', async () => {
    h = await startKaddSim({ masters: 2 });
    const r = await h.kadd(['add', '--role', 'master', '--yes', '--accept-drift', ...FAST_FLAGS, '-f', 'json', h.cfgPath]);
    assert.equal(r.code, 0, r.stderr);
    const ev = events(r.stderr, 'demo-master-3');
    const stages = ['snapshot', 'etcd-check', 'prepare', 'port', 'volume', 'server', 'active', 'registered', 'member', 'promoted', 'healthy', 'ready', 'lb-member'];
    assert.deepEqual(ev, ['add start', ...stages.flatMap((s) => [`${s} start`, `${s} done`]), 'add done']);
    const out = JSON.parse(r.stdout) as { outcomes: { node: string; outcome: string; stages: { stage: string; state: string; elapsedMs: number }[] }[] };
    const ajv = new (Ajv as unknown as typeof Ajv.default)({ allErrors: true, strict: false });
    ajv.addSchema(schema('node-outcome'));
    const check = ajv.compile(schema('add-master-result'));
    assert.ok(check(out), JSON.stringify(check.errors, null, 2));
    assert.equal(out.outcomes.length, 1);
    assert.equal(out.outcomes[0].node, 'demo-master-3');
    assert.equal(out.outcomes[0].outcome, 'added');
    assert.deepEqual(out.outcomes[0].stages.map((s) => `${s.stage}:${s.state}`), stages.map((s) => `${s}:done`));
    assert.ok(out.outcomes[0].stages.every((s) => Number.isInteger(s.elapsedMs) && s.elapsedMs >= 0));
  });
});
