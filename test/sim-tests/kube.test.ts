import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'mocha';
import { kubeconfigYaml, startKube, until, type Harness } from './kube-helpers.js';

const J = (r: Response) => r.json() as Promise<any>;

function joinUserData(o: { endpoint: string; token: string; hash: string; cp?: boolean; key?: string; labels?: string }): string {
  return `#cloud-config
write_files:
- path: /etc/kubernetes/kadd-join.yaml
  permissions: '0600'
  content: |
    apiVersion: kubeadm.k8s.io/v1beta3
    kind: JoinConfiguration
    discovery:
      bootstrapToken:
        apiServerEndpoint: ${o.endpoint}
        token: ${o.token}
        caCertHashes: [${o.hash}]
    nodeRegistration:
      kubeletExtraArgs:
        node-labels: "${o.labels ?? 'kadd-role=node'}"
${o.cp ? `    controlPlane:\n      certificateKey: ${o.key ?? ''}\n` : ''}runcmd:
- kubeadm join --config /etc/kubernetes/kadd-join.yaml
`;
}

describe('sim kube: API server', function () {
  this.timeout(20000); // loading @kubernetes/client-node and a loaded machine; not only under .mocharc
  let h: Harness;
  before(async () => {
    // the web Deployment recreates an evicted pod at once; its replacement takes a (sim) hour to start here, so
    // that the budget stays exhausted while this suite evicts (the real API would answer the same in that window)
    h = await startKube({ masters: 3, nodes: 3, clusterName: 'demo' }, { seed: 7, kube: { podStartup: { fixed: 3_600_000 } } });
  });
  after(() => h.close());

  it('serves /version, discovery and Status errors', async () => {
    const v = await J(await fetch(`${h.url}/version`));
    assert.equal(v.gitVersion, 'v1.30.4');
    assert.equal(v.major, '1');
    const api = await J(await fetch(`${h.url}/api/v1`));
    assert.equal(api.kind, 'APIResourceList');
    assert.ok(api.resources.some((r: any) => r.name === 'pods/eviction'));
    const r = await fetch(`${h.url}/api/v1/nodes/nope`);
    assert.equal(r.status, 404);
    assert.deepEqual(await r.json(), { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'nodes "nope" not found', reason: 'NotFound', details: { name: 'nope', kind: 'nodes' }, code: 404 });
  });

  it('lists nodes with a label selector, patches (json-patch and strategic merge)', async () => {
    const l = await J(await fetch(`${h.url}/api/v1/nodes?labelSelector=node-role.kubernetes.io/control-plane`));
    assert.equal(l.kind, 'NodeList');
    assert.deepEqual(l.items.map((n: any) => n.metadata.name), ['demo-master-1', 'demo-master-2', 'demo-master-3']);
    assert.equal(l.items[0].kind, undefined, 'list items carry no kind');
    const p1 = await fetch(`${h.url}/api/v1/nodes/demo-node-1`, { method: 'PATCH', headers: { 'content-type': 'application/json-patch+json' }, body: JSON.stringify([{ op: 'add', path: '/spec/unschedulable', value: true }]) });
    assert.equal(p1.status, 200);
    assert.equal((await J(p1)).spec.unschedulable, true);
    const p2 = await J(await fetch(`${h.url}/api/v1/nodes/demo-node-1`, { method: 'PATCH', headers: { 'content-type': 'application/strategic-merge-patch+json' }, body: JSON.stringify({ spec: { unschedulable: null }, metadata: { labels: { x: 'y' } } }) }));
    assert.equal(p2.spec.unschedulable, undefined);
    assert.equal(p2.metadata.labels.x, 'y');
    const bad = await fetch(`${h.url}/api/v1/nodes/demo-node-1`, { method: 'PATCH', headers: { 'content-type': 'application/json-patch+json' }, body: JSON.stringify([{ op: 'replace', path: '/spec/nothere', value: 1 }]) });
    assert.equal(bad.status, 422);
  });

  it('works with @kubernetes/client-node: secrets by type, pods by node, cluster-info', async () => {
    const k8s = await import('@kubernetes/client-node');
    const kc = new k8s.KubeConfig();
    kc.loadFromString(kubeconfigYaml(h.url));
    const core = kc.makeApiClient(k8s.CoreV1Api);
    // 24 h ahead: at timeScale 0.001 one hour is 3.6 real s, which a loaded machine can spend before cluster-info is read
    const exp = new Date(h.core.now() + 24 * 3600_000).toISOString().replace(/\.\d+Z/, 'Z');
    await core.createNamespacedSecret({ namespace: 'kube-system', body: { metadata: { name: 'bootstrap-token-abcdef' }, type: 'bootstrap.kubernetes.io/token', stringData: { 'token-id': 'abcdef', 'token-secret': '0123456789abcdef', 'usage-bootstrap-authentication': 'true', 'usage-bootstrap-signing': 'true', 'auth-extra-groups': 'system:bootstrappers:kubeadm:default-node-token', expiration: exp } } });
    await assert.rejects(core.createNamespacedSecret({ namespace: 'kube-system', body: { metadata: { name: 'bootstrap-token-abcdef' } } }), (e: any) => e.code === 409);
    const list = await core.listNamespacedSecret({ namespace: 'kube-system', fieldSelector: 'type=bootstrap.kubernetes.io/token' });
    assert.deepEqual(list.items.map((s) => s.metadata?.name), ['bootstrap-token-abcdef']);
    assert.equal(Buffer.from(list.items[0]!.data!['token-id']!, 'base64').toString(), 'abcdef');
    const ci = await core.readNamespacedConfigMap({ name: 'cluster-info', namespace: 'kube-public' });
    assert.ok(ci.data!['jws-kubeconfig-abcdef'], 'bootstrap signer signed cluster-info');
    const kcfg = await core.readNamespacedConfigMap({ name: 'kubeadm-config', namespace: 'kube-system' });
    assert.match(kcfg.data!.ClusterConfiguration!, /controlPlaneEndpoint: 127\.0\.0\.1:\d+/);
    assert.match(kcfg.data!.ClusterConfiguration!, /imageTag: 3\.5\.\d+-0/);
    const pods = await core.listPodForAllNamespaces({ fieldSelector: 'spec.nodeName=demo-master-2' });
    assert.deepEqual(pods.items.map((p) => p.metadata!.name).filter((n) => !n!.startsWith('kube-proxy')).sort(), ['etcd-demo-master-2', 'kube-apiserver-demo-master-2', 'kube-controller-manager-demo-master-2', 'kube-scheduler-demo-master-2']);
    await core.deleteNamespacedSecret({ name: 'bootstrap-token-abcdef', namespace: 'kube-system' });
    const ci2 = await core.readNamespacedConfigMap({ name: 'cluster-info', namespace: 'kube-public' });
    assert.equal(ci2.data!['jws-kubeconfig-abcdef'], undefined);
  });

  it('eviction answers 429 under a PDB, then 201 once the budget allows it, 404 when gone', async () => {
    const pods = (await J(await fetch(`${h.url}/api/v1/namespaces/default/pods?labelSelector=app%3Dweb`))).items;
    assert.equal(pods.length, 3);
    const ev = (n: string) => fetch(`${h.url}/api/v1/namespaces/default/pods/${n}/eviction`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: n, namespace: 'default' } }) });
    const r1 = await ev(pods[0].metadata.name);
    assert.equal(r1.status, 201);
    const r2 = await ev(pods[1].metadata.name);
    assert.equal(r2.status, 429);
    const body = await J(r2);
    assert.equal(body.reason, 'TooManyRequests');
    assert.equal(body.details.causes[0].reason, 'DisruptionBudget');
    const pdb = await J(await fetch(`${h.url}/apis/policy/v1/namespaces/default/poddisruptionbudgets/web`));
    assert.equal(pdb.status.disruptionsAllowed, 0);
    await fetch(`${h.url}/apis/policy/v1/namespaces/default/poddisruptionbudgets/web`, { method: 'PATCH', headers: { 'content-type': 'application/merge-patch+json' }, body: JSON.stringify({ spec: { minAvailable: 0 } }) });
    assert.equal((await ev(pods[1].metadata.name)).status, 201);
    await until(() => !h.sim.pods('default').some((p) => p.metadata.name === pods[0].metadata.name), 3000);
    assert.equal((await ev(pods[0].metadata.name)).status, 404);
  });
});

