/**
 * kadd remove finishes an interrupted kadd add (chaos harness, seeds 37004/37013/...): `kadd add --role
 * master` killed with SIGKILL once its server exists; kubeadm finishes the join on its own, so the master
 * is Ready with a started etcd member and the journal keeps the add's leftovers. `kadd remove <that master>`
 * removes it (gated) and tears down the rest of the add (token, adder); another node's leftover still refuses.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { FAST_FLAGS, startKaddSim, type KaddSim } from '../helpers/kadd-sim.js';
import { journalPath } from '../../lib/journal/journal.js';
import { findUnfinished } from '../../lib/journal/index.js';

const REMOVE = ['--yes', '--poll-interval', '25', '--evict-retry', '200'];
const members = (h: KaddSim): { name: string; isLearner: boolean; started: boolean }[] => (h.sim.kube as any).etcd.members;
const kaddTokens = (h: KaddSim): string[] =>
  (h.sim.kube as any).tokens().map((t: any) => Buffer.from(t.data?.description ?? '', 'base64').toString()).filter((d: string) => /^kadd /.test(d));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, f: () => boolean, ms = 40_000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** `kadd add --role master --yes` killed with SIGKILL right after the journal records its server done */
async function killAddAfterServer(h: KaddSim, name: string): Promise<void> {
  const c = h.spawnKadd(['add', '--role', 'master', '--yes', ...FAST_FLAGS, h.cfgPath]);
  const jp = journalPath(h.cfgPath);
  const base = existsSync(jp) ? readFileSync(jp, 'utf8').length : 0;
  const re = new RegExp(`"t":"done".*"kind":"server".*"name":"${name}"|"t":"done".*"name":"${name}".*"kind":"server"`);
  const timer = setInterval(() => {
    if (existsSync(jp) && re.test(readFileSync(jp, 'utf8').slice(base))) c.proc.kill('SIGKILL');
  }, 1);
  try {
    const r = await c.done;
    assert.equal(r.code, 137, `killed after the server was created: ${r.stderr}`);
  } finally {
    clearInterval(timer);
  }
}

