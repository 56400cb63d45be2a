/**
 * `kadd add --role master [--zone Z] [--flavor F] cfg.yml`: the handler that lib/commands/add.ts
 * dispatches `--role master` to. Thin: options -> config -> the one runner with the master verb
 * (lib/ops/engine/runner.ts, lib/ops/add-master-verb.ts) -> render -> exit code.
 */
import { renderResult } from '../cli/output.js';
import { masterPlanView } from '../cli/views.js';
import type { Context } from '../context.js';
import type { ClusterConfig } from '../config/types.js';
import type { KubeApi } from '../kube/types.js';
import type { Transport } from '../etcd/types.js';
import type { OutputFormat } from '../cli/options.js';
import { KaddError, UsageError } from '../errors.js';
import {
  DEFAULT_STAGE_TIMEOUTS, STAGES, assertMasterPlan, parseStageTimeouts, type AddMasterDeps, type AddMasterPlan, type AddMasterRequest,
  type AddMasterResult,
} from '../ops/add-master.js';
import { addMasterVerb, logPlanWarnings, type AddMasterVerbOptions } from '../ops/add-master-verb.js';
import { formatMemberTable } from '../ops/master-etcd.js';
import { outcomesOf } from '../ops/engine/events.js';

export { DRY_RUN_NO_ADDER, SudoTransport, leftoversError } from '../ops/add-master-verb.js';

export interface AddMasterArgs {
  config: string;
  zone?: string;
  flavor?: string;
  amount?: number;
  via?: string;
  /** --no-snapshot gives false */
  snapshot?: boolean;
  fixStale?: boolean;
  dryRun?: boolean;
  /** seconds for every stage, or "active=600,ready=900" */
  timeout?: string | number;
  keepFailed?: boolean;
  tokenTtl?: number;
  acceptHostKey?: string;
  adderImage?: string;
  /** with --dry-run: deploy the master-adder to read etcd (a dry run deploys nothing without it) */
  allowAdder?: boolean;
  resume?: boolean;
  cleanup?: boolean;
  forceUnlock?: boolean;
  format?: OutputFormat;
  [k: string]: unknown;
}

export interface AddMasterCommandDeps {
  loadConfig(path: string, ctx: Context): Promise<ClusterConfig>;
  /** SSH transport to a master (host = its fixed IP) */
  sshTransport(cfg: ClusterConfig, host: string, args: AddMasterArgs, ctx: Context): Promise<Transport>;
  ops: Partial<AddMasterDeps>;
  /** poll interval for stages (tests shorten it) */
  pollIntervalMs?: number;
  volumeTimeoutMs?: number;
  adderReadyTimeoutMs?: number;
  /** stdin is a terminal (default: process.stdin.isTTY; tests set it) */
  interactive?: boolean;
}

const num = (v: unknown) => (v === undefined || v === null || v === '' ? undefined : Number(v));
const pick = (a: AddMasterArgs, camel: string, kebab: string): unknown => (a[camel] !== undefined ? a[camel] : a[kebab]);

/** The master role's defaults, written once (stage timeouts: DEFAULT_STAGE_TIMEOUTS in lib/ops/add-master.ts). */
export const MASTER_DEFAULTS = {
  /** bootstrap token lifetime, seconds: a control-plane join is slower than a worker's */
  tokenTtlSeconds: 1800,
  /** ms for the boot volume to become available (--boot-timeout) */
  volumeTimeoutMs: 300_000,
} as const;

