/**
 * kadd replace: what cfg.updated.yml gets (configChanges, pure): a change is written once every node it applies
 * to runs as requested -- the flavor per role, the image and the Kubernetes version once every node does.
 */
import assert from 'node:assert/strict';
import { configChanges } from '../../lib/ops/replace-run.js';

const machines = [
  { name: 'demo-master-1', role: 'master' as const },
  { name: 'demo-node-1', role: 'node' as const },
  { name: 'demo-node-2', role: 'node' as const },
];
const set = (...x: string[]) => new Set(x);

describe('replace: the cluster file changes (pure)', () => {
  it('--flavor: master_flavor once every master is replaced, node_flavor once every worker is', () => {
    const req = { flavor: 'm1.large' };
    assert.deepEqual(configChanges(machines, set('demo-node-1', 'demo-node-2'), set('demo-node-3', 'demo-node-4'), req), { node_flavor: 'm1.large' });
    assert.deepEqual(configChanges(machines, set('demo-master-1'), set('demo-master-2'), req), { master_flavor: 'm1.large' });
    assert.deepEqual(configChanges(machines, set('demo-node-1'), set('demo-node-3'), req), {}, 'one worker left on the old flavor');
    assert.deepEqual(configChanges(machines, set('demo-master-1', 'demo-node-1', 'demo-node-2'), set(), req), { master_flavor: 'm1.large', node_flavor: 'm1.large' });
  });

  it('--image and --k8s-version: only once every node of both roles is replaced; a node this roll built counts as done', () => {
    const req = { image: 'ubuntu-24.04', k8sVersion: '1.31.0' };
    assert.deepEqual(configChanges(machines, set('demo-node-1', 'demo-node-2'), set(), req, '1.31.0'), {}, 'the master still runs the old image');
    assert.deepEqual(configChanges(machines, set('demo-master-1', 'demo-node-1', 'demo-node-2'), set(), req, '1.31.0'), { image: 'ubuntu-24.04', 'version.k8s': '1.31.0' });
    // a resumed roll sees its own new nodes among the machines: built by it, so done
    const seen = [...machines, { name: 'demo-node-3', role: 'node' as const }];
    assert.deepEqual(configChanges(seen, set('demo-master-1', 'demo-node-1', 'demo-node-2'), set('demo-node-3'), req, '1.31.0'), { image: 'ubuntu-24.04', 'version.k8s': '1.31.0' });
    assert.deepEqual(configChanges(machines, set('demo-master-1', 'demo-node-1', 'demo-node-2'), set(), {}), {}, 'nothing requested, nothing written');
  });
});
