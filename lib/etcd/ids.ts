/**
 * etcd member/cluster IDs are uint64. They are kept as lowercase hex strings (no 0x, no leading zeros)
 * and converted with BigInt only, never through a JS number: IDs above 2^53 are common
 * (e.g. 17725852491784663393) and JSON.parse would silently corrupt them.
 */
const MAX_U64 = (1n << 64n) - 1n;

export class EtcdIdError extends Error {}

function checkRange(v: bigint, raw: string): bigint {
  if (v < 0n || v > MAX_U64) throw new EtcdIdError(`etcd ID out of uint64 range: ${raw}`);
  return v;
}

/** Normalise a hex ID ("0x00AB", "ab") to lowercase hex without leading zeros. */
export function normalizeHexId(hex: string): string {
  const s = hex.trim().toLowerCase().replace(/^0x/, '');
  if (!/^[0-9a-f]{1,16}$/.test(s)) throw new EtcdIdError(`not a hex etcd ID (up to 16 hex digits): "${hex}"`);
  return BigInt('0x' + s).toString(16);
}

/** Decimal uint64 text (as printed by `etcdctl -w json`) -> lowercase hex. */
export function decimalToHex(dec: string | bigint): string {
  if (typeof dec === 'bigint') return checkRange(dec, dec.toString()).toString(16);
  const s = dec.trim();
  if (!/^\d{1,20}$/.test(s)) throw new EtcdIdError(`not a decimal etcd ID: "${dec}"`);
  return checkRange(BigInt(s), s).toString(16);
}

/** Lowercase hex -> decimal text (what the grpc gateway and `-w json` use). */
export function hexToDecimal(hex: string): string {
  return BigInt('0x' + normalizeHexId(hex)).toString(10);
}

/** Accepts a decimal string, a hex string (with or without 0x) or a safe integer; returns hex. Decimal wins for all-digit input only when `assume` says so. */
export function toHexId(v: string | number | bigint, assume: 'decimal' | 'hex' = 'decimal'): string {
  if (typeof v === 'bigint') return decimalToHex(v);
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v) || v < 0) throw new EtcdIdError(`etcd ID ${v} is not exact as a JS number; parse it as text`);
    return v.toString(16);
  }
  const s = v.trim();
  if (/^0x/i.test(s)) return normalizeHexId(s);
  if (assume === 'decimal' && /^\d+$/.test(s)) return decimalToHex(s);
  return normalizeHexId(s);
}
