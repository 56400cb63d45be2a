/**
 * Real components: a 3-member etcd 3.4 cluster and two OpenSSH sshd on 127.0.0.1.
 * kadd's etcd logic drives the cluster through the SSH transport (etcdctl runs "remotely" on this
 * machine behind sshd). Skips when etcd/etcdctl/sshd are not installed (scripts/ci/services.sh installs them).
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHmac, randomBytes } from 'node:crypto';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { Etcdctl } from '../../lib/etcd/etcdctl.js';
import { projectRemove } from '../../lib/etcd/quorum.js';
import { SshRunner, type SshRunnerOptions } from '../../lib/ssh/runner.js';
import { SshTransport } from '../../lib/ssh/transport.js';
import {
  clientKey,
  etcdPorts,
  killAll,
  killPid,
  missingBinaries,
  startEtcd,
  startSshd,
  type EtcdMemberProc,
  type Sshd,
} from './realenv.js';

describe('integration: etcd + sshd on loopback', function () {
  this.timeout(40_000);
  let dir: string;
  let key: string;
  let a: Sshd;
  let b: Sshd;
  const members: EtcdMemberProc[] = [];
  let transport: SshTransport;
  let etcd: Etcdctl;
  const user = userInfo().username;

  const sshOpts = (extra: Partial<SshRunnerOptions> = {}): SshRunnerOptions => ({
    host: '127.0.0.1',
    port: a.port,
    user,
    privateKey: key,
    agent: false,
    hostKeys: { [`127.0.0.1:${a.port}`]: [a.hostKeyFingerprint], [`127.0.0.1:${b.port}`]: [b.hostKeyFingerprint] },
    ...extra,
  });

  before(async function () {
    const missing = missingBinaries(['etcd', 'etcdctl', 'sshd', 'keygen', 'sftp']);
    if (missing.length) {
      console.log(`    skipping: not installed: ${missing.join(', ')} (run scripts/ci/services.sh install)`);
      this.skip();
    }
    dir = mkdtempSync(join(tmpdir(), 'kadd-it-'));
    key = clientKey(dir);
    const ports = await Promise.all([etcdPorts(), etcdPorts(), etcdPorts()]);
    const ic = ports.map((p, i) => `m${i + 1}=http://127.0.0.1:${p.peer}`).join(',');
    ports.forEach((p, i) => members.push(startEtcd(dir, `m${i + 1}`, p, ic, 'new')));
    [a, b] = await Promise.all([startSshd(dir, 'a'), startSshd(dir, 'b')]);
    transport = new SshTransport(sshOpts());
    etcd = new Etcdctl(transport, {
      endpoints: members.map((m) => m.clientURL),
      dialTimeout: '1s',
      commandTimeout: '2s',
      promoteRetry: { attempts: 20, intervalMs: 500 },
      addRetry: { attempts: 12, intervalMs: 1000 },
    });
    // wait until the cluster is healthy (through ssh)
    const end = Date.now() + 15_000;
    for (;;) {
      const h = await etcd.endpointHealth({ cluster: false }).catch(() => []);
      if (h.length === 3 && h.every((x) => x.health)) break;
      if (Date.now() > end) throw new Error('etcd cluster did not become healthy in 15 s');
      await new Promise((r) => setTimeout(r, 300));
    }
  });

  after(async () => {
    await transport?.close();
    await killAll();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe('ssh', () => {
    it('refuses an unknown host key, printing its fingerprint and how to accept it; accepts it when told', async () => {
      const r = new SshRunner(sshOpts({ hostKeys: {} }));
      await assert.rejects(r.connect(), (e: Error & { code: string; hint: string; exitCode: number }) => {
        assert.equal(e.code, 'E_SSH_HOSTKEY_UNKNOWN');
        assert.equal(e.exitCode, 2);
        assert.ok(e.message.includes(a.hostKeyFingerprint), e.message);
        assert.ok(e.hint.includes(`--accept-host-key ${a.hostKeyFingerprint}`));
        return true;
      });
      const ok = new SshRunner(sshOpts({ hostKeys: {}, acceptHostKey: a.hostKeyFingerprint }));
      const res = await ok.exec(['echo', 'hi']);
      assert.equal(res.stdout, 'hi\n');
      assert.equal(ok.hostKeyDecisions[0].decision.ok && ok.hostKeyDecisions[0].decision.how, 'accepted');
      await ok.close();
    });

    it('refuses a mismatched host key (pinned to another server), even with --accept-host-key', async () => {
      const r = new SshRunner(sshOpts({ hostKeys: { [`127.0.0.1:${a.port}`]: [b.hostKeyFingerprint] }, acceptHostKey: a.hostKeyFingerprint }));
      await assert.rejects(r.connect(), (e: Error & { code: string }) => {
        assert.equal(e.code, 'E_SSH_HOSTKEY_MISMATCH');
        assert.match(e.message, /REMOTE HOST IDENTIFICATION HAS CHANGED.*man-in-the-middle/);
        return true;
      });
      assert.ok(!r.connected);
    });

    it('accepts a hashed known_hosts entry; exec quotes argv, returns exit codes, times out', async () => {
      const salt = randomBytes(20);
      const hash = createHmac('sha1', salt).update(`[127.0.0.1]:${a.port}`).digest('base64');
      const pub = readFileSync(join(dir, 'host_a.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
      writeFileSync(join(dir, 'known_hosts'), `|1|${salt.toString('base64')}|${hash} ${pub}\n`);
      const r = new SshRunner(sshOpts({ hostKeys: {}, knownHostsFile: join(dir, 'known_hosts') }));
      const nasty = "it's $(id) `x` \"q\" ; | *";
      const res = await r.exec(['sh', '-c', 'printf %s "$1"; printf "%s" "$K" >&2; exit 7', 'sh', nasty], { env: { K: 'v w' } });
      assert.deepEqual(res, { stdout: nasty, stderr: 'v w', exitCode: 7 });
      await assert.rejects(r.exec(['sleep', '10'], { timeoutMs: 300 }), { code: 'E_SSH_TIMEOUT' });
      await r.close();
    });

    it('refuses an unauthorized client key', async () => {
      const other = join(dir, 'other_key');
      const { execFileSync } = await import('node:child_process');
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
      await assert.rejects(new SshRunner(sshOpts({ privateKey: other })).connect(), { code: 'E_SSH_AUTH' });
    });

    it('hops through a bastion (jump host) to the target, both host keys pinned', async () => {
      const r = new SshRunner(sshOpts({ port: b.port, bastion: { host: '127.0.0.1', port: a.port, user } }));
      assert.match(r.describe, /^ssh .*@\[127\.0\.0\.1\]:\d+ via bastion /);
      const res = await r.exec(['sh', '-c', 'echo "$SSH_CONNECTION"']);
      assert.equal(res.stdout.trim().split(' ')[3], String(b.port));
      await r.close();
      // the bastion (sshd a) really opened the forwarded channel to b (its log is written asynchronously)
      const re = new RegExp(`server_request_direct_tcpip: .*target 127\\.0\\.0\\.1 port ${b.port}\\b`);
      for (let i = 0; i < 30 && !re.test(readFileSync(a.log, 'utf8')); i++) await new Promise((r) => setTimeout(r, 100));
      assert.match(readFileSync(a.log, 'utf8'), re);
      // a wrong pin for the target behind the bastion is refused too
      const bad = new SshRunner(sshOpts({ port: b.port, bastion: { host: '127.0.0.1', port: a.port, user }, hostKeys: { [`127.0.0.1:${a.port}`]: [a.hostKeyFingerprint], [`127.0.0.1:${b.port}`]: [a.hostKeyFingerprint] } }));
      await assert.rejects(bad.connect(), { code: 'E_SSH_HOSTKEY_MISMATCH' });
    });
  });

  describe('etcd through the ssh transport', () => {
    it('sees 3 healthy members and a leader; adding one is allowed with the even-size warning', async () => {
      const v = await etcd.checkAdd();
      assert.equal(v.view.members.length, 3);
      assert.ok(v.view.members.every((m) => m.healthy && m.started));
      assert.equal(v.view.members.filter((m) => m.isLeader).length, 1);
      assert.equal(v.allowed, true, JSON.stringify(v.blockers));
      assert.ok(v.warnings.some((w) => /even number of members \(4\)/.test(w)));
    });

    it('saves a snapshot against ONE endpoint and fetches it with sftp', async () => {
      const remote = join(dir, 'snap.db');
      const s = await etcd.snapshotSave(remote);
      assert.equal(s.endpoint, members[0].clientURL);
      assert.ok(Number(s.status?.totalKey) >= 0 && s.status?.revision);
      // etcdctl 3.4 itself refuses several endpoints
      const multi = await etcd.exec(['snapshot', 'save', join(dir, 'x.db')]);
      assert.notEqual(multi.exitCode, 0);
      assert.match(multi.stderr, /one selected node/);
      const local = join(dir, 'snap-local.db');
      await transport.runner.get(remote, local);
      assert.equal(statSync(local).size, statSync(remote).size);
    });

    let m4: EtcdMemberProc;
    it('adds a learner, starts it with --initial-cluster-state existing, promotes it', async () => {
      const ports = await etcdPorts();
      const added = await etcd.memberAddLearner('m4', `http://127.0.0.1:${ports.peer}`);
      assert.equal(added.initialClusterState, 'existing');
      assert.ok(added.initialCluster.includes(`m4=http://127.0.0.1:${ports.peer}`));
      const during = await etcd.checkAdd();
      assert.equal(during.allowed, false);
      assert.ok(during.blockers.some((b) => b.code === 'E_ETCD_LEARNER_PRESENT' && b.memberId === added.id));
      m4 = startEtcd(dir, 'm4', ports, added.initialCluster, 'existing');
      members.push(m4);
      const p = await etcd.promote(added.id);
      assert.equal(p.alreadyVoting, false);
      const list = (await etcd.memberList()).members;
      assert.equal(list.length, 4);
      assert.deepEqual(list.find((m) => m.id === added.id), { id: added.id, name: 'm4', peerURLs: [m4.peerURL], clientURLs: [m4.clientURL], isLearner: false });
      // every member healthy
      const end = Date.now() + 10_000;
      for (;;) {
        const v = await etcd.view();
        if (v.members.length === 4 && v.members.every((m) => m.healthy)) break;
        if (Date.now() > end) throw new Error('4 members not healthy: ' + JSON.stringify(v.members.map((m) => [m.member.name, m.reason])));
        await new Promise((r) => setTimeout(r, 300));
      }
    });

    it('a member that never starts: blocks adds, promote gives up (bounded), it is removed and quorum holds', async () => {
      const ports = await etcdPorts();
      const added = await etcd.memberAddLearner('m5', `http://127.0.0.1:${ports.peer}`);
      const v = await etcd.checkAdd();
      assert.equal(v.allowed, false);
      const blocker = v.blockers.find((b) => b.memberId === added.id)!;
      assert.match(blocker.message, /never started/);
      assert.ok(blocker.fix!.endsWith(`member remove ${added.id}`));
      const quick = new Etcdctl(transport, { endpoints: members.map((m) => m.clientURL), promoteRetry: { attempts: 2, intervalMs: 200 } });
      await assert.rejects(quick.promote(added.id), { code: 'E_ETCD_PROMOTE_TIMEOUT' });
      const rm = await etcd.checkRemove(added.id);
      assert.equal(rm.allowed, true, JSON.stringify(rm.blockers));
      assert.equal(rm.projection.votersAfter, 4);
      assert.deepEqual(await etcd.memberRemove(added.id), { removed: true });
      assert.deepEqual(await etcd.memberRemove(added.id), { removed: false });
      const after = await etcd.view();
      assert.equal(after.members.length, 4);
      assert.ok(after.members.every((m) => m.healthy));
    });

    it('removes a voting member through a survivor (quorum re-checked), then with 2 of 3 stopped refuses', async () => {
      const id = (await etcd.memberList()).members.find((m) => m.name === 'm4')!.id;
      const rm = await etcd.checkRemove(id);
      assert.equal(rm.allowed, true, JSON.stringify(rm.blockers));
      assert.deepEqual(await etcd.memberRemove(id), { removed: true });
      await killPid(m4.pid);
      etcd = new Etcdctl(transport, { endpoints: members.slice(0, 3).map((m) => m.clientURL), dialTimeout: '1s', commandTimeout: '2s' });
      assert.equal((await etcd.memberList()).members.length, 3);

      await Promise.all([killPid(members[1].pid), killPid(members[2].pid)]);
      const add = await etcd.checkAdd();
      assert.equal(add.allowed, false);
      assert.ok(add.blockers.some((b) => b.code === 'E_ETCD_NO_QUORUM'), JSON.stringify(add.blockers));
      assert.equal(add.blockers.filter((b) => b.code === 'E_ETCD_MEMBER_UNHEALTHY').length >= 2, true);
      // removal projections on the same observed view (no need to ask etcd again)
      for (const name of ['m1', 'm2']) {
        const rmv = projectRemove(add.view, add.view.members.find((m) => m.member.name === name)!.member.id);
        assert.equal(rmv.allowed, false);
        assert.equal(rmv.blockers[0].code, 'E_ETCD_NO_QUORUM');
      }
    });
  });
});
