/**
 * Real-etcd mode of the simulator (scenario `etcd: { real: true }`, or createKubeSim(core, { realEtcd: true })):
 * every control-plane member is a real `etcd` process (Debian etcd-server 3.4) on its own loopback ports, data
 * under a temp dir. The simulated nodes keep their simulated addresses (https://NODE_IP:2379/2380); the
 * etcdctl that kadd runs (pod exec in the adder, or over SSH on "a master") is the REAL etcdctl, started through
 * host-shim.mjs, which rewrites node addresses to the members' loopback URLs and back (a NAT, so that peer
 * URLs still name the node's IP as with kubeadm). A control-plane join does what kubeadm does: member add
 * --learner through a running member, start the new etcd with --initial-cluster-state existing, promote it
 * when it is in sync (retried). Processes are tracked by PID and killed on stop().
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REAL_ETCD_BIN = {
  etcd: process.env.SIM_ETCD_BIN ?? '/usr/bin/etcd',
  etcdctl: process.env.SIM_ETCDCTL_BIN ?? '/usr/bin/etcdctl',
};
export const HOST_SHIM = join(dirname(fileURLToPath(import.meta.url)), 'host-shim.mjs');

/** Binaries the real mode needs that are not installed (empty: it can run). */
export function realEtcdMissing(): string[] {
  return Object.values(REAL_ETCD_BIN).filter((p) => !existsSync(p));
}

export class RealEtcdUnavailable extends Error {
  constructor(readonly missing: string[]) {
    super(`real etcd mode needs ${missing.join(', ')} (apt-get install -y --no-install-recommends etcd-server etcd-client)`);
  }
}

export interface RealExecResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** The sim filesystem of the node the command runs on, for snapshot paths. */
export interface SimFsAdapter {
  get(path: string): string | undefined;
  set(path: string, content: string): void;
  dirExists(path: string): boolean;
}

export interface RealMember {
  /** ETCD_NAME (the node name, as kubeadm names members) */
  name: string;
  node: string;
  /** simulated node address (what the peer/client URLs show) */
  ip: string;
  clientPort: number;
  peerPort: number;
  dataDir: string;
  /** hex member id once known */
  id?: string;
  pid?: number;
  proc?: ChildProcess;
  state: 'unstarted' | 'running' | 'frozen' | 'killed' | 'exited';
  exitCode?: number | null;
}

export interface RealMemberView {
  id: string;
  name: string;
  /** simulated addresses */
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
  started: boolean;
}

