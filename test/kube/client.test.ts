import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import nock from 'nock';
import { createKubeApi, exitCodeFromStatus } from '../../lib/kube/client.js';
import { loadKubeconfig } from '../../lib/kube/config.js';
import { KubeError } from '../../lib/errors.js';
import { nullIo } from '../../lib/io.js';
import { clearSecrets, redactText } from '../../lib/redact.js';
import type { KubeApi } from '../../lib/kube/types.js';

const SERVER = 'https://k8s.test:6443';
const FIX = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures');
const NOW = Date.UTC(2024, 0, 1, 23, 30, 15, 500);
const clock = { now: () => NOW, sleep: async () => {} };

async function kubeFor(yaml: string): Promise<KubeApi> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kadd-kapi-'));
  try {
    writeFileSync(path.join(dir, 'config'), yaml);
    const loaded = await loadKubeconfig({ kubeconfig: path.join(dir, 'config'), env: {}, cwd: dir });
    return createKubeApi(loaded, { io: nullIo, clock });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const PLAIN = `
current-context: x
clusters: [{ name: c, cluster: { server: ${SERVER}, insecure-skip-tls-verify: true } }]
users: [{ name: u, user: { token: admin-token-value-123 } }]
contexts: [{ name: x, context: { cluster: c, user: u } }]
`;

async function rejectsKube(p: Promise<unknown>): Promise<KubeError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof KubeError, `expected KubeError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a KubeError');
}

const status404 = { kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'nodes "w9" not found', reason: 'NotFound', code: 404 };

describe('kube/client: KubeApi on client-node 1.4 (nock)', function () {
  this.timeout(20000);
  let kube: KubeApi;
  before(async () => {
    nock.disableNetConnect();
    kube = await kubeFor(PLAIN);
  });
  afterEach(() => {
    const pending = nock.pendingMocks();
    nock.cleanAll();
    clearSecrets();
    assert.deepEqual(pending, [], 'all expected requests were made');
  });

  it('serverVersion sends the bearer token', async () => {
    nock(SERVER, { reqheaders: { authorization: 'Bearer admin-token-value-123' } })
      .get('/version')
      .reply(200, { major: '1', minor: '30', gitVersion: 'v1.30.2' });
    assert.deepEqual(await kube.serverVersion(), { gitVersion: 'v1.30.2', major: '1', minor: '30' });
    assert.equal(kube.server(), SERVER);
  });

  it('apiserverReadyzOn: one master\'s own API server through the node proxy; a failing check or an unreachable host is reported, never thrown', async () => {
    nock(SERVER).get('/api/v1/nodes/https%3Ac-master-1%3A6443/proxy/readyz').reply(200, 'ok', { 'Content-Type': 'text/plain; charset=utf-8' });
    assert.deepEqual(await kube.apiserverReadyzOn('c-master-1'), { ok: true, detail: 'ok' });
    nock(SERVER).get('/api/v1/nodes/https%3Ac-master-2%3A6443/proxy/readyz')
      .reply(500, '[+]ping ok\n[+]log ok\n[-]etcd failed: reason withheld\nreadyz check failed\n', { 'Content-Type': 'text/plain; charset=utf-8' });
    const bad = await kube.apiserverReadyzOn('c-master-2');
    assert.equal(bad.ok, false);
    assert.match(bad.detail, /^GET \/readyz of c-master-2:6443 answered 500: \[-\]etcd failed$/);
    nock(SERVER).get('/api/v1/nodes/https%3Ac-master-3%3A6443/proxy/readyz')
      .reply(503, 'error trying to reach service: dial tcp 10.0.0.7:6443: connect: connection refused', { 'Content-Type': 'text/plain; charset=utf-8' });
    const down = await kube.apiserverReadyzOn('c-master-3');
    assert.equal(down.ok, false);
    assert.match(down.detail, /answered 503: error trying to reach service: dial tcp 10\.0\.0\.7:6443: connect: connection refused/);
  });

  it('createBootstrapToken: kubeadm Secret, UTC expiry, usages, group; secret registered for redaction', async () => {
    let sent: any;
    nock(SERVER)
      .post('/api/v1/namespaces/kube-system/secrets', (b) => {
        sent = b;
        return true;
      })
      .reply(201, (_u, b) => b);
    const t = await kube.createBootstrapToken({ ttlSeconds: 3600, description: 'kadd add node' });
    assert.match(t.id, /^[a-z0-9]{6}$/);
    assert.match(t.secret, /^[a-z0-9]{16}$/);
    assert.equal(t.expiration, '2024-01-02T00:30:15Z');
    assert.equal(sent.type, 'bootstrap.kubernetes.io/token');
    assert.equal(sent.metadata.name, `bootstrap-token-${t.id}`);
    assert.equal(sent.metadata.namespace, 'kube-system');
    assert.deepEqual(sent.stringData, {
      'token-id': t.id,
      'token-secret': t.secret,
      expiration: '2024-01-02T00:30:15Z',
      description: 'kadd add node',
      'usage-bootstrap-authentication': 'true',
      'usage-bootstrap-signing': 'true',
      'auth-extra-groups': 'system:bootstrappers:kubeadm:default-node-token',
    });
    assert.equal(redactText(`secret is ${t.secret}`), 'secret is <redacted>');
  });

  it('createBootstrapToken retries with a new id on 409', async () => {
    const names: string[] = [];
    nock(SERVER)
      .post('/api/v1/namespaces/kube-system/secrets', (b) => (names.push(b.metadata.name), true))
      .reply(409, { kind: 'Status', status: 'Failure', reason: 'AlreadyExists', code: 409, message: 'exists' })
      .post('/api/v1/namespaces/kube-system/secrets', (b) => (names.push(b.metadata.name), true))
      .reply(201, {});
    await kube.createBootstrapToken({ ttlSeconds: 600, description: 'd' });
    assert.equal(names.length, 2);
    assert.notEqual(names[0], names[1]);
  });

  it('createBootstrapToken: a 5xx on create deletes the Secret it may have made (best effort), then fails', async () => {
    let name = '';
    nock(SERVER)
      .post('/api/v1/namespaces/kube-system/secrets', (b) => ((name = b.metadata.name), true))
      .reply(503, { kind: 'Status', status: 'Failure', code: 503, message: 'etcdserver: request timed out' })
      .delete((p) => p === `/api/v1/namespaces/kube-system/secrets/${name}`)
      .reply(200, {});
    const e = await rejectsKube(kube.createBootstrapToken({ ttlSeconds: 600, description: 'd' }));
    assert.equal(e.status, 503);
    assert.match(name, /^bootstrap-token-[a-z0-9]{6}$/);
  });

  it('extendBootstrapToken: strategic merge patch of data.expiration', async () => {
    nock(SERVER)
      .matchHeader('content-type', 'application/strategic-merge-patch+json')
      .patch('/api/v1/namespaces/kube-system/secrets/bootstrap-token-abcdef', {
        data: { expiration: Buffer.from('2024-01-02T01:00:00Z').toString('base64') },
      })
      .reply(200, {});
    await kube.extendBootstrapToken('abcdef', '2024-01-02T01:00:00Z');
    await assert.rejects(kube.extendBootstrapToken('abcdef', '2024-01-02T01:00:00+01:00'), /RFC 3339 UTC/);
  });

  it('deleteBootstrapToken is idempotent on 404; other errors carry the status', async () => {
    nock(SERVER).delete('/api/v1/namespaces/kube-system/secrets/bootstrap-token-abcdef').reply(404, status404);
    await kube.deleteBootstrapToken('abcdef');
    nock(SERVER).delete('/api/v1/namespaces/kube-system/secrets/bootstrap-token-abcdef').reply(500, { kind: 'Status', message: 'etcdserver: timeout', code: 500 });
    const e = await rejectsKube(kube.deleteBootstrapToken('abcdef'));
    assert.equal(e.status, 500);
    assert.equal(e.message, 'delete Secret kube-system/bootstrap-token-abcdef: etcdserver: timeout (HTTP 500)');
  });

  it('cordon / uncordon: strategic-merge-patch content type', async () => {
    nock(SERVER)
      .matchHeader('content-type', 'application/strategic-merge-patch+json')
      .patch('/api/v1/nodes/w1', { spec: { unschedulable: true } })
      .reply(200, { kind: 'Node', metadata: { name: 'w1' } })
      .patch('/api/v1/nodes/w1', { spec: { unschedulable: null } })
      .reply(200, { kind: 'Node', metadata: { name: 'w1' } });
    await kube.cordonNode('w1', true);
    await kube.cordonNode('w1', false);
  });

  it('getNode: 404 -> null; a Node is mapped', async () => {
    nock(SERVER).get('/api/v1/nodes/w9').reply(404, status404);
    assert.equal(await kube.getNode('w9'), null);
    nock(SERVER)
      .get('/api/v1/nodes/w1')
      .reply(200, {
        kind: 'Node',
        metadata: { name: 'w1', labels: { 'kubernetes.io/hostname': 'w1' }, creationTimestamp: '2024-01-01T00:00:00Z' },
        spec: { providerID: 'openstack:///abc', taints: [{ key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule' }] },
        status: {
          conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady' }],
          addresses: [{ type: 'InternalIP', address: '10.0.0.5' }],
          nodeInfo: { kubeletVersion: 'v1.30.2' },
        },
      });
    const n = await kube.getNode('w1');
    assert.deepEqual(n, {
      name: 'w1',
      labels: { 'kubernetes.io/hostname': 'w1' },
      taints: [{ key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule' }],
      unschedulable: false,
      ready: true,
      conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady' }],
      addresses: [{ type: 'InternalIP', address: '10.0.0.5' }],
      providerID: 'openstack:///abc',
      kubeletVersion: 'v1.30.2',
      creationTimestamp: '2024-01-01T00:00:00.000Z',
    });
  });

  it('listNodes with a label selector; deleteNode idempotent', async () => {
    nock(SERVER)
      .get('/api/v1/nodes')
      .query({ labelSelector: 'node-role.kubernetes.io/control-plane' })
      .reply(200, { kind: 'NodeList', items: [{ metadata: { name: 'm1' }, status: { conditions: [{ type: 'Ready', status: 'False' }] } }] });
    const nodes = await kube.listNodes('node-role.kubernetes.io/control-plane');
    assert.deepEqual(nodes.map((n) => [n.name, n.ready]), [['m1', false]]);
    nock(SERVER).delete('/api/v1/nodes/w9').reply(404, status404);
    await kube.deleteNode('w9');
  });

  it('errors: 403 maps to KubeError with the server message; no token in it', async () => {
    nock(SERVER).get('/api/v1/nodes').reply(403, { kind: 'Status', status: 'Failure', reason: 'Forbidden', code: 403, message: 'nodes is forbidden: User "system:anonymous" cannot list resource "nodes"' });
    const e = await rejectsKube(kube.listNodes());
    assert.equal(e.status, 403);
    assert.equal(e.code, 'E_KUBE_403');
    assert.match(e.message, /^list Nodes: nodes is forbidden/);
    assert.ok(!e.message.includes('admin-token-value-123'));
  });

  it('errors: an unreachable server is E_KUBE_UNREACHABLE naming the server', async () => {
    const e = await rejectsKube(kube.serverVersion());
    assert.equal(e.code, 'E_KUBE_UNREACHABLE');
    assert.match(e.message, /cannot reach the Kubernetes API at https:\/\/k8s\.test:6443/);
  });

  it('getClusterConfiguration parses the kubeadm-config ConfigMap; 404 -> null', async () => {
    nock(SERVER)
      .get('/api/v1/namespaces/kube-system/configmaps/kubeadm-config')
      .reply(200, {
        kind: 'ConfigMap',
        data: { ClusterConfiguration: 'apiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\nkubernetesVersion: v1.28.4\ncontrolPlaneEndpoint: 10.0.0.10:6443\n' },
      });
    const cc = await kube.getClusterConfiguration();
    assert.equal(cc?.kubernetesVersion, 'v1.28.4');
    assert.equal(cc?.controlPlaneEndpoint, '10.0.0.10:6443');
    nock(SERVER).get('/api/v1/namespaces/kube-system/configmaps/kubeadm-config').reply(404, status404);
    assert.equal(await kube.getClusterConfiguration(), null);
  });

  it('clusterCaPem: from the kubeconfig data, else kube-public/cluster-info', async () => {
    const ecdsa = readFileSync(path.join(FIX, 'pki/ecdsa-ca.crt'), 'utf8');
    const inline = await createKubeApi(await loadKubeconfig({ kubeconfig: path.join(FIX, 'kubeconfig/inline.yaml'), env: {}, cwd: FIX }), { io: nullIo });
    assert.equal(await inline.clusterCaPem(), ecdsa);
    const rsa = readFileSync(path.join(FIX, 'pki/rsa-ca.crt'), 'utf8');
    const clusterInfo = `apiVersion: v1\nkind: Config\nclusters:\n- name: ""\n  cluster:\n    certificate-authority-data: ${Buffer.from(rsa).toString('base64')}\n    server: ${SERVER}\n`;
    nock(SERVER).get('/api/v1/namespaces/kube-public/configmaps/cluster-info').reply(200, { kind: 'ConfigMap', data: { kubeconfig: clusterInfo } });
    assert.equal(await kube.clusterCaPem(), rsa);
  });

  it('deployments and pods', async () => {
    nock(SERVER)
      .post('/apis/apps/v1/namespaces/kube-system/deployments', (b) => b.metadata.name === 'kadd-master-adder')
      .reply(201, {})
      .delete('/apis/apps/v1/namespaces/kube-system/deployments/kadd-master-adder')
      .query({ propagationPolicy: 'Background' })
      .reply(404, status404)
      .get('/api/v1/namespaces/kube-system/pods')
      .query({ labelSelector: 'app=kadd-master-adder' })
      .reply(200, {
        kind: 'PodList',
        items: [
          {
            metadata: { name: 'adder-1' },
            spec: { nodeName: 'm1', containers: [{ name: 'etcdctl' }] },
            status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
          },
        ],
      });
    await kube.createDeployment('kube-system', { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'kadd-master-adder' }, spec: {} });
    await kube.deleteDeployment('kube-system', 'kadd-master-adder');
    assert.deepEqual(await kube.listPods('kube-system', { labelSelector: 'app=kadd-master-adder' }), [
      { name: 'adder-1', nodeName: 'm1', phase: 'Running', ready: true, containers: ['etcdctl'] },
    ]);
  });
});

describe('kube/client: exec status channel', () => {
  it('Success -> 0', () => {
    const wire = { status: 'Success', metadata: {} }; // as the API server sends it (metadata is not read)
    assert.equal(exitCodeFromStatus(wire), 0);
  });
  it('NonZeroExitCode -> the ExitCode cause', () => {
    assert.equal(
      exitCodeFromStatus({
        status: 'Failure',
        reason: 'NonZeroExitCode',
        message: 'command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3',
        details: { causes: [{ reason: 'ExitCode', message: '3' }] },
      }),
      3,
    );
  });
  it('other failures throw a KubeError with the message (redacted)', () => {
    assert.throws(
      () => exitCodeFromStatus({ status: 'Failure', message: 'container not found ("etcdctl") abcdef.0123456789abcdef' }),
      (e: unknown) => e instanceof KubeError && /container not found/.test(e.message) && !e.message.includes('0123456789abcdef'),
    );
    assert.throws(() => exitCodeFromStatus(undefined), /without a status/);
    assert.throws(() => exitCodeFromStatus({ status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [] } }), /could not be read/);
  });
});
