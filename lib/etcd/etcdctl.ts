/**
 * Etcdctl: runs etcdctl (API v3) through a Transport on a control-plane node and parses its output.
 * Only what kadd needs: member list, health, status, add a learner, promote, remove, snapshot, and
 * the kubeadm certificate upload that a control-plane join needs.
 */
import { randomBytes } from 'node:crypto';
import { realClock, type Clock } from '../clock.js';
import { KaddError } from '../errors.js';
import { redactText, registerSecret } from '../redact.js';
import { shellJoin } from '../ssh/quote.js';
import { normalizeHexId } from './ids.js';
import {
  etcdctlErrorMessage,
  parseEndpointHealthJson,
  parseEndpointStatusJson,
  parseJsonExact,
  parseMemberAdd,
  parseMemberListJson,
  type MemberAddResult,
  type MemberList,
} from './parse.js';
import { buildClusterView, projectAdd, projectRemove, type ClusterView, type Verdict } from './quorum.js';
import type { CommandResult, EtcdEndpointHealth, EtcdEndpointStatus, Transport } from './types.js';

export interface EtcdctlOptions {
  /** client URLs; default https://127.0.0.1:2379 (the local stacked member on a kubeadm master) */
  endpoints?: string[];
  cacert?: string;
  cert?: string;
  key?: string;
  /** etcdctl binary on the remote side (default "etcdctl") */
  binary?: string;
  /** etcdctl --dial-timeout (default 2s) */
  dialTimeout?: string;
  /** etcdctl --command-timeout (default 5s) */
  commandTimeout?: string;
  /** transport-level limit per call (default 30 s) */
  timeoutMs?: number;
  clock?: Clock;
  /** promote retries while the learner is not in sync (default 30 x 2 s) */
  promoteRetry?: { attempts: number; intervalMs: number };
  /** member add / remove retries while etcd answers "unhealthy cluster" (strict reconfig check; default 6 x 1.5 s) */
  addRetry?: { attempts: number; intervalMs: number };
}

export const KUBEADM_ETCD_PKI = '/etc/kubernetes/pki/etcd';

/** etcd's strict reconfig check: no membership change until the leader has seen every member for 5 s */
const UNHEALTHY = /unhealthy cluster/;
const MEMBERSHIP_RETRY = { attempts: 6, intervalMs: 1500 };

/** etcdctl flags for a kubeadm stacked etcd, run on a control-plane node. */
export function kubeadmEtcdctlOptions(client: 'healthcheck-client' | 'server' = 'healthcheck-client', endpoints = ['https://127.0.0.1:2379']): EtcdctlOptions {
  return {
    endpoints,
    cacert: `${KUBEADM_ETCD_PKI}/ca.crt`,
    cert: `${KUBEADM_ETCD_PKI}/${client}.crt`,
    key: `${KUBEADM_ETCD_PKI}/${client}.key`,
  };
}

export class EtcdctlError extends KaddError {
  readonly etcdMessage: string;
  readonly result?: CommandResult;
  constructor(code: string, message: string, etcdMessage: string, opts: { hint?: string; details?: string[]; result?: CommandResult } = {}) {
    super(code, message, 1, { hint: opts.hint, details: opts.details });
    this.name = 'EtcdctlError';
    this.etcdMessage = etcdMessage;
    this.result = opts.result;
  }
}

export interface SnapshotResult {
  path: string;
  endpoint: string;
  /** from `etcdctl snapshot status` when it could be read */
  status?: { hash?: string; revision?: string; totalKey?: string; totalSize?: string };
}

export class Etcdctl {
  readonly endpoints: string[];
  private readonly o: EtcdctlOptions;
  private readonly clock: Clock;

  constructor(
    readonly transport: Transport,
    opts: EtcdctlOptions = {},
  ) {
    this.o = opts;
    this.endpoints = opts.endpoints?.length ? opts.endpoints : ['https://127.0.0.1:2379'];
    for (const e of this.endpoints) {
      if (!/^https?:\/\/[^\s,]+$/.test(e)) throw new KaddError('E_CONFIG', `invalid etcd endpoint "${e}": expected http(s)://host:port`, 2);
    }
    this.clock = opts.clock ?? realClock;
  }

  /** Connection flags (endpoints may be overridden, e.g. one endpoint for snapshots). */
  flags(endpoints = this.endpoints): string[] {
    const f = [`--endpoints=${endpoints.join(',')}`];
    if (this.o.cacert) f.push(`--cacert=${this.o.cacert}`);
    if (this.o.cert) f.push(`--cert=${this.o.cert}`);
    if (this.o.key) f.push(`--key=${this.o.key}`);
    f.push(`--dial-timeout=${this.o.dialTimeout ?? '2s'}`, `--command-timeout=${this.o.commandTimeout ?? '5s'}`);
    return f;
  }

