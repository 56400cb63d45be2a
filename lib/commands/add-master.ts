/**
 * `kadd add --role master [--zone Z] [--flavor F] cfg.yml`: the handler that lib/commands/add.ts
 * dispatches `--role master` to. Thin: options -> config -> journal -> runAddMaster -> render -> exit code.
 */
import { renderResult } from '../cli/output.js';
import { masterPlanView } from '../cli/views.js';
import type { Context } from '../context.js';
import type { ClusterConfig } from '../config/types.js';
import type { KubeApi } from '../kube/types.js';
import type { OpenStackClient } from '../openstack/types.js';
import type { Transport, CommandResult } from '../etcd/types.js';
import type { OutputFormat } from '../cli/options.js';
import { InterruptedError, KaddError, PreflightError, UsageError } from '../errors.js';
import type { LeftoverResource } from '../journal/index.js';
import { describeLeftover, type LedgerJournal } from '../ops/engine/ledger.js';
import { firstIp } from '../ops/add-workers.js';
import { roleNamePattern } from '../ops/naming.js';
import {
  DEFAULT_STAGE_TIMEOUTS, STAGES, assertMasterPlan, parseStageTimeouts, runAddMaster, type AddMasterDeps, type AddMasterPlan, type AddMasterRequest,
  type AddMasterResult,
} from '../ops/add-master.js';
import { acquireClusterLock, withLock, type ClusterLock } from '../ops/engine/lock.js';
import { confirmAvailability, mastersNow, observeMastersReadOnly, refuseUnconfirmedEarly } from '../ops/availability.js';
import { clusterCount, reconcileCount } from '../ops/drift.js';
import { DEFAULT_SNAPSHOT_DIR, formatMemberTable, openEtcdViaAdder, type EtcdAccess } from '../ops/master-etcd.js';

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
  openJournal(cfg: ClusterConfig, ctx: Context): Promise<LedgerJournal & { begin(op: { command: string; args?: Record<string, unknown> }): Promise<string>; end(s: 'ok' | 'failed' | 'interrupted'): Promise<void>; close(): Promise<void> }>;
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

/** Runs etcdctl/kubeadm with sudo when the SSH user is not root (the etcd keys are root-only). */
export class SudoTransport implements Transport {
  readonly kind;
  readonly describe: string;
  constructor(private readonly inner: Transport) {
    this.kind = inner.kind;
    this.describe = inner.describe;
  }
  run(argv: string[], opts: { env?: Record<string, string>; timeoutMs?: number; stdin?: string } = {}): Promise<CommandResult> {
    const env = Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${v}`);
    return this.inner.run(['sudo', '-n', ...(env.length ? ['env', ...env] : []), ...argv], { timeoutMs: opts.timeoutMs, stdin: opts.stdin });
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

async function defaultDeps(): Promise<AddMasterCommandDeps> {
  return {
    async loadConfig(path, ctx) {
      const { loadClusterConfig } = await import('../config/load.js');
      const { config, warnings } = await loadClusterConfig(path, { cwd: ctx.cwd, env: ctx.env });
      for (const w of warnings) ctx.io.log('warn', w.message);
      return config;
    },
    async openJournal(cfg, ctx) {
      const { Journal } = await import('../journal/journal.js');
      return Journal.open(cfg.file, { now: () => ctx.clock.now() }) as unknown as ReturnType<AddMasterCommandDeps['openJournal']>;
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

async function opsDeps(cfg: ClusterConfig, journal: LedgerJournal, over: Partial<AddMasterDeps>, kube?: KubeApi): Promise<AddMasterDeps> {
  const [{ caCertHash }, render, etcdctl, { writeUpdatedConfig }] = await Promise.all([
    import('../kube/ca.js'), import('../cloudinit/render.js'), import('../etcd/etcdctl.js'), import('../config/write.js'),
  ]);
  return {
    journal,
    caCertHash,
    renderUserData: async (input) => render.renderMasterUserData(input),
    certificateKey: etcdctl.generateCertificateKey,
    // the key goes to kubeadm through stdin and a --config file, with the cluster's ClusterConfiguration (13.7)
    uploadCerts: async (t, key) => etcdctl.kubeadmUploadCerts(t, key, { clusterConfiguration: kube ? await kube.getClusterConfiguration().catch(() => null) : null }),
    writeConfig: async (n) => (await writeUpdatedConfig(cfg.file, { 'n-masters': n })).path,
    ...over,
  };
}

async function openEtcdViaSsh(ctx: Context, cfg: ClusterConfig, os: OpenStackClient, args: AddMasterArgs, deps: AddMasterCommandDeps): Promise<EtcdAccess> {
  const { Etcdctl, kubeadmEtcdctlOptions } = await import('../etcd/etcdctl.js');
  const masters = (await os.compute.listServers({ name: roleNamePattern(cfg.clusterName, 'master') })).filter((s) => s.status === 'ACTIVE');
  masters.sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
  const target = masters.find((s) => firstIp(s));
  if (!target) throw new KaddError('E_NO_HEALTHY_MASTER', `no ACTIVE master server of cluster ${cfg.clusterName} with an IP address to reach over SSH`, 1);
  const raw = await deps.sshTransport(cfg, firstIp(target)!, args, ctx);
  const transport = cfg.ssh.user === 'root' ? raw : new SudoTransport(raw);
  const mk = await transport.run(['mkdir', '-p', '-m', '0700', DEFAULT_SNAPSHOT_DIR], { timeoutMs: 30_000 });
  if (mk.exitCode !== 0) ctx.io.log('warn', `could not create ${DEFAULT_SNAPSHOT_DIR} on ${target.name}: ${mk.stderr.trim()}`);
  const etcdctl = new Etcdctl(transport, { ...kubeadmEtcdctlOptions('healthcheck-client'), clock: ctx.clock });
  return { etcdctl, transport, nodeName: target.name, snapshotDir: DEFAULT_SNAPSHOT_DIR, close: () => transport.close() };
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

/** Why a master dry run does not read etcd (the plan's `unchecked` items carry it). */
export const DRY_RUN_NO_ADDER =
  'a dry run deploys nothing, and etcd is reached through the master-adder (a privileged host-network Deployment in kube-system): ' +
  '--allow-adder deploys it for the dry run (deleted afterwards), --via ssh reads etcd over SSH';

/** exit 2: what an earlier run left, and the one way forward for masters (--cleanup). */
export function leftoversError(leftovers: LeftoverResource[], configArg: string, journalPath: string): PreflightError {
  const list = leftovers.map(describeLeftover);
  return new PreflightError(`an earlier kadd run on ${configArg} did not finish and left ${list.length} resource(s); nothing was changed`, {
    code: 'E_LEFTOVERS',
    details: list,
    hint: `\`kadd add --role master --cleanup ${configArg}\` removes them (an etcd member first, behind a quorum check; then the pool member, Node, server, volume, port and token) and then adds the master; a half-joined control-plane node is never resumed (journal: ${journalPath})`,
  });
}

