import assert from 'node:assert/strict';
import { formatError } from '../../lib/cli/errors.js';
import { main } from '../../lib/cli/main.js';
import { ConfigError, InterruptedError, KaddError, OperationError, PartialSuccessError, UsageError } from '../../lib/errors.js';
import { clearSecrets, registerSecret } from '../../lib/redact.js';

describe('error mapper', () => {
  afterEach(() => clearSecrets());

  it('KaddError: message, details, hint; its exit code; no stack', () => {
    const f = formatError(new ConfigError('cfg.yml: 2 problems', { details: ['a: x', 'b: y'], hint: 'fix them' }));
    assert.equal(f.exitCode, 2);
    assert.equal(f.text, 'error: cfg.yml: 2 problems\n  a: x\n  b: y\nhint: fix them\n');
  });

  it('exit codes follow the error class', () => {
    assert.equal(formatError(new UsageError('x')).exitCode, 2);
    assert.equal(formatError(new OperationError('E_X', 'x')).exitCode, 1);
    assert.equal(formatError(new PartialSuccessError('1 of 2 nodes added')).exitCode, 3);
    assert.equal(formatError(new InterruptedError()).exitCode, 130);
    assert.equal(formatError(new DOMException('aborted', 'AbortError')).exitCode, 130);
  });

  it('unknown errors: "unexpected", exit 1, stack only with --debug', () => {
    const e = new TypeError('cannot read x');
    const f = formatError(e);
    assert.equal(f.exitCode, 1);
    assert.equal(f.text, 'error: unexpected: cannot read x (run with --debug for the stack trace)\n');
    const d = formatError(e, { debug: true });
    assert.match(d.text, /^error: unexpected: cannot read x\nTypeError: cannot read x\n\s+at /);
  });

  it('unknown errors print one line even when the message spans several', () => {
    const f = formatError(new Error('bad indentation of a mapping entry (3:9)\n\n 2 | password: x\n 3 |   y: z\n-----^'));
    assert.equal(f.text, 'error: unexpected: bad indentation of a mapping entry (3:9) (run with --debug for the stack trace)\n');
  });

  it('--debug shows the cause chain', () => {
    const e = new KaddError('E_X', 'outer', 1, { cause: new Error('inner') });
    assert.match(formatError(e, { debug: true }).text, /caused by: Error: inner/);
  });

  it('redacts secrets from messages and traces', () => {
    registerSecret('hunter2-password');
    const f = formatError(new Error('login with hunter2-password failed; token abcdef.0123456789abcdef'), { debug: true });
    assert.doesNotMatch(f.text, /hunter2-password|0123456789abcdef/);
    assert.match(f.text, /<redacted>/);
  });

  it('colours "error:" only when asked', () => {
    assert.match(formatError(new UsageError('x'), { color: true }).text, /\x1b\[31merror:/);
    assert.doesNotMatch(formatError(new UsageError('x')).text, /\x1b/);
  });
});

describe('main() in process', () => {
  const run = async (argv: string[]) => {
    let out = '';
    let err = '';
    const code = await main(argv, { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, env: {} });
    return { code, out, err };
  };

  it('--help and -h: exit 0, help on stdout', async () => {
    for (const a of ['--help', '-h']) {
      const r = await run([a]);
      assert.equal(r.code, 0);
      assert.match(r.out, /^kadd <command> \[options\]/);
      assert.equal(r.err, '');
    }
  });

  it('no command: usage error, exit 2', async () => {
    const r = await run([]);
    assert.equal(r.code, 2);
    assert.equal(r.err, 'error: no command given\nhint: see kadd --help\n');
  });

  it('bad option value: one line, exit 2', async () => {
    const r = await run(['-f', 'xml', 'validate', 'x.yml']);
    assert.equal(r.code, 2);
    assert.equal(r.err.split('\n').length, 3); // error line, hint line, trailing newline
    assert.match(r.err, /^error: --format must be one of table, json, yaml, value; got "xml"\n/);
    assert.doesNotMatch(r.err, /Invalid values|Argument:/, 'no raw yargs message');
  });

  it('a missing positional names the command help', async () => {
    const r = await run(['validate']);
    assert.equal(r.code, 2);
    assert.match(r.err, /hint: see kadd validate --help/);
  });

  it('a config error from a command maps to exit 2 with no stack', async () => {
    const r = await run(['validate', '/nonexistent/cfg.yml']);
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /^error: cannot read cluster file \/nonexistent\/cfg.yml: no such file\nhint: check the path/);
    assert.doesNotMatch(r.err, /\n\s+at /);
  });
});
