/**
 * The terminal Io (lib/io.ts) and the result formatters.
 *
 * - results -> stdout; logs, warnings, progress, traces -> stderr
 * - progress: one ora spinner board (imported lazily) when stderr is a TTY and not CI; otherwise plain
 *   lines "HH:MM:SSZ key: text", printed only when the text of that key changes
 * - colour: off with --no-color, NO_COLOR (non-empty) or FORCE_COLOR=0, or when stderr is not a TTY
 * - verbosity: -1 (quiet) hides info, 0 normal, >= 1 (or --debug) shows debug
 * - lifecycle stage events (io.stage): one plain line per event off a TTY; on a TTY the node's line of the
 *   spinner board, closed when its root stage (the first one started) ends; -q shows only failures. Off a
 *   TTY a node with an open stage takes part in the heartbeat ("join still running after 5m: ...")
 * - everything written is redacted (lib/redact.ts)
 */
import { dump } from 'js-yaml';
import type { Io, LogLevel, ProgressLine, StageEvent } from '../io.js';
import { redactText, redactValue } from '../redact.js';
import type { OutputFormat } from './options.js';
import { colorEnabled, isCI } from './term.js';
import { UsageError } from '../errors.js';

export { colorEnabled, isCI };

export interface Stream {
  write(s: string): unknown;
  isTTY?: boolean;
  /** a TTY's width; 0 on some ptys (`script -qfc`, `ssh -tt` from scripts, CI runners) */
  columns?: number;
}

/** A terminal we can draw a spinner on: a TTY that reports a width (ora divides by it). */
export function drawable(s: Stream): boolean {
  return !!s.isTTY && typeof s.columns === 'number' && s.columns > 0;
}

/**
 * The stream handed to ora: the real one, except that a width of 0 (or none) reads as 80. ora computes
 * the lines to erase as ceil(width / columns); with 0 columns that is Infinity and ora loops forever
 * writing cursor escapes (a pty resized to 0 mid-run). This proxy makes that impossible.
 */
function widthSafe(s: Stream): Stream {
  return new Proxy(s as object, {
    get(t, p) {
      if (p === 'columns') {
        const c = (t as Stream).columns;
        return typeof c === 'number' && c > 0 ? c : 80;
      }
      const v = Reflect.get(t, p, t) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
    },
  }) as Stream;
}

export interface TerminalIoOptions {
  stdout?: Stream;
  stderr?: Stream;
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean };
  env?: NodeJS.ProcessEnv;
  /** -1 quiet, 0 normal, 1+ verbose */
  verbosity?: number;
  debug?: boolean;
  /** false for --no-color */
  color?: boolean;
  yes?: boolean;
  now?: () => number;
  /** override the spinner decision (tests) */
  spinners?: boolean;
  /**
   * Heartbeat during long waits: a progress line whose text has not changed for this long is repeated as
   * "still ..." (plain mode), at most once per period; default 60 s. With -q, one summary line per
   * quietHeartbeatMs (default 5 min). 0 turns it off.
   */
  heartbeatMs?: number;
  quietHeartbeatMs?: number;
}

/** One progress line's state, kept in every mode (the heartbeat and the board read it). */
interface LineState {
  text: string;
  /** when the line was created / its text last changed */
  started: number;
  changed: number;
  budgetMs?: number;
  phaseStarted?: number;
  done: boolean;
  /** off a TTY, a node's stage events: its root stage and the stages open now (the heartbeat names the last) */
  stages?: { root: string; open: Map<string, OpenStage> };
}

interface OpenStage {
  since: number;
  state: 'start' | 'wait';
  detail?: string;
}

const ansi = (code: number, close: number) => (on: boolean) => (s: string) => (on ? `\x1b[${code}m${s}\x1b[${close}m` : s);
const red = ansi(31, 39);
const yellow = ansi(33, 39);
const green = ansi(32, 39);
const dim = ansi(2, 22);

