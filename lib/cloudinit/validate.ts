/**
 * Checks run on every input BEFORE a template is rendered: a bad value is refused with a one-line
 * ConfigError that names the field, the value and the fix (exit 2, nothing created).
 */
import { isIP } from 'node:net';
import { ConfigError } from '../errors.js';

const LABEL_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const QUALIFIED_NAME_RE = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE_RE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function show(v: unknown): string {
  const s = typeof v === 'string' ? JSON.stringify(v) : String(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function bad(field: string, value: unknown, why: string, hint: string): never {
  throw new ConfigError(`invalid ${field} ${show(value)}: ${why}`, { code: 'E_INVALID_VALUE', hint });
}

/** RFC 1123 label: lowercase alphanumerics and '-', starts and ends alphanumeric, at most 63 characters. */
export function checkDns1123Label(field: string, v: unknown): string {
  if (typeof v !== 'string' || v.length === 0) bad(field, v, 'must be a non-empty string', `set ${field} to a name like "demo-node-1"`);
  if (v.length > 63) bad(field, v, `is ${v.length} characters long, at most 63 are allowed (RFC 1123 label)`, `shorten ${field}`);
  if (!LABEL_RE.test(v)) {
    bad(field, v, 'must be an RFC 1123 label: lowercase letters, digits and "-", starting and ending with a letter or digit', `rename it, e.g. ${show(suggestLabel(v))}`);
  }
  return v;
}

/** RFC 1123 subdomain: dot-separated labels, at most 253 characters. */
export function checkDns1123Subdomain(field: string, v: unknown): string {
  if (typeof v !== 'string' || v.length === 0) bad(field, v, 'must be a non-empty string', `set ${field}`);
  if (v.length > 253) bad(field, v, `is ${v.length} characters long, at most 253 are allowed (RFC 1123 subdomain)`, `shorten ${field}`);
  for (const part of v.split('.')) {
    if (!LABEL_RE.test(part) || part.length > 63) {
      bad(field, v, 'must be an RFC 1123 subdomain: dot-separated lowercase labels of letters, digits and "-"', `fix ${field}`);
    }
  }
  return v;
}

function suggestLabel(v: string): string {
  const s = v.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63).replace(/-+$/, '');
  return s || 'node';
}

/** Label or taint key: [prefix/]name, prefix an RFC 1123 subdomain, name a qualified name of at most 63 characters. */
export function checkQualifiedKey(field: string, key: unknown): string {
  if (typeof key !== 'string' || key.length === 0) bad(field, key, 'must be a non-empty string', 'use a key like "example.com/role"');
  const parts = key.split('/');
  if (parts.length > 2) bad(field, key, 'has more than one "/"', 'use "prefix/name" with a DNS prefix');
  const name = parts[parts.length - 1]!;
  if (parts.length === 2) {
    const prefix = parts[0]!;
    if (prefix.length === 0) bad(field, key, 'has an empty prefix before "/"', 'drop the "/" or add a DNS prefix');
    checkDns1123Subdomain(`${field} prefix`, prefix);
  }
  if (name.length === 0 || name.length > 63 || !QUALIFIED_NAME_RE.test(name)) {
    bad(field, key, 'name part must be 1-63 characters of letters, digits, "-", "_" or ".", starting and ending with a letter or digit', 'rename the key');
  }
  return key;
}

export function checkLabelValue(field: string, v: unknown): string {
  if (typeof v !== 'string') bad(field, v, 'must be a string', 'quote the value in the config file');
  if (v.length > 63 || !LABEL_VALUE_RE.test(v)) {
    bad(field, v, 'must be empty or 1-63 characters of letters, digits, "-", "_" or ".", starting and ending with a letter or digit', 'change the value');
  }
  return v;
}

/** Labels the kubelet may set on its own Node with --node-labels (kubelet's well_known_labels.go). */
const KUBELET_LABELS = new Set([
  'kubernetes.io/hostname', 'topology.kubernetes.io/zone', 'topology.kubernetes.io/region',
  'failure-domain.beta.kubernetes.io/zone', 'failure-domain.beta.kubernetes.io/region',
  'node.kubernetes.io/instance-type', 'beta.kubernetes.io/instance-type',
  'kubernetes.io/os', 'kubernetes.io/arch', 'beta.kubernetes.io/os', 'beta.kubernetes.io/arch',
]);
const KUBELET_LABEL_NAMESPACES = ['kubelet.kubernetes.io', 'node.kubernetes.io'];

/** True when the kubelet refuses this key in --node-labels (a kubernetes.io / k8s.io key it does not own). */
export function isRestrictedNodeLabel(key: string): boolean {
  const slash = key.indexOf('/');
  if (slash < 0) return false;
  const ns = key.slice(0, slash);
  const inK8sNs = ns === 'kubernetes.io' || ns.endsWith('.kubernetes.io') || ns === 'k8s.io' || ns.endsWith('.k8s.io');
  if (!inK8sNs) return false;
  if (KUBELET_LABELS.has(key)) return false;
  return !KUBELET_LABEL_NAMESPACES.some((n) => ns === n || ns.endsWith(`.${n}`));
}

export function checkNodeLabels(labels: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels ?? {})) {
    checkQualifiedKey('node label key', k);
    checkLabelValue(`value of node label "${k}"`, v);
    if (isRestrictedNodeLabel(k)) {
      bad('node label key', k, 'is in the kubernetes.io/k8s.io namespace, which the kubelet refuses to set on itself (the node would never start)',
        'use your own prefix (e.g. "example.com/role") or a node.kubernetes.io/ key; node-role.kubernetes.io/* can only be set after the join');
    }
    out[k] = v;
  }
  return out;
}

