import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Journal, findUnfinished } from '../../../lib/journal/index.js';
import { OpenStackError, OperationError } from '../../../lib/errors.js';
import { clearSecrets, registerSecret } from '../../../lib/redact.js';
import { Ledger, canAdopt, isDefiniteRefusal, nodeOf, type NodeReaper, type Reaped, type Ref } from '../../../lib/ops/engine/ledger.js';

describe('engine: ledger (journal + undo list as one)', () => {
  let dir = '';
  let cfg = '';
  let journal: Journal;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kadd-ledger-'));
    cfg = join(dir, 'cfg.yml');
    writeFileSync(cfg, 'cluster-name: demo\n');
    journal = await Journal.open(cfg);
    await journal.begin({ command: 'add --role node' });
  });
  afterEach(async () => {
    await journal.close().catch(() => undefined);
    clearSecrets();
    rmSync(dir, { recursive: true, force: true });
  });

  it('create: intent before the side effect, done with the id after; the ref is undo material of its node', async () => {
    const l = new Ledger(journal, 'demo');
    let journaledBefore = '';
    const port = await l.create({ kind: 'port', name: 'demo-node-2-port-0', node: 'demo-node-2' }, async () => {
      journaledBefore = readFileSync(journal.path, 'utf8');
      return { id: 'p-1' };
    });
    assert.equal(port.id, 'p-1');
    assert.match(journaledBefore, /"t":"intent".*"kind":"port","name":"demo-node-2-port-0"/, 'the intent is on disk before the create runs');
    assert.deepEqual(l.of('demo-node-2').map((r) => [r.kind, r.id, r.source]), [['port', 'p-1', 'created']]);
    await journal.close();
    const left = (await findUnfinished(cfg)).leftovers;
    assert.deepEqual(left.map((x) => [x.kind, x.name, x.id, x.state]), [['port', 'demo-node-2-port-0', 'p-1', 'created']]);
  });

  it('a definite refusal (413 quota, 403, 400) is journaled as not created: no phantom leftover (13.4)', async () => {
    const l = new Ledger(journal, 'demo');
    for (const status of [413, 403, 400]) {
      const e = new OpenStackError(`over quota ${status}`, { status, service: 'block-storage', method: 'POST' });
      await assert.rejects(l.create({ kind: 'volume', name: `demo-node-${status}-root`, node: `demo-node-${status}` }, async () => { throw e; }), (x) => x === e);
    }
    assert.deepEqual(l.all(), [], 'nothing to undo');
    await journal.close();
    const report = await findUnfinished(cfg);
    assert.deepEqual(report.leftovers, [], 'a later run is not refused for resources that never existed');
    const text = readFileSync(journal.path, 'utf8');
    assert.equal((text.match(/"notCreated"/g) ?? []).length, 3);
  });

  it('an uncertain failure (timeout, 5xx on a POST) stays "may exist" so cleanup looks it up by name', async () => {
    const l = new Ledger(journal, 'demo');
    const e = new OpenStackError('502', { status: 502, service: 'compute', method: 'POST', code: 'E_OPENSTACK_UNCERTAIN' });
    assert.equal(isDefiniteRefusal(e), false);
    assert.equal(isDefiniteRefusal(new OperationError('E_X', 'timeout')), false);
    await assert.rejects(l.create({ kind: 'server', name: 'demo-node-2', node: 'demo-node-2' }, async () => { throw e; }));
    assert.deepEqual(l.of('demo-node-2').map((r) => r.source), ['maybe']);
    await journal.close();
    assert.deepEqual((await findUnfinished(cfg)).leftovers.map((x) => [x.kind, x.state]), [['server', 'maybe']]);
  });

  it('an id known before the create (bootstrap token) is journaled with the intent, so a crash leaves it findable (13.6)', async () => {
    const l = new Ledger(journal, 'demo');
    await journal.intent('token', 'bootstrap-token', undefined, 'abcdef'); // as create() does, then kill -9
    void l;
    await journal.close();
    const left = (await findUnfinished(cfg)).leftovers;
    assert.deepEqual(left.map((x) => [x.kind, x.id, x.state]), [['token', 'abcdef', 'maybe']]);
  });

  it('keep(node) journals kept: what joined is not a leftover even when the operation ends failed', async () => {
    const l = new Ledger(journal, 'demo');
    await l.create({ kind: 'server', name: 'demo-node-2', node: 'demo-node-2' }, async () => ({ id: 's-2' }));
    await l.create({ kind: 'server', name: 'demo-node-3', node: 'demo-node-3' }, async () => ({ id: 's-3' }));
    const kept = await l.keep('demo-node-2');
    assert.deepEqual(kept.map((r) => r.id), ['s-2']);
    assert.deepEqual(l.nodes(), ['demo-node-3']);
    await journal.end('failed');
    assert.deepEqual((await findUnfinished(cfg)).leftovers.map((x) => x.name), ['demo-node-3']);
  });

  it('teardown: deleted and absent refs are journaled undone; refused, failed and kept ones stay leftovers', async () => {
    const l = new Ledger(journal, 'demo');
    await l.create({ kind: 'port', name: 'demo-node-2-port-0', node: 'demo-node-2' }, async () => ({ id: 'p' }));
    await l.create({ kind: 'volume', name: 'demo-node-2-root', node: 'demo-node-2' }, async () => ({ id: 'v' }));
    await l.create({ kind: 'server', name: 'demo-node-2', node: 'demo-node-2' }, async () => ({ id: 's' }));
    const seen: Ref[][] = [];
    const reaper: NodeReaper = {
      async reapNode(_node, refs) {
        seen.push(refs);
        const state = (r: Ref): Reaped['state'] => (r.kind === 'server' ? 'deleted' : r.kind === 'volume' ? 'absent' : 'failed');
        return refs.map((r) => ({ ref: r, state: state(r), ...(r.kind === 'port' ? { reason: 'boom' } : {}) }));
      },
    };
    const r = await l.teardown('demo-node-2', reaper, { readyNode: 'delete' });
    assert.deepEqual(seen[0]!.map((x) => x.kind), ['port', 'volume', 'server']);
    assert.deepEqual(r.deleted.map((x) => x.ref.kind), ['server'], 'only a deletion that happened is reported as one');
    assert.deepEqual(r.left.map((x) => [x.ref.kind, x.reason]), [['port', 'boom']]);
    assert.deepEqual(l.of('demo-node-2').map((x) => x.kind), ['port']);
    await journal.end('failed');
    assert.deepEqual((await findUnfinished(cfg)).leftovers.map((x) => x.kind), ['port']);
  });

  it('fromLeftovers: an earlier run\'s records become refs of their servers (journal proof or maybe)', async () => {
    await journal.intent('port', 'demo-master-2-port-0');
    await journal.done('port', 'demo-master-2-port-0', 'p-9');
    await journal.intent('volume', 'demo-master-2-root');
    await journal.intent('etcd-member', 'demo-master-1', { remove: 'abc' });
    await journal.intent('token', 'bootstrap-token', undefined, 'tok123');
    await journal.close();
    const report = await findUnfinished(cfg);
    const j2 = await Journal.open(cfg);
    await j2.begin({ command: 'cleanup' });
    const l = Ledger.fromLeftovers(j2, 'demo', report.leftovers);
    assert.deepEqual(l.nodes(), ['demo-master-2']);
    assert.deepEqual(l.of('demo-master-2').map((r) => [r.kind, r.id, r.source]), [['port', 'p-9', 'journal'], ['volume', undefined, 'maybe']]);
    assert.deepEqual(l.of('').map((r) => [r.kind, r.id]), [['etcd-member', undefined], ['token', 'tok123']]);
    await j2.close();
  });

  it('nodeOf: kadd\'s names only, the right suffix per kind', () => {
    assert.equal(nodeOf('demo', 'volume', 'demo-node-12-root'), 'demo-node-12');
    assert.equal(nodeOf('demo', 'port', 'demo-master-3-port-0'), 'demo-master-3');
    assert.equal(nodeOf('demo', 'volume', 'demo-node-12-port-0'), '');
    assert.equal(nodeOf('demo', 'server', 'demo-node-12-root'), '');
    assert.equal(nodeOf('demo', 'server', 'demox-node-1'), '');
    assert.equal(nodeOf('demo', 'token', 'bootstrap-token'), '');
    assert.equal(nodeOf('demo', 'lb-member', 'demo-master-2'), 'demo-master-2');
  });

  it('canAdopt (13.9): journaled, or kadd\'s proof and not held by a live server that is not the node\'s own', () => {
    const base = { kind: 'port' as const, cluster: 'demo', node: 'demo-node-2', journaled: false };
    assert.equal(canAdopt(base).ok, false, 'a name alone is no proof');
    assert.equal(canAdopt({ ...base, tags: ['kadd-cluster=other'] }).ok, false);
    assert.equal(canAdopt({ ...base, description: 'kadd: demo demo-node-2' }).ok, true, 'the description written in the create proves it (13.1)');
    assert.equal(canAdopt({ ...base, tags: ['kadd-cluster=demo'], heldBy: ['s-other'] }).ok, false, 'in use by another run\'s server');
    assert.equal(canAdopt({ ...base, tags: ['kadd-cluster=demo'], heldBy: ['s-own'], mayHold: ['s-own'] }).ok, true);
    assert.equal(canAdopt({ ...base, journaled: true }).ok, true);
    assert.equal(canAdopt({ ...base, kind: 'volume', metadata: { 'kadd-cluster': 'demo' }, status: 'deleting' }).ok, false, 'never adopt what is being deleted (13.11)');
  });

  it('secrets never enter the journal through the ledger', async () => {
    const l = new Ledger(journal, 'demo');
    const secret = 'abcdef0123456789';
    registerSecret(secret);
    await l.create({ kind: 'token', name: 'bootstrap-token', node: '', id: 'tokid1', details: { note: `token tokid1.${secret}` } }, async () => ({ id: 'tokid1' }));
    await journal.close();
    assert.doesNotMatch(readFileSync(journal.path, 'utf8'), new RegExp(secret));
  });
});
