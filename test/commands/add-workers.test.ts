/**
 * `kadd add --role node`, the whole command (main(), yargs, config file, preflight, op, output, exit code)
 * against the simulator (test/sim). Child-process cases (Ctrl-C, kill -9) are in add-workers-process.test.ts.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { FAST_FLAGS, readUpdated, startKaddSim, type KaddSim } from '../helpers/kadd-sim.js';
import type { Scenario } from '../sim/contract.js';
import { findUnfinished } from '../../lib/journal/index.js';

const add = (h: KaddSim, ...args: string[]) => h.kadd(['add', ...FAST_FLAGS, ...args, h.cfgPath]);

/** wait (real time) until cond() holds */
async function until(cond: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** nothing of the node `name` exists in the cloud (server, boot volume, port) */
function assertGone(h: KaddSim, name: string): void {
  assert.deepEqual(h.servers().filter((s) => s.name === name), [], `server ${name} left`);
  assert.deepEqual(h.volumes().filter((v) => v.name === `${name}-root` && v.status !== 'deleting'), [], `volume ${name}-root left`);
  assert.deepEqual(h.ports().filter((p) => p.name === `${name}-port-0`), [], `port ${name}-port-0 left`);
}

describe('kadd add --role node (whole command on the simulator)', function () {
  this.timeout(20_000);
  let h: KaddSim | undefined;
  const start = async (o: Parameters<typeof startKaddSim>[0] = {}) => (h = await startKaddSim(o));
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  it('adds 1 worker: Node Ready, cfg.updated.yml with n-nodes + 1 and the comments kept, token deleted', async () => {
    const h = await start({ nodes: 1 });
    const r = await add(h, '--amount', '1');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(h.nodes().get('demo-node-2'), true, 'Node demo-node-2 Ready in the cluster');
    assert.deepEqual(h.serverNames(), ['demo-node-1', 'demo-node-2']);
    assert.match(r.stdout, /demo-node-2\s+nova\s+m1\.small\s+joined/);
    assert.match(r.stderr, /network \[demo-net\] already exists, skipping/);
    const updated = readUpdated(h);
    assert.match(updated, /^n-nodes: 2 {3}# workers$/m, 'n-nodes incremented, its comment kept');
    assert.match(updated, /^# existing network, created by koris$/m);
    assert.equal(readFileSync(h.cfgPath, 'utf8').includes('n-nodes: 1 '), true, 'the original file is untouched');
    assert.deepEqual(h.bootstrapTokens(), [], 'the bootstrap token is deleted at the end');
    // what the servers look like: boot from volume, ownership metadata, right zone and flavor
    const srv = [...(h.sim.openstack.store.servers.values() as Iterable<any>)].find((s) => s.name === 'demo-node-2');
    assert.equal(srv.metadata['kadd-cluster'], 'demo');
    assert.equal(srv.metadata['kadd-role'], 'node');
    assert.equal(srv.az, 'nova');
    assert.equal(srv.volumes[0].deleteOnTermination, true);
  });

  it('adds 10 workers in parallel: numeric names, round-robin zones, one list call per poll tick', async () => {
    const h = await start({ nodes: 9, scenario: { faults: { quota: { instances: 40, cores: 80, ram: 200_000, volumes: 40, gigabytes: 2000, ports: 100 } } } }); // demo-node-9 exists: the next are 10..19 (a string sort would say 2)
    const r = await add(h, '--amount', '10', '-f', 'json');
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.added, 10);
    assert.deepEqual(out.nodes.map((n: { name: string }) => n.name), Array.from({ length: 10 }, (_, i) => `demo-node-${10 + i}`));
    assert.deepEqual([...new Set(out.nodes.map((n: { zone: string }) => n.zone))].sort(), ['az2', 'nova']);
    for (let i = 10; i < 20; i++) assert.equal(h.nodes().get(`demo-node-${i}`), true, `demo-node-${i} Ready`);
    assert.match(readUpdated(h), /^n-nodes: 19\b/m);
    const c = h.counters();
    assert.equal(c['compute POST /compute/v2.1/servers'], 10);
    assert.equal(c['volume POST /volume/v3/{id}/volumes'], 10);
    assert.equal(c['network POST /network/v2.0/ports'], 10);
    // polling: a handful of list calls for the whole batch, not one GET per server per tick
    assert.equal(c['compute GET /compute/v2.1/servers/{id}'] ?? 0, 0, 'no per-server GET while polling');
    assert.ok((c['compute GET /compute/v2.1/servers/detail'] ?? 0) < 40, `server list calls: ${c['compute GET /compute/v2.1/servers/detail']}`);
    assert.deepEqual(h.bootstrapTokens(), []);
  });

  it('a server in ERROR is deleted with its volume and port and retried once in the other zone', async () => {
    const h = await start({ scenario: { faults: { serverError: [{ name: '-node-2$', message: 'No valid host was found. There are not enough hosts available.', times: 1 }] } } });
    const r = await add(h, '--amount', '1', '-f', 'json');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /demo-node-2: server went to ERROR: No valid host was found.*retrying in zone az2/);
    const n = JSON.parse(r.stdout).nodes[0];
    assert.equal(n.outcome, 'joined');
    assert.equal(n.attempts, 2);
    assert.equal(n.zone, 'az2');
    assert.equal(h.counters()['compute POST /compute/v2.1/servers'], 2);
    assert.equal(h.servers().filter((s) => s.name === 'demo-node-2').length, 1, 'no duplicate server');
    assert.equal(h.volumes().filter((v) => v.name === 'demo-node-2-root' && v.status !== 'deleting').length, 1, 'the first volume is gone');
    assert.equal(h.nodes().get('demo-node-2'), true);
  });

  it('ERROR twice: rolled back, the Nova fault shown, exit 1, nothing left, no updated file', async () => {
    const h = await start({ scenario: { faults: { serverError: [{ name: '-node-2$', message: 'Build of instance aborted: Volume attachment failed', times: 2 }] } } });
    const r = await add(h, '--amount', '1');
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /demo-node-2 .*rolled-back .*ERROR twice: Build of instance aborted: Volume attachment failed/);
    assert.match(r.stderr, /0 of 1 nodes added/);
    assertGone(h, 'demo-node-2');
    assert.equal(existsSync(h.updatedPath), false);
    assert.deepEqual(h.bootstrapTokens(), []);
  });

  it('quota refusal: exit 2 with need vs free, and not one mutating request', async () => {
    const h = await start({ nodes: 1, scenario: { faults: { quota: { instances: 3 } } } });
    h.sim.resetCounters();
    const r = await add(h, '--amount', '2');
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /quota: instances needs 2, only 1 free/);
    assert.match(r.stderr, /nothing was created/);
    assert.deepEqual(h.mutations(), {}, 'no POST/PUT/PATCH/DELETE reached OpenStack or Kubernetes');
    assert.deepEqual(h.serverNames(), ['demo-node-1']);
  });

  it('a node that never joins: diagnosis from the console shown, rolled back, exit 1', async () => {
    const h = await start({ scenario: { faults: { kubeletNeverJoins: ['-node-2$'] } } });
    const r = await h.kadd(['add', '--poll-interval', '25', '--boot-timeout', '6', '--timeout', '1', '--amount', '1', h.cfgPath]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /demo-node-2/);
    assert.match(r.stdout, /did not join within 1s/);
    assert.match(r.stderr, /pre-flight checks|preflight/i, 'the console tail is part of the diagnosis');
    assert.doesNotMatch(r.stderr, /next step: run .kadd logs/, 'no hint that cannot work: the server was rolled back');
    assert.match(r.stderr, /hint: .*--keep-failed/);
    assertGone(h, 'demo-node-2');
    assert.equal(h.nodes().has('demo-node-2'), false);
  });

  it('partial success: keeps what joined, rolls back the rest, writes the file for what joined, exit 3', async () => {
    const h = await start({ scenario: { faults: { kubeletNeverJoins: ['-node-3$'] } } });
    const r = await h.kadd(['add', '--poll-interval', '25', '--boot-timeout', '6', '--timeout', '1', '--amount', '2', h.cfgPath]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /1 of 2 nodes added/);
    assert.equal(h.nodes().get('demo-node-2'), true);
    assertGone(h, 'demo-node-3');
    assert.match(readUpdated(h), /^n-nodes: 2\b/m);
    // the node that joined is kept on purpose: the next run is not blocked by "leftovers"
    const report = await findUnfinished(h.cfgPath);
    assert.deepEqual(report.leftovers, [], JSON.stringify(report.leftovers));
  });

  it('429 storms: Retry-After is honoured and the run still succeeds', async () => {
    const storm: NonNullable<Scenario['faults']>['rateLimit'] = [
      { service: 'compute', rate: 0.2, retryAfter: 0.05 },
      { service: 'network', rate: 0.2, retryAfter: 0.05 },
      { service: 'volume', rate: 0.2, retryAfter: 0.05 },
    ];
    // plus one path hit once per run, answered 429 with a long Retry-After once, to measure that kadd waits it out
    const h = await start({ scenario: { faults: { rateLimit: [...storm, { service: 'compute', path: '/os-availability-zone$', rate: 1, retryAfter: 0.4 }] } } });
    const seen: { key: string; at: number }[] = [];
    const core = h.sim.core as unknown as { count(s: string, m: string, p: string): void; record(t: string, s: string, d?: unknown): void };
    const count = core.count.bind(core);
    core.count = (s, m, p) => {
      seen.push({ key: `${s} ${m} ${p}`, at: Date.now() });
      count(s, m, p);
    };
    const record = core.record.bind(core);
    core.record = (t, s, d) => {
      record(t, s, d);
      if (t === 'fault.rateLimit' && s.endsWith('/os-availability-zone')) h.sim.core.patchScenario({ faults: { rateLimit: storm } });
    };
    const r = await add(h, '--amount', '3');
    assert.equal(r.code, 0, r.stderr);
    for (const n of [2, 3, 4]) assert.equal(h.nodes().get(`demo-node-${n}`), true);
    const limited = (h.sim.core.timeline as { type: string }[]).filter((e) => e.type === 'fault.rateLimit').length;
    assert.ok(limited >= 3, `the storm happened (${limited} answers 429)`);
    const az = seen.filter((s) => s.key === 'compute GET /compute/v2.1/os-availability-zone').map((s) => s.at);
    assert.ok(az.length >= 2, `the zone listing was rate limited at least once (${az.length} requests)`);
    assert.ok(az[1]! - az[0]! >= 380, `the retry came ${az[1]! - az[0]!} ms after the 429 (Retry-After 0.4 s)`);
    // later 429s of the storm (if any) ask for 0.05 s
    for (let i = 2; i < az.length; i++) assert.ok(az[i]! - az[i - 1]! >= 45, `retry ${i} came ${az[i]! - az[i - 1]!} ms after the 429 (Retry-After 0.05 s)`);
  });

  it('adopts an existing half-created node (port and boot volume by exact name) instead of duplicating it', async () => {
    const h = await start();
    const tok = await h.sim.token();
    const base = h.sim.baseUrl;
    const req = async (method: string, path: string, body: unknown) => {
      const res = await fetch(`${base}${path}`, { method, headers: { 'x-auth-token': tok, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      assert.ok(res.ok, `${method} ${path}: ${res.status} ${await res.clone().text()}`);
      return (await res.json()) as any;
    };
    const net = [...(h.sim.openstack.store.networks.values() as Iterable<any>)].find((n) => n.name === 'demo-net');
    const port = (await req('POST', '/network/v2.0/ports', { port: { name: 'demo-node-2-port-0', network_id: net.id, description: 'kadd: demo demo-node-2' } })).port;
    const image = [...(h.sim.openstack.store.images.values() as Iterable<any>)].find((i) => i.name === 'ubuntu-22.04');
    const vol = (await req('POST', `/volume/v3/${h.sim.projectId}/volumes`, {
      volume: { name: 'demo-node-2-root', size: 25, imageRef: image.id, availability_zone: 'nova', metadata: { 'kadd-cluster': 'demo', 'kadd-role': 'node', 'kadd-server': 'demo-node-2' } },
    })).volume;
    await until(() => h.volumes().find((v) => v.id === vol.id)?.status === 'available', 3000, 'volume available');

    const dry = await add(h, '--amount', '1', '--dry-run', '-f', 'json');
    assert.equal(dry.code, 0, dry.stderr);
    assert.deepEqual(JSON.parse(dry.stdout).nodes, [{ name: 'demo-node-2', zone: 'nova', flavor: 'm1.small', adopt: 'volume,port' }]);

    h.sim.resetCounters();
    const r = await add(h, '--amount', '1');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /adopting existing resources of demo-node-2/);
    const c = h.counters();
    assert.equal(c['network POST /network/v2.0/ports'] ?? 0, 0, 'no new port');
    assert.equal(c['volume POST /volume/v3/{id}/volumes'] ?? 0, 0, 'no new volume');
    assert.equal(h.ports().filter((p) => p.name === 'demo-node-2-port-0').length, 1);
    const srv = [...(h.sim.openstack.store.servers.values() as Iterable<any>)].find((s) => s.name === 'demo-node-2');
    assert.deepEqual(srv.ports, [port.id]);
    assert.equal(srv.volumes[0].id, vol.id);
    assert.equal(h.nodes().get('demo-node-2'), true);
  });

  it('--dry-run prints the plan (table and -f json) and makes no mutating request', async () => {
    const h = await start({ nodes: 2 });
    h.sim.resetCounters();
    const t = await add(h, '--amount', '3', '--dry-run');
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /plan: add 3 worker\(s\) to demo/);
    assert.match(t.stdout, /demo-node-3\s+nova\s+m1\.small/);
    assert.match(t.stdout, /demo-node-5\s+nova\s+m1\.small/);
    assert.match(t.stdout, /instances\s+3\s+\d+\s+ok/);
    assert.match(t.stdout, /network demo-net \(exists\)/);
    const j = await add(h, '--amount', '2', '--zone', 'az2', '--dry-run', '-f', 'json');
    assert.equal(j.code, 0, j.stderr);
    const plan = JSON.parse(j.stdout);
    assert.deepEqual(plan.nodes.map((n: { name: string; zone: string }) => `${n.name}@${n.zone}`), ['demo-node-3@az2', 'demo-node-4@az2']);
    assert.ok(plan.quota.some((q: { resource: string; need: number }) => q.resource === 'gigabytes' && q.need === 2 * 25));
    assert.ok(plan.userDataBytes > 0 && plan.userDataBytes < 65535);
    assert.deepEqual(h.mutations(), {});
    assert.equal(existsSync(h.updatedPath), false);
  });

  it('--no-wait stops at ACTIVE and leaves the token so the nodes can still join', async () => {
    const h = await start();
    const r = await add(h, '--amount', '2', '--no-wait');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /demo-node-2 .*active/);
    assert.match(r.stderr, /bootstrap token [a-z0-9]{6} stays until/);
    assert.equal(h.bootstrapTokens().length, 1);
    assert.match(readUpdated(h), /^n-nodes: 3\b/m);
    await until(() => h.nodes().get('demo-node-2') === true && h.nodes().get('demo-node-3') === true, 5000, 'the nodes to join after kadd returned');
  });

  it('secrets: --debug output has no token secret, password or user_data', async () => {
    const h = await start();
    const r = await add(h, '--amount', '1', '--debug');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /trace: /, 'the --debug trace is on');
    const srv = [...(h.sim.openstack.store.servers.values() as Iterable<any>)].find((s) => s.name === 'demo-node-2');
    const ud = String(srv.userData ?? '');
    const plain = ud.includes('JoinConfiguration') || ud.includes('kubeadm') ? ud : Buffer.from(ud, 'base64').toString('utf8');
    const tok = /\b([a-z0-9]{6})\.([a-z0-9]{16})\b/.exec(plain);
    assert.ok(tok, 'the user-data carries a bootstrap token');
    const all = r.stderr + r.stdout;
    assert.equal(all.includes(tok[2]!), false, 'token secret leaked');
    assert.equal(all.includes('kadd-secret'), false, 'OpenStack password leaked');
    const b64 = Buffer.from(plain).toString('base64');
    assert.equal(all.includes(b64.slice(0, 60)), false, 'user_data (base64) leaked');
    assert.equal(all.includes('JoinConfiguration'), false, 'user_data (plain) leaked');
  });
});