type OraLike = { text: string; start(): OraLike; stop(): OraLike; clear(): OraLike; render(): OraLike };

export class TerminalIo implements Io {
  readonly verbosity: number;
  readonly debug: boolean;
  readonly color: boolean;
  readonly spinners: boolean;
  private readonly out: Stream;
  private readonly err: Stream;
  private readonly opts: TerminalIoOptions;
  private readonly now: () => number;
  /** plain mode: last text printed per key */
  private readonly lastText = new Map<string, string>();
  /** spinner mode: active lines */
  private readonly active = new Map<string, string>();
  private spinner: OraLike | undefined;
  private spinnerLoading: Promise<void> | undefined;
  private spinnerFailed = false;
  /** every progress line of the run, for the heartbeat and the board's "k/n done" */
  private readonly lines = new Map<string, LineState>();
  private runStarted: number | undefined;
  private beat: NodeJS.Timeout | undefined;
  private lastBeat = 0;
  /** TTY: the open line of each node that emits stage events, and the stage that spans it */
  private readonly stageLines = new Map<string, { line: ProgressLine; root: string }>();

  constructor(opts: TerminalIoOptions = {}) {
    this.opts = opts;
    const env = opts.env ?? process.env;
    this.out = opts.stdout ?? process.stdout;
    this.err = opts.stderr ?? process.stderr;
    this.verbosity = opts.verbosity ?? 0;
    this.debug = !!opts.debug;
    this.color = colorEnabled(env, opts.color, this.err.isTTY);
    this.spinners = opts.spinners ?? (drawable(this.err) && !isCI(env) && !this.debug && env.TERM !== 'dumb');
    this.now = opts.now ?? Date.now;
  }

  private stamp(): string {
    return new Date(this.now()).toISOString().slice(11, 19) + 'Z';
  }

  /** write lines to stderr without tearing an active spinner */
  private writeErr(text: string): void {
    const s = redactText(text.endsWith('\n') ? text : `${text}\n`);
    if (this.spinner) {
      this.spinner.clear();
      this.err.write(s);
      this.spinner.render();
    } else this.err.write(s);
  }

  log(level: LogLevel, msg: string): void {
    if (level === 'debug' && this.verbosity < 1 && !this.debug) return;
    if (level === 'info' && this.verbosity < 0) return;
    const prefix =
      level === 'error' ? red(this.color)('error: ') : level === 'warn' ? yellow(this.color)('warning: ') : level === 'debug' ? dim(this.color)('debug: ') : '';
    this.writeErr(`${prefix}${msg}`);
  }

  trace(msg: string): void {
    if (!this.debug) return;
    this.writeErr(dim(this.color)(`trace: ${msg}`));
  }

  result(text: string): void {
    const s = redactText(text);
    this.out.write(s.endsWith('\n') || s === '' ? s : `${s}\n`);
  }

  async confirm(question: string, def: boolean): Promise<boolean> {
    if (this.opts.yes) return true;
    const stdin = this.opts.stdin ?? process.stdin;
    if (!stdin.isTTY) return def;
    const { createInterface } = await import('node:readline/promises');
    const rl = createInterface({ input: stdin, output: this.err as NodeJS.WritableStream });
    try {
      // the choice is shown once, whether or not the caller wrote it into the question
      const q = question.replace(/\s*\[(y\/N|Y\/n|y\/n)\]\s*$/, '');
      const a = (await rl.question(`${q} ${def ? '[Y/n]' : '[y/N]'} `)).trim().toLowerCase();
      return a === '' ? def : a === 'y' || a === 'yes';
    } finally {
      rl.close();
    }
  }

  // ---- lifecycle stage events ----

