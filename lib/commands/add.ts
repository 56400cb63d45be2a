/**
 * kadd add [--role node|master] [--amount N] [--zone Z] [--flavor F] CONFIG
 *
 * Workers (default): parallel, batched polling, rollback of what did not join, cfg.updated.yml.
 * Masters: one per run, etcd-aware (lib/commands/add-master.ts).
 */
import type { Argv } from 'yargs';
import type { KaddCommandModule, CommandArgs } from '../cli/command.js';
import { ALLOW_ADDER_FLAG, allowAdderOption, forceUnlockOption, roleOption, type GlobalOptions } from '../cli/options.js';
import { durationSeconds } from '../duration.js';
import { createCliContext, type CliContext } from '../cli/context.js';
import { renderFor, renderResult } from '../cli/output.js';
import { workerPlanView } from '../cli/views.js';
import { loadClusterConfig } from '../config/load.js';
import { UsageError, PartialSuccessError, OperationError, InterruptedError } from '../errors.js';
import type { AddWorkersPlan, AddWorkersRequest, AddWorkersResult } from '../ops/add-workers.js';
import { formatDiagnosis } from '../ops/diagnose.js';

export interface AddArgs {
  config: string;
  role: 'node' | 'master';
  amount: number;
  zone?: string;
  flavor?: string;
  concurrency: number;
  /**
   * workers: seconds (or a duration) to wait for a node to join after ACTIVE, @default WORKER_DEFAULTS.timeoutSeconds;
   * masters: every stage (`600`) or per stage (`active=600,ready=900`), @default DEFAULT_STAGE_TIMEOUTS.
   * A string for yargs: one option serves two roles with two schemas (parsed per role below).
   */
  timeout?: string;
  'boot-timeout': number;
  wait: boolean;
  'dry-run': boolean;
  'keep-failed': boolean;
  /** seconds; @default WORKER_DEFAULTS.tokenTtlSeconds (900) for workers, 1800 for masters (lib/commands/add-master.ts) */
  'token-ttl'?: number;
  strict: boolean;
  resume?: boolean;
  cleanup?: boolean;
  'force-unlock'?: boolean;
  'accept-drift'?: boolean;
  'poll-interval': number;
  // master only
  via?: 'kube' | 'ssh';
  snapshot: boolean;
  'fix-stale': boolean;
  'accept-host-key'?: string;
  'adder-image'?: string;
  /** with --dry-run: deploy the master-adder to check etcd too */
  'allow-adder'?: boolean;
}

/** @deprecated display-oriented; the JSON output is workerPlanView (lib/cli/views.ts, docs/schemas/add-plan.json) */
export function planView(p: AddWorkersPlan) {
  return {
    cluster: p.cluster,
    role: p.role,
    image: p.image.name,
    keypair: p.keypair,
    volume: { size: p.volumeSize, type: p.volumeType ?? null },
    apiEndpoint: p.apiEndpoint,
    k8sVersion: p.k8sVersion,
    userDataBytes: p.userDataBytes,
    serverGroup: p.serverGroup ? { name: p.serverGroup.name, id: p.serverGroup.id, policy: p.serverGroup.policy, members: p.serverGroup.members } : null,
    network: { network: `${p.network.name} (${p.network.action})`, subnet: `${p.subnet.name} ${p.subnet.cidr} (${p.subnet.action})`, router: `${p.router.name} (${p.router.action})`, securityGroup: `${p.securityGroup.name} (${p.securityGroup.action})` },
    nodes: p.nodes.map((n) => ({ name: n.name, zone: n.zone ?? '', flavor: n.flavor.name, adopt: Object.entries(n.adopt).filter(([, v]) => v).map(([k]) => k.replace(/Id$/, '')).join(',') || '' })),
    quota: p.quota,
    warnings: p.warnings,
    blockers: p.blockers,
  };
}

