/**
 * kadd remove CONFIG [NODE...] | --role node|master --amount N
 *
 * Thin: options -> config -> the runner (lib/ops/engine/runner.ts: lock, unfinished journal, observe +
 * plan (lib/ops/remove.ts), dry-run / confirm, execute, journal end) -> render -> exit code. Workers several at once; masters one per run, etcd-aware.
 */
import type { Argv } from 'yargs';
import type { KaddCommandModule, CommandArgs } from '../cli/command.js';
import { forceUnlockOption, type GlobalOptions } from '../cli/options.js';
import type { Context } from '../context.js';
import type { ClusterConfig } from '../config/types.js';
import { OperationError, PartialSuccessError, PreflightError, UsageError } from '../errors.js';
import type { RemoveRequest, VictimPlan } from '../ops/remove-plan.js';
import { parseDurationMs } from '../duration.js';
import type { JournalReport } from '../journal/journal.js';
import { nodeOf } from '../ops/engine/ledger.js';

export interface RemoveArgs {
  config: string;
  nodes?: string[];
  role?: 'node' | 'master';
  amount?: number;
  order: 'newest' | 'oldest';
  'dry-run': boolean;
  'drain-timeout': string;
  'delete-emptydir-data': boolean;
  force: boolean;
  'disable-eviction': boolean;
  'on-drain-timeout': 'fail' | 'force';
  dead: boolean;
  'dead-after': string;
  'allow-single-master': boolean;
  resume: boolean;
  'fix-stale': boolean;
  concurrency: number;
  'poll-interval': number;
  'evict-retry': number;
  'volume-detach-timeout': string;
  'server-timeout': string;
  'adder-image'?: string;
  strict: boolean;
  'force-unlock': boolean;
}

/** "15m", "90s", "1h30m", or a bare number of seconds -> ms (lib/duration.ts); NaN when invalid. */
export function parseDuration(v: string | number): number {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? v * 1000 : NaN;
  return parseDurationMs(v) ?? NaN;
}

/** Pure: argv -> the request (UsageError, exit 2, before any API call). */
export function buildRemoveRequest(a: CommandArgs<RemoveArgs> | RemoveArgs): RemoveRequest {
  const names = (a.nodes ?? []).map(String);
  if (!names.length && a.amount === undefined && !a.resume) {
    throw new UsageError('name the nodes to remove, or give --role and --amount', { hint: 'kadd remove cfg.yml demo-node-3   or   kadd remove --role node --amount 2 cfg.yml' });
  }
  if (names.length && a.amount !== undefined) throw new UsageError('give node names or --amount, not both');
  if (a.amount !== undefined && (!Number.isInteger(a.amount) || a.amount < 1)) throw new UsageError(`--amount must be a whole number >= 1, got ${a.amount}`);
  if (a.role === 'master' && a.amount !== undefined && a.amount !== 1) {
    throw new UsageError(`masters are removed one per run (etcd changes one member at a time); --amount ${a.amount} is not allowed`);
  }
  const drain = parseDuration(a['drain-timeout']);
  if (!Number.isFinite(drain) || drain <= 0) throw new UsageError(`--drain-timeout must be a duration such as 15m, 90s or 1h, got "${a['drain-timeout']}"`);
  const deadAfter = parseDuration(a['dead-after']);
  if (!Number.isFinite(deadAfter)) throw new UsageError(`--dead-after must be a duration such as 5m, got "${a['dead-after']}"`);
  if (!Number.isInteger(a.concurrency) || a.concurrency < 1) throw new UsageError(`--concurrency must be a whole number >= 1, got ${a.concurrency}`);
  if (a.resume && (names.length || a.amount !== undefined)) throw new UsageError('--resume continues the recorded run: give no node names or --amount');
  return {
    names, ...(a.role ? { role: a.role } : {}), ...(a.amount !== undefined ? { amount: a.amount } : {}),
    order: a.order, deleteEmptyDirData: a['delete-emptydir-data'], force: a.force, disableEviction: a['disable-eviction'],
    drainTimeoutMs: drain, onDrainTimeout: a['on-drain-timeout'], dead: a.dead, deadAfterMs: deadAfter,
    allowSingleMaster: a['allow-single-master'], fixStale: a['fix-stale'], concurrency: a.concurrency,
  };
}

