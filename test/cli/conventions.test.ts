/**
 * Issue 12 point 7: openstack/kubectl conventions and kadd's own words for command-line mistakes.
 * In process (main()), no API: every case either fails at parsing (exit 2) or reaches the command.
 */
import assert from 'node:assert/strict';
import { main } from '../../lib/cli/main.js';
import { parseDurationMs } from '../../lib/duration.js';
import { closest } from '../../lib/cli/usage.js';

/** main() with process.stdout/stderr captured (yargs' help and the command's Io write to the process streams) */
async function run(args: string[]) {
  let out = '';
  let err = '';
  const ow = process.stdout.write.bind(process.stdout);
  const ew = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((c: string | Uint8Array) => ((out += String(c)), true)) as typeof process.stdout.write;
  process.stderr.write = ((c: string | Uint8Array) => ((err += String(c)), true)) as typeof process.stderr.write;
  try {
    const code = await main(args, { env: { ...process.env, NO_COLOR: '1' } });
    return { code, out, err };
  } finally {
    process.stdout.write = ow;
    process.stderr.write = ew;
  }
}

const GOOD = 'fixtures/config/good/minimal.yml';

describe('command-line conventions', function () {
  this.timeout(30_000);

  it('durations: 90s, 5m, 1h, 1h30m, plain seconds', () => {
    assert.equal(parseDurationMs('90s'), 90_000);
    assert.equal(parseDurationMs('5m'), 300_000);
    assert.equal(parseDurationMs('1h'), 3_600_000);
    assert.equal(parseDurationMs('1h30m'), 5_400_000);
    assert.equal(parseDurationMs('90'), 90_000);
    assert.equal(parseDurationMs('5 min'), undefined);
  });

  it('-o is an alias of -f; -f value and -c pick values (as openstack)', async () => {
    const j = await run(['validate', GOOD, '-o', 'json']);
    assert.equal(j.code, 0, j.err);
    assert.equal(typeof JSON.parse(j.out), 'object');
    const keys = Object.keys(JSON.parse(j.out));
    const v = await run(['validate', GOOD, '-f', 'value', '-c', keys[0]!]);
    assert.equal(v.code, 0, v.err);
    assert.equal(v.out.trim().split('\n').length, 1);
    assert.doesNotMatch(v.out, /KEY|VALUE/, 'no headers with -f value');
    const bad = await run(['validate', GOOD, '-c', 'no-such-column']);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /unknown column "no-such-column"\nhint: columns: /);
  });

  it('a misspelt flag gets a did-you-mean; a misspelt value too', async () => {
    const r = await run(['add', '--amout', '3', 'cfg.yml']);
    assert.equal(r.code, 2);
    assert.equal(r.err, 'error: unknown option --amout\nhint: did you mean --amount? (kadd add --help)\n');
    const f = await run(['validate', GOOD, '-f', 'jsn']);
    assert.equal(f.code, 2);
    assert.match(f.err, /hint: did you mean --format json\?/);
    assert.equal(closest('dryrun', ['dry-run', 'role']), 'dry-run');
  });

  it('none of yargs\' raw messages reaches the user; numbers echo what was typed', async () => {
    const cases: [string[], RegExp][] = [
      [['add'], /^error: missing <config> \(usage: kadd add <config>\)\n/],
      [['add', '--role', 'x', 'c.yml'], /^error: --role must be one of node, master; got "x"\n/],
      [['add', '--amount', 'abc', 'c.yml'], /^error: --amount must be a number, got "abc"\n/],
      [['status', 'a.yml', 'b.yml'], /^error: unexpected argument "b.yml" \(usage: kadd status <config>\)\n/],
      [['add', '--timeout', 'soon', 'c.yml'], /^error: --timeout must be a positive duration, got "soon"\n/],
      [['add', '--resume', '--cleanup', 'c.yml'], /^error: --resume and --cleanup cannot be used together\n/],
    ];
    for (const [args, re] of cases) {
      const r = await run(args);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.err, re, args.join(' '));
      assert.doesNotMatch(r.err, /Not enough non-option|Invalid values|Argument:|NaN|Unknown argument/, args.join(' '));
    }
  });

  it('`kadd add -f cfg.yml`: says the file is positional', async () => {
    const r = await run(['add', '-f', 'cfg.yml']);
    assert.equal(r.code, 2);
    assert.match(r.err, /-f is the output format .*not the cluster file\nhint: the cluster file is positional: kadd add cfg\.yml\n/);
  });

  it('--role worker is node; --timeout 5m is 300 s (the command runs: here it stops at the missing file)', async () => {
    const r = await run(['add', '--role', 'worker', '--timeout', '5m', '--boot-timeout', '90s', 'missing.yml']);
    assert.equal(r.code, 2);
    assert.match(r.err, /cannot read cluster file missing\.yml/, 'parsing passed: the command ran');
  });

  it('help: `kadd help` = `kadd --help`; a command\'s own options first, globals after, exit codes on mutating commands', async () => {
    const a = await run(['help']);
    const b = await run(['--help']);
    assert.equal(a.out, b.out);
    assert.match(b.out, /\nExamples:\n/);
    const add = await run(['add', '--help']);
    assert.equal(add.code, 0);
    const own = add.out.indexOf('\nOptions:\n');
    const global = add.out.indexOf('\nGlobal, ');
    assert.ok(own > 0 && global > own, 'Options: before the global groups');
    assert.match(add.out, /Exit codes:\n {2}0 {4}success/);
    assert.match(add.out, /--version +show the version number/);
    assert.equal((await run(['help', 'add'])).out, add.out);
  });
});
