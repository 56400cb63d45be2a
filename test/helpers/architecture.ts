/**
 * The layering rules of design.md section 1, as a checker over source text (used by test/architecture.test.ts).
 *
 * It reads files as text with a small lexer (comments, strings, template literals and regular expressions are
 * told apart, so `import x from 'y'` inside a string or a comment is not an import), collects every import
 * (static, `import type`, `export … from`, `import()` in code or in a type, `require()`), resolves the relative
 * ones to files of the set (`./x.js` -> `x.ts`, as nodenext writes them) and reports:
 *   - sim-imports-lib: a file under test/sim reaches lib/ (directly or through another file);
 *   - client-imports-upper: a client directory reaches lib/ops, lib/commands or lib/cli (directly or through
 *     another file, e.g. a kernel module);
 *   - client-prints: a client calls io.log/io.progress/io.result/io.confirm, console.*, or writes to
 *     process.stdout/stderr (io.trace, the --debug trace, is allowed);
 *   - client-dir-cycle: two client directories, or a client directory and a lib/ kernel file, import each
 *     other (the "arrows that run back up" of the architecture review: etcd <-> ssh, kube <-> etcd);
 *   - cycle: any import cycle between files, type-only and lazy `import()` edges included.
 *
 * Pure functions over a { path: text } map, so the test can prove each rule fails on a synthetic file set.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';

export type FileSet = Record<string, string>;

export const CLIENT_DIRS = ['openstack', 'kube', 'etcd', 'ssh', 'config', 'cloudinit', 'journal'].map(
  (d) => `lib/${d}/`,
);
export const UPPER_DIRS = ['lib/ops/', 'lib/commands/', 'lib/cli/'];

export type Rule = 'sim-imports-lib' | 'client-imports-upper' | 'client-prints' | 'client-dir-cycle' | 'cycle';

export interface Violation {
  rule: Rule;
  /** the file the violation is reported against (for a cycle: its first file in path order) */
  file: string;
  line?: number;
  message: string;
}

export interface AllowEntry {
  rule: Rule;
  file: string;
  /** why, and which issue removes it */
  reason: string;
}

// ---------------------------------------------------------------------------------------------- lexer

export type TokenKind = 'id' | 'str' | 'num' | 'punct' | 'tpl' | 'regex';
export interface Token {
  kind: TokenKind;
  /** identifier name, punctuator, or the cooked-enough value of a string (quotes removed) */
  value: string;
  line: number;
}

/** Keywords after which a `/` starts a regular expression, not a division. */
const REGEX_AFTER_KEYWORD = new Set([
  'return', 'typeof', 'case', 'do', 'else', 'in', 'instanceof', 'new', 'delete', 'void', 'throw', 'yield',
  'await', 'of',
]);
const ID_START = /[A-Za-z_$\u00a0-\uffff]/;
const ID_PART = /[A-Za-z0-9_$\u00a0-\uffff]/;
const PUNCT3 = ['>>>=', '...', '===', '!==', '**=', '<<=', '>>=', '>>>', '&&=', '||=', '??='];
const PUNCT2 = ['=>', '==', '!=', '<=', '>=', '&&', '||', '??', '?.', '++', '--', '+=', '-=', '*=', '/=', '%=',
  '&=', '|=', '^=', '<<', '>>', '**'];

