/**
 * kubeadm bootstrap tokens: pure helpers (no I/O), formats as kubeadm defines them
 * (k8s.io/cluster-bootstrap/token/api: BootstrapTokenPattern, BootstrapGroupPattern).
 */
import { randomInt } from 'node:crypto';

export const TOKEN_ID_RE = /^[a-z0-9]{6}$/;
export const TOKEN_SECRET_RE = /^[a-z0-9]{16}$/;
export const TOKEN_RE = /^([a-z0-9]{6})\.([a-z0-9]{16})$/;
/** kubeadm: \Asystem:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]\z */
export const BOOTSTRAP_GROUP_RE = /^system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]$/;
export const DEFAULT_NODE_GROUP = 'system:bootstrappers:kubeadm:default-node-token';
export const DEFAULT_USAGES = ['authentication', 'signing'] as const;
export const KNOWN_USAGES = new Set(['authentication', 'signing']);
export const BOOTSTRAP_TOKEN_SECRET_TYPE = 'bootstrap.kubernetes.io/token';
export const BOOTSTRAP_TOKEN_NAMESPACE = 'kube-system';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** Random string from [a-z0-9] using the CSPRNG, without modulo bias (crypto.randomInt). */
export function randomTokenString(n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += ALPHABET[randomInt(ALPHABET.length)];
  return s;
}

export function generateTokenId(): string {
  return randomTokenString(6);
}
export function generateTokenSecret(): string {
  return randomTokenString(16);
}

export function secretNameForTokenId(id: string): string {
  assertTokenId(id);
  return `bootstrap-token-${id}`;
}

export function assertTokenId(id: string): void {
  if (!TOKEN_ID_RE.test(id)) throw new Error(`invalid bootstrap token id '${id}': expected 6 characters [a-z0-9]`);
}

export function isValidToken(token: string): boolean {
  return TOKEN_RE.test(token);
}

/** RFC 3339 in UTC with a Z suffix and no fractional seconds, as kubeadm writes it (time.RFC3339 on a UTC time). */
export function rfc3339Utc(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The expiration string for a token valid ttlSeconds from nowMs. */
export function expirationFrom(nowMs: number, ttlSeconds: number): string {
  if (!Number.isFinite(ttlSeconds) || ttlSeconds <= 0) throw new Error(`invalid token TTL ${ttlSeconds}s: must be > 0`);
  return rfc3339Utc(nowMs + ttlSeconds * 1000);
}

/** True when s is an RFC 3339 timestamp in UTC ("...Z"). */
export function isRfc3339Utc(s: string): boolean {
  return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/.test(s) && !Number.isNaN(Date.parse(s));
}

export interface TokenSecretSpec {
  id: string;
  secret: string;
  expiration: string;
  description?: string;
  usages?: readonly string[];
  groups?: readonly string[];
}

/** The kube-system Secret that kubeadm's `kubeadm token create` would write. */
export function bootstrapTokenSecretBody(spec: TokenSecretSpec): {
  apiVersion: 'v1';
  kind: 'Secret';
  type: string;
  metadata: { name: string; namespace: string };
  stringData: Record<string, string>;
} {
  assertTokenId(spec.id);
  if (!TOKEN_SECRET_RE.test(spec.secret)) throw new Error('invalid bootstrap token secret: expected 16 characters [a-z0-9]');
  if (!isRfc3339Utc(spec.expiration)) throw new Error(`invalid token expiration '${spec.expiration}': expected RFC 3339 UTC`);
  const usages = spec.usages ?? DEFAULT_USAGES;
  const groups = spec.groups ?? [DEFAULT_NODE_GROUP];
  const stringData: Record<string, string> = {
    'token-id': spec.id,
    'token-secret': spec.secret,
    expiration: spec.expiration,
  };
  if (spec.description) stringData.description = spec.description;
  for (const u of usages) {
    if (!KNOWN_USAGES.has(u)) throw new Error(`invalid bootstrap token usage '${u}': expected one of ${[...KNOWN_USAGES].join(', ')}`);
    stringData[`usage-bootstrap-${u}`] = 'true';
  }
  for (const g of groups) {
    if (!BOOTSTRAP_GROUP_RE.test(g)) throw new Error(`invalid bootstrap token group '${g}': must match system:bootstrappers:[a-z0-9:-]*`);
  }
  if (groups.length) stringData['auth-extra-groups'] = groups.join(',');
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: BOOTSTRAP_TOKEN_SECRET_TYPE,
    metadata: { name: secretNameForTokenId(spec.id), namespace: BOOTSTRAP_TOKEN_NAMESPACE },
    stringData,
  };
}
