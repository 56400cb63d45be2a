/**
 * `kadd add --role master` through the real CLI (main() in process, and node bin/kadd.js as a child
 * process with KADD_DEV=1) on the simulator: warnings on stderr, Ctrl-C (SIGINT), kill -9 then the
 * refusal, --resume refused, --cleanup.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { FAST_FLAGS, startKaddSim, type KaddSim } from '../helpers/kadd-sim.js';

const flags = (timeout: string) => ['--poll-interval', '25', '--timeout', timeout, '--boot-timeout', '6'];
const members = (h: KaddSim): { name: string; id: bigint; isLearner: boolean; started: boolean }[] => (h.sim.kube as any).etcd.members;
const adders = (h: KaddSim) => (h.sim.kube as any).deployments('kube-system').filter((d: any) => d.metadata.name.startsWith('kadd-master-adder')).length;
/** kadd's own bootstrap tokens (kubeadm's upload-certs proxy token for kubeadm-certs lives its 2 h, as on any cluster) */
const kaddTokens = (h: KaddSim): string[] =>
  (h.sim.kube as any).tokens().map((t: any) => Buffer.from(t.data?.description ?? '', 'base64').toString()).filter((d: string) => /^kadd /.test(d));
const left = (h: KaddSim, name: string) => ({
  servers: h.servers().filter((s) => s.name === name).length,
  volumes: h.volumes().filter((v) => v.name === `${name}-root` && v.status !== 'deleting').length,
  ports: h.ports().filter((p) => p.name === `${name}-port-0`).length,
});

