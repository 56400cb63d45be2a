/**
 * kadd add --role node, the change: the shared network pieces, then every node at once (port and boot
 * volume, server, watched until ACTIVE and Ready through lib/ops/add-workers-watch.ts), a node that fails
 * rolled back through the reapers (or kept, --keep-failed), the bootstrap token released, the nodes that
 * joined kept (the cluster file is the runner's commit, add-workers-run.ts). Journaled through the Ledger.
 */
import { kaddPortDescription } from '../openstack/network.js';
import type { Context } from '../context.js';
import type { OpenStackClient, Server } from '../openstack/types.js';
import type { KubeApi } from '../kube/types.js';
import { OperationError } from '../errors.js';
import { ownershipMetadata, ownershipTags, retryZone } from './naming.js';
import { groupDiagnosis } from './observe.js';
import { Semaphore, TimeoutError } from './poll.js';
import { describeReaped, type Ledger } from './engine/ledger.js';
import { Reapers, staleAttachments } from './engine/reapers.js';
import { TokenLease } from './engine/token.js';
import { diagnose, diagnoseVolume, type Diagnosis } from './diagnose.js';
import { workerLabels, type AddWorkersPlan, type AddWorkersRequest, type PlannedNode, type UserDataRenderer } from './add-workers-plan.js';
import { batchWaiters, ServerErrorState, VolumeErrorState } from './add-workers-watch.js';
import { NodeStages, type NodeOutcome as LifecycleOutcome } from './engine/events.js';
import { ROOT, workerOutcome } from './add-workers-outcome.js';

export type NodeOutcome = 'joined' | 'active' | 'failed' | 'rolled-back' | 'kept' | 'interrupted';

export interface NodeResult {
  name: string;
  zone?: string;
  flavor: string;
  outcome: NodeOutcome;
  serverId?: string;
  ip?: string;
  attempts: number;
  cause?: string;
  diagnosis?: Diagnosis;
  left?: string[];
}

export interface AddWorkersResult {
  cluster: string;
  requested: number;
  added: number;
  nodes: NodeResult[];
  /** the cluster file written for the nodes that joined (the runner's commit, lib/ops/add-workers-run.ts) */
  updatedConfig?: string;
  /** n-nodes written to the updated file (when it is not the file's count plus `added`: a resume counts what exists) */
  nNodes?: number;
  interrupted: boolean;
  durationMs: number;
  /** each node's lifecycle stages and outcome (`-f json` `outcomes`, docs/schemas/node-outcome.json) */
  outcomes: LifecycleOutcome[];
}

export interface AddWorkersDeps {
  renderUserData: UserDataRenderer;
  caCertHash: (pem: string) => string;
  /** journal + undo list of this operation (lib/ops/engine/ledger.ts) */
  ledger: Ledger;
}

// ------------------------------------------------------------------------------------------------
// execute

interface NodeState {
  plan: PlannedNode;
  zone?: string;
  attempts: number;
  portId?: string;
  volumeId?: string;
  serverId?: string;
  ip?: string;
  outcome?: NodeOutcome;
  cause?: string;
  diagnosis?: Diagnosis;
  registered?: boolean;
  /** the node's lifecycle stages (events on the Io: they replace a per-node progress line) */
  st: NodeStages;
  /** the last wait note emitted (a wait event per change, not per poll tick) */
  note?: string;
}