  stage(e: StageEvent): void {
    const text = describeStage(e);
    const key = e.node || 'kadd';
    if (!this.useSpinner()) {
      this.trackStage(key, e);
      if (this.verbosity < 0 && e.state !== 'failed') return;
      this.writeErr(`${this.stamp()} ${key}: ${text}`);
      return;
    }
    const open = this.stageLines.get(key);
    if (!open) {
      if (e.state === 'start' || e.state === 'wait') this.stageLines.set(key, { line: this.progress(key, text), root: e.stage });
      else if (e.state === 'failed' || this.verbosity >= 0) this.writeErr(`${e.state === 'failed' ? red(this.color)('✖') : green(this.color)('✔')} ${key}: ${text}`);
      return;
    }
    if (e.stage !== open.root || e.state === 'start' || e.state === 'wait') {
      open.line.update(text);
      return;
    }
    this.stageLines.delete(key);
    if (e.state === 'failed') open.line.fail(text);
    else if (e.state === 'skipped') open.line.warn(text);
    else open.line.succeed(text);
  }

  /**
   * Off a TTY: a node's open stages, kept as one line of the run so the heartbeat covers it (a 10-minute join
   * is not silent). The line opens with the node's first started stage (its root) and ends with it.
   */
  private trackStage(key: string, e: StageEvent): void {
    const now = this.now();
    let l = this.lines.get(key);
    if (!l?.stages || l.done) {
      if (e.state !== 'start' && e.state !== 'wait') return;
      this.runStarted ??= now;
      l = { text: describeStage(e), started: now, changed: now, done: false, stages: { root: e.stage, open: new Map() } };
      this.lines.set(key, l);
      this.ensureHeartbeat();
    }
    const st = l.stages!;
    l.text = describeStage(e);
    l.changed = now;
    if (e.state === 'start' || e.state === 'wait') {
      const was = st.open.get(e.stage);
      st.open.delete(e.stage); // re-inserted last: the heartbeat names the stage that moved last
      st.open.set(e.stage, { since: e.state === 'start' ? now : (was?.since ?? now - e.elapsedMs), state: e.state, detail: e.detail ?? was?.detail });
      return;
    }
    st.open.delete(e.stage);
    if (e.stage === st.root) l.done = true;
  }

  /** an open stage's heartbeat text: `join still running after 5m: up to 1200s` */
  private stageNote(l: LineState, now: number): string | undefined {
    const open = [...(l.stages?.open ?? [])];
    const [stage, o] = open.filter(([s]) => s !== l.stages!.root).at(-1) ?? open.at(-1) ?? [];
    if (!stage || !o) return undefined;
    return `${stage} still ${o.state === 'wait' ? 'waiting' : 'running'} after ${formatElapsed(now - o.since)}${o.detail ? `: ${o.detail}` : ''}`;
  }

  // ---- progress ----

  private renderBoard(): string {
    const body = [...this.active].map(([k, t]) => `${k}: ${t}`).join('\n');
    if (this.lines.size < 2 || this.runStarted === undefined) return body;
    const done = [...this.lines.values()].filter((l) => l.done).length;
    return `${done}/${this.lines.size} done, ${formatElapsed(this.now() - this.runStarted)}\n${body}`;
  }

  private ensureSpinner(): void {
    if (this.spinner || this.spinnerLoading || this.spinnerFailed) return;
    this.spinnerLoading = import('ora')
      .then((m) => {
        if (this.active.size === 0) return;
        this.spinner = (m.default as unknown as (o: object) => OraLike)({
          stream: widthSafe(this.err),
          text: redactText(this.renderBoard()),
          color: this.color ? 'cyan' : false,
          isEnabled: true,
          discardStdin: false,
        }).start();
      })
      .catch(() => {
        this.spinnerFailed = true;
        for (const [k, t] of this.active) this.plain(k, t, true);
      })
      .finally(() => {
        this.spinnerLoading = undefined;
      });
  }

  /** wait for a lazily loading spinner (tests, and before exit) */
  async settle(): Promise<void> {
    await this.spinnerLoading;
  }

  /** stop any spinner (before printing a result or exiting) */
  stop(): void {
    this.spinner?.stop();
    this.spinner = undefined;
    this.active.clear();
    this.stageLines.clear();
    if (this.beat) clearInterval(this.beat);
    this.beat = undefined;
  }

