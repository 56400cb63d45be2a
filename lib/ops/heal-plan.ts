/**
 * kadd heal: the pure half (issue 15; research/remove-replace.md sections 1, 6 and "heal").
 * No I/O: a function of the request, one observed snapshot and the clock's `now`, so every rule has a unit
 * test (test/ops/heal-plan.test.ts) and the default (no --apply) run shows exactly what --apply would do.
 *
 * Rules (anchors: Cluster API MachineHealthCheck and KCP remediation, Gardener MCM, magnum-auto-healer):
 * - Detection, each condition held for `unhealthyFor` (default 5m), measured from the Node's Ready
 *   lastTransitionTime (server: Nova's `updated`): Ready False/Unknown; server ERROR/SHUTOFF.
 *   A server missing under a Node is conclusive at once (CAPI remediates a Machine whose infrastructure is
 *   gone without waiting). A server without a Node is "starting" until `startupTimeout` (default 10m, CAPI's
 *   nodeStartupTimeout) after its creation, then NeverJoined. Masters also: apiserver /readyz failing,
 *   an etcd alarm, a missing or unstarted member.
 * - Never touched: Nodes younger than `graceAfterAdd` (default 20m, magnum-auto-healer), Nodes annotated
 *   kadd.io/heal=skip. (The cluster lock is taken by the command, not here.)
 * - Storm limits: more unhealthy than `maxUnhealthyPercent` of the machines (rounded down, as CAPI), or a
 *   count outside `unhealthyRange` -> nothing is done, reason TooManyUnhealthy (a partition must not become
 *   a mass replacement). At most `maxInFlight` (default 1, MCM meltdown protection) nodes per run; at most
 *   one master per run whatever maxInFlight says.
 * - Masters (KCP): more than one master; none provisioning; healthy etcd members remaining >= quorum of the
 *   membership after the removal; most broken first: no Node, then etcd problems, then control-plane
 *   components, then oldest. A dead master is always replaced remove-first.
 * - Retry limits (KCP): the replacement (or the rebooted node) carries kadd.io/heal-last (ISO time) and
 *   kadd.io/heal-retries. A node failing again less than `minHealthyPeriod` (default 1h) after its last
 *   remediation is a retry: refused when retries would exceed `maxRetry` (default 0: report, do not loop),
 *   or while `retryPeriod` has not passed since the last remediation.
 */
import { parseDurationMs } from '../duration.js';
import { UsageError } from '../errors.js';
import type { Role } from './naming.js';

export const HEAL_SKIP_ANNOTATION = 'kadd.io/heal';
export const HEAL_LAST_ANNOTATION = 'kadd.io/heal-last';
export const HEAL_RETRIES_ANNOTATION = 'kadd.io/heal-retries';

// ------------------------------------------------------------------------------------------------
// inputs

export interface HealRequest {
  unhealthyForSec: number;
  startupTimeoutSec: number;
  graceAfterAddSec: number;
  /** percent of machines; ignored when unhealthyRange is given */
  maxUnhealthyPercent: number;
  unhealthyRange?: [number, number];
  maxInFlight: number;
  maxRetry: number;
  retryPeriodSec: number;
  minHealthyPeriodSec: number;
  rebootFirst: boolean;
}

export const HEAL_DEFAULTS: HealRequest = {
  unhealthyForSec: 300,
  startupTimeoutSec: 600,
  graceAfterAddSec: 1200,
  maxUnhealthyPercent: 40,
  maxInFlight: 1,
  maxRetry: 0,
  retryPeriodSec: 0,
  minHealthyPeriodSec: 3600,
  rebootFirst: false,
};

export interface HealMachine {
  name: string;
  role: Role;
  /** absent: no server of that name in Nova */
  server?: { id: string; status: string; created?: string; updated?: string; taskState?: string };
  /** absent: no Node of that name */
  node?: {
    ready: 'True' | 'False' | 'Unknown';
    /** the Ready condition's lastTransitionTime */
    readySince?: string;
    created?: string;
    annotations: Record<string, string>;
  };
  /** masters: the etcd member; absent when etcd was read and has no member for it */
  member?: { started: boolean; healthy: boolean; alarms: string[] };
  /** masters: GET /readyz of this master's own API server, through the node proxy (undefined: not checked) */
  apiserverReady?: boolean;
  /** what the failing /readyz said */
  apiserverDetail?: string;
}

