/**
 * kadd remove (masters) on the simulator: etcd gates, the master order (snapshot -> drain -> pool member
 * out -> leader move -> member remove through another member -> verify -> server/volume/port -> Node),
 * the dead-master path, and refusals that change nothing.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { startKaddSim, readUpdated, type KaddSim } from '../helpers/kadd-sim.js';
import { journalPath } from '../../lib/journal/journal.js';

const FAST = ['--yes', '--poll-interval', '25', '--evict-retry', '200'];

function lastIndex(xs: any[], f: (x: any) => boolean): number {
  for (let i = xs.length - 1; i >= 0; i--) if (f(xs[i])) return i;
  return -1;
}

function journal(h: KaddSim): any[] {
  return readFileSync(journalPath(h.cfgPath), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}
const kubeSim = (h: KaddSim): any => h.sim.kube as any;
const members = (h: KaddSim): { id: string; name: string; node: string; up: boolean }[] => (kubeSim(h).etcd.dump() as any).members;
function poolMembers(h: KaddSim): string[] {
  const st = h.sim.state() as any;
  return Object.values(st.openstack?.members ?? {}).map((m: any) => m.name ?? m.address);
}

async function withSim(masters: number, fn: (h: KaddSim) => Promise<void>, scenario: Record<string, unknown> = {}): Promise<void> {
  const h = await startKaddSim({ masters, nodes: 1, scenario: { kube: { podStartup: 30, podTermination: 30 }, ...scenario } });
  try {
    await fn(h);
  } finally {
    await h.stop();
  }
}

describe('kadd remove: masters on the simulator', function () {
  this.timeout(90_000);

  it('removes one of three masters in the safe order; prints the member table before and after; n-masters 3 -> 2', async () => {
    await withSim(3, async (h) => {
      const dry = await h.kadd(['remove', '--dry-run', h.cfgPath, 'demo-master-3']);
      assert.equal(dry.code, 0, dry.stderr);
      assert.match(dry.stdout, /after: 2 members, quorum 2, tolerates 0 failures/);
      assert.match(dry.stdout, /pool member \S+ \(192\.168\.\S+\) leaves the API pool first/);
      assert.match(dry.stderr + dry.stdout, /even number of members \(2\)/);
      assert.equal(members(h).length, 3, 'dry run: no member removed');
      const r = await h.kadd(['remove', ...FAST, h.cfgPath, 'demo-master-3']);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.match(r.stdout, /etcd members before:[\s\S]*demo-master-3[\s\S]*etcd members after:/);
      assert.doesNotMatch(r.stdout.split('etcd members after:')[1]!, /demo-master-3/);
      assert.deepEqual(members(h).map((m) => m.name).sort(), ['demo-master-1', 'demo-master-2']);
      assert.deepEqual(h.serverNames('master'), ['demo-master-1', 'demo-master-2']);
      assert.ok(!h.nodes().has('demo-master-3'));
      assert.ok(!poolMembers(h).includes('demo-master-3'), 'pool member gone');
      assert.match(readUpdated(h), /n-masters: 2\b/);
      assert.match(r.stdout, /etcd snapshot: demo-master-\d:\/var\/lib\/kadd\/snapshots\/kadd-remove-demo-master-3-/);
      // journaled order: snapshot < cordon < pool member < member-remove < verify < teardown < Node
      const recs = journal(h);
      const at = (f: (x: any) => boolean) => recs.findIndex(f);
      const idx = [
        at((x) => x.t === 'step' && x.step === 'snapshot'),
        at((x) => x.t === 'step' && x.step === 'cordon'),
        at((x) => x.t === 'intent' && x.kind === 'lb-member'),
        at((x) => x.t === 'step' && x.step === 'member-remove' && x.state === 'start'),
        at((x) => x.t === 'step' && x.step === 'verify' && x.state === 'done'),
        at((x) => x.t === 'step' && x.step === 'teardown' && x.state === 'done'),
        lastIndex(recs, (x) => x.t === 'intent' && x.kind === 'node'),
      ];
      assert.ok(idx.every((x) => x >= 0), JSON.stringify(idx));
      assert.deepEqual([...idx].sort((a, b) => a - b), idx, `journal order ${JSON.stringify(idx)}`);
      const mr = recs.find((x) => x.t === 'step' && x.step === 'member-remove' && x.state === 'start');
      assert.match(mr.details.memberId, /^[0-9a-f]+$/, 'the member hex id is journaled before the removal');
    });
  });

  it('3 masters with a second member unhealthy: refused (exit 2), nothing changed', async () => {
    await withSim(3, async (h) => {
      kubeSim(h).setNodeDown('demo-master-2', true);
      const r = await h.kadd(['remove', ...FAST, h.cfgPath, 'demo-master-3']);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /etcd: .*demo-master-2.* is unhealthy|below quorum/);
      assert.equal(members(h).length, 3);
      assert.ok(h.serverNames('master').includes('demo-master-3'));
      assert.equal(kubeSim(h).node('demo-master-3').spec.unschedulable, undefined);
    });
  });

  it('2 -> 1 is refused unless --allow-single-master; 1 -> 0 never', async () => {
    await withSim(2, async (h) => {
      const r = await h.kadd(['remove', ...FAST, h.cfgPath, 'demo-master-2']);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /single etcd member.*--allow-single-master/);
      assert.equal(members(h).length, 2);
      const ok = await h.kadd(['remove', ...FAST, '--allow-single-master', h.cfgPath, 'demo-master-2']);
      assert.equal(ok.code, 0, ok.stderr);
      assert.deepEqual(members(h).map((m) => m.name), ['demo-master-1']);
      const last = await h.kadd(['remove', ...FAST, '--allow-single-master', h.cfgPath, 'demo-master-1']);
      assert.equal(last.code, 2, last.stderr);
      assert.match(last.stderr, /last voting member|no master|master-adder|cannot check/);
      assert.deepEqual(h.serverNames('master'), ['demo-master-1']);
    });
  });

  it('a stale member (no Node) blocks the removal; the plan names it and --fix-stale', async () => {
    await withSim(3, async (h) => {
      // the Node of master-2 disappears: its member no longer matches any Node
      await fetch(`${h.sim.baseUrl}/api/v1/nodes/demo-master-2`, { method: 'DELETE', headers: { authorization: 'Bearer sim-admin-token' } });
      const r = await h.kadd(['remove', '--dry-run', h.cfgPath, 'demo-master-3']);
      assert.equal(r.code, 2, r.stderr + r.stdout);
      assert.match(r.stdout, /stale member demo-master-2 [0-9a-f]+: member demo-master-2 has no Node/);
      assert.match(r.stdout, /--fix-stale removes it first/);
    });
  });

  it('a dead master (--dead, Node unreachable): its member goes first, unreachable drain only, no reset; quorum counts it as gone', async () => {
    await withSim(3, async (h) => {
      kubeSim(h).setNodeDown('demo-master-3', true);
      const dry = await h.kadd(['remove', '--dry-run', '--dead', h.cfgPath, 'demo-master-3']);
      assert.equal(dry.code, 0, dry.stdout + dry.stderr);
      assert.match(dry.stdout, /dead \(/);
      assert.match(dry.stdout, /drain unreachable/);
      const r = await h.kadd(['remove', ...FAST, '--dead', h.cfgPath, 'demo-master-3']);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.deepEqual(members(h).map((m) => m.name).sort(), ['demo-master-1', 'demo-master-2']);
      assert.ok(!h.nodes().has('demo-master-3'));
      const recs = journal(h);
      const member = recs.findIndex((x) => x.t === 'step' && x.step === 'member-remove' && x.state === 'done');
      const cordon = recs.findIndex((x) => x.t === 'step' && x.step === 'cordon');
      assert.ok(member >= 0 && (cordon < 0 || member < cordon), 'member removed before any drain');
      assert.ok(!recs.some((x) => x.t === 'step' && x.step === 'leader-move'), 'no leader move for a dead member');
      assert.ok(!recs.some((x) => x.t === 'step' && x.step === 'stop-control-plane'), 'no reset on a dead node');
    });
  });

  it('the victim is the leader and leadership comes back between the check and the removal: moved again (to the leader\'s endpoint), then removed', async () => {
    await withSim(3, async (h) => {
      const r = await h.kadd(['remove', ...FAST, h.cfgPath, 'demo-master-3']);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.match(r.stdout, /leadership moved to demo-master-2/);
      assert.deepEqual(members(h).map((m) => m.name).sort(), ['demo-master-1', 'demo-master-2']);
      // the simulator refuses move-leader anywhere but the leader's endpoint ("no leader endpoint given"), and
      // hands leadership back once after the first move: the removal only happened after a second move
      assert.doesNotMatch(r.stderr, /no leader endpoint given/);
      assert.equal((r.stderr.match(/etcd: moving leadership from/g) ?? []).length, 2, r.stderr);
      const recs = journal(h);
      const lm = recs.findIndex((x) => x.t === 'step' && x.step === 'leader-move' && x.state === 'start');
      const mr = recs.findIndex((x) => x.t === 'step' && x.step === 'member-remove' && x.state === 'start');
      assert.ok(lm >= 0 && lm < mr, 'leader moved before the member removal');
    }, { etcd: { leader: 'demo-master-3', leaderReturns: [{ member: 'demo-master-3', times: 1 }] } });
  });

  it('member names differ from Node names (etcd-<ip>): the member is found by its peer address', async () => {
    await withSim(3, async (h) => {
      assert.ok(members(h).every((m) => /^etcd-/.test(m.name)), JSON.stringify(members(h)));
      const r = await h.kadd(['remove', ...FAST, h.cfgPath, 'demo-master-2']);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.equal(members(h).length, 2);
      assert.ok(!members(h).some((m) => m.node === 'demo-master-2'));
    }, { etcd: { memberName: 'etcd-{ip}' } });
  });

  it('Octavia answers 409 (PENDING_UPDATE) on the member delete for a while: kadd waits for ACTIVE and retries', async () => {
    await withSim(3, async (h) => {
      const r = await h.kadd(['remove', ...FAST, h.cfgPath, 'demo-master-3']);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.ok(!poolMembers(h).includes('demo-master-3'));
      assert.equal(members(h).length, 2);
    }, { faults: { lbHold: [{ lb: 'demo-lb', at: 0, for: 3 }] } });
  });
});