function renderPlanTable(p: AddWorkersPlan): string {
  const v = planView(p);
  const out: string[] = [];
  out.push(`plan: add ${p.nodes.length} worker(s) to ${p.cluster} (API ${p.apiEndpoint}, Kubernetes ${p.k8sVersion})`);
  out.push(`image ${v.image}, keypair ${v.keypair}, boot volume ${p.volumeSize} GB${p.volumeType ? ` (${p.volumeType})` : ''}, user-data ${p.userDataBytes} bytes (base64)`);
  out.push(`network ${v.network.network}, subnet ${v.network.subnet}, router ${v.network.router}, security group ${v.network.securityGroup}`);
  if (p.serverGroup) out.push(`server group ${p.serverGroup.name} (${p.serverGroup.policy}, ${p.serverGroup.members} member${p.serverGroup.members === 1 ? '' : 's'} now, ${p.serverGroup.id})`);
  out.push('');
  out.push(renderResult(v.nodes, 'table', { columns: [{ key: 'name' }, { key: 'zone' }, { key: 'flavor' }, { key: 'adopt', header: 'adopts' }] }).trimEnd());
  out.push('');
  out.push(renderResult(p.quota.map((q) => ({ resource: q.resource, need: q.need, free: q.free, ok: q.ok ? 'ok' : 'NOT ENOUGH' })), 'table').trimEnd());
  for (const w of p.warnings) out.push(`warning: ${w}`);
  for (const b of p.blockers) out.push(`blocker: ${b}`);
  return out.join('\n') + '\n';
}

export function resultView(r: AddWorkersResult) {
  return {
    cluster: r.cluster,
    requested: r.requested,
    added: r.added,
    interrupted: r.interrupted,
    updatedConfig: r.updatedConfig ?? null,
    durationSeconds: Math.round(r.durationMs / 100) / 10,
    nodes: r.nodes.map((n) => ({
      name: n.name, zone: n.zone ?? null, flavor: n.flavor, outcome: n.outcome, ip: n.ip ?? null, serverId: n.serverId ?? null, attempts: n.attempts,
      cause: n.cause ?? null, diagnosis: n.diagnosis ? { cause: n.diagnosis.cause, summary: n.diagnosis.summary, nextStep: n.diagnosis.nextStep } : null,
      left: n.left ?? [],
    })),
    // each node's lifecycle stages and outcome (docs/schemas/node-outcome.json), as remove and cleanup list them
    outcomes: r.outcomes,
  };
}

/**
 * A diagnosis' next step must work: after a rollback the server is gone, so "run `kadd logs NODE`" cannot;
 * it points to --keep-failed instead (issue 12 point 12).
 */
export function reachableNextStep<D extends { nextStep: string }>(d: D, serverKept: boolean, config: string, name: string): D {
  if (/kadd logs/.test(d.nextStep)) {
    return serverKept
      ? { ...d, nextStep: d.nextStep.replace(/kadd logs NODE/g, `kadd logs ${config} ${name}`) }
      : { ...d, nextStep: `the server was deleted by the rollback; run again with --keep-failed to keep a failed server, then \`kadd logs ${config} ${name}\`` };
  }
  return d;
}

/** The hint after failed nodes: "see the diagnosis above" only when one was printed. */
export function failureHint(o: { diagnosed: boolean; rolledBack: boolean; config: string }): string {
  const parts: string[] = [];
  if (o.diagnosed) parts.push('see the diagnosis above');
  if (o.rolledBack) parts.push('the failed servers were deleted; --keep-failed keeps them for `kadd logs` and inspection');
  if (!parts.length) parts.push(`\`kadd status ${o.config}\` shows the cluster now`);
  return parts.join('; ');
}

/** The worker role's defaults, written once (the master role's live in lib/commands/add-master.ts). */
export const WORKER_DEFAULTS = {
  /** seconds to wait for a node to join after ACTIVE */
  timeoutSeconds: 1200,
  /** bootstrap token lifetime, seconds (extended while nodes boot) */
  tokenTtlSeconds: 900,
} as const;

/** Worker `--timeout`: seconds or a duration (`20m`); a master-style stage list is refused with the hint. */
export function workerTimeoutSeconds(v: string | number | undefined): number {
  if (v === undefined) return WORKER_DEFAULTS.timeoutSeconds;
  if (String(v).includes('=')) throw new UsageError(`--timeout ${String(v)}: per-stage timeouts apply to --role master only`, { hint: 'for workers give one duration: --timeout 1200 or --timeout 20m' });
  return durationSeconds('timeout')(v)!;
}

