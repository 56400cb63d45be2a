import assert from 'node:assert/strict';
import { diagnose } from '../../lib/ops/diagnose.js';

describe('ops/diagnose', () => {
  it('classifies Nova faults', () => {
    assert.equal(diagnose({ fault: { message: 'No valid host was found. There are not enough hosts available.' } }).cause, 'no-valid-host');
    assert.equal(diagnose({ fault: { message: 'Build of instance x aborted: Volume y did not finish being created even after we waited 3 seconds' } }).cause, 'volume');
    const other = diagnose({ fault: { message: 'Exceeded maximum number of retries.' } });
    assert.equal(other.cause, 'nova-fault');
    assert.match(other.summary, /Exceeded maximum/);
  });
  it('finds the kubeadm token error in the console and redacts token secrets', () => {
    const consoleText = [
      'cloud-init[812]: KADD-MARK stage=join-start',
      '[preflight] Running pre-flight checks',
      'error execution phase preflight: couldn\'t validate the identity of the API Server: could not find a JWS signature in the cluster-info ConfigMap for token ID "abcdef"',
      'token id "abcdef" is invalid for this cluster or it has expired. Use "kubeadm token create" on the control-plane node to create a new valid token',
      'kubeadm join 10.0.0.1:6443 --token abcdef.0123456789abcdef',
      'KADD-MARK stage=join-failed rc=1',
    ].join('\n');
    const d = diagnose({ console: consoleText });
    assert.equal(d.cause, 'token-expired');
    assert.equal(d.lastStage, 'join-failed');
    assert.ok(!JSON.stringify(d).includes('0123456789abcdef'), 'token secret leaked');
  });
  it('an expired or deleted token seen as a missing JWS signature (the bootstrap signer drops it) is a token problem', () => {
    const d = diagnose({ console: '[preflight] Running pre-flight checks\nerror execution phase preflight: couldn\'t validate the identity of the API Server: could not find a JWS signature in the cluster-info ConfigMap for token ID "1r1vn9"' });
    assert.equal(d.cause, 'token-expired');
  });
  it('CA hash mismatch, certificate key, etcd and api-unreachable', () => {
    assert.equal(diagnose({ console: 'cluster CA found in cluster-info ConfigMap is invalid: none of the public keys "sha256:aa" are pinned' }).cause, 'ca-hash-mismatch');
    assert.equal(diagnose({ console: 'error downloading certs: error downloading the secret: secrets "kubeadm-certs" not found' }).cause, 'certificate-key');
    assert.equal(diagnose({ console: 'error execution phase control-plane-join/etcd: etcdserver: can only promote a learner member which is in sync with leader' }).cause, 'etcd-join');
    assert.equal(diagnose({ console: 'Get "https://10.0.0.1:6443/api": dial tcp 10.0.0.1:6443: i/o timeout' }).cause, 'api-unreachable');
  });
  it('the last error wins over an earlier one', () => {
    const d = diagnose({ console: '[ERROR Swap]: running with swap on is not supported\nsomething\ntoken id "abcdef" is invalid for this cluster or it has expired' });
    assert.equal(d.cause, 'token-expired');
  });
  it('empty console, still running, unknown', () => {
    assert.equal(diagnose({ console: '' }).cause, 'no-boot-output');
    assert.equal(diagnose({ console: 'booting\nKADD-MARK stage=packages' }).cause, 'join-still-running');
    assert.equal(diagnose({ console: 'just some kernel lines' }).cause, 'unknown');
    assert.equal(diagnose({ console: 'x\nKADD-MARK stage=join-failed rc=3' }).summary, 'kubeadm join failed (exit code 3)');
  });
});