  // ---- heartbeat and board ----

  private heartbeatMs(): number {
    return this.verbosity < 0 ? (this.opts.quietHeartbeatMs ?? 300_000) : (this.opts.heartbeatMs ?? 60_000);
  }

  private ensureHeartbeat(): void {
    if (this.beat || this.heartbeatMs() <= 0) return;
    this.lastBeat = this.now();
    // a 1 s tick: refreshes the board's elapsed time on a TTY, and checks the heartbeat period
    const tickMs = Math.min(1000, this.heartbeatMs());
    this.beat = setInterval(() => this.tick(), tickMs);
    this.beat.unref?.();
  }

  /** one tick of the heartbeat timer (public for tests) */
  tick(): void {
    const now = this.now();
    const open = [...this.lines].filter(([, l]) => !l.done);
    if (open.length === 0) {
      if (this.beat) clearInterval(this.beat);
      this.beat = undefined;
      return;
    }
    if (this.spinner) {
      this.spinner.text = redactText(this.renderBoard());
      this.spinner.render();
    }
    const period = this.heartbeatMs();
    if (now - this.lastBeat < period) return;
    this.lastBeat = now;
    if (this.verbosity < 0) {
      // -q: one summary line at a low rate, so a long quiet run is not mistaken for a hang
      const done = this.lines.size - open.length;
      const [k, l] = open.reduce((a, b) => (b[1].changed < a[1].changed ? b : a));
      const what = l.stages ? (this.stageNote(l, now) ?? l.text).replace(' still ', ' ') : `${l.text}${this.budgetNote(l, now)}`;
      this.writeErr(`${this.stamp()} still working (${formatElapsed(now - (this.runStarted ?? now))}): ${done}/${this.lines.size} done; ${k}: ${what}`);
      return;
    }
    if (this.useSpinner()) return; // the board shows it live
    // a node with a progress line of its own open (`demo-master-2:registered`, `drain:demo-node-3`) already has
    // that line's heartbeat
    const beating = (node: string) => open.some(([k, l]) => !l.stages && k.split(':').includes(node));
    for (const [k, l] of open) {
      if (now - l.changed < period) continue;
      if (!l.stages) this.writeErr(`${this.stamp()} ${k}: still ${l.text}${this.budgetNote(l, now)}`);
      else if (!beating(k)) {
        const note = this.stageNote(l, now);
        if (note) this.writeErr(`${this.stamp()} ${k}: ${note}`);
      }
    }
  }

  private budgetNote(l: LineState, now: number): string {
    if (l.budgetMs && l.phaseStarted !== undefined) return ` (${formatElapsed(now - l.phaseStarted)} of ${formatElapsed(l.budgetMs)})`;
    return ` (for ${formatElapsed(now - l.changed)})`;
  }

  private plain(key: string, text: string, force = false): void {
    if (!force && this.lastText.get(key) === text) return;
    this.lastText.set(key, text);
    this.writeErr(`${this.stamp()} ${key}: ${text}`);
  }

  private useSpinner(): boolean {
    if (this.spinners && !this.spinnerFailed && this.opts.spinners === undefined && !drawable(this.err)) {
      // the terminal went to 0 columns mid-run: drop to plain lines for the rest of the run
      this.spinnerFailed = true;
      const lines = [...this.active];
      this.spinner?.stop();
      this.spinner = undefined;
      this.active.clear();
      for (const [k, t] of lines) this.plain(k, t, true);
    }
    return this.spinners && !this.spinnerFailed;
  }

