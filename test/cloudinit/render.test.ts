import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { load } from 'js-yaml';
import {
  etcdImageFor, etcdLearnerMode, parseK8sVersion, renderMasterUserData, renderWorkerUserData, unknownTopLevelKeys,
} from '../../lib/cloudinit/index.js';
import { ConfigError, KaddError, PreflightError } from '../../lib/errors.js';
import { CA_HASH, CERT_KEY, TOKEN, VERSIONS, fileContent, masterInput, workerInput } from './helpers.js';

type Doc = Record<string, unknown>;
interface JoinCfg {
  apiVersion: string; kind: string;
  discovery: { bootstrapToken: { apiServerEndpoint: string; token: string; caCertHashes: string[]; unsafeSkipCAVerification: boolean }; timeout?: string };
  nodeRegistration: { name: string; criSocket: string; kubeletExtraArgs?: unknown; taints?: { key: string; value?: string; effect: string }[] };
  controlPlane?: { localAPIEndpoint: { advertiseAddress: string; bindPort: number }; certificateKey: string };
  timeouts?: { discovery: string };
}

function parse(text: string): { doc: Doc; join: JoinCfg; script: string } {
  const doc = load(text) as Doc;
  return { doc, join: load(fileContent(doc, '/etc/kubernetes/kadd/join-config.yaml')) as JoinCfg, script: fileContent(doc, '/usr/local/sbin/kadd-join') };
}

