/**
 * kadd replace: the pure half (design.md section 6, research/remove-replace.md "replace" and "replace --all").
 * No I/O: everything here is a function of the request and one observed snapshot, so that every rule has a
 * unit test (test/ops/replace-plan.test.ts) and `--dry-run` shows exactly what the run would do.
 *
 * Rules:
 * - Strategy per node: surge (add like the old one, wait healthy, soak, then the gated remove) by default;
 *   remove-first with --no-surge, and always for a dead master (etcd FAQ: "remove the member first, then add
 *   its replacement"; adding a 4th member while one of 3 is dead raises quorum to 3). A healthy master
 *   removed first needs >= 3 masters (KCP's maxSurge=0 rule); the plan says why it chose what it chose.
 * - Quota for the extra servers (+1, or +max-surge workers) is checked before anything is created.
 * - "Like the old one": flavor, AZ, server group, labels and taints from the observed server and Node;
 *   --flavor/--image/--zone override; labels and taints that the kubelet or a controller sets are not copied.
 * - --all: control plane first, masters one at a time with surge 1, then workers with --max-surge (default 1)
 *   and --max-unavailable (default 0) as a MachineDeployment rolls; victims annotated kadd.io/replace-first,
 *   then unhealthy, then oldest.
 * - --k8s-version: patch or +1 minor only, never down; control plane first; kubeadm-config's
 *   ClusterConfiguration gets the new version before the first new master joins; workers never newer than
 *   the control plane (skew gate).
 * Split by concern: the types in replace-types.ts, versions in replace-version.ts, the old nodes (health, order,
 * "like the old one") in replace-nodes.ts; this file re-exports them and keeps validation, strategy, quota, the plan.
 */
import type { Flavor } from '../openstack/types.js';
import type { ClusterView } from '../etcd/quorum.js';
import { gateRemove, projectAdd } from '../etcd/quorum.js';
import { UsageError } from '../errors.js';
import { nextNames } from './naming.js';
import type { QuotaRow } from './add-workers.js';
import type {
  Machine, Phase, QuorumPath, ReplaceObserved, ReplacePlan, ReplaceRequest, ReplaceStep, Strategy, StrategyKind, VersionChange,
} from './replace-types.js';
import { compareVersions, checkVersionChange, parseVersion, skewProblem, type Version } from './replace-version.js';
import { isDead, likeOld, orderVictims, unhealthyReasons, upToDate } from './replace-nodes.js';

// the pieces, under the names they always had
export type * from './replace-types.js';
export * from './replace-version.js';
export * from './replace-nodes.js';

export const DEFAULT_SOAK_SECONDS = 60;

// ------------------------------------------------------------------------------------------------
// request validation (exit 2, no API call)

export function validateReplaceRequest(req: ReplaceRequest): void {
  if (req.all && req.target) throw new UsageError(`give either a node name or --all, not both (got ${req.target} and --all)`);
  if (!req.all && !req.target) throw new UsageError('name the node to replace (kadd replace cfg.yml NODE) or pass --all');
  if (req.role && !req.all) throw new UsageError('--role applies to --all only; a named node has its own role');
  if (req.target !== undefined && !/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(req.target)) throw new UsageError(`${JSON.stringify(req.target)} is not a node name (lowercase letters, digits, dots, dashes)`);
  const whole = (v: number, flag: string, min: number) => {
    if (!Number.isInteger(v) || v < min) throw new UsageError(`${flag} must be a whole number >= ${min}, got ${v}`);
  };
  whole(req.maxSurge, '--max-surge', 0);
  whole(req.maxUnavailable, '--max-unavailable', 0);
  whole(req.maxFailures, '--max-failures', 0);
  if (req.maxSurge === 0 && req.maxUnavailable === 0) throw new UsageError('--max-surge and --max-unavailable cannot both be 0: the roll could never make progress (as a MachineDeployment)');
  if (!Number.isFinite(req.soakSeconds) || req.soakSeconds < 0) throw new UsageError(`--soak must be a number of seconds >= 0, got ${req.soakSeconds}`);
  for (const [flag, v] of [['--image', req.image], ['--flavor', req.flavor], ['--zone', req.zone]] as const) {
    if (v !== undefined && v.trim() === '') throw new UsageError(`${flag} must not be empty; omit it to keep the old node's value`);
  }
  if (req.k8sVersion !== undefined && !parseVersion(req.k8sVersion)) throw new UsageError(`--k8s-version ${JSON.stringify(req.k8sVersion)} is not a Kubernetes version (e.g. 1.30.4)`);
}


