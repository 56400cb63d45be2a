/**
 * kadd replace: the gates between steps, and the roll's state as the journal records it (pure).
 *
 * Gates (run before every step, again after every step): etcd (every member started and healthy, no learner;
 * when etcd is reachable), control plane (every control-plane Node Ready, /readyz through the load balancer),
 * no Node that was Ready when the roll started is NotReady now, and (version changes) no worker newer than the
 * oldest master. The first failed gate pauses the roll: nothing new starts, the steps in flight finish, the
 * journal keeps every step, and `kadd replace --resume` continues.
 *
 * Journal: every roll step writes step records (Journal.step, as kadd remove does) named `replace` for the
 * old node:
 *   start {strategy}                              before anything of the step happens
 *   done  {phase: removed-old}                    the old node is gone (remove-first: before the add)
 *   done  {phase: adding, new}                    the replacement's name, before it is built (its `kept` server
 *                                                 record, written when it joined, counts as `added`)
 *   done  {phase: added, new, serverId}           the new node is healthy (surge: before the soak)
 *   done  {phase: complete}                       both halves done
 *   done  {phase: failed, cause}                  the step failed (the new node never became healthy: rolled back, old kept)
 * The add's and the remove's own resource and step records go to the same operation.
 * rollState() folds them back into what each old node has been through; resume skips complete steps,
 * finishes half-done ones and starts the rest.
 */
import type { ClusterView } from '../etcd/quorum.js';
import type { JournalRecord } from '../journal/index.js';
import { skewProblem } from './replace-version.js';
import type { Role } from './naming.js';

export const STEP_NAME = 'replace';

// ------------------------------------------------------------------------------------------------
// gates

export interface GateNode { name: string; role: Role; ready: boolean; kubeletVersion?: string }

export interface GateSnapshot {
  nodes: GateNode[];
  /** GET /readyz through the API endpoint (the load balancer) */
  readyz: { ok: boolean; detail?: string };
  /** the member view when etcd was read (masters), an error when it could not be */
  etcd?: ClusterView | { error: string };
}

export type GateName = 'etcd' | 'control-plane' | 'not-ready' | 'skew';
export interface GateResult { gate: GateName; ok: boolean; detail: string }

/**
 * Evaluate every gate. baseline: the Nodes that were Ready when the roll started; ignore: Nodes a step is
 * replacing right now or is about to (the old one is cordoned and drained, a dead one is why the step runs;
 * its disappearance is the point), for its Node and its etcd member. skewVersion:
 * the version workers are being moved to (version changes only).
 */
export function evaluateGates(s: GateSnapshot, baseline: ReadonlySet<string>, opts: { ignore?: string[]; skewVersion?: string; workersNext?: boolean } = {}): GateResult[] {
  const out: GateResult[] = [];
  const ignore = new Set(opts.ignore ?? []);
  if (s.etcd) {
    if ('error' in s.etcd) out.push({ gate: 'etcd', ok: false, detail: `etcd could not be read: ${s.etcd.error}` });
    else {
      // the member of a node being replaced is expected to be unhealthy (a dead master) or to go
      const bad = s.etcd.members.filter((m) => !ignore.has(m.member.name) && (m.member.isLearner || !m.started || !m.healthy));
      const names = bad.map((m) => `${m.member.name || m.member.id} (${m.member.isLearner ? 'learner' : !m.started ? 'never started' : m.reason ?? 'unhealthy'})`);
      out.push(bad.length
        ? { gate: 'etcd', ok: false, detail: `etcd: ${names.join(', ')}` }
        : { gate: 'etcd', ok: true, detail: `etcd: ${s.etcd.members.length} members, all healthy` });
    }
  }
  const cps = s.nodes.filter((n) => n.role === 'master' && !ignore.has(n.name));
  const cpBad = cps.filter((n) => !n.ready).map((n) => n.name);
  if (!s.readyz.ok) out.push({ gate: 'control-plane', ok: false, detail: `the API server is not ready through the load balancer: ${s.readyz.detail ?? 'no answer'}` });
  else if (cpBad.length) out.push({ gate: 'control-plane', ok: false, detail: `control-plane Node${cpBad.length > 1 ? 's' : ''} not Ready: ${cpBad.join(', ')}` });
  else out.push({ gate: 'control-plane', ok: true, detail: `control plane: ${cps.length} master${cps.length === 1 ? '' : 's'} Ready, /readyz ok` });
  const lost = s.nodes.filter((n) => baseline.has(n.name) && !n.ready && !ignore.has(n.name)).map((n) => n.name);
  out.push(lost.length
    ? { gate: 'not-ready', ok: false, detail: `Node${lost.length > 1 ? 's' : ''} Ready when the roll started ${lost.length > 1 ? 'are' : 'is'} NotReady now: ${lost.join(', ')}` }
    : { gate: 'not-ready', ok: true, detail: 'no Node went NotReady' });
  if (opts.skewVersion && opts.workersNext) {
    const p = skewProblem(opts.skewVersion, s.nodes.filter((n) => n.role === 'master').map((n) => n.kubeletVersion));
    out.push(p ? { gate: 'skew', ok: false, detail: p } : { gate: 'skew', ok: true, detail: `every master at ${opts.skewVersion} or newer` });
  }
  return out;
}

