/**
 * kill -9 at steps of a rolling replace (bin/kadd.js in a child process), then `kadd replace --resume`:
 * no orphan, no duplicate, no quorum loss. The kill points are drawn from a seeded list, so a failure
 * names the point it happened at and reproduces.
 */
import assert from 'node:assert/strict';
import { FAST_FLAGS, startKaddSim, type KaddSim } from '../helpers/kadd-sim.js';
import { findUnfinished } from '../../lib/journal/index.js';

const FLAGS = [...FAST_FLAGS, '--soak', '0', '--yes', '--drain-timeout', '30s'];

/** where a run can die: the stderr line after which it is killed */
const POINTS: { name: string; re: RegExp }[] = [
  { name: 'master add: etcd member present', re: /demo-master-\d+: etcd member present/ },
  { name: 'master add: server created', re: /server demo-master-\d+ created/ },
  { name: 'master remove: draining the old master', re: /drain:demo-master-1: demo-master-1: draining/ },
  { name: 'worker add: creating server', re: /demo-node-\d+: server start/ },
  { name: 'worker add: Node registered', re: /demo-node-\d+: join waiting.*Node registered/ },
  { name: 'worker remove: draining', re: /drain:demo-node-1: demo-node-1: draining/ },
  { name: 'worker remove: removed, before the step record', re: /demo-node-1: removed \(/ },
];

/** a small seeded PRNG (mulberry32) */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** bootstrap tokens kadd created (kubeadm's own upload-certs proxy token is not kadd's) */
function kaddTokens(h: KaddSim): string[] {
  const dec = (v: string | undefined) => (v ? Buffer.from(v, 'base64').toString('utf8') : '');
  return ((h.sim.kube as any).tokens() as { data: Record<string, string> }[])
    .map((t) => dec(t.data.description)).filter((d) => d.startsWith('kadd'));
}

function etcdState(h: KaddSim) {
  const etcd = (h.sim.kube as any).etcd as { members: { name: string; isLearner: boolean; started: boolean; up: boolean }[] };
  const voters = etcd.members.filter((m) => !m.isLearner);
  return { voters: voters.length, healthy: voters.filter((m) => m.started && m.up).length, learners: etcd.members.length - voters.length, names: etcd.members.map((m) => m.name) };
}

describe('kadd replace: kill -9 then --resume (child process, simulator)', function () {
  this.timeout(300_000);
  const seed = Number(process.env.KADD_KILL_SEED ?? 7);
  const r = rng(seed);
  // three distinct points per run of the suite, one of them on a master
  const picks = new Set<number>([Math.floor(r() * 3)]);
  while (picks.size < 3) picks.add(Math.floor(r() * POINTS.length));

  const only = process.env.KADD_KILL_POINT;
  for (const i of only ? [Number(only)] : picks) {
    const point = POINTS[i]!;
    it(`killed at "${point.name}" (seed ${seed}): --resume converges: 1 master, 2 workers, all new, nothing left`, async () => {
      const h = await startKaddSim({ masters: 1, nodes: 2 });
      const samples: ReturnType<typeof etcdState>[] = [];
      const t = setInterval(() => samples.push(etcdState(h)), 3);
      try {
        const c = h.spawnKadd(['replace', '--all', h.cfgPath, ...FLAGS]);
        await c.waitFor(point.re, 90_000);
        c.proc.kill('SIGKILL');
        const dead = await c.done;
        assert.equal(dead.code, 137, dead.stderr);

        const res = await h.kadd(['replace', '--resume', h.cfgPath, ...FLAGS]);
        assert.equal(res.code, 0, `${point.name}\n${res.stderr}`);

        // no orphan, no duplicate
        const masters = h.serverNames('master');
        const workers = h.serverNames('node');
        assert.equal(masters.length, 1, `masters: ${masters}`);
        assert.equal(workers.length, 2, `workers: ${workers}`);
        assert.ok(!masters.includes('demo-master-1') && !workers.includes('demo-node-1') && !workers.includes('demo-node-2'), 'every old node replaced');
        const servers = h.servers();
        assert.equal(new Set(servers.map((s) => s.name)).size, servers.length, 'no duplicate server names');
        const names = new Set(servers.map((s) => s.name));
        for (const v of h.volumes()) if (v.name?.startsWith('demo-')) assert.ok(names.has(v.name.replace(/-root$/, '')), `orphan volume ${v.name}`);
        for (const p of h.ports()) if (/^demo-(master|node)-\d+-port-0$/.test(p.name)) assert.ok(names.has(p.name.replace(/-port-0$/, '')), `orphan port ${p.name}`);
        const nodes = h.nodes();
        assert.deepEqual([...nodes.keys()].sort(), [...masters, ...workers].sort(), 'a Node per server, no stale Node');
        assert.ok([...nodes.values()].every(Boolean), 'all Ready');
        assert.deepEqual(kaddTokens(h), [], res.stderr);
        assert.deepEqual((await findUnfinished(h.cfgPath)).leftovers, []);
        // no quorum loss at any moment, and one healthy member at the end
        const end = etcdState(h);
        assert.deepEqual([end.voters, end.healthy, end.learners], [1, 1, 0], JSON.stringify(end));
        const lost = samples.filter((s) => s.healthy < Math.floor(s.voters / 2) + 1 && s.voters > 0);
        // 1 -> 2 members: etcd cannot commit until the second has started (the add warns about it); a moment of
        // 2 voters with 1 healthy is that window, never more than that
        assert.ok(lost.every((s) => s.voters === 2 && s.healthy === 1), `quorum lost: ${JSON.stringify(lost.slice(0, 3))}`);
      } finally {
        clearInterval(t);
        await h.stop();
      }
    });
  }
  it('killed while the old server is being deleted (teardown started, not recorded): --resume closes the dead run\'s removal intents (chaos harness)', async () => {
    const { oneKill, prng, scenarios } = await import('../chaos/harness.js');
    const s = scenarios(prng(31)).find((x) => x.name === 'replace-worker')!;
    // 20 ms after the 28th journal line (the old node's `teardown start`): its server DELETE is on its way
    const x = await oneKill(31014, s, { kind: 'random', line: 28, ms: 20 });
    assert.ok(x.killed);
    assert.deepEqual([x.orphans, x.duplicates, x.violations], [[], [], []], x.followUp.join('; '));
  });
});
