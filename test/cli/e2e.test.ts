/** End-to-end: spawn `node bin/kadd.js` (sources through tsx, KADD_DEV=1) and check streams and exit codes. */
import assert from 'node:assert/strict';
import { commands } from '../../lib/commands/index.js';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');
const bin = join(root, 'bin', 'kadd.js');

function kadd(args: string[], extraEnv: Record<string, string> = {}, nodeArgs: string[] = []) {
  const env: NodeJS.ProcessEnv = { ...process.env, KADD_DEV: '1', NO_COLOR: '1', ...extraEnv };
  delete env.NODE_OPTIONS;
  const r = spawnSync(process.execPath, [...nodeArgs, bin, ...args], { cwd: root, env, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('kadd (end to end)', function () {
  this.timeout(30000);

  it('--help lists the commands from the registry, exit 0, stdout only', () => {
    const r = kadd(['--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /kadd validate <config>\s+check a cluster file offline/);
    assert.match(r.stdout, /--os-cloud/);
    assert.match(r.stdout, /--no-color/);
    assert.equal(r.stderr, '');
  });

  it('--version prints the package version', () => {
    const r = kadd(['--version']);
    assert.equal(r.code, 0);
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    assert.equal(r.stdout.trim(), pkg.version);
  });

  it('--help and --version load no heavy module', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kadd-trace-'));
    try {
      for (const args of [['--help'], ['--version']]) {
        const file = join(dir, `${args[0]}.txt`);
        const r = kadd(args, { TRACE_IMPORTS_FILE: file }, ['--import', join(root, 'test/cli/fixtures/trace-imports.mjs')]);
        assert.equal(r.code, 0, r.stderr);
        const urls = readFileSync(file, 'utf8');
        assert.match(urls, /lib\/cli\/main\.ts/, 'the trace saw kadd load');
        assert.doesNotMatch(urls, /node_modules\/(ora|handlebars|ssh2|@kubernetes\/client-node|undici|js-yaml|yargs)\//, `${args[0]} loaded a heavy module`);
        assert.doesNotMatch(urls, /lib\/commands\/validate/, 'command modules are not imported for --help');
      }
      // the trace does see them when a command needs them (so the check above can fail)
      const file = join(dir, 'validate.txt');
      kadd(['validate', 'fixtures/config/good/minimal.yml'], { TRACE_IMPORTS_FILE: file }, ['--import', join(root, 'test/cli/fixtures/trace-imports.mjs')]);
      const urls = readFileSync(file, 'utf8');
      assert.match(urls, /node_modules\/yargs\//);
      assert.match(urls, /node_modules\/js-yaml\//);
      assert.match(urls, /lib\/commands\/validate/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an unknown command is a usage error: one line, a hint, exit 2', () => {
    const r = kadd(['frobnicate']);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    const names = Object.keys(commands).join(', ');
    assert.equal(r.stderr, `error: unknown command "frobnicate" (commands: ${names})\nhint: see kadd --help\n`);
  });

  it('a misspelt command gets a suggestion', () => {
    const r = kadd(['valdate', 'x.yml']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /did you mean validate\?/);
  });

  it('an unknown option is a usage error naming the command help', () => {
    const r = kadd(['validate', 'x.yml', '--frob']);
    assert.equal(r.code, 2);
    // kadd's words, not yargs' ("Unknown argument: frob"); no close flag, so the hint is the help
    assert.match(r.stderr, /^error: unknown option --frob\nhint: see kadd validate --help\n$/);
  });

  it('validate on a good file: result on stdout, warnings and summary on stderr, exit 0', () => {
    const r = kadd(['validate', 'fixtures/config/good/koris-example.yml', '-f', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const data = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.equal(data['cluster-name'], 'kiosk-cluster');
    assert.deepEqual(data['availability-zones'], ['de-nbg6-1b', 'de-nbg6-1a']);
    assert.equal(data.volume_size, 25);
    assert.match(r.stderr, /warning: .*user_data/);
    assert.match(r.stderr, /valid \(cluster kiosk-cluster: 3 masters, 3 workers/);
  });

  it('validate -q hides the summary but keeps warnings', () => {
    const r = kadd(['-q', 'validate', 'fixtures/config/good/koris-example.yml', '-f', 'yaml']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^cluster-name: kiosk-cluster$/m);
    assert.match(r.stderr, /warning:/);
    assert.doesNotMatch(r.stderr, /valid \(/);
  });

  it('validate on a bad file: every problem listed, exit 2, no stack', () => {
    const r = kadd(['validate', 'fixtures/config/bad/many-problems.yml']);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^error: fixtures\/config\/bad\/many-problems.yml: 4 problems\n/);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('  '));
    assert.equal(lines.filter((l) => !l.startsWith('  warning: ')).length, 4);
    // warnings are listed with the errors (a misspelt key often explains an error)
    assert.deepEqual(lines.filter((l) => l.startsWith('  warning: ')).map((l) => l.replace(/^.*?: version/, 'version').slice(0, 24)), ['version: version.k8s is ']);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });

  it('validate --strict turns unknown keys into errors', () => {
    const file = 'fixtures/config/bad/unknown-key.strict.yml';
    assert.equal(kadd(['validate', file]).code, 0);
    const r = kadd(['validate', file, '--strict']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /clustr-label: unknown key; did you mean cluster-name\?/);
  });
});
