/**
 * Issue 12 point 3, the read-only promise of `kadd add --role master --dry-run` (simulator): a dry run creates
 * no master-adder Deployment (no POST of a Deployment reaches the API, none is left in kube-system), reads
 * what it can without it and says in the plan what it did not check; `--allow-adder` deploys the adder for the
 * full etcd check, says so in the plan and deletes it again.
 */
import assert from 'node:assert/strict';
import { handleAddMaster } from '../../lib/commands/add-master.js';
import { ETCD_CHECKS } from '../../lib/ops/add-master.js';
import { FAST, type SimHarness, masterSimHooks } from './add-master-sim.helpers.js';

const DEPLOYMENTS = 'kube POST /apis/apps/v1/namespaces/{namespace}/deployments';

function adders(h: SimHarness): unknown[] {
  return h.kubeSim.deployments('kube-system').filter((d: any) => d.metadata.name.startsWith('kadd-master-adder'));
}

function requests(h: SimHarness): Record<string, number> {
  return h.sim.counters().requests as Record<string, number>;
}

describe('kadd add --role master --dry-run: read-only (simulator)', function () {
  this.timeout(120_000);
  const sim = masterSimHooks();

  it('creates no master-adder; the plan reads Nodes, kubeadm-config, masters and OpenStack and lists what it did not check', async () => {
    const h = await sim.start({});
    h.sim.resetCounters();
    const code = await handleAddMaster({ config: h.cfgPath, timeout: '20', tokenTtl: 86400, dryRun: true }, h.ctx, FAST);
    assert.equal(code, 0, h.io.lines.join('\n'));
    const req = requests(h);
    assert.equal(req[DEPLOYMENTS] ?? 0, 0, `no Deployment created:\n${JSON.stringify(req, null, 1)}`);
    assert.equal(adders(h).length, 0, 'no adder in kube-system');
    // read without the adder: the Nodes, the kubeadm-config ConfigMap, the master servers
    assert.ok(req['kube GET /api/v1/nodes'], 'Nodes read');
    assert.ok(Object.keys(req).some((k) => k.startsWith('kube GET /api/v1/namespaces/{namespace}/configmaps')), 'kubeadm-config read');
    assert.ok(Object.keys(req).some((k) => k.startsWith('compute GET /compute/v2.1/servers')), JSON.stringify(req));
    // nothing but reads reached the cluster and the cloud (Keystone's token aside)
    assert.deepEqual(Object.keys(req).filter((k) => !/^\S+ GET /.test(k) && k !== 'identity POST /identity/v3/auth/tokens'), []);

    const text = h.io.results.join('');
    assert.match(text, /plan: add master demo-master-2 to cluster demo/);
    assert.match(text, /etcd {7}not read/);
    assert.match(text, /not checked \(this dry run deployed nothing/);
    for (const c of ETCD_CHECKS) assert.ok(text.includes(`  - ${c}`), text);
    assert.match(text, /--allow-adder deploys it for the dry run/);
    assert.doesNotMatch(text, /adder {6}the master-adder .* was deployed/);
  });

  it('-f json: the plan carries the unchecked items, etcd not read, no adder', async () => {
    const h = await sim.start({});
    const code = await handleAddMaster({ config: h.cfgPath, timeout: '20', tokenTtl: 86400, dryRun: true, format: 'json' }, h.ctx, FAST);
    assert.equal(code, 0, h.io.lines.join('\n'));
    const plan = JSON.parse(h.io.results.join('')) as { etcd: { via: string | null; adder: boolean; members: unknown[] }; unchecked: { check: string; reason: string }[] };
    assert.deepEqual(plan.unchecked.map((u) => u.check), [...ETCD_CHECKS]);
    assert.ok(plan.unchecked.every((u) => /--allow-adder/.test(u.reason)));
    assert.equal(plan.etcd.via, null);
    assert.equal(plan.etcd.adder, false);
    assert.deepEqual(plan.etcd.members, []);
    assert.equal(adders(h).length, 0);
  });

  it('--allow-adder: etcd is checked through the adder, the plan says the adder was deployed, and it is deleted afterwards', async () => {
    const h = await sim.start({});
    h.sim.resetCounters();
    const code = await handleAddMaster({ config: h.cfgPath, timeout: '20', tokenTtl: 86400, dryRun: true, allowAdder: true }, h.ctx, FAST);
    assert.equal(code, 0, h.io.lines.join('\n'));
    assert.equal(requests(h)[DEPLOYMENTS], 1, 'the adder was deployed');
    assert.equal(adders(h).length, 0, 'and deleted afterwards');
    const text = h.io.results.join('');
    assert.match(text, /etcd {7}via .*: 1 -> 2 voting members, quorum 1 -> 2/);
    assert.match(text, /adder {6}the master-adder \(kube-system\) was deployed for this dry run \(--allow-adder\) and deleted again/);
    assert.match(text, /demo-master-1/, 'the member table');
    assert.doesNotMatch(text, /not checked/);
    assert.ok(h.io.lines.some((l) => /1 to 2 members/.test(l)), 'the quorum warning of the real member list');
  });

  it('--via ssh is not an adder: the dry run does not deploy one (and does not skip etcd either)', async () => {
    const h = await sim.start({});
    h.sim.resetCounters();
    let opened = 0;
    const code = await handleAddMaster({ config: h.cfgPath, timeout: '20', tokenTtl: 86400, dryRun: true, via: 'ssh' }, h.ctx, {
      ...FAST,
      sshTransport: async () => {
        opened++;
        throw new Error('no sshd in this test');
      },
    }).catch((e: unknown) => e);
    assert.equal(opened, 1, 'etcd was to be read over SSH');
    assert.equal(requests(h)[DEPLOYMENTS] ?? 0, 0);
    assert.equal(adders(h).length, 0);
    assert.equal(code, 2, 'the plan has the blocker "cannot read the etcd member list"');
    assert.match(h.io.results.join(''), /blocker: cannot read the etcd member list: no sshd in this test/);
  });
});
