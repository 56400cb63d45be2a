/**
 * What goes to Nova: size limit, gzip when needed, and a guard against content that must never be in
 * user-data (it is readable from the metadata service by anything on the server).
 */
import { gzipSync } from 'node:zlib';
import { PreflightError } from '../errors.js';

/** Nova: user_data "Must be Base64 encoded. Restricted to 65535 bytes." (the limit applies to the base64 text) */
export const NOVA_USER_DATA_LIMIT = 65535;

export function base64Length(bytes: number): number {
  return 4 * Math.ceil(bytes / 3);
}

export interface PackedUserData {
  /** 'plain': the cloud-config text as is; 'gzip': gzip-compressed (cloud-init detects and inflates it) */
  encoding: 'plain' | 'gzip';
  /** the bytes Nova receives (before base64) */
  body: Buffer;
  /** body, base64-encoded: what goes into the server create request */
  base64: string;
  /** length of base64, checked against NOVA_USER_DATA_LIMIT */
  base64Length: number;
  /** size of the plain text in bytes */
  plainBytes: number;
}

/**
 * Plain when it fits; gzip (level 9) when the plain text is over the limit; PreflightError naming both
 * sizes when even the compressed form does not fit.
 */
export function packUserData(text: string, what: string, limit = NOVA_USER_DATA_LIMIT): PackedUserData {
  const plain = Buffer.from(text, 'utf8');
  if (base64Length(plain.length) <= limit) {
    return { encoding: 'plain', body: plain, base64: plain.toString('base64'), base64Length: base64Length(plain.length), plainBytes: plain.length };
  }
  const gz = gzipSync(plain, { level: 9 });
  if (base64Length(gz.length) <= limit) {
    return { encoding: 'gzip', body: gz, base64: gz.toString('base64'), base64Length: base64Length(gz.length), plainBytes: plain.length };
  }
  throw new PreflightError(
    `user-data for ${what} is too large for Nova: ${base64Length(plain.length)} bytes base64 (${base64Length(gz.length)} gzip-compressed), the limit is ${limit}`,
    { code: 'E_USERDATA_TOO_LARGE', hint: 'remove node labels, taints or kubelet flags, or report this as a kadd bug' },
  );
}

const FORBIDDEN: { re: RegExp; what: string }[] = [
  { re: /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/, what: 'a PEM private key' },
  { re: /password/i, what: 'the word "password"' },
  { re: /(?:super-)?admin\.conf/, what: 'a reference to admin.conf (the admin kubeconfig)' },
  { re: /client-key-data/, what: 'a kubeconfig client key (client-key-data)' },
  { re: /\b(?:ca|sa|front-proxy-ca)\.key\b/, what: 'a reference to a CA or service-account private key file' },
];

/**
 * Throws when the rendered text contains something that must never reach user-data. The message names
 * the rule, never the matched content.
 */
export function assertNoForbiddenContent(text: string, what: string): void {
  for (const f of FORBIDDEN) {
    if (f.re.test(text)) {
      throw new PreflightError(`refusing to send user-data for ${what}: it contains ${f.what}`, {
        code: 'E_USERDATA_FORBIDDEN',
        hint: 'user-data is readable by anything on the server through the metadata service; remove that value from the config',
      });
    }
  }
}