/** Tokenize TypeScript/JavaScript source well enough to find imports and calls (not a full parser). */
export function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  let line = 1;
  // one entry per open `{`: true when the brace opened a template substitution `${`
  const braces: boolean[] = [];
  const n = src.length;

  const regexAllowed = (): boolean => {
    const prev = out[out.length - 1];
    if (!prev) return true;
    if (prev.kind === 'id') return REGEX_AFTER_KEYWORD.has(prev.value);
    if (prev.kind === 'punct') {
      if (prev.value === '!') {
        // a TypeScript non-null assertion (`x! / 2`) follows an expression; a logical not does not
        const before = out[out.length - 2];
        const endsExpr = before && (before.kind !== 'punct' || [')', ']'].includes(before.value));
        return !(endsExpr && !(before.kind === 'id' && REGEX_AFTER_KEYWORD.has(before.value)));
      }
      return ![')', ']', '}'].includes(prev.value);
    }
    return false; // after a string, number, template or regex
  };

  /** Scan a template literal's text from i (just after ` or }) to its end or the next `${`. */
  const scanTemplate = (): void => {
    const startLine = line;
    let text = '';
    while (i < n) {
      const c = src[i];
      if (c === '\\') {
        text += src.slice(i, i + 2);
        if (src[i + 1] === '\n') line++;
        i += 2;
        continue;
      }
      if (c === '`') {
        i++;
        out.push({ kind: 'tpl', value: text, line: startLine });
        return;
      }
      if (c === '$' && src[i + 1] === '{') {
        i += 2;
        braces.push(true);
        out.push({ kind: 'tpl', value: text, line: startLine });
        return;
      }
      if (c === '\n') line++;
      text += c;
      i++;
    }
    throw new Error(`unterminated template literal starting on line ${startLine}`);
  };

  while (i < n) {
    const c = src[i];
    if (c === '\n') {
      line++;
      i++;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\v' || c === '\ufeff') {
      i++;
      continue;
    }
    if (c === '/' && src[i + 1] === '/') {
      while (i < n && src[i] !== '\n') i++;
      continue;
    }
    if (c === '/' && src[i + 1] === '*') {
      const end = src.indexOf('*/', i + 2);
      if (end < 0) throw new Error(`unterminated comment on line ${line}`);
      for (let k = i; k < end; k++) if (src[k] === '\n') line++;
      i = end + 2;
      continue;
    }
    if (c === '#' && i === 0 && src[1] === '!') {
      while (i < n && src[i] !== '\n') i++;
      continue;
    }
    if (c === '"' || c === "'") {
      const startLine = line;
      let v = '';
      i++;
      while (i < n && src[i] !== c) {
        if (src[i] === '\\') {
          v += src[i + 1];
          i += 2;
          continue;
        }
        if (src[i] === '\n') throw new Error(`unterminated string on line ${startLine}`);
        v += src[i++];
      }
      if (i >= n) throw new Error(`unterminated string on line ${startLine}`);
      i++;
      out.push({ kind: 'str', value: v, line: startLine });
      continue;
    }
    if (c === '`') {
      i++;
      scanTemplate();
      continue;
    }
    if (c === '}' && braces.length > 0 && braces[braces.length - 1]) {
      braces.pop();
      i++;
      scanTemplate();
      continue;
    }
    if (c === '/' && regexAllowed()) {
      const startLine = line;
      let inClass = false;
      let k = i + 1;
      for (; k < n; k++) {
        const d = src[k];
        if (d === '\n') throw new Error(`unterminated regular expression on line ${startLine}`);
        if (d === '\\') {
          k++;
          continue;
        }
        if (d === '[') inClass = true;
        else if (d === ']') inClass = false;
        else if (d === '/' && !inClass) break;
      }
      k++;
      while (k < n && ID_PART.test(src[k])) k++; // flags
      out.push({ kind: 'regex', value: src.slice(i, k), line: startLine });
      i = k;
      continue;
    }
    if (ID_START.test(c)) {
      let k = i + 1;
      while (k < n && ID_PART.test(src[k])) k++;
      out.push({ kind: 'id', value: src.slice(i, k), line });
      i = k;
      continue;
    }
    if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(src[i + 1] ?? ''))) {
      let k = i + 1;
      while (k < n && /[0-9A-Za-z_.]/.test(src[k])) k++;
      out.push({ kind: 'num', value: src.slice(i, k), line });
      i = k;
      continue;
    }
    if (c === '{') braces.push(false);
    else if (c === '}') braces.pop();
    const p = PUNCT3.find((s) => src.startsWith(s, i)) ?? PUNCT2.find((s) => src.startsWith(s, i)) ?? c;
    out.push({ kind: 'punct', value: p, line });
    i += p.length;
  }
  return out;
}

// -------------------------------------------------------------------------------------------- imports

export interface ImportRef {
  spec: string;
  line: number;
  /** `import type`, `export type`, or every named specifier marked `type` */
  typeOnly: boolean;
  /** `import('x')` (a lazy import, or a type query) or `require('x')` */
  call: boolean;
}

const isP = (t: Token | undefined, v: string): boolean => t?.kind === 'punct' && t.value === v;
const isId = (t: Token | undefined, v: string): boolean => t?.kind === 'id' && t.value === v;

