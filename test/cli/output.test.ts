import assert from 'node:assert/strict';
import { dump, load } from 'js-yaml';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TerminalIo, colorEnabled, renderResult } from '../../lib/cli/output.js';
import { createCliContext } from '../../lib/cli/context.js';
import { InterruptedError } from '../../lib/errors.js';
import { fake } from '../helpers/fake.js';
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

  it('heartbeat: a line unchanged for the period is repeated as "still ..." with its budget (plain mode)', () => {
    const s = streams();
    let t = T0;
    const io = new TerminalIo({ ...wire(s), env: {}, now: () => t, heartbeatMs: 60_000 });
    const a = io.progress('demo-node-7', 'waiting for the Node to join', { budgetMs: 20 * 60_000 });
    io.progress('demo-node-8', 'server BUILD');
    t += 30_000;
    io.tick();
    assert.doesNotMatch(s.err.text, /still/, 'nothing before the period');
    t += 5 * 60_000 - 30_000;
    io.tick();
    assert.match(s.err.text, /demo-node-7: still waiting for the Node to join \(5m of 20m\)\n/);
    assert.match(s.err.text, /demo-node-8: still server BUILD \(for 5m\)\n/);
    const before = s.err.text.length;
    t += 10_000;
    io.tick();
    assert.equal(s.err.text.length, before, 'at most once per period');
    a.succeed('Ready');
    io.stop();
  });

  it('heartbeat with -q: one summary line at a low rate, nothing else', () => {
    const s = streams();
    let t = T0;
    const io = new TerminalIo({ ...wire(s), env: {}, now: () => t, verbosity: -1, quietHeartbeatMs: 300_000 });
    io.progress('n1', 'waiting for the Node to join').succeed('Ready');
    io.progress('n2', 'waiting for the Node to join', { budgetMs: 1_200_000 });
    t += 60_000;
    io.tick();
    assert.equal(s.err.text, '');
    t += 240_000;
    io.tick();
    assert.equal(s.err.text, '03:09:05Z still working (5m): 1/2 done; n2: waiting for the Node to join (5m of 20m)\n');
    io.stop();
  });

  it('heartbeat off a TTY covers open lifecycle stages: a silent join gets "still running after", a closed one nothing', () => {
    const s = streams();
    let t = T0;
    const io = new TerminalIo({ ...wire(s), env: {}, now: () => t, heartbeatMs: 60_000 });
    const ev = (node: string, stage: string, state: 'start' | 'done' | 'failed' | 'skipped' | 'wait', detail?: string) =>
      io.stage({ node, stage, state, elapsedMs: 0, ...(detail ? { detail } : {}) });
    ev('demo-node-2', 'add', 'start', 'flavor m1');
    ev('demo-node-2', 'server', 'start');
    ev('demo-node-2', 'server', 'done');
    ev('demo-node-2', 'join', 'start', 'up to 1200s');
    ev('demo-node-3', 'add', 'start');
    ev('demo-node-3', 'join', 'start');
    ev('demo-node-3', 'join', 'done', 'Node Ready');
    ev('demo-node-3', 'add', 'done');
    const events = s.err.text;
    t += 30_000;
    io.tick();
    assert.equal(s.err.text, events, 'nothing before the period');
    t += 30_000;
    io.tick();
    assert.equal(s.err.text.slice(events.length), '03:05:05Z demo-node-2: join still running after 1m: up to 1200s\n', 'one line, for the open stage only');
    const once = s.err.text;
    t += 10_000;
    io.tick();
    assert.equal(s.err.text, once, 'at most once per period');
    ev('demo-node-2', 'join', 'wait', 'Node NotReady');
    t += 60_000;
    io.tick();
    assert.match(s.err.text, /03:06:15Z demo-node-2: join still waiting after 2m10s: Node NotReady\n$/, 'a wait keeps the stage\'s start time and its last detail');
    ev('demo-node-2', 'join', 'done', 'Node Ready');
    ev('demo-node-2', 'add', 'done');
    const closed = s.err.text;
    t += 5 * 60_000;
    io.tick();
    assert.equal(s.err.text, closed, 'no heartbeat for a closed stage');
    assert.equal(s.out.text, '', 'nothing on stdout');
    io.stop();
  });

  it('heartbeat off a TTY: a stage whose node has a progress line of its own open is not repeated twice; -q summarises open stages', () => {
    const s = streams();
    let t = T0;
    const io = new TerminalIo({ ...wire(s), env: {}, now: () => t, heartbeatMs: 60_000 });
    io.stage({ node: 'demo-master-2', stage: 'add', state: 'start', elapsedMs: 0 });
    io.stage({ node: 'demo-master-2', stage: 'registered', state: 'start', elapsedMs: 0, detail: 'Node registered' });
    const line = io.progress('demo-master-2:registered', 'demo-master-2: waiting for Node registered');
    t += 60_000;
    io.tick();
    assert.equal(s.err.text.match(/still/g)?.length, 1, s.err.text);
    assert.match(s.err.text, /demo-master-2:registered: still demo-master-2: waiting for Node registered \(for 1m\)\n$/);
    line.succeed('registered');
    t += 60_000;
    io.tick();
    assert.match(s.err.text, /demo-master-2: registered still running after 2m: Node registered\n$/, 'the stage beats once the progress line closed');
    io.stage({ node: 'demo-node-3', stage: 'remove', state: 'start', elapsedMs: 0 });
    io.stage({ node: 'demo-node-3', stage: 'drain', state: 'start', elapsedMs: 0 });
    io.progress('drain:demo-node-3', 'demo-node-3: draining');
    const before = s.err.text;
    t += 60_000;
    io.tick();
    assert.doesNotMatch(s.err.text.slice(before.length), /demo-node-3: drain still/, 'remove\'s drain line beats for it');
    assert.match(s.err.text.slice(before.length), /drain:demo-node-3: still demo-node-3: draining \(for 1m\)/);
    io.stop();

    const q = streams();
    t = T0;
    const quiet = new TerminalIo({ ...wire(q), env: {}, now: () => t, verbosity: -1, quietHeartbeatMs: 300_000 });
    quiet.stage({ node: 'demo-node-2', stage: 'add', state: 'start', elapsedMs: 0 });
    quiet.stage({ node: 'demo-node-2', stage: 'join', state: 'start', elapsedMs: 0, detail: 'up to 1200s' });
    t += 60_000;
    quiet.tick();
    assert.equal(q.err.text, '', '-q: no stage lines, no per-minute heartbeat');
    t += 240_000;
    quiet.tick();
    assert.equal(q.err.text, '03:09:05Z still working (5m): 0/1 done; demo-node-2: join running after 5m: up to 1200s\n');
    assert.equal(q.out.text, '');
    quiet.stop();
  });

  it('heartbeat on stage lines never prints a registered secret', () => {
    const s = streams();
    let t = T0;
    registerSecret('abcdef.0123456789abcdef');
    const io = new TerminalIo({ ...wire(s), env: {}, now: () => t, heartbeatMs: 1000 });
    io.stage({ node: 'demo-node-2', stage: 'add', state: 'start', elapsedMs: 0 });
    io.stage({ node: 'demo-node-2', stage: 'join', state: 'start', elapsedMs: 0, detail: 'token abcdef.0123456789abcdef' });
    t += 1000;
    io.tick();
    assert.match(s.err.text, /join still running after 1s: token /);
    assert.doesNotMatch(s.err.text, /0123456789abcdef/);
    io.stop();
  });

  it('spinner board: "k/n done" and the elapsed time', async () => {
    const s = streams(true);
    let t = T0;
    const io = new TerminalIo({ ...wire(s), env: {}, color: false, now: () => t });
    const a = io.progress('n1', 'booting');
    io.progress('n2', 'booting');
    await io.settle();
    a.succeed('Ready');
    t += 75_000;
    io.tick();
    io.stop();
    assert.match(s.err.text, /1\/2 done, 1m15s\n.*n2: booting/);
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
    // not a TTY: confirm answers the default without reading (any read would throw: the fake has no stubs)
    const notTty = fake<NodeJS.ReadableStream & { isTTY?: boolean }>({ isTTY: false }, 'stdin');
    assert.equal(await new TerminalIo({ stdout: s.out, stderr: s.err, env: {}, yes: true }).confirm('go?', false), true);
    assert.equal(await new TerminalIo({ stdout: s.out, stderr: s.err, env: {}, stdin: notTty }).confirm('go?', false), false);
    assert.equal(await new TerminalIo({ stdout: s.out, stderr: s.err, env: {}, stdin: notTty }).confirm('go?', true), true);
  });
});

