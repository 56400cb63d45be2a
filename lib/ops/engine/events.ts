/**
 * Lifecycle progress events and per-node outcomes (issue 9, "lifecycle steps").
 *
 * A node's life in one operation is a list of stages (cordon, drain, etcd-member, server, node, ...). Each
 * stage emits `StageEvent`s through the Context's Io (`io.stage`): `start`, then `done`, `failed` or
 * `skipped`, and `wait` while it waits for something. The CLI renders them on stderr (lib/cli/output.ts):
 * one plain line per event off a TTY, the node's spinner line on a TTY; never on stdout.
 *
 * The stages a node went through end in one `NodeOutcome` (a discriminated union on `outcome`), which the
 * final `-f json` result lists as `outcomes: [...]` (docs/schemas/node-outcome.json).
 */
import type { Io, StageEvent, StageState } from '../../io.js';
import { describeReaped, type NodeReaper, type Reaped, type Ref, type TeardownOptions } from './ledger.js';

export type { StageEvent, StageState };

/** A finished stage, as it appears in an outcome. */
export interface StageRecord {
  stage: string;
  state: 'done' | 'failed' | 'skipped';
  elapsedMs: number;
  detail?: string;
}

interface OutcomeBase {
  node: string;
  /** the stages the node went through, in order */
  stages: StageRecord[];
}

/** What happened to one node in an operation. */
export type NodeOutcome =
  | (OutcomeBase & { outcome: 'added' })
  | (OutcomeBase & { outcome: 'removed' })
  | (OutcomeBase & { outcome: 'replaced'; by?: string })
  | (OutcomeBase & { outcome: 'rolled-back'; error: string })
  | (OutcomeBase & { outcome: 'failed'; error: string; stage?: string })
  | (OutcomeBase & { outcome: 'skipped'; reason: string })
  | (OutcomeBase & { outcome: 'kept'; reason: string })
  | (OutcomeBase & { outcome: 'paused'; reason: string });

export type OutcomeKind = NodeOutcome['outcome'];

const msg = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** The outcomes of an operation that ended in an exception, kept with that exception (see withOutcomes). */
const failedOutcomes = new WeakMap<object, NodeOutcome[]>();

/**
 * Keeps the per-node outcomes with the error an operation fails with, so the command still prints them
 * (`-f json` on stdout) while the error itself goes to stderr and sets the exit code as before. Returns `e`.
 */
export function withOutcomes<E>(e: E, outcomes: NodeOutcome[]): E {
  if (e && typeof e === 'object') failedOutcomes.set(e, outcomes);
  return e;
}

/** The outcomes withOutcomes kept with this error, if any. */
export function outcomesOf(e: unknown): NodeOutcome[] | undefined {
  return e && typeof e === 'object' ? failedOutcomes.get(e) : undefined;
}

/**
 * The stages of one node: emits the events (with the elapsed time of each stage) and keeps the records
 * for the node's outcome. `root` (optional) is the stage that spans the whole node (`remove`): the TTY
 * renderer closes the node's line when the root ends.
 */
export class NodeStages {
  readonly records: StageRecord[] = [];
  private readonly started = new Map<string, number>();

  constructor(
    private readonly io: Pick<Io, 'stage'>,
    private readonly clock: { now(): number },
    readonly node: string,
  ) {}

  private emit(stage: string, state: StageState, detail?: string): number {
    const t0 = this.started.get(stage);
    const elapsedMs = state === 'start' || t0 === undefined ? 0 : Math.max(0, this.clock.now() - t0);
    this.io.stage?.({ node: this.node, stage, state, elapsedMs, ...(detail ? { detail } : {}) });
    return elapsedMs;
  }

  private end(stage: string, state: StageRecord['state'], detail?: string): void {
    const elapsedMs = this.emit(stage, state, detail);
    this.started.delete(stage);
    this.records.push({ stage, state, elapsedMs, ...(detail ? { detail } : {}) });
  }

  start(stage: string, detail?: string): void {
    this.started.set(stage, this.clock.now());
    this.emit(stage, 'start', detail);
  }