export async function ensureNetwork(ctx: Context, os: OpenStackClient, p: AddWorkersPlan, ledger: Ledger): Promise<{ networkId: string; subnetId: string; sgId: string }> {
  const io = ctx.io;
  const skip = (what: string, name: string) => io.log('info', `${what} [${name}] already exists, skipping`);
  let networkId = p.network.id;
  if (p.network.action === 'exists') skip('network', p.network.name);
  else {
    networkId = (await ledger.createShared({ kind: 'network', name: p.network.name }, () => os.network.createNetwork({ name: p.network.name, admin_state_up: true }))).id;
    io.log('info', `network [${p.network.name}] created`);
  }
  let subnetId = p.subnet.id;
  if (p.subnet.action === 'exists') skip('subnet', p.subnet.name);
  else {
    subnetId = (await ledger.createShared({ kind: 'subnet', name: p.subnet.name }, () => os.network.createSubnet({ name: p.subnet.name, network_id: networkId!, cidr: p.subnet.cidr, ip_version: 4 }))).id;
    io.log('info', `subnet [${p.subnet.name}] created (${p.subnet.cidr})`);
  }
  if (p.router.action === 'exists') skip('router', p.router.name);
  else {
    const ext = (await os.network.listExternalNetworks())[0];
    await ledger.createShared({ kind: 'router', name: p.router.name }, async () => {
      const r = await os.network.createRouter({ name: p.router.name, ...(ext ? { external_gateway_info: { network_id: ext.id } } : {}) });
      await os.network.addRouterInterface(r.id, subnetId!);
      return r;
    });
    io.log('info', `router [${p.router.name}] created${ext ? ` with gateway ${ext.name}` : ' (no external network found)'}`);
  }
  let sgId = p.securityGroup.id;
  if (p.securityGroup.action === 'exists') skip('security group', p.securityGroup.name);
  else {
    sgId = (await ledger.createShared({ kind: 'security-group', name: p.securityGroup.name }, () => os.network.createSecurityGroup({ name: p.securityGroup.name, description: `kadd: cluster ${p.cluster}` }))).id;
    io.log('info', `security group [${p.securityGroup.name}] created`);
  }
  return { networkId: networkId!, subnetId: subnetId!, sgId: sgId! };
}

export function firstIp(s: Server): string | undefined {
  for (const addrs of Object.values(s.addresses ?? {})) {
    const v4 = addrs.find((a) => a.version === 4) ?? addrs[0];
    if (v4) return v4.addr;
  }
  return undefined;
}