  private finish(key: string, mark: string, text: string | undefined, show: boolean): void {
    const t = text ?? this.active.get(key) ?? this.lastText.get(key) ?? '';
    if (this.useSpinner()) {
      this.active.delete(key);
      if (this.spinner) {
        this.spinner.text = redactText(this.renderBoard());
        if (this.active.size === 0) {
          this.spinner.stop();
          this.spinner = undefined;
        }
      }
      if (show) this.writeErr(`${mark} ${key}: ${t}`);
    } else if (show) {
      this.lastText.delete(key);
      this.writeErr(`${this.stamp()} ${key}: ${mark} ${t}`.replace(/ +$/, ''));
    }
  }

  progress(key: string, text: string, opts?: { budgetMs?: number }): ProgressLine {
    const quiet = this.verbosity < 0;
    const c = this.color;
    let done = false;
    const now = this.now();
    this.runStarted ??= now;
    const state: LineState = { text, started: now, changed: now, done: false };
    this.lines.set(key, state);
    this.ensureHeartbeat();
    const update = (t: string, o?: { budgetMs?: number }) => {
      if (done) return;
      if (t !== state.text) {
        state.text = t;
        state.changed = this.now();
      }
      if (o?.budgetMs !== undefined) {
        // a new budget starts a new phase: "5m of 20m" counts from here
        state.budgetMs = o.budgetMs;
        state.phaseStarted = this.now();
      }
      if (quiet) return;
      if (this.useSpinner()) {
        this.active.set(key, t);
        if (this.spinner) this.spinner.text = redactText(this.renderBoard());
        else this.ensureSpinner();
      } else this.plain(key, t);
    };
    update(text, opts);
    // the mark is chosen when the line ends: the terminal may have lost its spinner since
    const end = (spin: string, plain: string, show: boolean) => (t?: string) => {
      if (done) return;
      done = true;
      state.done = true;
      this.finish(key, this.useSpinner() ? spin : plain, t, show);
    };
    return {
      update,
      succeed: end(green(c)('✔'), 'ok:', !quiet),
      fail: end(red(c)('✖'), 'FAILED:', true),
      warn: end(yellow(c)('⚠'), 'WARNING:', true),
    };
  }
}

/** One stage event as text: `drain start`, `drain done after 3s: 2 evicted`, `server failed after 1m: ...` */
export function describeStage(e: StageEvent): string {
  const after = e.state === 'done' || e.state === 'failed' ? ` after ${formatElapsed(e.elapsedMs)}` : e.state === 'wait' && e.elapsedMs ? ` (${formatElapsed(e.elapsedMs)})` : '';
  const word = e.state === 'wait' ? 'waiting' : e.state;
  return `${e.stage} ${word}${after}${e.detail ? `: ${e.detail}` : ''}`;
}

/** 45s, 5m, 1h20m: elapsed time in heartbeats and on the board */
export function formatElapsed(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  if (total < 60) return `${total}s`;
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = total % 60;
  if (h) return `${h}h${m ? `${m}m` : ''}`;
  return `${m}m${sec ? `${sec}s` : ''}`;
}

// ---------------------------------------------------------------------------------------------
// result formatting

export interface TableColumn {
  key: string;
  header?: string;
  get?: (row: Record<string, unknown>) => unknown;
}

export interface TableSpec {
  columns: TableColumn[];
}

export interface RenderOptions {
  /** replace secret-looking keys (default true) */
  redactKeys?: boolean;
  /** -c/--column: only these keys (dotted for nested ones), in this order */
  columns?: string[];
}

/** -c/--column as given (repeatable, or comma-separated) -> a list, or undefined. */
export function columnsOf(c: unknown): string[] | undefined {
  if (c === undefined || c === null || c === '') return undefined;
  const list = (Array.isArray(c) ? c : [c]).flatMap((x) => String(x).split(',')).map((x) => x.trim()).filter(Boolean);
  return list.length ? list : undefined;
}

