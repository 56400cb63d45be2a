/**
 * kadd add --role node, the change: the shared network pieces, then every node at once (port and boot
 * volume, server, watched until ACTIVE and Ready through lib/ops/add-workers-watch.ts), a node that fails
 * rolled back through the reapers (or kept, --keep-failed), the bootstrap token released, the cluster file
 * written for the nodes that joined. Journaled through the Ledger.
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
  updatedConfig?: string;
  /** n-nodes written to the updated file (when it is not the file's count plus `added`: a resume counts what exists) */
  nNodes?: number;
  interrupted: boolean;
  durationMs: number;
}

export interface AddWorkersDeps {
  renderUserData: UserDataRenderer;
  caCertHash: (pem: string) => string;
  /** journal + undo list of this operation (lib/ops/engine/ledger.ts) */
  ledger: Ledger;
  /** called after success or partial success with the number of joined nodes; returns the path written */
  writeConfig: (added: number) => Promise<string>;
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

  const states: NodeState[] = p.nodes.map((n) => ({ plan: n, zone: n.zone, attempts: 0, portId: n.adopt.portId, volumeId: n.adopt.volumeId, serverId: n.adopt.serverId }));
  const lines = new Map(states.map((s) => [s.plan.name, io.progress(s.plan.name, 'waiting')]));
  const say = (s: NodeState, text: string, budgetMs?: number) => lines.get(s.plan.name)!.update(text, { budgetMs });
  io.log('info', `creating ${states.length} server${states.length === 1 ? '' : 's'}, then waiting for ${states.length === 1 ? 'it' : 'them'} to boot (up to ${Math.round(req.bootTimeoutMs / 1000)}s)${req.wait ? ` and join (up to ${Math.round(req.joinTimeoutMs / 1000)}s)` : ''}`);

