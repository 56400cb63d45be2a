/**
 * `kadd replace` of a master against REAL etcd 3.4 members (the simulator in real-etcd mode: every control-plane
 * member is a real etcd process on loopback; the etcdctl kadd runs in the adder pod is the real binary, and a
 * control-plane join does what kubeadm does: member add --learner, start, promote). Through kadd's own etcd
 * code path: surge (3 -> 4 -> 3) on the leader, remove-first with --no-surge, and a dead member replaced
 * remove-first. The member count and healthy count are sampled from the real members during each run.
 * Skips when etcd/etcdctl are not installed.
 */
import { strict as assert } from 'node:assert';
import { startKaddSim, type KaddSim } from '../helpers/kadd-sim.js';
import { realEtcdMissing, type RealEtcd } from '../sim/kube/etcd-real.js';

const FAST = ['--yes', '--poll-interval', '50', '--soak', '0', '--timeout', '60', '--boot-timeout', '60', '--drain-timeout', '60s'];

async function withReal(scenario: Record<string, unknown>, fn: (h: KaddSim, real: RealEtcd) => Promise<void>): Promise<void> {
  const h = await startKaddSim({ masters: 3, nodes: 1, scenario: { etcd: { real: true, ...(scenario.etcd as object) }, kube: { podStartup: 30, podTermination: 30 } } });
  try {
    const real = (h.sim.kube as any).realEtcd as RealEtcd;
    await real.ready;
    await fn(h, real);
  } finally {
    await h.stop();
  }
}

/** member lists of the real cluster while fn runs (voting members), folded */
async function sampleMembers<T>(real: RealEtcd, fn: () => Promise<T>): Promise<{ value: T; counts: number[] }> {
  const counts: number[] = [];
  let stop = false;
  const loop = (async () => {
    while (!stop) {
      try {
        const n = (await real.memberList()).filter((m: { isLearner?: boolean }) => !m.isLearner).length;
        if (counts[counts.length - 1] !== n) counts.push(n);
      } catch {
        /* a moment without an answer (election) */
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  try {
    const value = await fn();
    return { value, counts };
  } finally {
    stop = true;
    await loop;
  }
}

describe('integration: kadd replace of a master with real etcd 3.4 members', function () {
  this.timeout(240_000);

  before(function () {
    const missing = realEtcdMissing();
    if (missing.length) {
      console.log(`    skipping: not installed: ${missing.join(', ')} (apt-get install -y --no-install-recommends etcd-server etcd-client)`);
      this.skip();
    }
  });

  it('surge on the leader: 3 -> 4 -> 3 real members, leadership moved before the old member goes', async () => {
    await withReal({ etcd: { leader: 'demo-master-1' } }, async (h, real) => {
      const { value: r, counts } = await sampleMembers(real, () => h.kadd(['replace', ...FAST, h.cfgPath, 'demo-master-1']));
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.match(r.stdout, /demo-master-1\s+demo-master-4\s+replaced\s+surge/);
      assert.equal(Math.max(...counts), 4, `member counts: ${counts}`);
      const after = await real.memberList();
      assert.deepEqual(after.map((m: { name: string }) => m.name).sort(), ['demo-master-2', 'demo-master-3', 'demo-master-4']);
      assert.ok(after.every((m: { isLearner?: boolean }) => !m.isLearner));
    });
  });

  it('remove-first (--no-surge): 3 -> 2 -> 3 real members, never 4', async () => {
    await withReal({}, async (h, real) => {
      const { value: r, counts } = await sampleMembers(real, () => h.kadd(['replace', '--no-surge', ...FAST, h.cfgPath, 'demo-master-2']));
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.ok(counts.includes(2) && Math.max(...counts) === 3, `member counts: ${counts}`);
      const after = await real.memberList();
      assert.deepEqual(after.map((m: { name: string }) => m.name).sort(), ['demo-master-1', 'demo-master-3', 'demo-master-4']);
    });
  });

  it('a killed member is replaced remove-first without --no-surge: its member goes first, never 4 members', async () => {
    await withReal({}, async (h, real) => {
      (h.sim.kube as any).setNodeDown('demo-master-3', true);
      const { value: r, counts } = await sampleMembers(real, () => h.kadd(['replace', ...FAST, h.cfgPath, 'demo-master-3']));
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.match(r.stdout, /remove-first/);
      assert.ok(Math.max(...counts) <= 3 && counts.includes(2), `member counts: ${counts}`);
      const after = await real.memberList();
      assert.deepEqual(after.map((m: { name: string }) => m.name).sort(), ['demo-master-1', 'demo-master-2', 'demo-master-4']);
    });
  });
});
