/**
 * Redaction of secrets for logs, --debug traces and journals.
 * Anything that might carry a password, token, key or user_data goes through here.
 */
const SECRET_KEYS = new Set([
  'password', 'secret', 'token', 'token-secret', 'token_secret', 'tokensecret', 'application_credential_secret',
  'user_data', 'userdata', 'x-auth-token', 'x-subject-token', 'authorization', 'certificatekey', 'certificate-key',
  'certificate_key', 'private_key', 'privatekey', 'client-key-data', 'client_key_data', 'key', 'passphrase',
  'adminpass', 'admin_pass', 'data', 'stringdata', 'id_token', 'refresh-token', 'access-token',
]);

export const REDACTED = '<redacted>';

export function isSecretKey(k: string): boolean {
  const n = k.toLowerCase();
  return (
    SECRET_KEYS.has(n) || n.endsWith('password') || n.endsWith('_secret') || n.endsWith('-secret') || n.endsWith('token') ||
    // namespaced user data, e.g. Nova's "OS-EXT-SRV-ATTR:user_data" in server details (microversion >= 2.3)
    n.endsWith(':user_data')
  );
}

/** Deep copy of a JSON-like value with secret-looking keys replaced. */
export function redactValue(v: unknown, depth = 0): unknown {
  if (depth > 20) return REDACTED;
  if (Array.isArray(v)) return v.map((x) => redactValue(x, depth + 1));
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      out[k] = isSecretKey(k) && x !== null && x !== undefined && typeof x !== 'boolean' ? REDACTED : redactValue(x, depth + 1);
    }
    return out;
  }
  return v;
}

/** Registry of concrete secret strings seen at run time (token secrets, passwords); scrubbed from any text. */
const knownSecrets = new Set<string>();
export function registerSecret(s: string | undefined | null): void {
  if (s && s.length >= 6) knownSecrets.add(s);
}
export function clearSecrets(): void {
  knownSecrets.clear();
}

const PATTERNS: [RegExp, string][] = [
  // kubeadm bootstrap token abcdef.0123456789abcdef
  [/\b([a-z0-9]{6})\.[a-z0-9]{16}\b/g, `$1.${REDACTED}`],
  // PEM private keys
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g, REDACTED],
  // 64 hex char certificate keys
  [/(--certificate-key[= ]+)[0-9a-f]{64}/gi, `$1${REDACTED}`],
  [/(certificateKey:\s*)["']?[0-9a-f]{64}["']?/gi, `$1${REDACTED}`],
  // a JSON "key": "value" in free text (an error body, a console log) whose key isSecretKey() would redact:
  // *password, *_secret / *-secret, *token (X-Auth-Token, id_token...), user_data (also namespaced), certificate keys
  [
    /("(?:[\w:.-]*(?:password|[_-]secret|token)|secret|passphrase|adminpass|admin_pass|private_?key|certificate[-_]?key|(?:[\w.-]+:)?user_?data)"\s*:\s*)"[^"]*"/gi,
    `$1"${REDACTED}"`,
  ],
];

/** Scrub secrets out of free text. */
export function redactText(s: string): string {
  let out = s;
  for (const secret of knownSecrets) out = out.split(secret).join(REDACTED);
  for (const [re, rep] of PATTERNS) out = out.replace(re, rep);
  return out;
}
