/** KubeApi methods the drain uses, against recorded API answers (nock, network closed). */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import nock from 'nock';
import { createKubeApi } from '../../lib/kube/client.js';
import { loadKubeconfig } from '../../lib/kube/config.js';
import { nullIo } from '../../lib/io.js';
import type { KubeApi } from '../../lib/kube/types.js';

const SERVER = 'https://k8s.test:6443';
const KC = `
current-context: x
clusters: [{ name: c, cluster: { server: ${SERVER}, insecure-skip-tls-verify: true } }]
users: [{ name: u, user: { token: admin-token-value-123 } }]
contexts: [{ name: x, context: { cluster: c, user: u } }]
`;
const status = (code: number, reason: string, message: string, details?: object) => ({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code, ...(details ? { details } : {}) });

describe('kube/client: drain API (nock)', function () {
  // the first call loads @kubernetes/client-node (seconds on a loaded machine)
  this.timeout(60000);
  let kube: KubeApi;
  before(async () => {
    nock.disableNetConnect();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kadd-kd-'));
    writeFileSync(path.join(dir, 'config'), KC);
    kube = createKubeApi(await loadKubeconfig({ kubeconfig: path.join(dir, 'config'), env: {}, cwd: dir }), { io: nullIo });
    rmSync(dir, { recursive: true, force: true });
  });
  afterEach(() => {
    const pending = nock.pendingMocks();
    nock.cleanAll();
    assert.deepEqual(pending, []);
  });
  after(() => nock.enableNetConnect());

  it('a dry-run eviction sends DryRun=All in the Eviction body and the query; 201 = evicted', async () => {
    let body: any;
    nock(SERVER).post('/api/v1/namespaces/default/pods/web-1/eviction').query({ dryRun: 'All' }).reply(201, (_u, b) => {
      body = b;
      return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 };
    });
    assert.deepEqual(await kube.evictPod('default', 'web-1', { dryRun: true }), { outcome: 'evicted' });
    assert.equal(body.kind, 'Eviction');
    assert.equal(body.apiVersion, 'policy/v1');
    assert.deepEqual(body.metadata, { name: 'web-1', namespace: 'default' });
    assert.deepEqual(body.deleteOptions.dryRun, ['All']);
  });

  it('429 (budget) -> blocked with the budget message; 500 (two budgets) -> multiple-pdbs; 404 -> gone; 403 NamespaceTerminating -> retry', async () => {
    nock(SERVER).post('/api/v1/namespaces/default/pods/a/eviction').reply(429, status(429, 'TooManyRequests', "Cannot evict pod as it would violate the pod's disruption budget.", { causes: [{ reason: 'DisruptionBudget', message: 'The disruption budget web needs 3 healthy pods and has 3 currently' }] }));
    const b = await kube.evictPod('default', 'a', { gracePeriodSeconds: 1, uid: 'u1' });
    assert.equal(b.outcome, 'blocked');
    assert.match((b as { message: string }).message, /disruption budget web needs 3 healthy pods/);
    nock(SERVER).post('/api/v1/namespaces/default/pods/b/eviction').reply(500, status(500, 'InternalError', 'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.'));
    assert.equal((await kube.evictPod('default', 'b')).outcome, 'multiple-pdbs');
    nock(SERVER).post('/api/v1/namespaces/default/pods/c/eviction').reply(404, status(404, 'NotFound', 'pods "c" not found'));
    assert.deepEqual(await kube.evictPod('default', 'c'), { outcome: 'gone' });
    nock(SERVER).post('/api/v1/namespaces/gone/pods/d/eviction').reply(403, status(403, 'Forbidden', 'namespace gone is being terminated', { causes: [{ reason: 'NamespaceTerminating', message: 'namespace gone is being terminated' }] }));
    assert.equal((await kube.evictPod('gone', 'd')).outcome, 'namespace-terminating');
    nock(SERVER).post('/api/v1/namespaces/default/pods/e/eviction').reply(500, status(500, 'InternalError', 'etcdserver: request timed out'));
    await assert.rejects(kube.evictPod('default', 'e'), /request timed out/);
  });

  it('pods by node: fieldSelector spec.nodeName, controller, mirror annotation, volumes, requests (init max)', async () => {
    nock(SERVER).get('/api/v1/pods').query({ fieldSelector: 'spec.nodeName=w1' }).reply(200, {
      kind: 'PodList', apiVersion: 'v1', metadata: {},
      items: [{
        metadata: { name: 'p', namespace: 'default', uid: 'u', ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: 'x', controller: true }], deletionTimestamp: '2026-01-01T00:00:00Z' },
        spec: {
          nodeName: 'w1', volumes: [{ name: 'tmp', emptyDir: {} }, { name: 'data', persistentVolumeClaim: { claimName: 'pvc-1' } }],
          containers: [{ name: 'a', resources: { requests: { cpu: '100m', memory: '64Mi' } } }, { name: 'b', resources: { requests: { cpu: '0.2' } } }],
          initContainers: [{ name: 'i', resources: { requests: { cpu: '500m' } } }],
        },
        status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
      }],
    });
    const [p] = await kube.listPodsOnNode('w1');
    assert.deepEqual(p!.controller, { kind: 'ReplicaSet', name: 'rs', apiVersion: 'apps/v1' });
    assert.deepEqual(p!.emptyDirVolumes, ['tmp']);
    assert.deepEqual(p!.pvcVolumes, ['pvc-1']);
    assert.deepEqual(p!.requests, { cpuMilli: 500, memoryBytes: 64 * 2 ** 20 });
    assert.equal(p!.deletionTimestamp, '2026-01-01T00:00:00.000Z');
    assert.equal(p!.ready, true);
  });

  it('PDBs with status; VolumeAttachments of one node; a missing storage API is no attachments', async () => {
    nock(SERVER).get('/apis/policy/v1/poddisruptionbudgets').reply(200, {
      kind: 'PodDisruptionBudgetList', apiVersion: 'policy/v1', metadata: {},
      items: [{ metadata: { name: 'web', namespace: 'default' }, spec: { maxUnavailable: 0, selector: { matchLabels: { app: 'web' } }, unhealthyPodEvictionPolicy: 'AlwaysAllow' }, status: { currentHealthy: 1, desiredHealthy: 1, disruptionsAllowed: 0, expectedPods: 1, observedGeneration: 1 } }],
    });
    const [d] = await kube.listPodDisruptionBudgets();
    assert.equal(d!.maxUnavailable, 0);
    assert.equal(d!.unhealthyPodEvictionPolicy, 'AlwaysAllow');
    assert.deepEqual(d!.selector, { matchLabels: { app: 'web' } });
    nock(SERVER).get('/apis/storage.k8s.io/v1/volumeattachments').reply(200, {
      kind: 'VolumeAttachmentList', apiVersion: 'storage.k8s.io/v1', metadata: {},
      items: [
        { metadata: { name: 'csi-1' }, spec: { attacher: 'cinder.csi.openstack.org', nodeName: 'w1', source: { persistentVolumeName: 'pv-1' } }, status: { attached: true } },
        { metadata: { name: 'csi-2' }, spec: { attacher: 'cinder.csi.openstack.org', nodeName: 'w2', source: { persistentVolumeName: 'pv-2' } }, status: { attached: true } },
      ],
    });
    assert.deepEqual(await kube.listVolumeAttachments('w1'), [{ name: 'csi-1', nodeName: 'w1', attached: true, attacher: 'cinder.csi.openstack.org', pvName: 'pv-1' }]);
    nock(SERVER).get('/apis/storage.k8s.io/v1/volumeattachments').reply(404, status(404, 'NotFound', 'the server could not find the requested resource'));
    assert.deepEqual(await kube.listVolumeAttachments('w1'), []);
  });
});
