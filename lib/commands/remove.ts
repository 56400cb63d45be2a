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
 * remove on the runner (lib/ops/engine/runner.ts): the unfinished journal (--resume or a refusal) ->
 * observe + plan -> dry-run / blockers / confirmation -> execute (the cluster file written inside, before
 * the journal's end) -> render -> exit code.
 */
async function runRemove(argv: CommandArgs<RemoveArgs>, ctx: Context, config: ClusterConfig): Promise<number> {
  const req = buildRemoveRequest(argv);
  const format = argv.format ?? 'table';
  const dryRun = argv['dry-run'];
  const pollMs = argv['poll-interval'];
  const [{ observeAndPlan, executeRemove }, { formatRemovePlan }, { createRemoveReapers }, { openEtcdViaAdder, formatMemberTable }, { writeUpdatedConfig }, { runOperation }, { startRemove, planFinishing, finishedCounts, finishAdds }] = await Promise.all([
    import('../ops/remove.js'), import('../ops/remove-plan.js'), import('../ops/remove-reapers.js'), import('../ops/master-etcd.js'), import('../config/write.js'), import('../ops/engine/runner.js'), import('../ops/remove-unfinished.js'),
  ]);
  // how the unfinished journal starts this run: fresh, --resume (the recorded victims), or finishing an interrupted add
  let start: Awaited<ReturnType<typeof startRemove>> = { kind: 'fresh', request: req };
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
    // --resume continues a remove; an interrupted add of the victims is finished; anything else is refused
    async unfinished(report) {
      start = await startRemove(report, req, { resume: argv.resume, dryRun, clusterFile: config.file, configArg: argv.config, cluster: config.clusterName, io: ctx.io });
    },
    async observe(c) {
      const [os, kube] = await Promise.all([c.openstack(), c.kube()]);
      clients = { os, kube };
      const obs = await observeAndPlan(c, start.request, config, os, kube, { openEtcd }, start.kind === 'resume' ? start.victims : undefined);
      if (start.kind === 'finish-adds') planFinishing(obs.plan, start);
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
      if (!argv.yes && start.kind !== 'resume') {
        ctx.io.log('info', formatRemovePlan(obs.plan).trimEnd());
        if (!process.stdin.isTTY) throw new UsageError('kadd remove asks for confirmation, and stdin is not a terminal: give --yes to proceed (see the plan above)');
        if (!(await ctx.io.confirm(`remove ${obs.plan.victims.map((v) => v.name).join(', ')}?`, false))) throw new UsageError('not confirmed; nothing was changed');
      }
      for (const w of obs.plan.warnings) ctx.io.log('warn', w);
    },
    journalArgs: (obs) => ({ config: config.file, victims: obs.plan.victims, request: { ...start.request } }),
    async execute(c, obs, journal) {
      const { os, kube } = clients!;
      const reapers = createRemoveReapers(c, os, kube, {
        cluster: config.clusterName, pollIntervalMs: pollMs, serverTimeoutMs: parseDuration(argv['server-timeout']),
        etcdctl: () => access?.etcdctl ?? null,
        lbName: config.loadbalancer.name || `${config.clusterName}-lb`,
      });
      const result = await executeRemove(c, start.request, obs, kube, {
        journal: stepJournalOf(c, journal), reapers, openEtcd, pollIntervalMs: pollMs, evictRetryMs: argv['evict-retry'],
        volumeDetachTimeoutMs: parseDuration(argv['volume-detach-timeout']),
        // finishing an add: the counts the plan says (its nodes were never counted)
        writeConfig: async (changes) => (await writeUpdatedConfig(config.file, start.kind === 'finish-adds' ? finishedCounts(obs.plan) : changes)).path,
        stopControlPlane: (v) => stopControlPlaneViaSsh(c, config, v),
      });
      if (start.kind === 'finish-adds' && result.removed.length === result.victims.length) await finishAdds(c, config, journal, { os, kube }, start.ops, pollMs, result.warnings);
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