/** Every module specifier the source imports or re-exports. */
export function scanImports(src: string): ImportRef[] {
  const toks = tokenize(src);
  const refs: ImportRef[] = [];
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i];
    if (t.kind !== 'id') continue;
    const prev = toks[i - 1];
    if (isP(prev, '.') || isP(prev, '?.')) continue; // obj.import / obj.require
    if (t.value === 'require' && isP(toks[i + 1], '(') && toks[i + 2]?.kind === 'str' && isP(toks[i + 3], ')')) {
      refs.push({ spec: toks[i + 2].value, line: t.line, typeOnly: false, call: true });
      continue;
    }
    if (t.value !== 'import' && t.value !== 'export') continue;
    const next = toks[i + 1];
    if (t.value === 'import' && isP(next, '.')) continue; // import.meta
    if (t.value === 'import' && isP(next, '(')) {
      if (toks[i + 2]?.kind === 'str') {
        refs.push({ spec: toks[i + 2].value, line: t.line, typeOnly: false, call: true });
      }
      continue;
    }
    if (t.value === 'import' && next?.kind === 'str') {
      refs.push({ spec: next.value, line: t.line, typeOnly: false, call: false }); // side-effect import
      continue;
    }
    // A declaration: walk its clause up to `from 'spec'`. Only these tokens may stand in a clause.
    let k = i + 1;
    let typeOnly = false;
    if (isId(toks[k], 'type') && !isId(toks[k + 1], 'from') && !isP(toks[k + 1], ',') && !isP(toks[k + 1], '=')) {
      typeOnly = true;
      k++;
    }
    if (t.value === 'export' && !isP(toks[k], '{') && !isP(toks[k], '*')) continue; // export const/function/...
    let braceNames = 0;
    let braceTypeNames = 0;
    let outsideBraceBinding = false;
    let inBrace = false;
    let ok = false;
    for (; k < toks.length; k++) {
      const u = toks[k];
      if (isId(u, 'from') && toks[k + 1]?.kind === 'str' && !inBrace) {
        ok = true;
        break;
      }
      if (isP(u, '{')) inBrace = true;
      else if (isP(u, '}')) inBrace = false;
      else if (isP(u, ',') || isId(u, 'as')) continue;
      else if (isP(u, '*')) outsideBraceBinding = outsideBraceBinding || !inBrace;
      else if (u.kind === 'id' || u.kind === 'str') {
        if (inBrace) {
          const prevU = toks[k - 1];
          if (isId(prevU, 'as')) continue; // the local name of `a as b`
          if (isId(u, 'type') && (toks[k + 1]?.kind === 'id' || toks[k + 1]?.kind === 'str') && !isId(toks[k + 1], 'as')) {
            braceTypeNames++;
            braceNames++;
            k++;
            continue;
          }
          if (isId(u, 'type') && isId(toks[k + 1], 'as') && isId(toks[k + 2], 'as')) {
            // `type as as x`: a type named `as`
            braceTypeNames++;
            braceNames++;
            k += 3;
            continue;
          }
          braceNames++;
        } else {
          if (isId(toks[k - 1], 'as')) continue;
          outsideBraceBinding = true; // a default import
        }
      } else break; // `=`, `(`, `;` ...: not an import clause (e.g. `import x = require()`, handled above)
    }
    if (!ok) continue;
    if (!typeOnly && !outsideBraceBinding && braceNames > 0 && braceNames === braceTypeNames) typeOnly = true;
    refs.push({ spec: toks[k + 1].value, line: t.line, typeOnly, call: false });
    i = k + 1;
  }
  return refs;
}

// ------------------------------------------------------------------------------------------- printing

export interface PrintCall {
  line: number;
  what: string;
}

const IO_PRINTING = new Set(['log', 'progress', 'result', 'confirm']);

/** Calls that talk to the user: io.log/progress/result/confirm (on any `…io`), console.*, process.std*.write. */
export function scanPrints(src: string): PrintCall[] {
  const toks = tokenize(src);
  const found: PrintCall[] = [];
  for (let i = 0; i + 2 < toks.length; i++) {
    const [a, dot, b] = [toks[i], toks[i + 1], toks[i + 2]];
    if (a.kind !== 'id' || !(isP(dot, '.') || isP(dot, '?.')) || b.kind !== 'id') continue;
    if (isP(toks[i - 1], '.') && a.value !== 'io') continue; // x.console.log is not console
    if (a.value === 'io' && IO_PRINTING.has(b.value)) found.push({ line: a.line, what: `io.${b.value}` });
    else if (a.value === 'console' && !isP(toks[i - 1], '.')) found.push({ line: a.line, what: `console.${b.value}` });
    else if (
      a.value === 'process' &&
      (b.value === 'stdout' || b.value === 'stderr') &&
      isP(toks[i + 3], '.') &&
      isId(toks[i + 4], 'write')
    ) {
      found.push({ line: a.line, what: `process.${b.value}.write` });
    }
  }
  return found;
}