export interface HealObserved {
  cluster: string;
  /** ISO time of the snapshot */
  now: string;
  machines: HealMachine[];
  /** false when etcd could not be read (master decisions are then refused, not guessed) */
  etcdKnown: boolean;
  /** why etcd was not read, when it was not (e.g. the report without --allow-adder) */
  etcdNote?: string;
  /**
   * master changes under way outside what the machines show: an unfinished kadd operation on masters in the
   * journal, the cluster lock held by another kadd, an etcd learner (a join in progress); each one line
   */
  masterChanges?: string[];
  /** nodes this run healed already (an unfinished replace it finished first): they count against maxInFlight */
  inFlight?: number;
  /** Nova/Cinder/Neutron have room for one more worker like the victim (surge); false -> remove-first */
  surgeQuota: boolean;
}

// ------------------------------------------------------------------------------------------------
// outputs

export type HealState = 'healthy' | 'starting' | 'unhealthy';
export type HealAction = 'none' | 'wait' | 'skip' | 'refuse' | 'defer' | 'replace' | 'reboot-then-replace';

export interface HealDecision {
  name: string;
  role: Role;
  state: HealState;
  /** why it is unhealthy (or starting), e.g. "Ready=Unknown for 6m0s" */
  problems: string[];
  action: HealAction;
  /** one-word reason for the action: Healthy, Starting, NotLongEnough, Skip annotation... */
  reason: string;
  detail: string;
  /** replace actions: surge or remove-first */
  strategy?: 'surge' | 'remove-first';
  /** the retry counter the replacement (or rebooted node) is annotated with */
  retries?: number;
  /** reboot-then-replace: the Nova reboots, in order (a server in ERROR: HARD only, Nova refuses SOFT there) */
  reboots?: ('SOFT' | 'HARD')[];
}

export interface HealPlan {
  cluster: string;
  now: string;
  total: number;
  unhealthy: number;
  /** TooManyUnhealthy when the storm limit tripped */
  stormReason?: string;
  /** etcd was not read, and why */
  etcdNote?: string;
  decisions: HealDecision[];
  /** the nodes --apply acts on, in order */
  actions: string[];
}

// ------------------------------------------------------------------------------------------------
// request validation (exit 2, no API call)

/** "5m", "90s", "1h", "2h30m" or plain seconds -> seconds (the one duration grammar, lib/duration.ts) */
export function parseDuration(flag: string, v: string | number): number {
  const ms = typeof v === 'number' ? v * 1000 : parseDurationMs(String(v));
  if (ms === undefined || !Number.isFinite(ms) || ms < 0) {
    throw new UsageError(`${flag} must be a duration like 5m, 90s or 1h, got ${JSON.stringify(String(v).trim())}`);
  }
  return ms / 1000;
}

export function parsePercent(flag: string, v: string | number): number {
  const s = String(v).trim().replace(/%$/, '');
  const n = Number(s);
  if (s === '' || !Number.isFinite(n) || n < 0 || n > 100) throw new UsageError(`${flag} must be a percentage 0-100 (e.g. 40%), got ${JSON.stringify(String(v))}`);
  return n;
}

export function parseRange(flag: string, v: string): [number, number] {
  const m = /^\[?(\d+)-(\d+)\]?$/.exec(String(v).trim());
  if (!m) throw new UsageError(`${flag} must be a range like 1-3 (unhealthy node counts), got ${JSON.stringify(v)}`);
  const a = Number(m[1]), b = Number(m[2]);
  if (a > b) throw new UsageError(`${flag}: the lower bound ${a} is above the upper bound ${b}`);
  return [a, b];
}

export function validateHealRequest(req: HealRequest): void {
  if (!Number.isInteger(req.maxInFlight) || req.maxInFlight < 1) throw new UsageError(`--max-in-flight must be a whole number >= 1, got ${req.maxInFlight}`);
  if (!Number.isInteger(req.maxRetry) || req.maxRetry < 0) throw new UsageError(`--max-retry must be a whole number >= 0, got ${req.maxRetry}`);
  for (const [flag, v] of [['--unhealthy-for', req.unhealthyForSec], ['--startup-timeout', req.startupTimeoutSec], ['--grace-after-add', req.graceAfterAddSec], ['--retry-period', req.retryPeriodSec], ['--min-healthy-period', req.minHealthyPeriodSec]] as const) {
    if (!Number.isFinite(v) || v < 0) throw new UsageError(`${flag} must be a duration >= 0, got ${v}`);
  }
}

