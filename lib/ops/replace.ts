/**
 * kadd replace: observe the cluster, and run the roll of a plan (lib/ops/replace-plan.ts) as a composition
 * of two steps it does not implement itself: `add` (a node like the old one: lib/ops/add-workers.ts or
 * lib/ops/add-master.ts) and `remove` (the full gated remove: lib/ops/remove.ts). They are handed in as
 * ReplaceSteps (lib/ops/replace-steps.ts wires the real ones), so the roll logic below -- slots, gates,
 * soak, pause, failures, journal records, progress and ETA -- is one piece whatever adds and removes.
 *
 * One step, surge:        start -> add (healthy) -> soak (the new Node stays Ready, gates pass) -> remove old -> complete
 * One step, remove-first: start -> remove old -> add (healthy) -> complete
 * A new node that never becomes healthy is rolled back by the add itself; the old node is untouched (surge).
 * A surged node that fails its soak is removed again through the gated remove; the old node is untouched.
 *
 * Roll (--all): phases in plan order (control plane first). Masters one at a time. Workers: up to
 * max-surge surge slots and max-unavailable remove-first slots at once, as a MachineDeployment rolls; at
 * most max-surge extra servers exist at any moment. Before a step starts, every gate runs
 * (lib/ops/replace-roll.ts); the first failed gate pauses the roll (in-flight steps finish, nothing new
 * starts, exit 3, `kadd replace --resume`). More than --max-failures failed steps abort it (exit 1).
 */
import type { Context } from '../context.js';
import type { KNode, KubeApi } from '../kube/types.js';
import type { OpenStackClient, Server, Volume } from '../openstack/types.js';
import type { ClusterView } from '../etcd/quorum.js';
import { InterruptedError, KaddError, OperationError } from '../errors.js';
import { indexOf, roleNamePattern, type Role } from './naming.js';
import { memberMatchesNode } from './master-etcd.js';
import { settle } from './observe.js';
import {
  describeStep, type Machine, type NodeSpec, type Phase, type ReplaceObserved, type ReplacePlan, type ReplaceStep,
} from './replace-plan.js';
import { NodeStages, type NodeOutcome } from './engine/events.js';
import { etaSeconds, evaluateGates, failedGates, formatDuration, type GateResult, type GateSnapshot, type StepPhase } from './replace-roll.js';

// ------------------------------------------------------------------------------------------------
// observe

export interface ObserveOptions {
  /** read etcd (masters are replaced): a view through a member other than the targets; `masters`: the master servers seen */
  etcdView?: (masters: string[]) => Promise<ClusterView>;
  defaults: ReplaceObserved['defaults'];
}

function imageOfBootVolume(s: Server, volumes: Map<string, Volume>): string | undefined {
  for (const a of s['os-extended-volumes:volumes_attached'] ?? []) {
    const v = volumes.get(a.id) as (Volume & { volume_image_metadata?: Record<string, string> }) | undefined;
    const name = v?.volume_image_metadata?.image_name;
    if (name) return name;
  }
  return undefined;
}

