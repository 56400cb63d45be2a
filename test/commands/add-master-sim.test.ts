/** Whole-command tests of `kadd add --role master` on the simulator. */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { handleAddMaster } from '../../lib/commands/add-master.js';
import { OperationError, PreflightError, UsageError } from '../../lib/errors.js';
import { FAST, type SimHarness, masterSimHooks } from './add-master-sim.helpers.js';

const T = '20'; // seconds per stage

function etcdMembers(h: SimHarness): { name: string; isLearner: boolean; started: boolean; id: bigint }[] {
  return h.kubeSim.etcd.members;
}

describe('kadd add --role master (simulator)', function () {
  this.timeout(120_000);
  const sim = masterSimHooks();
  let h: SimHarness | undefined;

  it('refuses --amount 2 before any API call', async () => {
    await assert.rejects(handleAddMaster({ yes: true, config: 'x.yml', amount: 2 }, {} as never), (e: unknown) => e instanceof UsageError && /one master per run/.test(e.message));
  });

  it('grows the control plane 1 -> 2 -> 3, each member promoted, pool and config updated, adder deleted', async () => {
    h = await sim.start({});
    const code1 = await handleAddMaster({ yes: true, config: h.cfgPath, timeout: T, tokenTtl: 86400 }, h.ctx, FAST).catch((e) => { console.error(e.details.join("\n")); throw e; });
    assert.equal(code1, 0, h.io.lines.join('\n'));
    assert.ok(h.io.lines.some((l) => /1 to 2 members/.test(l)), 'warns about 1 -> 2');
    let ms = etcdMembers(h);
    assert.equal(ms.length, 2);
    assert.ok(ms.every((m) => !m.isLearner && m.started));
    assert.ok(ms.some((m) => m.name === 'demo-master-2'));
    const upd = h.cfgPath.replace(/\.yml$/, '.updated.yml');
    assert.ok(existsSync(upd));
    assert.match(readFileSync(upd, 'utf8'), /n-masters: 2/);
    assert.match(h.io.results.join(''), /master demo-master-2 added/);
    assert.match(h.io.results.join(''), /etcd snapshot: \/var\/lib\/kadd\/snapshots\/etcd-demo-/);
    assert.equal(h.kubeSim.deployments('kube-system').filter((d: any) => d.metadata.name.startsWith('kadd-master-adder')).length, 0, 'adder deleted');
    assert.equal(h.kubeSim.tokens().filter((t: any) => /master/.test(Buffer.from(t.data?.description ?? '', 'base64').toString())).length, 0, 'token deleted');
    const pool = [...h.sim.openstack.store.pools.values()][0];
    const addrs = pool.members.map((id: string) => h!.sim.openstack.store.members.get(id)?.name);
    assert.ok(addrs.includes('demo-master-2'), 'pool member added');
    // no secret in any output
    const all = h.io.lines.join('\n') + h.io.results.join('');
    assert.doesNotMatch(all, /[0-9a-f]{64}/, 'no certificate key in output');

    copyFileSync(upd, h.cfgPath); // as an operator does: the updated file becomes the cluster file (a stale one is refused)
    const code2 = await handleAddMaster({ yes: true, config: h.cfgPath, timeout: T, tokenTtl: 86400 }, h.ctx, FAST).catch((e) => { console.error(e.details); throw e; });
    assert.equal(code2, 0, h.io.lines.join('\n'));
    ms = etcdMembers(h);
    assert.equal(ms.length, 3);
    assert.ok(ms.some((m) => m.name === 'demo-master-3'));
    assert.match(h.io.results.join(''), /demo-master-3/);
    assert.match(readFileSync(upd, 'utf8'), /n-masters: 3/);

    // the demo's member table: through a short-lived adder, deleted afterwards
    const { readEtcdMembers } = await import('../../lib/ops/master-etcd.js');
    const { loadClusterConfig } = await import('../../lib/config/load.js');
    const { config } = await loadClusterConfig(h.cfgPath);
    const t = await readEtcdMembers(h.ctx, h.kube, config, { pollIntervalMs: 50 });
    assert.deepEqual(t.rows.map((r) => r.name), ['demo-master-1', 'demo-master-2', 'demo-master-3']);
    assert.ok(t.rows.every((r) => /^[0-9a-f]+$/.test(r.id) && !r.learner && r.healthy));
    assert.equal(t.rows.filter((r) => r.leader).length, 1);
    assert.equal(h.kubeSim.deployments('kube-system').filter((d: any) => d.metadata.name.startsWith('kadd-master-adder')).length, 0);
  });
});

