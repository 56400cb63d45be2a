import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'mocha';
import { kubeconfigYaml, startKube, type Harness } from './kube-helpers.js';

const ref = (f: string) => JSON.parse(readFileSync(new URL(`../../fixtures/sim/k8s/reference/${f}`, import.meta.url), 'utf8'));
const type = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

/** every key of the reference example exists in the body with the same JSON type (recursively) */
function sameShape(refv: any, got: any, path = '$', fixedMaps = new Set(['labels', 'annotations', 'capacity', 'allocatable', 'data', 'matchLabels'])): string[] {
  if (type(refv) !== type(got)) return [`${path}: ${type(refv)} expected, ${type(got)} found`];
  if (Array.isArray(refv)) return refv.length && got.length ? sameShape(refv[0], got[0], `${path}[0]`, fixedMaps) : [];
  if (refv && typeof refv === 'object') {
    const key = path.split('.').pop()!;
    if (fixedMaps.has(key)) return [];
    return Object.keys(refv).flatMap((k) => (k in got ? sameShape(refv[k], got[k], `${path}.${k}`, fixedMaps) : [`${path}.${k}: missing`]));
  }
  return [];
}

describe('sim kube: fidelity against API reference examples', function () {
  this.timeout(20000); // loading @kubernetes/client-node and a loaded machine; not only under .mocharc
  let h: Harness;
  before(async () => {
    h = await startKube({ masters: 1, nodes: 2, clusterName: 'f' }, { seed: 1 });
    h.sim.createToken();
  });
  after(() => h.close());
  const get = async (p: string, init?: RequestInit) => (await fetch(h.url + p, init)).json();

  it('Node', async () => assert.deepEqual(sameShape(ref('node.json'), await get('/api/v1/nodes/f-node-1')), []));
  it('Pod (static etcd pod)', async () => assert.deepEqual(sameShape(ref('pod.json'), await get('/api/v1/namespaces/kube-system/pods/etcd-f-master-1')), []));
  it('bootstrap-token Secret', async () => {
    const s = (await get('/api/v1/namespaces/kube-system/secrets?fieldSelector=type%3Dbootstrap.kubernetes.io%2Ftoken')) as any;
    assert.deepEqual(sameShape({ ...ref('secret-bootstrap-token.json'), kind: undefined, apiVersion: undefined }, { ...s.items[0], kind: undefined, apiVersion: undefined }), []);
  });
  it('Status NotFound', async () => assert.deepEqual(await get('/api/v1/namespaces/default/pods/x'), ref('status-notfound.json')));
  it('PodDisruptionBudget and the 429 eviction Status', async () => {
    assert.deepEqual(sameShape(ref('pdb.json'), await get('/apis/policy/v1/namespaces/default/poddisruptionbudgets/web')), []);
    await fetch(h.url + '/apis/policy/v1/namespaces/default/poddisruptionbudgets/web', { method: 'PATCH', headers: { 'content-type': 'application/merge-patch+json' }, body: JSON.stringify({ spec: { minAvailable: 3 } }) });
    const pod = ((await get('/api/v1/namespaces/default/pods?labelSelector=app%3Dweb')) as any).items[0].metadata.name;
    const r = await fetch(`${h.url}/api/v1/namespaces/default/pods/${pod}/eviction`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: pod, namespace: 'default' } }) });
    assert.equal(r.status, 429);
    assert.deepEqual(sameShape(ref('status-eviction-429.json'), await r.json()), []);
  });
  it('/version', async () => assert.deepEqual(sameShape(ref('version.json'), await get('/version')), []));
  it('client-node deserializes the bodies without loss', async () => {
    const k8s = await import('@kubernetes/client-node');
    const kc = new k8s.KubeConfig();
    kc.loadFromString(kubeconfigYaml(h.url));
    const n = await kc.makeApiClient(k8s.CoreV1Api).readNode({ name: 'f-node-1' });
    h.sim.attachServer('f-node-1', 'srv-1');
    assert.equal((await kc.makeApiClient(k8s.CoreV1Api).readNode({ name: 'f-node-1' })).spec!.providerID, 'openstack:///srv-1');
    assert.equal(n.status!.nodeInfo!.kubeletVersion, 'v1.30.4');
    assert.ok(n.metadata!.creationTimestamp instanceof Date);
  });
});
