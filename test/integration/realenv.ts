/**
 * Helpers for integration tests on real components: a loopback etcd cluster and OpenSSH sshd.
 * Every process is tracked by PID and killed by killAll() (call it from after()).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';
import { userInfo } from 'node:os';

export const BIN = { etcd: '/usr/bin/etcd', etcdctl: '/usr/bin/etcdctl', sshd: '/usr/sbin/sshd', keygen: '/usr/bin/ssh-keygen', sftp: '/usr/lib/openssh/sftp-server' };

export function missingBinaries(names: (keyof typeof BIN)[]): string[] {
  return names.filter((n) => !existsSync(BIN[n])).map((n) => BIN[n]);
}

const procs = new Map<number, ChildProcess>();

export function track(p: ChildProcess): ChildProcess {
  if (p.pid) procs.set(p.pid, p);
  p.on('exit', () => p.pid && procs.delete(p.pid));
  return p;
}

export async function killPid(pid: number, wait = true): Promise<void> {
  const p = procs.get(pid);
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  if (!wait || !p) return;
  await new Promise<void>((resolve) => {
    const t = setTimeout(() => {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
      resolve();
    }, 3000);
    p.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    if (p.exitCode !== null || p.signalCode !== null) {
      clearTimeout(t);
      resolve();
    }
  });
}

export async function killAll(): Promise<void> {
  await Promise.all([...procs.keys()].map((pid) => killPid(pid)));
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = connect(port, '127.0.0.1');
      c.once('connect', () => (c.destroy(), resolve(true)));
      c.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function sshKeygen(path: string, type = 'ed25519'): { pub: string; fingerprint: string } {
  execFileSync(BIN.keygen, ['-q', '-t', type, '-N', '', '-f', path]);
  const fp = execFileSync(BIN.keygen, ['-lf', `${path}.pub`]).toString().split(' ')[1];
  return { pub: readFileSync(`${path}.pub`, 'utf8'), fingerprint: fp };
}

export interface Sshd {
  port: number;
  pid: number;
  hostKeyFingerprint: string;
  log: string;
}

/** A real sshd on 127.0.0.1 with its own host key, accepting dir/authorized_keys for the current user. */
export async function startSshd(dir: string, name: string): Promise<Sshd> {
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const port = await freePort();
  const hostKey = join(dir, `host_${name}`);
  const { fingerprint } = sshKeygen(hostKey);
  const conf = join(dir, `sshd_${name}.conf`);
  const log = join(dir, `sshd_${name}.log`);
  writeFileSync(
    conf,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `PidFile ${join(dir, `sshd_${name}.pid`)}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'StrictModes no',
      'UsePAM no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      'AllowTcpForwarding yes',
      `AllowUsers ${userInfo().username}`,
      `Subsystem sftp ${BIN.sftp}`,
      'LogLevel DEBUG1',
      'MaxStartups 50',
      '',
    ].join('\n'),
  );
  const p = track(spawn(BIN.sshd, ['-D', '-f', conf, '-E', log], { stdio: 'ignore' }));
  await waitForPort(port);
  return { port, pid: p.pid!, hostKeyFingerprint: fingerprint, log };
}

export function clientKey(dir: string): string {
  const key = join(dir, 'client_key');
  const { pub } = sshKeygen(key);
  writeFileSync(join(dir, 'authorized_keys'), pub);
  chmodSync(key, 0o600);
  return key;
}

export interface EtcdMemberProc {
  name: string;
  clientURL: string;
  peerURL: string;
  pid: number;
  proc: ChildProcess;
}

export async function etcdPorts(): Promise<{ client: number; peer: number }> {
  return { client: await freePort(), peer: await freePort() };
}

export function startEtcd(
  dir: string,
  name: string,
  ports: { client: number; peer: number },
  initialCluster: string,
  state: 'new' | 'existing',
): EtcdMemberProc {
  const clientURL = `http://127.0.0.1:${ports.client}`;
  const peerURL = `http://127.0.0.1:${ports.peer}`;
  const out = openSync(join(dir, `etcd_${name}.log`), 'a');
  const proc = track(
    spawn(
      BIN.etcd,
      [
        '--name', name,
        '--data-dir', join(dir, `etcd_${name}`),
        '--listen-client-urls', clientURL,
        '--advertise-client-urls', clientURL,
        '--listen-peer-urls', peerURL,
        '--initial-advertise-peer-urls', peerURL,
        '--initial-cluster', initialCluster,
        '--initial-cluster-state', state,
        '--initial-cluster-token', 'kadd-it',
        '--heartbeat-interval', '50',
        '--election-timeout', '500',
        '--logger', 'zap',
      ],
      { stdio: ['ignore', out, out] },
    ),
  );
  return { name, clientURL, peerURL, pid: proc.pid!, proc };
}
