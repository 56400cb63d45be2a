/**
 * The layering rules of design.md section 1, checked on the real tree (lib, test, scripts, bin):
 *   - test/sim imports nothing from lib/ (not even through another file);
 *   - a client directory (lib/openstack, kube, etcd, ssh, config, cloudinit, journal) never reaches lib/ops,
 *     lib/commands or lib/cli, and never talks to the user (io.log/progress/result/confirm, console.*);
 *   - the client directories and the lib/ kernel import each other in one direction only (no directory cycle);
 *   - no import cycle between files, type-only and lazy import() edges included.
 * The second half runs the same checker on small synthetic file sets, so each rule is shown to fail.
 * Standalone and fast: `mocha --no-config --node-option import=tsx test/architecture.test.ts`.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  applyAllowList,
  checkArchitecture,
  formatViolation,
  readTree,
  scanImports,
  scanPrints,
  tokenize,
  type AllowEntry,
  type FileSet,
  type Rule,
  type Violation,
} from './helpers/architecture.js';

const ROOT = join(import.meta.dirname, '..');

/**
 * Known violations, each with the issue that removes it. An entry that matches nothing fails the test, so the
 * list cannot outlive the code it excuses.
 */
const ALLOWED: AllowEntry[] = [];

const rulesOf = (v: Violation[]): Rule[] => [...new Set(v.map((x) => x.rule))].sort();

