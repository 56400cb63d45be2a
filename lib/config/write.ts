/**
 * The `*.updated.yml` writer.
 *
 * koris wrote the updated file with yaml.dump (sorted keys, comments lost). kadd edits the user's text
 * in place instead: only the bytes of the changed values move, so key order, comments, quoting, blank
 * lines and line endings survive. The result is parsed again and must equal the expected document
 * before anything is written; the write is atomic (temporary file in the same directory, fsync,
 * rename, fsync of the directory), so a crash leaves either the old file or the new one, never half.
 */
import * as fsp from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { load, dump, SCALAR_STYLE } from 'js-yaml';
import { ConfigError, KaddError } from '../errors.js';
import { indexYaml } from './yaml-index.js';
import { pidAlive } from '../journal/journal.js';

/** koris's naming rule, applied to the file name: split on '.', insert "updated" before the last part. */
export function updatedConfigPath(path: string): string {
  const dir = dirname(path);
  const parts = basename(path).split('.');
  parts.splice(Math.max(parts.length - 1, 0), 0, 'updated');
  const name = parts.join('.');
  return dir === '.' && !path.startsWith('./') ? name : join(dir, name);
}

// ---------------------------------------------------------------------------------------------
// atomic write

export interface FileHandleLike {
  writeFile(data: string | Uint8Array): Promise<void>;
  sync(): Promise<void>;
  chmod(mode: number): Promise<void>;
  close(): Promise<void>;
}

/** The file-system steps of an atomic write; tests inject failures here. */
export interface AtomicFs {
  open(path: string, flags: string, mode?: number): Promise<FileHandleLike>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  readdir(path: string): Promise<string[]>;
}

export const nodeFs: AtomicFs = {
  open: (p, f, m) => fsp.open(p, f, m) as Promise<FileHandleLike>,
  rename: (a, b) => fsp.rename(a, b),
  unlink: (p) => fsp.unlink(p),
  readdir: (p) => fsp.readdir(p),
};

const TMP_TAG = '.kadd-tmp-';


/** Remove temporary files left by a writer that was killed (its pid is gone). */
async function removeStaleTemps(fs: AtomicFs, target: string): Promise<void> {
  const dir = dirname(target);
  const prefix = `.${basename(target)}${TMP_TAG}`;
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return;
  }
  for (const n of names) {
    if (!n.startsWith(prefix)) continue;
    const pid = Number(n.slice(prefix.length).split('-')[0]);
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && !pidAlive(pid)) {
      await fs.unlink(join(dir, n)).catch(() => undefined);
    }
  }
}

/**
 * Write `data` to `target` atomically: temp file next to it (same file system), fsync, rename over the
 * target, fsync the directory. On any failure the temp file is removed and the target is untouched.
 */
