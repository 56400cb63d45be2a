/**
 * The simulated cluster's PKI: a fixed CA (fixtures/sim/k8s/pki, generated once with openssl) so that the
 * discovery hash is stable, the kubeadm-certs encryption (AES-256-GCM, nonce prepended, as kubeadm's
 * cryptoutil does) and the bootstrap signer's detached JWS (HS256, kid = token id).
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';

const dir = new URL('../../../fixtures/sim/k8s/pki/', import.meta.url);
let cache: { caCrt: string; caKey: string; etcdCaCrt: string; etcdCaKey: string; caHash: string } | undefined;

export function pki() {
  if (!cache) {
    const caCrt = readFileSync(new URL('ca.crt', dir), 'utf8');
    const spki = new X509Certificate(caCrt).publicKey.export({ type: 'spki', format: 'der' });
    cache = {
      caCrt,
      caKey: readFileSync(new URL('ca.key', dir), 'utf8'),
      etcdCaCrt: readFileSync(new URL('etcd-ca.crt', dir), 'utf8'),
      etcdCaKey: readFileSync(new URL('etcd-ca.key', dir), 'utf8'),
      caHash: 'sha256:' + createHash('sha256').update(spki).digest('hex'),
    };
  }
  return cache;
}

/** AES-GCM as kubeadm's cryptoutil.EncryptBytes: nonce (12 bytes) || ciphertext || tag */
export function encryptBytes(data: Buffer, key: Buffer, nonce: Buffer): Buffer {
  const c = createCipheriv(`aes-${key.length * 8}-gcm` as 'aes-256-gcm', key, nonce);
  const ct = Buffer.concat([c.update(data), c.final()]);
  return Buffer.concat([nonce, ct, c.getAuthTag()]);
}

export function decryptBytes(data: Buffer, key: Buffer): Buffer {
  if (![16, 24, 32].includes(key.length)) throw new Error(`crypto/aes: invalid key size ${key.length}`);
  if (data.length < 12 + 16) throw new Error('size of data is less than the nonce');
  const nonce = data.subarray(0, 12);
  const tag = data.subarray(data.length - 16);
  const d = createDecipheriv(`aes-${key.length * 8}-gcm` as 'aes-256-gcm', key, nonce);
  d.setAuthTag(tag);
  try {
    return Buffer.concat([d.update(data.subarray(12, data.length - 16)), d.final()]);
  } catch {
    throw new Error('cipher: message authentication failed');
  }
}

/** Go's hex.DecodeString errors, verbatim */
export function goHexDecode(s: string): Buffer {
  for (let i = 0; i < s.length; i++) {
    if (!/[0-9a-fA-F]/.test(s[i]!)) {
      const cp = s.codePointAt(i)!;
      throw new Error(`encoding/hex: invalid byte: U+${cp.toString(16).toUpperCase().padStart(4, '0')} '${String.fromCodePoint(cp)}'`);
    }
  }
  if (s.length % 2 === 1) throw new Error('encoding/hex: odd length hex string');
  return Buffer.from(s, 'hex');
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

/** detached JWS (compact serialization without payload), as k8s.io/cluster-bootstrap ComputeDetachedSignature */
export function detachedJws(content: string, tokenId: string, tokenSecret: string): string {
  const header = b64url(JSON.stringify({ alg: 'HS256', kid: tokenId }));
  const sig = createHmac('sha256', tokenSecret).update(`${header}.${b64url(content)}`).digest();
  return `${header}..${b64url(sig)}`;
}

export function jwsValid(jws: string, content: string, tokenId: string, tokenSecret: string): boolean {
  return jws === detachedJws(content, tokenId, tokenSecret);
}
