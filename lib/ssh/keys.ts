/**
 * Private key loading for ssh2 with errors an operator can act on. Key material and passphrases are
 * never put into messages.
 */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../errors.js';
import { registerSecret } from '../redact.js';

export interface LoadedKey {
  path: string;
  data: Buffer;
  passphrase?: string;
  type: string;
}

export function expandHome(p: string): string {
  return p === '~' ? homedir() : p.startsWith('~/') ? join(homedir(), p.slice(2)) : p;
}

/** Default identity files, as OpenSSH tries them (only existing ones are used). */
export function defaultKeyPaths(): string[] {
  return ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((n) => join(homedir(), '.ssh', n));
}

/** Read and check a private key. Throws ConfigError (exit 2) with the fix. */
export async function loadPrivateKey(path: string, passphrase?: string): Promise<LoadedKey> {
  const p = expandHome(path);
  let data: Buffer;
  try {
    data = await readFile(p);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConfigError(`cannot read SSH private key ${p}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (e as Error).message}`, {
      code: 'E_SSH_KEY',
      hint: 'set ssh.private_key in the cluster config to an OpenSSH private key, or load one into ssh-agent',
    });
  }
  if (passphrase) registerSecret(passphrase);
  const text = data.toString('latin1');
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----/.test(text)) {
    throw new ConfigError(`SSH private key ${p} is an encrypted PKCS#8 key, which ssh2 cannot read`, {
      code: 'E_SSH_KEY',
      hint: `convert it to OpenSSH format: ssh-keygen -p -f ${p} (keeps or changes the passphrase and rewrites the file), or use ssh-agent`,
    });
  }
  if (/-----BEGIN PRIVATE KEY-----/.test(text)) {
    // PKCS#8: ssh2 reads it for some key types only (not ed25519)
    const { createPrivateKey } = await import('node:crypto');
    let kind = 'unknown';
    try {
      kind = createPrivateKey(data).asymmetricKeyType ?? 'unknown';
    } catch {
      /* reported below */
    }
    throw new ConfigError(`SSH private key ${p} is in PKCS#8 PEM format (${kind}), which ssh2 cannot use`, {
      code: 'E_SSH_KEY',
      hint: `rewrite it in OpenSSH format: ssh-keygen -p -N '' -f ${p} (or with your passphrase), or generate one with ssh-keygen -t ed25519`,
    });
  }
  const { utils } = (await import('ssh2')).default;
  const parsed = utils.parseKey(data, passphrase);
  if (parsed instanceof Error) {
    const m = parsed.message;
    if (/no passphrase given|passphrase/i.test(m) && !passphrase) {
      throw new ConfigError(`SSH private key ${p} is encrypted and no passphrase was given`, {
        code: 'E_SSH_KEY',
        hint: 'load it into ssh-agent (ssh-add) and leave ssh.private_key unset, or set KADD_SSH_PASSPHRASE',
      });
    }
    if (/bad decrypt|integrity check|Failed to decrypt|Wrong passphrase/i.test(m)) {
      throw new ConfigError(`SSH private key ${p}: wrong passphrase`, { code: 'E_SSH_KEY', hint: 'check KADD_SSH_PASSPHRASE, or use ssh-agent' });
    }
    throw new ConfigError(`SSH private key ${p} cannot be used: ${m}`, {
      code: 'E_SSH_KEY',
      hint: 'use an OpenSSH-format key (ssh-keygen -t ed25519); PKCS#8 ed25519 keys are not supported',
    });
  }
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (key.isPrivateKey && !key.isPrivateKey()) {
    throw new ConfigError(`${p} is a public key, not a private key`, { code: 'E_SSH_KEY', hint: 'point ssh.private_key at the file without .pub' });
  }
  return { path: p, data, passphrase, type: key.type };
}