describe('kadd remove finishes an interrupted kadd add --role master (kill -9 after its server)', function () {
  this.timeout(120_000);
  let h: KaddSim | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  it('2 -> 3 killed, the master joins on its own: remove exits 0, nothing left, etcd back to 2 started, the next add is not refused', async () => {
    h = await startKaddSim({ masters: 2, nodes: 1, scenario: { kube: { podStartup: 30, podTermination: 30 } } });
    await killAddAfterServer(h, 'demo-master-3');
    // the simulated kubelet finishes the join on its own
    await until('demo-master-3 Ready with a started member', () => h!.nodes().get('demo-master-3') === true && members(h!).some((m) => m.name === 'demo-master-3' && m.started && !m.isLearner));
    const before = await findUnfinished(h.cfgPath);
    assert.ok(before.leftovers.length > 0, 'the killed add left its journal');
    assert.deepEqual(kaddTokens(h), ['kadd add --role master demo-master-3'], 'the killed add left its token');

    const dry = await h.kadd(['remove', '--dry-run', h.cfgPath, 'demo-master-3']);
    assert.equal(dry.code, 0, dry.stderr + dry.stdout);
    assert.match(dry.stdout + dry.stderr, /also finishes the interrupted kadd add of demo-master-3/);
    assert.match(dry.stdout, /config: n-masters 2 -> 2\b/, 'the interrupted add never counted demo-master-3');

    const r = await h.kadd(['remove', ...REMOVE, h.cfgPath, 'demo-master-3']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.deepEqual((await findUnfinished(h.cfgPath)).leftovers, [], 'no journal leftovers');
    assert.match(readFileSync(h.updatedPath, 'utf8'), /^n-masters: 2\b/m);
    assert.equal(h.servers().filter((s) => s.name === 'demo-master-3').length, 0);
    assert.equal(h.volumes().filter((v) => v.name === 'demo-master-3-root' && v.status !== 'deleting').length, 0);
    assert.equal(h.ports().filter((p) => p.name === 'demo-master-3-port-0').length, 0);
    assert.ok(!h.nodes().has('demo-master-3'));
    assert.deepEqual(kaddTokens(h), [], 'the bootstrap token is deleted');
    assert.equal((h.sim.kube as any).deployments('kube-system').filter((d: any) => d.metadata.name.startsWith('kadd-master-adder')).length, 0, 'no master-adder left');
    const ms = members(h);
    assert.deepEqual(ms.map((m) => m.name).sort(), ['demo-master-1', 'demo-master-2']);
    assert.ok(ms.every((m) => m.started && !m.isLearner));

    const next = await h.kadd(['add', '--role', 'master', '--dry-run', ...FAST_FLAGS, h.cfgPath]);
    assert.doesNotMatch(next.stderr, /did not finish|E_LEFTOVERS/, next.stderr);
  });

  it('`--role master --amount 1` finishes it the same way: the interrupted master is picked (even with --order oldest), exit 0, nothing left', async () => {
    h = await startKaddSim({ masters: 2, nodes: 1, scenario: { kube: { podStartup: 30, podTermination: 30 } } });
    await killAddAfterServer(h, 'demo-master-3');
    await until('demo-master-3 Ready with a started member', () => h!.nodes().get('demo-master-3') === true && members(h!).some((m) => m.name === 'demo-master-3' && m.started && !m.isLearner));
    assert.ok((await findUnfinished(h.cfgPath)).leftovers.length > 0, 'the killed add left its journal');

    const dry = await h.kadd(['remove', '--dry-run', '--role', 'master', '--amount', '1', '--order', 'oldest', h.cfgPath]);
    assert.equal(dry.code, 0, dry.stderr + dry.stdout);
    assert.match(dry.stdout + dry.stderr, /also finishes the interrupted kadd add of demo-master-3/);
    assert.match(dry.stdout, /demo-master-3/);
    assert.doesNotMatch(dry.stdout, /demo-master-1/, 'the oldest master is not picked: the interrupted one is');
    assert.match(dry.stdout, /config: n-masters 2 -> 2\b/);

    const r = await h.kadd(['remove', ...REMOVE, '--role', 'master', '--amount', '1', '--order', 'oldest', h.cfgPath]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /^demo-master-3: removed/m);
    assert.deepEqual((await findUnfinished(h.cfgPath)).leftovers, [], 'no journal leftovers');
    assert.match(readFileSync(h.updatedPath, 'utf8'), /^n-masters: 2\b/m);
    assert.equal(h.servers().filter((s) => s.name === 'demo-master-3').length, 0);
    assert.ok(!h.nodes().has('demo-master-3'));
    assert.deepEqual(kaddTokens(h), [], 'the bootstrap token is deleted');
    assert.equal((h.sim.kube as any).deployments('kube-system').filter((d: any) => d.metadata.name.startsWith('kadd-master-adder')).length, 0, 'no master-adder left');
    assert.deepEqual(members(h).map((m) => m.name).sort(), ['demo-master-1', 'demo-master-2']);
    assert.ok(members(h).every((m) => m.started && !m.isLearner));
  });

  it('another node\'s leftover still refuses: removing a different master is E_LEFTOVERS, nothing changed', async () => {
    h = await startKaddSim({ masters: 2, nodes: 1, scenario: { kube: { podStartup: 30, podTermination: 30 } } });
    await killAddAfterServer(h, 'demo-master-3');
    await until('demo-master-3 Ready', () => h!.nodes().get('demo-master-3') === true);
    const cleanup = await h.kadd(['cleanup', h.cfgPath]);
    assert.notEqual(cleanup.code, 0);
    assert.match(cleanup.stderr + cleanup.stdout, /`kadd remove demo-master-3` drains and removes it, and finishes the interrupted kadd add/, 'the cleanup refusal names kadd remove <node>');
    // --amount of the other role cannot finish it either
    const workers = await h.kadd(['remove', ...REMOVE, '--role', 'node', '--amount', '1', h.cfgPath]);
    assert.equal(workers.code, 2, workers.stderr + workers.stdout);
    assert.match(workers.stderr, /did not finish/);
    assert.ok(h.nodes().has('demo-node-1'));
    const r = await h.kadd(['remove', ...REMOVE, h.cfgPath, 'demo-master-2']);
    assert.equal(r.code, 2, r.stderr + r.stdout);
    assert.match(r.stderr, /did not finish/);
    assert.ok(h.nodes().has('demo-master-2') && h.servers().some((s) => s.name === 'demo-master-2'), 'nothing changed');
    assert.ok((await findUnfinished(h.cfgPath)).leftovers.length > 0);
  });
});

describe('finishableAdds (pure)', () => {
  const op = (o: string, command: string) => ({ op: o, command, args: {}, pid: 1, host: 'h', startedAt: '', status: 'unterminated' as const, resources: [] });
  const l = (kind: any, name: string, o = 'a1', details?: Record<string, unknown>) => ({ kind, name, state: 'created' as const, op: o, ...(details ? { details } : {}) });
  it('accepts an add whose leftovers are the victim\'s or operation-wide; refuses another node\'s, another verb\'s, a stale-member removal', async () => {
    const { finishableAdds } = await import('../../lib/ops/remove-unfinished.js');
    const ops = [op('a1', 'add --role master'), op('r1', 'remove')];
    const mine = [l('server', 'demo-master-3'), l('volume', 'demo-master-3-root'), l('port', 'demo-master-3-port-0'), l('etcd-member', 'demo-master-3'), l('token', 'bootstrap-token'), l('deployment', 'kube-system/kadd-master-adder-a1')];
    assert.deepEqual(finishableAdds({ operations: ops, leftovers: mine }, 'demo', ['demo-master-3']), { ops: ['a1'], nodes: ['demo-master-3'] });
    assert.equal(finishableAdds({ operations: ops, leftovers: mine }, 'demo', ['demo-master-2']), null, 'another node\'s');
    assert.equal(finishableAdds({ operations: ops, leftovers: [...mine, l('server', 'demo-master-4')] }, 'demo', ['demo-master-3']), null);
    assert.equal(finishableAdds({ operations: ops, leftovers: [l('server', 'demo-master-3', 'r1')] }, 'demo', ['demo-master-3']), null, 'another verb\'s');
    assert.equal(finishableAdds({ operations: ops, leftovers: [...mine, l('etcd-member', 'old', 'a1', { remove: 'x' })] }, 'demo', ['demo-master-3']), null, 'a stale-member removal is not operation-wide');
    assert.equal(finishableAdds({ operations: ops, leftovers: [] }, 'demo', ['demo-master-3']), null);
  });

  it('interruptedAddNodes: with --role R --amount N, the leftover nodes when all are of role R and at most N', async () => {
    const { interruptedAddNodes } = await import('../../lib/ops/remove-unfinished.js');
    const mine = [l('server', 'demo-master-3'), l('port', 'demo-master-3-port-0'), l('token', 'bootstrap-token')];
    assert.deepEqual(interruptedAddNodes({ leftovers: mine }, 'demo', 'master', 1), ['demo-master-3']);
    assert.equal(interruptedAddNodes({ leftovers: mine }, 'demo', 'node', 1), null, 'another role');
    assert.equal(interruptedAddNodes({ leftovers: [...mine, l('server', 'demo-master-4')] }, 'demo', 'master', 1), null, 'more nodes than --amount');
    assert.deepEqual(interruptedAddNodes({ leftovers: [l('token', 'bootstrap-token')] }, 'demo', 'node', 1), [], 'only operation-wide: any victim finishes it');
    const { selectVictims } = await import('../../lib/ops/remove-plan.js');
    const cand = (name: string, index: number, ready = true) => ({ name, role: 'master' as const, index, server: { id: name, name, status: 'ACTIVE' } as any, node: { name, conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] } as any });
    const sel = selectVictims({ names: [], role: 'master', amount: 1, order: 'oldest', prefer: ['demo-master-3'] }, [cand('demo-master-1', 1, false), cand('demo-master-2', 2), cand('demo-master-3', 3)]);
    assert.deepEqual(sel.victims.map((v) => v.name), ['demo-master-3'], 'preferred before unhealthy and --order');
    assert.match(sel.victims[0]!.why, /interrupted kadd add/);
    assert.deepEqual(selectVictims({ names: [], role: 'master', amount: 1, order: 'oldest' }, [cand('demo-master-1', 1, false), cand('demo-master-3', 3)]).victims.map((v) => v.name), ['demo-master-1']);
  });
});
