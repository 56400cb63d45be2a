/**
 * Escaping for the places a value lands in a rendered template. Handlebars runs with noEscape (its HTML
 * escaping is wrong for YAML and shell); every interpolation goes through one of these helpers instead.
 */
import { ConfigError } from '../errors.js';

/** True when c (one code point) is printable in YAML 1.1 (PyYAML, what cloud-init uses) and YAML 1.2. */
function yamlPrintable(cp: number): boolean {
  return (
    (cp >= 0x20 && cp <= 0x7e) ||
    (cp >= 0xa0 && cp <= 0xd7ff && cp !== 0x2028 && cp !== 0x2029) ||
    (cp >= 0xe000 && cp <= 0xfffd && cp !== 0xfeff) ||
    (cp >= 0x10000 && cp <= 0x10ffff)
  );
}

function hasLoneSurrogate(s: string): boolean {
  return /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);
}

/**
 * Backslash-escape every character of s: the quote character and \\ \n \t \r the same way in both styles below,
 * everything else as `other` says.
 */
function escapeChars(s: string, quote: '"' | "'", other: (ch: string, cp: number) => string): string {
  let out = '';
  for (const ch of s) {
    if (ch === quote) out += `\\${quote}`;
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else out += other(ch, ch.codePointAt(0)!);
  }
  return out;
}

function shown(s: string): string {
  const j = JSON.stringify(s);
  return j.length > 80 ? `${j.slice(0, 77)}..."` : j;
}

/**
 * A YAML double-quoted scalar (including the quotes) that parses back to exactly `s` in YAML 1.1 and 1.2.
 * Never contains a raw line break, so it is safe inside block scalars and flow collections.
 */
export function yamlQuote(s: string): string {
  if (hasLoneSurrogate(s)) throw new ConfigError(`value ${shown(s)} contains an unpaired UTF-16 surrogate and cannot be written to YAML`);
  const body = escapeChars(s, '"', (ch, cp) => {
    if (yamlPrintable(cp)) return ch;
    return cp <= 0xff ? `\\x${cp.toString(16).padStart(2, '0')}` : `\\u${cp.toString(16).padStart(4, '0')}`;
  });
  return `"${body}"`;
}

/**
 * A bash word that expands to exactly `s`: single-quoted ('...' with ' written as '\''), or ANSI-C quoted
 * ($'...') when s holds control characters, so the result never contains a raw line break.
 */
export function shellQuote(s: string): string {
  if (s.includes('\0')) throw new ConfigError(`value ${shown(s)} contains a NUL byte and cannot be passed to a shell`);
  if (hasLoneSurrogate(s)) throw new ConfigError(`value ${shown(s)} contains an unpaired UTF-16 surrogate`);
  // eslint-disable-next-line no-control-regex
  if (!/[\x00-\x1f\x7f\x85\u2028\u2029]/.test(s)) return `'${s.replace(/'/g, `'\\''`)}'`;
  const body = escapeChars(s, "'", (ch, cp) => {
    if (cp < 0x20 || cp === 0x7f) return `\\x${cp.toString(16).padStart(2, '0')}`;
    if (cp === 0x85 || cp === 0x2028 || cp === 0x2029) {
      // raw UTF-8 bytes: bash's \u escape depends on the locale, \x does not
      return [...Buffer.from(ch, 'utf8')].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('');
    }
    return ch;
  });
  return `$'${body}'`;
}