function kubeletArgs(j: JoinCfg): Record<string, string> {
  const a = j.nodeRegistration.kubeletExtraArgs;
  if (a === undefined) return {};
  if (j.apiVersion.endsWith('v1beta4')) {
    assert.ok(Array.isArray(a), 'v1beta4 kubeletExtraArgs must be a list');
    return Object.fromEntries((a as { name: string; value: string }[]).map((x) => [x.name, x.value]));
  }
  assert.ok(a && typeof a === 'object' && !Array.isArray(a), 'v1beta3 kubeletExtraArgs must be a map');
  return a as Record<string, string>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function rejects(p: Promise<unknown>, cls: new (...args: never[]) => KaddError, re: RegExp): Promise<KaddError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${(e as Error).name}: ${(e as Error).message}`);
    assert.match((e as Error).message, re);
    return e as KaddError;
  }
  assert.fail(`expected ${cls.name} matching ${re}`);
}

describe('cloudinit/render worker', () => {
  for (const ver of VERSIONS) {
    it(`renders a worker join for ${ver} with the right kubeadm API and exactly the given values`, async () => {
      const r = await renderWorkerUserData(workerInput({
        k8sVersion: ver,
        labels: { 'example.com/pool': 'gpu', 'node.kubernetes.io/tier': 'b' },
        taints: [{ key: 'example.com/gpu', value: 'true', effect: 'NoSchedule' }, { key: 'dedicated', effect: 'NoExecute' }],
        kubeletExtraArgs: { 'cloud-provider': 'external' },
      }));
      const minor = Number(ver.split('.')[1]);
      const { doc, join: j, script } = parse(r.text);
      assert.ok(r.text.startsWith('#cloud-config\n'));
      assert.deepEqual(unknownTopLevelKeys(doc), []);
      const api = minor >= 31 ? 'kubeadm.k8s.io/v1beta4' : 'kubeadm.k8s.io/v1beta3';
      assert.equal(r.kubeadmApiVersion, api);
      assert.equal(j.apiVersion, api);
      assert.equal(j.kind, 'JoinConfiguration');
      assert.deepEqual(j.discovery.bootstrapToken, {
        apiServerEndpoint: '10.0.0.10:6443', token: `${TOKEN.id}.${TOKEN.secret}`, caCertHashes: [CA_HASH], unsafeSkipCAVerification: false,
      });
      if (minor >= 31) {
        assert.equal(j.discovery.timeout, undefined, 'v1beta4 has no discovery.timeout');
        assert.deepEqual(j.timeouts, { discovery: '900s' });
      } else {
        assert.equal(j.discovery.timeout, '900s');
        assert.equal(j.timeouts, undefined);
      }
      assert.equal(j.nodeRegistration.name, 'demo-node-4');
      assert.equal(j.nodeRegistration.criSocket, 'unix:///run/containerd/containerd.sock');
      assert.deepEqual(kubeletArgs(j), { 'node-labels': 'example.com/pool=gpu,node.kubernetes.io/tier=b', 'cloud-provider': 'external' });
      assert.deepEqual(j.nodeRegistration.taints, [
        { key: 'example.com/gpu', value: 'true', effect: 'NoSchedule' }, { key: 'dedicated', effect: 'NoExecute' },
      ]);
      assert.equal(j.controlPlane, undefined);
      assert.equal(doc.hostname, 'demo-node-4');
      // packages pinned to the version, repo for the minor
      assert.match(script, new RegExp(`^K8S_VERSION='${ver.replace(/\./g, '\\.')}'$`, 'm'));
      assert.match(script, new RegExp(`^REPO='https://pkgs\\.k8s\\.io/core:/stable:/v1\\.${minor}/deb/'$`, 'm'));
      assert.match(script, /"kubeadm=\$\{K8S_VERSION\}-\*"/);
      assert.match(script, /kubeadm join --config "\$JOIN_CONFIG"/);
      assert.deepEqual(doc.runcmd, [['/bin/bash', '/usr/local/sbin/kadd-join']]);
      // the join script is valid bash
      execFileSync('bash', ['--norc', '--noprofile', '-n'], { input: script, env: { PATH: process.env.PATH } });
    });
  }

  it('gives workers an explicit empty taint list and no kubeletExtraArgs when there is nothing to pass', async () => {
    const { join: j } = parse((await renderWorkerUserData(workerInput())).text);
    assert.deepEqual(j.nodeRegistration.taints, []);
    assert.equal(j.nodeRegistration.kubeletExtraArgs, undefined);
  });

  it('prints the markers a diagnosis looks for', async () => {
    const { script, doc } = parse((await renderWorkerUserData(workerInput())).text);
    for (const m of ['stage=bootstrap-start', 'stage=join-start', 'stage=join-ok', 'stage=packages-ok', 'stage=containerd-ok']) assert.ok(script.includes(`mark ${m}`), m);
    assert.match(script, /fail join "\$rc"/);
    assert.match(script, /mark "stage=\$1-failed rc=\$2"/);
    assert.match(String(doc.final_message), /^KADD-MARK stage=cloud-init-final node=demo-node-4/);
  });

  it('carries hostile free text and kubelet flag values through YAML and bash unchanged', async () => {
    const requestedBy = `o'brien "ops"\n$(reboot) \`id\` ünï ✓ \u2028 ; rm -rf /`;
    const hostileArg = `a b'c $(touch /tmp/pwned) \`id\` ✓ {x: [y]} # z`;
    const r = await renderWorkerUserData(workerInput({ requestedBy, operationId: 'op: "1"', kubeletExtraArgs: { 'node-ip': hostileArg } }));
    const { doc, join: j } = parse(r.text);
    const info = load(fileContent(doc, '/etc/kadd/node.yaml')) as Record<string, string>;
    assert.equal(info.requestedBy, requestedBy);
    assert.equal(info.operationId, 'op: "1"');
    assert.equal(info.createdAt, '2026-01-02T03:04:05.000Z');
    assert.equal(kubeletArgs(j)['node-ip'], hostileArg);
  });

  it('refuses bad names, labels, taints and versions before rendering, naming the value', async () => {
    const cases: [Parameters<typeof workerInput>[0], RegExp][] = [
      [{ nodeName: 'Demo_Node' }, /invalid node name "Demo_Node".*RFC 1123/],
      [{ nodeName: `n${'x'.repeat(63)}` }, /at most 63/],
      [{ nodeName: 'bad\nname' }, /invalid node name/],
      [{ clusterName: 'my cluster' }, /invalid cluster name "my cluster"/],
      [{ labels: { 'node-role.kubernetes.io/worker': '' } }, /node label key "node-role\.kubernetes\.io\/worker".*kubelet refuses/],
      [{ labels: { 'example.com/a': 'has space' } }, /value of node label "example\.com\/a" "has space"/],
      [{ labels: { 'a/b/c': 'x' } }, /more than one "\/"/],
      [{ labels: { 'Bad_Prefix/x': 'y' } }, /prefix/],
      [{ taints: [{ key: 'gpu', effect: 'NoSchedul' as 'NoSchedule' }] }, /taint "gpu" effect "NoSchedul": must be one of NoSchedule, PreferNoSchedule, NoExecute/],
      [{ taints: [{ key: 'gpu', value: '$(x)', effect: 'NoSchedule' }] }, /taint "gpu" value "\$\(x\)"/],
      [{ k8sVersion: '1.29' }, /version\.k8s "1\.29".*patch/],
      [{ k8sVersion: '1.23.5' }, /older than 1\.24/],
      [{ apiEndpoint: '10.0.0.10' }, /API server endpoint "10\.0\.0\.10"/],
      [{ apiEndpoint: '10.0.0.300:6443' }, /IPv4/],
      [{ apiEndpoint: 'api.example.com:6443;reboot' }, /API server endpoint/],
      [{ caCertHash: 'sha256:XYZ' }, /CA certificate hash "sha256:XYZ"/],
      [{ kubeletExtraArgs: { 'node-labels': 'a=b' } }, /set by kadd from the labels/],
      [{ kubeletExtraArgs: { 'x': 'a"b' } }, /kubelet flag "x"/],
      [{ kubeletExtraArgs: { '--x': 'y' } }, /kubelet flag name "--x"/],
      [{ criSocket: '/run/containerd.sock' }, /CRI socket/],
      [{ packageRepoUrl: "https://mirror/'$(x)'" }, /package repository/],
    ];
    for (const [over, re] of cases) {
      const e = await rejects(renderWorkerUserData(workerInput(over)), ConfigError, re);
      assert.equal(e.exitCode, 2);
    }
  });

  it('never shows a bad token secret or certificate key in the error', async () => {
    const e1 = await rejects(renderWorkerUserData(workerInput({ token: { id: 'abcdef', secret: 'SECRETSECRET1234' } })), ConfigError, /token secret/);
    assert.ok(!e1.message.includes('SECRETSECRET1234'));
    const e2 = await rejects(renderMasterUserData(masterInput({ certificateKey: 'zz-not-hex-key-value' })), ConfigError, /certificate key/);
    assert.ok(!e2.message.includes('zz-not-hex-key-value'));
  });

  it('toJSON hides the text (it holds the token)', async () => {
    const r = await renderWorkerUserData(workerInput());
    const s = JSON.stringify({ r });
    assert.ok(!s.includes(TOKEN.secret));
    assert.match(s, /"text":"<redacted>"/);
  });
});