/**
 * The `--role master` branch of `kadd add`. Returns the exit code (0); failures are thrown as KaddError
 * (UsageError/PreflightError exit 2, OperationError exit 1 listing what was rolled back, InterruptedError 130).
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
  const pollMs = request.pollIntervalMs;
  const [os, kube] = await Promise.all([ctx.openstack(), ctx.kube()]);
  const journal = await deps.openJournal(config, ctx);
  let status: 'ok' | 'failed' | 'interrupted' = 'failed';
  const { journalPath } = await import('../journal/journal.js');
  const off = ctx.onHardStop?.(() => `stopped before the rollback finished; what is left is recorded in ${journalPath(config.file)}; \`kadd add --role master --cleanup ${argv.config}\` removes it (its etcd member first, behind a quorum check)`);
  let clusterLock: ClusterLock | undefined;
  try {
    // what an earlier run left (crash, kill -9, --keep-failed): refused unless --cleanup; never resumed
    const { findUnfinished } = await import('../journal/journal.js');
    const report = await findUnfinished(config.file);
    if (report.leftovers.length && !parsed.cleanup && !parsed.dryRun) {
      throw leftoversError(report.leftovers, argv.config, report.path);
    }
    if (report.leftovers.length && parsed.dryRun && !parsed.cleanup) {
      ctx.io.log('warn', `${leftoversError(report.leftovers, argv.config, report.path).message}:\n  ${report.leftovers.map(describeLeftover).join('\n  ')}\nthe real run refuses until \`kadd add --role master --cleanup ${argv.config}\``);
    }
    // the cluster-wide lock (Lease kube-system/kadd-lock) before anything changes; a dry run changes nothing.
    // An API that does not answer cannot give the lock: the preflight then runs as a dry run (nothing
    // changes) to say what needs the API and name the --via ssh line, and the run is refused either way.
    let lockApiError: KaddError | undefined;
    const gate = { yes: !!argv.yes, interactive: deps.interactive ?? !!process.stdin.isTTY, configArg: argv.config };
    // read-only: 1 -> 2 masters (issue 12 pt 4) before anything is written, a stale n-masters (pt 5) after the lock
    const seen = await observeMastersReadOnly(os, kube, config.clusterName);
    if (!parsed.dryRun) {
      await os.projectId(); // credentials that do not work are refused before the cluster is touched
      refuseUnconfirmedEarly(mastersNow(seen), gate); // 1 -> 2 masters: --yes or a terminal
      try {
        clusterLock = await acquireClusterLock(ctx, kube, { operation: 'add --role master', force: !!pick(argv, 'forceUnlock', 'force-unlock'), clusterFile: config.file });
        ctx = withLock(ctx, clusterLock);
      } catch (e) {
        if (!KaddError.is(e) || e.code !== 'E_CLUSTER_LOCK_API') throw e;
        lockApiError = e;
      }
    }
    const dryRun = parsed.dryRun || !!lockApiError;
    if (seen) request.config = reconcileCount(ctx.io, config, 'master', clusterCount(config.clusterName, 'master', seen.servers, seen.controlPlaneNodes, report.leftovers.map((l) => l.name)), { accept: !!pick(argv, 'acceptDrift', 'accept-drift'), configArg: argv.config });
    const opId = await journal.begin({
      command: 'add --role master',
      args: { config: config.file, zone: request.zone, flavor: request.flavor, via: parsed.via, snapshot: request.snapshot, fixStale: request.fixStale, dryRun },
    });
    const ops = await opsDeps(config, journal, deps.ops, kube);
    const openEtcd = async (): Promise<EtcdAccess> => {
      if (parsed.via === 'ssh') return openEtcdViaSsh(ctx, config, os, argv, deps);
      try {
        return await openEtcdViaAdder(ctx, kube as KubeApi, config, {
          image: argv.adderImage ?? (argv['adder-image'] as string | undefined), operationId: opId, readyTimeoutMs: deps.adderReadyTimeoutMs, pollIntervalMs: pollMs,
          journal: { intent: (k, n) => journal.intent(k, n), done: (k, n, id) => journal.done(k, n, id), undone: (k, n, id) => journal.undone(k, n, id) },
        });
      } catch (e) {
        if (e instanceof InterruptedError) throw e;
        // an API that does not answer is not an adder problem: the preflight says so (with the --via ssh line)
        const apiUp = await kube.serverVersion().then(() => true, () => false);
        const pinned = !!config.ssh.knownHosts || Object.keys(config.ssh.hostKeys).length > 0;
        if (apiUp && pinned && (await ctx.io.confirm(`the master-adder could not be used (${e instanceof Error ? e.message : e}); reach etcd over SSH instead?`, false))) {
          return openEtcdViaSsh(ctx, config, os, argv, deps);
        }
        throw e instanceof KaddError
          ? new KaddError(e.code, e.message, e.exitCode, { hint: `${e.hint ? `${e.hint}; ` : ''}--via ssh reaches etcd over SSH (ssh: section of the cluster file, host keys pinned)`, details: e.details })
          : e;
      }
    };
    const cleanup = parsed.cleanup && report.leftovers.length ? { leftovers: report.leftovers } : undefined;
    if (parsed.cleanup && !report.leftovers.length) ctx.io.log('info', '--cleanup: the journal records nothing left over');
    // a dry run is read-only: no master-adder (a privileged Deployment) unless --allow-adder; SSH only reads
    const skipEtcd = parsed.dryRun && parsed.via === 'kube' && !parsed.allowAdder ? DRY_RUN_NO_ADDER : undefined;
    const out = await runAddMaster(ctx, request, os, kube, ops, {
      openEtcd, dryRun, skipEtcd, cleanup: lockApiError ? undefined : cleanup, confirm: (plan) => confirmAvailability(ctx, plan, formatPlan(plan), gate),
    });
    if (lockApiError) {
      if (out.kind === 'dry-run') assertMasterPlan(out.plan);
      throw lockApiError;
    }
    const fmt = argv.format ?? 'table';
    if (out.kind === 'dry-run') {
      ctx.io.result(fmt === 'table' ? formatPlan(out.plan) : renderResult(masterPlanView(out.plan), fmt));
      status = 'ok';
      return out.plan.blockers.length ? 2 : 0;
    }
    ctx.io.result(fmt === 'table' ? formatResult(out.result) : renderResult(out.result, fmt));
    status = 'ok';
    return 0;
  } catch (e) {
    status = ctx.signal.aborted || e instanceof InterruptedError ? 'interrupted' : 'failed';
    throw clusterLock?.lost() ?? e;
  } finally {
    off?.();
    await journal.end(status).catch(() => journal.close());
    await clusterLock?.release();
  }
}

export { STAGES };
