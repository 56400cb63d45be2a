/**
 * `kadd add --role node` as a child process (node bin/kadd.js, sources through tsx): Ctrl-C (SIGINT)
 * and kill -9 in the middle of a batch, against the simulator running in this process.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { journalPath } from '../../lib/journal/index.js';
import { FAST_FLAGS, readUpdated, startKaddSim, type KaddSim } from '../helpers/kadd-sim.js';

function leftovers(h: KaddSim, names: string[]) {
  return {
    servers: h.servers().filter((s) => names.includes(s.name)).map((s) => s.name).sort(),
    volumes: h.volumes().filter((v) => names.some((n) => v.name === `${n}-root`) && v.status !== 'deleting').map((v) => v.name).sort(),
    ports: h.ports().filter((p) => names.some((n) => p.name === `${n}-port-0`)).map((p) => p.name).sort(),
  };
}

describe('kadd add --role node, interrupted (child process on the simulator)', function () {
  this.timeout(180_000); // child processes on a loaded 2-core CI machine: a safety net against hangs, not a speed check
  let h: KaddSim | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  it('Ctrl-C midway: stops, deletes what it created, exit 130, nothing left but the cluster', async () => {
    h = await startKaddSim({ scenario: { latency: { serverBuild: { fixed: 4000 } } } });
    const c = h.spawnKadd(['add', ...FAST_FLAGS, '--amount', '3', h.cfgPath]);
    for (const n of [2, 3, 4]) await c.waitFor(new RegExp(`demo-node-${n}: active waiting.*server BUILD`), 120_000);
    assert.equal(h.serverNames().length, 4, 'the batch was being created');
    c.proc.kill('SIGINT');
    const r = await c.done;
    assert.equal(r.code, 130, r.stderr);
    assert.match(r.stderr, /interrupted: stopping and cleaning up/);
    assert.match(r.stderr, /0 of 3 nodes added/);
    assert.deepEqual(leftovers(h, ['demo-node-2', 'demo-node-3', 'demo-node-4']), { servers: [], volumes: [], ports: [] });
    assert.deepEqual(h.serverNames(), ['demo-node-1']);
    assert.deepEqual(h.bootstrapTokens(), [], 'the token is deleted on Ctrl-C too');
    // the journal is clean: a new run starts without asking about leftovers
    const again = await h.kadd(['add', ...FAST_FLAGS, '--amount', '1', '--dry-run', h.cfgPath]);
    assert.equal(again.code, 0, again.stderr);
  });

  it('kill -9 midway, then a re-run: refuses without a choice, --resume adopts (no duplicate, no orphan)', async () => {
    h = await startKaddSim({ scenario: { latency: { serverBuild: { fixed: 4000 } } } });
    const c = h.spawnKadd(['add', ...FAST_FLAGS, '--amount', '2', h.cfgPath]);
    for (const n of [2, 3]) await c.waitFor(new RegExp(`demo-node-${n}: active waiting.*server BUILD`), 120_000);
    c.proc.kill('SIGKILL');
    await c.done;
    assert.deepEqual(leftovers(h, ['demo-node-2', 'demo-node-3']).servers, ['demo-node-2', 'demo-node-3']);

    const refused = await h.kadd(['add', ...FAST_FLAGS, '--amount', '2', h.cfgPath]);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /an earlier kadd run did not finish/);
    assert.match(refused.stderr, /--resume .* --cleanup/);

    h.sim.resetCounters();
    const r = await h.kadd(['add', ...FAST_FLAGS, '--amount', '2', '--resume', h.cfgPath]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /resuming demo-node-2, demo-node-3/);
    assert.equal(h.counters()['compute POST /compute/v2.1/servers'] ?? 0, 0, 'the servers were adopted, not created again');
    assert.deepEqual(leftovers(h, ['demo-node-2', 'demo-node-3']), {
      servers: ['demo-node-2', 'demo-node-3'], volumes: ['demo-node-2-root', 'demo-node-3-root'], ports: ['demo-node-2-port-0', 'demo-node-3-port-0'],
    });
    assert.equal(h.nodes().get('demo-node-2'), true);
    assert.equal(h.nodes().get('demo-node-3'), true);
    assert.match(readUpdated(h), /^n-nodes: 3\b/m);
    assert.deepEqual(h.bootstrapTokens(), [], 'both the killed run\'s token and the new one are gone');
    writeFileSync(h.cfgPath, readUpdated(h)); // as an operator does: the updated file becomes the cluster file (a stale one is refused)
    const next = await h.kadd(['add', ...FAST_FLAGS, '--amount', '1', '--dry-run', '-f', 'json', h.cfgPath]);
    assert.equal(next.code, 0, next.stderr);
    assert.equal(JSON.parse(next.stdout).nodes[0].name, 'demo-node-4', 'no leftovers reported any more');
  });

  it('kill -9 midway, then --cleanup deletes what the killed run left and adds fresh nodes', async () => {
    // the killed run's servers never join (a Ready Node is never deleted by cleanup: 13.12, see below)
    h = await startKaddSim({ scenario: { latency: { serverBuild: { fixed: 4000 } }, faults: { kubeletNeverJoins: ['^demo-node-[23]$'] } } });
    const c = h.spawnKadd(['add', ...FAST_FLAGS, '--amount', '2', h.cfgPath]);
    for (const n of [2, 3]) await c.waitFor(new RegExp(`demo-node-${n}: active waiting.*server BUILD`), 120_000);
    c.proc.kill('SIGKILL');
    await c.done;
    const killedIds = h.servers().filter((s) => /node-[23]$/.test(s.name)).map((s) => s.id);
    assert.equal(killedIds.length, 2);
    // the killed run's servers come up without joining; then a fast build for the new run, whose node joins
    const end = Date.now() + 30_000;
    while (h.servers().filter((s) => killedIds.includes(s.id) && s.status === 'ACTIVE').length < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    h.sim.core.patchScenario({ latency: { serverBuild: { fixed: 150 } }, faults: { kubeletNeverJoins: [] } });
    const r = await h.kadd(['add', ...FAST_FLAGS, '--amount', '1', '--cleanup', h.cfgPath]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /cleanup: deleted server demo-node-2/);
    assert.equal(h.servers().filter((s) => killedIds.includes(s.id)).length, 0, 'the killed run\'s servers are gone');
    assert.deepEqual(leftovers(h, ['demo-node-2', 'demo-node-3']), { servers: ['demo-node-2'], volumes: ['demo-node-2-root'], ports: ['demo-node-2-port-0'] });
    assert.equal(h.nodes().get('demo-node-2'), true);
    assert.deepEqual(h.bootstrapTokens(), []);
  });

  it('kill -9 after the nodes joined, then --cleanup: a joined, Ready node is refused (use kadd remove or --resume), nothing deleted (13.12)', async () => {
    h = await startKaddSim({ scenario: { latency: { serverBuild: { fixed: 2000 } } } });
    const c = h.spawnKadd(['add', ...FAST_FLAGS, '--amount', '1', h.cfgPath]);
    await c.waitFor(/demo-node-2: join (start|waiting)/, 120_000);
    c.proc.kill('SIGKILL');
    await c.done;
    const until = Date.now() + 20_000;
    while (h.nodes().get('demo-node-2') !== true && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    assert.equal(h.nodes().get('demo-node-2'), true, 'the killed run\'s node joined on its own');
    const r = await h.kadd(['add', ...FAST_FLAGS, '--amount', '1', '--cleanup', h.cfgPath]);
    assert.notEqual(r.code, 0, r.stderr);
    assert.match(r.stderr, /Node demo-node-2 joined and is Ready; `kadd remove demo-node-2` drains and removes it/);
    assert.equal(h.nodes().get('demo-node-2'), true, 'the Ready Node stays');
    assert.deepEqual(leftovers(h, ['demo-node-2']).servers, ['demo-node-2'], 'its server stays');
    // --resume keeps it and counts it
    const resumed = await h.kadd(['add', ...FAST_FLAGS, '--amount', '1', '--resume', h.cfgPath]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(readUpdated(h), /^n-nodes: 2\b/m);
  });

  it('killed while writing the cluster file, then --resume --amount 5: finishes that run (writes what exists), adds nothing (13.2)', async () => {
    h = await startKaddSim({});
    const first = await h.kadd(['add', ...FAST_FLAGS, '--amount', '1', h.cfgPath]);
    assert.equal(first.code, 0, first.stderr);
    // the state a kill -9 during the file write leaves: every node kept, no end record, no updated file
    const jpath = journalPath(h.cfgPath);
    const lines = readFileSync(jpath, 'utf8').trim().split('\n');
    assert.match(lines.at(-1)!, /"t":"end"/);
    writeFileSync(jpath, lines.slice(0, -1).join('\n') + '\n');
    rmSync(h.updatedPath, { force: true });
    h.sim.resetCounters();
    const r = await h.kadd(['add', ...FAST_FLAGS, '--amount', '5', '--resume', h.cfgPath]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(h.counters()['compute POST /compute/v2.1/servers'] ?? 0, 0, 'no new batch');
    assert.match(readUpdated(h), /^n-nodes: 2\b/m, 'the file counts the workers that exist');
    const again = await h.kadd(['add', ...FAST_FLAGS, '--amount', '1', '--resume', h.cfgPath]);
    assert.equal(again.code, 2, again.stderr);
    assert.match(again.stderr, /no unfinished run/);
  });
});