  const { volumes: volumeWaiter, servers: serverWaiter, nodes: nodeWaiter } = batchWaiters(ctx, req, os, kube, started, {
    serverStatus: (id, s) => {
      const st = states.find((x) => x.serverId === id);
      if (st) say(st, `server ${s.status}${s['OS-EXT-STS:task_state'] ? ` (${s['OS-EXT-STS:task_state']})` : ''}`);
    },
    nodeRegistered: (name) => {
      const st = states.find((x) => x.plan.name === name);
      if (st) st.registered = true;
    },
    nodeNotReady: (name) => {
      const st = states.find((x) => x.plan.name === name);
      if (st) say(st, 'Node registered, NotReady');
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
    const made = await Promise.allSettled([createPort(s), s.serverId ? Promise.resolve() : createVolume(s).then(() => volumeReady(s))]);
    for (const m of made) if (m.status === 'rejected') throw m.reason;
    return createServer(s);
  }

  async function createPort(s: NodeState): Promise<void> {
    const n = s.plan;
    if (!s.portId) {
      say(s, 'creating port');
      const port = await ledger.create({ kind: 'port', name: n.portName, node: n.name, details: { network: networkId } }, () => slots.use(() => os.network.createPort({
        name: n.portName, network_id: networkId, fixed_ips: [{ subnet_id: subnetId }], security_groups: [sgId], description: kaddPortDescription(c.clusterName, n.name), tags,
      })));
      s.portId = port.id;
      // the tags go in the create; Neutron without `tag-creation` (Zed) answers 201 with `tags: []`: then one PUT
      if (!tags.every((t) => port.tags?.includes(t))) os.network.setPortTags(port.id, tags).catch((e) => io.log('debug', `tagging port ${n.portName}: ${e instanceof Error ? e.message : e}`));
    }
  }

  async function createVolume(s: NodeState): Promise<void> {
    const n = s.plan;
    if (!s.serverId && !s.volumeId) {
      say(s, 'creating volume');
      const v = await ledger.create({ kind: 'volume', name: n.volumeName, node: n.name, details: { size: p.volumeSize, zone: s.zone } }, () => slots.use(() => os.volume.createVolume({
        name: n.volumeName, size: p.volumeSize, imageRef: p.image.id, availability_zone: s.zone,
        ...(p.volumeType ? { volume_type: p.volumeType } : {}), metadata: { ...md, 'kadd-server': n.name },
      })));
      s.volumeId = v.id;
    }
  }

  async function volumeReady(s: NodeState): Promise<void> {
    const n = s.plan;
    say(s, 'volume creating');
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
    const n = s.plan;
    if (!s.serverId) {
      if (signal.aborted) throw new OperationError('E_INTERRUPTED', 'interrupted');
      say(s, 'creating server');
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
    say(s, 'server BUILD', req.bootTimeoutMs);
    return serverWaiter.wait(s.serverId!, req.bootTimeoutMs);
  }

  /** delete what this node holds, through the reapers (Node -> server -> volume -> port), waited until gone */
  async function rollback(s: NodeState, why: string): Promise<void> {
    const r = await ledger.teardown(s.plan.name, reapers, { readyNode: 'delete' });
    s.serverId = s.volumeId = s.portId = undefined;
    for (const x of r.left) io.log('warn', `could not delete ${describeReaped(x)}`);
    if (r.left.length) s.cause = `${s.cause ?? why}; left behind: ${r.left.map(describeReaped).join(', ')}`;
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
        // Nova returns `fault` on GET /servers/{id} only, not in lists
        if (e instanceof ServerErrorState && !e.server.fault) {
          const full = await os.compute.getServer(e.server.id).catch(() => null);
          if (full?.fault) e.server.fault = full.fault;
        }
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
        say(s, `ERROR (${fault}), retrying`);
        await rollback(s, `server ERROR: ${fault}`);
        s.cause = undefined;
        s.zone = retryZone(s.zone, req.zone, p.zones);
      }
    }
    s.ip = firstIp(server);
    if (!req.wait) {
      s.outcome = 'active';
      lines.get(n.name)!.succeed(`ACTIVE ${s.ip ?? ''}`.trim());
      return;
    }
    say(s, 'ACTIVE, waiting for the Node to join', req.joinTimeoutMs);
    try {
      await nodeWaiter.wait(n.name, req.joinTimeoutMs);
    } catch (e) {
      if (e instanceof TimeoutError) {
        const consoleText = await os.compute.getConsoleOutput(s.serverId!, 200).catch(() => '');
        s.diagnosis = diagnose({ console: consoleText });
        s.cause = `did not join within ${Math.round(req.joinTimeoutMs / 1000)}s: ${s.diagnosis.summary}`;
      }
      throw e;
    }
    s.outcome = 'joined';
    lines.get(n.name)!.succeed(`Node Ready (${s.ip ?? 'no ip'})`);
  }

  // every node runs at once (waiting is one list call per tick for all of them); --concurrency caps the
  // create requests in flight, so a batch of 50 takes about as long as one
  await Promise.all(states.map(async (s) => {
    if (signal.aborted) {
      s.outcome = 'interrupted';
      return;
    }
    try {
      await runNode(s);
    } catch (e) {
      s.outcome = signal.aborted ? 'interrupted' : 'failed';
      if (!s.cause && !signal.aborted) s.cause = e instanceof Error ? e.message : String(e);
      if (req.keepFailed) {
        s.outcome = 'kept';
        lines.get(s.plan.name)!.warn(`kept for inspection: ${s.cause ?? 'interrupted'}`);
      } else {
        lines.get(s.plan.name)!.update('rolling back');
        await rollback(s, s.cause ?? 'interrupted');
        lines.get(s.plan.name)!.fail(s.outcome === 'interrupted' ? 'interrupted, rolled back' : s.cause ?? 'failed');
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
  let updatedConfig: string | undefined;
  if (ok.length > 0) updatedConfig = await deps.writeConfig(ok.length);

  return {
    cluster: c.clusterName,
    requested: states.length,
    added: ok.length,
    interrupted: signal.aborted,
    updatedConfig,
    durationMs: ctx.clock.now() - started,
    nodes: states.map((s) => ({
      name: s.plan.name, zone: s.zone, flavor: s.plan.flavor.name, outcome: s.outcome ?? 'failed', serverId: s.serverId, ip: s.ip,
      attempts: s.attempts, cause: s.cause, diagnosis: s.diagnosis,
      left: s.outcome === 'kept' ? [s.serverId && `server ${s.serverId}`, s.volumeId && `volume ${s.volumeId}`, s.portId && `port ${s.portId}`].filter(Boolean) as string[] : undefined,
    })),
  };
}