describe('kadd add --role master (simulator): failures', function () {
  this.timeout(120_000);
  const sim = masterSimHooks();
  let h: SimHarness | undefined;

  function assertNothingLeft(h: SimHarness, name: string) {
    const st = h.sim.openstack.store;
    assert.equal([...st.servers.values()].filter((s: any) => s.name === name && s.status !== 'DELETED').length, 0, 'server deleted');
    assert.equal([...st.ports.values()].filter((p: any) => p.name === `${name}-port-0`).length, 0, 'port deleted');
    assert.equal([...st.volumes.values()].filter((v: any) => v.name === `${name}-root` && v.status !== 'deleting').length, 0, 'volume deleted');
    assert.equal(h.kubeSim.node(name), undefined, 'Node deleted');
    assert.equal(h.kubeSim.deployments('kube-system').filter((d: any) => d.metadata.name.startsWith('kadd-master-adder')).length, 0, 'adder deleted');
    assert.ok(!existsSync(h.cfgPath.replace(/\.yml$/, '.updated.yml')), 'config unchanged');
    const pool = [...st.pools.values()][0];
    assert.ok(!pool.members.map((id: string) => st.members.get(id)?.name).includes(name), 'no pool member');
  }

  it('a join that fails midway (learner never starts) is rolled back: etcd member count unchanged', async () => {
    h = await sim.start({ faults: { etcdMemberNeverStarts: ['demo-master-2'] } });
    const before = etcdMembers(h).length;
    const err = await handleAddMaster({ yes: true, config: h.cfgPath, timeout: `active=${T},registered=${T},member=${T},promoted=3`, tokenTtl: 86400 }, h.ctx, FAST).catch((e) => e);
    assert.ok(err instanceof OperationError, String(err));
    assert.equal(err.exitCode, 1);
    assert.match(err.message, /promoted/);
    assert.ok(err.rolledBack.some((r: string) => /removed etcd member/.test(r)), err.rolledBack.join('; '));
    assert.ok(err.rolledBack.some((r: string) => /deleted server demo-master-2/.test(r)));
    assert.equal(etcdMembers(h).length, before);
    assertNothingLeft(h, 'demo-master-2');
  });

  it('an expired certificate key: the join fails with the diagnosis, everything rolled back', async () => {
    h = await sim.start({});
    const { kubeadmUploadCerts } = await import('../../lib/etcd/etcdctl.js');
    const hh = h;
    const err = await handleAddMaster({ yes: true, config: h.cfgPath, timeout: T, tokenTtl: 86400, snapshot: false }, h.ctx, {
      ...FAST,
      ops: {
        uploadCerts: async (t, key) => {
          await kubeadmUploadCerts(t, key);
          hh.kubeSim.cluster.remove('secrets', 'kube-system', 'kubeadm-certs'); // what the 2 h expiry does
        },
      },
    }).catch((e) => e);
    assert.ok(err instanceof OperationError, String(err));
    assert.ok(err.details.some((d: string) => /certificate key/.test(d)), err.details.join('\n'));
    assert.equal(etcdMembers(h).length, 1);
    assertNothingLeft(h, 'demo-master-2');
    assert.doesNotMatch(h.io.lines.join('\n') + err.details.join('\n'), /[0-9a-f]{64}/);
  });

  it('a stale learner blocks the add (exit 2, listed with its fix); --fix-stale removes it and the add succeeds', async () => {
    h = await sim.start({});
    h.kubeSim.etcd.add(['https://10.0.0.99:2380'], true, 'demo-master-7', '', '10.0.0.99');
    const err = await handleAddMaster({ yes: true, config: h.cfgPath, timeout: T, tokenTtl: 86400 }, h.ctx, FAST).catch((e) => e);
    assert.ok(err instanceof PreflightError, String(err));
    assert.equal(err.exitCode, 2);
    assert.ok(err.details.some((d: string) => /stale/.test(d) && /--fix-stale/.test(d) && /member remove [0-9a-f]+/.test(d)), err.details.join('\n'));
    assert.equal(etcdMembers(h).length, 2, 'nothing changed');
    assert.equal([...h.sim.openstack.store.servers.values()].filter((s: any) => s.name === 'demo-master-2').length, 0);

    const code = await handleAddMaster({ yes: true, config: h.cfgPath, timeout: T, tokenTtl: 86400, fixStale: true }, h.ctx, FAST);
    assert.equal(code, 0, h.io.lines.join('\n'));
    const ms = etcdMembers(h);
    assert.equal(ms.length, 2);
    assert.ok(ms.every((m) => m.started && !m.isLearner));
    assert.match(h.io.results.join(''), /removed stale etcd member/);
  });
});