  argv(args: string[], endpoints?: string[]): string[] {
    return [this.o.binary ?? 'etcdctl', ...this.flags(endpoints), ...args];
  }

  /** The exact command line an operator can paste on the node (used in blocker fixes). */
  formatCommand = (args: string[]): string => shellJoin(this.argv(args), { ETCDCTL_API: '3' });

  /** Run etcdctl; returns the result whatever the exit code. */
  async exec(args: string[], endpoints?: string[]): Promise<CommandResult> {
    return this.transport.run(this.argv(args, endpoints), { env: { ETCDCTL_API: '3' }, timeoutMs: this.o.timeoutMs ?? 30_000 });
  }

  private fail(what: string, args: string[], r: CommandResult, code = 'E_ETCDCTL', hint?: string): EtcdctlError {
    const msg = etcdctlErrorMessage(r.stderr, r.stdout);
    if (r.exitCode === 127 && /not found/.test(r.stderr + r.stdout)) {
      return new EtcdctlError('E_ETCDCTL_MISSING', `etcdctl is not installed on ${this.transport.describe}`, msg, {
        hint: 'install etcd-client there, or use the master-adder deployment (its image has etcdctl)',
        result: r,
      });
    }
    return new EtcdctlError(code, `etcdctl ${what} failed on ${this.transport.describe}: ${redactText(msg)}`, msg, {
      hint,
      details: [`command: ${redactText(this.formatCommand(args))}`, `exit code ${r.exitCode}`],
      result: r,
    });
  }

  async memberList(): Promise<MemberList> {
    const args = ['member', 'list', '-w', 'json'];
    const r = await this.exec(args);
    if (r.exitCode !== 0) throw this.fail('member list', args, r);
    return parseMemberListJson(r.stdout);
  }

  /** Health of every member's client URL (`endpoint health --cluster`); exit code 1 with full JSON when any is unhealthy. */
  async endpointHealth(opts: { cluster?: boolean } = {}): Promise<EtcdEndpointHealth[]> {
    const args = ['endpoint', 'health', ...(opts.cluster === false ? [] : ['--cluster']), '-w', 'json'];
    const r = await this.exec(args);
    if (r.stdout.trim().startsWith('[')) return parseEndpointHealthJson(r.stdout);
    throw this.fail('endpoint health', args, r);
  }

  async endpointStatus(opts: { cluster?: boolean } = {}): Promise<EtcdEndpointStatus[]> {
    const args = ['endpoint', 'status', ...(opts.cluster === false ? [] : ['--cluster']), '-w', 'json'];
    const r = await this.exec(args);
    const st = parseEndpointStatusJson(r.stdout.trim().startsWith('[') ? r.stdout : '', r.stderr);
    if (st.length === 0) throw this.fail('endpoint status', args, r);
    return st;
  }

  /** member list + health + status in parallel, combined. */
  async view(): Promise<ClusterView & { clusterId?: string }> {
    const [list, health, status] = await Promise.all([
      this.memberList(),
      this.endpointHealth(),
      this.endpointStatus().catch(() => [] as EtcdEndpointStatus[]),
    ]);
    return { ...buildClusterView(list.members, health, status), clusterId: list.clusterId };
  }

  async checkAdd(): Promise<Verdict & { view: ClusterView }> {
    const view = await this.view();
    return { ...projectAdd(view, this.formatCommand), view };
  }

  async checkRemove(id: string): Promise<Verdict & { view: ClusterView }> {
    const view = await this.view();
    return { ...projectRemove(view, normalizeHexId(id), this.formatCommand), view };
  }

  /** `member add NAME --learner --peer-urls=URL`. Retries briefly while etcd's strict reconfig check says "unhealthy cluster". */
  async memberAddLearner(name: string, peerURL: string): Promise<MemberAddResult> {
    return this.memberAdd(name, peerURL, { learner: true });
  }

