/**
 * kadd add --role master, the change (journaled; rolled back on any failure): snapshot -> (--fix-stale
 * removals, one at a time, each behind a quorum check) -> fresh add verdict -> certificate key upload +
 * bootstrap token -> port, volume, server -> watch (lib/ops/add-master-watch.ts) -> load balancer pool
 * member -> cfg.updated.yml. Rollback removes the new etcd member FIRST (through a surviving member, quorum
 * re-checked), then the Node, server, volume, port, pool member; the token always goes.
 */
import { kaddPortDescription } from '../openstack/network.js';
import type { Context } from '../context.js';
import type { OpenStackClient, Volume } from '../openstack/types.js';
import type { KubeApi } from '../kube/types.js';
import type { Transport } from '../etcd/types.js';
import type { MasterJoinInput } from '../cloudinit/render.js';
import type { Etcdctl, SnapshotResult } from '../etcd/etcdctl.js';
import { InterruptedError, KaddError, OperationError } from '../errors.js';
import { registerSecret } from '../redact.js';
import { ownershipMetadata, ownershipTags } from './naming.js';
import { diagnose, formatDiagnosis } from './diagnose.js';
import { groupDiagnosis } from './observe.js';
import { memberTable, type EtcdAccess, type MemberRow } from './master-etcd.js';
import { Ledger, describeReaped, type LedgerJournal } from './engine/ledger.js';
import { Reapers } from './engine/reapers.js';
import { TokenLease } from './engine/token.js';
import { NodeStages, withOutcomes, type NodeOutcome } from './engine/events.js';
import { API_PORT, STAGE_TEXT, type AddMasterPlan, type AddMasterRequest, type Stage } from './add-master-plan.js';
import { refineStall, StageFailure, waitFor, watchJoin, type MasterState } from './add-master-watch.js';

export interface AddMasterResult {
  cluster: string;
  name: string;
  serverId: string;
  ip: string;
  zone?: string;
  flavor: string;
  memberId: string;
  snapshot?: SnapshotResult;
  removedStale: string[];
  lbMember?: string;
  updatedConfig?: string;
  members: MemberRow[];
  durationMs: number;
  /** the new master's stages (lib/ops/engine/events.ts): one `added` outcome */
  outcomes: NodeOutcome[];
}

/** How a master add that threw ended: filled by the rollback (absent when it failed before any change). */
export interface MasterFailure {
  /** the error that started the rollback */
  cause?: string;
  interrupted?: boolean;
  /** --keep-failed kept the server, volume and port */
  keep?: boolean;
  /** what the rollback could not delete (an etcd member the quorum check refused, a failed delete) */
  left?: string[];
}

/**
 * The outcome of a master add that threw (as workerOutcome for a worker): `failed` when the rollback left
 * something (named in the error; `stage` the last stage that failed), `kept` with --keep-failed,
 * `rolled-back` otherwise (everything it had created deleted; nothing, when it failed before any change).
 */
export function masterOutcome(node: string, st: NodeStages, error: string, f: MasterFailure): NodeOutcome {
  const stages = st.through(ROOT_STAGE);
  const why = f.interrupted ? 'interrupted' : (f.cause ?? error);
  if (f.left?.length) {
    const stage = [...stages].reverse().find((s) => s.state === 'failed')?.stage;
    return { node, outcome: 'failed', stages, error: `${why}; left behind: ${f.left.join(', ')}`, ...(stage ? { stage } : {}) };
  }
  if (f.keep) return { node, outcome: 'kept', stages, reason: `--keep-failed: ${why}` };
  return { node, outcome: 'rolled-back', stages, error: why };
}

/** What executeMaster hands the renderer: the fields of lib/cloudinit's MasterJoinInput it fills. */
export type MasterUserDataInput = Pick<MasterJoinInput,
  'clusterName' | 'nodeName' | 'apiEndpoint' | 'token' | 'caCertHash' | 'k8sVersion' | 'certificateKey' | 'advertiseAddress' | 'clusterFeatureGates' | 'labels'>;

