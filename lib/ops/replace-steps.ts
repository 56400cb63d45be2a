/**
 * The real ReplaceSteps (lib/ops/replace.ts): the add of a node like the old one is add's own op
 * (lib/ops/add-workers.ts preflight/plan/execute, lib/ops/add-master.ts preflight/planMaster/executeMaster)
 * with the cluster file's defaults overridden by the NodeSpec; the remove is remove's own op
 * (lib/ops/remove.ts), handed in as `removeNode`. Nothing here creates or deletes a resource itself.
 */
import type { Context } from '../context.js';
import type { ClusterConfig } from '../config/types.js';
import type { KubeApi } from '../kube/types.js';
import type { OpenStackClient } from '../openstack/types.js';
import { KaddError, OperationError } from '../errors.js';
import { Ledger, type LedgerJournal } from './engine/ledger.js';
import type { EtcdAccess } from './master-etcd.js';
import { roleNamePattern, type Role } from './naming.js';
import type { NodeSpec } from './replace-plan.js';
import type { Taint } from '../cloudinit/validate.js';
import type { ReplaceSteps } from './replace.js';
import type { GateSnapshot } from './replace-roll.js';
import { DEFAULT_STAGE_TIMEOUTS, type StageTimeouts } from './add-master.js';

export interface StepTimings {
  pollIntervalMs: number;
  /** server ACTIVE and boot volume, ms */
  bootTimeoutMs: number;
  /** Node Ready after ACTIVE, ms */
  joinTimeoutMs: number;
  masterTimeouts?: StageTimeouts;
  /** /readyz through the load balancer after a master joined, ms */
  readyzTimeoutMs?: number;
}

export interface RealStepsDeps {
  config: ClusterConfig;
  os: OpenStackClient;
  kube: KubeApi;
  journal: LedgerJournal;
  /** etcd through a member other than `exclude` (the master-adder pod, or SSH) */
  openEtcd(exclude: string[]): Promise<EtcdAccess>;
  /** the full gated remove of one node (lib/ops/remove.ts) */
  removeNode(input: { role: Role; name: string; dead: boolean; reason: string }): Promise<void>;
  timings: StepTimings;
}

/** The cluster file as the add of one replacement sees it: the old node's flavor, image, version, labels, taints, group. */
export function configFor(c: ClusterConfig, role: Role, spec: NodeSpec): ClusterConfig {
  const labels = { ...spec.labels };
  delete labels['kadd.io/cluster'];
  delete labels['kadd.io/role'];
  return {
    ...c,
    image: spec.image,
    version: { k8s: spec.k8sVersion },
    ...(role === 'master' ? { masterFlavor: spec.flavor } : { nodeFlavor: spec.flavor }),
    ...(role === 'node' ? { nodeLabels: labels, nodeTaints: spec.taints as ClusterConfig['nodeTaints'] } : {}),
    ...(spec.serverGroup ? { serverGroup: spec.serverGroup } : {}),
  };
}

/**
 * A master's stage budgets when none are given: kadd add's defaults, each capped by the replacement's own
 * budgets (--boot-timeout for ACTIVE, --timeout for every stage after it), so a short --timeout bounds a
 * master's join as it bounds a worker's.
 */
export function masterStageTimeouts(t: Pick<StepTimings, 'bootTimeoutMs' | 'joinTimeoutMs'>): StageTimeouts {
  const d = DEFAULT_STAGE_TIMEOUTS;
  const j = (ms: number) => Math.min(ms, t.joinTimeoutMs);
  return { active: Math.min(d.active, t.bootTimeoutMs), registered: j(d.registered), member: j(d.member), promoted: j(d.promoted), healthy: j(d.healthy), ready: j(d.ready) };
}

/**
 * A master's taints: none copied -> kubeadm's default (its control-plane taint); the operator's own taints
 * copied -> given explicitly, and then kubeadm sets only what it is given, so its control-plane taint goes first.
 */
export function masterTaints(spec: NodeSpec): { taints?: Taint[] } {
  // the effects are checked by the renderer (checkTaints)
  return spec.taints.length ? { taints: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }, ...(spec.taints as Taint[])] } : {};
}

