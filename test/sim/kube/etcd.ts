/**
 * Simulated etcd cluster: members with uint64 IDs (BigInt), learners, started/up flags, leader election,
 * quorum, raft term/index and the membership rules of etcd 3.4/3.5 (strict reconfig check, one learner,
 * promote only when the learner is in sync).
 */
import type { SimCore } from '../contract.js';
import type { RealEtcd } from './etcd-real.js';
import { hex, randU64 } from './util.js';

export interface SimMember {
  id: bigint;
  /** the name the member publishes once started ('' before) */
  name: string;
  /** the name it was added with (member add NAME), used for ETCD_NAME */
  intendedName: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
  /** the etcd process has started and joined (published its attributes) */
  started: boolean;
  /** the host is reachable and the process running */
  up: boolean;
  /** node name this member runs on */
  node: string;
  ip: string;
}

export class EtcdError extends Error {}

export const ETCD_VERSION = '3.5.16';

export class SimEtcd {
  readonly clusterId: bigint;
  members: SimMember[] = [];
  leaderId: bigint = 0n;
  raftTerm = 2;
  raftIndex = 1000;
  revision = 500;
  dbSize = 5_242_880;
  maxLearners = 1;
  /** raised alarms (etcd keeps them in raft: every member lists all of them), e.g. NOSPACE when the db hits its quota */
  alarms: { memberId: bigint; alarm: 'NOSPACE' | 'CORRUPT' }[] = [];
  /**
   * Real-etcd mode (etcd-real.ts): when set, the members are real etcd processes; etcdctl (exec.ts) and the
   * control-plane join (kubelet.ts) go to them, and the simulated member list above is no longer used.
   */
  real?: RealEtcd;

  constructor(private core: SimCore) {
    this.clusterId = randU64(core);
  }

  newId(): bigint {
    for (;;) {
      const id = randU64(this.core);
      if (!this.members.some((m) => m.id === id)) return id;
    }
  }

  voting(): SimMember[] {
    return this.members.filter((m) => !m.isLearner);
  }

  quorumSize(n = this.voting().length): number {
    return Math.floor(n / 2) + 1;
  }

  healthyVoting(): SimMember[] {
    return this.voting().filter((m) => m.started && m.up);
  }

  hasQuorum(): boolean {
    const v = this.voting();
    return v.length > 0 && this.healthyVoting().length >= this.quorumSize(v.length);
  }

  /** re-evaluate the leader after any change */
  elect(): void {
    if (!this.hasQuorum()) {
      if (this.leaderId !== 0n) this.raftTerm++;
      this.leaderId = 0n;
      return;
    }
    const cur = this.members.find((m) => m.id === this.leaderId);
    if (cur && !cur.isLearner && cur.started && cur.up) return;
    const next = this.healthyVoting()[0]!;
    this.leaderId = next.id;
    this.raftTerm++;
    this.raftIndex++;
  }

  /** a write went through raft (kube API writes call this too) */
  write(n = 1): void {
    if (this.hasQuorum()) {
      this.raftIndex += n;
      this.revision += n;
      this.dbSize += 512 * n;
    }
  }

  seedMember(name: string, ip: string, node: string): SimMember {
    const m: SimMember = {
      id: this.newId(),
      name,
      intendedName: name,
      peerURLs: [`https://${ip}:2380`],
      clientURLs: [`https://${ip}:2379`],
      isLearner: false,
      started: true,
      up: true,
      node,
      ip,
    };
    this.members.push(m);
    this.elect();
    return m;
  }

  private requireQuorum(): void {
    if (!this.hasQuorum()) throw new EtcdError('context deadline exceeded');
  }

  add(peerURLs: string[], isLearner: boolean, intendedName: string, node = '', ip = ''): SimMember {
    this.requireQuorum();
    for (const u of peerURLs) {
      if (!/^https?:\/\/[^/]+:\d+$/.test(u)) throw new EtcdError(`URL scheme must be http, https, unix, or unixs: ${u}`);
      if (this.members.some((m) => m.peerURLs.includes(u))) throw new EtcdError('etcdserver: Peer URLs already exists');
    }
    if (isLearner) {
      if (this.members.filter((m) => m.isLearner).length >= this.maxLearners) throw new EtcdError('etcdserver: too many learner members in cluster');
    } else {
      // strict reconfig check: started voting members must reach the new quorum
      const started = this.voting().filter((m) => m.started && m.up).length;
      if (started < this.quorumSize(this.voting().length + 1)) throw new EtcdError('etcdserver: re-configuration failed due to not enough started members');
    }
    const m: SimMember = { id: this.newId(), name: '', intendedName, peerURLs, clientURLs: [], isLearner, started: false, up: true, node, ip };
    this.members.push(m);
    this.raftIndex++;
    this.elect();
    return m;
  }

  find(id: bigint): SimMember | undefined {
    return this.members.find((m) => m.id === id);
  }

