/**
 * Lifecycle stage events (lib/ops/engine/events.ts) rendered by the terminal Io: one plain line per event
 * off a TTY, the node's spinner line on a TTY (closed when its root stage ends), only failures with -q,
 * never anything on stdout.
 */
import assert from 'node:assert/strict';
import { TerminalIo, describeStage } from '../../lib/cli/output.js';
import { NodeStages } from '../../lib/ops/engine/events.js';
import type { StageEvent } from '../../lib/io.js';

function streams(tty: boolean) {
  const ttyOps = { columns: 80, cursorTo() { return true; }, clearLine() { return true; }, moveCursor() { return true; } };
  const out = { text: '', isTTY: tty, ...ttyOps, write(s: string) { this.text += s; return true; } };
  const err = { text: '', isTTY: tty, ...ttyOps, write(s: string) { this.text += s; return true; } };
  return { out, err };
}
const T0 = Date.UTC(2024, 0, 2, 3, 4, 5);

describe('stage events', () => {
  it('NodeStages: start/done/failed/skipped/wait with the elapsed time of each stage, and the records', async () => {
    let t = T0;
    const seen: StageEvent[] = [];
    const st = new NodeStages({ stage: (e) => seen.push(e) }, { now: () => t }, 'demo-node-3');
    st.start('remove');
    st.start('drain');
    t += 2000;
    st.wait('drain', 'eviction refused; retrying');
    t += 1000;
    st.done('drain', '2 evicted');
    st.skipped('volume-detach', 'the Node is unreachable');
    await assert.rejects(st.run('server', async () => {
      t += 5000;
      throw new Error('quota');
    }), /quota/);
    st.failed('remove', 'quota');
    assert.deepEqual(seen.map((e) => `${e.stage} ${e.state} ${e.elapsedMs}${e.detail ? ` ${e.detail}` : ''}`), [
      'remove start 0', 'drain start 0', 'drain wait 2000 eviction refused; retrying', 'drain done 3000 2 evicted',
      'volume-detach skipped 0 the Node is unreachable', 'server start 0', 'server failed 5000 quota', 'remove failed 8000 quota',
    ]);
    assert.ok(seen.every((e) => e.node === 'demo-node-3'));
    assert.deepEqual(st.through('remove').map((r) => `${r.stage}:${r.state}`), ['drain:done', 'volume-detach:skipped', 'server:failed']);
    assert.equal(st.failedStage(), 'remove');
  });

  it('describeStage: one readable phrase per state', () => {
    assert.equal(describeStage({ node: 'n', stage: 'drain', state: 'start', elapsedMs: 0 }), 'drain start');
    assert.equal(describeStage({ node: 'n', stage: 'drain', state: 'done', elapsedMs: 75_000, detail: '3 evicted' }), 'drain done after 1m15s: 3 evicted');
    assert.equal(describeStage({ node: 'n', stage: 'server', state: 'failed', elapsedMs: 2000, detail: 'boom' }), 'server failed after 2s: boom');
    assert.equal(describeStage({ node: 'n', stage: 'drain', state: 'wait', elapsedMs: 5000, detail: '429' }), 'drain waiting (5s): 429');
    assert.equal(describeStage({ node: 'n', stage: 'lb-member', state: 'skipped', elapsedMs: 0, detail: 'not in the pool' }), 'lb-member skipped: not in the pool');
  });

  it('off a TTY: one timestamped line per event on stderr, nothing on stdout', () => {
    const s = streams(false);
    const io = new TerminalIo({ stdout: s.out, stderr: s.err, env: {}, now: () => T0 });
    const st = new NodeStages(io, { now: () => T0 }, 'demo-node-3');
    st.start('remove');
    st.start('cordon');
    st.done('cordon');
    st.start('cordon'); // the same text twice is still two events (no de-duplication as for progress lines)
    st.done('cordon');
    st.done('remove', 'cordoned');
    assert.equal(s.err.text, [
      '03:04:05Z demo-node-3: remove start',
      '03:04:05Z demo-node-3: cordon start',
      '03:04:05Z demo-node-3: cordon done after 0s',
      '03:04:05Z demo-node-3: cordon start',
      '03:04:05Z demo-node-3: cordon done after 0s',
      '03:04:05Z demo-node-3: remove done after 0s: cordoned',
      '',
    ].join('\n'));
    assert.equal(s.out.text, '');
  });

  it('-q off a TTY: only failures', () => {
    const s = streams(false);
    const io = new TerminalIo({ stdout: s.out, stderr: s.err, env: {}, now: () => T0, verbosity: -1 });
    io.stage({ node: 'n', stage: 'drain', state: 'start', elapsedMs: 0 });
    io.stage({ node: 'n', stage: 'drain', state: 'failed', elapsedMs: 1000, detail: 'PDB' });
    assert.equal(s.err.text, '03:04:05Z n: drain failed after 1s: PDB\n');
  });

  it('on a TTY: the node\'s spinner line follows its stages and is persisted when the root stage ends', async () => {
    const s = streams(true);
    const io = new TerminalIo({ stdout: s.out, stderr: s.err, env: {}, color: false, now: () => T0 });
    assert.equal(io.spinners, true);
    const a = new NodeStages(io, { now: () => T0 }, 'demo-node-3');
    const b = new NodeStages(io, { now: () => T0 }, 'demo-node-4');
    a.start('remove');
    b.start('remove');
    await io.settle();
    a.start('drain');
    b.start('drain');
    a.done('drain', '1 evicted');
    b.failed('drain', 'PDB default/api');
    b.failed('remove', 'drain timed out');
    a.done('remove', 'server deleted');
    io.stop();
    // no timestamped plain lines: the board drew them, and the ends are persisted with their marks
    assert.doesNotMatch(s.err.text, /Z demo-node-3: drain start/);
    assert.match(s.err.text, /✖ demo-node-4: remove failed after 0s: drain timed out\n/);
    assert.match(s.err.text, /✔ demo-node-3: remove done after 0s: server deleted\n/);
    assert.match(s.err.text, /demo-node-3: drain done after 0s: 1 evicted/, 'the board showed the stage');
    assert.equal(s.out.text, '');
  });
});
