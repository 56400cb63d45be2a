/**
 * `kadd add --role master` on the simulator: Ctrl-C, --keep-failed, a server in ERROR, a kubelet that
 * never joins, leftovers of a run that died (refused, then --cleanup), the API down (the --via ssh offer).
 */
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { handleAddMaster } from '../../lib/commands/add-master.js';
import { InterruptedError, OperationError, PreflightError } from '../../lib/errors.js';
import { findUnfinished } from '../../lib/journal/index.js';
import type { ClusterConfig } from '../../lib/config/types.js';
import { FAST, type SimHarness, masterSimHooks } from './add-master-sim.helpers.js';

const T = '20';
const members = (h: SimHarness): { name: string; isLearner: boolean; started: boolean; id: bigint }[] => h.kubeSim.etcd.members;
const adders = (h: SimHarness) => h.kubeSim.deployments('kube-system').filter((d: any) => d.metadata.name.startsWith('kadd-master-adder')).length;
const masterTokens = (h: SimHarness) => h.kubeSim.tokens().filter((t: any) => /master/.test(Buffer.from(t.data?.description ?? '', 'base64').toString())).length;
const servers = (h: SimHarness, name: string) => [...h.sim.openstack.store.servers.values()].filter((s: any) => s.name === name && s.status !== 'DELETED');
const volumes = (h: SimHarness, name: string) => [...h.sim.openstack.store.volumes.values()].filter((v: any) => v.name === `${name}-root` && v.status !== 'deleting');
const ports = (h: SimHarness, name: string) => [...h.sim.openstack.store.ports.values()].filter((p: any) => p.name === `${name}-port-0`);
const poolNames = (h: SimHarness) => {
  const st = h.sim.openstack.store;
  return [...st.pools.values()][0].members.map((id: string) => st.members.get(id)?.name);
};

function assertNothingLeft(h: SimHarness, name: string) {
  assert.equal(servers(h, name).length, 0, 'server deleted');
  assert.equal(volumes(h, name).length, 0, 'volume deleted');
  assert.equal(ports(h, name).length, 0, 'port deleted');
  assert.equal(h.kubeSim.node(name), undefined, 'Node deleted');
  assert.equal(adders(h), 0, 'adder deleted');
  assert.equal(masterTokens(h), 0, 'token deleted');
  assert.ok(!poolNames(h).includes(name), 'no pool member');
  assert.ok(!existsSync(h.cfgPath.replace(/\.yml$/, '.updated.yml')), 'config unchanged');
}

/** Abort the run (what the first Ctrl-C does) when a progress line with this key starts. */
function abortAt(h: SimHarness, key: string) {
  const orig = h.io.progress.bind(h.io);
  h.io.progress = (k, text) => {
    const line = orig(k, text);
    if (k === key) setTimeout(() => h.abort.abort(new InterruptedError()), 0);
    return line;
  };
}

