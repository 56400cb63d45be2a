/**
 * Durable record of created resources, for rollback and resume (design.md section 6).
 *
 * `.<cfgname>.kadd-journal.jsonl` next to the cluster file, mode 0600, append-only JSON lines, fsync per
 * record. An operation writes `begin`, then `intent` BEFORE each side effect and `done` after it (with the
 * resource id), `undone` when it compensated one, and `end`. After a crash, findUnfinished() lists what
 * was created (or may have been: an intent without done) and not undone; the caller looks each one up by
 * its deterministic name. A lock file (`.<cfgname>.kadd-lock`, pid + host, published whole by link()) keeps
 * two kadd runs off the same cluster file; a lock whose pid is dead on this host is stale and taken over
 * (under `.<cfgname>.kadd-lock.takeover`, so that two kadds never both remove one).
 *
 * Secrets never reach the file: every record goes through redactValue (secret-looking keys) and
 * redactText (registered secrets, token and key patterns).
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp, constants as fsc } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { KaddError, PreflightError } from '../errors.js';
import { redactText, redactValue } from '../redact.js';

export type ResourceKind =
  | 'port' | 'volume' | 'server' | 'token' | 'node' | 'etcd-member' | 'lb-member' | 'deployment'
  // shared infrastructure created when missing (kept by cleanup, but recorded)
  | 'network' | 'subnet' | 'router' | 'security-group' | 'certificate-key' | 'snapshot';
export const RESOURCE_KINDS: readonly ResourceKind[] = [
  'port', 'volume', 'server', 'token', 'node', 'etcd-member', 'lb-member', 'deployment',
  'network', 'subnet', 'router', 'security-group', 'certificate-key', 'snapshot',
];
export type EndStatus = 'ok' | 'failed' | 'interrupted';

export interface BeginRecord { t: 'begin'; v: 1; op: string; command: string; args: Record<string, unknown>; pid: number; host: string; at: string }
/** `id` when it is known before the create (a bootstrap token's id is chosen by kadd): a crash after the create leaves it findable */
export interface IntentRecord { t: 'intent'; op: string; kind: ResourceKind; name: string; id?: string; details?: Record<string, unknown>; at: string }
export interface DoneRecord { t: 'done'; op: string; kind: ResourceKind; name: string; id?: string; details?: Record<string, unknown>; at: string }
/** `notCreated`: the create got a definite refusal (400/403/413...): nothing exists, nothing was deleted */
export interface UndoneRecord { t: 'undone'; op: string; kind: ResourceKind; name: string; id?: string; notCreated?: string; at: string }
export interface EndRecord { t: 'end'; op: string; status: EndStatus; at: string }
/** The resource stays on purpose (a node that joined in a run that failed for others): not a leftover. */
export interface KeptRecord { t: 'kept'; op: string; kind: ResourceKind; name: string; id?: string; at: string }
/** A step of a multi-step operation (kadd remove), journaled with its inputs before it runs and again when done. */
export interface StepRecord { t: 'step'; op: string; step: string; node: string; state: 'start' | 'done' | 'skipped'; details?: Record<string, unknown>; at: string }
export type JournalRecord = BeginRecord | IntentRecord | DoneRecord | UndoneRecord | KeptRecord | EndRecord | StepRecord;

/**
 * Shared infrastructure kadd creates when missing and keeps by design (network, subnet, router, security
 * group) and artefacts it leaves on purpose (etcd snapshots): recorded for the audit trail, never leftovers.
 */
export const KEPT_KINDS: ReadonlySet<ResourceKind> = new Set<ResourceKind>(['network', 'subnet', 'router', 'security-group', 'snapshot']);

export function journalPath(cfgPath: string): string {
  const abs = resolve(cfgPath);
  return join(dirname(abs), `.${basename(abs)}.kadd-journal.jsonl`);
}
export function lockPath(cfgPath: string): string {
  const abs = resolve(cfgPath);
  return join(dirname(abs), `.${basename(abs)}.kadd-lock`);
}

export interface JournalOptions {
  /** epoch ms; default Date.now (pass ctx.clock.now) */
  now?: () => number;
  pid?: number;
  host?: string;
  /** is this pid alive on this host (default: process.kill(pid, 0)) */
  isAlive?: (pid: number) => boolean;
}

/** Is process `pid` alive on this host? (EPERM: alive, owned by another user; pid 0 or less: never a holder) */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

interface LockInfo { pid: number; host: string; at: string; op?: string }

