/**
 * The Io interface: the only way code below lib/commands talks to the user.
 * Results go to stdout (result), progress and logs to stderr.
 * Implementations: lib/cli/output.ts (terminal: ora on a TTY, plain timestamped lines otherwise), nullIo below,
 * and the capturing Io of test/commands/add-master-sim.helpers.ts (lines and results kept for assertions).
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface ProgressOptions {
  /** how long this step may take (the heartbeat says "5m of 20m"); undefined: elapsed time only */
  budgetMs?: number;
}

export interface ProgressLine {
  /** Update the line's text (spinner on a TTY; a plain timestamped line otherwise, only when the text changes). */
  update(text: string, opts?: ProgressOptions): void;
  succeed(text?: string): void;
  fail(text?: string): void;
  warn(text?: string): void;
}

/** How far one stage of a node's lifecycle is (lib/ops/engine/events.ts emits them). */
export type StageState = 'start' | 'done' | 'failed' | 'skipped' | 'wait';

/**
 * One lifecycle progress event: `node` is the server name (or '' for operation-wide stages), `stage` the
 * stage (`drain`, `etcd-member`, `server`, ...), `elapsedMs` the time since the stage started (0 at start),
 * `detail` a short plain note (an error on `failed`, a reason on `skipped`, what is awaited on `wait`).
 * Defined here, in the kernel, so the Io can carry it; the engine (lib/ops/engine/events.ts) builds them.
 */
export interface StageEvent {
  node: string;
  stage: string;
  state: StageState;
  elapsedMs: number;
  detail?: string;
}

export interface Io {
  /** Log to stderr (filtered by verbosity). Text is redacted before it is written. */
  log(level: LogLevel, msg: string): void;
  /** A progress line, e.g. one per node. */
  progress(key: string, text: string, opts?: ProgressOptions): ProgressLine;
  /**
   * A lifecycle progress event (stderr only, never stdout). Optional: an Io without it drops the events
   * (nullIo, test Ios that only capture lines); the terminal Io renders one plain line per event, or the
   * node's spinner line on a TTY.
   */
  stage?(e: StageEvent): void;
  /** Write a result to stdout (already formatted). */
  result(text: string): void;
  /** Debug trace of an HTTP request or similar (only with --debug). Already redacted by the caller. */
  trace(msg: string): void;
  /** Ask a yes/no question; returns the default when there is no TTY or --yes was given. */
  confirm(question: string, def: boolean): Promise<boolean>;
  readonly verbosity: number;
  readonly debug: boolean;
}

/**
 * What a client (lib/openstack, lib/kube) reports while it works: the endpoint it reaches first, a retry.
 * Clients never print (test/architecture.test.ts); they hand these to the `notify` callback their caller
 * gave them, and the caller decides how to show them (the CLI: `logNotices(io)`, a log line of the level).
 */
export interface ClientNotice {
  level: 'debug' | 'info' | 'warn';
  kind: 'endpoint' | 'retry';
  message: string;
}
export type ClientNotify = (n: ClientNotice) => void;

/** The CLI's sink for client notices: each one a log line of its level, text unchanged. */
export function logNotices(io: Pick<Io, 'log'>): ClientNotify {
  return (n) => io.log(n.level, n.message);
}

/** An Io that discards everything; handy as a default in library code and tests. */
export const nullIo: Io = {
  log() {},
  progress() {
    return { update() {}, succeed() {}, fail() {}, warn() {} };
  },
  result() {},
  trace() {},
  async confirm(_q, def) {
    return def;
  },
  verbosity: 0,
  debug: false,
};
