/**
 * The Kubernetes half of the simulator: API server (handler), pod exec over WebSocket (upgradeHandler),
 * simulated kubelets (joins from Nova user-data) and a simulated etcd.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { SimCore, SimHandler, SimServerInfo } from '../contract.js';
import { createApiHandler } from './api.js';
import { KubeCluster, type RecordedRequest } from './cluster.js';
import type { SimEtcd } from './etcd.js';
import { RealEtcd } from './etcd-real.js';
import { createBootstrapTokenSecret, type ExecResult, HOST_ANNOTATION, runArgv, uploadCerts } from './exec.js';
import { Kubelets } from './kubelet.js';
import { pki } from './pki.js';
import { hex, type Obj } from './util.js';
import { computePdbStatus } from './disruption.js';
import { type NodeState, nodeState, onServerState, renewLease, scheduleNodeFaults, setNodeState } from './nodefaults.js';
import { ensureAttached, insufficient, releaseVolumes, retryDetach, type SeededWorkload, seedWorkload, setNodeAllocatable, type WorkloadSpec } from './workloads.js';
import { createUpgradeHandler } from './ws.js';

export type { RecordedRequest } from './cluster.js';
export type { SeededWorkload, WorkloadSpec } from './workloads.js';
export type { NodeState } from './nodefaults.js';

export { parseJoin } from './kubelet.js';
export type { SimMember } from './etcd.js';
export { RealEtcd, RealEtcdUnavailable, realEtcdMissing, type RealMemberView } from './etcd-real.js';

export interface KubeSimOptions {
  clusterName?: string;
  k8sVersion?: string;
  masters?: number;
  nodes?: number;
  /** every control-plane member is a real etcd process (etcd-real.ts); also scenario `etcd: { real: true }` */
  realEtcd?: boolean;
  /** real-etcd mode: where data dirs, logs and the address map go (default a fresh temp dir, removed on stop) */
  realEtcdDir?: string;
}

