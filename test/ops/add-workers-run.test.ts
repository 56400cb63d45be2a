import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Journal } from '../../lib/journal/index.js';
import { runAddWorkers } from '../../lib/ops/add-workers-run.js';
import { PreflightError } from '../../lib/errors.js';
import { nullIo } from '../../lib/io.js';
import { realClock } from '../../lib/clock.js';
import type { Context } from '../../lib/context.js';
import { testConfig } from './add-workers-plan.test.js';

describe('ops/add-workers-run: leftovers of a master run', () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  for (const choice of ['resume', 'cleanup', undefined] as const) {
    it(`are refused (exit 2, no API call) with ${choice ?? 'no choice'}, pointing at kadd add --role master --cleanup`, async () => {
      dir = mkdtempSync(join(tmpdir(), 'kadd-run-'));
      const cfg = join(dir, 'cfg.yml');
      writeFileSync(cfg, 'cluster-name: k\n');
      const j = await Journal.open(cfg);
      await j.begin({ command: 'add --role master' });
      await j.intent('server', 'k-master-2');
      await j.done('server', 'k-master-2', 's-m2');
      await j.done('etcd-member', 'k-master-2', 'abc123');
      await j.close(); // killed: no end record
      let calls = 0;
      const ctx: Context = {
        io: nullIo, clock: realClock, env: {}, cwd: dir, signal: new AbortController().signal,
        openstack: async () => { calls++; throw new Error('no API call expected'); },
        kube: async () => { calls++; throw new Error('no API call expected'); },
      };
      const req = {
        config: { ...testConfig(), file: cfg }, amount: 1, concurrency: 1, bootTimeoutMs: 1, joinTimeoutMs: 1, volumeTimeoutMs: 1,
        wait: true, keepFailed: false, tokenTtlSeconds: 900, pollIntervalMs: 1, maxPollIntervalMs: 1,
      };
      await assert.rejects(
        runAddWorkers(ctx, req, { dryRun: false, leftovers: choice, argsForJournal: {} }),
        (e: unknown) => e instanceof PreflightError && e.exitCode === 2 && /kadd add --role master --cleanup/.test(e.hint ?? '') && /k-master-2/.test(e.message),
      );
      assert.equal(calls, 0);
    });
  }
});
