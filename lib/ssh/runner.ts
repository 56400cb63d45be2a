/**
 * SshRunner: one SSH connection (optionally through a bastion) with pinned host keys, used to run
 * etcdctl/kubeadm on a control-plane node and to copy files (etcd snapshots). ssh2 is imported lazily.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Client, ClientChannel, ConnectConfig } from 'ssh2';
import { KaddError } from '../errors.js';
import type { Io } from '../io.js';
import { redactText } from '../redact.js';
import { noteChange } from '../effects.js';
import {
  algorithmsForKeyType,
  hostKeyName,
  knownKeyTypes,
  normalizeFingerprint,
  parseKnownHosts,
  verifyHostKey,
  type HostKeyDecision,
  type PinnedKeys,
} from './hostkeys.js';
import { defaultKeyPaths, expandHome, loadPrivateKey, type LoadedKey } from './keys.js';
import { collectOutput, shellJoin, type CommandResult } from '../shell.js';

export interface SshEndpoint {
  host: string;
  port?: number;
  user: string;
}

export interface SshRunnerOptions extends SshEndpoint {
  /** OpenSSH-format private key file; without it: ssh-agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa */
  privateKey?: string;
  passphrase?: string;
  /** agent socket; default $SSH_AUTH_SOCK; false disables the agent */
  agent?: string | false;
  /** jump host (same credentials) */
  bastion?: SshEndpoint;
  /** pinned fingerprints: "host" / "host:port" -> ["SHA256:..."] */
  hostKeys?: Record<string, string[]>;
  /** OpenSSH known_hosts file */
  knownHostsFile?: string;
  /** explicit acceptance of an unknown host key (fingerprint), e.g. from --accept-host-key */
  acceptHostKey?: string;
  readyTimeoutMs?: number;
  /** the --debug trace (which host, which host key and how it was trusted); a client does not log */
  io?: Pick<Io, 'trace'>;
  env?: NodeJS.ProcessEnv;
}

export class SshError extends KaddError {
  constructor(code: string, message: string, exitCode: 1 | 2 = 1, opts: { hint?: string; cause?: unknown } = {}) {
    super(code, message, exitCode, opts);
    this.name = 'SshError';
  }
}

export interface ExecOptions {
  env?: Record<string, string>;
  timeoutMs?: number;
  stdin?: string;
}

const SUPPORTED_HOST_KEY_ALGOS = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];

type Ssh2 = typeof import('ssh2');

async function loadSsh2(): Promise<Ssh2> {
  const m = (await import('ssh2')) as Ssh2 & { default?: Ssh2 };
  return m.default ?? m;
}

export class SshRunner {
  private target?: Client;
  private jump?: Client;
  private readonly port: number;
  /** host-key decisions made while connecting (bastion first), for the caller to report or record */
  readonly hostKeyDecisions: { host: string; decision: HostKeyDecision }[] = [];

  constructor(private readonly o: SshRunnerOptions) {
    this.port = o.port ?? 22;
    if (o.acceptHostKey) normalizeFingerprint(o.acceptHostKey);
  }

  get describe(): string {
    const t = `ssh ${this.o.user}@${hostKeyName(this.o.host, this.port)}`;
    const b = this.o.bastion;
    return b ? `${t} via bastion ${b.user}@${hostKeyName(b.host, b.port ?? 22)}` : t;
  }

  get connected(): boolean {
    return this.target !== undefined;
  }

  private async credentials(): Promise<{ key?: LoadedKey; agent?: string; tried: string[] }> {
    const env = this.o.env ?? process.env;
    const agent = this.o.agent === false ? undefined : (this.o.agent ?? env.SSH_AUTH_SOCK) || undefined;
    const passphrase = this.o.passphrase ?? env.KADD_SSH_PASSPHRASE;
    let key: LoadedKey | undefined;
    if (this.o.privateKey) key = await loadPrivateKey(this.o.privateKey, passphrase);
    else if (!agent) {
      const p = defaultKeyPaths().find((x) => existsSync(x));
      if (p) key = await loadPrivateKey(p, passphrase);
    }
    if (!key && !agent) {
      throw new SshError('E_SSH_NO_CREDENTIALS', 'no SSH credentials: no private key configured, no ssh-agent (SSH_AUTH_SOCK unset) and no ~/.ssh/id_ed25519, id_ecdsa or id_rsa', 2, {
        hint: 'set ssh.private_key in the cluster config or start ssh-agent and ssh-add your key',
      });
    }
    const tried = [...(key ? [`key ${key.path}`] : []), ...(agent ? ['ssh-agent'] : [])];
    return { key, agent, tried };
  }

