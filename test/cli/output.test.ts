import assert from 'node:assert/strict';
import { load } from 'js-yaml';
import { TerminalIo, colorEnabled, renderResult } from '../../lib/cli/output.js';
import { createCliContext } from '../../lib/cli/context.js';
import { InterruptedError } from '../../lib/errors.js';
import { clearSecrets, registerSecret } from '../../lib/redact.js';

function streams(tty = false) {
  const ttyOps = { columns: 80, cursorTo() { return true; }, clearLine() { return true; }, moveCursor() { return true; } };
  const out = { text: '', isTTY: tty, ...ttyOps, write(s: string) { this.text += s; return true; } };
  const err = { text: '', isTTY: tty, ...ttyOps, write(s: string) { this.text += s; return true; } };
  return { out, err };
}
const T0 = Date.UTC(2024, 0, 2, 3, 4, 5);

describe('TerminalIo', () => {
  afterEach(() => clearSecrets());

  it('routes results to stdout and logs to stderr', () => {
    const { out, err } = streams();
    const io = new TerminalIo({ stdout: out, stderr: err, env: {} });
    io.result('r1');
    io.log('info', 'hello');
    io.log('warn', 'careful');
    io.log('error', 'bad');
    assert.equal(out.text, 'r1\n');
    assert.equal(err.text, 'hello\nwarning: careful\nerror: bad\n');
  });

  it('verbosity: -q hides info, debug needs -v or --debug; traces only with --debug', () => {
    const q = streams();
    const quiet = new TerminalIo({ stdout: q.out, stderr: q.err, env: {}, verbosity: -1 });
    quiet.log('info', 'i');
    quiet.log('debug', 'd');
    quiet.log('warn', 'w');
    quiet.trace('t');
    assert.equal(q.err.text, 'warning: w\n');
    const v = streams();
    const verbose = new TerminalIo({ stdout: v.out, stderr: v.err, env: {}, verbosity: 1 });
    verbose.log('debug', 'd');
    verbose.trace('t');
    assert.equal(v.err.text, 'debug: d\n');
    const d = streams();
    new TerminalIo({ stdout: d.out, stderr: d.err, env: {}, debug: true }).trace('GET /servers');
    assert.equal(d.err.text, 'trace: GET /servers\n');
  });

  it('redacts everything it writes', () => {
    registerSecret('s3cr3t-value');
    const { out, err } = streams();
    const io = new TerminalIo({ stdout: out, stderr: err, env: {}, debug: true });
    io.result('token s3cr3t-value');
    io.log('info', 'pw s3cr3t-value');
    io.trace('{"password": "abc"}');
    io.progress('n1', 'joining with abcdef.0123456789abcdef');
    assert.doesNotMatch(out.text + err.text, /s3cr3t-value|0123456789abcdef|"abc"/);
  });

  it('plain progress: timestamped lines, only when the text changes', () => {
    const { out, err } = streams(false);
    const io = new TerminalIo({ stdout: out, stderr: err, env: {}, now: () => T0 });
    const p = io.progress('prod-node-4', 'creating volume');
    p.update('creating volume');
    p.update('booting');
    p.update('booting');
    p.succeed('Ready');
    const q = io.progress('prod-node-5', 'creating volume');
    q.fail('quota exceeded');
    assert.equal(
      err.text,
      [
        '03:04:05Z prod-node-4: creating volume',
        '03:04:05Z prod-node-4: booting',
        '03:04:05Z prod-node-4: ok: Ready',
        '03:04:05Z prod-node-5: creating volume',
        '03:04:05Z prod-node-5: FAILED: quota exceeded',
        '',
      ].join('\n'),
    );
    assert.equal(out.text, '');
  });

  it('quiet progress shows failures only', () => {
    const { out, err } = streams(false);
    const io = new TerminalIo({ stdout: out, stderr: err, env: {}, verbosity: -1, now: () => T0 });
    io.progress('a', 'x').succeed('done');
    io.progress('b', 'y').fail('broken');
    assert.equal(err.text, '03:04:05Z b: FAILED: broken\n');
  });

  it('spinners only on a TTY outside CI', () => {
    assert.equal(new TerminalIo({ ...wire(streams(true)), env: {} }).spinners, true);
    assert.equal(new TerminalIo({ ...wire(streams(true)), env: { CI: 'true' } }).spinners, false);
    assert.equal(new TerminalIo({ ...wire(streams(false)), env: {} }).spinners, false);
  });

  it('no spinner on a TTY with 0 columns (script -qfc, ssh -tt): plain lines instead', () => {
    const s = streams(true);
    s.err.columns = 0;
    const io = new TerminalIo({ ...wire(s), env: {}, now: () => T0 });
    assert.equal(io.spinners, false);
    io.progress('n', 'booting').succeed('Ready');
    assert.equal(s.err.text, '03:04:05Z n: booting\n03:04:05Z n: ok: Ready\n');
  });

  it('a terminal resized to 0 columns mid-run drops the spinner for plain lines (ora would loop forever)', async () => {
    const s = streams(true);
    const io = new TerminalIo({ ...wire(s), env: {}, color: false, now: () => T0 });
    const p = io.progress('n', 'booting');
    await io.settle();
    s.err.columns = 0;
    p.update('joining');
    p.succeed('Ready');
    io.stop();
    assert.match(s.err.text, /03:04:05Z n: joining\n03:04:05Z n: ok: Ready\n$/);
    assert.ok(s.err.text.length < 2000, `${s.err.text.length} bytes`);
  });

  it('spinner board on a TTY: ora loaded lazily, finished lines persisted', async () => {
    const s = streams(true);
    const io = new TerminalIo({ stdout: s.out, stderr: s.err, env: {}, color: false });
    const p = io.progress('node-1', 'booting');
    await io.settle();
    p.update('joining');
    p.succeed('Ready');
    io.stop();
    assert.match(s.err.text, /node-1: Ready\n/);
    assert.equal(s.out.text, '');
  });

  it('colour: NO_COLOR, FORCE_COLOR=0 and --no-color turn it off', () => {
    assert.equal(colorEnabled({}, undefined, true), true);
    assert.equal(colorEnabled({}, undefined, false), false);
    assert.equal(colorEnabled({ NO_COLOR: '1' }, undefined, true), false);
    assert.equal(colorEnabled({ NO_COLOR: '' }, undefined, true), true);
    assert.equal(colorEnabled({ FORCE_COLOR: '0' }, undefined, true), false);
    assert.equal(colorEnabled({ FORCE_COLOR: '1' }, undefined, false), true);
    assert.equal(colorEnabled({ FORCE_COLOR: '1' }, false, true), false);
    const s = streams(true);
    new TerminalIo({ stdout: s.out, stderr: s.err, env: {} }).log('warn', 'x');
    assert.match(s.err.text, /\x1b\[33m/);
    const n = streams(true);
    new TerminalIo({ stdout: n.out, stderr: n.err, env: { NO_COLOR: '1' } }).log('warn', 'x');
    assert.equal(n.err.text, 'warning: x\n');
  });

  it('confirm: --yes answers yes, no TTY gives the default', async () => {
    const s = streams();
    const stdin = Object.assign(process.stdin, {}) as NodeJS.ReadStream;
    const notTty = { ...stdin, isTTY: false } as unknown as NodeJS.ReadStream;
    assert.equal(await new TerminalIo({ stdout: s.out, stderr: s.err, env: {}, yes: true }).confirm('go?', false), true);
    assert.equal(await new TerminalIo({ stdout: s.out, stderr: s.err, env: {}, stdin: notTty }).confirm('go?', false), false);
    assert.equal(await new TerminalIo({ stdout: s.out, stderr: s.err, env: {}, stdin: notTty }).confirm('go?', true), true);
  });
});

function wire(s: ReturnType<typeof streams>) {
  return { stdout: s.out, stderr: s.err };
}

describe('renderResult', () => {
  const rows = [
    { name: 'prod-node-1', status: 'ACTIVE', zones: ['az1'] },
    { name: 'prod-node-10', status: 'BUILD', zones: [] },
  ];

  it('table: aligned columns, upper-case headers', () => {
    assert.equal(
      renderResult(rows, 'table', { columns: [{ key: 'name' }, { key: 'status', header: 'state' }] }),
      'NAME          STATE\nprod-node-1   ACTIVE\nprod-node-10  BUILD\n',
    );
  });

  it('table: an object becomes KEY/VALUE rows with dotted keys', () => {
    assert.equal(renderResult({ a: 1, b: { c: 'x', d: [1, 2] } }, 'table'), 'KEY  VALUE\na    1\nb.c  x\nb.d  1, 2\n');
  });

  it('json and yaml parse back to the data, secrets redacted', () => {
    const data = { name: 'x', password: 'pw', nested: [{ token: 't' }] };
    const expect = { name: 'x', password: '<redacted>', nested: [{ token: '<redacted>' }] };
    assert.deepEqual(JSON.parse(renderResult(data, 'json')), expect);
    assert.deepEqual(load(renderResult(data, 'yaml')), expect);
    assert.ok(renderResult(data, 'yaml').endsWith('\n'));
  });
});

describe('createCliContext', () => {
  function fakeProc() {
    const handlers = new Map<string, () => void>();
    const exits: number[] = [];
    return {
      handlers,
      exits,
      on(ev: string, h: () => void) { handlers.set(ev, h); return this; },
      off(ev: string) { handlers.delete(ev); return this; },
      exit(code: number) { exits.push(code); },
    };
  }

  it('first Ctrl-C aborts the signal, the second exits 130', () => {
    const proc = fakeProc();
    const s = streams();
    const ctx = createCliContext({ format: 'table' }, { env: {}, proc: proc as never, io: { stdout: s.out, stderr: s.err } });
    assert.equal(ctx.signal.aborted, false);
    proc.handlers.get('SIGINT')!();
    assert.equal(ctx.signal.aborted, true);
    assert.ok(ctx.signal.reason instanceof InterruptedError);
    assert.match(s.err.text, /press Ctrl-C again/);
    assert.deepEqual(proc.exits, []);
    proc.handlers.get('SIGINT')!();
    assert.deepEqual(proc.exits, [130]);
    ctx.dispose();
    assert.equal(proc.handlers.size, 0);
  });

  it('SIGTERM stops in order like the first Ctrl-C; a second one exits 143', () => {
    const proc = fakeProc();
    const s = streams();
    const ctx = createCliContext({ format: 'table' }, { env: {}, proc: proc as never, io: { stdout: s.out, stderr: s.err } });
    proc.handlers.get('SIGTERM')!();
    assert.equal(ctx.signal.aborted, true);
    assert.ok(ctx.signal.reason instanceof InterruptedError);
    assert.match(s.err.text, /terminated \(SIGTERM\): stopping and cleaning up/);
    assert.deepEqual(proc.exits, []);
    proc.handlers.get('SIGTERM')!();
    assert.deepEqual(proc.exits, [143]);
    ctx.dispose();
    assert.equal(proc.handlers.size, 0);
  });

  it('maps -q/-v to verbosity and registers CLI secrets for redaction', () => {
    const s = streams();
    const ctx = createCliContext({ quiet: true, 'os-password': 'cli-password-1' }, { env: {}, proc: fakeProc() as never, io: { stdout: s.out, stderr: s.err } });
    assert.equal(ctx.io.verbosity, -1);
    ctx.io.log('warn', 'using cli-password-1');
    assert.equal(s.err.text, 'warning: using <redacted>\n');
    ctx.dispose();
    clearSecrets();
  });

  it('openstack() and kube() load their modules lazily, once', async () => {
    const ctx = createCliContext({}, { env: {}, proc: fakeProc() as never });
    const a = ctx.openstack();
    assert.equal(ctx.openstack(), a, 'memoised');
    await a.catch(() => undefined); // may fail while lib/openstack is being written; must not be sync
    const k = ctx.kube();
    assert.equal(ctx.kube(), k);
    await k.catch(() => undefined);
    ctx.dispose();
  });
});