export function buildRequest(argv: CommandArgs<AddArgs>, config: AddWorkersRequest['config']): AddWorkersRequest {
  const poll = argv['poll-interval'];
  return {
    config,
    amount: argv.amount,
    zone: argv.zone,
    flavor: argv.flavor,
    concurrency: argv.concurrency,
    bootTimeoutMs: argv['boot-timeout'] * 1000,
    joinTimeoutMs: workerTimeoutSeconds(argv.timeout) * 1000,
    volumeTimeoutMs: argv['boot-timeout'] * 1000,
    wait: argv.wait,
    keepFailed: argv['keep-failed'],
    tokenTtlSeconds: argv['token-ttl'] ?? WORKER_DEFAULTS.tokenTtlSeconds,
    pollIntervalMs: poll,
    maxPollIntervalMs: Math.max(poll, Math.min(poll * 5, 15_000)),
  };
}

async function addWorkers(argv: CommandArgs<AddArgs>, ctx: CliContext, config: AddWorkersRequest['config']): Promise<number> {
  const { runAddWorkers } = await import('../ops/add-workers-run.js');
  const format = argv.format ?? 'table';
  const req = buildRequest(argv, config);
  const run = await runAddWorkers(ctx, req, {
    dryRun: argv['dry-run'],
    leftovers: argv.resume ? 'resume' : argv.cleanup ? 'cleanup' : undefined,
    forceUnlock: argv['force-unlock'],
    acceptDrift: argv['accept-drift'],
    configArg: argv.config,
    argsForJournal: { config: argv.config, amount: argv.amount, zone: argv.zone, flavor: argv.flavor },
  });
  if (argv['dry-run'] && run.plan) {
    ctx.io.result(format === 'table' && !argv.column ? renderPlanTable(run.plan) : renderFor(argv, workerPlanView(run.plan)));
    return run.plan.blockers.length ? 2 : 0;
  }
  const r = run.result!;
  const view = resultView(r);
  for (const n of r.nodes) if (n.diagnosis) ctx.io.log('error', formatDiagnosis(n.name, reachableNextStep(n.diagnosis, !!n.left?.length, argv.config, n.name)));
  const diagnosed = r.nodes.some((n) => n.diagnosis);
  const rolledBack = r.nodes.some((n) => (n.outcome === 'rolled-back' || n.outcome === 'failed') && !n.left?.length);
  if (format === 'table') {
    ctx.io.result(
      renderResult(view.nodes, 'table', {
        columns: [{ key: 'name' }, { key: 'zone' }, { key: 'flavor' }, { key: 'outcome' }, { key: 'ip' }, { key: 'attempts' }, { key: 'cause' }],
      }),
    );
  } else {
    ctx.io.result(renderFor(argv, format === 'value' || argv.column ? view.nodes : view));
  }
  for (const n of r.nodes) if (n.left?.length) ctx.io.log('warn', `${n.name} kept (--keep-failed): ${n.left.join(', ')}`);
  if (r.updatedConfig) ctx.io.log('info', `wrote ${r.updatedConfig} (n-nodes ${config.nNodes} -> ${r.nNodes ?? config.nNodes + r.added})`);
  if (r.interrupted) throw new InterruptedError(`interrupted: ${r.added} of ${r.requested} nodes added, the rest rolled back`);
  if (r.added === r.requested) return 0;
  const hint = failureHint({ diagnosed, rolledBack, config: argv.config });
  if (r.added > 0) throw new PartialSuccessError(`${r.added} of ${r.requested} nodes added; the others were rolled back`, { hint: `${hint}; run kadd add again for the missing nodes` });
  throw new OperationError('E_ADD_FAILED', `0 of ${r.requested} nodes added; everything created was rolled back`, { hint });
}