  /**
   * member remove, sent to member `via` (etcd's mayRemoveMember with strict reconfig check): the remaining
   * voting members must hold a quorum of started (published) ones; a member that is down may go; otherwise the
   * members connected to `via` minus the removed one must still be a quorum, else "unhealthy cluster".
   * Removing the leader makes it step down: the rest elect a new one (term + 1).
   */
  remove(id: bigint, via?: SimMember): SimMember {
    this.requireQuorum();
    const m = this.find(id);
    if (!m) throw new EtcdError('etcdserver: member not found');
    if (!m.isLearner) {
      const rest = this.voting().filter((x) => x.id !== id);
      const started = rest.filter((x) => x.started).length;
      if (rest.length === 0 || started < Math.floor(rest.length / 2) + 1) throw new EtcdError('etcdserver: re-configuration failed due to not enough started members');
      const downAndNotSelf = !(m.up && m.started) && m.id !== via?.id;
      if (!downAndNotSelf) {
        const all = this.voting();
        const active = all.filter((x) => x.up && x.started).length;
        if (active - 1 < 1 + Math.floor((all.length - 1) / 2)) throw new EtcdError('etcdserver: unhealthy cluster');
      }
    }
    const wasLeader = m.id === this.leaderId;
    this.members = this.members.filter((x) => x.id !== id);
    this.raftIndex++;
    if (wasLeader) {
      this.leaderId = 0n;
      this.raftTerm++;
    }
    this.elect();
    return m;
  }

  leader(): SimMember | undefined {
    return this.leaderId === 0n ? undefined : this.find(this.leaderId);
  }

  /**
   * MoveLeader as the maintenance server does it: only the leader takes it ("etcdserver: not leader"); the
   * transferee must be a voting member ("etcdserver: bad leader transferee"); one that is not running cannot
   * catch up and the transfer times out. Moving to the leader itself is a no-op success.
   */
  moveLeader(via: SimMember, target: bigint): void {
    if (via.id !== this.leaderId) throw new EtcdError('etcdserver: not leader');
    const t = this.find(target);
    if (!t || t.isLearner) throw new EtcdError('etcdserver: bad leader transferee');
    if (t.id === this.leaderId) return;
    if (!t.started || !t.up) throw new EtcdError('etcdserver: request timed out, leader transfer took too long');
    const from = this.leader();
    this.leaderId = t.id;
    this.raftTerm++;
    this.raftIndex++;
    if (from) this.armLeaderReturn(from);
  }

  /**
   * Fault: leadership goes back to a member after it was moved away (a re-election that the member wins),
   * right after the next `endpoint status` that showed the new leader: between a check and a removal.
   */
  leaderReturns: { name: RegExp; times: number }[] = [];
  private pendingReturn?: bigint;
  private armLeaderReturn(from: SimMember): void {
    const f = this.leaderReturns.find((x) => x.times > 0 && x.name.test(from.name));
    if (!f) return;
    f.times--;
    this.pendingReturn = from.id;
  }
  /** called after an endpoint status answered: a pending leadership return happens now */
  afterStatus(): void {
    const id = this.pendingReturn;
    if (id === undefined) return;
    this.pendingReturn = undefined;
    const m = this.find(id);
    if (!m || m.isLearner || !m.started || !m.up || !this.hasQuorum()) return;
    this.leaderId = m.id;
    this.raftTerm++;
    this.raftIndex++;
  }

  promote(id: bigint): SimMember {
    this.requireQuorum();
    const m = this.find(id);
    if (!m) throw new EtcdError('etcdserver: member not found');
    if (!m.isLearner) throw new EtcdError('etcdserver: can only promote a learner member');
    if (!m.started || !m.up) throw new EtcdError('etcdserver: can only promote a learner member which is in sync with leader');
    m.isLearner = false;
    this.raftIndex++;
    this.elect();
    return m;
  }

  /** the etcd process of a member started (publishes name and client URLs) */
  start(id: bigint): void {
    const m = this.find(id);
    if (!m) return;
    m.started = true;
    m.up = true;
    m.name = m.intendedName;
    if (m.clientURLs.length === 0 && m.ip) m.clientURLs = [`https://${m.ip}:2379`];
    this.elect();
  }

  setUp(id: bigint, up: boolean): void {
    const m = this.find(id);
    if (!m) return;
    m.up = up;
    this.elect();
  }

  /** member serving a client URL host (ip or 127.0.0.1 => the local node's member) */
  memberForEndpoint(endpoint: string, localNode: string): SimMember | undefined {
    let host: string;
    try {
      host = new URL(endpoint.includes('://') ? endpoint : `https://${endpoint}`).hostname;
    } catch {
      return undefined;
    }
    if (host === '127.0.0.1' || host === 'localhost' || host === '::1' || host === '[::1]') return this.members.find((m) => m.node === localNode);
    return this.members.find((m) => m.ip === host || m.clientURLs.some((u) => u.includes(`//${host}:`)));
  }

  dump(): unknown {
    if (this.real) return this.real.dump();
    return {
      clusterId: hex(this.clusterId),
      leader: hex(this.leaderId),
      quorum: this.hasQuorum(),
      raftTerm: this.raftTerm,
      raftIndex: this.raftIndex,
      members: this.members.map((m) => ({ id: hex(m.id), name: m.name, intendedName: m.intendedName, peerURLs: m.peerURLs, clientURLs: m.clientURLs, isLearner: m.isLearner, started: m.started, up: m.up, node: m.node })),
    };
  }
}