describe('TerminalIo.confirm on a terminal', () => {
  it('shows the choice once, whether or not the question carries it', async () => {
    const { PassThrough } = await import('node:stream');
    for (const q of ['resume it? [y/N]', 'resume it?']) {
      const s = streams();
      const stdin = Object.assign(new PassThrough(), { isTTY: true }) as unknown as NodeJS.ReadStream;
      const io = new TerminalIo({ stdout: s.out, stderr: s.err, env: {}, stdin });
      const answer = io.confirm(q, false);
      setTimeout(() => stdin.write('y\n'), 20);
      assert.equal(await answer, true);
      assert.equal(s.err.text.match(/\[y\/N\]/g)?.length, 1, s.err.text);
      assert.match(s.err.text, /^resume it\? \[y\/N\] /);
    }
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
    const ctx = createCliContext({ format: 'table' }, { env: {}, proc, io: { stdout: s.out, stderr: s.err } });
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

  it('a second Ctrl-C during the rollback says what is left and how to finish, then exits 130 (13.13)', () => {
    const proc = fakeProc();
    const s = streams();
    const ctx = createCliContext({ format: 'table' }, { env: {}, proc, io: { stdout: s.out, stderr: s.err } });
    const off = ctx.onHardStop!(() => 'stopped before the rollback finished; what is left is recorded in /x/.cfg.yml.kadd-journal.jsonl; `kadd add --cleanup cfg.yml` deletes it');
    const gone = ctx.onHardStop!(() => 'an unregistered line');
    gone();
    proc.handlers.get('SIGINT')!();
    assert.doesNotMatch(s.err.text, /rollback finished/, 'the first Ctrl-C starts the rollback; nothing is left yet');
    proc.handlers.get('SIGINT')!();
    assert.match(s.err.text, /what is left is recorded in \/x\/\.cfg\.yml\.kadd-journal\.jsonl; `kadd add --cleanup cfg\.yml` deletes it/);
    assert.doesNotMatch(s.err.text, /unregistered/);
    assert.deepEqual(proc.exits, [130]);
    off();
    ctx.dispose();
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
    const ctx = createCliContext({ quiet: true, 'os-password': 'cli-password-1' }, { env: {}, proc: fakeProc(), io: { stdout: s.out, stderr: s.err } });
    assert.equal(ctx.io.verbosity, -1);
    ctx.io.log('warn', 'using cli-password-1');
    assert.equal(s.err.text, 'warning: using <redacted>\n');
    ctx.dispose();
    clearSecrets();
  });

  it('openstack() and kube() load their modules lazily, once', async () => {
    const ctx = createCliContext({}, { env: {}, proc: fakeProc() });
    const a = ctx.openstack();
    assert.equal(ctx.openstack(), a, 'memoised');
    await a.catch(() => undefined); // may fail while lib/openstack is being written; must not be sync
    const k = ctx.kube();
    assert.equal(ctx.kube(), k);
    await k.catch(() => undefined);
    ctx.dispose();
  });

  // issue 14: @kubernetes/client-node is 0.5-2 s of CPU to import; started with kube() it delayed the
  // Keystone POST by as much. It must start once the authentication has left (and run while Keystone answers).
  it('the Kubernetes client import starts after the Keystone request has left, not with kube()', async () => {
    const events: string[] = [];
    let answer: (() => void) | undefined;
    const server = createServer((req, res) => {
      req.resume();
      events.push(`${req.method} ${req.url}`);
      answer = () => res.writeHead(401, { 'Content-Type': 'application/json' }).end('{"error":{"code":401}}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const dir = mkdtempSync(join(tmpdir(), 'kadd-ctx-'));
    try {
      const port = (server.address() as AddressInfo).port;
      const auth = { auth_url: `http://127.0.0.1:${port}/v3`, username: 'u', password: 'pw-prefetch', project_name: 'p', user_domain_name: 'Default', project_domain_name: 'Default' };
      writeFileSync(join(dir, 'clouds.yaml'), dump({ clouds: { solo: { auth } } }));
      const kc = { apiVersion: 'v1', kind: 'Config', 'current-context': 'c', contexts: [{ name: 'c', context: { cluster: 'k', user: 'u' } }], clusters: [{ name: 'k', cluster: { server: 'https://127.0.0.1:1' } }], users: [{ name: 'u', user: { token: 't' } }] };
      writeFileSync(join(dir, 'kubeconfig'), dump(kc));
      const s = streams();
      const ctx = createCliContext({ kubeconfig: join(dir, 'kubeconfig') }, { env: {}, cwd: dir, proc: fakeProc(), io: { stdout: s.out, stderr: s.err }, prefetchKube: () => events.push('prefetch') });
      // what connect does: the kubeconfig validated first, then the OpenStack client and its authentication
      await ctx.kube();
      const os = await ctx.openstack();
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(events, [], 'nothing loaded before the authentication is on its way');
      const auth1 = os.projectId().catch((e: Error) => e);
      while (!answer) await new Promise((r) => setTimeout(r, 5));
      assert.deepEqual(events, ['prefetch', 'POST /v3/auth/tokens'], 'the import starts once the POST has left, while Keystone answers');
      answer();
      assert.ok((await auth1) instanceof Error);
      assert.deepEqual(events, ['prefetch', 'POST /v3/auth/tokens'], 'once');
      ctx.dispose();
      // a command that never asks for the OpenStack client loads it at once
      const alone: string[] = [];
      const ctx2 = createCliContext({ kubeconfig: join(dir, 'kubeconfig') }, { env: {}, cwd: dir, proc: fakeProc(), io: { stdout: s.out, stderr: s.err }, prefetchKube: () => alone.push('prefetch') });
      await ctx2.kube();
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(alone, ['prefetch']);
      ctx2.dispose();
    } finally {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("openstack() reports the cloud resolver's notices on stderr (lib/openstack does not print)", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kadd-ctx-'));
    try {
      writeFileSync(join(dir, 'ca.pem'), 'x');
      const auth = { auth_url: 'https://s/v3', username: 'u', password: 'pw-abcdef', project_id: 'p', user_domain_id: 'd' };
      writeFileSync(join(dir, 'clouds.yaml'), dump({ clouds: { solo: { verify: false, cacert: 'ca.pem', auth } } }));
      const s = streams();
      const ctx = createCliContext({}, { env: {}, cwd: dir, proc: fakeProc(), io: { stdout: s.out, stderr: s.err } });
      await ctx.openstack();
      ctx.dispose();
      assert.equal(s.out.text, '');
      assert.equal(
        s.err.text,
        `using cloud 'solo', the only one in ./clouds.yaml\nwarning: cloud 'solo': TLS verification is off, so cacert ${join(dir, 'ca.pem')} is not used\n`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