/**
 * Stop the removed master's control plane over SSH when its host key is pinned in the cluster file:
 * `kubeadm reset -f --skip-phases=remove-etcd-member` (the member was removed by kadd already; reset would
 * only warn if it tried). Returns null when the node cannot be reached (no pinned key, no IP, no answer).
 */
async function stopControlPlaneViaSsh(ctx: Context, config: ClusterConfig, v: VictimPlan): Promise<string | null> {
  const s = config.ssh;
  const pinned = !!s.knownHosts || Object.keys(s.hostKeys).length > 0;
  if (!v.ip || !pinned) return null;
  const { SshTransport } = await import('../ssh/transport.js');
  const { SudoTransport } = await import('./add-master.js');
  let raw;
  try {
    raw = new SshTransport({ host: v.ip, port: s.port, user: s.user, privateKey: s.privateKey, bastion: s.bastion, hostKeys: s.hostKeys, knownHostsFile: s.knownHosts, io: ctx.io, env: ctx.env });
  } catch {
    return null;
  }
  const t = s.user === 'root' ? raw : new SudoTransport(raw);
  try {
    const r = await t.run(['kubeadm', 'reset', '-f', '--skip-phases=remove-etcd-member'], { timeoutMs: 180_000 });
    if (r.exitCode !== 0) throw new Error(`kubeadm reset exited ${r.exitCode}: ${(r.stderr || r.stdout).trim().split('\n').slice(-1)[0] ?? ''}`);
    return 'stopped (kubeadm reset -f --skip-phases=remove-etcd-member over SSH)';
  } catch (e) {
    if (/connect|ECONNREFUSED|EHOSTUNREACH|ETIMEDOUT|timed out/i.test(e instanceof Error ? e.message : String(e))) return null;
    throw e;
  } finally {
    await t.close().catch(() => undefined);
  }
}

/**
 * Pure: the unfinished `kadd add` operations whose every leftover belongs to a node being removed (by
 * kadd's naming) or is operation-wide (bootstrap token, adder Deployment, certificate-key material). A
 * master add killed after its server was created leaves such a journal while kubeadm finishes the join on
 * its own: removing that master also finishes the add. null when any leftover is not of that kind
 * (another node's, another verb's): the remove is refused as before.
 */
export function finishableAdds(report: Pick<JournalReport, 'operations' | 'leftovers'>, cluster: string, victims: string[]): { ops: string[]; nodes: string[] } | null {
  if (!report.leftovers.length || !victims.length) return null;
  const adds = new Set(report.operations.filter((o) => o.command === 'add' || o.command.startsWith('add ')).map((o) => o.op));
  const names = new Set(victims);
  const nodes = new Set<string>();
  for (const l of report.leftovers) {
    if (!adds.has(l.op)) return null;
    const node = nodeOf(cluster, l.kind, l.name, l.details);
    if (node ? !names.has(node) : !['token', 'deployment', 'certificate-key'].includes(l.kind)) return null;
    if (node) nodes.add(node);
  }
  return { ops: [...new Set(report.leftovers.map((l) => l.op))], nodes: [...nodes] };
}

/** The journal the ops write to, with a debug line per step (what `-v` shows). */
function stepJournalOf(ctx: Context, j: import('../journal/journal.js').Journal): import('../ops/remove.js').StepJournal {
  return {
    async step(step, node, state, details) {
      await j.step(step, node, state, details);
      ctx.io.log('debug', `step ${step} ${node} ${state}`);
    },
    intent: (kind, name, details) => j.intent(kind, name, details),
    undone: (kind, name, id) => j.undone(kind, name, id),
    kept: (kind, name, id) => j.kept(kind, name, id),
  };
}