// ----------------------------------------------------------------------------------------------- graph

const SOURCE_EXT = /\.(ts|mts|cts|js|mjs|cjs)$/;

/** The file of the set a relative specifier names (nodenext style: `./x.js` is `x.ts`), or undefined. */
export function resolveSpec(from: string, spec: string, files: FileSet): string | undefined {
  if (!spec.startsWith('.')) return undefined; // a package or node: builtin
  const base = posix.normalize(posix.join(posix.dirname(from), spec));
  const candidates = [base];
  const m = /\.(m|c)?js$/.exec(base);
  if (m) candidates.push(base.slice(0, -m[0].length) + `.${m[1] ?? ''}ts`);
  candidates.push(`${base}.ts`, `${base}/index.ts`, `${base}/index.js`);
  return candidates.find((c) => c in files);
}

/** Where a relative specifier points even if no such file exists (for the directory rules). */
function targetPath(from: string, spec: string, files: FileSet): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  return resolveSpec(from, spec, files) ?? posix.normalize(posix.join(posix.dirname(from), spec));
}

export interface Edge {
  to: string;
  line: number;
  typeOnly: boolean;
  call: boolean;
}

export function importGraph(files: FileSet): Map<string, Edge[]> {
  const g = new Map<string, Edge[]>();
  for (const [path, text] of Object.entries(files)) {
    const edges: Edge[] = [];
    if (SOURCE_EXT.test(path)) {
      let refs: ImportRef[];
      try {
        refs = scanImports(text);
      } catch (e) {
        throw new Error(`${path}: ${(e as Error).message}`);
      }
      for (const r of refs) {
        const to = targetPath(path, r.spec, files);
        if (to) edges.push({ to, line: r.line, typeOnly: r.typeOnly, call: r.call });
      }
    }
    g.set(path, edges);
  }
  return g;
}

interface Hop {
  file: string;
  line: number;
  edge: Edge;
}

/** The first chain of imports (breadth-first, so a shortest one) from `start` to a file matching `goal`. */
function findPath(g: Map<string, Edge[]>, start: string, goal: (f: string) => boolean): Hop[] | undefined {
  const seen = new Set([start]);
  const queue: { file: string; hops: Hop[] }[] = [{ file: start, hops: [] }];
  while (queue.length > 0) {
    const { file, hops } = queue.shift()!;
    for (const e of g.get(file) ?? []) {
      const p = [...hops, { file, line: e.line, edge: e }];
      if (goal(e.to)) return p;
      if (seen.has(e.to)) continue;
      seen.add(e.to);
      if (g.has(e.to)) queue.push({ file: e.to, hops: p });
    }
  }
  return undefined;
}

/** `a.ts:3 -> b.ts:7 (type-only) -> c.ts` */
function describePath(hops: Hop[]): string {
  const kind = (e: Edge): string => (e.typeOnly ? ' (type-only)' : e.call ? ' (import())' : '');
  return [...hops.map((h) => `${h.file}:${h.line}${kind(h.edge)}`), hops[hops.length - 1].edge.to].join(' -> ');
}

/** Strongly connected components with more than one file, or a file importing itself (Tarjan). */
export function cycles(g: Map<string, Edge[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    on.add(v);
    for (const e of g.get(v) ?? []) {
      if (!g.has(e.to)) continue;
      if (!idx.has(e.to)) {
        visit(e.to);
        low.set(v, Math.min(low.get(v)!, low.get(e.to)!));
      } else if (on.has(e.to)) low.set(v, Math.min(low.get(v)!, idx.get(e.to)!));
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1 || (g.get(v) ?? []).some((e) => e.to === v)) out.push(comp.sort());
    }
  };
  for (const v of [...g.keys()].sort()) if (!idx.has(v)) visit(v);
  return out;
}

/** One concrete loop through a component, for the message. */
function describeCycle(g: Map<string, Edge[]>, comp: string[]): string {
  const inComp = new Set(comp);
  const sub = new Map([...g].filter(([k]) => inComp.has(k)).map(([k, es]) => [k, es.filter((e) => inComp.has(e.to))]));
  return describePath(findPath(sub, comp[0], (f) => f === comp[0])!);
}

/** The room a lib/ file lives in for the directory rule: `lib/etcd/` for a client, the file for the kernel. */
function room(f: string): string | undefined {
  const dir = CLIENT_DIRS.find((d) => f.startsWith(d));
  if (dir) return dir;
  return /^lib\/[^/]+$/.test(f) ? f : undefined;
}