// ------------------------------------------------------------------------------------------------
// strategy and quorum

function etcdView(o: ReplaceObserved): ClusterView | undefined {
  return o.etcd && 'members' in o.etcd ? o.etcd : undefined;
}

/**
 * Surge or remove-first for one node, with the reason. Returns a blocker instead when neither is safe.
 * masters: the masters of the cluster (to count them); view: etcd read through another member.
 */
export function chooseStrategy(
  m: Machine, req: Pick<ReplaceRequest, 'surge'>, masters: Machine[], view: ClusterView | undefined,
): Strategy | { blocker: string } {
  const dead = isDead(m);
  if (m.role === 'node') {
    if (!req.surge) return { kind: 'remove-first', reason: '--no-surge: the old worker is drained and removed before its replacement is built (no extra quota)' };
    return { kind: 'surge', reason: dead ? 'the old worker is dead; its replacement is built first (surge), then it is removed as unreachable' : 'surge (default): the replacement joins and soaks before the old worker is drained' };
  }
  const n = masters.length;
  if (dead) {
    if (n < 2) return { blocker: `${m.name} is the only master and it is dead: there is no etcd quorum to replace it from; restore the control plane from an etcd snapshot` };
    return { kind: 'remove-first', reason: `${m.name} is dead: its etcd member is removed first, then the replacement is added (etcd FAQ; adding a ${n + 1}th member while one of ${n} is dead would raise the quorum to ${Math.floor((n + 1) / 2) + 1})` };
  }
  if (!req.surge) {
    if (n < 3) return { blocker: `--no-surge on a healthy master needs at least 3 masters (${n} now): removing one of ${n} first would leave ${n - 1} etcd member${n - 1 === 1 ? '' : 's'} without fault tolerance; drop --no-surge to surge (${n} -> ${n + 1} -> ${n})` };
    return { kind: 'remove-first', reason: `--no-surge: ${n} masters tolerate one being removed first (${n} -> ${n - 1} -> ${n} members)` };
  }
  if (view) {
    // surge adds a member first: refused by the add's own rule when any member is unhealthy or a learner is there
    const v = projectAdd(view);
    if (!v.allowed) {
      const why = v.blockers.map((b) => b.message).join('; ');
      return { blocker: `surging ${m.name} would add an etcd member while ${why}; fix etcd first, or remove-first with --no-surge if ${m.name} is the broken member` };
    }
  }
  return { kind: 'surge', reason: `surge (default): the new master joins (${n} -> ${n + 1} members), is promoted and healthy, then ${m.name} is removed (${n + 1} -> ${n})` };
}

export function quorumPath(m: Machine, s: StrategyKind, masters: Machine[], view: ClusterView | undefined): QuorumPath {
  const voters = view ? view.members.filter((x) => !x.member.isLearner) : undefined;
  const before = voters ? voters.length : masters.length;
  const healthyBefore = voters ? voters.filter((x) => x.healthy).length : masters.filter((x) => !unhealthyReasons(x).length).length;
  const during = s === 'surge' ? before + 1 : m.member || !view ? before - 1 : before;
  const after = s === 'surge' ? before : during + 1;
  const text = `${before}${healthyBefore < before ? ` (${healthyBefore} healthy)` : ''} -> ${during} -> ${after} members`;
  return { before, healthyBefore, during, after, text };
}

// ------------------------------------------------------------------------------------------------
// quota

function freeOf(max: number, used: number): number | 'unlimited' {
  return max < 0 ? 'unlimited' : Math.max(0, max - used);
}

/**
 * Quota for what exists at once beyond today's servers: `extra` surged servers of `flavor`, plus the growth
 * of remove-first replacements into a bigger flavor (their own server, volume and port are freed first).
 */
