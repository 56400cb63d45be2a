/**
 * kadd add --role master on the one runner (lib/ops/engine/runner.ts, issue 9): the verb's parts.
 *
 *   unfinished  an earlier run's leftovers: refused (exit 2, offers --cleanup), a dry run warns
 *   connect     credentials proven; the masters counted read-only; 1 -> 2 without --yes and a terminal: exit 2
 *   (Lease)     the cluster-wide lock; the journal begins here (`beginEarly`): the adder and --cleanup record
 *   observe     the drift check (the journal's own nodes accounted for), etcd access (master-adder or SSH;
 *               a dry run deploys no adder unless --allow-adder), the --cleanup of the leftovers, the preflight
 *   plan        planMaster (pure)            preflight  its blockers (exit 2)
 *   confirm     1 -> 2 masters: asks on a terminal, --yes answers, otherwise exit 2
 *   execute     executeMaster (journaled, rolled back)   commit  the cluster file (cfg.updated.yml)
 *   close       the etcd access (the adder Deployment goes)
 */
import type { Context } from '../context.js';
import type { ClusterConfig } from '../config/types.js';
import type { KubeApi } from '../kube/types.js';
import type { OpenStackClient } from '../openstack/types.js';
import type { CommandResult, Transport } from '../etcd/types.js';
import { InterruptedError, KaddError, OperationError, PreflightError } from '../errors.js';
import type { LeftoverResource } from '../journal/index.js';
import type { Journal, JournalReport } from '../journal/journal.js';
import type { RunnerVerb } from './engine/runner.js';
import { Ledger, describeLeftover } from './engine/ledger.js';
import { Reapers } from './engine/reapers.js';
import { cleanupLeftovers } from './cleanup.js';
import { firstIp } from './add-workers-execute.js';
import { roleNamePattern } from './naming.js';
import { confirmAvailability, mastersNow, observeMastersReadOnly, refuseUnconfirmedEarly, type ConfirmOptions, type MastersSeen } from './availability.js';
import { clusterCount, reconcileCount } from './drift.js';
import { DEFAULT_SNAPSHOT_DIR, openEtcdViaAdder, type EtcdAccess } from './master-etcd.js';
import { assertMasterPlan, planMaster, validateMasterRequest, type AddMasterPlan, type AddMasterRequest, type MasterObserved } from './add-master-plan.js';
import { preflight } from './add-master-run.js';
import { executeMaster, type AddMasterDeps, type AddMasterResult } from './add-master-execute.js';

export const COMMAND = 'add --role master';

export interface AddMasterVerbOptions {
  request: AddMasterRequest;
  /** the cluster file as given on the command line (messages) */
  configArg: string;
  via: 'kube' | 'ssh';
  dryRun: boolean;
  /** --cleanup */
  cleanup: boolean;
  /**
   * etcd is read on a dry run too (--allow-adder; the refused run whose Lease the API could not give reads
   * it the way the real run would)
   */
  readEtcd: boolean;
  acceptDrift: boolean;
  forceUnlock: boolean;
  gate: ConfirmOptions;
  adderImage?: string;
  adderReadyTimeoutMs?: number;
  /** an SSH transport to a master (host = its fixed IP) */
  sshTransport(host: string): Promise<Transport>;
  /** the change's dependencies, the journal excepted (the runner's) */
  deps: Omit<AddMasterDeps, 'journal' | 'writeConfig'>;
  /** writes cfg.updated.yml with n-masters = value; returns its path (the runner's commit) */
  writeConfig(nMasters: number): Promise<string>;
  /** the plan as text (shown before the 1 -> 2 question) */
  formatPlan(plan: AddMasterPlan): string;
}