const SNAP_MARK = 'real etcd snapshot: ';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** n distinct free loopback ports, chosen synchronously (a short child process binds port 0 n times) */
function freePortsSync(n: number): number[] {
  const script = `const net=require('net');const s=[];let k=0;for(let i=0;i<${n};i++){const v=net.createServer();s.push(v);v.listen(0,'127.0.0.1',()=>{if(++k===${n}){console.log(JSON.stringify(s.map(x=>x.address().port)));s.forEach(x=>x.close());}});}`;
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' })) as number[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class RealEtcd {
  readonly dir: string;
  readonly mapFile: string;
  readonly members: RealMember[] = [];
  /** node address -> loopback ports (also for addresses with no process: a phantom mapping) */
  private hosts = new Map<string, { client: number; peer: number; node: string }>();
  private closedPort = 0;
  private children = new Set<ChildProcess>();
  private snapSeq = 0;
  stopped = false;

  private constructor(dir: string) {
    this.dir = dir;
    this.mapFile = join(dir, 'etcd-map.json');
  }

  /** resolves once every seeded member is healthy (rejects with the members' log tails otherwise) */
  ready: Promise<void> = Promise.resolve();

  /**
   * Start an M-member cluster for the seeded masters. Synchronous (processes spawned, ports chosen) so that the
   * kube half can be created synchronously; `ready` resolves when every member is healthy, and every operation
   * here waits for it first.
   */
  static launch(seeds: { name: string; node: string; ip: string }[], opts: { dir?: string; readyTimeoutMs?: number } = {}): RealEtcd {
    const missing = realEtcdMissing();
    if (missing.length) throw new RealEtcdUnavailable(missing);
    if (!existsSync(HOST_SHIM)) throw new Error(`real etcd mode: ${HOST_SHIM} is missing`);
    const r = new RealEtcd(opts.dir ?? mkdtempSync(join(tmpdir(), 'kadd-sim-etcd-')));
    const ports = freePortsSync(1 + 2 * seeds.length);
    r.closedPort = ports.shift()!;
    for (const s of seeds) r.hosts.set(s.ip, { client: ports.shift()!, peer: ports.shift()!, node: s.node });
    r.writeMap();
    const ic = seeds.map((s) => `${s.name}=http://127.0.0.1:${r.hosts.get(s.ip)!.peer}`).join(',');
    for (const s of seeds) r.spawnMember(r.newMember(s.name, s.node, s.ip), ic, 'new');
    r.ready = (async () => {
      await r.waitHealthy(r.members, opts.readyTimeoutMs ?? 20_000);
      const list = await r.memberList(false);
      for (const m of r.members) m.id = list.find((x) => x.name === m.name)?.id;
    })();
    r.ready.catch(() => undefined);
    return r;
  }

  private async allocate(ip: string, node: string): Promise<{ client: number; peer: number; node: string }> {
    let a = this.hosts.get(ip);
    if (!a) {
      a = { client: await freePort(), peer: await freePort(), node };
      this.hosts.set(ip, a);
    } else a.node = node;
    this.writeMap();
    return a;
  }

  private writeMap(): void {
    const hosts: Record<string, { client: number; peer: number }> = {};
    const nodes: Record<string, string> = {};
    for (const [ip, a] of this.hosts) {
      hosts[ip] = { client: a.client, peer: a.peer };
      if (a.node) nodes[a.node] = ip;
    }
    const tmp = `${this.mapFile}.tmp`;
    writeFileSync(tmp, JSON.stringify({ etcdctl: REAL_ETCD_BIN.etcdctl, closedPort: this.closedPort, hosts, nodes }));
    renameSync(tmp, this.mapFile);
  }

  private newMember(name: string, node: string, ip: string): RealMember {
    const a = this.hosts.get(ip)!;
    const m: RealMember = { name, node, ip, clientPort: a.client, peerPort: a.peer, dataDir: join(this.dir, `data-${name}`), state: 'unstarted' };
    this.members.push(m);
    return m;
  }

  private spawnMember(m: RealMember, initialCluster: string, state: 'new' | 'existing'): void {
    if (this.stopped) return;
    const client = `http://127.0.0.1:${m.clientPort}`;
    const peer = `http://127.0.0.1:${m.peerPort}`;
    const log = openSync(join(this.dir, `etcd-${m.name}.log`), 'a');
    const p = spawn(
      REAL_ETCD_BIN.etcd,
      [
        '--name', m.name, '--data-dir', m.dataDir,
        '--listen-client-urls', client, '--advertise-client-urls', client,
        '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer,
        '--initial-cluster', initialCluster, '--initial-cluster-state', state, '--initial-cluster-token', 'kadd-sim',
        '--heartbeat-interval', '50', '--election-timeout', '500', '--logger', 'zap', '--log-outputs', 'stderr',
      ],
      { stdio: ['ignore', log, log] },
    );
    closeSync(log);
    m.proc = p;
    m.pid = p.pid;
    m.state = 'running';
    p.on('exit', (code) => {
      if (m.state === 'running' || m.state === 'frozen') m.state = 'exited';
      m.exitCode = code;
      m.proc = undefined;
    });
    p.on('error', () => undefined);
  }

  logTail(name: string, lines = 5): string {
    try {
      return readFileSync(join(this.dir, `etcd-${name}.log`), 'utf8').trim().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  private running(): RealMember[] {
    return this.members.filter((m) => m.state === 'running');
  }

  /** Run the real etcdctl directly (real loopback endpoints; default: every running member). */
  async ctl(args: string[], endpoints = this.running().map((m) => `http://127.0.0.1:${m.clientPort}`), timeoutMs = 15_000): Promise<RealExecResult> {
    if (endpoints.length === 0) return { stdout: '', stderr: 'Error: no running etcd member\n', exitCode: 1 };
    return this.spawnCollect(REAL_ETCD_BIN.etcdctl, [`--endpoints=${endpoints.join(',')}`, '--dial-timeout=1s', '--command-timeout=3s', ...args], { PATH: '/usr/bin:/bin' }, timeoutMs);
  }

  private spawnCollect(bin: string, args: string[], env: Record<string, string>, timeoutMs: number): Promise<RealExecResult> {
    return new Promise((resolve) => {
      const p = spawn(bin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
      this.children.add(p);
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      p.stdout!.on('data', (d: Buffer) => out.push(d));
      p.stderr!.on('data', (d: Buffer) => err.push(d));
      const t = setTimeout(() => p.pid && process.kill(p.pid, 'SIGKILL'), timeoutMs);
      p.on('error', (e) => err.push(Buffer.from(`${bin}: ${e.message}\n`)));
      p.on('close', (code) => {
        clearTimeout(t);
        this.children.delete(p);
        resolve({ stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), exitCode: code ?? 137 });
      });
    });
  }

  /** Member list from the real cluster, addresses shown as the simulated node URLs. */
  async memberList(waitReady = true): Promise<RealMemberView[]> {
    if (waitReady) await this.ready;
    const r = await this.ctl(['member', 'list', '-w', 'json']);
    if (r.exitCode !== 0) throw new Error(`etcdctl member list: ${r.stderr.trim().split('\n').pop()}`);
    // uint64 ids: quote them before JSON.parse so that they stay exact
    const j = JSON.parse(r.stdout.replace(/"ID":(\d+)/g, '"ID":"$1"')) as { members?: { ID: string; name?: string; peerURLs?: string[]; clientURLs?: string[]; isLearner?: boolean }[] };
    return (j.members ?? []).map((m) => ({
      id: BigInt(m.ID).toString(16),
      name: m.name ?? '',
      peerURLs: (m.peerURLs ?? []).map((u) => this.virtualUrl(u)),
      clientURLs: (m.clientURLs ?? []).map((u) => this.virtualUrl(u)),
      isLearner: !!m.isLearner,
      started: !!m.name,
    }));
  }

  private virtualUrl(u: string): string {
    const port = Number(/^http:\/\/127\.0\.0\.1:(\d+)$/.exec(u)?.[1]);
    for (const [ip, a] of this.hosts) {
      if (a.client === port) return `https://${ip}:2379`;
      if (a.peer === port) return `https://${ip}:2380`;
    }
    return u;
  }

  private async waitHealthy(ms: RealMember[], timeoutMs: number): Promise<void> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const r = await this.ctl(['endpoint', 'health', '-w', 'json'], ms.map((m) => `http://127.0.0.1:${m.clientPort}`));
      if (r.exitCode === 0) return;
      const dead = ms.find((m) => m.state === 'exited');
      if (dead || Date.now() > end) {
        throw new Error(`real etcd did not become healthy${dead ? ` (${dead.name} exited with ${dead.exitCode})` : ` in ${timeoutMs} ms`}: ${r.stderr.trim().split('\n').pop()}\n${ms.map((m) => `${m.name}: ${this.logTail(m.name, 3)}`).join('\n')}`);
      }
      await sleep(200);
    }
  }

  /** kubeadm's check-etcd: can a client reach a majority (member list answers)? */
  async healthy(): Promise<{ ok: boolean; error?: string }> {
    await this.ready.catch(() => undefined);
    const r = await this.ctl(['endpoint', 'health', '--cluster', '-w', 'json']);
    return r.exitCode === 0 ? { ok: true } : { ok: false, error: (r.stderr.trim().split('\n').pop() ?? '').replace(/^Error: /, '') };
  }

  /**
   * kubeadm's control-plane-join/etcd: `member add NAME --learner --peer-urls=...` through the running members.
   * Returns the new member's id and the initial cluster for its start, or the etcd error.
   */
  async addLearner(name: string, node: string, ip: string): Promise<{ id: string; initialCluster: string } | { error: string }> {
    await this.ready.catch(() => undefined);
    const a = await this.allocate(ip, node);
    // kubeadm retries the add with a backoff while etcd's strict reconfig check answers "unhealthy cluster"
    // (the leader must have been connected to every voting member for 5 s, e.g. not right after a promote)
    let r: RealExecResult;
    for (let attempt = 1; ; attempt++) {
      r = await this.ctl(['member', 'add', name, '--learner', `--peer-urls=http://127.0.0.1:${a.peer}`]);
      if (r.exitCode === 0 || this.stopped || attempt >= 40 || !/unhealthy cluster|not enough started|deadline exceeded|leader changed/.test(r.stderr)) break;
      await sleep(250);
    }
    if (r.exitCode !== 0) return { error: (r.stderr.trim().split('\n').pop() ?? `exit ${r.exitCode}`).replace(/^Error: /, '') };
    const id = /Member\s+([0-9a-f]+)\s+added/.exec(r.stdout)?.[1];
    const ic = /ETCD_INITIAL_CLUSTER="([^"]*)"/.exec(r.stdout)?.[1];
    if (!id || !ic) return { error: `unexpected member add output: ${r.stdout.trim()}` };
    const old = this.members.find((m) => m.name === name && m.state !== 'running' && m.state !== 'frozen');
    if (old) this.members.splice(this.members.indexOf(old), 1);
    const m = this.newMember(name, node, ip);
    m.id = id;
    m.dataDir = join(this.dir, `data-${name}-${id}`);
    return { id, initialCluster: ic };
  }

  /** Start the etcd process of an added member (--initial-cluster-state existing). */
  startMember(id: string, initialCluster: string): boolean {
    const m = this.members.find((x) => x.id === id);
    if (!m || m.state !== 'unstarted') return false;
    this.spawnMember(m, initialCluster, 'existing');
    return true;
  }

  /**
   * `member promote` until the learner is in sync (bounded). 'gone' when the member was removed meanwhile
   * (a rollback), 'failed' with etcd's last message otherwise.
   */
  async promote(id: string, opts: { attempts?: number; intervalMs?: number } = {}): Promise<{ ok: true } | { ok: false; gone: boolean; error: string }> {
    let last = '';
    for (let i = 0; i < (opts.attempts ?? 80) && !this.stopped; i++) {
      const r = await this.ctl(['member', 'promote', id]);
      if (r.exitCode === 0) return { ok: true };
      last = (r.stderr.trim().split('\n').pop() ?? '').replace(/^Error: /, '');
      if (/member not found/.test(last)) return { ok: false, gone: true, error: last };
      if (/can only promote a learner member$/.test(last)) return { ok: true };
      await sleep(opts.intervalMs ?? 250);
    }
    return { ok: false, gone: false, error: last || 'stopped' };
  }

  private ofNode(node: string): RealMember[] {
    return this.members.filter((m) => m.node === node);
  }

  /** the node's host went down (true) or came back: its etcd process is frozen (SIGSTOP) / resumed (SIGCONT) */
  setNodeDown(node: string, down: boolean): void {
    for (const m of this.ofNode(node)) {
      if (!m.pid || !m.proc) continue;
      if (down && m.state === 'running') {
        process.kill(m.pid, 'SIGSTOP');
        m.state = 'frozen';
      } else if (!down && m.state === 'frozen') {
        process.kill(m.pid, 'SIGCONT');
        m.state = 'running';
      }
    }
  }

  /** the node's server was deleted: its etcd process dies with it */
  nodeGone(node: string): void {
    for (const m of this.ofNode(node)) {
      if (m.pid && m.proc) {
        try {
          process.kill(m.pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
      if (m.state === 'running' || m.state === 'frozen') m.state = 'killed';
    }
  }

  /**
   * Pod-exec / host etcdctl: the real etcdctl through host-shim.mjs (address translation), for a command run on
   * `node`. Snapshot files live in the node's simulated filesystem as a marker naming the real file.
   */
  async etcdctl(args: string[], ctx: { env: Record<string, string>; node: string; fs?: SimFsAdapter }): Promise<RealExecResult> {
    await this.ready.catch(() => undefined);
    if (this.stopped) return { stdout: '', stderr: 'Error: context deadline exceeded\n', exitCode: 1 };
    const argv = [...args];
    const si = argv.indexOf('snapshot');
    let simPath: string | undefined;
    let realPath: string | undefined;
    const sub = si >= 0 ? argv[si + 1] : undefined;
    if (ctx.fs && si >= 0 && argv[si + 2] && !argv[si + 2]!.startsWith('-') && (sub === 'save' || sub === 'status' || sub === 'restore')) {
      simPath = argv[si + 2]!;
      if (sub === 'save') {
        const dir = simPath.replace(/\/[^/]*$/, '') || '/';
        if (simPath.includes('/') && !ctx.fs.dirExists(dir)) {
          return { stdout: '', stderr: `Error: could not open ${simPath}.part (open ${simPath}.part: no such file or directory)\n`, exitCode: 1 };
        }
        mkdirSync(join(this.dir, 'snapshots'), { recursive: true });
        realPath = join(this.dir, 'snapshots', `${++this.snapSeq}-${ctx.node}-${simPath.replace(/[^A-Za-z0-9._-]+/g, '_')}`);
      } else {
        const c = ctx.fs.get(simPath);
        realPath = c?.startsWith(SNAP_MARK) ? c.slice(SNAP_MARK.length).trim() : join(this.dir, 'snapshots', 'missing', simPath.replace(/[^A-Za-z0-9._-]+/g, '_'));
      }
      argv[si + 2] = realPath;
    }
    const env: Record<string, string> = { PATH: '/usr/bin:/bin', SIM_ETCD_MAP: this.mapFile, SIM_LOCAL_NODE: ctx.node };
    for (const [k, v] of Object.entries(ctx.env)) if (k.startsWith('ETCDCTL_')) env[k] = v;
    const leaderBefore = argv.includes('move-leader') && this.leaderReturns.length ? await this.leader() : undefined;
    const r = await this.spawnCollect(process.execPath, [HOST_SHIM, 'etcdctl', ...argv], env, 120_000);
    await this.afterCtl(argv, r, leaderBefore);
    if (realPath && simPath) {
      const back = (s: string) => s.split(realPath!).join(simPath!);
      r.stdout = back(r.stdout);
      r.stderr = back(r.stderr);
      if (sub === 'save' && r.exitCode === 0) ctx.fs!.set(simPath, `${SNAP_MARK}${realPath}\n`);
    }
    return r;
  }

  /**
   * Executables for a real shell on this machine acting as `node` (e.g. behind a real sshd): `etcdctl` (the
   * real one, through the address translation) and, when a bridge URL is given, the commands that only the
   * simulator can run (default kubeadm), forwarded to it. Returns the directory to put first on PATH.
   */
  writeHostBin(node: string, opts: { dir?: string; bridgeUrl?: string; bridged?: string[] } = {}): string {
    const bin = opts.dir ?? join(this.dir, `bin-${node}`);
    mkdirSync(bin, { recursive: true });
    const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
    const script = (body: string) => `#!/bin/sh\n${body}\n`;
    writeFileSync(join(bin, 'etcdctl'), script(`SIM_ETCD_MAP=${q(this.mapFile)} SIM_LOCAL_NODE=${q(node)} exec ${q(process.execPath)} ${q(HOST_SHIM)} etcdctl "$@"`));
    chmodSync(join(bin, 'etcdctl'), 0o755);
    if (opts.bridgeUrl) {
      for (const cmd of opts.bridged ?? ['kubeadm']) {
        writeFileSync(join(bin, cmd), script(`exec ${q(process.execPath)} ${q(HOST_SHIM)} bridge ${q(opts.bridgeUrl)} ${q(cmd)} "$@"`));
        chmodSync(join(bin, cmd), 0o755);
      }
    }
    return bin;
  }

  /** the leader as the real members report it (endpoint status of every running member) */
  async leader(): Promise<{ id: string; name: string; node: string } | undefined> {
    await this.ready;
    const r = await this.ctl(['endpoint', 'status', '-w', 'json']);
    const j = JSON.parse(r.stdout.replace(/"(leader|member_id|cluster_id)":(\d+)/g, '"$1":"$2"') || '[]') as { Status?: { leader?: string } }[];
    const lid = j.map((x) => x.Status?.leader).find((x) => x && x !== '0');
    if (!lid) return undefined;
    const id = BigInt(lid).toString(16);
    const m = this.members.find((x) => x.id === id);
    return m ? { id, name: m.name, node: m.node } : { id, name: '', node: '' };
  }

  /** move the leadership to a member (by name), through the leader's endpoint as etcdctl requires */
  async moveLeader(toName: string): Promise<RealExecResult> {
    const lead = await this.leader();
    const to = this.members.find((m) => m.name === toName);
    const from = lead && this.members.find((m) => m.id === lead.id);
    if (!to?.id || !from) return { stdout: '', stderr: `Error: no such member or no leader (${toName})\n`, exitCode: 1 };
    return this.ctl(['move-leader', to.id], [`http://127.0.0.1:${from.clientPort}`]);
  }

  /** stop (SIGSTOP) or resume one member's process while its node stays up */
  setMemberDown(name: string, down: boolean): void {
    for (const m of this.members) {
      if (m.name !== name || !m.pid) continue;
      if (down && m.state === 'running') {
        process.kill(m.pid, 'SIGSTOP');
        m.state = 'frozen';
      } else if (!down && m.state === 'frozen') {
        process.kill(m.pid, 'SIGCONT');
        m.state = 'running';
      }
    }
  }

  /** fault (same as the simulated mode's): leadership goes back to a member after an endpoint status that followed a move away from it */
  leaderReturns: { name: RegExp; times: number }[] = [];
  private pendingReturn?: string;
  /** watch what the wrapped etcdctl did: a successful move-leader away from a member arms the return */
  private async afterCtl(args: string[], r: RealExecResult, leaderBefore?: { name: string }): Promise<void> {
    if (r.exitCode !== 0) return;
    if (args.includes('move-leader') && leaderBefore) {
      const f = this.leaderReturns.find((x) => x.times > 0 && x.name.test(leaderBefore.name));
      if (f) {
        f.times--;
        this.pendingReturn = leaderBefore.name;
      }
    } else if (args.includes('endpoint') && args.includes('status') && this.pendingReturn) {
      const name = this.pendingReturn;
      this.pendingReturn = undefined;
      await this.moveLeader(name);
    }
  }

  dump(): unknown {
    return {
      mode: 'real',
      dir: this.dir,
      members: this.members.map((m) => ({ id: m.id, name: m.name, node: m.node, ip: m.ip, client: `http://127.0.0.1:${m.clientPort}`, peer: `http://127.0.0.1:${m.peerPort}`, pid: m.pid, state: m.state, ...(m.exitCode !== undefined ? { exitCode: m.exitCode } : {}) })),
    };
  }

  /** Kill every process started here (by PID: SIGCONT + SIGTERM, SIGKILL after 3 s) and remove the data. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const c of this.children) if (c.pid) try { process.kill(c.pid, 'SIGKILL'); } catch { /* gone */ }
    await Promise.all(
      this.members.map(async (m) => {
        const p = m.proc;
        if (!p || !m.pid) return;
        const exited = new Promise<void>((resolve) => {
          if (p.exitCode !== null || p.signalCode !== null) return resolve();
          p.once('exit', () => resolve());
        });
        try {
          process.kill(m.pid, 'SIGCONT');
          process.kill(m.pid, 'SIGTERM');
        } catch {
          return;
        }
        const t = setTimeout(() => {
          try {
            process.kill(m.pid!, 'SIGKILL');
          } catch {
            /* gone */
          }
        }, 3000);
        await exited;
        clearTimeout(t);
        m.state = 'killed';
      }),
    );
    rmSync(this.dir, { recursive: true, force: true });
  }
}