export interface KubeSim {
  handler: SimHandler;
  /** returns true when it took the upgrade (pod exec), false otherwise */
  upgradeHandler(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  state(): Obj;
  /** sync in simulated mode; in real-etcd mode a Promise that resolves once every etcd process is gone */
  stop(): void | Promise<void>;
  /** real-etcd mode: the real members (undefined in simulated mode) */
  readonly realEtcd?: RealEtcd;
  /** run a command in a node's host shell (what an SSH session on that node would run: etcdctl, kubeadm, sh) */
  hostExec(node: string, argv: string[], env?: Record<string, string>, stdin?: string): Promise<ExecResult>;
  readonly cluster: KubeCluster;
  readonly etcd: SimEtcd;
  /** PEM of the cluster CA and its kubeadm discovery hash (sha256:<hex of SPKI DER>) */
  readonly caPem: string;
  readonly caHash: string;
  /** API endpoint (host:port) the kubelets accept */
  endpoint(): string;
  nodes(): Obj[];
  node(name: string): Obj | undefined;
  pods(ns?: string): Obj[];
  deployments(ns?: string): Obj[];
  /** bootstrap-token Secrets in kube-system */
  tokens(): Obj[];
  /** create a bootstrap token as `kubeadm token create` would (test helper) */
  createToken(opts?: { ttlMs?: number; usages?: string[]; groups?: string[] }): string;
  /** upload certs as `kubeadm init phase upload-certs --upload-certs --certificate-key key` */
  uploadCerts(keyHex: string): void;
  /** run a command as if exec'd in a pod */
  exec(ns: string, pod: string, argv: string[], stdin?: string): Promise<ExecResult>;
  /** bind a seeded Node to the Nova server that the core seeded for it (sets spec.providerID) */
  attachServer(nodeName: string, serverId: string): void;
  /** take a node's kubelet (and its etcd member) down or up, without deleting the server */
  setNodeDown(name: string, down: boolean): void;
  /** Ready, NotReady (kubelet answers, Ready False; reason = the condition message) or Unreachable (Ready Unknown) */
  setNodeState(name: string, state: NodeState, o?: { reason?: string }): void;
  nodeState(name: string): NodeState | undefined;
  /** the etcd leader (simulated mode: now; real mode: use realEtcd.leader()) */
  etcdLeader(): { id: string; name: string; node: string } | undefined;
  /** move the etcd leadership to a member by name (as `etcdctl move-leader` through the leader would) */
  moveEtcdLeader(toName: string): Promise<void>;
  /** take one etcd member's process down or up while its node stays Ready (a second unhealthy member) */
  setEtcdMemberUp(name: string, up: boolean): void;
  /** raise (or with null, clear) an etcd alarm on a member, as etcd does when its db reaches the quota (NOSPACE) */
  setEtcdAlarm(name: string, alarm: 'NOSPACE' | 'CORRUPT' | null): void;
  /** take a control-plane node's kube-apiserver down (connections to :6443 refused, its mirror pod crash-loops) or up */
  setApiserverUp(node: string, up: boolean): void;
  /** fault: leadership goes back to this member after the next move away from it, right after the next endpoint status */
  etcdLeaderReturns(name: string, times?: number): void;
  /** seed a workload (Deployment, DaemonSet, Static, Bare; emptyDir, PVC, requests, PDB, crash loop, termination time) */
  addWorkload(spec: WorkloadSpec): SeededWorkload;
  /** set a Node's capacity and allocatable (cpu, memory, pods) */
  setNodeAllocatable(node: string, r: { cpu?: string; memory?: string; pods?: string | number }): void;
  /** fault: the VolumeAttachments of this PV never detach (false lifts it and detaches if unused) */
  keepVolumeAttached(pvName: string, keep: boolean): void;
  /** make a pod crash-loop (Running, not Ready) or recover */
  setCrashLoop(ns: string, pod: string, on: boolean): void;
  /** write requests the API received (method, path, query, content type, parsed body), oldest first */
  requests(filter?: { method?: string; path?: RegExp }): RecordedRequest[];
  volumeAttachments(): Obj[];
  pdbs(ns?: string): Obj[];
}

export function createKubeSim(core: SimCore, opts: KubeSimOptions = {}): KubeSim {
  const c = new KubeCluster(core, opts, { pdbStatus: computePdbStatus, renewLease, ensureAttached, insufficient, releaseVolumes, setNodeAllocatable });
  c.seed(opts.masters ?? core.scenario.cluster?.masters ?? 1, opts.nodes ?? core.scenario.cluster?.nodes ?? 1);
  if (opts.realEtcd ?? core.scenario.etcd?.real) {
    // real members for the seeded masters (throws RealEtcdUnavailable when the binaries are missing);
    // KubeSim.realEtcd.ready resolves once they are healthy, and every real operation waits for it
    c.etcd.real = RealEtcd.launch(c.etcd.members.map((m) => ({ name: m.name, node: m.node, ip: m.ip })), { dir: opts.realEtcdDir });
  }
  const lr = (core.scenario.etcd?.leaderReturns ?? []).map((r) => ({ name: new RegExp(r.member), times: r.times ?? 1 }));
  c.etcd.leaderReturns = lr.map((x) => ({ ...x }));
  if (c.etcd.real) c.etcd.real.leaderReturns = lr.map((x) => ({ ...x }));
  const lead = core.scenario.etcd?.leader;
  if (lead) {
    const m = c.etcd.members.find((x) => new RegExp(lead).test(x.name));
    if (!m) throw new Error(`scenario etcd.leader: no member matches ${lead}`);
    if (c.etcd.real) void c.etcd.real.ready.then(() => c.etcd.real!.moveLeader(m.name)).catch(() => undefined);
    else if (m.id !== c.etcd.leaderId) {
      c.etcd.leaderId = m.id;
      c.etcd.raftTerm++;
    }
  }
  for (const w of core.scenario.kube?.workloads ?? []) seedWorkload(c, w);
  return assemble(core, c);
}

function assemble(core: SimCore, c: KubeCluster): KubeSim {
  const kubelets = new Kubelets(c);
  const onActive = (s: SimServerInfo) => kubelets.onServerActive(s);
  const onDeleted = (s: SimServerInfo) => kubelets.onServerDeleted(s);
  const onState = (s: SimServerInfo & { change: 'stopped' | 'started' | 'rebooting' | 'rebooted' | 'error' }) => onServerState(c, s);
  core.events.on('server.active', onActive);
  core.events.on('server.deleted', onDeleted);
  core.events.on('server.state', onState);
  // seeded Nodes run on the seeded servers of the same name (providerID as the OpenStack CCM sets it)
  for (const n of c.list('nodes')) {
    const s = core.openstack?.getServer(n.metadata.name);
    const meta = c.nodeMeta.get(n.metadata.name);
    if (s && meta) {
      meta.serverId = s.id;
      n.spec.providerID = `openstack:///${s.id}`;
      // a state change that happened before this half listened (faults.serverState at an early time)
      if (s.status === 'SHUTOFF' || s.status === 'ERROR') onServerState(c, { ...s, change: s.status === 'SHUTOFF' ? 'stopped' : 'error' });
    }
  }
  scheduleNodeFaults(c);
  const ws = createUpgradeHandler(c);
  const handler = createApiHandler(c);
  return {
    handler,
    upgradeHandler: ws.handler,
    cluster: c,
    etcd: c.etcd,
    caPem: pki().caCrt,
    caHash: pki().caHash,
    endpoint: () => c.controlPlaneEndpoint(),
    state: () => c.dump(),
    stop: () => {
      c.stop();
      core.events.off('server.active', onActive);
      core.events.off('server.deleted', onDeleted);
      core.events.off('server.state', onState);
      ws.close();
      if (c.etcd.real) return c.etcd.real.stop();
    },
    get realEtcd() {
      return c.etcd.real;
    },
    hostExec: async (node, argv, env = {}, stdin = '') => {
      if (!c.get('nodes', undefined, node)) throw new Error(`no Node ${node}`);
      const pod = { metadata: { name: `host-${node}`, namespace: '', uid: `host-${node}`, annotations: { [HOST_ANNOTATION]: 'true' } }, spec: { nodeName: node, hostNetwork: true, volumes: [], containers: [{ name: 'host' }] } };
      return runArgv(argv, { c, pod, env, stdin });
    },
    nodes: () => c.list('nodes'),
    node: (n) => c.get('nodes', undefined, n),
    pods: (ns) => c.list('pods', ns),
    deployments: (ns) => c.list('deployments', ns),
    tokens: () => {
      c.gc();
      return c.list('secrets', 'kube-system').filter((s) => s.type === 'bootstrap.kubernetes.io/token');
    },
    createToken: (o = {}) => {
      const t = createBootstrapTokenSecret(c, { ttlMs: o.ttlMs ?? 24 * 3600_000, usages: o.usages ?? ['authentication', 'signing'], groups: o.groups ?? ['system:bootstrappers:kubeadm:default-node-token'] });
      return `${t.id}.${t.secret}`;
    },
    uploadCerts: (k) => uploadCerts(c, k),
    exec: async (ns, pod, argv, stdin = '') => {
      const p = c.get('pods', ns, pod);
      if (!p) throw new Error(`pods "${pod}" not found`);
      return runArgv(argv, { c, pod: p, env: {}, stdin });
    },
    attachServer: (name, serverId) => {
      const n = c.get('nodes', undefined, name);
      const meta = c.nodeMeta.get(name);
      if (!n || !meta) throw new Error(`no Node ${name}`);
      meta.serverId = serverId;
      n.spec.providerID = `openstack:///${serverId}`;
      c.touch(n);
    },
    setNodeDown: (name, down) => setNodeState(c, name, down ? 'Unreachable' : 'Ready'),
    setNodeState: (name, state, o) => setNodeState(c, name, state, o),
    nodeState: (name) => nodeState(c, name),
    etcdLeader: () => {
      const m = c.etcd.leader();
      return m ? { id: hex(m.id), name: m.name, node: m.node } : undefined;
    },
    moveEtcdLeader: async (toName) => {
      if (c.etcd.real) {
        const r = await c.etcd.real.moveLeader(toName);
        if (r.exitCode !== 0) throw new Error(r.stderr.trim());
        return;
      }
      const to = c.etcd.members.find((m) => m.name === toName);
      const lead = c.etcd.leader();
      if (!to || !lead) throw new Error(`no etcd member ${toName} or no leader`);
      c.etcd.moveLeader(lead, to.id);
    },
    setEtcdMemberUp: (name, up) => {
      const m = c.etcd.members.find((x) => x.name === name);
      if (!m && !c.etcd.real) throw new Error(`no etcd member ${name}`);
      if (m) c.etcd.setUp(m.id, up);
      c.etcd.real?.setMemberDown(name, !up);
    },
    setEtcdAlarm: (name, alarm) => {
      const m = c.etcd.members.find((x) => x.name === name);
      if (!m) throw new Error(`no etcd member ${name}`);
      c.etcd.alarms = c.etcd.alarms.filter((a) => a.memberId !== m.id);
      if (alarm) c.etcd.alarms.push({ memberId: m.id, alarm });
    },
    setApiserverUp: (node, up) => {
      if (!c.get('nodes', undefined, node)) throw new Error(`no Node ${node}`);
      if (up) c.apiserverDown.delete(node);
      else c.apiserverDown.add(node);
      const p = c.get('pods', 'kube-system', `kube-apiserver-${node}`);
      if (p) {
        c.podKnobs.set(p.metadata.uid, { ...(c.podKnobs.get(p.metadata.uid) ?? {}), crashLoop: !up });
        c.evaluatePod(p);
      }
    },
    etcdLeaderReturns: (name, times = 1) => {
      const f = { name: new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`), times };
      c.etcd.leaderReturns.push(f);
      c.etcd.real?.leaderReturns.push({ ...f });
    },
    addWorkload: (spec) => seedWorkload(c, spec),
    setNodeAllocatable: (node, r) => setNodeAllocatable(c, node, r),
    keepVolumeAttached: (pv, keep) => {
      if (keep) c.keepAttached.add(pv);
      else {
        c.keepAttached.delete(pv);
        retryDetach(c, pv);
      }
    },
    setCrashLoop: (ns, pod, on) => {
      const p = c.get('pods', ns, pod);
      if (!p) throw new Error(`pods "${pod}" not found`);
      c.podKnobs.set(p.metadata.uid, { ...(c.podKnobs.get(p.metadata.uid) ?? {}), crashLoop: on });
      c.evaluatePod(p);
    },
    requests: (f = {}) => c.requests.filter((r) => (!f.method || r.method === f.method) && (!f.path || f.path.test(r.path))),
    volumeAttachments: () => c.list('volumeattachments'),
    pdbs: (ns) => {
      const l = c.list('poddisruptionbudgets', ns);
      for (const p of l) p.status = c.pdbStatus(p);
      return l;
    },
  };
}