/** Servers (both roles) and Nodes of the cluster as Machines; a Node and a server match by providerID or exact name. Pure. */
export function machinesOf(cluster: string, servers: Server[], nodes: KNode[], volumes: Volume[], view?: ClusterView): Machine[] {
  const vols = new Map(volumes.map((v) => [v.id, v]));
  const byName = new Map<string, Machine>();
  const roleOf = (name: string): Role | null => (indexOf(cluster, 'master', name) !== null ? 'master' : indexOf(cluster, 'node', name) !== null ? 'node' : null);
  for (const s of servers) {
    if (s.status === 'DELETED' || s.status === 'SOFT_DELETED') continue;
    const role = roleOf(s.name);
    if (!role) continue;
    byName.set(s.name, {
      name: s.name, role,
      server: {
        id: s.id, status: s.status, zone: s['OS-EXT-AZ:availability_zone'], flavor: s.flavor?.original_name ?? s.flavor?.id,
        image: imageOfBootVolume(s, vols), created: s.created,
      },
    });
  }
  for (const n of nodes) {
    const pid = n.providerID?.replace(/^openstack:\/\/\/?(?:[^/]*\/)?/, '');
    const m = [...byName.values()].find((x) => x.server?.id === pid) ?? byName.get(n.name);
    const cp = n.labels['node-role.kubernetes.io/control-plane'] !== undefined || n.labels['node-role.kubernetes.io/master'] !== undefined;
    const role = m?.role ?? roleOf(n.name) ?? (cp ? 'master' : null);
    if (!role) continue;
    const ready = n.conditions.find((c) => c.type === 'Ready')?.status ?? (n.ready ? 'True' : 'Unknown');
    const entry = m ?? { name: n.name, role };
    entry.node = {
      ready, labels: n.labels, annotations: n.annotations ?? {}, taints: n.taints, kubeletVersion: n.kubeletVersion, created: n.creationTimestamp,
    };
    byName.set(entry.name, entry);
    if (view && role === 'master') {
      const mem = view.members.find((x) => x.member.name === n.name || memberMatchesNode(x.member, n));
      if (mem) entry.member = { id: mem.member.id, started: mem.started, healthy: mem.healthy, isLeader: mem.isLeader, isLearner: mem.member.isLearner };
    }
  }
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
}

export async function observeReplace(ctx: Context, cluster: string, os: OpenStackClient, kube: KubeApi, o: ObserveOptions): Promise<ReplaceObserved & { errors: string[]; nodes: KNode[] }> {
  const errors: string[] = [];
  const projectId = await os.projectId();
  const [masters, workers, volumes, flavors, novaLimits, cinderLimits, neutronQuota, nodes, version, cc] = await Promise.all([
    settle(os.compute.listServers({ name: roleNamePattern(cluster, 'master') }), errors, 'listing masters'),
    settle(os.compute.listServers({ name: roleNamePattern(cluster, 'node') }), errors, 'listing workers'),
    settle(os.volume.listVolumes({}), errors, 'listing volumes'),
    settle(os.compute.listFlavors(), errors, 'listing flavors'),
    settle(os.compute.getLimits(), errors, 'reading Nova limits'),
    settle(os.volume.getLimits(), errors, 'reading Cinder limits'),
    settle(os.network.getQuotaDetails(projectId), errors, 'reading Neutron quota'),
    settle(kube.listNodes(), errors, 'listing Nodes'),
    settle(kube.serverVersion(), errors, 'reading the API server version'),
    settle(kube.getClusterConfiguration(), errors, 'reading kubeadm-config'),
  ]);
  let etcd: ReplaceObserved['etcd'];
  if (o.etcdView) {
    try {
      etcd = await o.etcdView((masters ?? []).filter((s) => s.status !== 'DELETED' && s.status !== 'SOFT_DELETED').map((s) => s.name));
    } catch (e) {
      etcd = { error: e instanceof Error ? e.message : String(e) };
    }
  }
  const servers = [...(masters ?? []), ...(workers ?? [])];
  const view = etcd && 'members' in etcd ? etcd : undefined;
  const kv = (cc as { kubernetesVersion?: unknown } | null)?.kubernetesVersion;
  return {
    cluster,
    defaults: o.defaults,
    machines: machinesOf(cluster, servers, nodes ?? [], volumes ?? [], view),
    apiServerVersion: version?.gitVersion,
    kubeadmVersion: typeof kv === 'string' ? kv : undefined,
    etcd,
    flavors: flavors ?? [],
    novaLimits, cinderLimits, neutronQuota,
    existingNames: servers.map((s) => s.name),
    errors,
    nodes: nodes ?? [],
  };
}

// ------------------------------------------------------------------------------------------------
// the roll