describe('kadd add --role master (simulator): interrupts, --keep-failed, boot failures', function () {
  this.timeout(120_000);
  const sim = masterSimHooks();
  let h: SimHarness | undefined;

  it('Ctrl-C after the new member was promoted: member removed through the survivor, everything deleted, exit 130, journal clean', async () => {
    h = await sim.start({});
    abortAt(h, 'demo-master-2:ready');
    const err = await handleAddMaster({ yes: true, config: h.cfgPath, timeout: T, tokenTtl: 86400 }, h.ctx, FAST).catch((e) => e);
    assert.ok(err instanceof InterruptedError, String(err?.stack ?? err));
    assert.equal(err.exitCode, 130);
    assert.ok(err.details.some((d: string) => /rolled back: removed etcd member [0-9a-f]+ \(demo-master-2\)/.test(d)), err.details.join('\n'));
    assert.ok(h.io.lines.some((l) => /etcd member promoted/.test(l)), 'it was interrupted after the promotion');
    const ms = members(h);
    assert.deepEqual(ms.map((m) => m.name), ['demo-master-1'], 'back to one member');
    assertNothingLeft(h, 'demo-master-2');
    const j = await findUnfinished(h.cfgPath);
    assert.deepEqual(j.leftovers, [], 'every journaled resource is undone');
  });

  it('--keep-failed: the learner is removed (etcd first), Node/token/adder deleted, server/volume/port kept and named; the next run refuses; --cleanup removes them and adds', async () => {
    h = await sim.start({ faults: { etcdMemberNeverStarts: ['demo-master-2'] } });
    const err = await handleAddMaster({ yes: true, config: h.cfgPath, timeout: 'active=20,registered=20,member=20,promoted=2', tokenTtl: 86400, keepFailed: true }, h.ctx, FAST).catch((e) => e);
    assert.ok(err instanceof OperationError, String(err));
    assert.equal(err.exitCode, 1);
    assert.match(err.message, /no etcd member of it is left; the server is kept for inspection \(--keep-failed\)/);
    const kept = servers(h, 'demo-master-2');
    assert.equal(kept.length, 1, 'server kept');
    assert.equal(volumes(h, 'demo-master-2').length, 1, 'volume kept');
    assert.equal(ports(h, 'demo-master-2').length, 1, 'port kept');
    assert.ok(err.details.some((d: string) => d.startsWith('KEPT for inspection: server demo-master-2 (') && d.includes(kept[0].id)), err.details.join('\n'));
    assert.match(err.hint ?? '', new RegExp(`openstack console log show ${kept[0].id}`));
    assert.match(err.hint ?? '', /kadd add --role master --cleanup/);
    assert.deepEqual(members(h).map((m) => m.name), ['demo-master-1'], 'no learner left in etcd');
    assert.equal(h.kubeSim.node('demo-master-2'), undefined, 'Node deleted');
    assert.equal(adders(h), 0);
    assert.equal(masterTokens(h), 0);

    // the next run sees what was kept and refuses (exit 2, nothing created)
    const before = h.sim.counters().requests;
    const refused = await handleAddMaster({ yes: true, config: h.cfgPath, timeout: T, tokenTtl: 86400 }, h.ctx, FAST).catch((e) => e);
    assert.ok(refused instanceof PreflightError, String(refused));
    assert.equal(refused.code, 'E_LEFTOVERS');
    assert.ok(refused.details.includes(`server demo-master-2 (${kept[0].id})`), refused.details.join('\n'));
    assert.match(refused.hint ?? '', /--cleanup/);
    const after = h.sim.counters().requests;
    const mutations = Object.keys(after).filter((k) => /^(kube|compute|network|volume|load-balancer) (POST|PUT|PATCH|DELETE)/.test(k) && after[k] !== before[k]);
    assert.deepEqual(mutations, [], 'the refusal changed nothing');

    // --cleanup: deletes the kept server, volume and port, then adds a fresh master
    h.sim.core.patchScenario({ faults: { etcdMemberNeverStarts: [] } });
    const code = await handleAddMaster({ yes: true, config: h.cfgPath, timeout: T, tokenTtl: 86400, cleanup: true }, h.ctx, FAST);
    assert.equal(code, 0, h.io.lines.join('\n'));
    assert.ok(h.io.lines.some((l) => new RegExp(`cleanup: deleted server demo-master-2 \\(${kept[0].id}\\)`).test(l)), h.io.lines.join('\n'));
    assert.ok(!servers(h, 'demo-master-2').some((s: any) => s.id === kept[0].id), 'the kept server is gone');
    assert.deepEqual(members(h).map((m) => m.name).sort(), ['demo-master-1', 'demo-master-2']);
    assert.deepEqual((await findUnfinished(h.cfgPath)).leftovers, []);
  });

  it('a server that goes to ERROR: the Nova fault is shown, no retry, everything rolled back, etcd untouched', async () => {
    h = await sim.start({ faults: { serverError: [{ name: 'demo-master-2', message: 'No valid host was found. There are not enough hosts available.', code: 500 }] } });
    const err = await handleAddMaster({ yes: true, config: h.cfgPath, timeout: T, tokenTtl: 86400 }, h.ctx, FAST).catch((e) => e);
    assert.ok(err instanceof OperationError, String(err));
    assert.equal(err.exitCode, 1);
    assert.match(err.message, /server ACTIVE/);
    assert.match(err.message, /No valid host was found/);
    assert.ok(err.details.some((d: string) => /no valid host|capacity|NoValidHost/i.test(d)), err.details.join('\n'));
    assert.equal(h.sim.counters().requests['compute POST /compute/v2.1/servers'], 1, 'one attempt: a master is not retried');
    assert.deepEqual(members(h).map((m) => m.name), ['demo-master-1']);
    assertNothingLeft(h, 'demo-master-2');
  });

  it('a kubelet that never joins: diagnosis from the console, member count unchanged, rolled back', async () => {
    h = await sim.start({ faults: { kubeletNeverJoins: ['demo-master-2'] } });
    const err = await handleAddMaster({ yes: true, config: h.cfgPath, timeout: 'active=20,registered=3', tokenTtl: 86400 }, h.ctx, FAST).catch((e) => e);
    assert.ok(err instanceof OperationError, String(err));
    assert.match(err.message, /Node registered/);
    assert.match(err.message, /no Node registered within 3s/);
    assert.ok(err.details.some((d: string) => /kubeadm on demo-master-2 never reached the API server at \S+ \(discovery retry \d+\)/.test(d)), err.details.join('\n'));
    assert.ok(err.details.some((d: string) => /security group demo-sec-group \(TCP 6443/.test(d)), err.details.join('\n'));
    assert.deepEqual(members(h).map((m) => m.name), ['demo-master-1']);
    assertNothingLeft(h, 'demo-master-2');
  });

  it('the API does not answer: exit 2 naming the exact --via ssh line; with --via ssh it refuses and says what needs the API; nothing created', async () => {
    h = await sim.start({});
    const { loadKubeconfig } = await import('../../lib/kube/config.js');
    const { createKubeApi } = await import('../../lib/kube/client.js');
    const { loadClusterConfig } = await import('../../lib/config/load.js');
    const dead = join(h.dir, 'dead-kubeconfig');
    writeFileSync(dead, `apiVersion: v1\nkind: Config\nclusters:\n- name: x\n  cluster:\n    server: http://127.0.0.1:9\nusers:\n- name: a\n  user:\n    token: t\ncontexts:\n- name: x\n  context:\n    cluster: x\n    user: a\ncurrent-context: x\n`);
    const kube = createKubeApi(await loadKubeconfig({ env: { KUBECONFIG: dead }, cwd: h.dir }), { io: h.io });
    const ctx = { ...h.ctx, kube: async () => kube };
    const { config } = await loadClusterConfig(h.cfgPath);
    const withSsh: ClusterConfig = { ...config, ssh: { ...config.ssh, hostKeys: { '192.168.0.10': ['SHA256:AAAA'] } } };
    const before = JSON.stringify(h.sim.counters().requests);
    const err = await handleAddMaster({ yes: true, config: 'cfg.yml', timeout: T }, ctx, { ...FAST, loadConfig: async () => withSsh }).catch((e) => e);
    assert.ok(err instanceof PreflightError, String(err));
    assert.equal(err.exitCode, 2);
    const text = err.details.join('\n');
    assert.match(text, /the Kubernetes API at http:\/\/127\.0\.0\.1:9 did not answer/);
    assert.ok(text.includes('`kadd add --role master --via ssh --dry-run cfg.yml`'), text);
    assert.ok(text.includes('`kadd add --role master --via ssh cfg.yml`'), text);

    let sshOpened = 0;
    const err2 = await handleAddMaster({ yes: true, config: 'cfg.yml', timeout: T, via: 'ssh' }, ctx, {
      ...FAST, loadConfig: async () => withSsh,
      sshTransport: async () => {
        sshOpened++;
        return { kind: 'ssh', describe: 'ssh ubuntu@fake', run: async () => ({ stdout: '', stderr: 'ssh: connect refused', exitCode: 255 }), close: async () => {} } as never;
      },
    }).catch((e) => e);
    assert.ok(err2 instanceof PreflightError, String(err2));
    assert.equal(sshOpened, 1, 'etcd was reached over SSH as asked');
    assert.match(err2.details.join('\n'), /--via ssh reaches etcd without the API, but adding a master still needs it/);
    const after = h.sim.counters().requests;
    const changed = Object.keys(after).filter((k) => / (POST|PUT|PATCH|DELETE) /.test(k) && !/identity|action/.test(k) && JSON.parse(before)[k] !== after[k]);
    assert.deepEqual(changed, [], 'no mutation');
  });
});
