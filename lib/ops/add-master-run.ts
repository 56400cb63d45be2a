/**
 * kadd add --role master, the run: etcd access opened (master-adder or SSH), what an earlier run left
 * cleaned up (--cleanup), the read-only preflight, the plan, then the dry run's answer or the change
 * (lib/ops/add-master-execute.ts). The command around it (journal, lock) is lib/commands/add-master.ts.
 */
import type { Context } from '../context.js';
import type { OpenStackClient } from '../openstack/types.js';
import type { KNode, KubeApi } from '../kube/types.js';
import { InterruptedError, KaddError, OperationError, PreflightError } from '../errors.js';
import type { LeftoverResource } from '../journal/index.js';
import { checkOwnership } from './add-workers-preflight.js';
import { observeCloud, settle } from './observe.js';
import type { EtcdAccess } from './master-etcd.js';
import { Ledger, describeLeftover } from './engine/ledger.js';
import { Reapers } from './engine/reapers.js';
import { cleanupLeftovers } from './cleanup.js';
import { assertMasterPlan, planMaster, validateMasterRequest, type AddMasterPlan, type AddMasterRequest, type MasterObserved } from './add-master-plan.js';
import { executeMaster, type AddMasterDeps, type AddMasterResult } from './add-master-execute.js';

// ------------------------------------------------------------------------------------------------
// preflight (read-only)

export async function preflight(ctx: Context, req: AddMasterRequest, os: OpenStackClient, kube: KubeApi, etcd: Pick<EtcdAccess, 'etcdctl' | 'nodeName'> | { error: string } | { skipped: string }): Promise<MasterObserved> {
  const c = req.config;
  const errors: string[] = [];
  const cl = await observeCloud(os, c, 'master', errors, { lbRequired: true });
  const lb = cl.lb;
  const [listeners, pools] = await Promise.all([
    lb ? settle(os.loadbalancer.listListeners({ loadbalancer_id: lb.id }), errors, 'listing listeners') : Promise.resolve(null),
    lb ? settle(os.loadbalancer.listPools({ loadbalancer_id: lb.id }), errors, 'listing pools') : Promise.resolve(null),
  ]);


  const kubeInfo: MasterObserved['kube'] = { ok: false, server: kube.server() };
  let nodes: KNode[] = [];
  let featureGates: Record<string, boolean> | undefined;
  try {
    kubeInfo.version = (await kube.serverVersion()).gitVersion;
    kubeInfo.ok = true;
    nodes = await kube.listNodes();
    const cc = await kube.getClusterConfiguration();
    const fg = (cc as { featureGates?: Record<string, unknown> } | null)?.featureGates;
    if (fg && typeof fg === 'object') featureGates = Object.fromEntries(Object.entries(fg).filter(([, v]) => typeof v === 'boolean')) as Record<string, boolean>;
  } catch (e) {
    kubeInfo.error = e instanceof Error ? e.message : String(e);
  }
  const ownership = kubeInfo.ok ? await checkOwnership(c, kube, lb, os) : { ok: false, reason: 'the Kubernetes API did not answer' };

  let etcdObs: MasterObserved['etcd'];
  let formatCommand: ((args: string[]) => string) | undefined;
  if ('error' in etcd) etcdObs = { error: etcd.error };
  else if ('skipped' in etcd) etcdObs = { skipped: etcd.skipped };
  else {
    formatCommand = etcd.etcdctl.formatCommand;
    try {
      etcdObs = { view: await etcd.etcdctl.view(), transport: etcd.etcdctl.transport.describe, nodeName: etcd.nodeName, adder: 'adder' in etcd && !!etcd.adder };
    } catch (e) {
      etcdObs = { error: e instanceof Error ? e.message : String(e) };
    }
  }
  return {
    flavors: cl.flavors, image: cl.image, keypair: cl.keypair, zones: cl.zones, volumeTypes: cl.volumeTypes, network: cl.network,
    subnet: cl.subnet, securityGroup: cl.securityGroup, novaLimits: cl.novaLimits, cinderLimits: cl.cinderLimits,
    neutronQuota: cl.neutronQuota, masters: cl.servers, volumes: cl.volumes, ports: cl.ports, lb, listeners: listeners ?? [], pools: pools ?? [],
    serverGroup: cl.serverGroup, serverGroupFailed: cl.serverGroupFailed,
    kube: kubeInfo, ownership, nodes, featureGates, etcd: etcdObs, formatCommand, errors,
  };
}

