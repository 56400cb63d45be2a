import { strict as assert } from 'node:assert';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { clientNodeOptions, loadKubeconfig, type LoadKubeconfigOptions } from '../../lib/kube/config.js';
import { rejectsConfigError as rejects } from '../helpers/assert.js';
import { clearSecrets, redactText } from '../../lib/redact.js';

const FIX = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/kubeconfig');
const A = path.join(FIX, 'a/config');
const B = path.join(FIX, 'b/config');

describe('kube/config: kubectl merge rules', () => {
  const home = path.join(os.tmpdir(), 'kadd-no-such-home');
  const load = (o: Partial<LoadKubeconfigOptions>) => loadKubeconfig({ env: {}, cwd: FIX, home, ...o });

  it('KUBECONFIG a:b: current-context from the first file, first file wins a whole entry', async () => {
    const k = await load({ env: { KUBECONFIG: `${A}:${B}` } });
    assert.deepEqual(k.files, [A, B]);
    assert.equal(k.contextName, 'ctx-a');
    assert.equal(k.server, 'https://a.example:6443');
    // b's c1 has tls-server-name, a non-conflicting field: dropped, the entry comes only from a
    assert.equal(k.cluster['tls-server-name'], undefined);
    assert.equal(k.namespace, 'kube-system');
    // a's u1, not b's token user
    assert.equal(k.user.token, undefined);
    assert.equal(k.user['client-certificate'], path.join(FIX, 'a/certs/client.crt'));
  });

  it('KUBECONFIG b:a: current-context from b', async () => {
    const k = await load({ env: { KUBECONFIG: `${B}:${A}` } });
    assert.equal(k.contextName, 'ctx-b');
    assert.equal(k.server, 'https://c2.example:6443');
    assert.equal(k.namespace, 'default');
  });

  it('a context defined in both files comes from the first', async () => {
    assert.equal((await load({ env: { KUBECONFIG: `${A}:${B}` }, context: 'ctx-shared' })).clusterName, 'c1');
    assert.equal((await load({ env: { KUBECONFIG: `${B}:${A}` }, context: 'ctx-shared' })).clusterName, 'c2');
  });

  it('relative paths resolve against each file\'s own directory', async () => {
    const k = await load({ env: { KUBECONFIG: `${A}:${B}` }, context: 'ctx-b' });
    assert.equal(k.cluster['certificate-authority'], path.join(FIX, 'b/ca.crt'));
    assert.equal(k.user.tokenFile, path.join(FIX, 'b/token'));
    const a = await load({ env: { KUBECONFIG: `${A}:${B}` } });
    assert.equal(a.cluster['certificate-authority'], path.join(FIX, 'a/ca.crt'));
    assert.equal(a.user['client-key'], path.join(FIX, 'a/certs/client.key'));
  });

  it('KUBECONFIG entries relative to cwd; duplicates removed; empty entries ignored; missing files skipped', async () => {
    const k = await load({ env: { KUBECONFIG: `:missing/config:a/config::${A}:b/config:` } });
    assert.deepEqual(k.files, [A, B]);
    assert.equal(k.contextName, 'ctx-a');
  });

  it('all KUBECONFIG files missing: error naming them', async () => {
    const e = await rejects(load({ env: { KUBECONFIG: '/nope/one:/nope/two' } }));
    assert.equal(e.message, 'KUBECONFIG: none of its files exist: /nope/one, /nope/two');
  });

  it('--kubeconfig: only that file, KUBECONFIG ignored; missing is an error', async () => {
    const k = await load({ kubeconfig: 'b/config', env: { KUBECONFIG: A } });
    assert.deepEqual(k.files, [B]);
    assert.equal(k.contextName, 'ctx-b');
    // c1 here is b's own, since nothing is merged
    assert.equal((await load({ kubeconfig: B, context: 'ctx-shared' })).clusterName, 'c2');
    const e = await rejects(load({ kubeconfig: 'nope.yaml', env: { KUBECONFIG: A } }));
    assert.equal(e.message, '--kubeconfig nope.yaml: no such file');
  });

  it('~/.kube/config when nothing else is given; none -> error', async () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'kadd-kc-'));
    try {
      const e = await rejects(loadKubeconfig({ env: {}, cwd: tmp, home: tmp }));
      assert.match(e.message, /^no kubeconfig: .*\.kube\/config does not exist and KUBECONFIG is not set$/);
      mkdirSync(path.join(tmp, '.kube'));
      cpSync(path.join(FIX, 'inline.yaml'), path.join(tmp, '.kube/config'));
      const k = await loadKubeconfig({ env: { KUBECONFIG: '' }, cwd: tmp, home: tmp });
      assert.equal(k.server, 'https://k8s.test:6443');
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('--context selects; unknown context lists the known ones', async () => {
    assert.equal((await load({ env: { KUBECONFIG: `${A}:${B}` }, context: 'ctx-b' })).userName, 'u2');
    const e = await rejects(load({ env: { KUBECONFIG: `${A}:${B}` }, context: 'prod' }));
    assert.equal(e.message, `context 'prod' (--context) not found in ${A}, ${B}; known: ctx-a, ctx-b, ctx-exec, ctx-exec-path, ctx-http, ctx-shared`);
  });

  it('exec command: relative with a slash resolved per file, bare name left to $PATH', async () => {
    const k = await load({ kubeconfig: A, context: 'ctx-exec' });
    assert.equal(k.user.exec?.command, path.join(FIX, 'a/bin/get-token'));
    assert.deepEqual(k.user.exec?.args, ['--cluster', 'c1']);
    assert.equal((await load({ kubeconfig: A, context: 'ctx-exec-path' })).user.exec?.command, 'kubelogin');
  });

  it('the merged config is restricted to the chosen context', async () => {
    const k = await load({ env: { KUBECONFIG: `${A}:${B}` }, context: 'ctx-b' });
    assert.deepEqual(k.config.clusters.map((c) => c.name), ['c2']);
    assert.deepEqual(k.config.users.map((c) => c.name), ['u2']);
    assert.deepEqual(k.config.contexts.map((c) => c.name), ['ctx-b']);
    assert.equal(k.config['current-context'], 'ctx-b');
  });

  it('caPem from certificate-authority file or -data', async () => {
    const a = await load({ kubeconfig: A });
    assert.equal(await a.caPem(), readFileSync(path.join(FIX, 'a/ca.crt'), 'utf8'));
    const i = await load({ kubeconfig: 'inline.yaml' });
    assert.equal(await i.caPem(), readFileSync(path.join(FIX, '../pki/ecdsa-ca.crt'), 'utf8'));
  });

  it('a YAML error names file, line and column', async () => {
    const e = await rejects(load({ kubeconfig: 'broken.yaml' }));
    assert.match(e.message, /broken\.yaml:\d+:\d+: cannot parse kubeconfig/);
  });

  it('context pointing at a missing cluster or user', async () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'kadd-kc-'));
    try {
      const { writeFileSync } = await import('node:fs');
      writeFileSync(path.join(tmp, 'c'), 'current-context: x\ncontexts:\n- name: x\n  context: {cluster: gone, user: u}\n');
      const e = await rejects(loadKubeconfig({ kubeconfig: path.join(tmp, 'c'), env: {}, cwd: tmp }));
      assert.match(e.message, /context 'x' refers to cluster 'gone', which is not defined/);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe('kube/config: handing over to @kubernetes/client-node', () => {
  const load = (o: Partial<LoadKubeconfigOptions>) => loadKubeconfig({ env: {}, cwd: FIX, ...o });

  it('tokenFile is read (trimmed) and passed as a token; CA file absolute', async () => {
    const k = await load({ kubeconfig: B });
    const o = await clientNodeOptions(k.config);
    assert.equal(o.users[0]!.token, 'b-file-token-value');
    assert.equal(o.clusters[0]!.caFile, path.join(FIX, 'b/ca.crt'));
    assert.equal(o.clusters[0]!.skipTLSVerify, false);
    assert.equal(o.currentContext, 'ctx-b');
  });

  it('the user\'s token, password and tokenFile contents are registered as secrets (scrubbed from any message)', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kadd-kc-'));
    try {
      const f = path.join(dir, 'config');
      writeFileSync(
        f,
        'apiVersion: v1\nkind: Config\ncurrent-context: x\nclusters: [{name: c, cluster: {server: "https://k:6443"}}]\n' +
          'users: [{name: u, user: {token: static-bearer-token-123, password: basic-auth-pw-456}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n',
      );
      await load({ kubeconfig: f });
      assert.equal(redactText('Authorization: Bearer static-bearer-token-123 / basic-auth-pw-456'), 'Authorization: Bearer <redacted> / <redacted>');
      await clientNodeOptions((await load({ kubeconfig: B })).config);
      assert.equal(redactText('got b-file-token-value'), 'got <redacted>');
    } finally {
      clearSecrets();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('plain http:// server gets skipTLSVerify (client-node refuses http otherwise)', async () => {
    const o = await clientNodeOptions((await load({ kubeconfig: B, context: 'ctx-http' })).config);
    assert.equal(o.clusters[0]!.skipTLSVerify, true);
  });

  it('toClientNode gives a KubeConfig for the chosen context, with client cert and key files', async function () {
    this.timeout(20000);
    const k = await load({ env: { KUBECONFIG: `${A}:${B}` } });
    const kc = await k.toClientNode();
    assert.equal(kc.getCurrentContext(), 'ctx-a');
    assert.equal(kc.getCurrentCluster()?.server, 'https://a.example:6443');
    assert.equal(kc.getCurrentCluster()?.caFile, path.join(FIX, 'a/ca.crt'));
    assert.equal(kc.getCurrentUser()?.certFile, path.join(FIX, 'a/certs/client.crt'));
    assert.equal(kc.getCurrentUser()?.keyFile, path.join(FIX, 'a/certs/client.key'));
    assert.equal(await k.toClientNode(), kc, 'built once');
    const ex = await (await load({ kubeconfig: A, context: 'ctx-exec' })).toClientNode();
    assert.equal(ex.getCurrentUser()?.exec?.command, path.join(FIX, 'a/bin/get-token'));
  });
});
