/**
 * kubeadm's discovery-token-ca-cert-hash: "sha256:" + hex(sha256(DER SubjectPublicKeyInfo of the CA)).
 * Works for RSA, ECDSA and Ed25519 CAs alike, since it hashes the SPKI, not the key's own encoding.
 */
import { createHash, createPublicKey, X509Certificate } from 'node:crypto';

const PEM_CERT_RE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The certificates in a PEM bundle, in order. */
export function splitPemCertificates(pem: string): string[] {
  return pem.match(PEM_CERT_RE) ?? [];
}

/** CA hash of one PEM certificate. */
export function caCertHash(pem: string): string {
  const certs = splitPemCertificates(pem);
  if (certs.length === 0) throw new Error('no PEM certificate found in the cluster CA data');
  const spki = createPublicKey(certs[0]!).export({ type: 'spki', format: 'der' });
  return 'sha256:' + createHash('sha256').update(spki).digest('hex');
}

/**
 * Hashes of every CA certificate in a bundle (kubeadm accepts any of them in
 * --discovery-token-ca-cert-hash; during a CA rotation the bundle has two).
 */
export function caCertHashes(pem: string): string[] {
  return splitPemCertificates(pem).map((c) => caCertHash(c));
}

export function isCaCertHash(s: string): boolean {
  return /^sha256:[0-9a-f]{64}$/.test(s);
}

/** Subject and expiry of the first certificate, for messages. */
export function describeCa(pem: string): { subject: string; notAfter: string } {
  const certs = splitPemCertificates(pem);
  if (certs.length === 0) throw new Error('no PEM certificate found in the cluster CA data');
  const x = new X509Certificate(certs[0]!);
  return { subject: x.subject.replace(/\n/g, ', '), notAfter: x.validTo };
}