describe('sim kube: deployment, exec and etcd', function () {
  this.timeout(20000); // loading @kubernetes/client-node and a loaded machine; not only under .mocharc
  let h: Harness;
  let k8s: typeof import('@kubernetes/client-node');
  let kc: import('@kubernetes/client-node').KubeConfig;
  before(async () => {
    h = await startKube({ masters: 3, nodes: 1, clusterName: 'demo' }, { seed: 11 });
    k8s = await import('@kubernetes/client-node');
    kc = new k8s.KubeConfig();
    kc.loadFromString(kubeconfigYaml(h.url));
  });
  after(() => h.close());

  async function exec(pod: string, cmd: string[], stdin?: string) {
    const out = new PassThrough();
    const err = new PassThrough();
    let stdout = '';
    let stderr = '';
    out.on('data', (d) => (stdout += d));
    err.on('data', (d) => (stderr += d));
    const input = stdin === undefined ? null : new PassThrough();
    const status = await new Promise<any>((resolve, reject) => {
      new k8s.Exec(kc).exec('kube-system', pod, 'etcdctl', cmd, out, err, input, false, resolve).catch(reject);
      if (input) input.end(stdin);
    });
    return { stdout, stderr, status };
  }

  let adder = '';
  it('a Deployment creates its Pod on the named node, Running and Ready', async () => {
    const apps = kc.makeApiClient(k8s.AppsV1Api);
    await apps.createNamespacedDeployment({
      namespace: 'kube-system',
      body: {
        metadata: { name: 'kadd-master-adder', labels: { app: 'kadd-master-adder' } },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: 'kadd-master-adder' } },
          template: {
            metadata: { labels: { app: 'kadd-master-adder' } },
            spec: {
              hostNetwork: true,
              nodeSelector: { 'kubernetes.io/hostname': 'demo-master-1' },
              tolerations: [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' }],
              containers: [{ name: 'etcdctl', image: 'registry.k8s.io/etcd:3.5.12-0', command: ['sleep', 'infinity'], volumeMounts: [{ name: 'certs', mountPath: '/certs', readOnly: true }, { name: 'backup', mountPath: '/backup' }] }],
              volumes: [{ name: 'certs', hostPath: { path: '/etc/kubernetes/pki/etcd', type: 'Directory' } }, { name: 'backup', hostPath: { path: '/var/lib/kadd', type: 'DirectoryOrCreate' } }],
            },
          },
        },
      },
    });
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const pod = await until(() => h.sim.pods('kube-system').find((p) => p.metadata.name.startsWith('kadd-master-adder-') && p.status.phase === 'Running'), 3000);
    adder = pod.metadata.name;
    const got = await core.readNamespacedPod({ name: adder, namespace: 'kube-system' });
    assert.equal(got.spec!.nodeName, 'demo-master-1');
    assert.equal(got.status!.conditions!.find((c) => c.type === 'Ready')!.status, 'True');
    const listed = await core.listNamespacedPod({ namespace: 'kube-system', labelSelector: 'app=kadd-master-adder' });
    assert.equal(listed.items.length, 1);
  });

  it('a Deployment that does not tolerate the control-plane taint stays Pending', async () => {
    await fetch(`${h.url}/apis/apps/v1/namespaces/kube-system/deployments`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ metadata: { name: 'untolerated' }, spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { nodeSelector: { 'kubernetes.io/hostname': 'demo-master-1' }, containers: [{ name: 'c', image: 'x' }] } } } }) });
    const p = await until(() => h.sim.pods('kube-system').find((x) => x.metadata.name.startsWith('untolerated-') && x.status.conditions), 3000);
    assert.equal(p.status.phase, 'Pending');
    assert.equal(p.status.conditions[0].reason, 'Unschedulable');
    assert.equal((await fetch(`${h.url}/apis/apps/v1/namespaces/kube-system/deployments/untolerated`, { method: 'DELETE' })).status, 200);
  });

  it('etcdctl member list -w json prints uint64 IDs as bare numbers, byte-exactly', async () => {
    const big = h.sim.etcd.members.find((m) => m.id > 2n ** 53n);
    assert.ok(big, 'seed 11 yields an ID above 2^53');
    const r = await exec(adder, ['etcdctl', '--endpoints=https://127.0.0.1:2379', '--cacert=/certs/ca.crt', '--cert=/certs/healthcheck-client.crt', '--key=/certs/healthcheck-client.key', 'member', 'list', '-w', 'json']);
    assert.equal(r.status.status, 'Success');
    const e = h.sim.etcd;
    const local = e.members.find((m) => m.node === 'demo-master-1')!;
    const expected = `{"header":{"cluster_id":${e.clusterId},"member_id":${local.id},"raft_term":${e.raftTerm}},"members":[${e.members.map((m) => `{"ID":${m.id},"name":"${m.name}","peerURLs":["https://${m.ip}:2380"],"clientURLs":["https://${m.ip}:2379"]}`).join(',')}]}\n`;
    assert.equal(r.stdout, expected);
    assert.ok(r.stdout.includes(`"ID":${big.id.toString()}`));
    assert.notEqual(String(JSON.parse(r.stdout).members.find((m: any) => m.name === big.name).ID), big.id.toString(), 'JSON.parse corrupts it, as with real etcdctl');
  });

  it('a non-zero exit reaches the status channel as NonZeroExitCode; unknown commands exit 127', async () => {
    const r = await exec(adder, ['etcdctl', 'member', 'promote', 'zz']);
    assert.equal(r.status.status, 'Failure');
    assert.equal(r.status.reason, 'NonZeroExitCode');
    assert.deepEqual(r.status.details.causes, [{ reason: 'ExitCode', message: '128' }]);
    assert.match(r.stderr, /bad member ID arg/);
    const r2 = await exec(adder, ['sh', '-c', 'nosuch --flag']);
    assert.equal(r2.status.details.causes[0].message, '127');
    assert.match(r2.stderr, /command not found/);
    const r3 = await exec(adder, ['sh', '-c', 'test -f /certs/ca.crt && ls /certs | head'], undefined);
    assert.equal(r3.status.status, 'Failure', 'pipes are refused, not faked');
    const r4 = await exec(adder, ['sh', '-c', 'test -f /certs/ca.crt && echo yes']);
    assert.equal(r4.stdout, 'yes\n');
    const r5 = await exec(adder, ['sh'], 'echo from-stdin\n');
    assert.equal(r5.stdout, 'from-stdin\n');
  });

  it('member add --learner, promote fails until started, then succeeds; snapshot save', async () => {
    const e = h.sim.etcd;
    const add = await h.sim.exec('kube-system', adder, ['etcdctl', 'member', 'add', 'demo-master-4', '--peer-urls=https://10.0.0.99:2380', '--learner']);
    assert.equal(add.exitCode, 0, add.stderr);
    const id = e.members.at(-1)!.id;
    assert.match(add.stdout, new RegExp(`^Member ${id.toString(16).padStart(16, ' ')} added as learner to cluster ${e.clusterId.toString(16).padStart(16, ' ')}\n\nETCD_NAME="demo-master-4"\nETCD_INITIAL_CLUSTER=".*demo-master-4=https://10.0.0.99:2380"\nETCD_INITIAL_ADVERTISE_PEER_URLS="https://10.0.0.99:2380"\nETCD_INITIAL_CLUSTER_STATE="existing"\n$`));
    const again = await h.sim.exec('kube-system', adder, ['etcdctl', 'member', 'add', 'x', '--peer-urls=https://10.0.0.98:2380', '--learner']);
    assert.equal(again.stderr, 'Error: etcdserver: too many learner members in cluster\n');
    const p1 = await h.sim.exec('kube-system', adder, ['etcdctl', 'member', 'promote', id.toString(16)]);
    assert.equal(p1.exitCode, 1);
    assert.equal(p1.stderr, 'Error: etcdserver: can only promote a learner member which is in sync with leader\n');
    const table = await h.sim.exec('kube-system', adder, ['etcdctl', 'member', 'list', '-w', 'table']);
    assert.match(table.stdout, new RegExp(`\\| ${id.toString(16).padStart(16)} \\| unstarted \\|\\s+\\|`));
    e.start(id);
    const p2 = await h.sim.exec('kube-system', adder, ['etcdctl', 'member', 'promote', id.toString(16)]);
    assert.equal(p2.stdout, `Member ${id.toString(16).padStart(16, ' ')} promoted in cluster ${e.clusterId.toString(16).padStart(16, ' ')}\n`);
    assert.equal(e.voting().length, 4);
    const rm = await h.sim.exec('kube-system', adder, ['etcdctl', 'member', 'remove', id.toString(16)]);
    assert.equal(rm.exitCode, 0);
    const snap = await h.sim.exec('kube-system', adder, ['etcdctl', 'snapshot', 'save', '/backup/pre-add.db']);
    assert.equal(snap.stdout, 'Snapshot saved at /backup/pre-add.db\n');
    assert.ok(h.sim.cluster.fs('demo-master-1').has('/var/lib/kadd/pre-add.db'), 'written through the hostPath volume');
    const multi = await h.sim.exec('kube-system', adder, ['etcdctl', '--endpoints=https://10.0.0.11:2379,https://10.0.0.12:2379', 'snapshot', 'save', '/backup/x.db']);
    assert.match(multi.stderr, /snapshot must be requested to one selected node, not multiple/);
  });

  it('endpoint status/health; quorum loss makes membership changes time out', async () => {
    const e = h.sim.etcd;
    const st = await h.sim.exec('kube-system', adder, ['etcdctl', 'endpoint', 'status', '--cluster', '-w', 'json']);
    assert.equal(st.exitCode, 0);
    assert.ok(st.stdout.includes(`"leader":${e.leaderId}`));
    h.sim.setNodeDown('demo-master-2', true);
    assert.ok(e.hasQuorum(), '2 of 3 keep quorum');
    const hl = await h.sim.exec('kube-system', adder, ['etcdctl', 'endpoint', 'health', '--cluster']);
    assert.equal(hl.exitCode, 1);
    assert.match(hl.stderr, /https:\/\/10\.0\.0\.12:2379 is unhealthy: failed to commit proposal: context deadline exceeded\nError: unhealthy cluster\n$/);
    h.sim.setNodeDown('demo-master-3', true);
    assert.equal(e.hasQuorum(), false);
    assert.equal(e.leaderId, 0n);
    const add = await h.sim.exec('kube-system', adder, ['etcdctl', 'member', 'add', 'm9', '--peer-urls=https://10.0.0.97:2380', '--learner']);
    assert.equal(add.exitCode, 1);
    assert.match(add.stderr, /Error: context deadline exceeded\n$/);
    const hj = await h.sim.exec('kube-system', adder, ['etcdctl', 'endpoint', 'health', '-w', 'json']);
    assert.match(hj.stdout, /^\[\{"endpoint":"127\.0\.0\.1:2379","health":false,"took":"[^"]+","error":"etcdserver: request timed out"\}\]\n$/);
    h.sim.setNodeDown('demo-master-2', false);
    h.sim.setNodeDown('demo-master-3', false);
    assert.ok(e.hasQuorum());
  });

  it('kubeadm init phase upload-certs creates kubeadm-certs owned by a 2 h token and prints the key last', async () => {
    // the expiry is bracketed by the sim time before and after the call (at timeScale 0.001 a fixed tolerance of
    // 120 sim s was 120 real ms, which a loaded machine spends on the exec round trip)
    const before = h.core.now();
    const r = await exec(adder, ['kubeadm', 'init', 'phase', 'upload-certs', '--upload-certs']);
    const after = h.core.now();
    assert.equal(r.status.status, 'Success');
    const lines = r.stdout.trim().split('\n');
    assert.match(lines.at(-1)!, /^[0-9a-f]{64}$/);
    assert.equal(lines.at(-2), '[upload-certs] Using certificate key:');
    const certs = h.sim.cluster.get('secrets', 'kube-system', 'kubeadm-certs')!;
    const owner = h.sim.tokens().find((t) => t.metadata.uid === certs.metadata.ownerReferences[0].uid)!;
    const exp = Date.parse(Buffer.from(owner.data.expiration, 'base64').toString());
    // expiration has whole seconds (k8sTime): floor(before) <= exp <= after
    assert.ok(exp >= Math.floor(before / 1000) * 1000 + 2 * 3600_000 && exp <= after + 2 * 3600_000, `expires 2 h after the call: ${new Date(exp).toISOString()}`);
    const bad = await h.sim.exec('kube-system', adder, ['kubeadm', 'init', 'phase', 'upload-certs', '--upload-certs', '--certificate-key', 'nothex']);
    assert.match(bad.stderr, /error decoding certificate key: encoding\/hex: invalid byte: U\+006E 'n'/);
  });
});