/**
 * After the victims are removed: tear down what the interrupted kadd add runs still hold in the journal
 * (the bootstrap token, the master-adder, records of what the removal deleted), as `kadd cleanup` does:
 * already-gone resources close their records. What cannot be deleted becomes a warning.
 */
async function finishAdds(
  ctx: Context, config: ClusterConfig, journal: import('../journal/journal.js').Journal, os: import('../openstack/types.js').OpenStackClient,
  kube: import('../kube/types.js').KubeApi, ops: string[], pollMs: number, warnings: string[],
): Promise<void> {
  const [{ findUnfinished }, { Ledger }, { Reapers }, { cleanupLeftovers }] = await Promise.all([
    import('../journal/journal.js'), import('../ops/engine/ledger.js'), import('../ops/engine/reapers.js'), import('../ops/cleanup.js'),
  ]);
  const left = (await findUnfinished(config.file)).leftovers.filter((l) => ops.includes(l.op));
  if (!left.length) return;
  const reapers = new Reapers({ io: ctx.io, clock: ctx.clock, signal: ctx.signal, os, kube, cluster: config.clusterName, pollIntervalMs: pollMs });
  const r = await cleanupLeftovers(ctx.io, Ledger.fromLeftovers(journal, config.clusterName, left), reapers);
  for (const x of r.left) warnings.push(`the interrupted kadd add left: ${x}; \`kadd cleanup ${config.file}\` retries it`);
}

/**
 * remove on the runner (lib/ops/engine/runner.ts): the unfinished journal (--resume or a refusal) ->
 * observe + plan -> dry-run / blockers / confirmation -> execute (the cluster file written inside, before
 * the journal's end) -> render -> exit code.
 */