function pick(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (!cur || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function keysOf(value: unknown): string[] {
  if (Array.isArray(value)) return [...new Set(value.flatMap((r) => (r && typeof r === 'object' ? Object.keys(r) : [])))];
  return value && typeof value === 'object' ? flatten(value as Record<string, unknown>).map(([k]) => k) : [];
}

/** Keep only `columns` (refusing unknown ones, with the list of known ones). */
function selectColumns(value: unknown, columns: string[]): unknown {
  const known = new Set([...keysOf(value), ...(value && typeof value === 'object' && !Array.isArray(value) ? Object.keys(value) : [])]);
  const rows = Array.isArray(value) ? value : [value];
  const bad = columns.filter((c) => !known.has(c) && !rows.some((r) => pick(r, c) !== undefined));
  if (bad.length && (known.size > 0 || rows.length > 0)) {
    throw new UsageError(`unknown column${bad.length > 1 ? 's' : ''} ${bad.map((b) => JSON.stringify(b)).join(', ')}`, {
      hint: `columns: ${[...known].join(', ')}`,
    });
  }
  const one = (r: unknown) => Object.fromEntries(columns.map((c) => [c, pick(r, c) ?? null]));
  return Array.isArray(value) ? value.map(one) : one(value);
}

function cell(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (Array.isArray(v)) return v.map(cell).join(', ');
  if (typeof v === 'object') return Object.keys(v).length ? JSON.stringify(v) : '';
  return String(v);
}

function flatten(obj: Record<string, unknown>, prefix = '', out: [string, unknown][] = []): [string, unknown][] {
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length) flatten(v as Record<string, unknown>, key, out);
    else out.push([key, v]);
  }
  return out;
}

/** Aligned columns, two spaces apart, upper-case headers; trailing spaces trimmed. */
export function formatTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').replace(/\s+$/, '');
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

/** Render with the command line's -f/-o and -c. */
export function renderFor(argv: { format?: OutputFormat; column?: unknown }, data: unknown, spec?: TableSpec, opts: RenderOptions = {}): string {
  return renderResult(data, argv.format ?? 'table', spec, { ...opts, columns: opts.columns ?? columnsOf(argv.column) });
}

/**
 * Render a command's result in the chosen format. Arrays become one row per element (columns from
 * `spec` or from the keys); a single object becomes KEY/VALUE rows with nested keys dotted.
 */
export function renderResult(data: unknown, format: OutputFormat, spec?: TableSpec, opts: RenderOptions = {}): string {
  let value = opts.redactKeys === false ? data : redactValue(data);
  if (opts.columns?.length) value = selectColumns(value, opts.columns);
  switch (format) {
    case 'value': {
      // as python-openstackclient's -f value: no headers, values separated by spaces, one row per line
      if (Array.isArray(value)) {
        return value.map((r) => (r && typeof r === 'object' ? Object.values(r as object).map(cell).join(' ') : cell(r))).join('\n') + (value.length ? '\n' : '');
      }
      if (value && typeof value === 'object') return flatten(value as Record<string, unknown>).map(([, v]) => cell(v)).join('\n') + '\n';
      return `${cell(value)}\n`;
    }
    case 'json':
      return JSON.stringify(value, null, 2) + '\n';
    case 'yaml':
      { const y = dump(value, { lineWidth: -1, noRefs: true }); return y.endsWith('\n') ? y : `${y}\n`; }
    case 'table': {
      if (Array.isArray(value)) {
        const rows = value as Record<string, unknown>[];
        const cols: TableColumn[] =
          (opts.columns ? undefined : spec?.columns) ?? [...new Set(rows.flatMap((r) => (r && typeof r === 'object' ? Object.keys(r) : [])))].map((key) => ({ key }));
        return formatTable(
          cols.map((c) => (c.header ?? c.key).toUpperCase()),
          rows.map((r) => cols.map((c) => cell(c.get ? c.get(r) : r?.[c.key]))),
        );
      }
      if (value && typeof value === 'object') {
        return formatTable(['KEY', 'VALUE'], flatten(value as Record<string, unknown>).map(([k, v]) => [k, cell(v)]));
      }
      return `${cell(value)}\n`;
    }
    default:
      throw new Error(`unknown format ${String(format)}`);
  }
}
