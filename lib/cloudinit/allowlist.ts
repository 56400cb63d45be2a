/**
 * cloud-init 22.4 accepts unknown top-level keys silently ("runkmd:" is "Valid cloud-config"), so kadd
 * keeps its own list of the keys its templates may emit. A key outside it is a template bug.
 */
export const ALLOWED_TOP_LEVEL_KEYS: readonly string[] = Object.freeze([
  'hostname',
  'package_update',
  'write_files',
  'runcmd',
  'final_message',
]);

/** Top-level keys of a parsed cloud-config that are not on the allow-list. */
export function unknownTopLevelKeys(doc: unknown): string[] {
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) return ['<document is not a mapping>'];
  return Object.keys(doc).filter((k) => !ALLOWED_TOP_LEVEL_KEYS.includes(k));
}
