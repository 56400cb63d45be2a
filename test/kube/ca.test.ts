import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { caCertHash, caCertHashes, describeCa, isCaCertHash } from '../../lib/kube/ca.js';

const PKI = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/pki');
// computed by openssl with kubeadm's documented pipeline when the fixtures were generated, not by kadd
const expected = JSON.parse(readFileSync(path.join(PKI, 'expected-hashes.json'), 'utf8')) as Record<string, string>;
const pem = (f: string) => readFileSync(path.join(PKI, f), 'utf8');

describe('kube/ca: discovery-token-ca-cert-hash', () => {
  it('RSA CA matches openssl x509 -pubkey | openssl rsa -pubin -outform der | sha256', () => {
    assert.equal(caCertHash(pem('rsa-ca.crt')), expected['rsa-ca.crt']);
  });
  it('ECDSA CA matches openssl x509 -pubkey | openssl pkey -pubin -outform der | sha256', () => {
    assert.equal(caCertHash(pem('ecdsa-ca.crt')), expected['ecdsa-ca.crt']);
  });
  it('the two CAs differ and the format is sha256:<64 hex>', () => {
    assert.notEqual(expected['rsa-ca.crt'], expected['ecdsa-ca.crt']);
    for (const f of ['rsa-ca.crt', 'ecdsa-ca.crt']) assert.ok(isCaCertHash(caCertHash(pem(f))));
  });
  it('a bundle yields one hash per CA, in order; the first is the default', () => {
    const bundle = pem('ecdsa-ca.crt') + pem('rsa-ca.crt');
    assert.deepEqual(caCertHashes(bundle), [expected['ecdsa-ca.crt'], expected['rsa-ca.crt']]);
    assert.equal(caCertHash(bundle), expected['ecdsa-ca.crt']);
  });
  it('no certificate -> error', () => {
    assert.throws(() => caCertHash('not a pem'), /no PEM certificate/);
  });
  it('describeCa', () => {
    assert.match(describeCa(pem('rsa-ca.crt')).subject, /CN=kubernetes/);
  });
});