describe('cloudinit/render master', () => {
  for (const ver of VERSIONS) {
    it(`renders a control-plane join for ${ver}`, async () => {
      const r = await renderMasterUserData(masterInput({ k8sVersion: ver, advertiseAddress: '192.168.1.23' }));
      const minor = Number(ver.split('.')[1]);
      const { join: j, doc, script } = parse(r.text);
      assert.deepEqual(unknownTopLevelKeys(doc), []);
      assert.equal(j.apiVersion, minor >= 31 ? 'kubeadm.k8s.io/v1beta4' : 'kubeadm.k8s.io/v1beta3');
      assert.deepEqual(j.controlPlane, { localAPIEndpoint: { advertiseAddress: '192.168.1.23', bindPort: 6443 }, certificateKey: CERT_KEY });
      assert.equal(j.nodeRegistration.taints, undefined, 'kubeadm applies the control-plane taint when taints is omitted');
      assert.equal(r.learnerMode, minor >= 29);
      assert.match(script, new RegExp(`mark stage=join-start control-plane=true learner=${minor >= 29}`));
      assert.ok(!script.includes('169.254.169.254'), 'no address detection when the address is known');
      const info = load(fileContent(doc, '/etc/kadd/node.yaml')) as Record<string, unknown>;
      assert.equal(info.etcdLearnerMode, minor >= 29);
      assert.equal(info.role, 'master');
      execFileSync('bash', ['--norc', '--noprofile', '-n'], { input: script, env: { PATH: process.env.PATH } });
    });
  }

  it('detects the advertise address at boot when it is not known (metadata, then default route)', async () => {
    const { join: j, script } = parse((await renderMasterUserData(masterInput())).text);
    assert.equal(j.controlPlane!.localAPIEndpoint.advertiseAddress, '__KADD_ADVERTISE_ADDRESS__');
    assert.match(script, /169\.254\.169\.254\/latest\/meta-data\/local-ipv4/);
    assert.match(script, /ip -4 route get/);
    assert.match(script, /s\/__KADD_ADVERTISE_ADDRESS__\/\$\{ADDR\}\//);
  });

  it('keeps explicit control-plane taints and refuses a bad advertise address or port', async () => {
    const { join: j } = parse((await renderMasterUserData(masterInput({ taints: [] }))).text);
    assert.deepEqual(j.nodeRegistration.taints, []);
    await rejects(renderMasterUserData(masterInput({ advertiseAddress: '10.0.0.1; reboot' })), ConfigError, /advertise address/);
    await rejects(renderMasterUserData(masterInput({ bindPort: 70000 })), ConfigError, /bind port/);
  });

  it('follows the cluster\'s EtcdLearnerMode feature gate on 1.29-1.31 and ignores it from 1.32 (GA)', () => {
    const v = (s: string) => parseK8sVersion(s);
    assert.equal(etcdLearnerMode(v('1.28.3')).enabled, false);
    assert.equal(etcdLearnerMode(v('1.28.3'), { EtcdLearnerMode: true }).enabled, true);
    assert.equal(etcdLearnerMode(v('1.29.0')).enabled, true);
    assert.equal(etcdLearnerMode(v('1.31.2'), { EtcdLearnerMode: false }).enabled, false);
    assert.equal(etcdLearnerMode(v('1.32.0'), { EtcdLearnerMode: false }).enabled, true);
    assert.equal(etcdLearnerMode(v('1.26.9'), { EtcdLearnerMode: true }).enabled, false);
  });

  it('never puts CA keys, kubeconfigs or passwords in user-data', async () => {
    for (const requestedBy of ['admin password reset', '-----BEGIN EC PRIVATE KEY-----', 'copy of /etc/kubernetes/admin.conf', 'client-key-data: x', 'see pki/ca.key']) {
      await rejects(renderMasterUserData(masterInput({ requestedBy })), PreflightError, /refusing to send user-data/);
    }
    const r = await renderMasterUserData(masterInput());
    assert.ok(!/PRIVATE KEY|password|admin\.conf|client-key-data/i.test(r.text));
  });
});

describe('cloudinit/render size', () => {
  it('sends plain text when it fits and gzip when it does not', async () => {
    const small = await renderWorkerUserData(workerInput());
    assert.equal(small.encoding, 'plain');
    assert.equal(Buffer.from(small.base64, 'base64').toString('utf8'), small.text);
    assert.ok(small.base64Length <= 65535);
    const labels: Record<string, string> = {};
    for (let i = 0; i < 900; i++) labels[`example.com/label-${i}`] = `value-${i}-${'x'.repeat(40)}`;
    const big = await renderWorkerUserData(workerInput({ labels }));
    assert.ok(Buffer.byteLength(big.text) * 4 / 3 > 65535, 'test input must be over the limit');
    assert.equal(big.encoding, 'gzip');
    assert.equal(gunzipSync(Buffer.from(big.base64, 'base64')).toString('utf8'), big.text);
    assert.ok(big.base64Length <= 65535);
  });
});

describe('cloudinit/templates', () => {
  it('sends every interpolation through an escaping helper', () => {
    const dir = new URL('../../templates/', import.meta.url);
    const files = [...readdirSync(dir).filter((f) => f.endsWith('.hbs')), ...readdirSync(new URL('partials/', dir)).map((f) => join('partials', f))];
    assert.ok(files.length >= 6);
    for (const f of files) {
      const src = readFileSync(new URL(f, dir), 'utf8');
      assert.ok(!src.includes('{{{'), `${f}: triple-stash`);
      for (const m of src.matchAll(/\{\{~?\s*([^}]*?)\s*~?\}\}/g)) {
        const body = m[1]!;
        if (/^[#/!>]/.test(body) || body === 'else' || body.startsWith('else ')) continue;
        assert.match(body, /^(yaml|sh|safe|int) \S+$/, `${f}: unescaped interpolation {{${body}}}`);
      }
    }
  });
});

describe('cloudinit/etcdImageFor', () => {
  it('uses the ClusterConfiguration image settings, else registry.k8s.io and kubeadm\'s default tag', () => {
    assert.equal(etcdImageFor(null, '1.29.3'), 'registry.k8s.io/etcd:3.5.10-0');
    assert.equal(etcdImageFor({ imageRepository: 'mirror.example.com/k8s/' }, '1.31.2'), 'mirror.example.com/k8s/etcd:3.5.15-0');
    assert.equal(etcdImageFor({ etcd: { local: { imageRepository: 'quay.io/x', imageTag: '3.5.9-0' } } }, '1.28.1'), 'quay.io/x/etcd:3.5.9-0');
    assert.equal(etcdImageFor({}, '1.40.0'), 'registry.k8s.io/etcd:3.6.4-0');
    assert.throws(() => etcdImageFor({ etcd: { external: { endpoints: ['https://x:2379'] } } }, '1.29.3'), /external etcd/);
  });
});
