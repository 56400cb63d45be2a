/**
 * kadd add --role node on the simulator: each new worker's lifecycle stage events on stderr (one plain line
 * per event off a TTY; they replace add's own per-node progress line) and the per-node `outcomes` of
 * `-f json` on stdout, validated against docs/schemas (add-result.json, node-outcome.json). What the stages
 * say (ids, the IP) is checked against the simulator's state.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import { FAST_FLAGS, ROOT, startKaddSim, type KaddSim } from '../helpers/kadd-sim.js';

const schema = (name: string) => JSON.parse(readFileSync(join(ROOT, 'docs', 'schemas', `${name}.json`), 'utf8')) as object;

function validator() {
  const ajv = new (Ajv as unknown as typeof Ajv.default)({ allErrors: true, strict: false });
  ajv.addSchema(schema('node-outcome'));
  return ajv.compile(schema('add-result'));
}

/** the stage events of one node, in order: "stage state" */
function events(stderr: string, node: string): string[] {
  const re = new RegExp(`^\\d\\d:\\d\\d:\\d\\dZ ${node}: (\\S+) (start|done|failed|skipped|waiting)\\b`, 'gm');
  return [...stderr.matchAll(re)].map((m) => `${m[1]} ${m[2]}`);
}

/** the JSON result, validated against the schema (stdout holds it and nothing else) */
function result(stdout: string): Record<string, any> {
  const out = JSON.parse(stdout) as Record<string, any>;
  const check = validator();
  assert.ok(check(out), JSON.stringify(check.errors, null, 2));
  return out;
}

const stagesOf = (o: { stages: { stage: string; state: string }[] }) => o.stages.map((s) => `${s.stage}:${s.state}`);
/** port and volume are made at once: their order is not fixed */
const sortPair = (xs: string[]) => [...xs.slice(0, 2).sort(), ...xs.slice(2)];

/** the server's id and its port's fixed IP, as the simulator holds them */
function simServer(h: KaddSim, name: string): { id: string; ip: string } {
  const store = h.sim.openstack.store as any;
  const s = [...(store.servers.values() as Iterable<any>)].find((x) => x.name === name);
  return { id: s.id, ip: store.ports.get(s.ports[0]).fixedIps[0].ip_address };
}