/** an unreadable (empty or torn) lock younger than this may be an older kadd between its create and its write */
const LOCK_WRITE_GRACE_MS = 5_000;
/** a takeover lock older than this is stale whoever holds it (a takeover lasts milliseconds) */
const TAKEOVER_STALE_MS = 10_000;

/** link() errors that mean "this filesystem has no hard links", not "the lock is there" */
const NO_LINK = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV']);

/**
 * Publish `text` at `path` whole, only if nothing is there: written to a private file first, then linked into
 * place (link fails with EEXIST like O_EXCL), so nobody ever reads it created but not yet written.
 * false: something is there.
 */
async function publishExclusive(path: string, text: string): Promise<boolean> {
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}`;
  try {
    await createWritten(tmp, text);
    try {
      await fsp.link(tmp, path);
    } catch (e) {
      // a filesystem without hard links (some network and FUSE mounts): an O_EXCL create and write instead;
      // its short created-but-empty moment is what LOCK_WRITE_GRACE_MS covers
      if (!NO_LINK.has((e as NodeJS.ErrnoException).code ?? '')) throw e;
      await createWritten(path, text);
    }
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    await fsp.rm(tmp, { force: true });
  }
}

/** create `path` (O_EXCL: EEXIST when it is there), write `text`, fsync */
async function createWritten(path: string, text: string): Promise<void> {
  const fh = await fsp.open(path, fsc.O_CREAT | fsc.O_EXCL | fsc.O_WRONLY, 0o600);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
}


interface LockSnapshot { text: string; ino: number; mtimeMs: number; holder: LockInfo | undefined }

/** the lock file as it is now; undefined when there is none */
async function readLockFile(path: string): Promise<LockSnapshot | undefined> {
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(path, fsc.O_RDONLY);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    const st = await fh.stat();
    const text = await fh.readFile('utf8');
    let holder: LockInfo | undefined;
    try {
      holder = JSON.parse(text) as LockInfo;
      if (typeof holder?.pid !== 'number') holder = undefined;
    } catch {
      holder = undefined;
    }
    return { text, ino: st.ino, mtimeMs: st.mtimeMs, holder };
  } finally {
    await fh.close();
  }
}

/** a dead holder's on this host; unreadable ones only once past the write grace (an older kadd may be writing it) */
function isStale(s: LockSnapshot, me: LockInfo, isAlive: (pid: number) => boolean): boolean {
  if (!s.holder) return Date.now() - s.mtimeMs > LOCK_WRITE_GRACE_MS;
  return s.holder.host === me.host && !isAlive(s.holder.pid);
}

/**
 * Remove the stale lock, under the takeover lock (`<lock>.takeover`) so that two kadds never both remove
 * one: under it the lock is read, judged and read again, and a lock judged stale there cannot change (its
 * holder is dead, nobody else removes it, nobody can create another over it). Whether removed or not, the
 * caller tries again. A takeover lock left by a kadd that died in the middle of one is removed when its pid is
 * dead here or it is older than TAKEOVER_STALE_MS.
 */
async function removeStaleLock(path: string, me: LockInfo, isAlive: (pid: number) => boolean): Promise<void> {
  const takeover = `${path}.takeover`;
  if (!(await publishExclusive(takeover, `${JSON.stringify(me)}\n`))) {
    const t = await readLockFile(takeover);
    if (t && ((t.holder?.host === me.host && !isAlive(t.holder.pid)) || Date.now() - t.mtimeMs > TAKEOVER_STALE_MS)) {
      const again = await readLockFile(takeover);
      if (again && again.ino === t.ino && again.text === t.text) await fsp.rm(takeover, { force: true });
    }
    // another kadd's takeover lasts milliseconds: give it one before the caller's next try (50 tries in all)
    await new Promise<void>((res) => setTimeout(res, 10));
    return;
  }
  try {
    const now = await readLockFile(path);
    if (!now || !isStale(now, me, isAlive)) return;
    // its holder may have released it (and exited) between that read and that judgment, and another kadd
    // taken it: remove it only if it is still the one read (a holder releases before it exits, so a lock
    // still there after its holder was seen dead is stale for good)
    const again = await readLockFile(path);
    if (again && again.ino === now.ino && again.text === now.text) await fsp.rm(path, { force: true });
  } finally {
    await fsp.rm(takeover, { force: true });
  }
}

async function acquireLock(path: string, me: LockInfo, isAlive: (pid: number) => boolean): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    if (await publishExclusive(path, `${JSON.stringify(me)}\n`)) return;
    const lock = await readLockFile(path);
    if (!lock) continue; // released between our try and our read: free, try again (not a stale lock)
    if (isStale(lock, me, isAlive)) {
      await removeStaleLock(path, me, isAlive);
      continue;
    }
    const holder = lock.holder;
    if (!holder) {
      throw new PreflightError(`another kadd is taking the lock ${path} (it is being written)`, { code: 'E_LOCKED', hint: 'wait for it to finish' });
    }
    throw new PreflightError(
      `another kadd (pid ${holder.pid} on ${holder.host}, since ${holder.at}) is working on this cluster file`,
      {
        code: 'E_LOCKED',
        hint: holder.host === me.host
          ? 'wait for it to finish'
          : `wait for it to finish; if that host is gone, delete ${path}`,
      },
    );
  }
  throw new PreflightError(`could not take the lock ${path}: another kadd keeps taking it`, { code: 'E_LOCKED' });
}

/** The cluster file's local lock, held on its own (taken before the journal is read). */
export interface FileLock {
  readonly path: string;
  release(): Promise<void>;
}

/**
 * Take the cluster file's lock (exit 2 naming the holder when another live kadd has it). Take it before
 * reading the journal, so that a second run is told that another kadd is running, not that an earlier run
 * did not finish; hand it to Journal.open as `heldLock`.
 */
export async function lockClusterFile(cfgPath: string, opts: JournalOptions = {}): Promise<FileLock> {
  const now = opts.now ?? Date.now;
  const path = lockPath(cfgPath);
  await acquireLock(path, { pid: opts.pid ?? process.pid, host: opts.host ?? hostname(), at: new Date(now()).toISOString() }, opts.isAlive ?? pidAlive);
  let released = false;
  return {
    path,
    async release() {
      if (released) return;
      released = true;
      await fsp.rm(path, { force: true });
    },
  };
}

export class Journal {
  readonly path: string;
  readonly lockFile: string;
  /** false when the lock was taken by lockClusterFile and handed in: its holder releases it */
  private ownsLock = true;
  private fh: fsp.FileHandle | undefined;
  private opId: string | undefined;
  private queue: Promise<void> = Promise.resolve();
  private readonly now: () => number;
  private readonly pid: number;
  private readonly host: string;

  private constructor(path: string, lockFile: string, fh: fsp.FileHandle, o: Required<Pick<JournalOptions, 'now' | 'pid' | 'host'>>) {
    this.path = path;
    this.lockFile = lockFile;
    this.fh = fh;
    this.now = o.now;
    this.pid = o.pid;
    this.host = o.host;
  }

  /** Take the cluster file's lock and open its journal for appending (created 0600). */
  static async open(cfgPath: string, opts: JournalOptions & { heldLock?: FileLock } = {}): Promise<Journal> {
    const o = { now: opts.now ?? Date.now, pid: opts.pid ?? process.pid, host: opts.host ?? hostname() };
    const lock = lockPath(cfgPath);
    if (!opts.heldLock) await acquireLock(lock, { pid: o.pid, host: o.host, at: new Date(o.now()).toISOString() }, opts.isAlive ?? pidAlive);
    else if (resolve(opts.heldLock.path) !== lock) throw new KaddError('E_JOURNAL_LOCK', `journal: the lock handed in (${opts.heldLock.path}) is not ${lock}`, 1);
    const path = journalPath(cfgPath);
    try {
      const fh = await fsp.open(path, fsc.O_CREAT | fsc.O_APPEND | fsc.O_WRONLY, 0o600);
      await fh.chmod(0o600);
      const j = new Journal(path, lock, fh, o);
      j.ownsLock = !opts.heldLock;
      return j;
    } catch (e) {
      if (!opts.heldLock) await fsp.rm(lock, { force: true });
      throw e;
    }
  }

  get operationId(): string | undefined {
    return this.opId;
  }

  private at(): string {
    return new Date(this.now()).toISOString();
  }

  /** the one place records are serialised: every record is redacted here, whatever it carries */
  private append(rec: JournalRecord): Promise<void> {
    const line = `${redactText(JSON.stringify(redactValue(rec)))}\n`;
    const run = async () => {
      if (!this.fh) throw new KaddError('E_JOURNAL_CLOSED', 'journal is closed', 1);
      await this.fh.write(line);
      await this.fh.sync();
    };
    const p = this.queue.then(run);
    this.queue = p.catch(() => undefined);
    return p;
  }

  private requireOp(): string {
    if (!this.opId) throw new KaddError('E_JOURNAL_NO_OP', 'journal: begin() was not called', 1);
    return this.opId;
  }

  /** Start an operation; `args` must not hold secrets (they are redacted anyway). Returns the op id. */
  async begin(op: { command: string; args?: Record<string, unknown>; id?: string }): Promise<string> {
    if (this.opId) throw new KaddError('E_JOURNAL_OP_OPEN', `journal: operation ${this.opId} is still open`, 1);
    const id = op.id ?? `${new Date(this.now()).toISOString().replace(/[-:]/g, '').slice(0, 15)}-${randomBytes(3).toString('hex')}`;
    this.opId = id;
    await this.append({ t: 'begin', v: 1, op: id, command: op.command, args: op.args ?? {}, pid: this.pid, host: this.host, at: this.at() });
    return id;
  }

  /** Before a side effect that creates `name`. */
  async intent(kind: ResourceKind, name: string, details?: Record<string, unknown>, id?: string): Promise<void> {
    checkKind(kind);
    await this.append({ t: 'intent', op: this.requireOp(), kind, name, ...(id ? { id } : {}), ...(details ? { details } : {}), at: this.at() });
  }

  /** After the side effect succeeded (or an existing resource was adopted), with its id. */
  async done(kind: ResourceKind, name: string, id?: string, details?: Record<string, unknown>): Promise<void> {
    checkKind(kind);
    await this.append({ t: 'done', op: this.requireOp(), kind, name, ...(id ? { id } : {}), ...(details ? { details } : {}), at: this.at() });
  }

  /** After the resource was deleted again (rollback, cleanup) or found not to exist. */
  async undone(kind: ResourceKind, name: string, id?: string): Promise<void> {
    checkKind(kind);
    await this.append({ t: 'undone', op: this.requireOp(), kind, name, ...(id ? { id } : {}), at: this.at() });
  }

  /** The create of `name` got a definite refusal: it does not exist (not a leftover, and nothing was deleted). */
  async notCreated(kind: ResourceKind, name: string, reason: string): Promise<void> {
    checkKind(kind);
    await this.append({ t: 'undone', op: this.requireOp(), kind, name, notCreated: reason, at: this.at() });
  }

  /** The resource stays on purpose although the operation may end failed (e.g. a node that joined). */
  async kept(kind: ResourceKind, name: string, id?: string): Promise<void> {
    checkKind(kind);
    await this.append({ t: 'kept', op: this.requireOp(), kind, name, ...(id ? { id } : {}), at: this.at() });
  }

  /** A step of the operation: `start` with its inputs before it runs, `done` (or `skipped`) after. */
  async step(step: string, node: string, state: StepRecord['state'], details?: Record<string, unknown>): Promise<void> {
    await this.append({ t: 'step', op: this.requireOp(), step, node, state, ...(details ? { details } : {}), at: this.at() });
  }

  /** End the operation, close the file and release the lock. */
  async end(status: EndStatus): Promise<void> {
    const op = this.requireOp();
    await this.append({ t: 'end', op, status, at: this.at() });
    this.opId = undefined;
    await this.close();
  }

  /**
   * End an earlier operation that died without an end record, once this one finished its work (a resume
   * that wrote the cluster file for the nodes it had created): it is no longer unfinished.
   */
  async endEarlier(op: string, status: EndStatus): Promise<void> {
    this.requireOp();
    await this.append({ t: 'end', op, status, at: this.at() });
  }

  /** Close and release the lock without an end record (the next run sees the operation as unfinished). */
  async close(): Promise<void> {
    await this.queue;
    const fh = this.fh;
    this.fh = undefined;
    if (fh) await fh.close();
    // once: a second close (end() closes, and so may the caller's finally) must not remove the lock another
    // kadd took in between
    if (this.ownsLock) {
      this.ownsLock = false;
      await fsp.rm(this.lockFile, { force: true });
    }
  }
}

function checkKind(kind: ResourceKind): void {
  if (!RESOURCE_KINDS.includes(kind)) throw new KaddError('E_JOURNAL_KIND', `journal: unknown resource kind ${String(kind)}`, 1);
}

// -------------------------------------------------------------------------------------------------
// Reading back

export interface LeftoverResource {
  kind: ResourceKind;
  name: string;
  id?: string;
  /** created: done was recorded; maybe: intent without done (crash in between: look it up by name) */
  state: 'created' | 'maybe';
  /** operation that last touched it */
  op: string;
  details?: Record<string, unknown>;
}

export interface UnfinishedOperation {
  op: string;
  command: string;
  args: Record<string, unknown>;
  pid: number;
  host: string;
  startedAt: string;
  /** failed / interrupted from its end record; unterminated when it never wrote one (crash, kill -9) */
  status: 'failed' | 'interrupted' | 'unterminated';
  resources: LeftoverResource[];
}

export interface JournalReport {
  path: string;
  operations: UnfinishedOperation[];
  /** every resource left over, in creation order */
  leftovers: LeftoverResource[];
  /** lines that could not be parsed (a torn last write after a crash) */
  skippedLines: number;
}

export async function readJournal(cfgPath: string): Promise<{ records: JournalRecord[]; skippedLines: number; path: string }> {
  const path = journalPath(cfgPath);
  let text: string;
  try {
    text = await fsp.readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], skippedLines: 0, path };
    throw e;
  }
  const records: JournalRecord[] = [];
  let skippedLines = 0;
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const r = JSON.parse(line) as JournalRecord;
      if (r && typeof r === 'object' && typeof r.t === 'string' && typeof r.op === 'string') records.push(r);
      else skippedLines++;
    } catch {
      skippedLines++;
    }
  }
  return { records, skippedLines, path };
}

/**
 * What earlier runs left behind: operations that did not end ok, and the resources they created (or may
 * have created) that were not undone. A resource's ownership moves to the last operation that recorded it,
 * so a later `kadd resume` that adopts it (done) and ends ok, or a cleanup that records undone, clears it.
 */
export async function findUnfinished(cfgPath: string): Promise<JournalReport> {
  const { records, skippedLines, path } = await readJournal(cfgPath);
  const begins = new Map<string, BeginRecord>();
  const ends = new Map<string, EndRecord>();
  const live = new Map<string, LeftoverResource>();
  const key = (k: string, n: string) => `${k}\u0000${n}`;
  for (const r of records) {
    switch (r.t) {
      case 'begin':
        begins.set(r.op, r);
        break;
      case 'intent': {
        if (KEPT_KINDS.has(r.kind)) break;
        const prev = live.get(key(r.kind, r.name));
        live.delete(key(r.kind, r.name));
        live.set(key(r.kind, r.name), {
          kind: r.kind, name: r.name, state: prev?.state === 'created' ? 'created' : 'maybe', op: r.op,
          ...(r.id || prev?.id ? { id: r.id ?? prev?.id } : {}), ...(r.details ? { details: r.details } : {}),
        });
        break;
      }
      case 'done': {
        if (KEPT_KINDS.has(r.kind)) break;
        const prev = live.get(key(r.kind, r.name));
        live.set(key(r.kind, r.name), {
          kind: r.kind, name: r.name, state: 'created', op: r.op, ...(r.id ? { id: r.id } : {}),
          ...(r.details || prev?.details ? { details: { ...prev?.details, ...r.details } } : {}),
        });
        break;
      }
      case 'undone':
      case 'kept':
        live.delete(key(r.kind, r.name));
        break;
      case 'end':
        ends.set(r.op, r);
        if (r.status === 'ok') for (const [k, v] of live) if (v.op === r.op) live.delete(k);
        break;
      default:
        break;
    }
  }
  const leftovers = [...live.values()];
  const operations: UnfinishedOperation[] = [];
  for (const [op, b] of begins) {
    const end = ends.get(op);
    if (end?.status === 'ok') continue;
    const resources = leftovers.filter((x) => x.op === op);
    if (end && resources.length === 0) continue; // failed, but everything was rolled back
    operations.push({
      op, command: b.command, args: b.args, pid: b.pid, host: b.host, startedAt: b.at,
      status: end ? (end.status as 'failed' | 'interrupted') : 'unterminated', resources,
    });
  }
  // resources whose begin record was lost (torn file) still count
  for (const x of leftovers) {
    if (!begins.has(x.op) && !operations.some((o) => o.op === x.op)) {
      operations.push({ op: x.op, command: 'unknown', args: {}, pid: 0, host: '', startedAt: '', status: 'unterminated', resources: leftovers.filter((y) => y.op === x.op) });
    }
  }
  return { path, operations, leftovers, skippedLines };
}