/** The import graph folded onto client directories and kernel files (one edge per import, for the message). */
function clientDirGraph(g: Map<string, Edge[]>): Map<string, Edge[]> {
  const dg = new Map<string, Edge[]>();
  for (const [f, es] of g) {
    const a = room(f);
    if (!a) continue;
    if (!dg.has(a)) dg.set(a, []);
    for (const e of es) {
      const b = room(e.to);
      if (b && b !== a) dg.get(a)!.push({ ...e, to: b });
    }
  }
  for (const es of dg.values()) for (const e of es) if (!dg.has(e.to)) dg.set(e.to, []);
  return dg;
}

/** `lib/etcd/ -> lib/ssh/ (lib/etcd/etcdctl.ts:10, …); lib/ssh/ -> lib/etcd/ (lib/ssh/transport.ts:2 type-only)` */
function describeDirCycle(g: Map<string, Edge[]>, comp: string[]): string {
  const inComp = new Set(comp);
  const parts: string[] = [];
  for (const a of comp) {
    for (const b of comp) {
      if (a === b) continue;
      const sites: string[] = [];
      for (const [f, es] of g) {
        if (room(f) !== a) continue;
        for (const e of es) {
          if (room(e.to) === b && inComp.has(b)) sites.push(`${f}:${e.line}${e.typeOnly ? ' type-only' : ''}`);
        }
      }
      if (sites.length) parts.push(`${a} -> ${b} (${sites.join(', ')})`);
    }
  }
  return parts.join('; ');
}

// ------------------------------------------------------------------------------------------- the rules

export function checkArchitecture(files: FileSet): Violation[] {
  const g = importGraph(files);
  const v: Violation[] = [];
  const paths = [...g.keys()].sort();

  for (const f of paths.filter((p) => p.startsWith('test/sim/'))) {
    const p = findPath(g, f, (t) => t.startsWith('lib/'));
    if (p) {
      v.push({
        rule: 'sim-imports-lib',
        file: f,
        line: p[0].line,
        message: `the simulator must not import lib/ (it models the clouds kadd talks to): ${describePath(p)}`,
      });
    }
  }
  for (const f of paths.filter((p) => CLIENT_DIRS.some((d) => p.startsWith(d)))) {
    const p = findPath(g, f, (t) => UPPER_DIRS.some((d) => t.startsWith(d)));
    if (p) {
      v.push({
        rule: 'client-imports-upper',
        file: f,
        line: p[0].line,
        message: `a client must not import lib/ops, lib/commands or lib/cli: ${describePath(p)}`,
      });
    }
    for (const pr of scanPrints(files[f])) {
      v.push({
        rule: 'client-prints',
        file: f,
        line: pr.line,
        message: `a client must not talk to the user (${pr.what}); return data or throw, and let ops/commands report`,
      });
    }
  }
  for (const comp of cycles(clientDirGraph(g))) {
    v.push({ rule: 'client-dir-cycle', file: comp[0], message: `client directories import each other: ${describeDirCycle(g, comp)}` });
  }
  for (const comp of cycles(g)) {
    v.push({ rule: 'cycle', file: comp[0], message: `import cycle: ${describeCycle(g, comp)}` });
  }
  return v;
}

/** Split violations into allowed and not; an allow entry that matches nothing is reported as stale. */
export function applyAllowList(
  violations: Violation[],
  allow: AllowEntry[],
): { failures: Violation[]; allowed: Violation[]; stale: AllowEntry[] } {
  const matches = (a: AllowEntry, x: Violation): boolean => a.rule === x.rule && a.file === x.file;
  return {
    failures: violations.filter((x) => !allow.some((a) => matches(a, x))),
    allowed: violations.filter((x) => allow.some((a) => matches(a, x))),
    stale: allow.filter((a) => !violations.some((x) => matches(a, x))),
  };
}

export function formatViolation(x: Violation): string {
  return `${x.rule}: ${x.file}${x.line ? `:${x.line}` : ''}: ${x.message}`;
}

/** Read every source file under the given top-level directories of root (no node_modules, no dist). */
export function readTree(root: string, dirs: string[]): FileSet {
  const files: FileSet = {};
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(root, rel))) {
      if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
      const r = posix.join(rel, name);
      const st = statSync(join(root, r));
      if (st.isDirectory()) walk(r);
      else if (SOURCE_EXT.test(name) && !name.endsWith('.d.ts')) files[r] = readFileSync(join(root, r), 'utf8');
    }
  };
  for (const d of dirs) walk(d);
  return files;
}