async function runRemove(argv: CommandArgs<RemoveArgs>, ctx: Context, config: ClusterConfig): Promise<number> {
  const req = buildRemoveRequest(argv);
  const format = argv.format ?? 'table';
  const dryRun = argv['dry-run'];
  const pollMs = argv['poll-interval'];
  const { readJournal } = await import('../journal/journal.js');
  const [{ observeAndPlan, executeRemove }, { formatRemovePlan }, { createRemoveReapers }, { openEtcdViaAdder, formatMemberTable }, { writeUpdatedConfig }, { runOperation }] = await Promise.all([
    import('../ops/remove.js'), import('../ops/remove-plan.js'), import('../ops/remove-reapers.js'), import('../ops/master-etcd.js'), import('../config/write.js'), import('../ops/engine/runner.js'),
  ]);
  let fixed: VictimPlan[] | undefined;
  // the unfinished kadd add runs this remove finishes (their leftovers are the victims' or operation-wide)
  let finishing: ReturnType<typeof finishableAdds> = null;
  let request: RemoveRequest = req;
  let access: Awaited<ReturnType<typeof openEtcdViaAdder>> | undefined;
  let clients: { os: import('../openstack/types.js').OpenStackClient; kube: import('../kube/types.js').KubeApi } | undefined;
  const openEtcd = async (exclude: string[]) => {
    access ??= await openEtcdViaAdder(ctx, clients!.kube, config, { exclude, image: argv['adder-image'], pollIntervalMs: pollMs });
    return access;
  };
  type Obs = Awaited<ReturnType<typeof observeAndPlan>>;
  const run = await runOperation(ctx, {
    command: 'remove',
    clusterFile: config.file,
    dryRun,
    // the cluster-wide Lease: no other kadd (another copy of the cluster file) changes the cluster meanwhile
    clusterLock: { force: argv['force-unlock'] },
    // an unfinished run: --resume continues a remove; anything else is refused (one membership change at a time)
    async unfinished(report) {
      // (or, for --resume, the last run of the journal: a remove killed after its last delete, before the cluster file)
      const last = argv.resume ? (await readJournal(config.file)).records.filter((r) => r.t === 'begin').pop()?.op : undefined;
      const unfinishedRemove = [...report.operations].reverse().find((o) => o.command === 'remove' && (o.resources.length > 0 || (o.op === last && o.status === 'unterminated')));
      if (argv.resume) {
        if (!unfinishedRemove) throw new UsageError(`--resume: the journal records no unfinished kadd remove for ${argv.config}`, { hint: `journal: ${report.path}` });
        fixed = (unfinishedRemove.args.victims as VictimPlan[] | undefined) ?? [];
        const recordedReq = (unfinishedRemove.args.request as Partial<RemoveRequest> | undefined) ?? {};
        if (!fixed.length) {
          // the run died before it recorded its victims: nothing of it happened
          const { records } = await readJournal(config.file);
          if (!records.some((r) => r.op === unfinishedRemove.op && r.t === 'step')) throw new UsageError('--resume: the unfinished kadd remove recorded no victims (it died before changing anything); run kadd remove again');
        }
        request = { ...req, ...recordedReq, names: fixed.map((v) => v.name), concurrency: req.concurrency, drainTimeoutMs: req.drainTimeoutMs };
      } else if (report.leftovers.length && (finishing = unfinishedRemove ? null : finishableAdds(report, config.clusterName, req.names))) {
        ctx.io.log('info', `kadd remove also finishes the interrupted kadd add of ${req.names.join(', ')} (${report.leftovers.length} resource(s) in its journal)`);
      } else if (report.leftovers.length && !dryRun) {
        const cmd = unfinishedRemove ? `kadd remove --resume ${argv.config}` : `kadd add --cleanup ${argv.config}`;
        throw new PreflightError(`an earlier kadd run on ${argv.config} did not finish (${report.leftovers.length} resource(s) in its journal); nothing was changed`, {
          code: 'E_LEFTOVERS', hint: `\`${cmd}\` finishes it first (journal: ${report.path})`,
          details: report.leftovers.map((l) => `${l.kind} ${l.name}${l.id ? ` (${l.id})` : ''}`),
        });
      }
    },
    async observe(c) {
      const [os, kube] = await Promise.all([c.openstack(), c.kube()]);
      clients = { os, kube };
      const obs = await observeAndPlan(c, request, config, os, kube, { openEtcd }, fixed);
      if (finishing) {
        // the interrupted add never counted its nodes in the cluster file: removing them leaves the counts as they are
        const uncounted = obs.plan.victims.filter((v) => finishing!.nodes.includes(v.name)).length;
        if (obs.plan.role === 'master') obs.plan.config.nMastersAfter = Math.min(obs.plan.config.nMasters, obs.plan.config.nMastersAfter + uncounted);
        else obs.plan.config.nNodesAfter = Math.min(obs.plan.config.nNodes, obs.plan.config.nNodesAfter + uncounted);
        obs.plan.warnings.push(`this also finishes the interrupted kadd add of ${req.names.join(', ')}: its leftovers (bootstrap token, master-adder, what the removal leaves) are torn down afterwards`);
      }
      return obs;
    },
    plan: (obs: Obs) => obs,
    preflight(obs) {
      if (!obs.plan.blockers.length) return;
      ctx.io.log('error', formatRemovePlan(obs.plan).trimEnd());
      throw new PreflightError(`kadd remove refused: ${obs.plan.blockers.length} blocker(s); nothing was changed`, { details: obs.plan.blockers, hint: 'see the plan above; kadd remove --dry-run shows it again' });
    },
    isEmpty: (obs) => obs.plan.victims.length === 0,
    async confirm(obs) {
      // on a TTY ask; without a TTY only --yes proceeds
      if (!argv.yes && !fixed) {
        ctx.io.log('info', formatRemovePlan(obs.plan).trimEnd());
        if (!process.stdin.isTTY) throw new UsageError('kadd remove asks for confirmation, and stdin is not a terminal: give --yes to proceed (see the plan above)');
        if (!(await ctx.io.confirm(`remove ${obs.plan.victims.map((v) => v.name).join(', ')}?`, false))) throw new UsageError('not confirmed; nothing was changed');
      }
      for (const w of obs.plan.warnings) ctx.io.log('warn', w);
    },
    journalArgs: (obs) => ({ config: config.file, victims: obs.plan.victims, request: { ...request } }),
    async execute(c, obs, journal) {
      const { os, kube } = clients!;
      const reapers = createRemoveReapers(c, os, kube, {
        cluster: config.clusterName, pollIntervalMs: pollMs, serverTimeoutMs: parseDuration(argv['server-timeout']),
        etcdctl: () => access?.etcdctl ?? null,
        lbName: config.loadbalancer.name || `${config.clusterName}-lb`,
      });
      const result = await executeRemove(c, request, obs, kube, {
        journal: stepJournalOf(c, journal), reapers, openEtcd, pollIntervalMs: pollMs, evictRetryMs: argv['evict-retry'],
        volumeDetachTimeoutMs: parseDuration(argv['volume-detach-timeout']),
        // finishing an add: the counts the plan says (its nodes were never counted)
        writeConfig: async (changes) => (await writeUpdatedConfig(config.file, finishing ? (obs.plan.role === 'master' ? { 'n-masters': obs.plan.config.nMastersAfter } : { 'n-nodes': obs.plan.config.nNodesAfter }) : changes)).path,
        stopControlPlane: (v) => stopControlPlaneViaSsh(c, config, v),
      });
      if (finishing && result.removed.length === result.victims.length) await finishAdds(c, config, journal, os, kube, finishing.ops, pollMs, result.warnings);
      return result;
    },
    status: (r) => (r.removed.length === r.victims.length ? 'ok' : 'failed'),
    close: async () => {
      await access?.close();
    },
  });
  if (run.kind === 'dry-run') {
    const plan = run.plan.plan;
    ctx.io.result(format === 'table' ? formatRemovePlan(plan) : (await import('../cli/output.js')).renderResult(plan, format));
    return plan.blockers.length ? 2 : 0;
  }
  if (run.kind === 'nothing') {
    ctx.io.log('info', 'nothing to remove');
    return 0;
  }
  const { plan } = run.plan;
  const result = run.result;
  if (format === 'table') {
    const lines = result.victims.map((v) => `${v.name}: ${v.outcome}${v.steps.length ? ` (${v.steps.join(', ')})` : ''}${v.error ? `: ${v.error}` : ''}`);
    if (result.snapshot) lines.push(`etcd snapshot: ${result.snapshot}`);
    if (result.membersBefore) lines.push('', 'etcd members before:', formatMemberTable(result.membersBefore));
    if (result.membersAfter) lines.push('', 'etcd members after:', formatMemberTable(result.membersAfter));
    if (result.updatedConfig) lines.push(`updated cluster file: ${result.updatedConfig}`);
    ctx.io.result(lines.join('\n') + '\n');
  } else ctx.io.result((await import('../cli/output.js')).renderResult(result, format));
  for (const w of result.warnings.filter((x) => !plan.warnings.includes(x))) ctx.io.log('warn', w);
  const n = result.victims.length;
  const ok = result.removed.length;
  if (ok === n) return 0;
  const failed = result.victims.filter((v) => v.outcome !== 'removed');
  const details = failed.map((v) => `${v.name}: ${v.error ?? v.outcome}`);
  if (ok > 0) throw new PartialSuccessError(`${ok} of ${n} nodes removed`, { details, hint: `kadd remove --resume ${argv.config} retries the rest once the cause is fixed` });
  throw new OperationError(failed.some((v) => v.outcome === 'drain-timeout') ? 'E_DRAIN_TIMEOUT' : 'E_REMOVE_FAILED', `0 of ${n} nodes removed`, {
    details, hint: failed.some((v) => v.outcome === 'drain-timeout') ? 'the nodes stay cordoned and their servers are kept; fix the blocking budgets, or --on-drain-timeout force' : `kadd remove --resume ${argv.config} continues from the failed step`,
  });
}