  async memberAdd(name: string, peerURL: string, opts: { learner: boolean }): Promise<MemberAddResult> {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) {
      throw new KaddError('E_USAGE', `invalid etcd member name "${name}": use letters, digits, ".", "_" and "-"`, 2);
    }
    if (!/^https?:\/\/[^\s,/]+:\d+\/?$/.test(peerURL)) {
      throw new KaddError('E_USAGE', `invalid etcd peer URL "${peerURL}": expected http(s)://host:port`, 2);
    }
    const args = ['member', 'add', name, ...(opts.learner ? ['--learner'] : []), `--peer-urls=${peerURL}`];
    return this.retrying(args, this.o.addRetry ?? MEMBERSHIP_RETRY, UNHEALTHY, {
      ok: (r) => parseMemberAdd(r.stdout),
      error: (r, msg) => {
        if (/too many learner members/.test(msg)) {
          throw this.fail('member add', args, r, 'E_ETCD_LEARNER_PRESENT', 'a learner is already in the cluster: finish or remove it first (kadd add --role master --fix-stale)');
        }
        throw this.fail('member add', args, r);
      },
      exhausted: (r) => this.fail('member add', args, r, 'E_ETCD_UNHEALTHY'),
    });
  }

  /** Promote a learner; retries while it is not yet in sync with the leader (bounded). */
  async promote(id: string): Promise<{ attempts: number; alreadyVoting: boolean }> {
    const hex = normalizeHexId(id);
    const args = ['member', 'promote', hex];
    const retry = this.o.promoteRetry ?? { attempts: 30, intervalMs: 2000 };
    return this.retrying<{ attempts: number; alreadyVoting: boolean }>(args, retry, /in sync with leader/, {
      ok: (_r, attempt) => ({ attempts: attempt, alreadyVoting: false }),
      error: async (r, msg, attempt) => {
        if (/can only promote a learner member/.test(msg)) {
          const m = (await this.memberList()).members.find((x) => x.id === hex);
          if (m && !m.isLearner) return { attempts: attempt, alreadyVoting: true };
        }
        throw this.fail('member promote', args, r, /member not found/.test(msg) ? 'E_ETCD_MEMBER_NOT_FOUND' : 'E_ETCDCTL');
      },
      exhausted: (r) => this.fail('member promote', args, r, 'E_ETCD_PROMOTE_TIMEOUT',
        `the learner ${hex} did not catch up with the leader after ${retry.attempts} attempts: check that its etcd started (etcd static pod log on the new node), or remove it: ${this.formatCommand(['member', 'remove', hex])}`),
    });
  }

  /** Remove a member; an already-absent member is not an error (removed: false). */
  async memberRemove(id: string): Promise<{ removed: boolean }> {
    const hex = normalizeHexId(id);
    const args = ['member', 'remove', hex];
    // etcd refuses membership changes with "unhealthy cluster" until the leader has been connected to every
    // member for 5 s (e.g. right after a promote, which is when a rollback needs to remove the new member)
    return this.retrying<{ removed: boolean }>(args, this.o.addRetry ?? MEMBERSHIP_RETRY, UNHEALTHY, {
      ok: () => ({ removed: true }),
      error: (r, msg) => {
        if (/member not found/.test(msg)) return { removed: false };
        throw this.fail('member remove', args, r);
      },
      exhausted: (r) => this.fail('member remove', args, r, 'E_ETCD_UNHEALTHY'),
    });
  }

  /**
   * Run `args` until it succeeds (`ok`), fails for good (`error` returns a value or throws), or has answered
   * `transient` on every one of `retry.attempts` runs (`exhausted`), sleeping `retry.intervalMs` in between.
   */
  private async retrying<T>(
    args: string[],
    retry: { attempts: number; intervalMs: number },
    transient: RegExp,
    on: {
      ok: (r: CommandResult, attempt: number) => T;
      error: (r: CommandResult, msg: string, attempt: number) => T | Promise<T>;
      exhausted: (r: CommandResult) => EtcdctlError;
    },
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const r = await this.exec(args);
      if (r.exitCode === 0) return on.ok(r, attempt);
      const msg = etcdctlErrorMessage(r.stderr, r.stdout);
      if (!transient.test(msg)) return on.error(r, msg, attempt);
      if (attempt >= retry.attempts) throw on.exhausted(r);
      await this.clock.sleep(retry.intervalMs);
    }
  }

  /** The same etcdctl (transport, certificates) against other endpoints, e.g. a member other than the one being removed. */
  withEndpoints(endpoints: string[]): Etcdctl {
    return new Etcdctl(this.transport, { ...this.o, endpoints });
  }

  /** `member list` as one endpoint sees it (to compare two members' views). */
  async memberListAt(endpoint: string): Promise<MemberList> {
    const args = ['member', 'list', '-w', 'json'];
    const r = await this.exec(args, [endpoint]);
    if (r.exitCode !== 0) throw this.fail('member list', args, r);
    return parseMemberListJson(r.stdout);
  }

  /** The leader's id and client endpoint, from `endpoint status --cluster` (the majority answer). */
  async leader(): Promise<{ id?: string; endpoint?: string; status: EtcdEndpointStatus[] }> {
    const status = await this.endpointStatus();
    const votes = status.filter((s) => s.leaderId && s.leaderId !== '0' && !s.errors?.length).map((s) => s.leaderId);
    if (!votes.length) return { status };
    const count = new Map<string, number>();
    for (const v of votes) count.set(v, (count.get(v) ?? 0) + 1);
    const id = [...count.entries()].sort((a, b) => b[1] - a[1])[0]![0];
    const endpoint = status.find((s) => s.memberId === id && !s.errors?.length)?.endpoint;
    return { id, endpoint, status };
  }

  /**
   * `move-leader <target>` sent to the leader's endpoint (etcdctl refuses it elsewhere with "no leader
   * endpoint given"). Returns false when the target already leads.
   */
  async moveLeader(targetId: string, leaderEndpoint: string): Promise<{ moved: boolean }> {
    const hex = normalizeHexId(targetId);
    const args = ['move-leader', hex];
    const r = await this.exec(args, [leaderEndpoint]);
    if (r.exitCode === 0) return { moved: true };
    const msg = etcdctlErrorMessage(r.stderr, r.stdout);
    if (/no leader endpoint given/.test(msg)) {
      throw this.fail('move-leader', args, r, 'E_ETCD_NOT_LEADER', `${leaderEndpoint} is not the leader's endpoint any more: read the leader again and retry`);
    }
    if (/already the leader|is leader/.test(msg)) return { moved: false };
    throw this.fail('move-leader', args, r, 'E_ETCD_MOVE_LEADER');
  }

  /** `alarm list`: one line per alarm ("memberID:... alarm:NOSPACE"); empty when none. */
  async alarmList(): Promise<string[]> {
    const args = ['alarm', 'list'];
    const r = await this.exec(args);
    if (r.exitCode !== 0) throw this.fail('alarm list', args, r);
    return r.stdout.split('\n').map((l) => l.trim()).filter((l) => /alarm:/.test(l));
  }

  /** `snapshot save PATH` against ONE endpoint (etcdctl 3.4 refuses several), then `snapshot status` to check the file. */
  async snapshotSave(path: string, endpoint = this.endpoints[0]): Promise<SnapshotResult> {
    if (!path.startsWith('/') || /[\0\n\r]/.test(path)) {
      throw new KaddError('E_USAGE', `invalid snapshot path "${path}": give an absolute path on the node`, 2);
    }
    const args = ['snapshot', 'save', path];
    const r = await this.exec(args, [endpoint]);
    if (r.exitCode !== 0) throw this.fail('snapshot save', args, r, 'E_ETCD_SNAPSHOT', 'check free space and permissions of the target directory on the node');
    const out: SnapshotResult = { path, endpoint };
    const s = await this.exec(['snapshot', 'status', path, '-w', 'json'], [endpoint]);
    if (s.exitCode === 0) {
      try {
        const j = parseJsonExact(s.stdout.trim().split('\n').find((l) => l.startsWith('{')) ?? '') as Record<string, unknown>;
        const str = (v: unknown) => (v === undefined ? undefined : String(v));
        out.status = { hash: str(j.hash), revision: str(j.revision), totalKey: str(j.totalKey), totalSize: str(j.totalSize) };
      } catch {
        // the snapshot is saved; status is a bonus
      }
    }
    return out;
  }

  /** kubeadm certificate upload on the same node (see kubeadmUploadCerts). */
  kubeadmUploadCerts(certificateKey: string): Promise<void> {
    return kubeadmUploadCerts(this.transport, certificateKey);
  }
}