  private async pinned(): Promise<PinnedKeys> {
    const p: PinnedKeys = { fingerprints: this.o.hostKeys ?? {} };
    if (this.o.knownHostsFile) {
      const f = expandHome(this.o.knownHostsFile);
      try {
        p.knownHosts = parseKnownHosts(await readFile(f, 'utf8'));
        p.knownHostsFile = f;
      } catch (e) {
        throw new SshError('E_SSH_KNOWN_HOSTS', `cannot read known_hosts file ${f}: ${(e as Error).message}`, 2, {
          hint: 'fix ssh.known_hosts in the cluster config, or pin fingerprints under ssh.host_keys',
        });
      }
    }
    return p;
  }

  async connect(): Promise<void> {
    if (this.target) return;
    const ssh2 = await loadSsh2();
    const creds = await this.credentials();
    const pinned = await this.pinned();
    try {
      let sock: ClientChannel | undefined;
      if (this.o.bastion) {
        const b = this.o.bastion;
        this.jump = await this.open(ssh2, { host: b.host, port: b.port ?? 22, user: b.user }, creds, pinned, undefined, 'bastion ');
        sock = await new Promise<ClientChannel>((resolve, reject) => {
          this.jump!.forwardOut('127.0.0.1', 0, this.o.host, this.port, (err, stream) => {
            if (err) {
              reject(new SshError('E_SSH_JUMP', `the bastion ${b.host} could not open a connection to ${hostKeyName(this.o.host, this.port)}: ${err.message}`, 1, {
                hint: 'check that the bastion allows TCP forwarding (AllowTcpForwarding) and reaches the node',
              }));
            } else resolve(stream);
          });
        });
      }
      this.target = await this.open(ssh2, { host: this.o.host, port: this.port, user: this.o.user }, creds, pinned, sock, '');
    } catch (e) {
      await this.close();
      throw e;
    }
  }

  private open(
    ssh2: Ssh2,
    t: { host: string; port: number; user: string },
    creds: { key?: LoadedKey; agent?: string; tried: string[] },
    pinned: PinnedKeys,
    sock: ClientChannel | undefined,
    what: string,
  ): Promise<Client> {
    const name = hostKeyName(t.host, t.port);
    const types = knownKeyTypes(pinned, t.host, t.port);
    let decision: HostKeyDecision | undefined;
    const cfg: ConnectConfig = {
      host: sock ? undefined : t.host,
      port: sock ? undefined : t.port,
      sock,
      username: t.user,
      privateKey: creds.key?.data,
      passphrase: creds.key?.passphrase,
      agent: creds.agent,
      readyTimeout: this.o.readyTimeoutMs ?? 15_000,
      keepaliveInterval: 15_000,
      hostVerifier: (key: Buffer) => {
        decision = verifyHostKey(key, t.host, t.port, pinned, this.o.acceptHostKey);
        this.hostKeyDecisions.push({ host: name, decision });
        return decision.ok;
      },
    };
    if (types.length) {
      // ask for the pinned key type first, as OpenSSH does; ssh2's "prepend" skips entries already listed, so remove them first
      const preferred = types.flatMap(algorithmsForKeyType).filter((a) => SUPPORTED_HOST_KEY_ALGOS.includes(a));
      if (preferred.length) cfg.algorithms = { serverHostKey: { remove: preferred, prepend: preferred } as never };
    }
    return new Promise((resolve, reject) => {
      const c = new ssh2.Client();
      let settled = false;
      c.on('ready', () => {
        settled = true;
        const d = decision;
        this.o.io?.trace(`ssh: connected to ${what}${t.user}@${name}${d?.ok ? ` (host key ${d.keyType} ${d.fingerprint}, ${d.how})` : ''}`);
        resolve(c);
      });
      c.on('error', (err: Error & { level?: string; code?: string }) => {
        if (settled) return;
        settled = true;
        c.end();
        if (decision && !decision.ok) {
          reject(new SshError(decision.reason === 'mismatch' ? 'E_SSH_HOSTKEY_MISMATCH' : decision.reason === 'revoked' ? 'E_SSH_HOSTKEY_REVOKED' : 'E_SSH_HOSTKEY_UNKNOWN', `${what}${decision.message}`, 2, { hint: decision.hint }));
        } else if (err.level === 'client-authentication') {
          reject(new SshError('E_SSH_AUTH', `SSH authentication as ${t.user} on ${what}${name} failed (tried ${creds.tried.join(', ')})`, 2, {
            hint: `check that the public key is in ~${t.user}/.ssh/authorized_keys on ${t.host} and that ssh.user is right`,
          }));
        } else if (err.level === 'client-timeout') {
          reject(new SshError('E_SSH_TIMEOUT', `SSH connection to ${what}${name} timed out during the handshake`, 1, { cause: err }));
        } else {
          const code = err.code ? ` (${err.code})` : '';
          reject(new SshError('E_SSH_CONNECT', `cannot connect to ${what}${name}: ${redactText(err.message)}${code}`, 1, {
            hint: err.code === 'ECONNREFUSED' ? 'is sshd running and the port right?' : err.code === 'ETIMEDOUT' || err.code === 'EHOSTUNREACH' ? 'check security groups, routes, or use a bastion' : undefined,
            cause: err,
          }));
        }
      });
      c.on('close', () => {
        if (!settled) {
          settled = true;
          reject(new SshError('E_SSH_CONNECT', `SSH connection to ${what}${name} closed during the handshake`));
        }
      });
      c.connect(cfg);
    });
  }

