/**
 * Schema honesty: every Kubernetes object the simulator serves (Nodes, Pods of every kind, PDBs, Evictions'
 * Status answers, VolumeAttachments, PVs/PVCs, Leases, Secrets, ConfigMaps, Deployments, ReplicaSets,
 * DaemonSets, Namespaces) validates against the Kubernetes OpenAPI schema (kubernetes-models) with no field the
 * schema does not know (client-node's generated models); the bodies clients sent are checked the same way.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'mocha';
import { RESOURCES } from '../sim/kube/cluster.js';
import { startKube, until, type Harness } from './kube-helpers.js';
import { validateK8s, validateRequests } from './k8s-schema.js';

const J = (r: Response) => r.json() as Promise<any>;

describe('sim kube: every object served validates against the Kubernetes schema', function () {
  this.timeout(60_000);
  let h: Harness;
  before(async () => {
    h = await startKube({ masters: 3, nodes: 3, clusterName: 's' }, { seed: 41, kube: { podStartup: { fixed: 3_600_000 } } });
    h.sim.createToken();
    h.sim.addWorkload({ name: 'api', replicas: 3, nodes: ['s-node-1'], requests: { cpu: '100m', memory: '64Mi' }, pdb: { maxUnavailable: '33%', unhealthyPodEvictionPolicy: 'AlwaysAllow' } });
    h.sim.addWorkload({ kind: 'DaemonSet', name: 'agent' });
    h.sim.addWorkload({ kind: 'Static', name: 'probe', nodes: ['s-node-1'] });
    h.sim.addWorkload({ kind: 'Bare', name: 'scratch', emptyDir: true, crashLoop: true });
    h.sim.addWorkload({ name: 'db', pvc: true, terminationMs: 3_600_000 });
    h.sim.setNodeState('s-node-3', 'NotReady');
    h.sim.setNodeState('s-node-2', 'Unreachable');
    await until(() => h.sim.volumeAttachments().some((v) => v.status.attached));
  });
  after(() => h.close());

  for (const r of RESOURCES) {
    it(`${r.kind}: list and each item`, async () => {
      const base = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
      const list = await J(await fetch(`${h.url}${base}/${r.plural}`));
      assert.ok(list.items.length > 0, `the simulator has some ${r.plural}`);
      assert.deepEqual(await validateK8s(list), []);
      for (const it of list.items.slice(0, 40)) {
        const path = r.namespaced ? `${base}/namespaces/${it.metadata.namespace}/${r.plural}/${it.metadata.name}` : `${base}/${r.plural}/${it.metadata.name}`;
        const o = await J(await fetch(h.url + path));
        assert.deepEqual(await validateK8s(o), [], `${path}`);
      }
    });
  }

  it('Eviction answers (201, 429, 500, 404) are valid Status objects; the Eviction bodies sent too', async () => {
    const pods = h.sim.pods('default').filter((p) => p.metadata.labels?.app === 'api');
    const ev = (n: string, body?: any) => fetch(`${h.url}/api/v1/namespaces/default/pods/${n}/eviction`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body ?? { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: n, namespace: 'default' }, deleteOptions: { gracePeriodSeconds: 30 } }) });
    const answers = [await ev(pods[0]!.metadata.name), await ev(pods[1]!.metadata.name), await ev('nope')];
    await fetch(`${h.url}/apis/policy/v1/namespaces/default/poddisruptionbudgets`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'api2' }, spec: { minAvailable: 1, selector: { matchLabels: { app: 'api' } } } }) });
    answers.push(await ev(pods[2]!.metadata.name));
    assert.deepEqual(answers.map((r) => r.status), [201, 429, 404, 500]);
    for (const a of answers) assert.deepEqual(await validateK8s(await J(a)), []);
    assert.deepEqual(await validateRequests(h.sim.requests()), []);
  });

  it('the checks can fail: a wrong type, a missing required field, an invented field, a bad request body', async () => {
    const node = await J(await fetch(`${h.url}/api/v1/nodes/s-node-1`));
    node.spec.unschedulable = 'yes';
    node.status.conditions[0].lastTransitionTime = 'yesterday';
    node.spec.drainedBy = 'kadd';
    const errs = await validateK8s(node);
    assert.ok(errs.some((e) => /unschedulable must be boolean/.test(e)), errs.join('\n'));
    assert.ok(errs.some((e) => /lastTransitionTime must match format "date-time"/.test(e)), errs.join('\n'));
    assert.ok(errs.some((e) => /spec\.drainedBy: unknown field of V1NodeSpec/.test(e)), errs.join('\n'));
    const pdb = { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'x' }, spec: { minAvailable: 1 }, status: { expectedPods: 1 } };
    assert.ok((await validateK8s(pdb)).some((e) => /required property/.test(e)), 'PDB status without its required counters');
    await fetch(`${h.url}/api/v1/namespaces/default/pods/nope/eviction`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'nope' }, deleteOption: {} }) });
    await fetch(`${h.url}/api/v1/nodes/s-node-1`, { method: 'PATCH', headers: { 'content-type': 'application/merge-patch+json' }, body: JSON.stringify({ spec: { unschedulabel: true } }) });
    const bad = await validateRequests(h.sim.requests());
    assert.equal(bad.length, 2, JSON.stringify(bad));
    assert.match(bad[0]!.errors.join(), /deleteOption: unknown field of V1Eviction/);
    assert.match(bad[1]!.errors.join(), /spec\.unschedulabel: unknown field of V1NodeSpec/);
  });
});
