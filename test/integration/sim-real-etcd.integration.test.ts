/**
 * The simulator in real-etcd mode (scenario `etcd: { real: true }`): every control-plane member is a real etcd
 * 3.4 process on loopback; the etcdctl that kadd execs in the master-adder pod is the real binary; the simulated
 * kubelet's control-plane join adds a real learner, starts a real etcd and promotes it.
 * `kadd add --role master` 1 -> 2 with real members; a join whose member never starts is rolled back and the
 * real member count is unchanged. Skips when etcd/etcdctl are not installed (scripts/ci/services.sh installs them).
 */
import { strict as assert } from 'node:assert';
import { copyFileSync } from 'node:fs';
import { handleAddMaster } from '../../lib/commands/add-master.js';
import { OperationError } from '../../lib/errors.js';
import { FAST, loadStartSim, startHarness, type SimHarness } from '../commands/add-master-sim.helpers.js';
import { realEtcdMissing, type RealEtcd, type RealMemberView } from '../sim/kube/etcd-real.js';

const T = '20';

describe('integration: simulator with real etcd members: kadd add --role master via the adder', function () {
  this.timeout(60_000);
  let h: SimHarness | undefined;
  let real: RealEtcd;
  const members = (): Promise<RealMemberView[]> => real.memberList();
  const alive = (pid: number | undefined) => {
    try {
      return !!pid && process.kill(pid, 0);
    } catch {
      return false;
    }
  };

  before(async function () {
    const missing = realEtcdMissing();
    if (missing.length) {
      console.log(`    skipping: not installed: ${missing.join(', ')} (apt-get install -y --no-install-recommends etcd-server etcd-client)`);
      this.skip();
    }
    if (!(await loadStartSim())) {
      console.log('    skipping: the simulator is not available');
      this.skip();
    }
    h = await startHarness({ etcd: { real: true }, faults: { etcdMemberNeverStarts: ['demo-master-3'] } });
    real = h.kubeSim.realEtcd;
    await real.ready;
  });

  after(async () => {
    const pids = real?.members.map((m) => m.pid).filter(Boolean) ?? [];
    await h?.stop();
    for (const pid of pids) assert.equal(alive(pid), false, `etcd pid ${pid} still running after stop()`);
  });

  it('seeds the master as a real etcd member; exec\'d etcdctl is the real 3.4 binary, node addresses translated', async () => {
    const ms = await members();
    assert.equal(ms.length, 1);
    assert.deepEqual({ ...ms[0], id: undefined }, { id: undefined, name: 'demo-master-1', peerURLs: ['https://10.0.0.11:2380'], clientURLs: ['https://10.0.0.11:2379'], isLearner: false, started: true });
    assert.ok(alive(real.members[0]!.pid));
    const v = await h!.kubeSim.exec('kube-system', 'etcd-demo-master-1', ['etcdctl', 'version']);
    assert.match(v.stdout, /etcdctl version: 3\.4\./);
    const r = await h!.kubeSim.exec('kube-system', 'etcd-demo-master-1', ['sh', '-c', 'ETCDCTL_API=3 etcdctl --endpoints=https://127.0.0.1:2379 --cacert=/etc/kubernetes/pki/etcd/ca.crt --cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt --key=/etc/kubernetes/pki/etcd/healthcheck-client.key endpoint status -w json']);
    assert.equal(r.exitCode, 0, r.stderr);
    const st = JSON.parse(r.stdout.replace(/"(member_id|cluster_id|leader)":(\d+)/g, '"$1":"$2"'));
    assert.equal(st[0].Endpoint, 'https://127.0.0.1:2379', 'the endpoint reads back as given');
    assert.equal(BigInt(st[0].Status.header.member_id).toString(16), ms[0]!.id);
    // a missing client certificate fails as etcdctl would, before any call
    const bad = await h!.kubeSim.exec('kube-system', 'etcd-demo-master-1', ['etcdctl', '--cacert=/nope/ca.crt', 'member', 'list']);
    assert.equal(bad.exitCode, 1);
    assert.match(bad.stderr, /open \/nope\/ca\.crt: no such file/);
  });

  it('kadd add --role master 1 -> 2: a real learner added, started, promoted; the member table is the real one', async () => {
    const t0 = Date.now();
    const code = await handleAddMaster({ yes: true, config: h!.cfgPath, timeout: T, tokenTtl: 86400 }, h!.ctx, FAST);
    assert.equal(code, 0, h!.io.lines.join('\n'));
    const ms = await members();
    assert.deepEqual(ms.map((m) => [m.name, m.isLearner, m.started]).sort(), [['demo-master-1', false, true], ['demo-master-2', false, true]]);
    const server = [...h!.sim.openstack.store.servers.values()].find((s) => s.name === 'demo-master-2');
    const ip = h!.sim.core.openstack.getServer(server.id).ip;
    assert.deepEqual(ms.find((m) => m.name === 'demo-master-2')!.peerURLs, [`https://${ip}:2380`], 'peer URL names the new server\'s address');
    const m2 = real.members.find((m) => m.name === 'demo-master-2')!;
    assert.equal(m2.state, 'running');
    assert.ok(alive(m2.pid));
    // both members really serve: health through the real client URLs
    const hc = await real.ctl(['endpoint', 'health', '--cluster', '-w', 'json']);
    assert.equal(hc.exitCode, 0, hc.stderr);
    assert.equal(JSON.parse(hc.stdout).length, 2);
    // kadd's printed member table carries the real ids
    const out = h!.io.results.join('');
    for (const m of ms) assert.match(out, new RegExp(`${m.name}\\s+${m.id}\\s+false\\s+true`));
    assert.match(out, /master demo-master-2 added/);
    console.log(`      (1 -> 2 with real etcd in ${Date.now() - t0} ms)`);
    // as an operator does: the updated file becomes the cluster file (a stale one is refused)
    copyFileSync(h!.cfgPath.replace(/\.yml$/, '.updated.yml'), h!.cfgPath);
  });

  it('a join whose etcd member never starts is rolled back: the real learner removed, the member count unchanged', async () => {
    const before = await members();
    const t0 = Date.now();
    const err = await handleAddMaster({ yes: true, config: h!.cfgPath, timeout: `active=${T},registered=${T},member=${T},promoted=3`, tokenTtl: 86400 }, h!.ctx, FAST).catch((e) => e);
    assert.ok(err instanceof OperationError, String(err?.stack ?? err));
    assert.equal(err.exitCode, 1);
    // kadd stops at "member present" or "promoted", whichever sees kubeadm's promote failure first
    assert.match(err.message, /stage "etcd member (present|promoted)"/);
    // the learner existed for real and never started
    const m3 = real.members.find((m) => m.name === 'demo-master-3')!;
    assert.ok(m3 && m3.id, `kubeadm added a real learner: ${err.message}\n${err.details.join('\n')}\n${JSON.stringify(real.dump())}`);
    assert.equal(m3.state, 'unstarted');
    assert.equal(m3.pid, undefined, 'no etcd process was ever started for it');
    assert.ok(err.rolledBack.some((r: string) => /removed etcd member/.test(r) && r.includes(m3.id!)), err.rolledBack.join('; '));
    const after = await members();
    assert.deepEqual(after.map((m) => m.id).sort(), before.map((m) => m.id).sort(), 'same members as before');
    assert.ok(after.every((m) => m.started && !m.isLearner));
    const hc = await real.ctl(['endpoint', 'health', '--cluster', '-w', 'json']);
    assert.equal(hc.exitCode, 0, 'quorum holds: every member healthy');
    console.log(`      (rollback with real etcd in ${Date.now() - t0} ms)`);
  });
});