describe('sim kube: kubelet joins', function () {
  this.timeout(20000); // loading @kubernetes/client-node and a loaded machine; not only under .mocharc
  let h: Harness;
  before(async () => {
    h = await startKube({ masters: 1, nodes: 1, clusterName: 'demo' }, { seed: 3, faults: { kubeletNeverJoins: ['^demo-node-silent$'], etcdMemberNeverStarts: ['^demo-master-9$'] }, latency: { nodeRegister: 1000, nodeReady: 150000, etcdMemberStart: 1000 } });
  });
  after(() => h.close());

  const server = (id: string, name: string, ip: string, userData: string) => ({ id, name, status: 'ACTIVE', userData, metadata: {}, ip });

  it('a valid worker join: Node NotReady then Ready with labels, providerID, console lines', async () => {
    const token = h.sim.createToken();
    h.core.events.emit('server.active', server('s-1', 'demo-node-2', '10.0.1.50', joinUserData({ endpoint: h.sim.endpoint(), token, hash: h.sim.caHash, labels: 'kadd-role=node,tier=batch' })));
    const n = await until(() => h.sim.node('demo-node-2'), 3000);
    assert.equal(n.status.conditions.find((c: any) => c.type === 'Ready').status, 'False');
    assert.equal(n.spec.providerID, 'openstack:///s-1');
    assert.equal(n.metadata.labels.tier, 'batch');
    assert.deepEqual(n.status.addresses[0], { type: 'InternalIP', address: '10.0.1.50' });
    await until(() => h.sim.cluster.nodeReady('demo-node-2'), 3000);
    assert.match(h.core.consoles.get('s-1')!, /This node has joined the cluster:/);
    h.core.events.emit('server.deleted', server('s-1', 'demo-node-2', '10.0.1.50', ''));
    const gone = h.sim.node('demo-node-2')!;
    assert.equal(gone.status.conditions.find((c: any) => c.type === 'Ready').status, 'Unknown');
  });

  const failing: [string, () => string | Promise<string>, RegExp][] = [
    ['expired token', () => { const t = h.sim.createToken({ ttlMs: 1000 }); h.core.advance(5000); return joinUserData({ endpoint: h.sim.endpoint(), token: t, hash: h.sim.caHash }); }, /error execution phase preflight: couldn't validate the identity of the API Server: could not find a JWS signature in the cluster-info ConfigMap for token ID "[a-z0-9]{6}"/],
    ['wrong CA hash', () => joinUserData({ endpoint: h.sim.endpoint(), token: h.sim.createToken(), hash: 'sha256:' + '0'.repeat(64) }), /cluster CA found in cluster-info ConfigMap is invalid: none of the public keys "sha256:[0-9a-f]{64}" are pinned/],
    ['wrong group', () => joinUserData({ endpoint: h.sim.endpoint(), token: h.sim.createToken({ groups: ['system:bootstrappers:other'] }), hash: h.sim.caHash }), /configmaps "kubeadm-config" is forbidden: User "system:bootstrap:[a-z0-9]{6}" cannot get resource "configmaps"/],
    ['wrong endpoint', () => joinUserData({ endpoint: '10.9.9.9:6443', token: h.sim.createToken(), hash: h.sim.caHash }), /dial tcp 10\.9\.9\.9:6443: connect: connection refused/],
    ['control plane without uploaded certs', () => joinUserData({ endpoint: h.sim.endpoint(), token: h.sim.createToken(), hash: h.sim.caHash, cp: true, key: 'a'.repeat(64) }), /error execution phase control-plane-prepare\/download-certs: error downloading certs: error downloading the secret: Secret "kubeadm-certs" was not found in the "kube-system" Namespace/],
  ];
  for (const [what, ud, re] of failing) {
    it(`rejects a join with ${what}, prints kubeadm's error and registers no Node`, async () => {
      const id = `s-${what}`;
      const name = `demo-node-${what.replace(/\W/g, '')}`.toLowerCase();
      h.core.events.emit('server.active', server(id, name, '10.0.2.9', await ud()));
      const log = await until(() => h.core.consoles.get(id)?.includes('error execution phase') && h.core.consoles.get(id), 3000);
      assert.match(log, re);
      assert.equal(h.sim.node(name), undefined);
    });
  }

  it('a kubelet that never joins stays silent', async () => {
    h.core.events.emit('server.active', server('s-silent', 'demo-node-silent', '10.0.2.10', joinUserData({ endpoint: h.sim.endpoint(), token: h.sim.createToken(), hash: h.sim.caHash })));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(h.sim.node('demo-node-silent'), undefined);
    assert.doesNotMatch(h.core.consoles.get('s-silent') ?? '', /joined/);
  });

  it('a control-plane join with a wrong certificate key fails to decrypt', async () => {
    h.sim.uploadCerts('b'.repeat(64));
    h.core.events.emit('server.active', server('s-badkey', 'demo-master-7', '10.0.0.70', joinUserData({ endpoint: h.sim.endpoint(), token: h.sim.createToken(), hash: h.sim.caHash, cp: true, key: 'c'.repeat(64) })));
    const log = await until(() => h.core.consoles.get('s-badkey')?.includes('error execution') && h.core.consoles.get('s-badkey'), 3000);
    assert.match(log, /error decoding secret data with provided key: cipher: message authentication failed/);
  });

  it('a control-plane join adds a learner, starts and promotes it, then labels and taints the Node', async () => {
    const key = 'd'.repeat(64);
    h.sim.uploadCerts(key);
    const before = h.sim.etcd.members.length;
    h.core.events.emit('server.active', server('s-m2', 'demo-master-2', '10.0.0.12', joinUserData({ endpoint: h.sim.endpoint(), token: h.sim.createToken(), hash: h.sim.caHash, cp: true, key })));
    const m = await until(() => h.sim.etcd.members.find((x) => x.peerURLs[0] === 'https://10.0.0.12:2380'), 3000);
    assert.equal(h.sim.etcd.members.length, before + 1);
    await until(() => !m.isLearner, 5000);
    const n = await until(() => { const x = h.sim.node('demo-master-2'); return x && 'node-role.kubernetes.io/control-plane' in x.metadata.labels && h.sim.cluster.nodeReady('demo-master-2') && x; }, 5000);
    assert.ok(n.spec.taints.some((t: any) => t.key === 'node-role.kubernetes.io/control-plane' && t.effect === 'NoSchedule'));
    assert.equal(m.name, 'demo-master-2');
    assert.match(h.core.consoles.get('s-m2')!, /a new control plane instance was created/);
    assert.ok(h.sim.pods('kube-system').some((p) => p.metadata.name === 'etcd-demo-master-2'));
  });

  it('an etcd member that never starts stays an unstarted learner and the join fails', async () => {
    const key = 'e'.repeat(64);
    h.sim.uploadCerts(key);
    h.core.events.emit('server.active', server('s-m9', 'demo-master-9', '10.0.0.19', joinUserData({ endpoint: h.sim.endpoint(), token: h.sim.createToken(), hash: h.sim.caHash, cp: true, key })));
    const log = await until(() => h.core.consoles.get('s-m9')?.includes('error execution') && h.core.consoles.get('s-m9'), 5000);
    assert.match(log, /error execution phase control-plane-join\/etcd: .*can only promote a learner member which is in sync with leader/);
    const m = h.sim.etcd.members.find((x) => x.peerURLs[0] === 'https://10.0.0.19:2380')!;
    assert.equal(m.isLearner, true);
    assert.equal(m.started, false);
    assert.equal(m.name, '');
  });
});

describe('sim kube: determinism and scale', function () {
  this.timeout(20000); // loading @kubernetes/client-node and a loaded machine; not only under .mocharc
  it('the same seed gives the same state', async () => {
    const a = await startKube({ masters: 3, nodes: 4 }, { seed: 99 });
    const b = await startKube({ masters: 3, nodes: 4 }, { seed: 99 });
    const c = await startKube({ masters: 3, nodes: 4 }, { seed: 100 });
    const strip = (s: any) => JSON.stringify(s, (k, v) => (k === 'creationTimestamp' || k === 'lastHeartbeatTime' || k === 'lastTransitionTime' || k === 'startTime' || k === 'startedAt' || k === 'lastUpdateTime' || k === 'kubernetes.io/config.seen' || k === 'renewTime' || k === 'kubeconfig' || k === 'ClusterConfiguration' ? undefined : v));
    try {
      assert.equal(strip(a.sim.state()), strip(b.sim.state()));
      assert.notEqual(strip(a.sim.state()), strip(c.sim.state()));
    } finally {
      await Promise.all([a.close(), b.close(), c.close()]);
    }
  });

  // the RSS bound for 500 Nodes (with 500 servers) is measured in a fresh process: scale.test.ts
  it('seeds 500 Nodes, all Ready, and lists them in one page', async function () {
    this.timeout(30000);
    const h = await startKube({ masters: 3, nodes: 497 }, { seed: 5 });
    try {
      const l = await (await fetch(`${h.url}/api/v1/nodes`)).json() as any;
      assert.equal(l.items.length, 500);
      assert.equal(new Set(l.items.map((n: any) => n.metadata.name)).size, 500);
      assert.ok(l.items.every((n: any) => h.sim.cluster.nodeReady(n.metadata.name)));
    } finally {
      await h.close();
    }
  });
});