const remove: KaddCommandModule<RemoveArgs> = {
  command: 'remove <config> [nodes..]',
  describe: 'remove workers (drained, PDB-aware) or one master (etcd-safe); nothing leaked',
  builder: (y: Argv<GlobalOptions>) =>
    y
      .positional('config', { type: 'string', demandOption: true, describe: 'cluster file (koris format); writes <name>.updated.<ext>' })
      .positional('nodes', { type: 'string', array: true, describe: 'servers/Nodes to remove (or --role/--amount)' })
      .option('role', { alias: 'r', choices: ['node', 'master'] as const, describe: 'with --amount: which kind kadd picks' })
      .option('amount', { alias: 'a', type: 'number', describe: 'how many to pick: unhealthy first, then kadd.io/remove-first, then by --order' })
      .option('order', { choices: ['newest', 'oldest'] as const, default: 'newest' as const, describe: 'last selection rule for --amount' })
      .option('dry-run', { type: 'boolean', default: false, describe: 'print the plan (pods, PDBs, dry-run evictions, capacity, etcd gates); change nothing' })
      .option('drain-timeout', { type: 'string', default: '15m', describe: 'budget of the whole drain per node (e.g. 15m, 90s)' })
      .option('delete-emptydir-data', { type: 'boolean', default: false, describe: 'evict pods with emptyDir volumes (their data is lost)' })
      .option('force', { type: 'boolean', default: false, describe: 'evict pods without a controller (they are not recreated)' })
      .option('disable-eviction', { type: 'boolean', default: false, describe: 'DELETE pods instead of evicting them: bypasses every PodDisruptionBudget' })
      .option('on-drain-timeout', { choices: ['fail', 'force'] as const, default: 'fail' as const, describe: 'fail: keep the node cordoned and its server; force: delete it anyway' })
      .option('dead', { type: 'boolean', default: false, describe: 'the node is dead: no drain beyond an unreachable-node drain, no reset' })
      .option('dead-after', { type: 'string', default: '5m', describe: 'a Node Unknown this long counts as dead' })
      .option('allow-single-master', { type: 'boolean', default: false, describe: 'allow going from 2 masters to 1 (no failure tolerance)' })
      .option('resume', { type: 'boolean', default: false, describe: 'finish an interrupted kadd remove (the recorded victims)' })
      .option('force-unlock', forceUnlockOption())
      .option('fix-stale', { type: 'boolean', default: false, describe: 'masters: remove stale etcd members/learners first' })
      .option('concurrency', { type: 'number', default: 10, describe: 'workers removed at once' })
      .option('poll-interval', { type: 'number', default: 2000, describe: 'first poll interval in ms', hidden: true })
      .option('evict-retry', { type: 'number', default: 5000, describe: 'ms between eviction retries after a 429', hidden: true })
      .option('volume-detach-timeout', { type: 'string', default: '5m', describe: 'wait for the node\'s VolumeAttachments to go', hidden: true })
      .option('server-timeout', { type: 'string', default: '5m', describe: 'wait for a deleted server to go', hidden: true })
      .option('adder-image', { type: 'string', describe: 'masters: image of the master-adder pod' })
      .option('strict', { type: 'boolean', default: false, describe: 'unknown keys in the cluster file are errors' })
      .example('kadd remove cfg.yml demo-node-3', 'drain and remove one worker')
      .example('kadd remove --role node --amount 2 --dry-run cfg.yml', 'show which two workers would go and what their drain looks like')
      .example('kadd remove --role master --amount 1 cfg.yml', 'remove one master (etcd leader moved, member removed, LB member out)') as never,
  handler: async (argv, deps) => {
    buildRemoveRequest(argv); // usage errors before anything else
    for (const k of ['volume-detach-timeout', 'server-timeout'] as const) {
      const ms = parseDuration(argv[k]);
      if (!Number.isFinite(ms) || ms <= 0) throw new UsageError(`--${k} must be a duration such as 5m, got "${argv[k]}"`);
    }
    if (!Number.isFinite(argv['poll-interval']) || argv['poll-interval'] < 1) throw new UsageError('--poll-interval must be >= 1 ms');
    const { withClusterFile } = await import('../cli/context.js');
    return withClusterFile(argv, deps, async (ctx, config) => {
      return await runRemove(argv, ctx, config);
    });
  },
};

export default remove;