export function quotaRows(
  o: Pick<ReplaceObserved, 'novaLimits' | 'cinderLimits' | 'neutronQuota' | 'defaults'>,
  need: { servers: number; cores: number; ram: number; volumes: number; gigabytes: number; ports: number },
): QuotaRow[] {
  const rows: QuotaRow[] = [];
  const row = (resource: string, n: number, f: number | 'unlimited') => rows.push({ resource, need: n, free: f, ok: f === 'unlimited' || n <= f });
  if (o.novaLimits) {
    const l = o.novaLimits;
    row('instances', need.servers, freeOf(l.maxTotalInstances, l.totalInstancesUsed));
    row('cores', need.cores, freeOf(l.maxTotalCores, l.totalCoresUsed));
    row('ram (MiB)', need.ram, freeOf(l.maxTotalRAMSize, l.totalRAMUsed));
  }
  if (o.cinderLimits) {
    const l = o.cinderLimits;
    row('volumes', need.volumes, freeOf(l.maxTotalVolumes, l.totalVolumesUsed));
    row('gigabytes', need.gigabytes, freeOf(l.maxTotalVolumeGigabytes, l.totalGigabytesUsed));
  }
  if (o.neutronQuota?.port) {
    const p = o.neutronQuota.port;
    row('ports', need.ports, p.limit < 0 ? 'unlimited' : Math.max(0, p.limit - p.used - (p.reserved ?? 0)));
  }
  return rows;
}

// ------------------------------------------------------------------------------------------------
// the plan

function flavorOf(flavors: Flavor[], name: string | undefined): Flavor | undefined {
  if (!name) return undefined;
  return flavors.find((f) => f.name === name) ?? flavors.find((f) => f.id === name);
}

export const GATES = {
  etcd: 'etcd: every member started and healthy, no learner, quorum kept by the next change (before each master step)',
  controlPlane: 'control plane: every control-plane Node Ready, the API server answers /readyz through the load balancer',
  noNewNotReady: 'no Node that was Ready when the roll started is NotReady',
  skew: 'version skew: no worker newer than the oldest master',
};