export async function atomicWriteFile(
  target: string,
  data: string,
  opts: { mode?: number; fs?: AtomicFs } = {},
): Promise<void> {
  const fs = opts.fs ?? nodeFs;
  const mode = opts.mode ?? 0o644;
  await removeStaleTemps(fs, target);
  const tmp = join(dirname(target), `.${basename(target)}${TMP_TAG}${process.pid}-${randomBytes(4).toString('hex')}`);
  let fh: FileHandleLike | undefined;
  let created = false;
  try {
    fh = await fs.open(tmp, 'wx', mode);
    created = true;
    await fh.chmod(mode); // open's mode is filtered by the umask; keep the original's exactly
    await fh.writeFile(data);
    await fh.sync();
    await fh.close();
    fh = undefined;
    await fs.rename(tmp, target);
    created = false;
  } catch (e) {
    if (fh) await fh.close().catch(() => undefined);
    if (created) await fs.unlink(tmp).catch(() => undefined);
    const err = e as NodeJS.ErrnoException;
    throw new KaddError('E_WRITE', `could not write ${target}: ${err.code ?? err.message}`, 1, {
      cause: e,
      hint: 'the previous file (if any) is unchanged; check free space and permissions of the directory',
    });
  }
  // make the rename durable; some file systems refuse fsync on a directory, which is fine
  try {
    const d = await fs.open(dirname(target), 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    /* best effort */
  }
}

// ---------------------------------------------------------------------------------------------
// surgical edit

export type ConfigChanges = Record<string, number | string>;

function formatPlain(v: number | string): string {
  if (typeof v === 'number') return String(v);
  if (/^[A-Za-z0-9][A-Za-z0-9._/-]*$/.test(v)) {
    try {
      if ((load(`k: ${v}`) as { k: unknown }).k === v) return v;
    } catch {
      /* quote it */
    }
  }
  return JSON.stringify(v);
}

function formatIn(style: number, v: number | string): string {
  switch (style) {
    case SCALAR_STYLE.PLAIN:
      return formatPlain(v);
    case SCALAR_STYLE.SINGLE_QUOTED:
      if (typeof v === 'number') throw new Error('number into a quoted scalar');
      return v.replace(/'/g, "''");
    case SCALAR_STYLE.DOUBLE_QUOTED:
      if (typeof v === 'number') throw new Error('number into a quoted scalar');
      return JSON.stringify(v).slice(1, -1);
    default:
      throw new Error('block scalar');
  }
}

/** Apply one change to the text; throws when the layout is not one it can edit safely. */
function editOne(text: string, path: string, value: number | string): string {
  const nl = text.includes('\r\n') ? '\r\n' : '\n';
  const idx = indexYaml(text);
  const node = idx.nodes.get(path);
  const dot = path.lastIndexOf('.');
  const parentPath = dot >= 0 ? path.slice(0, dot) : '';
  const key = dot >= 0 ? path.slice(dot + 1) : path;
  if (node) {
    if (node.kind !== 'scalar') throw new Error(`${path} is not a scalar`);
    if (node.valueStart >= 0) {
      // a number cannot go into a quoted string: replace the quotes too
      if (typeof value === 'number' && node.style !== SCALAR_STYLE.PLAIN) {
        return text.slice(0, node.valueStart - 1) + String(value) + text.slice(node.valueEnd + 1);
      }
      return text.slice(0, node.valueStart) + formatIn(node.style, value) + text.slice(node.valueEnd);
    }
    // `key:` with an empty value
    if (node.keyEnd === undefined || node.keyEnd < 0) throw new Error('no key position');
    const colon = text.indexOf(':', node.keyEnd);
    if (colon < 0) throw new Error('no colon');
    return text.slice(0, colon + 1) + ' ' + formatPlain(value) + text.slice(colon + 1);
  }
  // the key is missing: add it
  const parent = idx.nodes.get(parentPath);
  if (parentPath === '') {
    if (!parent || parent.kind !== 'mapping' || parent.collectionStyle !== 1) throw new Error('root is not a block mapping');
    const sep = text.length === 0 || text.endsWith('\n') ? '' : nl;
    return `${text}${sep}${key}: ${formatPlain(value)}${nl}`;
  }
  if (!parent) {
    // create the parent mapping first (one level, e.g. version -> version.k8s)
    if (parentPath.includes('.')) throw new Error('nested parent missing');
    const root = idx.nodes.get('');
    if (!root || root.kind !== 'mapping' || root.collectionStyle !== 1) throw new Error('root is not a block mapping');
    const sep = text.length === 0 || text.endsWith('\n') ? '' : nl;
    return `${text}${sep}${parentPath}:${nl}  ${key}: ${formatPlain(value)}${nl}`;
  }
  if (parent.kind === 'scalar' && parent.valueStart < 0 && parent.keyEnd !== undefined) {
    // `version:` with nothing under it
    const colon = text.indexOf(':', parent.keyEnd);
    const lineStart = text.lastIndexOf('\n', parent.keyStart ?? 0) + 1;
    const indent = ' '.repeat((parent.keyStart ?? lineStart) - lineStart + 2);
    return text.slice(0, colon + 1) + `${nl}${indent}${key}: ${formatPlain(value)}` + text.slice(colon + 1);
  }
  if (parent.kind === 'mapping' && parent.collectionStyle === 1) {
    // insert as the first child, with the indentation of an existing child
    const child = [...idx.nodes.entries()].find(([p]) => p.startsWith(`${parentPath}.`) && !p.slice(parentPath.length + 1).includes('.'));
    const childStart = child?.[1].keyStart;
    if (childStart === undefined) throw new Error('no child to align with');
    const childLine = text.lastIndexOf('\n', childStart - 1) + 1;
    const indent = text.slice(childLine, childStart);
    if (!/^ *$/.test(indent)) throw new Error('unusual indentation');
    // right below the parent's key line
    const eol = text.indexOf('\n', parent.keyEnd ?? parent.start);
    if (eol < 0) throw new Error('no line end');
    return text.slice(0, eol + 1) + `${indent}${key}: ${formatPlain(value)}${nl}` + text.slice(eol + 1);
  }
  throw new Error(`cannot add ${path} to this layout`);
}

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let cur = obj;
  for (const p of parts.slice(0, -1)) {
    const next = cur[p];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) cur[p] = {};
    cur = cur[p] as Record<string, unknown>;
  }
  cur[parts[parts.length - 1]!] = value;
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => deepEqual(x, bb[i]));
  }
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const ka = Object.keys(ra);
  const kb = Object.keys(rb);
  return ka.length === kb.length && ka.every((k) => Object.prototype.hasOwnProperty.call(rb, k) && deepEqual(ra[k], rb[k]));
}

