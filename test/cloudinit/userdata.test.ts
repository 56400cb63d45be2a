import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { NOVA_USER_DATA_LIMIT, assertNoForbiddenContent, base64Length, lastMarker, packUserData, parseMarkers } from '../../lib/cloudinit/index.js';
import { PreflightError } from '../../lib/errors.js';

describe('cloudinit/userdata', () => {
  it('measures the limit on the base64 text', () => {
    assert.equal(base64Length(3), 4);
    assert.equal(base64Length(4), 8);
    const fits = 'a'.repeat(49149); // 65532 base64 chars
    assert.equal(packUserData(fits, 'x').encoding, 'plain');
    assert.equal(packUserData('a'.repeat(49152), 'x').encoding, 'gzip'); // 65536
    assert.equal(NOVA_USER_DATA_LIMIT, 65535);
  });

  it('gzips when needed and refuses with both sizes when even gzip does not fit', () => {
    const compressible = '#cloud-config\n' + 'runcmd: [[true]]\n'.repeat(10000);
    const p = packUserData(compressible, 'worker x');
    assert.equal(p.encoding, 'gzip');
    assert.equal(gunzipSync(p.body).toString(), compressible);
    assert.equal(p.base64, p.body.toString('base64'));
    const random = randomBytes(60000).toString('hex');
    assert.throws(() => packUserData(random, 'worker demo-node-9'), (e: unknown) =>
      e instanceof PreflightError && e.exitCode === 2 && /worker demo-node-9.*\d+ bytes base64 \(\d+ gzip-compressed\), the limit is 65535/.test(e.message));
  });

  it('guards against secrets without echoing them', () => {
    const pem = '-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----';
    assert.throws(() => assertNoForbiddenContent(`x\n${pem}`, 'w'), (e: unknown) => e instanceof PreflightError && !e.message.includes('MIIEow') && /PEM private key/.test(e.message));
    assert.throws(() => assertNoForbiddenContent('OS_PASSWORD=x', 'w'), /password/);
    assert.throws(() => assertNoForbiddenContent('users:\n  client-key-data: abc', 'w'), /client-key-data/);
    assert.throws(() => assertNoForbiddenContent('cp /etc/kubernetes/super-admin.conf', 'w'), /admin\.conf/);
    assertNoForbiddenContent('#cloud-config\nruncmd: [[kubeadm, join]]\n', 'w');
  });
});

describe('cloudinit/markers', () => {
  it('parses markers out of a noisy console log', () => {
    const log = [
      '[   12.3] cloud-init[812]: KADD-MARK stage=bootstrap-start version=1.29.3 role=node node=demo-node-4 time=2026-01-01T00:00:00Z',
      'random kernel line',
      'cloud-init[812]: KADD-MARK stage=packages-ok role=node node=demo-node-4 time=2026-01-01T00:01:00Z\r',
      '[preflight] Some fatal errors occurred',
      'KADD-MARK stage=join-failed rc=1 role=node node=demo-node-4 time=2026-01-01T00:02:00Z',
      'KADD-MARK not a marker',
    ].join('\n');
    const ms = parseMarkers(log);
    assert.deepEqual(ms.map((m) => m.stage), ['bootstrap-start', 'packages-ok', 'join-failed']);
    const last = lastMarker(log)!;
    assert.equal(last.failed, true);
    assert.equal(last.rc, 1);
    assert.equal(last.fields.node, 'demo-node-4');
    assert.ok(last.line.startsWith('KADD-MARK stage=join-failed'));
    assert.equal(lastMarker('nothing here'), undefined);
  });
});