export function planReplace(req: ReplaceRequest, o: ReplaceObserved): ReplacePlan {
  const blockers: string[] = [];
  const warnings: string[] = [];
  const view = etcdView(o);
  if (o.etcd && 'error' in o.etcd) blockers.push(`etcd could not be read: ${o.etcd.error}`);
  const masters = o.machines.filter((m) => m.role === 'master');

  // which nodes
  let victims: Machine[];
  const upToDateNames: string[] = [];
  if (req.target) {
    const m = o.machines.find((x) => x.name === req.target);
    if (!m) {
      const known = o.machines.map((x) => x.name).sort();
      blockers.push(`${req.target} is neither a server nor a Node of cluster ${o.cluster}; nodes: ${known.join(', ') || 'none'}`);
      victims = [];
    } else victims = [m];
  } else {
    victims = o.machines.filter((m) => (!req.role || m.role === req.role) && (!req.only || req.only.includes(m.name)));
    for (const m of victims) if (upToDate(m, req, o.flavors)) upToDateNames.push(m.name);
    victims = victims.filter((m) => !upToDateNames.includes(m.name));
  }

  // versions
  const cpVersions = masters.map((m) => m.node?.kubeletVersion).filter((v): v is string => !!v);
  const oldestCp = cpVersions.map(parseVersion).filter((v): v is Version => !!v).sort(compareVersions)[0]?.text ?? parseVersion(o.apiServerVersion)?.text;
  const clusterVersion = parseVersion(o.defaults.k8sVersion)?.text ?? oldestCp ?? o.defaults.k8sVersion;
  let version: VersionChange | undefined;
  let target = clusterVersion;
  if (req.k8sVersion) {
    const to = parseVersion(req.k8sVersion)!.text;
    target = to;
    if (!oldestCp) blockers.push('the control plane\'s Kubernetes version could not be read (no master Node with a kubelet version, no API server version)');
    else {
      const r = checkVersionChange(oldestCp, to);
      if ('error' in r) blockers.push(r.error);
      else {
        const mastersReplaced = victims.some((v) => v.role === 'master');
        const kv = parseVersion(o.kubeadmVersion);
        version = { from: oldestCp, to, kind: r.kind, updateKubeadmConfig: mastersReplaced && (!kv || kv.text !== to) };
        if (r.kind !== 'none' && victims.some((v) => v.role === 'node')) {
          // workers after the control plane: fine when every master is replaced first in this run
          const mastersAfter = masters.map((m) => (victims.some((v) => v.name === m.name) ? to : m.node?.kubeletVersion));
          const sk = skewProblem(to, mastersAfter);
          if (sk) blockers.push(sk);
        }
      }
    }
  }

  // steps per role: masters first, then workers
  const phases: Phase[] = [];
  const taken = [...o.existingNames];
  let extraServers = 0;
  const need = { servers: 0, cores: 0, ram: 0, volumes: 0, gigabytes: 0, ports: 0 };
  for (const role of ['master', 'node'] as const) {
    const mine = victims.filter((v) => v.role === role);
    if (!mine.length) continue;
    const ordered = req.target ? mine.map((m) => ({ m, reason: 'named on the command line' })) : orderVictims(mine);
    const steps: ReplaceStep[] = [];
    for (const { m, reason } of ordered) {
      const st = chooseStrategy(m, req, masters, view);
      const fromVersion = m.node?.kubeletVersion ? parseVersion(m.node.kubeletVersion)?.text : undefined;
      const like = likeOld(m, req, o, target);
      if ('blocker' in st) {
        blockers.push(st.blocker);
        continue;
      }
      const [newName] = nextNames(o.cluster, role, taken, 1);
      taken.push(newName!);
      const step: ReplaceStep = {
        old: m.name, role, newName: newName!, strategy: st, dead: isDead(m), unhealthy: unhealthyReasons(m), orderReason: reason,
        from: { flavor: m.server?.flavor, image: m.server?.image, zone: m.server?.zone, k8sVersion: fromVersion }, like,
      };
      if (role === 'master') {
        step.quorum = quorumPath(m, st.kind, masters, view);
        if (view && st.kind === 'remove-first' && m.member) {
          // remove's own gate; 2 -> 1 is allowed here because the replacement follows at once
          const v = gateRemove(view, m.member.id, { allowSingleMaster: true });
          if (!v.allowed) blockers.push(`removing ${m.name}'s etcd member first is not safe: ${v.blockers.map((b) => b.message).join('; ')}`);
        }
        if (view && !m.member && !step.dead) warnings.push(`${m.name} has no etcd member in the member list; it is replaced, and the new master joins as a new member`);
      }
      if (!flavorOf(o.flavors, like.flavor)) blockers.push(`flavor ${like.flavor} (for the replacement of ${m.name}) not found; available: ${o.flavors.map((f) => f.name).sort().join(', ') || 'none'}`);
      if (like.zone && req.zone === undefined && m.server?.zone === undefined) warnings.push(`${m.name}: availability zone unknown; the replacement goes to ${like.zone}`);
      steps.push(step);
    }
    if (!steps.length) continue;
    const surgeSteps = steps.filter((s) => s.strategy.kind === 'surge');
    const rfSteps = steps.filter((s) => s.strategy.kind === 'remove-first');
    const phase: Phase = role === 'master'
      ? { role, steps, maxSurge: 1, maxUnavailable: 0 }
      : req.target
        ? { role, steps, maxSurge: 1, maxUnavailable: 0 }
        : { role, steps, maxSurge: req.surge ? req.maxSurge : 0, maxUnavailable: req.surge ? req.maxUnavailable : Math.max(1, req.maxUnavailable) };
    if (role === 'node' && req.all && phase.maxSurge === 0 && phase.maxUnavailable === 0) phase.maxUnavailable = 1;
    phases.push(phase);

    // what exists at once: surge slots each hold one extra server of the new flavor
    const slots = Math.min(surgeSteps.length, phase.maxSurge);
    const biggest = (ss: ReplaceStep[]) => ss.map((s) => flavorOf(o.flavors, s.like.flavor)).filter((f): f is Flavor => !!f)
      .reduce<Flavor | undefined>((a, f) => (!a || f.vcpus > a.vcpus || f.ram > a.ram ? f : a), undefined);
    const bf = biggest(surgeSteps);
    if (slots > 0 && bf) {
      extraServers = Math.max(extraServers, slots);
      need.servers = Math.max(need.servers, slots);
      need.cores = Math.max(need.cores, slots * bf.vcpus);
      need.ram = Math.max(need.ram, slots * bf.ram);
      need.volumes = Math.max(need.volumes, slots);
      need.gigabytes = Math.max(need.gigabytes, slots * o.defaults.volumeSize);
      need.ports = Math.max(need.ports, slots);
    }
    // remove-first into a bigger flavor: the growth of as many as run at once
    const rfSlots = Math.min(rfSteps.length, Math.max(phase.maxUnavailable, 1));
    if (rfSteps.length) {
      let dc = 0;
      let dr = 0;
      for (const s of rfSteps) {
        const nf = flavorOf(o.flavors, s.like.flavor);
        const of = flavorOf(o.flavors, s.from.flavor);
        if (nf && of) {
          dc = Math.max(dc, nf.vcpus - of.vcpus);
          dr = Math.max(dr, nf.ram - of.ram);
        }
      }
      need.cores = Math.max(need.cores, rfSlots * dc + (slots && bf ? slots * bf.vcpus : 0));
      need.ram = Math.max(need.ram, rfSlots * dr + (slots && bf ? slots * bf.ram : 0));
    }
  }

  const quota = quotaRows(o, need);
  for (const q of quota) {
    if (q.ok) continue;
    const surging = phases.some((p) => p.steps.some((s) => s.strategy.kind === 'surge'));
    const master = phases.some((p) => p.role === 'master' && p.steps.some((s) => s.strategy.kind === 'surge'));
    blockers.push(`quota: ${q.resource} needs ${q.need} for ${surging ? `the ${extraServers} extra server${extraServers === 1 ? '' : 's'} of the surge` : 'the bigger flavor'}, only ${q.free} free${
      surging ? `; ${master && masters.length < 3 ? 'free some quota (a healthy master with fewer than 3 masters cannot be replaced remove-first)' : req.all ? 'lower --max-surge, or use --no-surge to remove each node before its replacement is built' : 'use --no-surge to remove the old node before its replacement is built (no extra quota)'}` : ''}`);
  }

  const gates: string[] = [];
  if (phases.some((p) => p.role === 'master')) gates.push(GATES.etcd, GATES.controlPlane);
  else gates.push(GATES.controlPlane);
  gates.push(GATES.noNewNotReady);
  if (version && version.kind !== 'none' && phases.some((p) => p.role === 'node')) gates.push(GATES.skew);

  if (version?.kind === 'none') warnings.push(`--k8s-version ${version.to} is the version the control plane runs already; nodes are replaced without a version change`);
  if (req.all && !victims.length && upToDateNames.length) warnings.push(`every selected node already matches the requested change (${upToDateNames.join(', ')}); nothing to replace`);
  const mPhase = phases.find((p) => p.role === 'master');
  if (mPhase && masters.length % 2 === 0) warnings.push(`the cluster has an even number of masters (${masters.length}): etcd tolerates no more failures than with ${masters.length - 1}`);

  return {
    cluster: o.cluster, mode: req.all ? 'all' : 'one', phases, upToDate: upToDateNames, version, extraServers, quota, gates,
    soakSeconds: req.soakSeconds, maxFailures: req.maxFailures, warnings, blockers,
  };
}

/** One line per step for the plan and the progress ("demo-node-2 -> demo-node-5 (surge; m1.small, az2)"). */
export function describeStep(s: ReplaceStep): string {
  const changes: string[] = [];
  if (s.from.flavor && s.from.flavor !== s.like.flavor) changes.push(`flavor ${s.from.flavor} -> ${s.like.flavor}`);
  if (s.from.image && s.from.image !== s.like.image) changes.push(`image ${s.from.image} -> ${s.like.image}`);
  if (s.from.k8sVersion && s.from.k8sVersion !== s.like.k8sVersion) changes.push(`Kubernetes ${s.from.k8sVersion} -> ${s.like.k8sVersion}`);
  return `${s.old} -> ${s.newName} (${s.strategy.kind}${s.dead ? ', dead' : ''}; ${s.like.flavor}${s.like.zone ? `, ${s.like.zone}` : ''}${changes.length ? `; ${changes.join(', ')}` : ''})${s.quorum ? ` etcd ${s.quorum.text}` : ''}`;
}