/**
 * The edited text for `changes` (key paths like "n-nodes" or "version.k8s"), verified by re-parsing.
 * `preserved` is false when the layout could not be edited in place and the document was re-dumped.
 */
export function applyConfigChanges(text: string, changes: ConfigChanges): { text: string; preserved: boolean; expected: unknown } {
  const original = load(text);
  if (original === null || typeof original !== 'object' || Array.isArray(original)) {
    throw new ConfigError('the cluster file is not a mapping; cannot update it');
  }
  const expected = structuredClone(original) as Record<string, unknown>;
  for (const [p, v] of Object.entries(changes)) setPath(expected, p, v);
  try {
    let out = text;
    for (const [p, v] of Object.entries(changes)) out = editOne(out, p, v);
    if (deepEqual(load(out), expected)) return { text: out, preserved: true, expected };
  } catch {
    /* fall through to a full dump */
  }
  const dumped = `# written by kadd; the original layout could not be edited in place\n${dump(expected, { lineWidth: -1, noRefs: true })}`;
  if (!deepEqual(load(dumped), expected)) throw new KaddError('E_WRITE_VERIFY', 'internal error: the updated cluster file does not re-read as expected');
  return { text: dumped, preserved: false, expected };
}

/**
 * Write `<source>.updated.yml` (koris naming) with `changes` applied to the source's text.
 * The new file keeps the source's mode (or the existing target's). Returns the path written.
 */
export async function writeUpdatedConfig(
  sourcePath: string,
  changes: ConfigChanges,
  opts: { fs?: AtomicFs; target?: string } = {},
): Promise<{ path: string; preserved: boolean }> {
  const target = opts.target ?? updatedConfigPath(sourcePath);
  const text = await fsp.readFile(sourcePath, 'utf8');
  const { text: out, preserved } = applyConfigChanges(text, changes);
  let mode: number;
  try {
    mode = (await fsp.stat(target)).mode & 0o7777;
  } catch {
    mode = (await fsp.stat(sourcePath)).mode & 0o7777;
  }
  await atomicWriteFile(target, out, { mode, fs: opts.fs });
  return { path: target, preserved };
}
