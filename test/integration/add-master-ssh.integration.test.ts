/**
 * `kadd add --role master --via ssh` as a whole command, on real components: the simulator in real-etcd mode
 * (real etcd 3.4 members on loopback) and a real OpenSSH sshd on 127.0.0.1 standing for "the first master".
 * The seeded master's Nova address is 127.0.0.1, so kadd's SSH transport (host key pinned in the cluster file)
 * lands on this machine, where the REAL etcdctl runs (test/sim/kube/host-shim.mjs translates node addresses to
 * the real members) and `kubeadm` is forwarded to the simulator (it cannot run here).
 * Skips when etcd/etcdctl/sshd/ssh-keygen are missing (scripts/ci/services.sh installs them).
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { handleAddMaster } from '../../lib/commands/add-master.js';
import { KaddError } from '../../lib/errors.js';
import { FAST, loadStartSim, startHarness, type SimHarness } from '../commands/add-master-sim.helpers.js';
import { realEtcdMissing, type RealEtcd } from '../sim/kube/etcd-real.js';
import { BIN, clientKey, freePort, killPid, missingBinaries, sshKeygen, track, waitForPort } from './realenv.js';

const T = '20';
const SNAP_DIR = '/var/lib/kadd/snapshots';

describe('integration: kadd add --role master --via ssh (real sshd, real etcd members)', function () {
  this.timeout(60_000);
  let h: SimHarness | undefined;
  let real: RealEtcd;
  let sshdPid: number | undefined;
  let sshdPort: number;
  let sshdLog: string;
  let hostFp: string;
  let bridge: Server | undefined;
  const bridged: string[][] = [];
  const user = userInfo().username;
  const hadSnapDir = existsSync(SNAP_DIR);
  const hadKaddDir = existsSync('/var/lib/kadd');
  const snapshots: string[] = [];

  const servers = (name: RegExp) => [...h!.sim.openstack.store.servers.values()].filter((s) => name.test(s.name) && s.status !== 'DELETED');

  function writeCfg(path: string, fingerprint: string, key: string): void {
    writeFileSync(path, readFileSync(h!.cfgPath, 'utf8'));
    appendFileSync(path, `ssh:\n  user: ${user}\n  port: ${sshdPort}\n  private_key: ${key}\n  host_keys:\n    "127.0.0.1:${sshdPort}": "${fingerprint}"\n`);
  }

  before(async function () {
    const missing = [...realEtcdMissing(), ...missingBinaries(['sshd', 'keygen'])];
    if (missing.length) {
      console.log(`    skipping: not installed: ${missing.join(', ')} (run scripts/ci/services.sh install)`);
      this.skip();
    }
    if (!(await loadStartSim())) {
      console.log('    skipping: the simulator is not available');
      this.skip();
    }
    h = await startHarness({ etcd: { real: true } });
    real = h.kubeSim.realEtcd;
    // "the master" is this machine: the seeded master's fixed IP (what kadd reaches over SSH) becomes 127.0.0.1
    const m1 = servers(/^demo-master-1$/)[0];
    h.sim.openstack.store.ports.get(m1.ports[0]).fixedIps[0].ip_address = '127.0.0.1';
    assert.equal(h.sim.core.openstack.getServer(m1.id).ip, '127.0.0.1');

    // kubeadm on "the master" is the simulator's (upload-certs into the simulated cluster)
    bridge = createServer((req, res) => {
      const body: Buffer[] = [];
      req.on('data', (d: Buffer) => body.push(d));
      req.on('end', async () => {
        const { argv, env, stdin, files } = JSON.parse(Buffer.concat(body).toString('utf8'));
        bridged.push(argv);
        // files the command reads on the host (kubeadm --config) are put on the simulated node
        for (const [p, text] of Object.entries((files ?? {}) as Record<string, string>)) h!.kubeSim.cluster.fs('demo-master-1').set(p, text);
        const r = await h!.kubeSim.hostExec('demo-master-1', argv, env, stdin).catch((e: Error) => ({ stdout: '', stderr: `${e.message}\n`, exitCode: 1 }));
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(r));
      });
    });
    await new Promise<void>((r) => bridge!.listen(0, '127.0.0.1', r));
    const bin = real.writeHostBin('demo-master-1', { bridgeUrl: `http://127.0.0.1:${(bridge.address() as { port: number }).port}/` });

    // a real sshd whose sessions find the shims first on PATH
    const dir = join(h.dir, 'sshd');
    mkdirSync(dir);
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    sshdPort = await freePort();
    hostFp = sshKeygen(join(dir, 'host')).fingerprint;
    sshdLog = join(dir, 'sshd.log');
    writeFileSync(join(dir, 'sshd.conf'), [
      `Port ${sshdPort}`, 'ListenAddress 127.0.0.1', `HostKey ${join(dir, 'host')}`, `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`, 'StrictModes no', 'UsePAM no', 'PasswordAuthentication no',
      'KbdInteractiveAuthentication no', 'PermitRootLogin prohibit-password', `AllowUsers ${user}`, 'LogLevel VERBOSE',
      `SetEnv PATH=${bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`, '',
    ].join('\n'));
    const p = track(spawn(BIN.sshd, ['-D', '-f', join(dir, 'sshd.conf'), '-E', sshdLog], { stdio: 'ignore' }));
    sshdPid = p.pid;
    await Promise.all([waitForPort(sshdPort), real.ready]);
  });

  after(async () => {
    await new Promise<void>((r) => (bridge ? bridge.close(() => r()) : r()));
    if (sshdPid) await killPid(sshdPid);
    await h?.stop();
    // the snapshot kadd took on "the master" (this machine), and the directories if this test created them
    for (const s of snapshots) rmSync(s, { force: true });
    try {
      if (!hadSnapDir && existsSync(SNAP_DIR) && readdirSync(SNAP_DIR).length === 0) rmdirSync(SNAP_DIR);
      if (!hadKaddDir && existsSync('/var/lib/kadd') && readdirSync('/var/lib/kadd').length === 0) rmdirSync('/var/lib/kadd');
    } catch {
      /* someone else uses them */
    }
  });

  it('refuses a master whose host key differs from the pinned one, before any change (exit 2, no server)', async () => {
    const other = sshKeygen(join(h!.dir, 'sshd', 'other-host')).fingerprint;
    const bad = join(h!.dir, 'cfg-badkey.yml');
    writeCfg(bad, other, clientKey(join(h!.dir, 'sshd')));
    const before = h!.sim.counters();
    const err = await handleAddMaster({ yes: true, config: bad, via: 'ssh', timeout: T, tokenTtl: 86400 }, h!.ctx, FAST).catch((e) => e);
    assert.ok(err instanceof KaddError, String(err?.stack ?? err));
    assert.equal(err.exitCode, 2);
    const text = [err.message, ...(err.details ?? []), err.hint ?? ''].join('\n');
    assert.match(text, /REMOTE HOST IDENTIFICATION HAS CHANGED|host key/i);
    assert.ok(text.includes(hostFp), 'names the presented key');
    assert.equal(servers(/^demo-master-/).length, 1, 'no server created');
    assert.equal(bridged.length, 0, 'no kubeadm ran');
    const writes = (c: any) => JSON.stringify(c).match(/"(POST|PUT|PATCH|DELETE) [^"]*"/g) ?? [];
    assert.deepEqual(writes(h!.sim.counters()).filter((w) => !/tokens/.test(w)), writes(before).filter((w) => !/tokens/.test(w)), 'no write request to any API');
    assert.equal((await real.memberList()).length, 1);
  });

  it('adds a master over SSH: the real etcdctl on "the master" reads and checks the real members; 1 -> 2', async () => {
    const good = join(h!.dir, 'cfg-ssh.yml');
    writeCfg(good, hostFp, join(h!.dir, 'sshd', 'client_key'));
    const t0 = Date.now();
    const code = await handleAddMaster({ yes: true, config: good, via: 'ssh', timeout: T, tokenTtl: 86400 }, h!.ctx, FAST);
    assert.equal(code, 0, h!.io.lines.join('\n'));
    console.log(`      (1 -> 2 over ssh with real etcd in ${Date.now() - t0} ms)`);
    assert.ok(h!.io.lines.some((l) => new RegExp(`etcd reached through ssh ${user}@\\[?127\\.0\\.0\\.1\\]?:${sshdPort}`).test(l)), h!.io.lines.join('\n'));
    assert.ok(h!.io.lines.every((l) => !/master-adder/.test(l)), 'no adder deployment with --via ssh');
    // sshd really served kadd (public key auth), and kubeadm upload-certs went to the simulated cluster
    assert.match(readFileSync(sshdLog, 'utf8'), new RegExp(`Accepted publickey for ${user} from 127\\.0\\.0\\.1`));
    assert.ok(bridged.some((a) => a.slice(0, 4).join(' ') === 'kubeadm init phase upload-certs'), JSON.stringify(bridged.map((a) => a.slice(0, 4))));
    // the real cluster now has two voting members, both started
    const ms = await real.memberList();
    assert.deepEqual(ms.map((m) => [m.name, m.isLearner, m.started]).sort(), [['demo-master-1', false, true], ['demo-master-2', false, true]]);
    const out = h!.io.results.join('');
    assert.match(out, /master demo-master-2 added/);
    for (const m of ms) assert.match(out, new RegExp(`${m.name}\\s+${m.id}\\s+false\\s+true`));
    // the snapshot is a real etcd snapshot file on "the master"
    const snap = /etcd snapshot: (\S+)/.exec(out)?.[1];
    assert.ok(snap && snap.startsWith(`${SNAP_DIR}/`), out);
    snapshots.push(snap);
    assert.ok(statSync(snap).size > 0);
    assert.equal(readdirSync(SNAP_DIR).includes(`${snap.split('/').pop()}.part`), false);
    assert.match(readFileSync(h!.cfgPath.replace(/cfg\.yml$/, 'cfg-ssh.updated.yml'), 'utf8'), /n-masters: 2/);
  });
});