  /** the stage waits for something (a 429 retry, a server still deleting); it stays open */
  wait(stage: string, detail: string): void {
    this.emit(stage, 'wait', detail);
  }

  done(stage: string, detail?: string): void {
    this.end(stage, 'done', detail);
  }

  failed(stage: string, error: string): void {
    this.end(stage, 'failed', error);
  }

  skipped(stage: string, reason: string): void {
    this.end(stage, 'skipped', reason);
  }

  /** the stages the node went through, the root stage (spanning all of them) left out */
  through(root?: string): StageRecord[] {
    return this.records.filter((r) => r.stage !== root);
  }

  /** the last stage that failed, if any */
  failedStage(): string | undefined {
    return [...this.records].reverse().find((r) => r.state === 'failed')?.stage;
  }

  /** start -> fn -> done (with `detail(result)`), or failed (with the error) and rethrow */
  async run<T>(stage: string, fn: () => Promise<T>, detail?: (r: T) => string | undefined, startDetail?: string): Promise<T> {
    this.start(stage, startDetail);
    try {
      const r = await fn();
      this.done(stage, detail?.(r));
      return r;
    } catch (e) {
      this.failed(stage, msg(e));
      throw e;
    }
  }
}

/** A NodeStages that emits nowhere (plans, tests) */
export const silentStages = (node: string): NodeStages => new NodeStages({}, { now: () => 0 }, node);

/**
 * A NodeReaper that reports each node's teardown as one stage (`cleanup` by default) and keeps the
 * per-node outcome: `removed` when everything went (deleted or already gone), `failed` when a delete failed,
 * `kept` when something was refused or kept on purpose. Wraps the reapers a ledger teardown is given, so a
 * verb gets stage events and outcomes without touching the teardown code. Operation-wide refs (node '')
 * are reported as `operation-wide`.
 */
export class TrackingReaper implements NodeReaper {
  private readonly seen = new Map<string, { st: NodeStages; reaped: Reaped[] }>();

  constructor(
    private readonly inner: NodeReaper,
    private readonly io: Pick<Io, 'stage'>,
    private readonly clock: { now(): number },
    private readonly stage = 'cleanup',
  ) {}

  async reapNode(node: string, refs: Ref[], o: TeardownOptions): Promise<Reaped[]> {
    const key = node || 'operation-wide';
    const e = this.seen.get(key) ?? { st: new NodeStages(this.io, this.clock, key), reaped: [] };
    this.seen.set(key, e);
    e.st.start(this.stage, `${refs.length} resource(s)`);
    let reaped: Reaped[];
    try {
      reaped = await this.inner.reapNode(node, refs, o);
    } catch (err) {
      e.st.failed(this.stage, msg(err));
      throw err;
    }
    const n = (s: string) => reaped.filter((x) => x.state === s).length;
    if (n('failed')) e.st.failed(this.stage, reaped.filter((x) => x.state === 'failed').map(describeReaped).join('; '));
    else e.st.done(this.stage, `${n('deleted')} deleted, ${n('absent')} already gone${n('kept') + n('refused') ? `, ${n('kept') + n('refused')} left` : ''}`);
    e.reaped.push(...reaped);
    return reaped;
  }

  outcomes(): NodeOutcome[] {
    return [...this.seen].map(([node, { st, reaped }]) => {
      const stages = st.records;
      const failed = reaped.filter((x) => x.state === 'failed');
      const left = reaped.filter((x) => x.state === 'refused' || x.state === 'kept');
      const failedStage = st.failedStage();
      if (failedStage) {
        const error = failed.length ? failed.map(describeReaped).join('; ') : (stages.find((s) => s.state === 'failed')?.detail ?? 'failed');
        return { node, outcome: 'failed', stages, error, stage: failedStage };
      }
      if (left.length) return { node, outcome: 'kept', stages, reason: left.map(describeReaped).join('; ') };
      return { node, outcome: 'removed', stages };
    });
  }
}
