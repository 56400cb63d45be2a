/**
 * `kadd remove` of a master against REAL etcd 3.4 members (the simulator in real-etcd mode: every
 * control-plane member is a real etcd process on loopback; the etcdctl kadd runs in the adder pod is the real
 * binary): remove the leader (leadership moved first, through the leader's endpoint), remove a member whose
 * process was killed (--dead), refuse a removal that would lose quorum (2 of 3 down).
 * Skips when etcd/etcdctl are not installed.
 */
import { strict as assert } from 'node:assert';
import { startKaddSim, readUpdated, type KaddSim } from '../helpers/kadd-sim.js';
import { realEtcdMissing, type RealEtcd } from '../sim/kube/etcd-real.js';

const FAST = ['--yes', '--poll-interval', '50', '--evict-retry', '200'];

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

describe('integration: kadd remove of a master with real etcd 3.4 members', function () {
  this.timeout(120_000);

  before(function () {
    const missing = realEtcdMissing();
    if (missing.length) {
      console.log(`    skipping: not installed: ${missing.join(', ')} (apt-get install -y --no-install-recommends etcd-server etcd-client)`);
      this.skip();
    }
  });

  it('removes the leader: leadership moved first (to the newest healthy member), member removed, two members agree', async () => {
    await withReal({ etcd: { leader: 'demo-master-3' } }, async (h, real) => {
      const before = await real.memberList();
      assert.equal(before.length, 3);
      const r = await h.kadd(['remove', ...FAST, h.cfgPath, 'demo-master-3']);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.match(r.stderr, /etcd: moving leadership from [0-9a-f]+ to [0-9a-f]+ \(sent to the leader's endpoint/);
      assert.match(r.stdout, /leadership moved to demo-master-2/);
      assert.match(r.stdout, /verified from \S+ and \S+/);
      const after = await real.memberList();
      assert.deepEqual(after.map((m) => m.name).sort(), ['demo-master-1', 'demo-master-2']);
      assert.match(readUpdated(h), /n-masters: 2\b/);
    });
  });

  it('removes a member whose etcd process was killed (--dead): member first, quorum counts it as gone', async () => {
    await withReal({}, async (h, real) => {
      (h.sim.kube as any).setNodeDown('demo-master-3', true);
      const r = await h.kadd(['remove', ...FAST, '--dead', h.cfgPath, 'demo-master-3']);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      const after = await real.memberList();
      assert.deepEqual(after.map((m) => m.name).sort(), ['demo-master-1', 'demo-master-2']);
    });
  });

  it('refuses a removal that would lose quorum (2 of 3 down): exit 2, no member removed', async () => {
    await withReal({}, async (h, real) => {
      (h.sim.kube as any).setNodeDown('demo-master-2', true);
      (h.sim.kube as any).setNodeDown('demo-master-3', true);
      const r = await h.kadd(['remove', ...FAST, '--dead', h.cfgPath, 'demo-master-3']);
      assert.equal(r.code, 2, r.stderr + r.stdout);
      assert.match(r.stderr, /quorum|unhealthy|cannot check/);
      (h.sim.kube as any).setNodeDown('demo-master-2', false);
      (h.sim.kube as any).setNodeDown('demo-master-3', false);
      const after = await real.memberList();
      assert.equal(after.length, 3);
    });
  });
});
