/**
 * kadd add --role master, the watch: the new master's join, stage by stage (server ACTIVE, Node registered,
 * etcd member present, promoted, every member healthy, Node Ready), each behind its own deadline through the
 * one poller (lib/poll.ts), with a console check for a failed kubeadm join and a diagnosis of a stall.
 */
import type { Context } from '../context.js';
import type { OpenStackClient, Server } from '../openstack/types.js';
import type { KNode, KubeApi } from '../kube/types.js';
import type { Etcdctl } from '../etcd/etcdctl.js';
import type { ClusterView } from '../etcd/quorum.js';
import { exactNamePattern, nameClaimRival } from './naming.js';
import { pollUntil, TimeoutError, type Verdict as WaitVerdict } from './poll.js';
import { diagnose, type Diagnosis } from './diagnose.js';
import { groupDiagnosis } from './observe.js';
import { firstIp } from './add-workers-execute.js';
import { memberMatches } from './master-etcd.js';
import type { Ledger } from './engine/ledger.js';
import type { NodeStages } from './engine/events.js';
import { STAGE_TEXT, type AddMasterPlan, type AddMasterRequest, type Stage } from './add-master-plan.js';

/** What executeMaster knows of the new master so far (ids as they are created or found). */
export interface MasterState {
  portId?: string;
  ip?: string;
  volumeId?: string;
  serverId?: string;
  memberId?: string;
  lbMemberId?: string;
  stage?: Stage | 'prepare';
}

export class StageFailure extends Error {
  constructor(readonly stage: Stage | 'prepare', message: string, readonly diagnosis?: Diagnosis) {
    super(message);
  }
}

const FATAL_CONSOLE = /error execution phase|KADD-MARK stage=join-failed/;

export interface WatchDeps {
  os: OpenStackClient;
  kube: KubeApi;
  etcdctl: Etcdctl;
  ledger: Ledger;
  /** the bootstrap token's keep-alive (extended while the server boots) */
  extendToken: () => Promise<void>;
  /** the new master's lifecycle stage events: one stage per STAGES entry */
  stages?: NodeStages;
}

/** Waits for each stage in order; a stage that fails or times out throws a StageFailure. */
export async function watchJoin(ctx: Context, req: AddMasterRequest, p: AddMasterPlan, st: MasterState, deps: WatchDeps): Promise<void> {
  const { os, kube, etcdctl, ledger, extendToken } = deps;
  const consoleFatal = async (stage: Stage): Promise<WaitVerdict<never> | undefined> => {
    const text = await os.compute.getConsoleOutput(st.serverId!, 200).catch(() => '');
    if (!FATAL_CONSOLE.test(text)) return undefined;
    const d = diagnose({ console: text });
    return { state: 'failed', error: new StageFailure(stage, `the join failed on ${p.name}: ${d.summary}`, d) };
  };

  const server = await stage<Server>(deps.stages, ctx, req, p, st, 'active', async () => {
    const s = await os.compute.getServer(st.serverId!);
    if (!s) return { state: 'failed', error: new StageFailure('active', `server ${p.name} disappeared`) };
    if (s.status === 'ACTIVE') {
      // names are claimed, not assumed (13.8): a server that took this name after the preflight keeps it
      // when it was created first; this one is rolled back instead of becoming a duplicate
      const rival = nameClaimRival(s, await os.compute.listServers({ name: exactNamePattern(p.name) }));
      if (rival) return { state: 'failed', error: new StageFailure('active', `server name ${p.name} was taken by another server (${rival.id}, created ${rival.created ?? '?'}) after the preflight; this master is rolled back instead of becoming a duplicate`) };
      return { state: 'done', value: s };
    }
    if (s.status === 'ERROR') return { state: 'failed', error: new StageFailure('active', `server ${p.name} went to ERROR: ${s.fault?.message ?? 'no fault message'}`, groupDiagnosis(diagnose({ fault: s.fault, status: 'ERROR' }), p.serverGroup)) };
    return { state: 'pending', note: `${s.status}${s['OS-EXT-STS:task_state'] ? ` (${s['OS-EXT-STS:task_state']})` : ''}` };
  });
  st.ip ??= firstIp(server);

  await stage<KNode>(deps.stages, ctx, req, p, st, 'registered', async () => {
    await extendToken();
    const n = await kube.getNode(p.name);
    if (n) {
      await ledger.observed({ kind: 'node', name: p.name, node: p.name });
      return { state: 'done', value: n };
    }
    return (await consoleFatal('registered')) ?? { state: 'pending', note: 'kubeadm join running' };
  });

  const findMine = (view: ClusterView) => view.members.find((m) => memberMatches(m.member, p.name, st.ip));
  await stage(deps.stages, ctx, req, p, st, 'member', async () => {
    const list = await etcdctl.memberList();
    const m = list.members.find((x) => memberMatches(x, p.name, st.ip));
    if (m) {
      st.memberId = m.id;
      await ledger.observed({ kind: 'etcd-member', name: p.name, node: p.name, id: m.id, details: { learner: m.isLearner } });
      return { state: 'done', value: m };
    }
    return (await consoleFatal('member')) ?? { state: 'pending', note: 'waiting for kubeadm to add the member' };
  });

  await stage(deps.stages, ctx, req, p, st, 'promoted', async () => {
    const list = await etcdctl.memberList();
    const m = list.members.find((x) => x.id === st.memberId);
    if (!m) return { state: 'failed', error: new StageFailure('promoted', `etcd member ${st.memberId} of ${p.name} disappeared from the member list`) };
    if (!m.isLearner) return { state: 'done', value: m };
    return (await consoleFatal('promoted')) ?? { state: 'pending', note: m.name ? 'learner started, catching up' : 'learner not started yet' };
  });

  await stage(deps.stages, ctx, req, p, st, 'healthy', async () => {
    const view = await etcdctl.view();
    const bad = view.members.filter((m) => !m.healthy || m.member.isLearner);
    if (bad.length === 0 && findMine(view)) return { state: 'done', value: view };
    return { state: 'pending', note: bad.map((m) => `${m.member.name || m.member.id}: ${m.reason ?? 'learner'}`).join('; ') };
  });

  await stage<KNode>(deps.stages, ctx, req, p, st, 'ready', async () => {
    const n = await kube.getNode(p.name);
    if (n?.ready) return { state: 'done', value: n };
    return { state: 'pending', note: n ? 'NotReady' : 'Node gone' };
  });
}