/** A fresh kubeadm certificate key: 32 random bytes, hex. Registered as a secret before anyone can print it. */
export function generateCertificateKey(): string {
  const key = randomBytes(32).toString('hex');
  registerSecret(key);
  return key;
}

/**
 * `kubeadm init phase upload-certs --upload-certs --certificate-key KEY` on a control-plane node:
 * re-uploads the control-plane certificates into the kubeadm-certs Secret, encrypted with KEY,
 * valid for 2 hours. Neither the key nor kubeadm's output (which echoes it) is ever logged.
 */
export async function kubeadmUploadCerts(transport: Transport, certificateKey: string, opts: { timeoutMs?: number; kubeadm?: string } = {}): Promise<void> {
  if (!/^[0-9a-f]{64}$/.test(certificateKey)) {
    throw new KaddError('E_USAGE', 'invalid certificate key: expected 64 lowercase hex characters (32 bytes)', 2);
  }
  registerSecret(certificateKey);
  const argv = [opts.kubeadm ?? 'kubeadm', 'init', 'phase', 'upload-certs', '--upload-certs', '--certificate-key', certificateKey];
  const r = await transport.run(argv, { timeoutMs: opts.timeoutMs ?? 120_000 });
  if (r.exitCode !== 0) {
    const tail = redactText((r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | '));
    throw new KaddError('E_KUBEADM_UPLOAD_CERTS', `kubeadm upload-certs failed on ${transport.describe}: ${tail || `exit code ${r.exitCode}`}`, 1, {
      hint: 'run `kubeadm init phase upload-certs --upload-certs` by hand on that node to see the full error (it needs /etc/kubernetes/admin.conf)',
    });
  }
}