export type TaintEffect = 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
export interface Taint { key: string; value?: string; effect: TaintEffect }
const EFFECTS: readonly string[] = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'];

export function checkTaints(taints: readonly Taint[] | undefined): Taint[] {
  return (taints ?? []).map((t, i) => {
    if (!t || typeof t !== 'object') bad(`taint #${i + 1}`, t, 'must be {key, value?, effect}', 'write taints as "key=value:Effect"');
    checkQualifiedKey(`taint #${i + 1} key`, t.key);
    if (t.value !== undefined) checkLabelValue(`taint "${t.key}" value`, t.value);
    if (!EFFECTS.includes(t.effect)) bad(`taint "${t.key}" effect`, t.effect, `must be one of ${EFFECTS.join(', ')}`, 'fix the effect (case matters)');
    return t.value === undefined || t.value === '' ? { key: t.key, effect: t.effect } : { key: t.key, value: t.value, effect: t.effect };
  });
}

export interface K8sVersion { major: number; minor: number; patch: number; /** "1.29.3" */ text: string }

/** Oldest minor kadd renders for: pkgs.k8s.io only carries v1.24 and newer. */
export const MIN_K8S_MINOR = 24;

export function parseK8sVersion(v: unknown, field = 'version.k8s'): K8sVersion {
  const m = typeof v === 'string' ? /^v?(\d{1,3})\.(\d{1,3})\.(\d{1,4})$/.exec(v.trim()) : null;
  if (!m) bad(field, v, 'must be a full Kubernetes release like "1.29.3" (pinned packages need the patch version)', `set ${field}: "1.29.3"`);
  const [major, minor, patch] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (major !== 1 || minor < MIN_K8S_MINOR) {
    bad(field, v, `is older than 1.${MIN_K8S_MINOR}, the oldest release pkgs.k8s.io publishes packages for`, 'upgrade the cluster first');
  }
  return { major, minor, patch, text: `${major}.${minor}.${patch}` };
}

/** host:port, host an IPv4 address, a [bracketed] IPv6 address or a DNS name. */
export function checkEndpoint(field: string, v: unknown): { host: string; port: number; text: string } {
  if (typeof v !== 'string') bad(field, v, 'must be "host:port"', 'e.g. "10.0.0.10:6443"');
  const m = /^(\[[0-9A-Fa-f:.]+\]|[^:\s[\]]+):(\d{1,5})$/.exec(v);
  if (!m) bad(field, v, 'must be "host:port" (IPv6 in brackets)', 'e.g. "10.0.0.10:6443" or "[fd00::1]:6443"');
  const host = m[1]!;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) bad(field, v, 'port must be 1-65535', 'fix the port');
  if (host.startsWith('[')) {
    if (isIP(host.slice(1, -1)) !== 6) bad(field, v, 'bracketed host is not an IPv6 address', 'fix the address');
  } else if (/^[0-9.]+$/.test(host)) {
    if (isIP(host) !== 4) bad(field, v, 'host is not a valid IPv4 address', 'fix the address');
  } else {
    checkDns1123Subdomain(`${field} host`, host.toLowerCase() === host ? host : bad(field, v, 'DNS names must be lowercase', 'lowercase the host name'));
  }
  return { host, port, text: v };
}

