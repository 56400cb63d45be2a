/**
 * kadd replace on the simulator: whole commands through main(), state asserted from the simulator.
 */
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { FAST_FLAGS, startKaddSim, type KaddSim } from '../helpers/kadd-sim.js';

const FLAGS = [...FAST_FLAGS, '--soak', '0', '--yes', '--drain-timeout', '20s'];

describe('kadd replace (simulator)', function () {
  this.timeout(120_000);
  let h: KaddSim | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  it('surge, one worker: a new worker joins first, then the old one is removed; nothing left behind', async () => {
    h = await startKaddSim({ masters: 1, nodes: 2 });
    const before = h.serverNames('node');
    assert.deepEqual(before, ['demo-node-1', 'demo-node-2']);
    const r = await h.kadd(['replace', h.cfgPath, 'demo-node-1', ...FLAGS]);
    if (process.env.SHOW) console.log(r.stderr);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(h.serverNames('node'), ['demo-node-2', 'demo-node-3']);
    const nodes = h.nodes();
    assert.equal(nodes.get('demo-node-3'), true);
    assert.equal(nodes.has('demo-node-1'), false);
    assert.match(r.stdout, /demo-node-1\s+demo-node-3\s+replaced\s+surge/);
    assert.ok(!h.volumes().some((v) => v.name === 'demo-node-1-root'), 'old boot volume gone');
    assert.deepEqual(h.bootstrapTokens(), []);
  });
});
