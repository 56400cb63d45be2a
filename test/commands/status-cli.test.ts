/** `kadd status` / `kadd logs` through main() (argument parsing, streams, exit codes) on the simulator. */
import assert from 'node:assert/strict';
import { kaddSimHooks, kubeSim } from '../helpers/kadd-sim.js';

describe('kadd status / logs through the CLI (simulator)', function () {
  this.timeout(60_000);
  const sims = kaddSimHooks();

  it('status: table on stdout, summary on stderr, exit 0; -f json parses; exit 1 with a NotReady Node', async () => {
    const h = await sims.start({ nodes: 1 });
    const r = await h.kadd(['status', h.cfgPath]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^NAME\s+ROLE\s+SERVER/);
    assert.match(r.stderr, /cluster \S+: healthy/);
    const j = await h.kadd(['status', h.cfgPath, '-f', 'json']);
    assert.equal(j.code, 0, j.stderr);
    const data = JSON.parse(j.stdout);
    assert.equal(data.healthy, true);
    assert.deepEqual(data.machines.map((m: { role: string; node: string }) => [m.role, m.node]), [['master', 'Ready'], ['node', 'Ready']]);
    kubeSim(h.sim).cluster.setNodeReady(`${h.cluster}-node-1`, false);
    const bad = await h.kadd(['status', h.cfgPath]);
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /Node NotReady/);
    const usage = await h.kadd(['status']);
    assert.equal(usage.code, 2);
  });

  it('status --etcd without --allow-adder: exit 2 with the hint, not one request; --help says what --allow-adder deploys', async () => {
    const h = await sims.start({ nodes: 1 });
    h.sim.resetCounters();
    const r = await h.kadd(['status', '--etcd', h.cfgPath]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--etcd reads the etcd members through the master-adder.*creates nothing without --allow-adder/);
    assert.match(r.stderr, /hint: add --allow-adder/);
    assert.equal(h.sim.counters().total, 0, 'not one request');
    const help = await h.kadd(['status', '--help']);
    assert.match(help.stdout, /Without\s+--allow-adder,\s+status\s+only\s+reads\.\s+--etcd\s+--allow-adder\s+deploys\s+the\s+master-adder\s+\(a\s+privileged[\s\S]{0,80}?and\s+deletes\s+it\s+afterwards/);
  });

  it('the registry lines match the modules (usage and description)', async () => {
    const { commands } = await import('../../lib/commands/index.js');
    for (const name of ['status', 'logs']) {
      const mod = (await commands[name]!.load()).default;
      assert.equal(commands[name]!.command, mod.command);
      assert.equal(commands[name]!.describe, mod.describe);
    }
  });

  it('logs: config then node; a bad name is exit 2 on stderr; the console goes to stdout', async () => {
    const h = await sims.start({ nodes: 1 });
    const bad = await h.kadd(['logs', h.cfgPath, 'frobnicate']);
    assert.equal(bad.code, 2);
    assert.equal(bad.stdout, '');
    assert.match(bad.stderr, /^error: "frobnicate" is not a server of cluster/);
    const ok = await h.kadd(['logs', h.cfgPath, `${h.cluster}-node-1`, '-n', '5']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout.split('\n').filter(Boolean).length, 5, ok.stdout);
    assert.match(ok.stderr, /diagnosis: /);
    const missing = await h.kadd(['logs', h.cfgPath, `${h.cluster}-node-9`]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /not found in cluster/);
  });
});