export function failedGates(r: GateResult[]): GateResult[] {
  return r.filter((g) => !g.ok);
}

// ------------------------------------------------------------------------------------------------
// the roll in the journal

export type StepPhase = 'start' | 'removed-old' | 'adding' | 'added' | 'complete' | 'failed';

export interface StepState {
  old: string;
  strategy?: string;
  removedOld: boolean;
  /** the new node once it was healthy */
  added?: { name: string; serverId?: string };
  complete: boolean;
  failures: number;
  lastCause?: string;
  /** a step started and neither completed nor failed: the run died or paused in it */
  inFlight: boolean;
  /** the replacement's spec recorded at the start (a resumed step whose old node is gone already uses it) */
  like?: unknown;
  /** the name of the replacement being built (phase adding): its `kept` server record means it joined */
  adding?: string;
}

export interface RollInfo {
  roll: string;
  /** the op ids of the runs of this roll (first, then resumes) */
  ops: string[];
  /** the args of the first run (the request to resume) */
  args: Record<string, unknown>;
  /** did the last run of the roll end ok? */
  finished: boolean;
  lastStatus: 'ok' | 'failed' | 'interrupted' | 'unterminated';
  steps: Map<string, StepState>;
}

/** The latest roll in the journal (begin records with command "replace"), folded from its records. */
export function latestRoll(records: JournalRecord[]): RollInfo | undefined {
  let roll: RollInfo | undefined;
  const opRoll = new Map<string, string>();
  for (const r of records) {
    if (r.t === 'begin' && r.command === 'replace') {
      const rid = typeof r.args.roll === 'string' ? r.args.roll : r.op;
      opRoll.set(r.op, rid);
      if (!roll || roll.roll !== rid) {
        roll = { roll: rid, ops: [r.op], args: r.args, finished: false, lastStatus: 'unterminated', steps: new Map() };
      } else {
        roll.ops.push(r.op);
        roll.finished = false;
        roll.lastStatus = 'unterminated';
      }
      continue;
    }
    if (!roll || opRoll.get(r.op) !== roll.roll) continue;
    // the add keeps the replacement (it joined) just before the step records `added`: a kill -9 between the
    // two must not make the resume build a second replacement
    if (r.t === 'kept' && r.kind === 'server') {
      for (const s of roll.steps.values()) if (s.inFlight && !s.added && s.adding === r.name) s.added = { name: r.name, ...(r.id ? { serverId: r.id } : {}) };
      continue;
    }
    if (r.t === 'end') {
      if (r.op === roll.ops[roll.ops.length - 1]) {
        roll.lastStatus = r.status;
        roll.finished = r.status === 'ok';
      }
      continue;
    }
    if (r.t === 'step' && r.step === STEP_NAME) {
      const details = r.details ?? {};
      const s = roll.steps.get(r.node) ?? { old: r.node, removedOld: false, complete: false, failures: 0, inFlight: false };
      roll.steps.set(r.node, s);
      if (r.state === 'start') {
        s.inFlight = true;
        if (typeof details.strategy === 'string') s.strategy = details.strategy;
        if (details.like && typeof details.like === 'object') s.like = details.like;
      } else {
        const phase = details.phase as StepPhase | undefined;
        if (phase === 'failed') {
          s.failures++;
          s.inFlight = false;
          s.added = undefined;
          if (typeof details.cause === 'string') s.lastCause = details.cause;
        }
        if (phase === 'removed-old') s.removedOld = true;
        if (phase === 'adding' && typeof details.new === 'string') s.adding = details.new;
        if (phase === 'added' && typeof details.new === 'string') s.added = { name: details.new, ...(typeof details.serverId === 'string' ? { serverId: details.serverId } : {}) };
        if (phase === 'complete') {
          s.complete = true;
          s.inFlight = false;
        }
      }
    }
  }
  return roll;
}

/** Steps still to do on resume, in the recorded order: not complete. */
export function remainingSteps(roll: RollInfo, order: string[]): string[] {
  return order.filter((old) => !roll.steps.get(old)?.complete);
}

// ------------------------------------------------------------------------------------------------
// progress

/** Seconds left, from the steps done so far (null before the first completes). slots: steps at once. */
export function etaSeconds(doneDurationsMs: number[], remaining: number, slots: number): number | null {
  if (!doneDurationsMs.length) return null;
  const avg = doneDurationsMs.reduce((a, b) => a + b, 0) / doneDurationsMs.length;
  return Math.round((avg * Math.ceil(remaining / Math.max(1, slots))) / 1000);
}

export function formatDuration(s: number): string {
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}
