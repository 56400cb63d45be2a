/**
 * Issue 12 point 8: one JSON shape per concept, documented as JSON Schemas in docs/schemas/, checked here:
 * the schemas compile, and real outputs (worker and master dry runs on the simulator, an error under
 * -f json) validate against them; no display strings ("net (exists)") and no "" where null is meant.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import { FAST_FLAGS, ROOT, startKaddSim, type KaddSim } from '../helpers/kadd-sim.js';

const schema = (name: string) => JSON.parse(readFileSync(join(ROOT, 'docs', 'schemas', `${name}.json`), 'utf8')) as object;

function validator(name: string) {
  const ajv = new (Ajv as unknown as typeof Ajv.default)({ allErrors: true, strict: false });
  return ajv.compile(schema(name));
}

function noEmptyStrings(v: unknown, path = '$'): void {
  if (v === '') assert.fail(`${path} is "" (null is meant)`);
  if (Array.isArray(v)) v.forEach((x, i) => noEmptyStrings(x, `${path}[${i}]`));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) noEmptyStrings(x, `${path}.${k}`);
}

describe('JSON shapes (docs/schemas)', function () {
  this.timeout(90_000);
  let h: KaddSim | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  it('worker and master dry runs share one plan shape', async () => {
    h = await startKaddSim({ masters: 1, nodes: 1 });
    const check = validator('add-plan');
    const worker = await h.kadd(['add', ...FAST_FLAGS, '--dry-run', '-f', 'json', '--amount', '2', h.cfgPath]);
    assert.equal(worker.code, 0, worker.stderr);
    const w = JSON.parse(worker.stdout) as Record<string, any>;
    assert.ok(check(w), JSON.stringify(check.errors, null, 2));
    assert.equal(w.role, 'node');
    assert.deepEqual(w.network, { name: 'demo-net', action: 'exists' }, 'a structured object, not "demo-net (exists)"');
    noEmptyStrings(w);

    const master = await h.kadd(['add', '--role', 'master', '--dry-run', '-o', 'json', h.cfgPath]);
    if (master.code === 0 || master.code === 2) {
      const m = JSON.parse(master.stdout) as Record<string, any>;
      assert.ok(check(m), JSON.stringify(check.errors, null, 2));
      assert.equal(m.role, 'master');
      assert.deepEqual(Object.keys(m).sort(), Object.keys(w).sort(), 'the same keys for both roles');
      noEmptyStrings(m);
    } else {
      assert.fail(`master dry run: exit ${master.code}\n${master.stderr}`);
    }
  });

  it('an error under -f json is one JSON object on stderr (code, message, hint), with the exit code', async () => {
    h = await startKaddSim();
    const check = validator('error');
    for (const args of [['add', '--amout', '2', h.cfgPath, '-f', 'json'], ['add', '-o', 'json', '--os-password', 'wrong', h.cfgPath]]) {
      const r = await h.kadd(args);
      assert.equal(r.code, 2, r.stderr);
      const e = JSON.parse(r.stderr.trim().split("\n").pop()!) as { error: { exitCode: number } };
      assert.ok(check(e), JSON.stringify(check.errors, null, 2));
      assert.equal(e.error.exitCode, 2);
    }
  });

  it('-f json is refused where a command cannot honour it (logs), exit 2', async () => {
    h = await startKaddSim();
    h.sim.resetCounters();
    const r = await h.kadd(['logs', h.cfgPath, 'demo-node-1', '-f', 'json']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /"message":"kadd logs does not support -f json/);
    assert.deepEqual(h.counters(), {});
  });

  it('status: -f value -c prints the chosen columns; table mode keeps warnings off stdout', async () => {
    h = await startKaddSim({ nodes: 2 });
    const r = await h.kadd(['status', h.cfgPath, '-f', 'value', '-c', 'name', '-c', 'node']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), ['demo-master-1 Ready', 'demo-node-1 Ready', 'demo-node-2 Ready']);
    const t = await h.kadd(['status', h.cfgPath, '--os-region-name', 'RegionOne']);
    assert.doesNotMatch(t.stdout, /^warning:/m);
  });
});