export async function execute(ctx: Context, req: AddWorkersRequest, p: AddWorkersPlan, os: OpenStackClient, kube: KubeApi, deps: AddWorkersDeps): Promise<AddWorkersResult> {
  const started = ctx.clock.now();
  const io = ctx.io;
  const c = req.config;
  const signal = ctx.signal;
  const ledger = deps.ledger;
  // the first Ctrl-C starts the rollback: the reapers' waits are not stopped by it
  const reapers = new Reapers({ io, clock: ctx.clock, os, kube, cluster: c.clusterName, pollIntervalMs: req.pollIntervalMs });
  const md = ownershipMetadata(c.clusterName, 'node');
  const tags = ownershipTags(c.clusterName, 'node');

  const { networkId, subnetId, sgId } = await ensureNetwork(ctx, os, p, ledger);
  const caHash = p.caCertHash ?? deps.caCertHash(await kube.clusterCaPem());

  // one bootstrap token per run (the lease: short TTL, extended on every poll tick while nodes still boot
  // -- a node only uses it after ACTIVE --, deleted at the end), plus the interrupted run's when resuming
  const lease = await TokenLease.create({ ledger, kube, clock: ctx.clock, io, ttlSeconds: req.tokenTtlSeconds, description: `kadd add --role node for ${c.clusterName}` });
  const token = lease.token;
  await lease.adopt(req.adoptTokenIds ?? []);
  const keepToken = () => lease.keepAlive();

  const states: NodeState[] = p.nodes.map((n) => ({
    plan: n, zone: n.zone, attempts: 0, portId: n.adopt.portId, volumeId: n.adopt.volumeId, serverId: n.adopt.serverId, st: new NodeStages(io, ctx.clock, n.name),
  }));
  const note = (s: NodeState, stage: string, text: string) => {
    if (s.note === text) return;
    s.note = text;
    s.st.wait(stage, text);
  };
  io.log('info', `creating ${states.length} server${states.length === 1 ? '' : 's'}, then waiting for ${states.length === 1 ? 'it' : 'them'} to boot (up to ${Math.round(req.bootTimeoutMs / 1000)}s)${req.wait ? ` and join (up to ${Math.round(req.joinTimeoutMs / 1000)}s)` : ''}`);

  const { volumes: volumeWaiter, servers: serverWaiter, nodes: nodeWaiter } = batchWaiters(ctx, req, os, kube, started, {
    serverStatus: (id, s) => {
      const st = states.find((x) => x.serverId === id);
      if (st) note(st, 'active', `server ${s.status}${s['OS-EXT-STS:task_state'] ? ` (${s['OS-EXT-STS:task_state']})` : ''}`);
    },
    nodeRegistered: (name) => {
      const st = states.find((x) => x.plan.name === name);
      if (st) st.registered = true;
    },
    nodeNotReady: (name) => {
      const st = states.find((x) => x.plan.name === name);
      if (st) note(st, 'join', 'Node registered, NotReady');
    },
    onTick: keepToken,
  });

  const slots = new Semaphore(req.concurrency);

  async function createOnce(s: NodeState): Promise<Server> {
    const n = s.plan;
    s.attempts++;
    if (s.attempts === 1) {
      // resources adopted from an interrupted run now belong to this run's journal
      if (n.adopt.portId) await ledger.adopt({ kind: 'port', name: n.portName, node: n.name, id: n.adopt.portId });
      if (n.adopt.volumeId) await ledger.adopt({ kind: 'volume', name: n.volumeName, node: n.name, id: n.adopt.volumeId });
      if (n.adopt.serverId) await ledger.adopt({ kind: 'server', name: n.name, node: n.name, id: n.adopt.serverId });
    }
    // the port and the boot volume do not need each other: both at once; the server create waits for both.
    // allSettled, not all: a failure of one must not start the rollback while the other is still being made
    const volume = s.serverId
      ? Promise.resolve(s.st.skipped('volume', 'boots with the adopted server'))
      : s.st.run('volume', () => createVolume(s).then(() => volumeReady(s)), () => s.volumeId, s.volumeId ? `adopted ${s.volumeId}` : undefined);
    const made = await Promise.allSettled([createPort(s), volume]);
    for (const m of made) if (m.status === 'rejected') throw m.reason;
    return createServer(s);
  }

  async function createPort(s: NodeState): Promise<void> {
    const n = s.plan;
    if (s.portId) return s.st.skipped('port', `adopted ${s.portId}`);
    await s.st.run('port', async () => {
      const port = await ledger.create({ kind: 'port', name: n.portName, node: n.name, details: { network: networkId } }, () => slots.use(() => os.network.createPort({
        name: n.portName, network_id: networkId, fixed_ips: [{ subnet_id: subnetId }], security_groups: [sgId], description: kaddPortDescription(c.clusterName, n.name), tags,
      })));
      s.portId = port.id;
      // the tags go in the create; Neutron without `tag-creation` (Zed) answers 201 with `tags: []`: then one PUT
      if (!tags.every((t) => port.tags?.includes(t))) os.network.setPortTags(port.id, tags).catch((e) => io.log('debug', `tagging port ${n.portName}: ${e instanceof Error ? e.message : e}`));
    }, () => s.portId);
  }

  async function createVolume(s: NodeState): Promise<void> {
    const n = s.plan;
    if (!s.serverId && !s.volumeId) {
      const v = await ledger.create({ kind: 'volume', name: n.volumeName, node: n.name, details: { size: p.volumeSize, zone: s.zone } }, () => slots.use(() => os.volume.createVolume({
        name: n.volumeName, size: p.volumeSize, imageRef: p.image.id, availability_zone: s.zone,
        ...(p.volumeType ? { volume_type: p.volumeType } : {}), metadata: { ...md, 'kadd-server': n.name },
      })));
      s.volumeId = v.id;
    }
  }

  async function volumeReady(s: NodeState): Promise<void> {
    const n = s.plan;
    if (n.adopt.volumeId && s.volumeId === n.adopt.volumeId) {
      // an adopted boot volume may still be held by the interrupted run's server, deleted early in its
      // build: free it from attachments whose server is gone before waiting for it to be available
      const v = await os.volume.getVolume(s.volumeId);
      if (v && ['reserved', 'attaching', 'in-use'].includes(v.status)) {
        for (const a of await staleAttachments(os, s.volumeId)) await os.volume.deleteAttachment(a.id);
      }
    }
    await volumeWaiter.wait(s.volumeId!, req.volumeTimeoutMs);
  }

  async function createServer(s: NodeState): Promise<Server> {
    if (s.serverId) s.st.skipped('server', `adopted ${s.serverId}`);
    else {
      if (signal.aborted) throw new OperationError('E_INTERRUPTED', 'interrupted');
      await s.st.run('server', () => createServerRequest(s), () => s.serverId);
    }
    return s.st.run('active', () => serverWaiter.wait(s.serverId!, req.bootTimeoutMs).catch(withFault), (srv) => firstIp(srv));
  }

  /** Nova returns `fault` on GET /servers/{id} only, not in lists: the stage's failure and the diagnosis show it */
  async function withFault(e: unknown): Promise<never> {
    if (e instanceof ServerErrorState && !e.server.fault) {
      const full = await os.compute.getServer(e.server.id).catch(() => null);
      if (full?.fault) {
        e.server.fault = full.fault;
        e.message = `server ${e.server.name} went to ERROR: ${full.fault.message ?? 'no fault message'}`;
      }
    }
    throw e;
  }

  /** the create request (the user data carries the bootstrap token; never logged) */
  async function createServerRequest(s: NodeState): Promise<void> {
    const n = s.plan;
    const userData = await deps.renderUserData({
      nodeName: n.name, clusterName: c.clusterName, apiEndpoint: p.apiEndpoint, token: { id: token.id, secret: token.secret },
      caCertHash: caHash, k8sVersion: p.k8sVersion, labels: workerLabels(c), taints: c.nodeTaints,
    });
    const created = await ledger.create({ kind: 'server', name: n.name, node: n.name, details: { zone: s.zone, flavor: n.flavor.name } }, () => slots.use(() => os.compute.createServer({
      name: n.name, flavorRef: n.flavor.id, availability_zone: s.zone, key_name: p.keypair,
      networks: [{ port: s.portId! }],
      block_device_mapping_v2: [{ boot_index: 0, uuid: s.volumeId!, source_type: 'volume', destination_type: 'volume', delete_on_termination: true }],
      user_data: userData, metadata: { ...md }, tags,
      ...(p.serverGroup ? { 'OS-SCH-HNT:scheduler_hints': { group: p.serverGroup.id } } : {}),
    })));
    s.serverId = created.id;
  }

  /** delete what this node holds, through the reapers (Node -> server -> volume -> port), waited until gone */
  async function rollback(s: NodeState, why: string): Promise<void> {
    s.st.start('rollback', why);
    const r = await ledger.teardown(s.plan.name, reapers, { readyNode: 'delete' }).catch((e: unknown) => {
      s.st.failed('rollback', e instanceof Error ? e.message : String(e));
      throw e;
    });
    s.serverId = s.volumeId = s.portId = s.note = undefined;
    for (const x of r.left) io.log('warn', `could not delete ${describeReaped(x)}`);
    if (r.left.length) s.cause = `${s.cause ?? why}; left behind: ${r.left.map(describeReaped).join(', ')}`;
    if (r.left.length) s.st.failed('rollback', `left behind: ${r.left.map(describeReaped).join(', ')}`);
    else s.st.done('rollback', `${r.deleted.length} deleted`);
    io.log('debug', `rolled back ${s.plan.name}: ${why}`);
  }

  async function runNode(s: NodeState): Promise<void> {
    const n = s.plan;
    let server: Server | undefined;
    for (;;) {
      try {
        server = await createOnce(s);
        break;
      } catch (e) {
        // a quota fault (Nova's conductor re-checks quota when creates race) comes back on a retry: fail now
        const quotaFault = e instanceof ServerErrorState && diagnose({ fault: e.server.fault }).cause === 'quota';
        if (signal.aborted || !(e instanceof ServerErrorState) || s.attempts >= 2 || quotaFault) {
          if (e instanceof ServerErrorState) {
            s.diagnosis = groupDiagnosis(diagnose({ fault: e.server.fault, status: 'ERROR', flavor: n.flavor }), p.serverGroup);
            s.cause = quotaFault
              ? `server went to ERROR over quota (not retried): ${e.server.fault?.message ?? 'no fault message'}`
              : `server went to ERROR twice: ${e.server.fault?.message ?? 'no fault message'}`;
          } else if (e instanceof VolumeErrorState && !signal.aborted) {
            const messages = await os.volume.listMessages(e.volume.id).catch((err: unknown) => {
              io.log('debug', `reading Cinder's messages about ${e.volume.id}: ${err instanceof Error ? err.message : err}`);
              return [];
            });
            s.diagnosis = diagnoseVolume({ name: n.volumeName, id: e.volume.id, zone: s.zone, type: p.volumeType }, messages);
            s.cause = `boot volume ${n.volumeName} went to error${messages.length ? `: ${messages.at(-1)!.user_message}` : ''}`;
          } else if (!signal.aborted) {
            s.cause = e instanceof Error ? e.message : String(e);
          }
          throw e;
        }
        // ERROR: show the fault, delete server/volume/port, retry once (another zone when several are configured)
        const fault = e.server.fault?.message ?? 'no fault message';
        io.log('warn', `${n.name}: server went to ERROR: ${fault}; deleting it and retrying${retryZone(s.zone, req.zone, p.zones) !== s.zone ? ` in zone ${retryZone(s.zone, req.zone, p.zones)}` : ''}`);
        await rollback(s, `server ERROR: ${fault}`);
        s.cause = undefined;
        s.zone = retryZone(s.zone, req.zone, p.zones);
      }
    }
    s.ip = firstIp(server);
    if (!req.wait) {
      s.outcome = 'active';
      s.st.skipped('join', '--no-wait: the node joins on its own');
      s.st.done(ROOT, `ACTIVE ${s.ip ?? ''}`.trim());
      return;
    }
    try {
      await s.st.run('join', () => nodeWaiter.wait(n.name, req.joinTimeoutMs), () => 'Node Ready', `up to ${Math.round(req.joinTimeoutMs / 1000)}s`);
    } catch (e) {
      if (e instanceof TimeoutError) {
        const consoleText = await os.compute.getConsoleOutput(s.serverId!, 200).catch(() => '');
        s.diagnosis = diagnose({ console: consoleText });
        s.cause = `did not join within ${Math.round(req.joinTimeoutMs / 1000)}s: ${s.diagnosis.summary}`;
      }
      throw e;
    }
    s.outcome = 'joined';
    s.st.done(ROOT, `Node Ready (${s.ip ?? 'no ip'})`);
  }

  // every node runs at once (waiting is one list call per tick for all of them); --concurrency caps the
  // create requests in flight, so a batch of 50 takes about as long as one
  await Promise.all(states.map(async (s) => {
    if (signal.aborted) {
      s.outcome = 'interrupted';
      return;
    }
    s.st.start(ROOT, `${s.zone ? `zone ${s.zone}, ` : ''}flavor ${s.plan.flavor.name}`);
    try {
      await runNode(s);
    } catch (e) {
      s.outcome = signal.aborted ? 'interrupted' : 'failed';
      if (!s.cause && !signal.aborted) s.cause = e instanceof Error ? e.message : String(e);
      if (req.keepFailed) {
        s.outcome = 'kept';
        s.st.failed(ROOT, `kept for inspection: ${s.cause ?? 'interrupted'}`);
      } else {
        await rollback(s, s.cause ?? 'interrupted');
        s.st.failed(ROOT, s.outcome === 'interrupted' ? 'interrupted, rolled back' : s.cause ?? 'failed');
        s.outcome = s.outcome === 'interrupted' ? 'interrupted' : 'rolled-back';
      }
    }
  }));

  // token: deleted at the end, whatever happened -- except with --no-wait, where nodes that are ACTIVE
  // have not run kubeadm join yet: the token then stays until its (short) expiry so they can still join
  const stillJoining = !req.wait && states.some((s) => s.outcome === 'active');
  if (stillJoining) await lease.leave();
  else await lease.release(reapers);

  const ok = states.filter((s) => s.outcome === 'joined' || s.outcome === 'active');
  // nodes that joined stay even when the run as a whole ends failed (partial success): not leftovers
  for (const s of ok) await ledger.keep(s.plan.name);

  const nodes: NodeResult[] = states.map((s) => ({
    name: s.plan.name, zone: s.zone, flavor: s.plan.flavor.name, outcome: s.outcome ?? 'failed', serverId: s.serverId, ip: s.ip,
    attempts: s.attempts, cause: s.cause, diagnosis: s.diagnosis,
    left: s.outcome === 'kept' ? [s.serverId && `server ${s.serverId}`, s.volumeId && `volume ${s.volumeId}`, s.portId && `port ${s.portId}`].filter(Boolean) as string[] : undefined,
  }));
  return {
    cluster: c.clusterName,
    requested: states.length,
    added: ok.length,
    interrupted: signal.aborted,
    durationMs: ctx.clock.now() - started,
    nodes,
    outcomes: nodes.map((n, i) => workerOutcome(n, states[i]!.st)),
  };
}
