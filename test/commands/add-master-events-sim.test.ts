/** kadd add --role master: the new master's stage events on stderr and its outcome (`added`, `rolled-back`) in -f json. */
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

  it('a join that fails: -f json prints the master "rolled-back" with its error on stdout; stderr error and exit code unchanged', async () => {
    h = await startKaddSim({ masters: 2, scenario: { faults: { kubeletNeverJoins: ['demo-master-3'] } } });
    const flags = ['add', '--role', 'master', '--yes', '--accept-drift', '--poll-interval', '25', '--timeout', 'active=6,registered=2', '--boot-timeout', '6', h.cfgPath];
    const r = await h.kadd([...flags, '-f', 'json']);
    assert.equal(r.code, 1, r.stderr);
    const out = JSON.parse(r.stdout) as { cluster: string; name: string; outcomes: { node: string; outcome: string; error?: string; stages: { stage: string; state: string }[] }[] };
    const ajv = new (Ajv as unknown as typeof Ajv.default)({ allErrors: true, strict: false });
    ajv.addSchema(schema('node-outcome'));
    const check = ajv.compile(schema('add-master-result'));
    assert.ok(check(out), JSON.stringify(check.errors, null, 2));
    assert.equal(out.cluster, 'demo');
    assert.equal(out.name, 'demo-master-3');
    assert.equal(out.outcomes.length, 1);
    const o = out.outcomes[0];
    assert.equal(o.node, 'demo-master-3');
    assert.equal(o.outcome, 'rolled-back');
    assert.match(o.error ?? '', /no Node registered within 2s/);
    const seen = o.stages.map((s) => `${s.stage}:${s.state}`);
    assert.ok(seen.includes('registered:failed') && seen.at(-1) === 'rollback:done', seen.join(' '));
    // the error is what it was: one JSON object on stderr (docs/schemas/error.json), exit 1
    const err = JSON.parse(r.stderr.trim().split('\n').at(-1)!) as { error: { code: string; message: string; exitCode: number } };
    assert.ok(ajv.compile(schema('error'))(err));
    assert.equal(err.error.code, 'E_MASTER_ADD_FAILED');
    assert.equal(err.error.exitCode, 1);
    assert.match(err.error.message, /^adding master demo-master-3 failed at stage "Node registered": no Node registered within 2s; the cluster file is unchanged$/);
    assert.ok(!h.serverNames('master').includes('demo-master-3'), 'rolled back');
    assert.doesNotMatch(r.stdout, /\b[a-z0-9]{6}\.[a-z0-9]{16}\b|\b[0-9a-f]{64}\b|BEGIN/, 'no bootstrap token, certificate key or PEM on stdout');

    // the table format prints nothing on stdout and the same error line as before
    const t = await h.kadd(flags);
    assert.equal(t.code, 1, t.stderr);
    assert.equal(t.stdout, '');
    assert.match(t.stderr, /^error: adding master demo-master-3 failed at stage "Node registered": no Node registered within 2s; the cluster file is unchanged$/m);
  });
});
