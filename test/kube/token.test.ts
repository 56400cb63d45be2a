import { strict as assert } from 'node:assert';
import {
  BOOTSTRAP_GROUP_RE, bootstrapTokenSecretBody, expirationFrom, generateTokenId, generateTokenSecret, isRfc3339Utc,
  isValidToken, rfc3339Utc, secretNameForTokenId,
} from '../../lib/kube/token.js';

describe('kube/token: kubeadm bootstrap token helpers', () => {
  it('ids and secrets have kubeadm\'s formats and are random', () => {
    const ids = new Set<string>();
    for (let i = 0; i < 500; i++) {
      const id = generateTokenId();
      const s = generateTokenSecret();
      assert.match(id, /^[a-z0-9]{6}$/);
      assert.match(s, /^[a-z0-9]{16}$/);
      assert.ok(isValidToken(`${id}.${s}`));
      ids.add(id);
    }
    assert.ok(ids.size > 490, `ids repeat too often: ${ids.size}/500`);
  });

  it('expiration is RFC 3339 in UTC regardless of the local time zone (koris used local time)', () => {
    const saved = process.env.TZ;
    process.env.TZ = 'Asia/Kolkata';
    try {
      const now = Date.UTC(2024, 0, 1, 23, 30, 15, 999);
      assert.equal(expirationFrom(now, 3600), '2024-01-02T00:30:15Z');
      assert.equal(rfc3339Utc(now), '2024-01-01T23:30:15Z');
    } finally {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    }
    assert.ok(isRfc3339Utc('2024-01-02T00:30:15Z'));
    assert.ok(!isRfc3339Utc('2024-01-02T05:30:15+05:30'));
    assert.throws(() => expirationFrom(0, 0), /TTL/);
  });

  it('the Secret body is what kubeadm token create writes', () => {
    const b = bootstrapTokenSecretBody({ id: 'abcdef', secret: '0123456789abcdef', expiration: '2024-01-02T00:30:15Z', description: 'kadd add' });
    assert.deepEqual(b, {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'bootstrap.kubernetes.io/token',
      metadata: { name: 'bootstrap-token-abcdef', namespace: 'kube-system' },
      stringData: {
        'token-id': 'abcdef',
        'token-secret': '0123456789abcdef',
        expiration: '2024-01-02T00:30:15Z',
        description: 'kadd add',
        'usage-bootstrap-authentication': 'true',
        'usage-bootstrap-signing': 'true',
        'auth-extra-groups': 'system:bootstrappers:kubeadm:default-node-token',
      },
    });
  });

  it('rejects bad ids, secrets, usages, groups, local-time expirations', () => {
    const ok = { id: 'abcdef', secret: '0123456789abcdef', expiration: '2024-01-02T00:30:15Z' };
    assert.throws(() => bootstrapTokenSecretBody({ ...ok, id: 'ABCDEF' }), /token id/);
    assert.throws(() => bootstrapTokenSecretBody({ ...ok, secret: 'short' }), /token secret/);
    assert.throws(() => bootstrapTokenSecretBody({ ...ok, expiration: '2024-01-02T00:30:15+01:00' }), /RFC 3339 UTC/);
    assert.throws(() => bootstrapTokenSecretBody({ ...ok, usages: ['root'] }), /usage 'root'/);
    assert.throws(() => bootstrapTokenSecretBody({ ...ok, groups: ['system:masters'] }), /group 'system:masters'/);
    assert.throws(() => secretNameForTokenId('abc'), /6 characters/);
    assert.ok(BOOTSTRAP_GROUP_RE.test('system:bootstrappers:kubeadm:default-node-token'));
  });
});
