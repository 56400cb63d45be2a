/**
 * `kadd add` argument schema per role (issue 9's two bugs): `--timeout` is a duration for workers and a
 * stage list for masters (yargs typed it as a number: NaN for masters), defaults written once per role;
 * and the cluster file is loaded with the cwd/env handed to main(), not the process's.
 */
import assert from 'node:assert/strict';
import { main } from '../../lib/cli/main.js';
import { UsageError } from '../../lib/errors.js';
import { WORKER_DEFAULTS, workerTimeoutSeconds } from '../../lib/commands/add.js';
import { MASTER_DEFAULTS, parseAddMasterArgs } from '../../lib/commands/add-master.js';
import { DEFAULT_STAGE_TIMEOUTS } from '../../lib/ops/add-master.js';
import { startKaddSim, type KaddSim } from '../helpers/kadd-sim.js';

async function run(h: KaddSim, args: string[]) {
  let stdout = '';
  let stderr = '';
  // main() gets the sim's env and directory; the process keeps its own cwd (the repository) and env
  const code = await main(args, {
    env: { ...h.env, PATH: process.env.PATH ?? '' }, cwd: h.dir,
    stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) },
  });
  return { code, stdout, stderr };
}

describe('kadd add: one argument schema per role', function () {
  this.timeout(60_000);

  it('workers: --timeout is seconds or a duration, default 1200; a stage list is refused (exit 2 material)', () => {
    assert.equal(workerTimeoutSeconds(undefined), WORKER_DEFAULTS.timeoutSeconds);
    assert.equal(workerTimeoutSeconds('20m'), 1200);
    assert.equal(workerTimeoutSeconds('90'), 90);
    assert.throws(() => workerTimeoutSeconds('active=600'), (e: unknown) => e instanceof UsageError && /apply to --role master only/.test(e.message));
    assert.throws(() => workerTimeoutSeconds('abc'), UsageError);
  });

  it('masters: --timeout active=600,ready=900 reaches the request; the other stages and the 1800 s token TTL keep their defaults', () => {
    const r = parseAddMasterArgs({ config: 'cfg.yml', timeout: 'active=600,ready=900' }).request;
    assert.equal(r.timeouts.active, 600_000);
    assert.equal(r.timeouts.ready, 900_000);
    assert.equal(r.timeouts.member, DEFAULT_STAGE_TIMEOUTS.member);
    assert.equal(r.tokenTtlSeconds, MASTER_DEFAULTS.tokenTtlSeconds);
    assert.equal(MASTER_DEFAULTS.tokenTtlSeconds, 1800);
  });

  describe('through main() on the simulator', () => {
    let h: KaddSim | undefined;
    afterEach(async () => {
      await h?.stop();
      h = undefined;
    });

    it('kadd add --role master --timeout active=600,ready=900 --dry-run prints those stage timeouts in the plan (was NaN)', async () => {
      h = await startKaddSim({});
      const r = await run(h, ['add', '--role', 'master', '--timeout', 'active=600,ready=900', '--dry-run', 'cfg.yml']);
      assert.doesNotMatch(r.stderr, /NaN/);
      assert.match(r.stdout, /timeouts {3}active 600s, registered 900s, member 300s, promoted 300s, healthy 180s, ready 900s/, r.stdout + r.stderr);
    });

    it('loads the cluster file relative to the cwd handed to main() (not the process cwd)', async () => {
      h = await startKaddSim({});
      assert.notEqual(process.cwd(), h.dir);
      const r = await run(h, ['add', '--amount', '1', '--dry-run', '-f', 'json', 'cfg.yml']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).nodes[0].name, 'demo-node-2');
    });
  });
});
