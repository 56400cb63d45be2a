/**
 * Host-key pinning: OpenSSH known_hosts files (plain and hashed |1| entries, [host]:port, wildcards,
 * @revoked) and "SHA256:<base64 without padding>" fingerprints from the cluster config.
 * Pure: the decision is made here, ssh2's hostVerifier only calls it.
 */
import { createHash, createHmac } from 'node:crypto';

export interface KnownHostEntry {
  marker?: '@revoked' | '@cert-authority';
  /** plain patterns, or one hashed entry */
  patterns: string[];
  hashed?: { salt: Buffer; hash: Buffer };
  keyType: string;
  /** base64 key blob */
  key: string;
  line: number;
}

export function fingerprintOf(blob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
}

/** The key type named inside an SSH public key blob (first length-prefixed string). */
export function keyTypeOf(blob: Buffer): string {
  if (blob.length < 4) return 'unknown';
  const n = blob.readUInt32BE(0);
  if (n > 64 || 4 + n > blob.length) return 'unknown';
  return blob.subarray(4, 4 + n).toString('latin1');
}

export function normalizeFingerprint(fp: string): string {
  const s = fp.trim();
  const m = /^SHA256:([A-Za-z0-9+/]{43})=?$/.exec(s);
  if (!m) throw new Error(`invalid host key fingerprint "${fp}": expected SHA256:<43 base64 characters> as printed by ssh-keygen -lf`);
  return 'SHA256:' + m[1];
}

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const out: KnownHostEntry[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const f = line.split(/\s+/);
    let marker: KnownHostEntry['marker'];
    if (f[0] === '@revoked' || f[0] === '@cert-authority') marker = f.shift() as KnownHostEntry['marker'];
    if (f.length < 3) return;
    const [hosts, keyType, key] = f;
    const e: KnownHostEntry = { marker, patterns: [], keyType, key, line: i + 1 };
    if (hosts.startsWith('|1|')) {
      const [, , salt, hash] = hosts.split('|');
      if (!salt || !hash) return;
      e.hashed = { salt: Buffer.from(salt, 'base64'), hash: Buffer.from(hash, 'base64') };
    } else {
      e.patterns = hosts.split(',');
    }
    out.push(e);
  });
  return out;
}

/** "host" for port 22, "[host]:port" otherwise (OpenSSH's canonical host name). */
export function hostKeyName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function globMatch(pattern: string, s: string): boolean {
  const re = new RegExp('^' + pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$', 'i');
  return re.test(s);
}

export function entryMatchesHost(e: KnownHostEntry, host: string, port: number): boolean {
  const name = hostKeyName(host, port);
  if (e.hashed) {
    const h = createHmac('sha1', e.hashed.salt).update(name).digest();
    return h.equals(e.hashed.hash);
  }
  let matched = false;
  for (const p of e.patterns) {
    if (p.startsWith('!')) {
      if (globMatch(p.slice(1), name)) return false;
    } else if (globMatch(p, name)) matched = true;
  }
  return matched;
}

export interface PinnedKeys {
  /** fingerprints by host name ("10.0.0.5" or "10.0.0.5:2222" or "[10.0.0.5]:2222") */
  fingerprints?: Record<string, string[]>;
  knownHosts?: KnownHostEntry[];
  knownHostsFile?: string;
}

export type HostKeyDecision =
  | { ok: true; fingerprint: string; keyType: string; how: 'known_hosts' | 'fingerprint' | 'accepted' }
  | { ok: false; reason: 'unknown' | 'mismatch' | 'revoked'; fingerprint: string; keyType: string; message: string; hint: string };

function pinnedFingerprints(p: PinnedKeys, host: string, port: number): string[] {
  const fps = p.fingerprints ?? {};
  const names = port === 22 ? [host, `${host}:22`, `[${host}]:22`] : [`${host}:${port}`, `[${host}]:${port}`];
  return names.flatMap((n) => fps[n] ?? []).map(normalizeFingerprint);
}

/** Key types known for this host (so the client can ask the server for that algorithm first, as OpenSSH does). */
export function knownKeyTypes(p: PinnedKeys, host: string, port: number): string[] {
  return [...new Set((p.knownHosts ?? []).filter((e) => !e.marker && entryMatchesHost(e, host, port)).map((e) => e.keyType))];
}

/**
 * Decide whether a presented host key is acceptable.
 * - revoked in known_hosts: refused;
 * - equal to a known_hosts key or a configured fingerprint: accepted;
 * - the host has pinned keys but none matches: refused always (possible man-in-the-middle);
 * - nothing pinned: refused, unless `accept` equals the presented fingerprint.
 */
export function verifyHostKey(blob: Buffer, host: string, port: number, pinned: PinnedKeys, accept?: string): HostKeyDecision {
  const fingerprint = fingerprintOf(blob);
  const keyType = keyTypeOf(blob);
  const b64 = blob.toString('base64');
  const entries = (pinned.knownHosts ?? []).filter((e) => e.marker !== '@cert-authority' && entryMatchesHost(e, host, port));
  const name = hostKeyName(host, port);
  if (entries.some((e) => e.marker === '@revoked' && e.key === b64)) {
    return {
      ok: false, reason: 'revoked', fingerprint, keyType,
      message: `the host key of ${name} (${keyType} ${fingerprint}) is marked @revoked in ${pinned.knownHostsFile ?? 'known_hosts'}; refusing to connect`,
      hint: 'the server must get a new host key; do not accept this one',
    };
  }
  const known = entries.filter((e) => !e.marker);
  if (known.some((e) => e.key === b64)) return { ok: true, fingerprint, keyType, how: 'known_hosts' };
  const fps = pinnedFingerprints(pinned, host, port);
  if (fps.includes(fingerprint)) return { ok: true, fingerprint, keyType, how: 'fingerprint' };
  if (known.length || fps.length) {
    const expected = [
      ...known.map((e) => `${e.keyType} ${fingerprintOf(Buffer.from(e.key, 'base64'))} (${pinned.knownHostsFile ?? 'known_hosts'}:${e.line})`),
      ...fps.map((f) => `${f} (config ssh.host_keys)`),
    ];
    return {
      ok: false, reason: 'mismatch', fingerprint, keyType,
      message:
        `REMOTE HOST IDENTIFICATION HAS CHANGED for ${name}: it presented ${keyType} ${fingerprint}, but the pinned key is ${expected.join(', ')}. ` +
        'Someone could be eavesdropping on you right now (man-in-the-middle attack), or the host key has just been changed. Refusing to connect',
      hint: `if the server was legitimately rebuilt, verify its new key out of band (server console: ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub) and update ssh.host_keys or the known_hosts file`,
    };
  }
  if (accept !== undefined && normalizeFingerprint(accept) === fingerprint) return { ok: true, fingerprint, keyType, how: 'accepted' };
  return {
    ok: false, reason: 'unknown', fingerprint, keyType,
    message: `the host key of ${name} is not known: it presented ${keyType} ${fingerprint}${accept ? ` (not the accepted ${accept})` : ''}; refusing to connect`,
    hint: `check the fingerprint out of band (server console: ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub), then add it to the config under ssh.host_keys: {"${name.replace(/^\[(.*)\]:(\d+)$/, '$1:$2')}": ["${fingerprint}"]} or pass --accept-host-key ${fingerprint}`,
  };
}

/** ssh2 serverHostKey algorithm names for a known_hosts key type, most preferred first. */
export function algorithmsForKeyType(t: string): string[] {
  if (t === 'ssh-rsa') return ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];
  return [t];
}