// ------------------------------------------------------------------------------------------------
// the whole operation

export interface RunAddMasterOptions {
  /** opens etcd access (master-adder or SSH); closed at the end whatever happens */
  openEtcd: () => Promise<EtcdAccess>;
  dryRun: boolean;
  /**
   * a dry run only: etcd is not opened at all (the master-adder is a privileged Deployment, and a dry run
   * changes nothing); the reason goes into the plan's `unchecked` items
   */
  skipEtcd?: string;
  /** --cleanup: what an earlier run left (journal), deleted before the preflight (etcd members first, quorum-checked) */
  cleanup?: { leftovers: LeftoverResource[] };
  /** asks before the first change when the plan reduces availability (lib/ops/availability.ts); throws to refuse */
  confirm?: (plan: AddMasterPlan) => Promise<void>;
}

export type RunAddMasterOutcome = { kind: 'dry-run'; plan: AddMasterPlan } | { kind: 'added'; plan: AddMasterPlan; result: AddMasterResult };

export async function runAddMaster(ctx: Context, req: AddMasterRequest, os: OpenStackClient, kube: KubeApi, deps: AddMasterDeps, o: RunAddMasterOptions): Promise<RunAddMasterOutcome> {
  validateMasterRequest(req);
  if (o.skipEtcd && !o.dryRun) throw new Error('internal: only a dry run may leave etcd unread');
  let access: EtcdAccess | undefined;
  let accessError: string | undefined;
  if (o.skipEtcd) ctx.io.log('info', `etcd not read: ${o.skipEtcd}`);
  else {
    const line = ctx.io.progress('etcd-access', 'opening etcd access');
    try {
      access = await o.openEtcd();
      line.succeed(`etcd reached through ${access.transport.describe}`);
    } catch (e) {
      if (e instanceof KaddError && e.exitCode === 2 && !(e instanceof PreflightError)) throw e;
      if (e instanceof InterruptedError) throw e;
      accessError = `${e instanceof Error ? e.message : String(e)}${e instanceof KaddError && e.hint ? ` (${e.hint})` : ''}`;
      line.fail('cannot reach etcd');
    }
  }
  try {
    const leftovers = o.cleanup?.leftovers ?? [];
    if (leftovers.length && o.dryRun) {
      ctx.io.log('warn', `--cleanup would delete what an earlier run left (not in a dry run):\n  ${leftovers.map(describeLeftover).join('\n  ')}`);
    } else if (leftovers.length) {
      const line = ctx.io.progress('cleanup', `cleaning up ${leftovers.length} resource(s) left by an earlier run`);
      const adder = access && 'adder' in access ? (access as EtcdAccess & { adder: { namespace: string; name: string } }).adder : undefined;
      const cluster = req.config.clusterName;
      // one path for both roles (lib/ops/cleanup.ts): every node in the reapers' order, etcd first
      const r = await cleanupLeftovers(ctx.io, Ledger.fromLeftovers(deps.journal, cluster, leftovers), new Reapers({
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
    const observed = await preflight(ctx, req, os, kube, access ?? (o.skipEtcd ? { skipped: o.skipEtcd } : { error: accessError ?? 'no etcd access' }));
    const plan = planMaster(req, observed);
    for (const w of plan.warnings) ctx.io.log('warn', w);
    if (o.dryRun) return { kind: 'dry-run', plan };
    assertMasterPlan(plan);
    await o.confirm?.(plan);
    if (ctx.signal.aborted) throw new InterruptedError('interrupted before any change; nothing to roll back');
    const result = await executeMaster(ctx, req, plan, os, kube, access!, deps);
    return { kind: 'added', plan, result };
  } finally {
    await access?.close();
  }
}