/** Pure: argv -> validated request pieces (UsageError, exit 2, before any API call). */
export function parseAddMasterArgs(a: AddMasterArgs): { via: 'kube' | 'ssh'; request: Omit<AddMasterRequest, 'config'>; dryRun: boolean; cleanup: boolean; allowAdder: boolean } {
  const amount = num(a.amount);
  if (amount !== undefined && amount !== 1) {
    throw new UsageError(`--role master adds one master per run; --amount ${a.amount} is not allowed`, {
      hint: 'run `kadd add --role master` again after each master has joined (etcd changes one member at a time)',
    });
  }
  if (a.resume) {
    throw new UsageError('--resume does not apply to --role master: a half-joined control-plane node is cleaned up, never resumed', {
      hint: `\`kadd add --role master --cleanup ${a.config ?? 'cfg.yml'}\` removes what the earlier run left (its etcd member first, behind a quorum check) and adds a fresh master`,
    });
  }
  const via = String(a.via ?? 'kube');
  if (via !== 'kube' && via !== 'ssh') throw new UsageError(`--via must be kube or ssh, got "${via}"`);
  const ttl = num(pick(a, 'tokenTtl', 'token-ttl')) ?? MASTER_DEFAULTS.tokenTtlSeconds;
  if (!Number.isInteger(ttl)) throw new UsageError(`--token-ttl must be a whole number of seconds, got ${String(a.tokenTtl)}`);
  const timeouts = parseStageTimeouts(a.timeout as string | number | undefined, DEFAULT_STAGE_TIMEOUTS);
  const poll = num(pick(a, 'pollInterval', 'poll-interval'));
  if (poll !== undefined && !(Number.isFinite(poll) && poll >= 1)) throw new UsageError('--poll-interval must be >= 1 ms');
  const boot = num(pick(a, 'bootTimeout', 'boot-timeout'));
  if (boot !== undefined && !(Number.isFinite(boot) && boot > 0)) throw new UsageError('--boot-timeout must be a positive number of seconds');
  return {
    via,
    dryRun: !!pick(a, 'dryRun', 'dry-run'),
    cleanup: !!a.cleanup,
    allowAdder: !!pick(a, 'allowAdder', 'allow-adder'),
    request: {
      zone: a.zone, flavor: a.flavor, snapshot: a.snapshot !== false, fixStale: !!pick(a, 'fixStale', 'fix-stale'),
      keepFailed: !!pick(a, 'keepFailed', 'keep-failed'), timeouts, volumeTimeoutMs: boot !== undefined ? boot * 1000 : MASTER_DEFAULTS.volumeTimeoutMs, tokenTtlSeconds: ttl,
      pollIntervalMs: poll ?? 2000, maxPollIntervalMs: poll !== undefined ? Math.max(poll, Math.min(poll * 5, 10_000)) : 10_000,
      via, configArg: a.config,
    },
  };
}

async function defaultDeps(): Promise<AddMasterCommandDeps> {
  return {
    async loadConfig(path, ctx) {
      const { loadClusterConfig } = await import('../config/load.js');
      const { config, warnings } = await loadClusterConfig(path, { cwd: ctx.cwd, env: ctx.env });
      for (const w of warnings) ctx.io.log('warn', w.message);
      return config;
    },
    async sshTransport(cfg, host, args, ctx) {
      const { SshTransport } = await import('../ssh/transport.js');
      const s = cfg.ssh;
      return new SshTransport({
        host, port: s.port, user: s.user, privateKey: s.privateKey, bastion: s.bastion, hostKeys: s.hostKeys, knownHostsFile: s.knownHosts,
        acceptHostKey: args.acceptHostKey, io: ctx.io, env: ctx.env,
      });
    },
    ops: {},
  };
}

async function opsDeps(over: Partial<AddMasterDeps>, kube: () => Promise<KubeApi>): Promise<AddMasterVerbOptions['deps']> {
  const [{ caCertHash }, render, etcdctl] = await Promise.all([import('../kube/ca.js'), import('../cloudinit/render.js'), import('../etcd/etcdctl.js')]);
  return {
    caCertHash,
    renderUserData: async (input) => render.renderMasterUserData(input),
    certificateKey: etcdctl.generateCertificateKey,
    // the key goes to kubeadm through stdin and a --config file, with the cluster's ClusterConfiguration (13.7)
    uploadCerts: async (t, key) => etcdctl.kubeadmUploadCerts(t, key, { clusterConfiguration: await (await kube()).getClusterConfiguration().catch(() => null) }),
    ...Object.fromEntries(Object.entries(over).filter(([k]) => k !== 'journal' && k !== 'writeConfig')),
  };
}