describe('architecture', function () {
  // the lead's hook runs this file with --no-config (mocha's default timeout is 2 s); a loaded machine needs more
  this.timeout(60_000);

  describe('the tree', () => {
    let files: FileSet;
    let violations: Violation[];
    before(() => {
      files = readTree(ROOT, ['lib', 'test', 'scripts', 'bin']);
      violations = checkArchitecture(files);
    });

    it('keeps the layering rules (only the allow-listed exceptions)', () => {
      const { failures } = applyAllowList(violations, ALLOWED);
      assert.deepEqual(failures.map(formatViolation), []);
    });

    it('has no stale allow-list entry', () => {
      const { stale } = applyAllowList(violations, ALLOWED);
      assert.deepEqual(
        stale.map((a) => `${a.rule} ${a.file} matches nothing: remove it from ALLOWED (${a.reason})`),
        [],
      );
    });

    it('reads the whole tree (the checker sees lib, the simulator and the tests)', () => {
      const paths = Object.keys(files);
      for (const f of ['lib/cli/main.ts', 'lib/openstack/client.ts', 'test/sim/index.ts', 'bin/kadd.js']) {
        assert.ok(paths.includes(f), f);
      }
      assert.ok(paths.length > 150, `only ${paths.length} files`);
    });
  });

  describe('the checker (each rule can fail)', () => {
    const clean: FileSet = {
      'lib/errors.ts': `export class KaddError extends Error {}`,
      'lib/io.ts': `export interface Io { log(l: string, m: string): void; trace(m: string): void }`,
      'lib/shell.ts': `export const shellQuote = (s: string) => s;`,
      'lib/openstack/types.ts': `export interface ServiceCaller { call(): void }`,
      'lib/openstack/client.ts': `import type { ServiceCaller } from './types.js';\nimport { Compute } from './compute.js';\nexport const c = new Compute();`,
      'lib/openstack/compute.ts': `import type { ServiceCaller } from './types.js';\nexport class Compute {}`,
      'lib/etcd/etcdctl.ts': `import { shellQuote } from '../shell.js';\nexport function f(io: { trace(m: string): void }) { io.trace('x'); }`,
      'lib/ssh/runner.ts': `import { shellQuote } from '../shell.js';\nimport { KaddError } from '../errors.js';`,
      'lib/ops/add.ts': `import { c } from '../openstack/client.js';\nexport function run(ctx: { io: { log(l: string, m: string): void } }) { ctx.io.log('info', 'hi'); console.log('x'); }`,
      'lib/commands/add.ts': `import { run } from '../ops/add.js';`,
      'lib/cli/main.ts': `export async function main() { await import('../commands/add.js'); }`,
      'test/sim/index.ts': `import { store } from './store.js';\nimport http from 'node:http';`,
      'test/sim/store.ts': `export const store = {};\n// import { x } from '../../lib/errors.js'\nconst s = "import { y } from '../../lib/io.js'";`,
      'test/ops/add.test.ts': `import { run } from '../../lib/ops/add.js';\nimport { startSim } from '../sim/index.js';`,
    };
    const withFiles = (extra: FileSet): Violation[] => checkArchitecture({ ...clean, ...extra });

    it('passes a clean tree (comments and strings that look like imports or prints do not count)', () => {
      assert.deepEqual(checkArchitecture(clean).map(formatViolation), []);
    });

    it('sim-imports-lib: directly, type-only, and through a helper outside test/sim', () => {
      const direct = withFiles({ 'test/sim/store.ts': `import { KaddError } from '../../lib/errors.js';` });
      assert.deepEqual(rulesOf(direct), ['sim-imports-lib']);
      // store.ts, and index.ts, which reaches lib/ through store.ts
      assert.deepEqual(direct.map((x) => x.file), ['test/sim/index.ts', 'test/sim/store.ts']);
      assert.match(formatViolation(direct[1]), /^sim-imports-lib: test\/sim\/store\.ts:1: .*: test\/sim\/store\.ts:1 -> lib\/errors\.ts$/);
      assert.match(direct[0].message, /test\/sim\/index\.ts:1 -> test\/sim\/store\.ts:1 -> lib\/errors\.ts$/);
      const typeOnly = withFiles({ 'test/sim/store.ts': `import type { Io } from '../../lib/io.js';` });
      assert.deepEqual(rulesOf(typeOnly), ['sim-imports-lib']);
      const through = withFiles({
        'test/sim/store.ts': `export { h } from '../helpers/h.js';`,
        'test/helpers/h.ts': `export { shellQuote as h } from '../../lib/shell.js';`,
      });
      assert.deepEqual(rulesOf(through), ['sim-imports-lib']);
      assert.match(through[0].message, /test\/helpers\/h\.ts:1 -> lib\/shell\.ts/);
    });

    it('client-imports-upper: every client directory, ops/commands/cli, direct or through the kernel', () => {
      for (const dir of ['openstack', 'kube', 'etcd', 'ssh', 'config', 'cloudinit', 'journal']) {
        for (const up of ['ops/add.js', 'commands/add.js', 'cli/main.js']) {
          const v = withFiles({ [`lib/${dir}/x.ts`]: `import type { T } from '../${up}';` });
          assert.deepEqual(rulesOf(v), ['client-imports-upper'], `${dir} -> ${up}`);
        }
      }
      const lazy = withFiles({ 'lib/ssh/runner.ts': `export async function f() { return import('../ops/add.js'); }` });
      assert.deepEqual(rulesOf(lazy), ['client-imports-upper']);
      const viaKernel = withFiles({
        'lib/errors.ts': `import { run } from './ops/add.js';\nexport class KaddError extends Error {}`,
      });
      assert.ok(viaKernel.some((x) => x.rule === 'client-imports-upper' && x.file === 'lib/ssh/runner.ts'));
      // ops, commands and cli themselves may import upward-free clients and each other
      assert.deepEqual(withFiles({ 'lib/ops/x.ts': `import { run } from './add.js';` }), []);
    });

    it('client-prints: io.log (also ctx.io?.log), io.progress/result/confirm, console.*, process.stderr.write', () => {
      const bodies = [
        `export function f(io: any) { io.log('info', 'x'); }`,
        `export function f(o: any) { o.io?.log('warn', 'x'); }`,
        `export function f(ctx: any) { ctx.io.progress('k', 'x').update('y'); }`,
        `export function f(ctx: any) { ctx.io.result('x'); }`,
        `export async function f(ctx: any) { await ctx.io.confirm('sure?', false); }`,
        'export function f() { console.error(`x ${1}`); }',
        `export function f() { process.stderr.write('x'); }`,
      ];
      for (const body of bodies) {
        const v = withFiles({ 'lib/kube/x.ts': body });
        assert.deepEqual(rulesOf(v), ['client-prints'], body);
        assert.equal(v[0].line, 1);
      }
      // a trace, a comment and a string are not prints; neither is a print outside the client directories
      assert.deepEqual(
        withFiles({
          'lib/kube/x.ts': `export function f(io: any) {\n  io.trace('GET /');\n  // io.log('info', 'x')\n  return "console.log('x')" + \`io.log(\${1})\`;\n}`,
        }),
        [],
      );
    });

    it('client-dir-cycle: two client directories (or a client and the kernel) importing each other', () => {
      const v = withFiles({
        'lib/etcd/types.ts': `export interface Transport { exec(): void }`,
        'lib/etcd/etcdctl.ts': `import { shellQuote } from '../ssh/quote.js';`,
        'lib/ssh/quote.ts': `export const shellQuote = (s: string) => s;`,
        'lib/ssh/transport.ts': `import type { Transport } from '../etcd/types.js';`,
      });
      assert.deepEqual(rulesOf(v), ['client-dir-cycle']);
      assert.equal(v.length, 1);
      assert.match(v[0].message, /lib\/etcd\/ -> lib\/ssh\/ \(lib\/etcd\/etcdctl\.ts:1\); lib\/ssh\/ -> lib\/etcd\/ \(lib\/ssh\/transport\.ts:1 type-only\)$/);
      const kernel = withFiles({ 'lib/shell.ts': `import type { Transport } from './etcd/types.js';`, 'lib/etcd/types.ts': `import { shellQuote } from '../shell.js';` });
      assert.deepEqual(rulesOf(kernel), ['client-dir-cycle', 'cycle']);
    });

    it('cycle: type-only, lazy import(), re-export, self-import and a 3-file loop', () => {
      const typeOnly = withFiles({
        'lib/openstack/client.ts': `export interface ServiceCaller {}\nimport { Compute } from './compute.js';`,
        'lib/openstack/compute.ts': `import type { ServiceCaller } from './client.js';\nexport class Compute {}`,
      });
      assert.deepEqual(rulesOf(typeOnly), ['cycle']);
      assert.match(typeOnly[0].message, /compute\.ts:1 \(type-only\) -> lib\/openstack\/client\.ts/);
      const lazy = withFiles({ 'lib/commands/add.ts': `import { run } from '../ops/add.js';\nexport const lazy = () => import('../cli/main.js');` });
      assert.deepEqual(rulesOf(lazy), ['cycle']);
      const reexport = withFiles({ 'test/sim/store.ts': `export * from './index.js';\nexport const store = {};` });
      assert.deepEqual(rulesOf(reexport), ['cycle']);
      const self = withFiles({ 'scripts/a.ts': `import type { A } from './a.js';\nexport type A = 1;` });
      assert.deepEqual(rulesOf(self), ['cycle']);
      assert.match(self[0].message, /scripts\/a\.ts:1 \(type-only\) -> scripts\/a\.ts/);
      const three = withFiles({
        'scripts/a.ts': `import { b } from './b.js';`,
        'scripts/b.ts': `import { c } from './c/index.js';`,
        'scripts/c/index.ts': `import { a } from '../a.js';`,
      });
      assert.deepEqual(three.map((x) => x.rule), ['cycle']);
      assert.match(three[0].message, /scripts\/a\.ts:1 -> scripts\/b\.ts:1 -> scripts\/c\/index\.ts:1 -> scripts\/a\.ts/);
    });

    it('the allow-list excuses only its entry and reports a stale one', () => {
      const v = withFiles({ 'lib/kube/adder.ts': `export function f(io: any) { io.log('info', 'x'); }` });
      const allow: AllowEntry[] = [
        { rule: 'client-prints', file: 'lib/kube/adder.ts', reason: 'test' },
        { rule: 'cycle', file: 'lib/gone.ts', reason: 'test' },
      ];
      const r = applyAllowList(v, allow);
      assert.deepEqual(r.failures, []);
      assert.equal(r.allowed.length, 1);
      assert.deepEqual(r.stale.map((a) => a.file), ['lib/gone.ts']);
      assert.equal(applyAllowList(withFiles({ 'lib/kube/other.ts': `export function f(io: any) { io.log('info', 'x'); }` }), allow).failures.length, 1);
      // a counted entry excuses that many, and the next one fails
      const two = withFiles({ 'lib/kube/adder.ts': `export function f(io: any) { io.log('info', 'x'); io.log('info', 'y'); }` });
      const counted: AllowEntry[] = [{ rule: 'client-prints', file: 'lib/kube/adder.ts', reason: 'test', max: 1 }];
      assert.equal(applyAllowList(two, counted).allowed.length, 1);
      assert.equal(applyAllowList(two, counted).failures.length, 1);
    });
  });

  describe('the import scanner', () => {
    it('finds every import form and tells type-only ones apart', () => {
      const src = [
        `import a from './a.js';`,
        `import type { B } from './b.js';`,
        `import { type C, type D as E } from './c.js';`,
        `import { type F, g } from './f.js';`,
        `import * as h from './h.js';`,
        `import './side.js';`,
        `export * from './star.js';`,
        `export type { T } from './t.js';`,
        `export { x as y } from './x.js';`,
        `import {`,
        `  m1,`,
        `  m2,`,
        `} from './multi.js';`,
        `const lazy = await import('./lazy.js');`,
        `type S = typeof import('./typeq.js');`,
        `const r = require('./req.cjs');`,
        `const meta = import.meta.dirname;`,
        `export const notImport = 1;`,
        `export function z() { return 2; }`,
        `import def, { named } from './both.js';`,
      ].join('\n');
      const refs = scanImports(src).map((r) => `${r.spec}${r.typeOnly ? ' T' : ''}${r.call ? ' ()' : ''}@${r.line}`);
      assert.deepEqual(refs, [
        './a.js@1', './b.js T@2', './c.js T@3', './f.js@4', './h.js@5', './side.js@6', './star.js@7', './t.js T@8',
        './x.js@9', './multi.js@10', './lazy.js ()@14', './typeq.js ()@15', './req.cjs ()@16', './both.js@20',
      ]);
    });

    it('skips comments, strings, template text and regular expressions', () => {
      const src = [
        `// import a from './a.js';`,
        `/* import b from './b.js'; */`,
        `const s = "import c from './c.js'";`,
        'const t = `import d from \'./d.js\' ${"x"} import e from \'./e.js\'`;',
        `const re = /import f from '.\\/f.js'/g;`,
        `const n = x! / 2; const q = y / 3; // import g from './g.js'`,
        `const k = (a) / 2 / (b);`,
        'const nested = `${`${"}"}`}`; import real from \'./real.js\';',
      ].join('\n');
      assert.deepEqual(scanImports(src).map((r) => r.spec), ['./real.js']);
      assert.deepEqual(scanPrints(`const s = 'console.log(1)'; // io.log('x')`), []);
    });

    it('tokenizes template substitutions with braces and strings inside', () => {
      const toks = tokenize('`a${ {b: "}"}.b }c` + d');
      assert.deepEqual(
        toks.map((t) => `${t.kind}:${t.value}`),
        ['tpl:a', 'punct:{', 'id:b', 'punct::', 'str:}', 'punct:}', 'punct:.', 'id:b', 'tpl:c', 'punct:+', 'id:d'],
      );
    });
  });
});