export function checkIp(field: string, v: unknown): string {
  if (typeof v !== 'string' || isIP(v) === 0) bad(field, v, 'must be an IPv4 or IPv6 address', 'pass the port\'s fixed IP');
  return v;
}

export function checkToken(t: unknown): { id: string; secret: string } {
  const tok = t as { id?: unknown; secret?: unknown } | undefined;
  // the secret is never shown, even when it is wrong
  if (!tok || typeof tok.id !== 'string' || !/^[a-z0-9]{6}$/.test(tok.id)) bad('bootstrap token id', tok?.id, 'must be 6 characters [a-z0-9]', 'create the token with kadd, not by hand');
  if (typeof tok.secret !== 'string' || !/^[a-z0-9]{16}$/.test(tok.secret)) {
    throw new ConfigError(`invalid bootstrap token secret for token "${tok.id}": must be 16 characters [a-z0-9]`, { code: 'E_INVALID_VALUE' });
  }
  return { id: tok.id, secret: tok.secret };
}

export function checkCaCertHash(v: unknown): string {
  if (typeof v !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(v)) {
    bad('CA certificate hash', v, 'must be "sha256:" followed by 64 lowercase hex digits', 'compute it from the cluster CA (sha256 of its SubjectPublicKeyInfo)');
  }
  return v;
}

export function checkCertificateKey(v: unknown): string {
  if (typeof v !== 'string' || !/^[0-9a-f]{64}$/.test(v)) {
    // never echo the key itself
    throw new ConfigError('invalid certificate key: must be 64 lowercase hex digits (a 32-byte AES key)', {
      code: 'E_INVALID_VALUE', hint: 'let kadd generate it (kubeadm init phase upload-certs --certificate-key)',
    });
  }
  return v;
}

/** Extra kubelet flags: kubeadm writes them unescaped into KUBELET_KUBEADM_ARGS="..." in kubeadm-flags.env. */
export function checkKubeletExtraArgs(args: Record<string, string> | undefined): [string, string][] {
  const out: [string, string][] = [];
  for (const [k, v] of Object.entries(args ?? {})) {
    if (!/^[a-z0-9][a-z0-9-]*$/.test(k)) bad('kubelet flag name', k, 'must be a flag name without leading dashes, e.g. "node-ip"', 'fix the flag name');
    if (k === 'node-labels' || k === 'register-with-taints') bad('kubelet flag name', k, 'is set by kadd from the labels and taints', 'use node_labels / node_taints');
    if (typeof v !== 'string') bad(`kubelet flag "${k}"`, v, 'must be a string', 'quote the value');
    // eslint-disable-next-line no-control-regex
    if (/["\\\x00-\x1f\x7f\x85\u2028\u2029]/.test(v) || v.length > 1024) {
      bad(`kubelet flag "${k}"`, v, 'may not contain double quotes, backslashes or control characters (kubeadm writes it unescaped into kubeadm-flags.env)', 'simplify the value');
    }
    out.push([k, v]);
  }
  return out;
}

/** https URL without credentials, for a package mirror. */
export function checkRepoUrl(field: string, v: unknown): string {
  let u: URL | undefined;
  try {
    u = typeof v === 'string' ? new URL(v) : undefined;
  } catch {
    u = undefined;
  }
  if (!u || (u.protocol !== 'https:' && u.protocol !== 'http:') || u.username || u.password || /[\s'"\\$`]/.test(String(v))) {
    bad(field, v, 'must be an http(s) URL without credentials, spaces or quotes', 'e.g. "https://pkgs.k8s.io/core:/stable:/v1.29/deb/"');
  }
  return String(v);
}