// ------------------------------------------------------------------------------------------------
// helpers

export function fmtAge(sec: number): string {
  const s = Math.max(0, Math.floor(sec));
  if (s >= 3600) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 60)}m${s % 60}s`;
}

function since(now: number, iso: string | undefined): number | undefined {
  if (!iso) return undefined;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? undefined : (now - t) / 1000;
}

function quorum(n: number): number { return Math.floor(n / 2) + 1; }

/** master brokenness rank: 0 no Node, 1 etcd problems, 2 control-plane components, 3 other */
function masterRank(m: HealMachine, etcdKnown: boolean): number {
  if (!m.node) return 0;
  if (etcdKnown && (!m.member || !m.member.started || !m.member.healthy || m.member.alarms.length > 0)) return 1;
  if (m.apiserverReady === false) return 2;
  return 3;
}

/** another master in the middle of a change (KCP: no machine being provisioned or deleted), one line each */
function transitional(o: HealMachine): string[] {
  if (o.server?.status === 'BUILD') return [`server ${o.name} is BUILD`];
  if (o.server?.taskState === 'deleting' || o.server?.status === 'DELETED') return [`server ${o.name} is being deleted`];
  if (o.node && !o.server) return [`Node ${o.name} has no server (being removed)`];
  return [];
}

function age(m: HealMachine): number {
  const t = Date.parse(m.node?.created ?? m.server?.created ?? '');
  return Number.isNaN(t) ? Number.MAX_SAFE_INTEGER : t;
}

// ------------------------------------------------------------------------------------------------
// detection

export interface Detected { state: HealState; problems: string[]; held: boolean; dead: boolean; startingFor?: number }

export function detect(m: HealMachine, req: HealRequest, now: number, etcdKnown: boolean): Detected {
  const problems: string[] = [];
  let held = false;
  let dead = false;
  const hold = (label: string, sec: number | undefined) => {
    // no transition time known: count it as held from now (conservative: never acts on it this run)
    const s = sec ?? 0;
    problems.push(`${label} for ${fmtAge(s)}`);
    if (s >= req.unhealthyForSec) held = true;
  };

  if (m.node && !m.server) {
    problems.push('server missing in Nova');
    held = true; dead = true;
  }
  if (m.server && (m.server.status === 'ERROR' || m.server.status === 'SHUTOFF')) {
    hold(`server ${m.server.status}`, since(now, m.server.updated));
    dead = true;
  }
  if (!m.node && m.server) {
    const a = since(now, m.server.created) ?? 0;
    if (a < req.startupTimeoutSec && problems.length === 0) return { state: 'starting', problems: [`no Node yet, server ${fmtAge(a)} old (startup timeout ${fmtAge(req.startupTimeoutSec)})`], held: false, dead: false, startingFor: a };
    if (a >= req.startupTimeoutSec) { problems.push(`never joined: no Node ${fmtAge(a)} after the server was created`); held = true; }
  }
  if (m.node && m.node.ready !== 'True') {
    hold(`Ready=${m.node.ready}`, since(now, m.node.readySince));
  }
  if (m.role === 'master' && m.node) {
    if (etcdKnown) {
      if (!m.member) problems.push('etcd member missing');
      else {
        if (!m.member.started) problems.push('etcd member not started');
        else if (!m.member.healthy) problems.push('etcd member unhealthy');
        if (m.member.alarms.length) problems.push(`etcd alarm ${m.member.alarms.join(',')}`);
      }
    }
    if (m.apiserverReady === false) problems.push(`apiserver /readyz failing${m.apiserverDetail ? ` (${m.apiserverDetail})` : ''}`);
    // master-only problems without a NotReady Node: held once the Node is past its grace (no transition time
    // exists for them; one run sees one snapshot, so they count as held, as KCP's MHC-less checks do)
    if (problems.length > 0 && m.node.ready === 'True') held = true;
  }
  if (problems.length === 0) return { state: 'healthy', problems, held: false, dead: false };
  return { state: 'unhealthy', problems, held, dead };
}

// ------------------------------------------------------------------------------------------------
// the plan

export function planHeal(req: HealRequest, obs: HealObserved): HealPlan {
  const now = Date.parse(obs.now);
  const decisions: HealDecision[] = [];
  const det = new Map<string, Detected>();
  for (const m of obs.machines) det.set(m.name, detect(m, req, now, obs.etcdKnown));

  const total = obs.machines.length;
  const unhealthyNames = obs.machines.filter((m) => det.get(m.name)!.state === 'unhealthy' && det.get(m.name)!.held).map((m) => m.name);
  const unhealthy = unhealthyNames.length;

  let stormReason: string | undefined;
  if (req.unhealthyRange) {
    const [a, b] = req.unhealthyRange;
    if (unhealthy > 0 && (unhealthy < a || unhealthy > b)) stormReason = `TooManyUnhealthy: ${unhealthy} of ${total} unhealthy, outside --unhealthy-range ${a}-${b}; nothing done (a partition must not become a mass replacement)`;
  } else {
    const allowed = Math.floor((total * req.maxUnhealthyPercent) / 100);
    if (unhealthy > allowed) stormReason = `TooManyUnhealthy: ${unhealthy} of ${total} unhealthy, more than --max-unhealthy ${req.maxUnhealthyPercent}% (${allowed}); nothing done (a partition must not become a mass replacement)`;
  }

  const masters = obs.machines.filter((m) => m.role === 'master');
  const candidates: HealDecision[] = [];

  for (const m of obs.machines) {
    const d = det.get(m.name)!;
    const base = { name: m.name, role: m.role, state: d.state, problems: d.problems };
    if (d.state === 'healthy') { decisions.push({ ...base, action: 'none', reason: 'Healthy', detail: 'healthy' }); continue; }
    if (d.state === 'starting') { decisions.push({ ...base, action: 'wait', reason: 'Starting', detail: `left alone until the startup timeout (${fmtAge(req.startupTimeoutSec - (d.startingFor ?? 0))} left)` }); continue; }
    if (m.node?.annotations[HEAL_SKIP_ANNOTATION] === 'skip') { decisions.push({ ...base, action: 'skip', reason: 'SkipAnnotation', detail: `annotated ${HEAL_SKIP_ANNOTATION}=skip; never touched` }); continue; }
    const nodeAge = since(now, m.node?.created);
    if (m.node && nodeAge !== undefined && nodeAge < req.graceAfterAddSec) { decisions.push({ ...base, action: 'skip', reason: 'GraceAfterAdd', detail: `Node is ${fmtAge(nodeAge)} old, inside --grace-after-add ${fmtAge(req.graceAfterAddSec)}` }); continue; }
    if (!d.held) { decisions.push({ ...base, action: 'wait', reason: 'NotLongEnough', detail: `not unhealthy for --unhealthy-for ${fmtAge(req.unhealthyForSec)} yet` }); continue; }
    if (stormReason) { decisions.push({ ...base, action: 'refuse', reason: 'TooManyUnhealthy', detail: stormReason }); continue; }

    // retry limits, carried by the node from its last remediation
    const last = since(now, m.node?.annotations[HEAL_LAST_ANNOTATION]);
    const prevRetries = Number(m.node?.annotations[HEAL_RETRIES_ANNOTATION] ?? 0) || 0;
    let retries = 0;
    if (last !== undefined && last < req.minHealthyPeriodSec) {
      retries = prevRetries + 1;
      if (retries > req.maxRetry) { decisions.push({ ...base, action: 'refuse', reason: 'RetryLimit', detail: `failed again ${fmtAge(last)} after its last remediation (inside --min-healthy-period ${fmtAge(req.minHealthyPeriodSec)}); retry ${retries} > --max-retry ${req.maxRetry}; needs a human`, retries }); continue; }
      if (last < req.retryPeriodSec) { decisions.push({ ...base, action: 'wait', reason: 'RetryPeriod', detail: `last remediated ${fmtAge(last)} ago; --retry-period ${fmtAge(req.retryPeriodSec)} not over`, retries }); continue; }
    }

    if (m.role === 'master') {
      if (!obs.etcdKnown) { decisions.push({ ...base, action: 'refuse', reason: 'EtcdUnknown', detail: `${obs.etcdNote ?? 'etcd could not be read through a healthy member'}; a master is never replaced blind` }); continue; }
      if (masters.length <= 1) { decisions.push({ ...base, action: 'refuse', reason: 'OnlyMaster', detail: 'the only master; replacing it would take the control plane down (restore from backup instead)' }); continue; }
      const provisioning = masters.filter((o) => o.name !== m.name && det.get(o.name)!.state === 'starting');
      if (provisioning.length) { decisions.push({ ...base, action: 'refuse', reason: 'MasterProvisioning', detail: `master ${provisioning.map((o) => o.name).join(', ')} is still provisioning` }); continue; }
      const changing = [...masters.filter((o) => o.name !== m.name).flatMap(transitional), ...(obs.masterChanges ?? [])];
      if (changing.length) { decisions.push({ ...base, action: 'refuse', reason: 'MasterChangeInProgress', detail: `a master is being provisioned or removed: ${changing.join('; ')}; next run, once it is over` }); continue; }
      const members = masters.filter((o) => o.member).length;
      const after = m.member ? members - 1 : members;
      const healthyRemaining = masters.filter((o) => o.name !== m.name && o.member && o.member.started && o.member.healthy).length;
      if (healthyRemaining < quorum(after)) { decisions.push({ ...base, action: 'refuse', reason: 'QuorumAfterRemoval', detail: `${healthyRemaining} healthy etcd member(s) would remain of ${after}, quorum needs ${quorum(after)}` }); continue; }
    }

    const strategy: 'surge' | 'remove-first' = m.role === 'master' ? 'remove-first' : obs.surgeQuota ? 'surge' : 'remove-first';
    // the ladder: soft then hard; from ERROR straight to hard (a soft reboot needs a running guest), then replace
    const reboots: ('SOFT' | 'HARD')[] = !req.rebootFirst || !m.server || !m.node ? [] : m.server.status === 'ERROR' ? ['HARD'] : m.server.status === 'ACTIVE' || m.server.status === 'SHUTOFF' ? ['SOFT', 'HARD'] : [];
    const canReboot = reboots.length > 0;
    const action: HealAction = canReboot ? 'reboot-then-replace' : 'replace';
    const why = m.role === 'master' ? 'a dead master is always replaced remove-first' : obs.surgeQuota ? 'quota allows one more worker' : 'no quota for one more worker';
    candidates.push({ ...base, action, reason: 'Unhealthy', detail: `${reboots.length === 2 ? 'soft reboot, hard reboot, then ' : reboots.length ? 'hard reboot (server ERROR: no soft reboot), then ' : ''}replace ${strategy} (${why})`, strategy, retries, ...(canReboot ? { reboots } : {}) });
  }

  // order: masters first, most broken first, then oldest; workers oldest first
  const byName = new Map(obs.machines.map((m) => [m.name, m]));
  candidates.sort((a, b) => {
    const ma = byName.get(a.name)!, mb = byName.get(b.name)!;
    if (a.role !== b.role) return a.role === 'master' ? -1 : 1;
    if (a.role === 'master') {
      const r = masterRank(ma, obs.etcdKnown) - masterRank(mb, obs.etcdKnown);
      if (r !== 0) return r;
    }
    return age(ma) - age(mb) || a.name.localeCompare(b.name);
  });
  const actions: string[] = [];
  let masterTaken = false;
  for (const c of candidates) {
    if (c.role === 'master' && masterTaken) { decisions.push({ ...c, action: 'defer', reason: 'OneMasterPerRun', detail: 'one master per run (etcd changes one member at a time); next run' }); continue; }
    if (actions.length + (obs.inFlight ?? 0) >= req.maxInFlight) { decisions.push({ ...c, action: 'defer', reason: 'MaxInFlight', detail: `--max-in-flight ${req.maxInFlight} reached; next run` }); continue; }
    if (c.role === 'master') masterTaken = true;
    actions.push(c.name);
    decisions.push(c);
  }
  const order = new Map(obs.machines.map((m, i) => [m.name, i]));
  decisions.sort((a, b) => order.get(a.name)! - order.get(b.name)!);
  return { cluster: obs.cluster, now: obs.now, total, unhealthy, ...(stormReason ? { stormReason } : {}), ...(obs.etcdNote ? { etcdNote: obs.etcdNote } : {}), decisions, actions };
}

/** One line per node: what is wrong, why, what heal does. */
export function renderHealPlan(plan: HealPlan, apply: boolean): string[] {
  const lines: string[] = [];
  if (plan.stormReason) lines.push(plan.stormReason);
  if (plan.etcdNote) lines.push(plan.etcdNote);
  for (const d of plan.decisions) {
    const what = d.action === 'replace' || d.action === 'reboot-then-replace' ? (apply ? 'heal: ' : 'would: ') + d.detail : `${d.action} (${d.reason}): ${d.detail}`;
    lines.push(`${d.name} ${d.role} ${d.state}${d.problems.length ? ` [${d.problems.join('; ')}]` : ''} -> ${what}`);
  }
  return lines;
}