/** What a step needs done; the real implementations are in lib/ops/replace-steps.ts. */
export interface ReplaceSteps {
  /**
   * Add one node built as `spec` named `name`; resolve once it is healthy (Ready; a master also promoted, every
   * member healthy, in the API pool). On failure it has rolled back what it created and throws.
   */
  add(input: { role: Role; name: string; spec: NodeSpec; old: string }): Promise<{ name: string; serverId?: string }>;
  /** The full gated remove of one node; `dead` skips what a dead node cannot do (drain, reset). Idempotent: a node already gone is removed. */
  remove(input: { role: Role; name: string; dead: boolean; reason: string }): Promise<void>;
  /** kubeadm-config ClusterConfiguration.kubernetesVersion = version (before the first new master joins) */
  setKubeadmVersion(version: string): Promise<void>;
  /** the gates' snapshot: Nodes, /readyz through the load balancer, etcd when `etcd` */
  snapshot(opts: { etcd: boolean }): Promise<GateSnapshot>;
  /** server names taken now (new names are numeric max + 1 over these and the names this roll reserved) */
  takenNames(role: Role): Promise<string[]>;
}

/** Journal records of the roll (one per step and phase), written before/after each phase. */
export interface RollJournal {
  step(old: string, phase: StepPhase, details?: Record<string, unknown>): Promise<void>;
}

export interface RollOptions {
  soakMs: number;
  pollIntervalMs: number;
  /** resume: what the journal says each step went through already */
  prior?: Map<string, { removedOld: boolean; added?: { name: string }; failures: number }>;
  /** Nodes Ready when the roll (its first run) started */
  baseline: Set<string>;
}

export interface StepOutcome {
  old: string;
  new?: string;
  role: Role;
  strategy: 'surge' | 'remove-first';
  outcome: 'replaced' | 'failed' | 'not-started';
  from: ReplaceStep['from'];
  to: NodeSpec;
  durationMs: number;
  cause?: string;
  /** the stage that failed (a failed step) */
  stage?: string;
  /** the step's own stages (add, soak, remove-old; remove-old, add), without the root `replace` */
  stages?: NodeOutcome['stages'];
}

export interface RollResult {
  steps: StepOutcome[];
  paused?: { gates: GateResult[] };
  aborted?: string;
  kubeadmVersionSet?: string;
  durationMs: number;
  /** the most extra servers (beyond the start) that existed at once, as this run counted them */
  maxExtraInFlight: number;
  /** per node (docs/schemas/node-outcome.json): replaced (by), failed (error, stage), paused / skipped (reason) */
  outcomes?: NodeOutcome[];
}

/** Pure: each step of a roll as a NodeOutcome; steps never started are `paused` (the roll paused) or `skipped` (it aborted). */
export function rollOutcomes(r: RollResult): NodeOutcome[] {
  const why = r.paused ? `the roll paused${r.paused.gates.length ? `: ${r.paused.gates.map((g) => g.detail).join('; ')}` : ''}; kadd replace --resume continues it` : `the roll aborted: ${r.aborted ?? 'stopped'}`;
  return r.steps.map((s): NodeOutcome => {
    const base = { node: s.old, stages: s.stages ?? [] };
    if (s.outcome === 'replaced') return { ...base, outcome: 'replaced', ...(s.new ? { by: s.new } : {}) };
    if (s.outcome === 'failed') return { ...base, outcome: 'failed', error: s.cause ?? 'failed', ...(s.stage ? { stage: s.stage } : {}) };
    return r.paused ? { ...base, outcome: 'paused', reason: why } : { ...base, outcome: 'skipped', reason: why };
  });
}

export class ReplacePaused extends KaddError {
  constructor(message: string, opts: { hint: string; details: string[] }) {
    super('E_REPLACE_PAUSED', message, 3, opts);
    this.name = 'ReplacePaused';
  }
}

const msg = (e: unknown) => (e instanceof Error ? e.message : String(e));

