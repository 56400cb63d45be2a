/**
 * The one runner (lib/ops/engine/runner.ts): the order of the verb's parts, what a dry run, a refusal, a
 * result and an exception leave in the journal, and that the lock is released in every path.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runOperation, type RunnerVerb } from '../../../lib/ops/engine/runner.js';
import { readJournal, journalPath } from '../../../lib/journal/journal.js';
import { nullIo } from '../../../lib/io.js';
import { realClock } from '../../../lib/clock.js';
import { PreflightError } from '../../../lib/errors.js';
import { fake } from '../../helpers/fake.js';
import type { Context } from '../../../lib/context.js';

describe('engine runner', () => {
  let dir: string;
  let cfg: string;
  let ctx: Context;
  let calls: string[];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kadd-runner-'));
    cfg = join(dir, 'cluster.yml');
    writeFileSync(cfg, 'x: 1\n');
    ctx = fake<Context>({ io: nullIo, clock: realClock, env: {}, cwd: dir, signal: new AbortController().signal }, 'Context');
    calls = [];
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const verb = (o: Partial<RunnerVerb<number, string, { ok: boolean }>> = {}): RunnerVerb<number, string, { ok: boolean }> => ({
    command: 'test-verb',
    clusterFile: cfg,
    dryRun: false,
    unfinished: () => void calls.push('unfinished'),
    connect: async () => void calls.push('connect'),
    observe: async () => (calls.push('observe'), 3),
    plan: (n) => (calls.push('plan'), `plan-${n}`),
    preflight: () => void calls.push('preflight'),
    isEmpty: () => (calls.push('isEmpty'), false),
    confirm: async () => void calls.push('confirm'),
    journalArgs: (p) => (calls.push('journalArgs'), { p }),
    execute: async (_c, p) => (calls.push(`execute ${p}`), { ok: true }),
    commit: async () => void calls.push('commit'),
    status: (r) => (calls.push('status'), r.ok ? 'ok' : 'failed'),
    close: async () => void calls.push('close'),
    ...o,
  });
  const records = async () => (existsSync(journalPath(cfg)) ? (await readJournal(cfg)).records : []);

  it('runs the parts in order; the journal begins before execute and ends ok after commit; the lock is free again', async () => {
    const r = await runOperation(ctx, verb());
    assert.deepEqual(r, { kind: 'done', plan: 'plan-3', result: { ok: true } });
    assert.deepEqual(calls, ['unfinished', 'connect', 'observe', 'plan', 'preflight', 'isEmpty', 'confirm', 'journalArgs', 'execute plan-3', 'commit', 'status', 'close']);
    const recs = await records();
    assert.deepEqual(recs.map((x) => x.t), ['begin', 'end']);
    assert.equal((recs[0] as { command?: string }).command, 'test-verb');
    assert.equal((recs[1] as { status?: string }).status, 'ok');
    // the lock is released: a second run takes it
    await runOperation(ctx, verb());
  });

  it('a dry run stops after the plan: no journal, no confirmation, no execute', async () => {
    const r = await runOperation(ctx, verb({ dryRun: true }));
    assert.equal(r.kind, 'dry-run');
    assert.deepEqual(calls, ['unfinished', 'connect', 'observe', 'plan', 'close']);
    assert.deepEqual(await records(), []);
  });

  it('a refusal (preflight) or nothing to do leaves no journal operation', async () => {
    await assert.rejects(runOperation(ctx, verb({ preflight: () => { throw new PreflightError('blocked'); } })), /blocked/);
    assert.deepEqual(await records(), []);
    const r = await runOperation(ctx, verb({ isEmpty: () => true }));
    assert.equal(r.kind, 'nothing');
    assert.deepEqual(await records(), []);
  });

  it('an unfinished journal the verb refuses stops before any API call', async () => {
    await assert.rejects(runOperation(ctx, verb({ unfinished: () => { throw new PreflightError('leftovers'); } })), /leftovers/);
    assert.deepEqual(calls, ['close']);
  });

  it('a result that failed ends the journal failed; an exception in execute ends it failed and is rethrown', async () => {
    await runOperation(ctx, verb({ execute: async () => ({ ok: false }) }));
    assert.equal((await records()).at(-1)!.t, 'end');
    assert.equal(((await records()).at(-1) as { status?: string }).status, 'failed');
    await assert.rejects(runOperation(ctx, verb({ execute: async () => { throw new Error('boom'); } })), /boom/);
    const last = (await records()).at(-1) as { t: string; status?: string };
    assert.deepEqual([last.t, last.status], ['end', 'failed']);
  });

  it('an interrupt (the signal aborted) ends the journal interrupted', async () => {
    const ac = new AbortController();
    const c = fake<Context>({ io: nullIo, clock: realClock, env: {}, cwd: dir, signal: ac.signal }, 'Context');
    await assert.rejects(runOperation(c, verb({ execute: async () => { ac.abort(); throw new Error('stopped'); } })), /stopped/);
    const last = (await records()).at(-1) as { t: string; status?: string };
    assert.deepEqual([last.t, last.status], ['end', 'interrupted']);
  });
  it('settle runs after connect and before observe with a journal under the held lock (not on a dry run); status may say interrupted', async () => {
    const settle: RunnerVerb<number, string, { ok: boolean }>['settle'] = async (_c, _r, open) => {
      calls.push('settle');
      const j = await open();
      await j.begin({ command: 'cleanup' });
      await j.end('ok');
      await j.close();
    };
    await runOperation(ctx, verb({ settle, status: () => 'interrupted' }));
    assert.deepEqual(calls.slice(0, 4), ['unfinished', 'connect', 'settle', 'observe']);
    const recs = (await records()) as { t: string; command?: string; status?: string }[];
    assert.deepEqual(recs.map((x) => `${x.t} ${x.command ?? x.status}`), ['begin cleanup', 'end ok', 'begin test-verb', 'end interrupted']);
    calls = [];
    await runOperation(ctx, verb({ settle, dryRun: true }));
    assert.ok(!calls.includes('settle'), 'a dry run settles nothing');
  });
});
