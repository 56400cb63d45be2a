import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADDER_SLEEP_SCRIPT, renderAdderDeployment } from '../../lib/cloudinit/index.js';
import { ConfigError } from '../../lib/errors.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
const NOW = Date.parse('2026-03-04T05:06:07Z');

describe('cloudinit/adder deployment', () => {
  it('renders a pinned, tolerant, host-network, read-only, bounded Deployment', async () => {
    const r = await renderAdderDeployment({ clusterName: 'demo', nodeName: 'demo-master-1', image: 'registry.k8s.io/etcd:3.5.12-0', now: NOW, operationId: 'op-1', requestedBy: 'me "x"\n' });
    const d = r.object as any;
    assert.equal(d.apiVersion, 'apps/v1');
    assert.equal(d.kind, 'Deployment');
    // named and labelled per operation (13.10): a run finds and deletes only its own adder
    assert.equal(d.metadata.name, 'kadd-master-adder-op-1');
    assert.equal(r.name, 'kadd-master-adder-op-1');
    assert.equal(d.metadata.namespace, 'kube-system');
    assert.equal(d.metadata.labels['app.kubernetes.io/managed-by'], 'kadd');
    assert.equal(d.metadata.annotations['kadd.io/requested-by'], 'me "x"\n');
    assert.equal(d.metadata.annotations['kadd.io/expires-at'], '2026-03-04T06:06:07.000Z');
    assert.equal(r.expiresAt, '2026-03-04T06:06:07.000Z');
    assert.equal(d.spec.replicas, 1);
    assert.deepEqual(d.spec.selector.matchLabels, { 'app.kubernetes.io/name': 'kadd-master-adder', 'app.kubernetes.io/managed-by': 'kadd', 'kadd.io/operation-id': 'op-1' });
    for (const [k, v] of Object.entries(d.spec.selector.matchLabels)) assert.equal(d.spec.template.metadata.labels[k], v);
    assert.equal(r.labelSelector, 'app.kubernetes.io/name=kadd-master-adder,app.kubernetes.io/managed-by=kadd,kadd.io/operation-id=op-1');
    assert.equal(r.familySelector, 'app.kubernetes.io/name=kadd-master-adder,app.kubernetes.io/managed-by=kadd');
    const other = await renderAdderDeployment({ clusterName: 'demo', nodeName: 'demo-master-1', image: 'registry.k8s.io/etcd:3.5.12-0', now: NOW, operationId: '20260304T050607-a1b2c3' });
    assert.equal(other.name, 'kadd-master-adder-20260304t050607-a1b2c3');
    assert.notEqual(other.name, r.name);
    assert.match(other.labelSelector, /kadd\.io\/operation-id=20260304T050607-a1b2c3$/);
    const pod = d.spec.template.spec;
    assert.deepEqual(pod.nodeSelector, { 'kubernetes.io/hostname': 'demo-master-1' });
    const tol = pod.tolerations.map((t: any) => `${t.key}:${t.effect}`);
    assert.deepEqual(tol.sort(), ['node-role.kubernetes.io/control-plane:NoSchedule', 'node-role.kubernetes.io/master:NoSchedule']);
    assert.equal(pod.hostNetwork, true);
    assert.equal(pod.automountServiceAccountToken, false);
    const c = pod.containers[0];
    assert.equal(c.image, 'registry.k8s.io/etcd:3.5.12-0');
    assert.deepEqual(c.command.slice(0, 2), ['/bin/sh', '-c']);
    assert.equal(c.command[2], ADDER_SLEEP_SCRIPT);
    const env = Object.fromEntries(c.env.map((e: any) => [e.name, e.value]));
    assert.equal(env.KADD_DEADLINE, String(NOW / 1000 + 3600));
    assert.equal(env.ETCDCTL_CACERT, '/etc/kubernetes/pki/etcd/ca.crt');
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.equal(c.securityContext.allowPrivilegeEscalation, false);
    assert.ok(c.resources.limits.memory);
    const mounts = Object.fromEntries(c.volumeMounts.map((m: any) => [m.name, m]));
    assert.deepEqual(mounts['etcd-pki'], { name: 'etcd-pki', mountPath: '/etc/kubernetes/pki/etcd', readOnly: true });
    assert.equal(mounts.kubernetes, undefined);
    assert.equal(mounts.kubeadm, undefined);
    assert.equal(mounts.snapshots.readOnly, undefined, 'snapshots are written to the host');
    const vols = Object.fromEntries(pod.volumes.map((v: any) => [v.name, v]));
    assert.equal(vols['etcd-pki'].hostPath.path, '/etc/kubernetes/pki/etcd');
    assert.equal(vols.snapshots.hostPath.path, '/var/lib/kadd/snapshots');
    // every hostPath except the snapshot directory is mounted read-only
    for (const m of c.volumeMounts) if (vols[m.name].hostPath && m.name !== 'snapshots') assert.equal(m.readOnly, true, m.name);
  });

  it('mounts /etc/kubernetes and the host kubeadm read-only for upload-certs', async () => {
    const r = await renderAdderDeployment({ clusterName: 'demo', nodeName: 'cp-1.example.com', image: 'mirror.local:5000/k8s/etcd:3.5.15-0', uploadCerts: true, kubeadmPath: '/opt/bin/kubeadm', ttlSeconds: 600, now: NOW });
    const pod = (r.object as any).spec.template.spec;
    const mounts = Object.fromEntries(pod.containers[0].volumeMounts.map((m: any) => [m.name, m]));
    assert.deepEqual(mounts.kubernetes, { name: 'kubernetes', mountPath: '/etc/kubernetes', readOnly: true });
    assert.deepEqual(mounts.kubeadm, { name: 'kubeadm', mountPath: '/usr/local/bin/kubeadm', readOnly: true });
    assert.equal(mounts['etcd-pki'], undefined, 'no overlapping mount');
    const vols = Object.fromEntries(pod.volumes.map((v: any) => [v.name, v]));
    assert.deepEqual(vols.kubeadm.hostPath, { path: '/opt/bin/kubeadm', type: 'File' });
    const env = Object.fromEntries(pod.containers[0].env.map((e: any) => [e.name, e.value]));
    assert.equal(env.KADD_DEADLINE, String(NOW / 1000 + 600));
  });

  it('refuses bad input', async () => {
    const base = { clusterName: 'demo', nodeName: 'demo-master-1', image: 'registry.k8s.io/etcd:3.5.12-0' };
    for (const [over, re] of [
      [{ image: 'etcd; rm -rf /' }, /adder image/],
      [{ image: 'Registry/etcd' }, /adder image/],
      [{ nodeName: 'Master_1' }, /control-plane node name/],
      [{ ttlSeconds: 10 }, /lifetime/],
      [{ kubeadmPath: 'kubeadm' }, /kubeadm path/],
      [{ snapshotDir: '/etc/kubernetes/snap' }, /snapshot directory/],
      [{ snapshotDir: '/var/../etc' }, /snapshot directory/],
    ] as const) {
      await assert.rejects(renderAdderDeployment({ ...base, ...over }), (e: unknown) => e instanceof ConfigError && re.test((e as Error).message));
    }
  });

  it('its command waits until the deadline without a sleep binary and exits at once after it', function () {
    this.timeout(10000);
    const dir = mkdtempSync(join(tmpdir(), 'kadd-adder-'));
    try {
      const bash = execFileSync('bash', ['--norc', '--noprofile', '-c', 'command -v bash'], { env: { PATH: process.env.PATH } }).toString().trim();
      symlinkSync(bash, join(dir, 'sh'));
      const run = (deadline: number) => {
        const t0 = Date.now();
        const out = execFileSync(join(dir, 'sh'), ['-c', ADDER_SLEEP_SCRIPT], { env: { PATH: dir, KADD_DEADLINE: String(deadline) } }).toString();
        return { out, ms: Date.now() - t0 };
      };
      const nowS = Math.floor(Date.now() / 1000);
      const expired = run(nowS - 5);
      assert.match(expired.out, /expired/);
      assert.ok(expired.ms < 1000);
      const waiting = run(nowS + 2);
      assert.match(waiting.out, /ready for [12]s/);
      assert.ok(waiting.ms >= 900, `waited ${waiting.ms} ms`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
