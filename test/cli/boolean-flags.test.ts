/**
 * Issue 12 point 1: `--dry-run=client` (kubectl's habit) once parsed as false and ran a real add.
 * Any on/off flag given a value accepts true/false (yes/no, 1/0); `--dry-run=client|server` mean dry run;
 * every other value is refused with exit 2 before any API call.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { checkBooleanValues } from '../../lib/cli/flags.js';
import { FAST_FLAGS, startKaddSim, type KaddSim, type RunResult } from '../helpers/kadd-sim.js';

const info = { booleans: ['dry-run', 'wait', 'quiet', 'q'], aliases: { quiet: ['q'], q: ['quiet'], 'dry-run': ['dryRun'] } };

describe('on/off flags given a value', () => {
  it('--dry-run=client / server / true mean dry run; false means false', () => {
    assert.deepEqual(checkBooleanValues(['add', '--dry-run=client', 'c.yml'], info), [{ key: 'dry-run', value: true }]);
    assert.deepEqual(checkBooleanValues(['--dry-run=server'], info), [{ key: 'dry-run', value: true }]);
    assert.deepEqual(checkBooleanValues(['--dry-run=TRUE'], info), [{ key: 'dry-run', value: true }]);
    assert.deepEqual(checkBooleanValues(['--dry-run=false'], info), [{ key: 'dry-run', value: false }]);
    assert.deepEqual(checkBooleanValues(['--wait=yes', '-q=0'], info), [{ key: 'wait', value: true }, { key: 'quiet', value: false }]);
  });

  it('any other value of any boolean flag is refused (exit 2), never read as false', () => {
    for (const a of ['--dry-run=none', '--dry-run=clinet', '--dry-run=', '--wait=nope', '-q=2', '--no-wait=1', '--quiet=off']) {
      assert.throws(() => checkBooleanValues([a], info), (e: Error & { exitCode?: number }) => e.exitCode === 2 && /value|flag/.test(e.message), a);
    }
  });

  it('string flags and words after -- are left alone', () => {
    assert.deepEqual(checkBooleanValues(['--zone=az1', '--', '--dry-run=x'], info), []);
  });
});

describe('kadd add --dry-run=<word> (child process on the simulator)', function () {
  this.timeout(60_000);
  let h: KaddSim | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  it('--dry-run=client prints the plan and changes nothing anywhere', async () => {
    h = await startKaddSim();
    h.sim.resetCounters();
    const c = h.spawnKadd(['add', ...FAST_FLAGS, '--dry-run=client', '--amount', '2', '-f', 'json', h.cfgPath]);
    const r = await c.done;
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).nodes.map((n: { name: string }) => n.name), ['demo-node-2', 'demo-node-3']);
    assert.deepEqual(h.mutations(), {}, 'no POST/PUT/PATCH/DELETE reached OpenStack or Kubernetes');
    assert.deepEqual(h.serverNames(), ['demo-node-1']);
    assert.equal(existsSync(h.updatedPath), false, 'no cfg.updated.yml');
  });

  it('--dry-run=bogus and --wait=nope are refused with exit 2 and no API call at all', async () => {
    h = await startKaddSim();
    for (const bad of ['--dry-run=bogus', '--wait=nope', '--dry-run=none']) {
      h.sim.resetCounters();
      const r: RunResult = await h.spawnKadd(['add', ...FAST_FLAGS, bad, h.cfgPath]).done;
      assert.equal(r.code, 2, `${bad}: ${r.stderr}`);
      assert.match(r.stderr, /^error: .*(takes no value|on\/off flag).*\nhint: .+\n$/, bad);
      assert.deepEqual(h.counters(), {}, `${bad}: no request reached the simulator`);
      assert.deepEqual(h.serverNames(), ['demo-node-1']);
    }
  });

  it('--dry-run client (space) is refused with a hint, not run', async () => {
    h = await startKaddSim();
    h.sim.resetCounters();
    const r = await h.spawnKadd(['add', ...FAST_FLAGS, h.cfgPath, '--dry-run', 'server']).done;
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /hint: --dry-run takes no separate value/);
    assert.deepEqual(h.counters(), {});
  });
});