/**
 * Pure: when the console has no failure marker, name what a stalled control-plane join is waiting for
 * (kubeadm's discovery retrying the API endpoint, a learner kubeadm keeps trying to promote).
 */
export function refineStall(stage: Stage | 'prepare', d: Diagnosis, p: Pick<AddMasterPlan, 'name' | 'apiEndpoint' | 'lb' | 'securityGroup'>): Diagnosis {
  if (d.cause !== 'unknown') return d;
  const text = d.consoleTail.join('\n');
  const disc = [...text.matchAll(/\[discovery\] Trying to connect to API Server "([^"]+)"(?: \(retry (\d+)\))?/g)].pop();
  if (disc && (stage === 'registered' || stage === 'active')) {
    return {
      ...d,
      summary: `kubeadm on ${p.name} never reached the API server at ${disc[1]}${disc[2] ? ` (discovery retry ${disc[2]})` : ''}; the kubelet did not register`,
      nextStep: `check that ${p.name} can reach ${disc[1]}: security group ${p.securityGroup.name} (TCP 6443 from the cluster network)${p.lb ? `, load balancer ${p.lb.name} and its pool ${p.lb.poolName}` : ''}, routing from the subnet`,
      evidence: [disc[0]],
    };
  }
  if (stage === 'promoted' && /adding etcd member as learner/.test(text)) {
    return {
      ...d,
      summary: `the etcd learner of ${p.name} was added but did not start and catch up (etcd peer port 2380 between the masters? etcd static pod on ${p.name}?)`,
      nextStep: `with --keep-failed, look at \`crictl logs\` of etcd on ${p.name}; check TCP 2379-2380 between the masters in security group ${p.securityGroup.name}`,
      evidence: (text.match(/.*adding etcd member as learner.*/g) ?? []).slice(-1),
    };
  }
  return d;
}

/** One probe per tick through the one poller (lib/poll.ts): backoff with jitter, the stage's deadline, Ctrl-C. */
export function waitFor<T>(ctx: Context, req: AddMasterRequest, what: string, timeoutMs: number, probe: () => Promise<WaitVerdict<T>>, onNote?: (n: string) => void): Promise<T> {
  return pollUntil<T>({
    what, timeoutMs, probe, onNote, clock: ctx.clock, signal: ctx.signal, intervalMs: req.pollIntervalMs, maxIntervalMs: req.maxPollIntervalMs,
    onError: (e) => ctx.io.log('warn', `${what}: polling failed, will retry: ${e instanceof Error ? e.message : e}`),
  });
}

async function stage<T>(events: NodeStages | undefined, ctx: Context, req: AddMasterRequest, p: AddMasterPlan, st: MasterState, s: Stage, probe: () => Promise<WaitVerdict<T>>): Promise<T> {
  st.stage = s;
  const line = ctx.io.progress(`${p.name}:${s}`, `${p.name}: waiting for ${STAGE_TEXT[s]}`);
  const t0 = ctx.clock.now();
  events?.start(s, STAGE_TEXT[s]);
  try {
    const v = await waitFor(ctx, req, STAGE_TEXT[s], req.timeouts[s], probe, (note) => line.update(`${p.name}: waiting for ${STAGE_TEXT[s]} (${note})`));
    line.succeed(`${p.name}: ${STAGE_TEXT[s]} (${Math.round((ctx.clock.now() - t0) / 1000)}s)`);
    events?.done(s);
    return v;
  } catch (e) {
    line.fail(`${p.name}: ${STAGE_TEXT[s]} failed`);
    const failure = e instanceof TimeoutError ? new StageFailure(s, `no ${STAGE_TEXT[s]} within ${Math.round(req.timeouts[s] / 1000)}s`) : e;
    events?.failed(s, failure instanceof Error ? failure.message : String(failure));
    throw failure;
  }
}
