/**
 * Issue 12 point 11: the README's table of exit codes stays true. This walks each row of the table in
 * README.md and produces that code the way the row says, on the simulator; a row without a scenario here
 * (or a scenario whose code is not in the table) fails the test.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { FAST_FLAGS, ROOT, startKaddSim, type KaddSim, type KaddSimOptions, type RunResult } from '../helpers/kadd-sim.js';

function readmeTable(): Map<number, string> {
  const text = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = text.split(/^### Exit codes$/m)[1]?.split(/^#/m)[0] ?? '';
  const rows = new Map<number, string>();
  for (const m of section.matchAll(/^\| (\d+) \| (.+?) \|/gm)) rows.set(Number(m[1]), m[2]!);
  return rows;
}

type Scenario = { what: string; sim?: KaddSimOptions; run: (h: KaddSim) => Promise<RunResult>; check?: (r: RunResult, h: KaddSim) => void };

/** a local port nobody listens on */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

const add = (h: KaddSim, ...args: string[]) => h.kadd(['add', ...FAST_FLAGS, ...args, h.cfgPath]);

const scenarios: Record<number, Scenario[]> = {
  0: [
    {
      what: 'every node asked for was added (with a progress line per phase)',
      run: (h) => add(h, '--amount', '1'),
      check: (r, h) => {
        assert.equal(h.nodes().get('demo-node-2'), true);
        assert.match(r.stderr, /^preflight for demo: reading the cloud and the cluster/m);
        assert.match(r.stderr, /^authenticating at http:\/\/127\.0\.0\.1:\d+\/identity\/v3 as user 'kadd'$/m);
        assert.match(r.stderr, /^checking the Kubernetes API at http:\/\/127\.0\.0\.1:\d+$/m);
        assert.match(r.stderr, /^creating 1 server, then waiting for it to boot \(up to 6s\) and join \(up to 6s\)$/m);
      },
    },
    {
      what: '`status` found no problem (and no false "recreated" warning: seeded Nodes name their servers)',
      run: (h) => h.kadd(['status', h.cfgPath]),
      check: (r) => assert.doesNotMatch(r.stdout + r.stderr, /recreated|providerID/),
    },
  ],
  1: [
    {
      what: 'a node that never joined (rolled back)',
      sim: { scenario: { faults: { kubeletNeverJoins: ['-node-2$'] } } },
      run: (h) => h.kadd(['add', '--poll-interval', '25', '--boot-timeout', '6', '--timeout', '1', h.cfgPath]),
      check: (r, h) => {
        assert.match(r.stderr, /rolled back/);
        assert.deepEqual(h.serverNames(), ['demo-node-1']);
      },
    },
  ],
  2: [
    { what: '--dry-run=bogus', run: (h) => add(h, '--dry-run=bogus'), check: (_r, h) => assert.deepEqual(h.counters(), {}) },
    {
      what: 'a wrong password',
      run: (h) => add(h, '--os-password', 'not-the-password'),
      check: (r, h) => {
        assert.match(r.stderr, /401/);
        assert.match(r.stderr, /nothing was changed/);
        assert.deepEqual(h.mutations(), {});
      },
    },
    {
      what: 'a Keystone that is not there (connection refused)',
      run: async (h) => add(h, '--os-auth-url', `http://127.0.0.1:${await closedPort()}/v3`),
      check: (r, h) => {
        assert.match(r.stderr, /ECONNREFUSED/);
        assert.deepEqual(h.mutations(), {});
      },
    },
    {
      what: 'not enough quota (preflight refusal)',
      sim: { scenario: { faults: { quota: { instances: 3 } } } },
      run: (h) => add(h, '--amount', '2'),
      // the preflight runs under the cluster lock (kadd's own Lease, deleted again): nothing else was written
      check: (_r, h) => assert.deepEqual(h.mutations({ exceptClusterLock: true }), {}),
    },
  ],
  3: [
    {
      what: 'one of two nodes never joined',
      sim: { scenario: { faults: { kubeletNeverJoins: ['-node-3$'] } } },
      run: (h) => h.kadd(['add', '--poll-interval', '25', '--boot-timeout', '6', '--timeout', '1', '--amount', '2', h.cfgPath]),
      check: (r) => assert.match(r.stderr, /1 of 2 nodes added/),
    },
  ],
  130: [
    {
      what: 'Ctrl-C while the servers build',
      sim: { scenario: { latency: { serverBuild: { fixed: 8000 } } } },
      run: async (h) => {
        const c = h.spawnKadd(['add', ...FAST_FLAGS, '--boot-timeout', '60', h.cfgPath]);
        // generous: a cold tsx start on a busy machine takes tens of seconds
        await c.waitFor(/demo-node-2: active waiting.*server BUILD/, 90_000);
        c.proc.kill('SIGINT');
        return c.done;
      },
      check: (_r, h) => assert.deepEqual(h.serverNames(), ['demo-node-1']),
    },
  ],
};

describe("README's exit-code table, row by row (simulator)", function () {
  this.timeout(240_000);
  const table = readmeTable();
  let h: KaddSim | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  it('the table and the scenarios name the same codes', () => {
    assert.ok(table.size >= 5, `README.md has an "### Exit codes" table (found ${table.size} rows)`);
    assert.deepEqual([...table.keys()].sort((a, b) => a - b), Object.keys(scenarios).map(Number).sort((a, b) => a - b));
  });

  for (const [code, list] of Object.entries(scenarios)) {
    for (const sc of list) {
      it(`exit ${code} (${table.get(Number(code)) ?? 'NOT IN THE README'}): ${sc.what}`, async () => {
        assert.ok(table.has(Number(code)), `exit ${code} is in the README's table`);
        h = await startKaddSim(sc.sim);
        h.sim.resetCounters();
        const r = await sc.run(h);
        assert.equal(r.code, Number(code), `${sc.what}\n${r.stderr}`);
        sc.check?.(r, h);
      });
    }
  }
});