describe('kadd add --role master through the CLI (simulator)', function () {
  this.timeout(240_000); // child processes on a loaded 2-core CI machine: a safety net against hangs, not a speed check
  let h: KaddSim | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  it('1 -> 2: the 1 -> 2 and even-size warnings go to stderr, the result and member table to stdout', async () => {
    h = await startKaddSim({});
    const r = await h.kadd(['add', '--role', 'master', '--yes', ...FAST_FLAGS, h.cfgPath]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /etcd goes from 1 to 2 members: quorum becomes 2/);
    assert.match(r.stderr, /etcd will have an even number of members \(2\)/);
    assert.doesNotMatch(r.stdout, /even number|1 to 2/, 'warnings are not results');
    assert.match(r.stdout, /master demo-master-2 added/);
    assert.match(r.stdout, /NAME\s+ID\s+LEARNER\s+HEALTHY\s+LEADER/);
    assert.deepEqual(members(h).map((m) => m.name).sort(), ['demo-master-1', 'demo-master-2']);
    assert.match(await import('node:fs').then((f) => f.readFileSync(h!.updatedPath, 'utf8')), /^n-masters: 2\b/m);
  });

  it('Ctrl-C (SIGINT) while the learner starts: exit 130, the learner removed, nothing left, config unchanged', async () => {
    h = await startKaddSim({ scenario: { latency: { etcdMemberStart: { fixed: 8000 } } } });
    const c = h.spawnKadd(['add', '--role', 'master', '--yes', ...flags('20'), h.cfgPath]);
    await c.waitFor(/demo-master-2: waiting for etcd member promoted/, 120_000);
    assert.equal(members(h).length, 2, 'the learner is in etcd when Ctrl-C comes');
    c.proc.kill('SIGINT');
    const r = await c.done;
    assert.equal(r.code, 130, r.stderr);
    assert.match(r.stderr, /interrupted: stopping and cleaning up/);
    assert.match(r.stderr, /removed etcd member [0-9a-f]+/);
    assert.deepEqual(members(h).map((m) => m.name), ['demo-master-1']);
    assert.deepEqual(left(h, 'demo-master-2'), { servers: 0, volumes: 0, ports: 0 });
    assert.equal(h.nodes().has('demo-master-2'), false);
    assert.deepEqual(kaddTokens(h), [], 'the token is deleted');
    assert.equal(adders(h), 0);
    assert.ok(!existsSync(h.updatedPath));
    const { findUnfinished } = await import('../../lib/journal/index.js');
    assert.deepEqual((await findUnfinished(h.cfgPath)).leftovers, [], 'the journal records nothing left over');
  });

  it('kill -9 midway: the next run refuses (exit 2, lists, offers --cleanup), --resume is refused, --cleanup removes the learner then the rest and adds', async () => {
    h = await startKaddSim({ scenario: { faults: { etcdMemberNeverStarts: ['demo-master-2'] } } });
    const c = h.spawnKadd(['add', '--role', 'master', '--yes', ...flags('30'), h.cfgPath]);
    await c.waitFor(/demo-master-2: waiting for etcd member promoted/, 120_000);
    c.proc.kill('SIGKILL');
    await c.done;
    const learner = members(h).find((m) => m.isLearner);
    assert.ok(learner, 'the dead run left a learner');
    const deadServer = h.servers().find((s) => s.name === 'demo-master-2')!;
    assert.ok(deadServer);
    assert.deepEqual(kaddTokens(h), ['kadd add --role master demo-master-2'], 'the dead run left its token');

    const refused = await h.kadd(['add', '--role', 'master', '--yes', ...FAST_FLAGS, h.cfgPath]);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /an earlier kadd run on .* did not finish/);
    assert.ok(refused.stderr.includes(`server demo-master-2 (${deadServer.id})`), refused.stderr);
    assert.match(refused.stderr, new RegExp(`etcd-member demo-master-2 \\(${learner.id.toString(16)}\\)`));
    assert.match(refused.stderr, /kadd add --role master --cleanup/);
    assert.equal(members(h).length, 2, 'nothing changed');

    const resume = await h.kadd(['add', '--role', 'master', '--yes', '--resume', h.cfgPath]);
    assert.equal(resume.code, 2);
    assert.match(resume.stderr, /never resumed/);

    h.sim.core.patchScenario({ faults: { etcdMemberNeverStarts: [] } });
    const r = await h.kadd(['add', '--role', 'master', '--yes', '--cleanup', ...FAST_FLAGS, h.cfgPath]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`cleanup: removed etcd member ${learner.id.toString(16)}`));
    assert.match(r.stderr, /cleanup: deleted server demo-master-2/);
    assert.ok(r.stderr.indexOf('cleanup: removed etcd member') < r.stderr.indexOf('cleanup: deleted server'), 'etcd first');
    assert.ok(!h.servers().some((s) => s.id === deadServer.id), 'the dead run\'s server is gone');
    const ms = members(h);
    assert.deepEqual(ms.map((m) => m.name).sort(), ['demo-master-1', 'demo-master-2']);
    assert.ok(ms.every((m) => !m.isLearner && m.started && m.id !== learner.id));
    assert.deepEqual(kaddTokens(h), [], 'the dead run\'s token is gone too');
    assert.equal(adders(h), 0);
    assert.deepEqual(left(h, 'demo-master-2'), { servers: 1, volumes: 1, ports: 1 });
  });
  it('kill -9 the instant kubeadm added its learner (never recorded, unnamed, unstarted): --cleanup finds it by the port\'s address and removes it first (chaos harness)', async () => {
    h = await startKaddSim({ masters: 2, scenario: { faults: { etcdMemberNeverStarts: ['demo-master-3'] } } });
    const c = h.spawnKadd(['add', '--role', 'master', ...FAST_FLAGS, h.cfgPath]);
    const etcd = (h.sim.kube as any).etcd;
    const add = etcd.add.bind(etcd);
    etcd.add = (...a: unknown[]) => [add(...a), c.proc.kill('SIGKILL')][0];
    assert.equal((await c.done).code, 137);
    etcd.add = add;
    const learner = members(h).find((m) => m.isLearner)!;
    assert.ok(learner && !learner.started && !learner.name, 'an unnamed, unstarted learner the journal knows nothing of');
    h.sim.core.patchScenario({ faults: { etcdMemberNeverStarts: [] } });
    const r = await h.kadd(['add', '--role', 'master', '--cleanup', ...FAST_FLAGS, h.cfgPath]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`cleanup: removed etcd member ${learner.id.toString(16)}`));
    const ms = members(h);
    assert.deepEqual(ms.map((m) => m.name).sort(), ['demo-master-1', 'demo-master-2', 'demo-master-3']);
    assert.ok(ms.every((m) => !m.isLearner && m.started && m.id !== learner.id), 'no learner left');
  });
});
