/**
 * Issue 12 point 10: completion of each subcommand's flags and values, bash and zsh, driven through the
 * real shells with the scripts `kadd completion bash|zsh` prints (a `kadd` shim on PATH runs bin/kadd.js).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, clusterFile } from '../helpers/kadd-sim.js';

const have = (sh: string) => spawnSync(sh, ['-c', 'exit 0']).status === 0;

describe('shell completion (bash and zsh)', function () {
  this.timeout(120_000);
  let dir: string;
  let env: NodeJS.ProcessEnv;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'kadd-compl-'));
    writeFileSync(join(dir, 'kadd'), `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`);
    chmodSync(join(dir, 'kadd'), 0o755);
    writeFileSync(join(dir, 'cfg.yml'), clusterFile({ cluster: 'prod', masters: 3, nodes: 2, k8s: '1.30.2', zones: ['az1', 'az2'] }));
    env = { ...process.env, KADD_DEV: '1', PATH: `${dir}:${process.env.PATH}` };
    delete env.NODE_OPTIONS;
    for (const sh of ['bash', 'zsh']) {
      const r = spawnSync(process.execPath, [BIN, 'completion', sh], { env, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      writeFileSync(join(dir, `kadd.${sh}`), r.stdout);
    }
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** bash: the words of the line so far (the last one is the word being completed) -> COMPREPLY */
  function bash(...words: string[]): string[] {
    const line = ['kadd', ...words];
    const script = `source ./kadd.bash; COMP_WORDS=(${line.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${line.length - 1}; _kadd_completions; printf '%s\\n' "\${COMPREPLY[@]}"`;
    const r = spawnSync('bash', ['-c', script], { cwd: dir, env, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.split('\n').filter(Boolean);
  }

  /** zsh: the same through the zsh function, with compadd/_files/compdef recorded */
  function zsh(...words: string[]): string[] {
    const line = ['kadd', ...words];
    const script = [
      'compdef() { :; }',
      'compadd() { [[ $1 == -- ]] && shift; printf "%s\\n" "$@"; }',
      '_files() { print -- FILES; }',
      'source ./kadd.zsh',
      `words=(${line.map((w) => `'${w}'`).join(' ')}); CURRENT=${line.length}`,
      '_kadd',
    ].join('\n');
    const r = spawnSync('zsh', ['-f', '-c', script], { cwd: dir, env, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.split('\n').filter(Boolean);
  }

  const cases: [string[], (got: string[]) => void][] = [
    [['st'], (g) => assert.deepEqual(g, ['status'])],
    [['add', '--ro'], (g) => assert.deepEqual(g, ['--role'])],
    [['add', '--role', ''], (g) => assert.deepEqual(g, ['master', 'node', 'worker'])],
    [['add', '--dry'], (g) => assert.deepEqual(g, ['--dry-run'])],
    [['add', '--no-w'], (g) => assert.deepEqual(g, ['--no-wait'])],
    [['add', 'cfg.yml', '--zone', ''], (g) => assert.deepEqual(g, ['az1', 'az2'])],
    [['add', '--amount', ''], (g) => assert.ok(g.includes('3'), g.join(' '))],
    [['status', 'cfg.yml', '-f', ''], (g) => assert.deepEqual(g, ['json', 'table', 'value', 'yaml'])],
    [['logs', 'cfg.yml', 'prod-n'], (g) => assert.deepEqual(g, ['prod-node-1', 'prod-node-2'])],
    [['logs', 'cfg.yml', 'prod-m'], (g) => assert.deepEqual(g, ['prod-master-1', 'prod-master-2', 'prod-master-3'])],
    [['logs', '--fol'], (g) => assert.deepEqual(g, ['--follow'])],
    [['completion', ''], (g) => assert.deepEqual(g, ['bash', 'zsh'])],
    [['remove', 'cfg.yml', '--force-u'], (g) => assert.deepEqual(g, ['--force-unlock'])],
    [['cleanup', '--force-u'], (g) => assert.deepEqual(g, ['--force-unlock'])],
  ];

  (have('bash') ? it : it.skip)('bash completes commands, flags and their values', () => {
    for (const [words, check] of cases) check(bash(...words));
    assert.ok(bash('add', 'cf').includes('cfg.yml'), 'files for the cluster file');
  });

  (have('zsh') ? it : it.skip)('zsh completes commands, flags and their values', () => {
    // a subset (each case starts kadd through tsx: seconds on a busy machine); the script logic is the same
    for (const i of [1, 2, 5, 8]) {
      const [words, check] = cases[i]!;
      check(zsh(...words).filter((x) => x.startsWith(words[words.length - 1]!)));
    }
    assert.deepEqual(zsh('add', 'cf'), ['FILES'], 'files for the cluster file');
  });

  it('`kadd completion --help` is help, and an unknown shell is refused (exit 2)', () => {
    const h = spawnSync(process.execPath, [BIN, 'completion', '--help'], { env, encoding: 'utf8' });
    assert.equal(h.status, 0);
    assert.match(h.stdout, /^kadd completion \[bash\|zsh\]/);
    assert.doesNotMatch(h.stdout, /###-begin/);
    const f = spawnSync(process.execPath, [BIN, 'completion', 'fish'], { env, encoding: 'utf8' });
    assert.equal(f.status, 2);
    assert.match(f.stderr, /bash and zsh/);
  });
});
