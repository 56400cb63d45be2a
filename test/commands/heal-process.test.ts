/**
 * kill -9 in the middle of the replace that `kadd heal --apply` runs (bin/kadd.js in a child process), then the
 * next heal run (or `heal --apply --resume`): it finishes that replace first, under its own lock, and the cluster
 * converges: the dead worker gone, one replacement Ready and annotated, no orphan, no duplicate, nothing left in
 * the journal.
 */
import assert from 'node:assert/strict';
import { FAST_FLAGS, startKaddSim } from '../helpers/kadd-sim.js';
import { findUnfinished, readJournal } from '../../lib/journal/index.js';
import { latestRoll } from '../../lib/ops/replace-roll.js';
import type { KubeSim } from '../sim/kube/index.js';

const FLAGS = [...FAST_FLAGS, '--soak', '0', '--drain-timeout', '30s', '--unhealthy-for', '0s', '--grace-after-add', '0s'];

const POINTS: { name: string; re: RegExp; next: string[] }[] = [
  { name: 'replacement server being created', re: /demo-node-5: server start/, next: [] },
  { name: 'replacement Node registered', re: /demo-node-5: join waiting.*Node registered/, next: ['--resume'] },
];

describe('kadd heal --apply: kill -9 mid-replace, then the next heal run converges (child process, simulator)', function () {
  this.timeout(300_000);
  for (const point of POINTS) {
    it(`killed at "${point.name}"; next: heal --apply ${point.next.join(' ')}`, async () => {
      const h = await startKaddSim({ masters: 1, nodes: 4 });
      try {
        (h.sim.kube as unknown as KubeSim).setNodeState('demo-node-2', 'Unreachable');
        const c = h.spawnKadd(['heal', '--apply', h.cfgPath, ...FLAGS]);
        await c.waitFor(point.re, 90_000);
        c.proc.kill('SIGKILL');
        const dead = await c.done;
        assert.equal(dead.code, 137, dead.stderr);
        assert.ok((await findUnfinished(h.cfgPath)).operations.some((o) => o.command === 'replace'), 'the replace was left unfinished');

        const res = await h.kadd(['heal', '--apply', h.cfgPath, ...FLAGS, ...point.next]);
        assert.equal(res.code, 0, `${point.name}\n${res.stdout}\n${res.stderr}`);
        assert.match(res.stdout, /demo-node-2: resume replace: replaced by demo-node-\d+/);
        assert.doesNotMatch(res.stdout, /-> heal: replace/, 'the resumed replace counts as this run\'s one node: nothing else is started');

        const workers = h.serverNames('node');
        assert.equal(workers.length, 4, `workers: ${workers}`);
        assert.ok(!workers.includes('demo-node-2'), 'the dead worker is gone');
        const servers = h.servers();
        assert.equal(new Set(servers.map((s) => s.name)).size, servers.length, 'no duplicate server names');
        const names = new Set(servers.map((s) => s.name));
        for (const v of h.volumes()) if (v.name?.startsWith('demo-')) assert.ok(names.has(v.name.replace(/-root$/, '')), `orphan volume ${v.name}`);
        for (const p of h.ports()) if (/^demo-(master|node)-\d+-port-0$/.test(p.name)) assert.ok(names.has(p.name.replace(/-port-0$/, '')), `orphan port ${p.name}`);
        const nodes = h.nodes();
        assert.deepEqual([...nodes.keys()].sort(), [...names].sort(), 'a Node per server, no stale Node');
        assert.ok([...nodes.values()].every(Boolean), 'all Ready');
        assert.equal(latestRoll((await readJournal(h.cfgPath)).records)?.finished, true, 'the replace (its roll) finished');
        assert.deepEqual((await findUnfinished(h.cfgPath)).leftovers, []);
        const fresh = [...names].find((n) => /^demo-node-\d+$/.test(n) && Number(n.slice(10)) > 4)!;
        const node = (h.sim.kube as unknown as KubeSim).node(fresh) as { metadata: { annotations?: Record<string, string> } };
        assert.ok(node.metadata.annotations?.['kadd.io/heal-last'], `${fresh} carries kadd.io/heal-last`);
        // and one more run finds a healthy cluster
        const after = await h.kadd(['heal', h.cfgPath, ...FLAGS]);
        assert.equal(after.code, 0, after.stdout + after.stderr);
        const recs = (await readJournal(h.cfgPath)).records;
        assert.equal(recs.filter((r) => r.t === 'begin' && r.command === 'replace').length, 2, 'one replace, one resume of it');
      } finally {
        await h.stop();
      }
    });
  }
});