export interface AddMasterObs {
  req: AddMasterRequest;
  observed: MasterObserved;
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
 * Pure: the masters an unfinished `add --role master` of the journal added and kept (they joined) while the
 * run died before it wrote the cluster file: they exist, and the file does not count them. (What such a
 * run left over is excluded from the count separately: --cleanup removes it.)
 */
export function uncountedMasters(report: Pick<JournalReport, 'operations'>, records: { t: string; op: string; kind?: string; name?: string }[]): string[] {
  const ops = new Set(report.operations.filter((o) => o.command === COMMAND).map((o) => o.op));
  return [...new Set(records.filter((r) => r.t === 'kept' && r.kind === 'server' && ops.has(r.op) && r.name).map((r) => r.name!))];
}

/**
 * The file's n-masters against the cluster (lib/ops/drift.ts), with the journal's own nodes accounted for:
 * an earlier run's leftovers are not counted (they go), and masters an unfinished run added but never
 * wrote into the file are counted on top of the file's number (the updated file then says so).
 */
export function reconcileMasters(ctx: Context, config: ClusterConfig, seen: MastersSeen, leftovers: string[], uncounted: string[], o: { acceptDrift: boolean; configArg: string }): ClusterConfig {
  const counted = clusterCount(config.clusterName, 'master', seen.servers, seen.controlPlaneNodes, leftovers);
  const present = uncounted.filter((n) => seen.servers.includes(n) || seen.controlPlaneNodes.includes(n));
  if (counted !== config.nMasters && present.length && counted === config.nMasters + present.length) {
    ctx.io.log('info', `the unfinished kadd run added ${present.join(', ')} but died before it wrote the cluster file: counted (n-masters: ${counted})`);
    return { ...config, nMasters: counted };
  }
  return reconcileCount(ctx.io, config, 'master', counted, { accept: o.acceptDrift, configArg: o.configArg });
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

async function openEtcdViaSsh(ctx: Context, cfg: ClusterConfig, os: OpenStackClient, o: AddMasterVerbOptions): Promise<EtcdAccess> {
  const { Etcdctl, kubeadmEtcdctlOptions } = await import('../etcd/etcdctl.js');
  const masters = (await os.compute.listServers({ name: roleNamePattern(cfg.clusterName, 'master') })).filter((s) => s.status === 'ACTIVE');
  masters.sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
  const target = masters.find((s) => firstIp(s));
  if (!target) throw new KaddError('E_NO_HEALTHY_MASTER', `no ACTIVE master server of cluster ${cfg.clusterName} with an IP address to reach over SSH`, 1);
  const raw = await o.sshTransport(firstIp(target)!);
  const transport = cfg.ssh.user === 'root' ? raw : new SudoTransport(raw);
  const mk = await transport.run(['mkdir', '-p', '-m', '0700', DEFAULT_SNAPSHOT_DIR], { timeoutMs: 30_000 });
  if (mk.exitCode !== 0) ctx.io.log('warn', `could not create ${DEFAULT_SNAPSHOT_DIR} on ${target.name}: ${mk.stderr.trim()}`);
  const etcdctl = new Etcdctl(transport, { ...kubeadmEtcdctlOptions('healthcheck-client'), clock: ctx.clock });
  return { etcdctl, transport, nodeName: target.name, snapshotDir: DEFAULT_SNAPSHOT_DIR, close: () => transport.close() };
}

/** etcd access: SSH, or the master-adder (journaled when the journal is there) with the SSH fallback it may offer. */
async function openEtcd(ctx: Context, cfg: ClusterConfig, os: OpenStackClient, kube: KubeApi, o: AddMasterVerbOptions, journal: Journal | undefined): Promise<EtcdAccess> {
  if (o.via === 'ssh') return openEtcdViaSsh(ctx, cfg, os, o);
  try {
    return await openEtcdViaAdder(ctx, kube, cfg, {
      image: o.adderImage, operationId: journal?.operationId, readyTimeoutMs: o.adderReadyTimeoutMs, pollIntervalMs: o.request.pollIntervalMs,
      ...(journal ? { journal: { intent: (k, n) => journal.intent(k, n), done: (k, n, id) => journal.done(k, n, id), undone: (k, n, id) => journal.undone(k, n, id) } } : {}),
    });
  } catch (e) {
    if (e instanceof InterruptedError) throw e;
    // an API that does not answer is not an adder problem: the preflight says so (with the --via ssh line)
    const apiUp = await kube.serverVersion().then(() => true, () => false);
    const pinned = !!cfg.ssh.knownHosts || Object.keys(cfg.ssh.hostKeys).length > 0;
    if (apiUp && pinned && (await ctx.io.confirm(`the master-adder could not be used (${e instanceof Error ? e.message : e}); reach etcd over SSH instead?`, false))) {
      return openEtcdViaSsh(ctx, cfg, os, o);
    }
    throw e instanceof KaddError
      ? new KaddError(e.code, e.message, e.exitCode, { hint: `${e.hint ? `${e.hint}; ` : ''}--via ssh reaches etcd over SSH (ssh: section of the cluster file, host keys pinned)`, details: e.details })
      : e;
  }
}

/** --cleanup: what the earlier run left, deleted before the preflight (one path for both roles, etcd first). */
async function cleanupEarlierRun(ctx: Context, req: AddMasterRequest, os: OpenStackClient, kube: KubeApi, journal: Journal, access: EtcdAccess | undefined, accessError: string | undefined, leftovers: LeftoverResource[]): Promise<void> {
  const line = ctx.io.progress('cleanup', `cleaning up ${leftovers.length} resource(s) left by an earlier run`);
  const adder = access && 'adder' in access ? (access as EtcdAccess & { adder: { namespace: string; name: string } }).adder : undefined;
  const cluster = req.config.clusterName;
  const r = await cleanupLeftovers(ctx.io, Ledger.fromLeftovers(journal, cluster, leftovers), new Reapers({
    io: ctx.io, clock: ctx.clock, os, kube, etcdctl: access?.etcdctl ?? null, cluster, pollIntervalMs: req.pollIntervalMs,
  }), {
    // the adder this run just opened has the same name as a leftover one: it goes when this run ends
    skip: (ref) => !!adder && ref.kind === 'deployment' && (ref.name === `${adder.namespace}/${adder.name}` || ref.name === adder.name),
  });
  if (r.left.length) {
    line.fail(`cleanup left ${r.left.length} thing(s) behind`);
    throw new OperationError('E_CLEANUP_INCOMPLETE', 'the cleanup could not remove everything the earlier run left; no master was added', {
      rolledBack: r.deleted, details: [...r.deleted.map((x) => `cleaned up: ${x}`), ...r.left.map((x) => `LEFT: ${x}`)],
      hint: accessError ? `etcd was not reachable (${accessError}); --via ssh reaches it over SSH` : 'fix what is listed and run `kadd add --role master --cleanup` again',
    });
  }
  line.succeed(`cleaned up what the earlier run left: ${r.deleted.join(', ') || 'nothing was there any more'}`);
  if (ctx.signal.aborted) throw new InterruptedError('interrupted after the cleanup; no master was added');
}

/** The plan's warnings (stderr), once: before the change, or with the dry run's plan. */
export function logPlanWarnings(ctx: Context, plan: AddMasterPlan): void {
  for (const w of plan.warnings) ctx.io.log('warn', w);
}

export function addMasterVerb(ctx: Context, o: AddMasterVerbOptions): RunnerVerb<AddMasterObs, AddMasterPlan, AddMasterResult> {
  let clients: { os: OpenStackClient; kube: KubeApi } | undefined;
  let seen: MastersSeen | undefined;
  let access: EtcdAccess | undefined;
  let req = o.request;
  let planned: AddMasterPlan | undefined;
  return {
    command: COMMAND,
    clusterFile: o.request.config.file,
    dryRun: o.dryRun,
    clusterLock: { force: o.forceUnlock },
    // what an earlier run left (crash, kill -9, --keep-failed): refused unless --cleanup; never resumed
    unfinished(report) {
      if (!report.leftovers.length || o.cleanup) return;
      const err = leftoversError(report.leftovers, o.configArg, report.path);
      if (!o.dryRun) throw err;
      ctx.io.log('warn', `${err.message}:\n  ${report.leftovers.map(describeLeftover).join('\n  ')}\nthe real run refuses until \`kadd add --role master --cleanup ${o.configArg}\``);
    },
    async connect(c) {
      const [os, kube] = await Promise.all([c.openstack(), c.kube()]);
      clients = { os, kube };
      // read-only: 1 -> 2 masters (issue 12 pt 4) before anything is written, a stale n-masters (pt 5) after the lock
      seen = await observeMastersReadOnly(os, kube, req.config.clusterName);
      if (o.dryRun) return;
      await os.projectId(); // credentials that do not work are refused before the cluster is touched
      refuseUnconfirmedEarly(mastersNow(seen), o.gate); // 1 -> 2 masters: --yes or a terminal
    },
    beginEarly: () => ({ config: req.config.file, zone: req.zone, flavor: req.flavor, via: o.via, snapshot: req.snapshot, fixStale: req.fixStale, dryRun: false }),
    async observe(c, report, journal) {
      const { os, kube } = clients!;
      const leftovers = report.leftovers;
      if (seen) {
        const { readJournal } = await import('../journal/journal.js');
        const own = o.cleanup ? uncountedMasters(report, (await readJournal(req.config.file)).records as never) : [];
        req = { ...req, config: reconcileMasters(c, req.config, seen, leftovers.map((l) => l.name), own, o) };
      }
      validateMasterRequest(req);
      // a dry run is read-only: no master-adder (a privileged Deployment) unless --allow-adder; SSH only reads
      const skipEtcd = o.dryRun && o.via === 'kube' && !o.readEtcd ? DRY_RUN_NO_ADDER : undefined;
      let accessError: string | undefined;
      if (skipEtcd) c.io.log('info', `etcd not read: ${skipEtcd}`);
      else {
        const line = c.io.progress('etcd-access', 'opening etcd access');
        try {
          access = await openEtcd(c, req.config, os, kube, o, journal);
          line.succeed(`etcd reached through ${access.transport.describe}`);
        } catch (e) {
          if (e instanceof KaddError && e.exitCode === 2 && !(e instanceof PreflightError)) throw e;
          if (e instanceof InterruptedError) throw e;
          accessError = `${e instanceof Error ? e.message : String(e)}${e instanceof KaddError && e.hint ? ` (${e.hint})` : ''}`;
          line.fail('cannot reach etcd');
        }
      }
      if (o.cleanup && !leftovers.length) c.io.log('info', '--cleanup: the journal records nothing left over');
      else if (o.cleanup && !journal) c.io.log('warn', `--cleanup would delete what an earlier run left (not in a dry run):\n  ${leftovers.map(describeLeftover).join('\n  ')}`);
      else if (o.cleanup) await cleanupEarlierRun(c, req, os, kube, journal!, access, accessError, leftovers);
      const observed = await preflight(c, req, os, kube, access ?? (skipEtcd ? { skipped: skipEtcd } : { error: accessError ?? 'no etcd access' }));
      return { req, observed };
    },
    plan: ({ req: r, observed }) => planMaster(r, observed),
    preflight(plan) {
      logPlanWarnings(ctx, plan);
      assertMasterPlan(plan);
    },
    async confirm(plan) {
      await confirmAvailability(ctx, plan, o.formatPlan(plan), o.gate);
    },
    journalArgs: () => ({}), // not used: the journal begins early (beginEarly)
    async execute(c, plan, journal) {
      if (c.signal.aborted) throw new InterruptedError('interrupted before any change; nothing to roll back');
      planned = plan;
      const { os, kube } = clients!;
      return executeMaster(c, req, plan, os, kube, access!, { ...o.deps, journal });
    },
    async commit(result) {
      try {
        result.updatedConfig = await o.writeConfig(planned!.mastersAfter);
      } catch (e) {
        throw new OperationError('E_CONFIG_WRITE', `master ${result.name} was added, but writing the updated cluster file failed: ${e instanceof Error ? e.message : e}`, {
          hint: `set n-masters to ${planned!.mastersAfter} in ${req.config.file} by hand`,
        });
      }
    },
    status: () => 'ok',
    async close() {
      await access?.close();
    },
  };
}