export function formatPlan(p: AddMasterPlan): string {
  const lines = [
    `plan: add master ${p.name} to cluster ${p.cluster}`,
    `  server     ${p.name} (${p.flavor.name}, ${p.flavor.vcpus} vCPU, ${p.flavor.ram} MiB)${p.zone ? ` in ${p.zone}` : ''}, boot volume ${p.volumeName} ${p.volumeSize} GB from ${p.image.name}`,
    `  network    ${p.network.name} / ${p.subnet.name}, port ${p.portName}, security group ${p.securityGroup.name}`,
    ...(p.serverGroup ? [`  group      server group ${p.serverGroup.name} (${p.serverGroup.policy}, ${p.serverGroup.members} member${p.serverGroup.members === 1 ? '' : 's'} now, ${p.serverGroup.id})`] : []),
    `  join       kubeadm join --control-plane via ${p.apiEndpoint} (Kubernetes ${p.k8sVersion})`,
    `  pool       ${p.lb ? `${p.lb.poolName} of ${p.lb.name} (port 6443)` : 'none'}`,
    p.unchecked.length && !p.etcd.via ? '  etcd       not read (see "not checked" below)' : `  etcd       via ${p.etcd.via || '?'}${p.etcd.projection ? `: ${p.etcd.projection.votersBefore} -> ${p.etcd.projection.votersAfter} voting members, quorum ${p.etcd.projection.quorumBefore} -> ${p.etcd.projection.quorumAfter}, tolerates ${p.etcd.projection.toleranceAfter} failure(s) after` : ''}`,
    ...(p.etcd.adder ? ['  adder      the master-adder (kube-system) was deployed for this dry run (--allow-adder) and deleted again'] : []),
    `  snapshot   ${p.snapshot ? `yes${p.etcd.nodeName ? `, on ${p.etcd.nodeName}` : ', on the master etcd is reached through'}` : 'no (--no-snapshot)'}`,
    `  timeouts   ${STAGES.map((s) => `${s} ${Math.round(p.timeouts[s] / 1000)}s`).join(', ')} (--timeout)`,
  ];
  if (p.etcd.members.length) lines.push('', formatMemberTable(p.etcd.members));
  if (p.unchecked.length) {
    lines.push('', 'not checked (this dry run deployed nothing; the real run checks these before any change):');
    for (const u of p.unchecked) lines.push(`  - ${u.check}`);
    lines.push(`  why: ${[...new Set(p.unchecked.map((u) => u.reason))].join('; ')}`);
  }
  if (p.stale.length) {
    lines.push('', `stale etcd members${p.fixStale ? ' (to be removed, one at a time)' : ''}:`);
    for (const s of p.stale) lines.push(`  ${s.name || '(unstarted)'} ${s.id}: ${s.reason}`, `    fix: ${s.fix}`);
  }
  if (p.quota.length) lines.push('', 'quota: ' + p.quota.map((q) => `${q.resource} ${q.need}/${q.free}${q.ok ? '' : ' (NOT ENOUGH)'}`).join(', '));
  for (const b of p.blockers) lines.push(`blocker: ${b}`);
  return lines.join('\n') + '\n';
}

export function formatResult(r: AddMasterResult): string {
  const lines = [
    `master ${r.name} added to cluster ${r.cluster} (${r.ip}, ${r.flavor}${r.zone ? `, ${r.zone}` : ''}; etcd member ${r.memberId}) in ${Math.round(r.durationMs / 1000)}s`,
  ];
  if (r.snapshot) lines.push(`etcd snapshot: ${r.snapshot.path}`);
  for (const s of r.removedStale) lines.push(`removed stale etcd member: ${s}`);
  if (r.lbMember) lines.push(`load balancer pool member: ${r.lbMember}`);
  if (r.updatedConfig) lines.push(`updated cluster file: ${r.updatedConfig}`);
  if (r.members.length) lines.push('', formatMemberTable(r.members));
  return lines.join('\n') + '\n';
}

/**
 * The `--role master` branch of `kadd add`. Returns the exit code (0); failures are thrown as KaddError
 * (UsageError/PreflightError exit 2, OperationError exit 1 listing what was rolled back, InterruptedError 130);
 * a failure of the change itself prints the master's outcome first when the format is not table.
 */