export interface AddMasterDeps {
  /** the operation's journal (begin() called); execute keeps its ledger on it */
  journal: LedgerJournal;
  caCertHash: (pem: string) => string;
  /** lib/cloudinit renderMasterUserData */
  renderUserData: (input: MasterUserDataInput) => Promise<{ text: string; base64: string; encoding: 'plain' | 'gzip'; base64Length: number; learnerMode?: boolean }>;
  /** lib/etcd generateCertificateKey (registers it as a secret) */
  certificateKey: () => string;
  /** lib/etcd kubeadmUploadCerts */
  uploadCerts: (transport: Transport, key: string) => Promise<void>;
  /**
   * writes cfg.updated.yml with n-masters = value; returns the path. Absent: the caller writes the cluster
   * file (the runner's commit, kadd add --role master)
   */
  writeConfig?: (nMasters: number) => Promise<string>;
}

/** The stage that spans the new master's whole life in the run (its TTY line closes when it ends). */
export const ROOT_STAGE = 'add';

/**
 * The change, with the new master's lifecycle stage events (`add` spanning snapshot, stale-member,
 * etcd-check, prepare, port, volume, server, the watch's STAGES, lb-member; `rollback` on a failure).
 */
export async function executeMaster(
  ctx: Context, req: AddMasterRequest, p: AddMasterPlan, os: OpenStackClient, kube: KubeApi, etcd: EtcdAccess, deps: AddMasterDeps,
): Promise<AddMasterResult> {
  const stages = new NodeStages(ctx.io, ctx.clock, p.name);
  const failure: MasterFailure = {};
  stages.start(ROOT_STAGE);
  try {
    const r = await joinMaster(ctx, req, p, os, kube, etcd, deps, stages, failure);
    stages.done(ROOT_STAGE, `${r.ip}, etcd member ${r.memberId}`);
    return { ...r, outcomes: [{ node: p.name, outcome: 'added', stages: stages.through(ROOT_STAGE) }] };
  } catch (e) {
    const error = e instanceof Error ? e.message : String(e);
    stages.failed(ROOT_STAGE, error);
    // the command prints it (-f json) before the error goes to stderr
    failure.interrupted ||= ctx.signal.aborted || e instanceof InterruptedError;
    throw withOutcomes(e, [masterOutcome(p.name, stages, error, failure)]);
  }
}