export async function runRoll(ctx: Context, plan: ReplacePlan, steps: ReplaceSteps, journal: RollJournal, o: RollOptions): Promise<RollResult> {
  const started = ctx.clock.now();
  const io = ctx.io;
  const result: RollResult = { steps: [], durationMs: 0, maxExtraInFlight: 0 };
  const total = plan.phases.reduce((a, p) => a + p.steps.length, 0);
  const durations: number[] = [];
  let failures = 0;
  let stop: 'pause' | 'abort' | undefined;
  let extra = 0;
  const reserved: string[] = [];
  const summary = io.progress('replace:roll', `replacing ${total} node${total === 1 ? '' : 's'}`);
  const report = () => {
    const done = result.steps.filter((s) => s.outcome !== 'not-started').length;
    const slots = Math.max(1, ...plan.phases.map((p) => p.maxSurge + p.maxUnavailable));
    const eta = etaSeconds(durations, total - done, slots);
    summary.update(`${done}/${total} done${failures ? `, ${failures} failed` : ''}${eta !== null && done < total ? `, ETA ${formatDuration(eta)}` : ''}`);
  };

  const gate = async (phase: Phase, ignore: string[]): Promise<GateResult[]> => {
    const snap = await steps.snapshot({ etcd: phase.role === 'master' });
    const skew = plan.version && plan.version.kind !== 'none' ? plan.version.to : undefined;
    return failedGates(evaluateGates(snap, o.baseline, { ignore, skewVersion: skew, workersNext: phase.role === 'node' }));
  };

  const newName = async (role: Role): Promise<string> => {
    const { nextNames } = await import('./naming.js');
    const taken = await steps.takenNames(role);
    // never the name of a node this roll replaces (a remove-first step would otherwise reuse the old name)
    const olds = plan.phases.flatMap((p) => p.steps.map((x) => x.old));
    const [n] = nextNames(plan.cluster, role, taken, 1, [...reserved, ...olds]);
    reserved.push(n!);
    return n!;
  };

  async function soak(s: ReplaceStep, name: string): Promise<void> {
    if (o.soakMs <= 0) return;
    const line = io.progress(`replace:${s.old}:soak`, `${name}: soaking ${Math.round(o.soakMs / 1000)}s`);
    const end = ctx.clock.now() + o.soakMs;
    while (ctx.clock.now() < end) {
      if (ctx.signal.aborted) throw new InterruptedError();
      const snap = await steps.snapshot({ etcd: false });
      const n = snap.nodes.find((x) => x.name === name);
      if (!n || !n.ready) {
        line.fail(`${name}: ${n ? 'went NotReady' : 'disappeared'} while soaking`);
        throw new OperationError('E_SOAK_FAILED', `${name} ${n ? 'went NotReady' : 'disappeared'} during the ${Math.round(o.soakMs / 1000)}s soak`);
      }
      await ctx.clock.sleep(Math.min(o.pollIntervalMs * 4, Math.max(1, end - ctx.clock.now())));
    }
    line.succeed(`${name}: stayed Ready for ${Math.round(o.soakMs / 1000)}s`);
  }

  async function runStep(phase: Phase, s: ReplaceStep, kind: 'surge' | 'remove-first'): Promise<StepOutcome> {
    const t0 = ctx.clock.now();
    const out: StepOutcome = { old: s.old, role: s.role, strategy: kind, outcome: 'failed', from: s.from, to: s.like, durationMs: 0 };
    const prior = o.prior?.get(s.old);
    // the step's lifecycle stages on the old node's line: replace > add, soak, remove-old (surge) or remove-old, add
    const st = new NodeStages(io, ctx.clock, s.old);
    st.start('replace', describeStep({ ...s, strategy: { ...s.strategy, kind } }));
    let removedOld = prior?.removedOld ?? false;
    let added = prior?.added?.name;
    await journal.step(s.old, 'start', { strategy: kind, role: s.role, ...(added ? { resumedWith: added } : {}) });
    const doRemoveOld = async () => {
      if (removedOld) return;
      await st.run('remove-old', () => steps.remove({ role: s.role, name: s.old, dead: s.dead, reason: kind }), undefined, kind === 'surge' ? `${added} is healthy` : s.strategy.reason);
      removedOld = true;
      await journal.step(s.old, 'removed-old');
    };
    const doAdd = async () => {
      if (added) return;
      const name = await newName(s.role);
      out.new = name;
      const surged = kind === 'surge' && !removedOld;
      if (surged) extra++;
      result.maxExtraInFlight = Math.max(result.maxExtraInFlight, extra);
      try {
        await journal.step(s.old, 'adding', { new: name });
        const r = await st.run('add', () => steps.add({ role: s.role, name, spec: s.like, old: s.old }), (x) => `${x.name} healthy`,
          `${name} (${s.like.flavor}${s.like.zone ? `, ${s.like.zone}` : ''}, ${s.like.image}, Kubernetes ${s.like.k8sVersion})`);
        added = r.name;
        await journal.step(s.old, 'added', { new: r.name, ...(r.serverId ? { serverId: r.serverId } : {}) });
      } catch (e) {
        if (surged) extra--;
        throw e;
      }
    };
    try {
      if (kind === 'surge' && !removedOld) {
        if (!added) {
          await doAdd();
          try {
            if (o.soakMs > 0) await st.run('soak', () => soak(s, added!), () => `${added} stayed Ready`, `${added}, ${Math.round(o.soakMs / 1000)}s`);
          } catch (e) {
            if (ctx.signal.aborted) throw e;
            // the new node is not good: take it out again through the gated remove, keep the old one
            const bad = added!;
            await st.run('remove-new', () => steps.remove({ role: s.role, name: bad, dead: false, reason: 'failed soak' }), undefined, `${bad} failed its soak; ${s.old} stays`).catch((re: unknown) => {
              throw new OperationError('E_SOAK_FAILED', `${msg(e)}; removing ${bad} again failed too: ${msg(re)}`, { hint: `remove it with \`kadd remove ${bad}\`; ${s.old} is untouched` });
            });
            extra--;
            added = undefined;
            throw e;
          }
        } else {
          // resumed after the add: the replacement is there, the old one not removed yet
          extra++;
          result.maxExtraInFlight = Math.max(result.maxExtraInFlight, extra);
        }
        await doRemoveOld();
        extra--;
      } else {
        // remove-first, or a resumed step whose old node is gone already
        await doRemoveOld();
        await doAdd();
      }
      out.new = added;
      out.outcome = 'replaced';
      await journal.step(s.old, 'complete', { new: added });
      st.done('replace', `-> ${added} (${kind}, ${formatDuration(Math.round((ctx.clock.now() - t0) / 1000))})`);
    } catch (e) {
      out.cause = msg(e);
      out.stage = st.failedStage();
      if (ctx.signal.aborted) {
        st.failed('replace', 'interrupted');
        throw e;
      }
      await journal.step(s.old, 'failed', { cause: out.cause.slice(0, 500), removedOld, ...(added ? { new: added } : {}) });
      st.failed('replace', `${out.cause}${removedOld ? '' : ` (${s.old} untouched)`}`);
      if (added && !removedOld) {
        // the new node joined but the old one could not be removed: an extra server stays; pause, never continue past it
        stop = 'pause';
      }
    } finally {
      out.durationMs = ctx.clock.now() - t0;
      out.stages = st.through('replace');
    }
    return out;
  }

  outer: for (const phase of plan.phases) {
    if (phase.role === 'master' && plan.version?.updateKubeadmConfig && !result.kubeadmVersionSet) {
      await journal.step('kubeadm-config', 'start', { kubernetesVersion: plan.version.to });
      await steps.setKubeadmVersion(plan.version.to);
      await journal.step('kubeadm-config', 'complete', { kubernetesVersion: plan.version.to });
      result.kubeadmVersionSet = plan.version.to;
      io.log('info', `kubeadm-config: ClusterConfiguration.kubernetesVersion set to v${plan.version.to} before the first new master joins`);
    }
    const queue = [...phase.steps];
    const inFlight = new Map<string, Promise<void>>();
    let surgeBusy = 0;
    let unavailBusy = 0;
    const surgeSlots = phase.maxSurge;
    const unavailSlots = phase.maxUnavailable;
    let pausedGates: GateResult[] | undefined;
    while (queue.length || inFlight.size) {
      if (ctx.signal.aborted) {
        await Promise.allSettled(inFlight.values());
        throw new InterruptedError('interrupted; the journal keeps the roll: `kadd replace --resume` continues it');
      }
      const canSurge = surgeBusy < surgeSlots;
      const canUnavail = unavailBusy < unavailSlots;
      const next = !stop ? queue.find((s) => (s.strategy.kind === 'surge' ? canSurge || canUnavail : canUnavail || (unavailSlots === 0 && canSurge && inFlight.size === 0))) : undefined;
      if (next) {
        const failed = await gate(phase, [...inFlight.keys(), next.old]).catch((e: unknown) => [{ gate: 'control-plane' as const, ok: false, detail: `the gates could not be checked: ${msg(e)}` }]);
        if (failed.length) {
          pausedGates = failed;
          stop = 'pause';
          io.log('warn', `gate failed before ${next.old}: ${failed.map((g) => g.detail).join('; ')}; pausing the roll`);
          continue;
        }
        queue.splice(queue.indexOf(next), 1);
        // a surge step takes a surge slot; with none free (or --no-surge) a max-unavailable slot runs it remove-first
        const kind: 'surge' | 'remove-first' = next.strategy.kind === 'surge' && canSurge ? 'surge' : 'remove-first';
        if (kind === 'surge') surgeBusy++;
        else unavailBusy++;
        const p = runStep(phase, next, kind).then((r) => {
          result.steps.push(r);
          if (r.outcome === 'replaced') durations.push(r.durationMs);
          else {
            failures++;
            if (failures > plan.maxFailures && stop !== 'pause') {
              stop = 'abort';
              result.aborted = `${failures} step${failures === 1 ? '' : 's'} failed, more than --max-failures ${plan.maxFailures}`;
            }
          }
          report();
        }).finally(() => {
          inFlight.delete(next.old);
          if (kind === 'surge') surgeBusy--;
          else unavailBusy--;
        });
        inFlight.set(next.old, p);
        // masters: strictly one at a time
        if (phase.role === 'master') await p;
        continue;
      }
      if (inFlight.size) {
        await Promise.race(inFlight.values());
        continue;
      }
      break; // stopped with nothing in flight
    }
    if (stop) {
      for (const s of queue) result.steps.push({ old: s.old, role: s.role, strategy: s.strategy.kind, outcome: 'not-started', from: s.from, to: s.like, durationMs: 0 });
      if (stop === 'pause') result.paused = { gates: pausedGates ?? [] };
      // later phases never start
      const rest = plan.phases.slice(plan.phases.indexOf(phase) + 1);
      for (const ph of rest) for (const s of ph.steps) result.steps.push({ old: s.old, role: s.role, strategy: s.strategy.kind, outcome: 'not-started', from: s.from, to: s.like, durationMs: 0 });
      break outer;
    }
  }
  summary.succeed(`${result.steps.filter((s) => s.outcome === 'replaced').length}/${total} replaced in ${formatDuration(Math.round((ctx.clock.now() - started) / 1000))}${failures ? `, ${failures} failed` : ''}`);
  result.durationMs = ctx.clock.now() - started;
  result.outcomes = rollOutcomes(result);
  return result;
}