export async function handleAddMaster(argv: AddMasterArgs, ctx: Context, over: Partial<AddMasterCommandDeps> = {}): Promise<number> {
  const parsed = parseAddMasterArgs(argv);
  const deps = { ...(await defaultDeps()), ...over };
  if (!argv.config) throw new UsageError('the cluster file is missing: kadd add --role master cfg.yml');
  const config = await deps.loadConfig(argv.config, ctx);
  const request: AddMasterRequest = {
    ...parsed.request, config,
    pollIntervalMs: deps.pollIntervalMs ?? parsed.request.pollIntervalMs,
    maxPollIntervalMs: deps.pollIntervalMs !== undefined ? Math.max(deps.pollIntervalMs, parsed.request.maxPollIntervalMs) : parsed.request.maxPollIntervalMs,
    volumeTimeoutMs: deps.volumeTimeoutMs ?? parsed.request.volumeTimeoutMs,
  };
  const [{ runOperation }, { journalPath }, { writeUpdatedConfig }] = await Promise.all([import('../ops/engine/runner.js'), import('../journal/journal.js'), import('../config/write.js')]);
  const options: AddMasterVerbOptions = {
    request, configArg: argv.config, via: parsed.via, dryRun: parsed.dryRun, cleanup: parsed.cleanup, readEtcd: parsed.allowAdder,
    acceptDrift: !!pick(argv, 'acceptDrift', 'accept-drift'), forceUnlock: !!pick(argv, 'forceUnlock', 'force-unlock'),
    gate: { yes: !!argv.yes, interactive: deps.interactive ?? !!process.stdin.isTTY, configArg: argv.config },
    adderImage: argv.adderImage ?? (argv['adder-image'] as string | undefined), adderReadyTimeoutMs: deps.adderReadyTimeoutMs,
    sshTransport: (host) => deps.sshTransport(config, host, argv, ctx),
    deps: await opsDeps(deps.ops, () => ctx.kube()),
    writeConfig: deps.ops.writeConfig ?? (async (n) => (await writeUpdatedConfig(config.file, { 'n-masters': n })).path),
    formatPlan,
  };
  const off = ctx.onHardStop?.(() => `stopped before the rollback finished; what is left is recorded in ${journalPath(config.file)}; \`kadd add --role master --cleanup ${argv.config}\` removes it (its etcd member first, behind a quorum check)`);
  const fmt = argv.format ?? 'table';
  try {
    let out;
    try {
      out = await runOperation(ctx, addMasterVerb(ctx, options));
    } catch (e) {
      // An API that does not answer cannot give the cluster lock: the preflight then runs as a dry run (nothing
      // changes, etcd read as the real run would) to say what needs the API and name the --via ssh line, and
      // the run is refused either way.
      if (!KaddError.is(e) || e.code !== 'E_CLUSTER_LOCK_API') throw e;
      const dry = await runOperation(ctx, addMasterVerb(ctx, { ...options, dryRun: true, readEtcd: true, cleanup: false }));
      if (dry.kind === 'dry-run') {
        logPlanWarnings(ctx, dry.plan);
        assertMasterPlan(dry.plan);
      }
      throw e;
    }
    if (out.kind === 'dry-run') {
      logPlanWarnings(ctx, out.plan);
      ctx.io.result(fmt === 'table' ? formatPlan(out.plan) : renderResult(masterPlanView(out.plan), fmt));
      return out.plan.blockers.length ? 2 : 0;
    }
    if (out.kind !== 'done') throw new Error('internal: a master add always has something to do');
    ctx.io.result(fmt === 'table' ? formatResult(out.result) : renderResult(out.result, fmt));
    return 0;
  } catch (e) {
    // the change failed (rolled back, or the rollback left something): with -f json/yaml/value the master's
    // outcome still goes to stdout (docs/schemas/add-master-result.json); the error, stderr and exit code as before
    const outcomes = outcomesOf(e);
    if (outcomes?.length && fmt !== 'table') ctx.io.result(renderResult({ cluster: config.clusterName, name: outcomes[0]!.node, outcomes }, fmt));
    throw e;
  } finally {
    off?.();
  }
}

export { STAGES };