  /** Run argv (quoted for the remote shell) or a raw command line; resolves whatever the exit code. */
  async exec(cmd: string[] | { shell: string }, opts: ExecOptions = {}): Promise<CommandResult> {
    await this.connect();
    const line = Array.isArray(cmd) ? shellJoin(cmd, opts.env) : cmd.shell;
    const timeoutMs = opts.timeoutMs ?? 60_000;
    const first = Array.isArray(cmd) ? cmd[0] : 'command';
    // a remote command may change anything (etcdctl member add/remove)
    noteChange(`ssh: ${first ?? 'command'} on ${this.describe}`);
    return new Promise((resolve, reject) => {
      this.target!.exec(line, (err, stream) => {
        if (err) return reject(new SshError('E_SSH_EXEC', `cannot start ${first} on ${this.describe}: ${err.message}`));
        const run = collectOutput(stream, stream.stderr, timeoutMs, () => {
          try {
            stream.signal('KILL');
          } catch {
            /* not all servers honour signals */
          }
          stream.close();
          reject(new SshError('E_SSH_TIMEOUT', `${first} on ${this.describe} did not finish within ${Math.round(timeoutMs / 1000)} s`));
        });
        stream.on('close', (code: number | null, signal?: string) => run.settle(() =>
          resolve(run.result(typeof code === 'number' ? code : signal ? 128 + (signal === 'KILL' ? 9 : signal === 'TERM' ? 15 : 0) : 255))));
        stream.end(opts.stdin ?? '');
      });
    });
  }

  private async sftp<T>(fn: (s: import('ssh2').SFTPWrapper) => Promise<T>): Promise<T> {
    await this.connect();
    const s = await new Promise<import('ssh2').SFTPWrapper>((resolve, reject) =>
      this.target!.sftp((err, sftp) => (err ? reject(new SshError('E_SSH_SFTP', `SFTP is not available on ${this.describe}: ${err.message}`)) : resolve(sftp))),
    );
    try {
      return await fn(s);
    } finally {
      s.end();
    }
  }

  /** Upload a local file. */
  put(local: string, remote: string, opts: { mode?: number } = {}): Promise<void> {
    return this.sftp(
      (s) =>
        new Promise<void>((resolve, reject) =>
          s.fastPut(local, remote, { mode: opts.mode ?? 0o600 }, (err) =>
            err ? reject(new SshError('E_SSH_SFTP', `upload of ${local} to ${this.describe}:${remote} failed: ${err.message}`)) : resolve(),
          ),
        ),
    );
  }

  /** Download a remote file (e.g. an etcd snapshot). */
  get(remote: string, local: string): Promise<void> {
    return this.sftp(
      (s) =>
        new Promise<void>((resolve, reject) =>
          s.fastGet(remote, local, (err) =>
            err ? reject(new SshError('E_SSH_SFTP', `download of ${this.describe}:${remote} to ${local} failed: ${err.message}`)) : resolve(),
          ),
        ),
    );
  }

  async close(): Promise<void> {
    const t = this.target;
    const j = this.jump;
    this.target = undefined;
    this.jump = undefined;
    t?.end();
    j?.end();
  }
}
