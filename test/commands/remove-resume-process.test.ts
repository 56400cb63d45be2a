/**
 * kill -9 at a step of `kadd remove` (the real bin/kadd.js in a child process), then
 * `kadd remove --resume cfg.yml` converges to the planned end state without --cleanup.
 */
import { strict as assert } from 'node:assert';
import { startKaddSim, readUpdated, type KaddSim } from '../helpers/kadd-sim.js';

const FAST = ['--yes', '-v', '--poll-interval', '25', '--evict-retry', '200'];
const kubeSim = (h: KaddSim): any => h.sim.kube as any;
const members = (h: KaddSim): { name: string }[] => (kubeSim(h).etcd.dump() as any).members;

async function killAt(h: KaddSim, args: string[], marker: RegExp, afterMs = 0): Promise<void> {
  const c = h.spawnKadd(args);
  await c.waitFor(marker, 60_000);
  if (afterMs) await new Promise((r) => setTimeout(r, afterMs));
  c.proc.kill('SIGKILL');
  const r = await c.done;
  assert.equal(r.code, 137, `killed (stderr: ${c.stderr()})`);
}

describe('kadd remove: kill -9 at a step, then --resume converges', function () {
  this.timeout(120_000);

  const workerSteps: [string, RegExp, number][] = [
    ['right after the cordon', /step cordon demo-node-3 done/, 0],
    ['right after the server delete was sent', /step teardown demo-node-3 start/, 400],
    ['before the Node delete', /step teardown demo-node-3 done/, 0],
  ];
  for (const [what, marker, delay] of workerSteps) {
    it(`worker: ${what}`, async () => {
      const h = await startKaddSim({ masters: 1, nodes: 3, scenario: { latency: { serverDelete: 1500 }, kube: { podStartup: 30, podTermination: 30 } } });
      try {
        await killAt(h, ['remove', ...FAST, h.cfgPath, 'demo-node-3'], marker, delay);
        const servers = h.serverNames();
        const blocked = await h.kadd(['add', '--poll-interval', '25', h.cfgPath]);
        assert.equal(blocked.code, 2, `the unfinished remove blocks an add: ${blocked.stderr}`);
        assert.match(blocked.stderr, /did not finish|left over|earlier kadd run/);
        assert.ok(h.serverNames().every((n) => servers.includes(n)), 'the add created nothing');
        const r = await h.kadd(['remove', '--yes', '--poll-interval', '25', '--resume', h.cfgPath]);
        assert.equal(r.code, 0, r.stderr + r.stdout);
        assert.ok(!h.serverNames().includes('demo-node-3'));
        assert.ok(!h.nodes().has('demo-node-3'));
        assert.match(readUpdated(h), /n-nodes: 2\b/);
        const again = await h.kadd(['remove', '--resume', h.cfgPath]);
        assert.equal(again.code, 2, 'nothing left to resume');
      } finally {
        await h.stop();
      }
    });
  }

  // the thing leaves the simulator and kadd dies in the same tick, before the answer reaches it: the resume finds
  // it gone and must still close the dead run's intent (found by the chaos harness)
  const unrecorded: [string, 'etcd-member' | 'lb-member', (h: KaddSim, kill: () => void) => () => void][] = [
    ['etcd removed the member', 'etcd-member', (h, kill) => {
      const etcd = kubeSim(h).etcd;
      const remove = etcd.remove.bind(etcd);
      etcd.remove = (...a: unknown[]) => [remove(...a), kill()][0];
      return () => (etcd.remove = remove);
    }],
    ['Octavia deleted its pool member', 'lb-member', (h, kill) => {
      const members = h.sim.openstack.store.members;
      const del = members.delete.bind(members);
      members.delete = (id: string) => [del(id), kill()][0] as boolean;
      return () => (members.delete = del);
    }],
  ];
  for (const [what, kind, hook] of unrecorded) {
    it(`master: killed the instant ${what} (before the journal says so): --resume closes that record, nothing left over`, async () => {
      const h = await startKaddSim({ masters: 3, nodes: 1, scenario: { kube: { podStartup: 30, podTermination: 30 } } });
      try {
        const c = h.spawnKadd(['remove', ...FAST, h.cfgPath, 'demo-master-3']);
        const unhook = hook(h, () => c.proc.kill('SIGKILL'));
        assert.equal((await c.done).code, 137);
        unhook();
        const { findUnfinished } = await import('../../lib/journal/index.js');
        assert.deepEqual((await findUnfinished(h.cfgPath)).leftovers.filter((l) => l.kind === kind).map((l) => [l.name, l.state]), [['demo-master-3', 'maybe']]);
        const r = await h.kadd(['remove', '--yes', '--poll-interval', '25', '--resume', h.cfgPath]);
        assert.equal(r.code, 0, r.stderr + r.stdout);
        assert.deepEqual(members(h).map((m) => m.name).sort(), ['demo-master-1', 'demo-master-2']);
        assert.equal(h.sim.openstack.store.members.size, 2, 'the pool holds the two masters');
        assert.deepEqual((await findUnfinished(h.cfgPath)).leftovers, [], `the dead run's ${kind} intent is closed`);
        assert.match(readUpdated(h), /n-masters: 2\b/);
      } finally {
        await h.stop();
      }
    });
  }

  it('worker: killed after its last delete, before the cluster file and the end record: --resume writes the file (chaos harness)', async () => {
    const { oneKill, prng, scenarios } = await import('../chaos/harness.js');
    const s = scenarios(prng(1)).find((x) => x.name === 'remove-worker')!;
    const x = await oneKill(1, s, { kind: 'record', re: /"t":"undone".*"kind":"node","name":"demo-node-3"/ });
    assert.ok(x.killed, 'killed before the end record');
    assert.deepEqual(x.followUp, ['kadd remove --yes --resume -> 0']);
    assert.deepEqual([x.orphans, x.duplicates, x.violations], [[], [], []], 'n-nodes 2 in cfg.updated.yml, nothing left over');
  });

  const masterSteps: [string, RegExp][] = [
    ['right after the snapshot', /step snapshot demo-master-3 done/],
    ['right after the member removal', /step member-remove demo-master-3 done/],
    ['right after the verification', /step verify demo-master-3 done/],
  ];
  for (const [what, marker] of masterSteps) {
    it(`master: ${what}`, async () => {
      const h = await startKaddSim({ masters: 3, nodes: 1, scenario: { kube: { podStartup: 30, podTermination: 30 } } });
      try {
        await killAt(h, ['remove', ...FAST, h.cfgPath, 'demo-master-3'], marker);
        const r = await h.kadd(['remove', '--yes', '--poll-interval', '25', '--resume', h.cfgPath]);
        assert.equal(r.code, 0, r.stderr + r.stdout);
        assert.deepEqual(members(h).map((m) => m.name).sort(), ['demo-master-1', 'demo-master-2']);
        assert.deepEqual(h.serverNames('master'), ['demo-master-1', 'demo-master-2']);
        assert.ok(!h.nodes().has('demo-master-3'));
        assert.match(readUpdated(h), /n-masters: 2\b/);
      } finally {
        await h.stop();
      }
    });
  }
});
