import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Journal, findUnfinished } from '../../lib/journal/index.js';

describe('journal: kept resources are not leftovers', () => {
  let dir: string;
  let cfg: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kadd-journal-kept-'));
    cfg = join(dir, 'cfg.yml');
    writeFileSync(cfg, 'cluster-name: k\n');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('a failed run: the network it created and the node that joined are kept, the rest is left over', async () => {
    const j = await Journal.open(cfg);
    await j.begin({ command: 'add --role node' });
    await j.intent('network', 'k-net');
    await j.done('network', 'k-net', 'n1');
    await j.intent('security-group', 'k-sec-group');
    await j.done('security-group', 'k-sec-group', 'sg1');
    for (const n of ['k-node-1', 'k-node-2']) {
      await j.intent('port', `${n}-port-0`);
      await j.done('port', `${n}-port-0`, `p-${n}`);
      await j.intent('server', n);
      await j.done('server', n, `s-${n}`);
    }
    await j.kept('server', 'k-node-1', 's-k-node-1');
    await j.kept('port', 'k-node-1-port-0', 'p-k-node-1');
    await j.end('failed');
    await j.close();
    const r = await findUnfinished(cfg);
    assert.deepEqual(r.leftovers.map((l) => `${l.kind} ${l.name}`).sort(), ['port k-node-2-port-0', 'server k-node-2']);
    assert.equal(r.operations.length, 1);
  });

  it('a crash right after creating the network leaves nothing to clean up', async () => {
    const j = await Journal.open(cfg);
    await j.begin({ command: 'add --role node' });
    await j.intent('network', 'k-net');
    await j.intent('router', 'k-rt');
    // no done, no end: kill -9
    const r = await findUnfinished(cfg);
    assert.deepEqual(r.leftovers, []);
    await j.close();
  });
});