const add: KaddCommandModule<AddArgs> = {
  command: 'add <config>',
  describe: 'add workers (parallel) or one master (etcd-aware) to the cluster',
  mutating: true,
  builder: (y: Argv<GlobalOptions>) =>
    y
      .positional('config', { type: 'string', demandOption: true, describe: 'cluster file (koris format); writes <name>.updated.<ext>' })
      .option('role', roleOption('what to add'))
      .option('amount', { alias: 'a', type: 'number', default: 1, describe: 'how many workers (masters: one per run)' })
      .option('zone', { alias: 'z', type: 'string', describe: 'availability zone (default: round-robin over the config\'s zones)' })
      .option('flavor', { type: 'string', describe: 'flavor (default: node_flavor / master_flavor)' })
      .option('concurrency', { type: 'number', default: 10, describe: 'create requests in flight at once (every node is waited for in parallel)' })
      .option('timeout', { type: 'string', describe: 'workers: how long a node may take to join after ACTIVE (seconds or 20m; default 1200); masters: every stage (600) or per stage (active=600,ready=900)' })
      .option('boot-timeout', { type: 'string', default: 600, coerce: durationSeconds('boot-timeout'), describe: 'how long the boot volume and the server may take to become ACTIVE (10m, 600)' })
      .option('wait', { type: 'boolean', default: true, describe: 'wait until each Node is Ready (--no-wait stops at ACTIVE)' })
      .option('dry-run', { type: 'boolean', default: false, describe: 'run the preflight and print the plan; change nothing' })
      .option('keep-failed', { type: 'boolean', default: false, describe: 'leave failed servers in place for inspection (says where)' })
      .option('token-ttl', { type: 'string', coerce: durationSeconds('token-ttl'), describe: 'bootstrap token lifetime (15m, 900; extended while nodes boot; default: workers 900, masters 1800)' })
      .option('strict', { type: 'boolean', default: false, describe: 'unknown keys in the cluster file are errors' })
      .option('resume', { type: 'boolean', describe: 'finish the nodes of an interrupted run (adopts what exists)' })
      .option('cleanup', { type: 'boolean', describe: 'delete what an interrupted run left, then proceed' })
      .option('force-unlock', forceUnlockOption())
      .option('accept-drift', { type: 'boolean', default: false, describe: 'the cluster file\'s n-nodes/n-masters disagrees with the cluster (a *.updated.yml not copied back): go on and count from the cluster' })
      .option('poll-interval', { type: 'number', default: 2000, describe: 'first poll interval in ms (backs off)', hidden: true })
      .option('via', { choices: ['kube', 'ssh'] as const, describe: 'masters: reach etcd through the adder pod (kube) or SSH' })
      .option('snapshot', { type: 'boolean', default: true, describe: 'masters: snapshot etcd before the change (--no-snapshot skips)' })
      .option('fix-stale', { type: 'boolean', default: false, describe: 'masters: remove a stale learner/member left by a failed join' })
      .option('accept-host-key', { type: 'string', describe: 'masters over SSH: accept this unknown host key fingerprint (SHA256:...)' })
      .option('adder-image', { type: 'string', describe: 'masters: image of the master-adder pod (default: the cluster\'s etcd image)' })
      .option(ALLOW_ADDER_FLAG, allowAdderOption('masters with --dry-run: deploy the master-adder (privileged, kube-system; deleted afterwards) to check etcd too; without it the dry run deploys nothing and lists what it did not check'))
      .conflicts('resume', 'cleanup')
      .example('kadd add --amount 3 cfg.yml', 'add three workers, spread over the configured zones')
      .example('kadd add --role master --zone az2 cfg.yml', 'add one master (1 -> 2 masters asks first; --yes answers)') as never,
  handler: async (argv, deps) => {
    if (argv.role === 'node' && (argv.via || argv['fix-stale'] || argv['accept-host-key'] || argv['adder-image'] || argv[ALLOW_ADDER_FLAG])) {
      throw new UsageError('--via, --fix-stale, --accept-host-key, --adder-image and --allow-adder apply to --role master only');
    }
    if (argv.role !== 'master') workerTimeoutSeconds(argv.timeout); // exit 2 before anything; masters parse theirs per stage
    if (!Number.isFinite(argv['boot-timeout']) || argv['boot-timeout'] <= 0) throw new UsageError(`--boot-timeout must be a positive number of seconds, got ${argv['boot-timeout']}`);
    if (!Number.isFinite(argv['poll-interval']) || argv['poll-interval'] < 1) throw new UsageError('--poll-interval must be >= 1 ms');
    const ctx = createCliContext(argv, deps);
    try {
      // the cwd and env handed to main(), as every other command (not the process's)
      const { config, warnings } = await loadClusterConfig(argv.config, { strict: argv.strict, cwd: ctx.cwd, env: ctx.env });
      for (const w of warnings) ctx.io.log('warn', `${argv.config}: ${w.path}: ${w.message}`);
      if (argv.role === 'master') {
        const { handleAddMaster } = await import('./add-master.js');
        return await handleAddMaster(argv as never, ctx, { loadConfig: async () => config });
      }
      return await addWorkers(argv, ctx, config);
    } finally {
      ctx.dispose();
    }
  },
};

export default add;