async function joinMaster(
  ctx: Context, req: AddMasterRequest, p: AddMasterPlan, os: OpenStackClient, kube: KubeApi, etcd: EtcdAccess, deps: AddMasterDeps, stages: NodeStages,
  ended: MasterFailure,
): Promise<Omit<AddMasterResult, 'outcomes'>> {
  const started = ctx.clock.now();
  const { io, signal } = ctx;
  const c = req.config;
  const journal = deps.journal;
  const ledger = new Ledger(journal, c.clusterName);
  const etcdctl: Etcdctl = etcd.etcdctl;
  // the first Ctrl-C starts the rollback: the reapers' waits are not stopped by it
  const reapers = new Reapers({ io, clock: ctx.clock, os, kube, etcdctl, cluster: c.clusterName, pollIntervalMs: req.pollIntervalMs, poolId: p.lb?.poolId });
  let lease: TokenLease | undefined;
  const tokenGone = async () => {
    await lease?.release(reapers);
  };
  const st: MasterState = { portId: p.adopt.portId, volumeId: p.adopt.volumeId, stage: 'prepare' };
  const removedStale: string[] = [];
  let snapshot: SnapshotResult | undefined;
  // the step of the try block below that is under way (a failure marks it failed before the rollback)
  const open: { stage?: string } = {};
  const begin = (stage: string, detail?: string) => {
    open.stage = stage;
    stages.start(stage, detail);
  };
  const end = (stage: string, detail?: string) => {
    open.stage = undefined;
    stages.done(stage, detail);
  };
  const checkAbort = () => {
    if (signal.aborted) throw new InterruptedError();
  };

  // 1. snapshot before any change
  if (p.snapshot) {
    const line = io.progress(`${p.name}:snapshot`, `etcd snapshot on ${etcd.nodeName}`);
    const stamp = new Date(ctx.clock.now()).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
    try {
      snapshot = await stages.run('snapshot', () => etcdctl.snapshotSave(`${etcd.snapshotDir}/etcd-${c.clusterName}-${stamp}.db`), (r) => `${r.path} on ${etcd.nodeName}`);
    } catch (e) {
      line.fail('etcd snapshot failed');
      throw new OperationError('E_ETCD_SNAPSHOT', `etcd snapshot on ${etcd.nodeName} failed, nothing was changed: ${e instanceof Error ? e.message : e}`, {
        hint: 'free space under /var/lib/kadd/snapshots on that node, or pass --no-snapshot to go on without one',
      });
    }
    line.succeed(`etcd snapshot saved on ${etcd.nodeName}: ${snapshot.path}`);
  } else stages.skipped('snapshot', '--no-snapshot');
  checkAbort();

  // 2. stale members, one at a time, each behind a fresh quorum check
  if (p.fixStale && p.stale.length) {
    await stages.run('stale-member', async () => { for (const s of p.stale) {
      const v = await etcdctl.checkRemove(s.id);
      if (!v.view.members.some((m) => m.member.id === s.id)) continue;
      if (!v.allowed) {
        throw new OperationError('E_ETCD_STALE_REMOVE_REFUSED', `refusing to remove stale etcd member ${s.name || s.id}: ${v.blockers.map((b) => b.message).join('; ')}`, {
          rolledBack: [], details: removedStale.map((x) => `already removed: ${x}`),
        });
      }
      await journal.intent('etcd-member', s.name || s.id, { remove: s.id });
      await etcdctl.memberRemove(s.id);
      await journal.undone('etcd-member', s.name || s.id, s.id);
      removedStale.push(`${s.name || '(unstarted)'} ${s.id}`);
      io.log('info', `removed stale etcd member ${s.name || '(unstarted)'} ${s.id} (${s.reason})`);
    } }, () => removedStale.join(', ') || 'already gone');
  }

  // 3. fresh verdict right before the change
  stages.start('etcd-check');
  const verdict = await etcdctl.checkAdd().catch((e) => {
    stages.failed('etcd-check', e instanceof Error ? e.message : String(e));
    throw e;
  });
  if (!verdict.allowed) {
    stages.failed('etcd-check', verdict.blockers.map((b) => b.message).join('; '));
    throw new OperationError('E_ETCD_ADD_REFUSED', 'etcd changed since preflight; refusing to add a member now', {
      details: verdict.blockers.map((b) => `${b.message}${b.fix ? ` (fix: ${b.fix})` : ''}`),
      rolledBack: [], hint: removedStale.length ? `stale members removed: ${removedStale.join(', ')}` : undefined,
    });
  }
  for (const w of verdict.warnings) if (!p.warnings.includes(w)) io.log('warn', w);
  stages.done('etcd-check', 'a member can be added');

  try {
    // 4. certificate key + bootstrap token (never printed)
    const prep = io.progress(`${p.name}:prepare`, 'uploading control-plane certificates');
    const key = deps.certificateKey();
    registerSecret(key);
    const token = await stages.run('prepare', async () => {
      await deps.uploadCerts(etcd.transport, key);
      lease = await TokenLease.create({ ledger, kube, clock: ctx.clock, io, ttlSeconds: req.tokenTtlSeconds, description: `kadd add --role master ${p.name}` });
      return lease.token;
    }, () => 'certificates uploaded, bootstrap token created');
    checkAbort();

    // 5. port, volume, server
    const md = ownershipMetadata(c.clusterName, 'master');
    const tags = ownershipTags(c.clusterName, 'master');
    if (st.portId) await ledger.adopt({ kind: 'port', name: p.portName, node: p.name, id: st.portId });
    if (st.volumeId) await ledger.adopt({ kind: 'volume', name: p.volumeName, node: p.name, id: st.volumeId });
    begin('port', st.portId ? `adopted ${st.portId}` : undefined);
    if (!st.portId) {
      prep.update('creating port');
      const port = await ledger.create({ kind: 'port', name: p.portName, node: p.name, details: { network: p.network.id } }, () => os.network.createPort({
        name: p.portName, network_id: p.network.id, fixed_ips: [{ subnet_id: p.subnet.id }], security_groups: [p.securityGroup.id], description: kaddPortDescription(c.clusterName, p.name),
      }));
      st.portId = port.id;
      st.ip = port.fixed_ips?.find((f) => f.subnet_id === p.subnet.id)?.ip_address ?? port.fixed_ips?.[0]?.ip_address;
      os.network.setPortTags(port.id, tags).catch((e) => io.log('debug', `tagging port ${p.portName}: ${e instanceof Error ? e.message : e}`));
    } else {
      const port = (await os.network.listPorts({ name: p.portName })).find((x) => x.id === st.portId);
      st.ip = port?.fixed_ips?.[0]?.ip_address;
    }
    end('port', `${p.portName} ${st.portId}${st.ip ? ` (${st.ip})` : ''}`);
    begin('volume', st.volumeId ? `adopted ${st.volumeId}` : undefined);
    if (!st.volumeId) {
      prep.update('creating boot volume');
      const v = await ledger.create({ kind: 'volume', name: p.volumeName, node: p.name, details: { size: p.volumeSize, zone: p.zone } }, () => os.volume.createVolume({
        name: p.volumeName, size: p.volumeSize, imageRef: p.image.id, availability_zone: p.zone,
        ...(p.volumeType ? { volume_type: p.volumeType } : {}), metadata: { ...md, 'kadd-server': p.name },
      }));
      st.volumeId = v.id;
    }
    prep.update('boot volume creating');
    await waitFor<Volume>(ctx, req, 'volume available', req.volumeTimeoutMs, async () => {
      const v = await os.volume.getVolume(st.volumeId!);
      if (v?.status === 'available') return { state: 'done', value: v };
      if (v?.status === 'error' || !v) return { state: 'failed', error: new StageFailure('prepare', `boot volume ${p.volumeName} ${v ? 'went to error' : 'disappeared'}`) };
      return { state: 'pending', note: v.status };
    });
    end('volume', `${p.volumeName} ${st.volumeId} available`);
    const ud = await deps.renderUserData({
      clusterName: c.clusterName, nodeName: p.name, apiEndpoint: p.apiEndpoint, token: { id: token.id, secret: token.secret },
      caCertHash: deps.caCertHash(await kube.clusterCaPem()), k8sVersion: p.k8sVersion, certificateKey: key,
      ...(st.ip ? { advertiseAddress: st.ip } : {}), ...(p.featureGates ? { clusterFeatureGates: p.featureGates } : {}),
    });
    prep.update('creating server');
    begin('server');
    const created = await ledger.create({ kind: 'server', name: p.name, node: p.name, details: { zone: p.zone, flavor: p.flavor.name } }, () => os.compute.createServer({
      name: p.name, flavorRef: p.flavor.id, availability_zone: p.zone, key_name: p.keypair, networks: [{ port: st.portId! }],
      block_device_mapping_v2: [{ boot_index: 0, uuid: st.volumeId!, source_type: 'volume', destination_type: 'volume', delete_on_termination: true }],
      // base64 of exactly what cloud-init gets (gzip-compressed when the plain text would not fit)
      user_data_base64: ud.base64, metadata: { ...md }, tags,
      ...(p.serverGroup ? { 'OS-SCH-HNT:scheduler_hints': { group: p.serverGroup.id } } : {}),
    }));
    st.serverId = created.id;
    end('server', `${p.name} ${created.id}`);
    prep.succeed(`server ${p.name} created (${p.flavor.name}${p.zone ? `, ${p.zone}` : ''}${ud.learnerMode === false ? ', etcd learner mode off' : ''})`);

    // 6. watch, stage by stage
    await watchJoin(ctx, req, p, st, { os, kube, etcdctl, ledger, extendToken: () => lease!.keepAlive(), stages });

    // 7. API load balancer pool
    if (p.lb) {
      const line = io.progress(`${p.name}:lb`, `adding ${st.ip} to pool ${p.lb.poolName}`);
      begin('lb-member', p.lb.poolName);
      const existing = (await os.loadbalancer.listMembers(p.lb.poolId)).find((m) => m.address === st.ip && m.protocol_port === API_PORT);
      if (existing) st.lbMemberId = existing.id;
      else {
        const lb = p.lb;
        const m = await ledger.create({ kind: 'lb-member', name: p.name, node: p.name, details: { pool: lb.poolId } }, () =>
          os.loadbalancer.createMember(lb.poolId, { name: p.name, address: st.ip!, protocol_port: API_PORT, ...(lb.subnetId ? { subnet_id: lb.subnetId } : {}) }));
        st.lbMemberId = m.id;
      }
      line.succeed(`${p.name} (${st.ip}:${API_PORT}) is a member of pool ${p.lb.poolName}`);
      end('lb-member', `${st.ip}:${API_PORT} ${st.lbMemberId}`);
    }
  } catch (e) {
    const failure = e instanceof StageFailure ? e : undefined;
    if (open.stage) stages.failed(open.stage, e instanceof Error ? e.message : String(e));
    const interrupted = signal.aborted || e instanceof InterruptedError;
    let diagnosis = failure?.diagnosis;
    if (!diagnosis && st.serverId && !interrupted) {
      const [srv, text] = await Promise.all([os.compute.getServer(st.serverId).catch(() => null), os.compute.getConsoleOutput(st.serverId, 200).catch(() => '')]);
      diagnosis = groupDiagnosis(diagnose({ fault: srv?.fault, console: text }), p.serverGroup);
    }
    if (diagnosis && failure) diagnosis = refineStall(failure.stage, diagnosis, p);
    const cause = e instanceof Error ? e.message : String(e);
    // --keep-failed keeps the server, volume and port for inspection, never an etcd member (Ctrl-C always rolls back)
    const keep = req.keepFailed && !interrupted;
    if (keep) await tokenGone(); // first: a kept server must not be able to finish its join
    const rb = io.progress(`${p.name}:rollback`, keep ? 'removing the etcd member, keeping the server (--keep-failed)' : 'rolling back');
    stages.start('rollback', keep ? '--keep-failed' : undefined);
    const { rolledBack, left, kept, etcdLeft } = await rollback(ledger, reapers, p.name, st.ip, keep);
    Object.assign(ended, { cause, interrupted, keep, left });
    const tokens = ledger.of('').map((r) => r.id);
    await tokenGone();
    for (const id of tokens) if (id && !ledger.of('').some((r) => r.id === id)) rolledBack.push(`deleted bootstrap token ${id}`);
    if (left.length) stages.failed('rollback', `left behind: ${left.join(', ')}`);
    else stages.done('rollback', `${rolledBack.length} undone${kept.length ? `, ${kept.length} kept` : ''}`);
    if (left.length) rb.fail(`rollback left behind: ${left.join(', ')}`);
    else rb.succeed(`${keep ? 'cleaned up' : 'rolled back'}: ${rolledBack.join(', ') || 'nothing to undo'}${kept.length ? `; kept: ${kept.join(', ')}` : ''}`);
    const details = [
      ...(diagnosis ? formatDiagnosis(p.name, diagnosis).split('\n') : []),
      ...rolledBack.map((r) => `rolled back: ${r}`),
      ...kept.map((r) => `KEPT for inspection: ${r}`),
      ...left.map((r) => `LEFT BEHIND: ${r}`),
      ...(snapshot ? [`etcd snapshot taken before the change: ${snapshot.path} on ${etcd.nodeName}`] : []),
      ...removedStale.map((s) => `stale etcd member removed: ${s}`),
    ];
    const cfgArg = req.configArg ?? c.file;
    if (keep) {
      throw new OperationError('E_MASTER_ADD_FAILED', `adding master ${p.name} failed at stage "${STAGE_TEXT[st.stage as Stage] ?? 'prepare'}": ${cause}; ${etcdLeft ? 'its etcd member could NOT be removed (see below); ' : 'no etcd member of it is left; '}the server is kept for inspection (--keep-failed); the cluster file is unchanged`, {
        rolledBack, details, cause: e,
        hint: `inspect: openstack console log show ${st.serverId ?? p.name}${st.ip ? `; ssh ${c.ssh.user}@${st.ip}` : ''}; then delete it with \`kadd add --role master --cleanup ${cfgArg}\` (the next master add refuses until then); stop it meanwhile if it may retry its join: openstack server stop ${st.serverId ?? p.name}`,
      });
    }
    if (interrupted) throw new InterruptedError(`interrupted while adding ${p.name}; rolled back`, { details });
    throw new OperationError('E_MASTER_ADD_FAILED', `adding master ${p.name} failed at stage "${STAGE_TEXT[st.stage as Stage] ?? 'prepare'}": ${cause}; the cluster file is unchanged`, {
      rolledBack, details, cause: e,
      hint: diagnosis?.nextStep ?? (e instanceof KaddError ? e.hint : undefined),
    });
  } finally {
    await tokenGone();
  }
  await ledger.keep(p.name);

  // 8. the cluster file
  const view = await etcdctl.view().catch(() => null);
  let updatedConfig: string | undefined;
  try {
    updatedConfig = await deps.writeConfig?.(p.mastersAfter);
  } catch (e) {
    throw new OperationError('E_CONFIG_WRITE', `master ${p.name} was added, but writing the updated cluster file failed: ${e instanceof Error ? e.message : e}`, {
      hint: `set n-masters to ${p.mastersAfter} in ${c.file} by hand`,
    });
  }
  return {
    cluster: c.clusterName, name: p.name, serverId: st.serverId!, ip: st.ip ?? '', zone: p.zone, flavor: p.flavor.name, memberId: st.memberId!,
    snapshot, removedStale, lbMember: st.lbMemberId, updatedConfig, members: view ? memberTable(view) : [], durationMs: ctx.clock.now() - started,
  };
}

/**
 * Undo through the reapers, in their fixed order: pool member; the new etcd member through a surviving
 * member (quorum re-checked); the Node; the server (waited until gone); a member kubeadm may have added
 * meanwhile; the volume; the port. With `keep` (--keep-failed) the server, volume and port stay,
 * everything else goes: etcd safety beats inspection. When the quorum check refuses to remove a started
 * voting member, its server is kept running too. Never throws.
 */
async function rollback(ledger: Ledger, reapers: Reapers, name: string, ip: string | undefined, keep: boolean): Promise<{ rolledBack: string[]; left: string[]; kept: string[]; etcdLeft: boolean }> {
  const r = await ledger.teardown(name, reapers, { readyNode: 'delete', ip, keep: keep ? ['server', 'volume', 'port'] : [] });
  return {
    rolledBack: r.deleted.map(describeReaped),
    left: r.left.map(describeReaped),
    kept: r.kept.map(describeReaped),
    etcdLeft: r.left.some((x) => x.ref.kind === 'etcd-member'),
  };
}