describe('kadd add --role node: stage events and -f json outcomes (simulator)', function () {
  this.timeout(60_000);
  let h: KaddSim | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  it('two workers: add > port, volume > server > active > join > add done; outcomes "added" whose stage details are the simulator\'s ids and IPs', async () => {
    h = await startKaddSim({ nodes: 1 });
    const before = h.serverNames();
    const r = await h.kadd(['add', ...FAST_FLAGS, '--amount', '2', '-f', 'json', h.cfgPath]);
    assert.equal(r.code, 0, r.stderr);
    const added = h.serverNames().filter((n) => !before.includes(n));
    assert.equal(added.length, 2);
    const out = result(r.stdout);
    assert.deepEqual(out.outcomes.map((o: any) => o.node).sort(), added);
    for (const name of added) {
      const ev = events(r.stderr, name).filter((e) => !e.endsWith('waiting'));
      assert.equal(ev[0], 'add start');
      assert.equal(ev.at(-1), 'add done');
      const done = ev.filter((e) => e.endsWith(' done')).map((e) => e.split(' ')[0]);
      assert.deepEqual(sortPair(done.slice(0, 2)).concat(done.slice(2)), ['port', 'volume', 'server', 'active', 'join', 'add']);
      // the server is created only once its port and boot volume are there
      assert.ok(ev.indexOf('server start') > ev.indexOf('port done') && ev.indexOf('server start') > ev.indexOf('volume done'), ev.join(', '));
      assert.doesNotMatch(r.stdout, new RegExp(`${name}: `), 'no event line on stdout');

      const o = out.outcomes.find((x: any) => x.node === name);
      assert.equal(o.outcome, 'added');
      assert.deepEqual(sortPair(stagesOf(o)), ['port:done', 'volume:done', 'server:done', 'active:done', 'join:done']);
      const detail = (stage: string) => o.stages.find((s: any) => s.stage === stage).detail;
      const srv = simServer(h, name);
      assert.equal(detail('server'), srv.id);
      assert.equal(detail('active'), srv.ip);
      assert.equal(detail('port'), h.ports().find((p) => p.name === `${name}-port-0`)!.id);
      assert.equal(detail('volume'), h.volumes().find((v) => v.name === `${name}-root`)!.id);
      assert.equal(detail('join'), 'Node Ready');
      assert.equal(h.nodes().get(name), true);
      assert.ok(o.stages.every((s: any) => Number.isInteger(s.elapsedMs) && s.elapsedMs >= 0));
      const node = out.nodes.find((n: any) => n.name === name);
      assert.equal(node.outcome, 'joined');
      assert.equal(node.ip, srv.ip);
    }
  });

  it('a server in ERROR once: active fails, a rollback stage, then the stages again; outcome "added" after two attempts', async () => {
    h = await startKaddSim({ scenario: { faults: { serverError: [{ name: '-node-2$', message: 'No valid host was found.', times: 1 }] } } });
    const r = await h.kadd(['add', ...FAST_FLAGS, '--amount', '1', '-f', 'json', h.cfgPath]);
    assert.equal(r.code, 0, r.stderr);
    const ev = events(r.stderr, 'demo-node-2').filter((e) => !e.endsWith('waiting'));
    assert.ok(ev.includes('active failed') && ev.indexOf('rollback start') > ev.indexOf('active failed'), ev.join(', '));
    const o = result(r.stdout).outcomes[0];
    assert.equal(o.outcome, 'added');
    const st = stagesOf(o);
    assert.deepEqual(sortPair(st.slice(0, 2)).concat(st.slice(2, 5)), ['port:done', 'volume:done', 'server:done', 'active:failed', 'rollback:done']);
    assert.deepEqual(sortPair(st.slice(5)), ['port:done', 'volume:done', 'server:done', 'active:done', 'join:done']);
    assert.match(o.stages[3].detail, /No valid host was found/);
    assert.equal(o.stages.find((s: any) => s.stage === 'server' && o.stages.indexOf(s) > 4).detail, simServer(h, 'demo-node-2').id, 'the second server is the one that exists');
    assert.equal(h.servers().filter((s) => s.name === 'demo-node-2').length, 1);
  });

  it('ERROR twice: outcome "rolled-back" with the fault, the add stage failed, nothing left in the simulator, exit 1', async () => {
    h = await startKaddSim({ scenario: { faults: { serverError: [{ name: '-node-2$', message: 'Build of instance aborted: Volume attachment failed', times: 2 }] } } });
    const r = await h.kadd(['add', ...FAST_FLAGS, '--amount', '1', '-f', 'json', h.cfgPath]);
    assert.equal(r.code, 1, r.stderr);
    const ev = events(r.stderr, 'demo-node-2');
    assert.equal(ev.at(-1), 'add failed');
    assert.equal(ev.filter((e) => e === 'rollback done').length, 2);
    const out = result(r.stdout);
    const o = out.outcomes[0];
    assert.equal(o.outcome, 'rolled-back');
    assert.match(o.error, /ERROR twice: Build of instance aborted/);
    assert.equal(o.error, out.nodes[0].cause);
    assert.deepEqual(stagesOf(o).filter((s) => !/^(port|volume):/.test(s)), ['server:done', 'active:failed', 'rollback:done', 'server:done', 'active:failed', 'rollback:done']);
    assert.deepEqual(h.servers().filter((s) => s.name === 'demo-node-2'), []);
    assert.deepEqual(h.ports().filter((p) => p.name === 'demo-node-2-port-0'), []);
  });

  it('--keep-failed and a node that never joins: the join stage fails, outcome "kept" (its server stays in the simulator)', async () => {
    h = await startKaddSim({ scenario: { faults: { kubeletNeverJoins: ['-node-2$'] } } });
    const r = await h.kadd(['add', '--poll-interval', '25', '--boot-timeout', '6', '--timeout', '1', '--keep-failed', '--amount', '1', '-f', 'json', h.cfgPath]);
    assert.equal(r.code, 1, r.stderr);
    const ev = events(r.stderr, 'demo-node-2');
    assert.deepEqual(ev.slice(-2), ['join failed', 'add failed']);
    const o = result(r.stdout).outcomes[0];
    assert.equal(o.outcome, 'kept');
    assert.match(o.reason, /^--keep-failed: did not join within 1s/);
    assert.deepEqual(stagesOf(o).slice(-1), ['join:failed']);
    assert.ok(!stagesOf(o).some((s) => s.startsWith('rollback')), 'nothing rolled back');
    assert.equal(o.stages.find((s: any) => s.stage === 'server').detail, simServer(h, 'demo-node-2').id, 'the kept server is the one in the cloud');
  });

  it('--no-wait: the join stage is skipped and the node counts as added', async () => {
    h = await startKaddSim({});
    const r = await h.kadd(['add', ...FAST_FLAGS, '--amount', '1', '--no-wait', '-f', 'json', h.cfgPath]);
    assert.equal(r.code, 0, r.stderr);
    const o = result(r.stdout).outcomes[0];
    assert.equal(o.outcome, 'added');
    assert.deepEqual(stagesOf(o).slice(-1), ['join:skipped']);
    assert.ok(events(r.stderr, 'demo-node-2').includes('join skipped'));
  });
});
