/** add --role master on the runner: the journal's own nodes before the drift check (pure parts). */
import assert from 'node:assert/strict';
import { reconcileMasters, uncountedMasters } from '../../lib/ops/add-master-verb.js';

const lines: string[] = [];
const ctx = { io: { log: (_l: string, m: string) => lines.push(m) } } as never;
const config = { clusterName: 'demo', nMasters: 1, file: 'cfg.yml' } as never;

describe('add --role master: the journal\'s own nodes and the drift check', () => {
  it('a master an unfinished run kept (joined, the file never written) is counted, not reported as drift', () => {
    const report = { operations: [{ op: 'a1', command: 'add --role master' }] } as never;
    const records = [
      { t: 'begin', op: 'a1' }, { t: 'kept', op: 'a1', kind: 'server', name: 'demo-master-2' }, { t: 'kept', op: 'a1', kind: 'volume', name: 'demo-master-2-root' },
      { t: 'kept', op: 'done-op', kind: 'server', name: 'demo-master-9' },
    ];
    const own = uncountedMasters(report, records);
    assert.deepEqual(own, ['demo-master-2']);
    const seen = { servers: ['demo-master-1', 'demo-master-2'], controlPlaneNodes: ['demo-master-1', 'demo-master-2'] };
    const c = reconcileMasters(ctx, config, seen, [], own, { acceptDrift: false, configArg: 'cfg.yml' });
    assert.equal((c as { nMasters: number }).nMasters, 2);
    assert.match(lines.join('\n'), /added demo-master-2 but died before it wrote the cluster file/);
  });

  it('without the journal\'s own nodes the same counts are still drift (exit 2), and leftovers are not counted', () => {
    const seen = { servers: ['demo-master-1', 'demo-master-2'], controlPlaneNodes: ['demo-master-1'] };
    assert.throws(() => reconcileMasters(ctx, config, seen, [], [], { acceptDrift: false, configArg: 'cfg.yml' }), /E_CONFIG_DRIFT|says n-masters: 1, the cluster has 2/);
    const c = reconcileMasters(ctx, config, seen, ['demo-master-2'], [], { acceptDrift: false, configArg: 'cfg.yml' });
    assert.equal((c as { nMasters: number }).nMasters, 1);
  });
});
