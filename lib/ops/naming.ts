/**
 * Naming and ownership rules (design.md section 2). Pure.
 * Servers `<cluster>-<role>-<N>`, N = numeric max over existing names + 1 (never a string sort),
 * boot volume `<server>-root`, port `<server>-port-0`.
 */
export type Role = 'master' | 'node';

export const TAG_CLUSTER = 'kadd-cluster';
export const TAG_ROLE = 'kadd-role';

export function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Regex (string, for Nova's name filter) matching exactly the servers of one role. */
export function roleNamePattern(cluster: string, role: Role): string {
  return `^${escapeRegex(cluster)}-${role}-[0-9]+$`;
}

/** Regex (for Nova's name filter) matching exactly one name. */
export function exactNamePattern(name: string): string {
  return `^${escapeRegex(name)}$`;
}

/**
 * Regex matching exactly one name, for callers that pass a list. Deliberately refuses several names:
 * Nova on MySQL/MariaDB escapes `|` in the name filter, so an alternation `^(a|b)$` matches nothing there
 * (found by the end-to-end suite). Filter with the role's pattern and match names or ids in kadd instead.
 */
export function exactNamesPattern(names: string[]): string {
  if (names.length !== 1) throw new Error(`exactNamesPattern takes one name (got ${names.length}): Nova escapes "|" on MySQL; use roleNamePattern and filter in kadd`);
  return exactNamePattern(names[0]);
}

/** The index of `<cluster>-<role>-<N>`, or null when the name is not of that form. */
export function indexOf(cluster: string, role: Role, name: string): number | null {
  const m = new RegExp(`^${escapeRegex(cluster)}-${role}-([0-9]+)$`).exec(name);
  if (!m) return null;
  const n = Number(m[1]);
  return Number.isSafeInteger(n) ? n : null;
}

/** The next `amount` names after the numeric maximum of the existing ones (and of `reserved`). */
export function nextNames(cluster: string, role: Role, existing: string[], amount: number, reserved: string[] = []): string[] {
  let max = 0;
  for (const name of [...existing, ...reserved]) {
    const i = indexOf(cluster, role, name);
    if (i !== null && i > max) max = i;
  }
  const out: string[] = [];
  for (let k = 1; k <= amount; k++) out.push(`${cluster}-${role}-${max + k}`);
  return out;
}

export const volumeName = (server: string) => `${server}-root`;
export const portName = (server: string) => `${server}-port-0`;

export function ownershipMetadata(cluster: string, role: Role): Record<string, string> {
  return { [TAG_CLUSTER]: cluster, [TAG_ROLE]: role };
}

export function ownershipTags(cluster: string, role: Role): string[] {
  return [`${TAG_CLUSTER}=${cluster}`, `${TAG_ROLE}=${role}`];
}

/** Zone for the i-th new node: the explicit zone, else round-robin over the configured zones. */
export function zoneFor(i: number, explicit: string | undefined, zones: string[]): string | undefined {
  if (explicit) return explicit;
  if (zones.length === 0) return undefined;
  return zones[i % zones.length];
}

/** Another zone for a retry, when several are configured. */
export function retryZone(current: string | undefined, explicit: string | undefined, zones: string[]): string | undefined {
  if (explicit || zones.length < 2 || current === undefined) return current;
  const i = zones.indexOf(current);
  return zones[(i + 1) % zones.length];
}

/**
 * Pure: names are claimed, not assumed (13.8). Nova allows two servers with one name; when another server
 * took `mine.name` (another kadd, or someone by hand, after kadd's preflight), the earliest created keeps
 * the name (ties: the smaller id), so that both sides decide the same way. Returns the server that keeps
 * the name when it is not `mine`.
 */
export function nameClaimRival<S extends { id: string; name: string; created?: string; status?: string }>(mine: S, listed: S[]): S | undefined {
  // a deleted server holds no name: a `changes-since` list shows DELETED (and SOFT_DELETED) ones, e.g. this
  // node's own first attempt that went to ERROR and was deleted before the retry
  const same = listed.filter((s) => s.name === mine.name && s.status !== 'DELETED' && s.status !== 'SOFT_DELETED');
  if (!same.some((s) => s.id === mine.id)) same.push(mine);
  if (same.length < 2) return undefined;
  const t = (s: S) => (s.created ? Date.parse(s.created) : Number.POSITIVE_INFINITY);
  same.sort((a, b) => t(a) - t(b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return same[0]!.id === mine.id ? undefined : same[0];
}

/** An API pool member kadd named (`<cluster>-master-N`, its server's name): the only kind `kadd cleanup` deletes. */
export function isKaddMemberName(cluster: string, name: string | undefined): boolean {
  return !!name && new RegExp(`^${escapeRegex(cluster)}-master-[0-9]+$`).test(name);
}