export function realSteps(ctx: Context, d: RealStepsDeps): ReplaceSteps {
  const { os, kube, journal, timings: t } = d;
  const poll = t.pollIntervalMs;
  const maxPoll = Math.max(poll, Math.min(poll * 5, 10_000));

  async function addWorker(name: string, spec: NodeSpec): Promise<{ name: string; serverId?: string }> {
    const aw = await import('./add-workers.js');
    const { caCertHash } = await import('../kube/ca.js');
    const render: import('./add-workers.js').UserDataRenderer = async (input) => {
      const { renderWorkerUserData } = await import('../cloudinit/index.js');
      return (await renderWorkerUserData({ ...input, taints: input.taints as never })).text;
    };
    const req: import('./add-workers.js').AddWorkersRequest = {
      config: configFor(d.config, 'node', spec), amount: 1, zone: spec.zone, flavor: spec.flavor, concurrency: 1,
      bootTimeoutMs: t.bootTimeoutMs, joinTimeoutMs: t.joinTimeoutMs, volumeTimeoutMs: t.bootTimeoutMs, wait: true, keepFailed: false,
      tokenTtlSeconds: 900, pollIntervalMs: poll, maxPollIntervalMs: maxPoll, resumeNames: [name],
    };
    const observed = await aw.preflight(ctx, req, os, kube, { renderUserData: render, caCertHash });
    const p = aw.plan(req, observed);
    aw.assertNoBlockers(p);
    const r = await aw.execute(ctx, req, p, os, kube, { renderUserData: render, caCertHash, ledger: new Ledger(journal, d.config.clusterName) });
    const n = r.nodes[0]!;
    if (n.outcome !== 'joined') {
      throw new OperationError('E_REPLACE_ADD_FAILED', `the replacement ${n.name} never became healthy: ${n.cause ?? n.outcome}; it was rolled back`, {
        hint: n.diagnosis?.nextStep, details: n.left?.length ? n.left.map((x) => `LEFT: ${x}`) : [],
      });
    }
    return { name: n.name, serverId: n.serverId };
  }

  async function addMaster(old: string, spec: NodeSpec): Promise<{ name: string; serverId?: string }> {
    const am = await import('./add-master.js');
    const [{ caCertHash }, render, etcdctl] = await Promise.all([import('../kube/ca.js'), import('../cloudinit/render.js'), import('../etcd/etcdctl.js')]);
    // the adder runs on a master that stays (the old one goes right after); a single master is all there is
    const masters = await os.compute.listServers({ name: roleNamePattern(d.config.clusterName, 'master') });
    const access = await d.openEtcd(masters.length > 1 ? [old] : []);
    try {
      const req: import('./add-master.js').AddMasterRequest = {
        config: configFor(d.config, 'master', spec), zone: spec.zone, flavor: spec.flavor, snapshot: true, fixStale: false, keepFailed: false,
        timeouts: t.masterTimeouts ?? masterStageTimeouts(t), volumeTimeoutMs: t.bootTimeoutMs, tokenTtlSeconds: 1800,
        pollIntervalMs: poll, maxPollIntervalMs: maxPoll, via: 'kube', reservedNames: [old],
      };
      const o = await am.preflight(ctx, req, os, kube, access);
      const p = am.planMaster(req, o);
      am.assertMasterPlan(p);
      const r = await am.executeMaster(ctx, req, p, os, kube, access, {
        journal, caCertHash,
        renderUserData: async (input) => render.renderMasterUserData({ ...input, labels: spec.labels, ...masterTaints(spec) }),
        certificateKey: etcdctl.generateCertificateKey,
        uploadCerts: (tr, key) => etcdctl.kubeadmUploadCerts(tr, key),
        writeConfig: async () => '',
      });
      // kept: the new master stays even if a later step of the roll fails
      await journal.kept('server', p.name, r.serverId);
      await journal.kept('volume', p.volumeName);
      await journal.kept('port', p.portName);
      await journal.kept('etcd-member', p.name, r.memberId);
      if (r.lbMember) await journal.kept('lb-member', p.name, r.lbMember);
      // healthy through the load balancer too
      const deadline = ctx.clock.now() + (t.readyzTimeoutMs ?? 120_000);
      for (;;) {
        const rz = await kube.readyz();
        if (rz.ok) break;
        if (ctx.clock.now() > deadline) throw new OperationError('E_REPLACE_READYZ', `${p.name} joined, but the API server is not ready through the load balancer: ${rz.detail}`);
        await ctx.clock.sleep(poll);
      }
      return { name: r.name, serverId: r.serverId };
    } finally {
      await access.close();
    }
  }

  return {
    async add({ role, name, spec, old }) {
      // masters: planMaster picks max + 1 over the masters and the old one (the same name as the roll's)
      return role === 'master' ? addMaster(old, spec) : addWorker(name, spec);
    },
    async remove(input) {
      await d.removeNode(input);
    },
    async setKubeadmVersion(version) {
      await kube.setClusterConfigurationVersion(`v${version.replace(/^v/, '')}`);
    },
    async snapshot({ etcd }): Promise<GateSnapshot> {
      const [nodes, readyz] = await Promise.all([kube.listNodes(), kube.readyz()]);
      const snap: GateSnapshot = {
        nodes: nodes.map((n) => ({
          name: n.name, ready: n.ready, kubeletVersion: n.kubeletVersion,
          role: n.labels['node-role.kubernetes.io/control-plane'] !== undefined || n.labels['node-role.kubernetes.io/master'] !== undefined ? 'master' : 'node',
        })),
        readyz,
      };
      if (etcd) {
        try {
          const a = await d.openEtcd([]);
          try {
            snap.etcd = await a.etcdctl.view();
          } finally {
            await a.close();
          }
        } catch (e) {
          snap.etcd = { error: KaddError.is(e) ? e.message : e instanceof Error ? e.message : String(e) };
        }
      }
      return snap;
    },
    async takenNames(role) {
      return (await os.compute.listServers({ name: roleNamePattern(d.config.clusterName, role) })).map((s) => s.name);
    },
  };
}
