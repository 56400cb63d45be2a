/**
 * Parsers for etcdctl 3.4/3.5 output (API v3). Pure; fixtures in fixtures/etcd/ are real captures.
 *
 * `etcdctl -w json` prints uint64 fields (ID, member_id, leader, cluster_id) as bare numbers. Before
 * JSON.parse, those integers are rewritten as JSON strings, so nothing goes through a JS number.
 */
import type { EtcdEndpointHealth, EtcdEndpointStatus, EtcdMember } from './types.js';
import { decimalToHex, normalizeHexId } from './ids.js';

export class EtcdParseError extends Error {}

/** Keys whose integer values are always uint64 IDs. */
const ID_KEYS = ['ID', 'id', 'member_id', 'memberID', 'leader', 'cluster_id', 'clusterID'];

/**
 * JSON.parse that keeps big integers exact: every integer value of an ID key, and every integer of
 * 16 or more digits anywhere, becomes a string. Inside JSON strings a quote is always escaped, so the
 * `"key": 123` pattern cannot match string content.
 */
export function parseJsonExact(text: string): unknown {
  const idKeys = ID_KEYS.join('|');
  let t = text.replace(new RegExp(`("(?:${idKeys})"\\s*:\\s*)(-?\\d+)(?=\\s*[,}\\]])`, 'g'), '$1"$2"');
  t = t.replace(/([:\[,]\s*)(-?\d{16,})(?=\s*[,}\]])/g, '$1"$2"');
  try {
    return JSON.parse(t);
  } catch (e) {
    throw new EtcdParseError(`etcdctl printed invalid JSON: ${(e as Error).message}; output starts with ${JSON.stringify(text.slice(0, 80))}`);
  }
}

function idFromJson(v: unknown, what: string): string {
  if (typeof v === 'string') return decimalToHex(v);
  if (typeof v === 'number' && Number.isSafeInteger(v)) return decimalToHex(String(v));
  throw new EtcdParseError(`missing or invalid ${what} in etcdctl JSON output: ${JSON.stringify(v)}`);
}

function strArray(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

export interface MemberList {
  clusterId?: string;
  /** the member that answered */
  respondingMemberId?: string;
  members: EtcdMember[];
}

/** `etcdctl member list -w json` */
export function parseMemberListJson(text: string): MemberList {
  const raw = parseJsonExact(text) as { header?: Record<string, unknown>; members?: unknown[] };
  if (!raw || typeof raw !== 'object' || !Array.isArray(raw.members)) {
    throw new EtcdParseError('etcdctl member list -w json: no "members" array in the output');
  }
  const members = raw.members.map((m) => {
    const o = m as Record<string, unknown>;
    return {
      id: idFromJson(o.ID, 'member ID'),
      name: typeof o.name === 'string' ? o.name : '',
      peerURLs: strArray(o.peerURLs),
      clientURLs: strArray(o.clientURLs),
      isLearner: o.isLearner === true,
    } satisfies EtcdMember;
  });
  return {
    clusterId: raw.header?.cluster_id !== undefined ? idFromJson(raw.header.cluster_id, 'cluster_id') : undefined,
    respondingMemberId: raw.header?.member_id !== undefined ? idFromJson(raw.header.member_id, 'member_id') : undefined,
    members,
  };
}

function splitUrls(s: string): string[] {
  return s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
}

function rowToMember(cells: string[], line: string): EtcdMember {
  if (cells.length < 5) throw new EtcdParseError(`unexpected etcdctl member list line: ${JSON.stringify(line)}`);
  const [id, status, name, peers, clients, learner] = cells;
  const m: EtcdMember = {
    id: normalizeHexId(id),
    name,
    peerURLs: splitUrls(peers),
    clientURLs: splitUrls(clients),
    isLearner: (learner ?? 'false').trim() === 'true',
  };
  if (status === 'unstarted' && m.name !== '') m.name = '';
  return m;
}

/** `etcdctl member list` (default simple format: "id, status, name, peers, clients, isLearner"). */
export function parseMemberListSimple(text: string): EtcdMember[] {
  const out: EtcdMember[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    // peer/client URL lists are themselves comma separated: split on ", " (etcdctl's separator)
    const cells = line.split(', ').map((c) => c.trim());
    out.push(rowToMember(cells, line));
  }
  return out;
}

/** `etcdctl member list -w table` */
export function parseMemberListTable(text: string): EtcdMember[] {
  const out: EtcdMember[] = [];
  let header: string[] | undefined;
  for (const line of text.split('\n')) {
    const l = line.trim();
    if (!l.startsWith('|')) continue;
    const cells = l
      .slice(1, l.endsWith('|') ? -1 : undefined)
      .split('|')
      .map((c) => c.trim());
    if (!header) {
      header = cells.map((c) => c.toUpperCase());
      if (header[0] !== 'ID') throw new EtcdParseError(`unexpected etcdctl member list table header: ${JSON.stringify(l)}`);
      continue;
    }
    const get = (name: string) => cells[header!.indexOf(name)] ?? '';
    out.push(
      rowToMember([get('ID'), get('STATUS'), get('NAME'), get('PEER ADDRS'), get('CLIENT ADDRS'), get('IS LEARNER') || 'false'], l),
    );
  }
  if (!header) throw new EtcdParseError('etcdctl member list -w table: no table in the output');
  return out;
}

/** `etcdctl endpoint status -w json` (stdout), plus the unreachable endpoints named on stderr. */
export function parseEndpointStatusJson(stdout: string, stderr = ''): EtcdEndpointStatus[] {
  const out: EtcdEndpointStatus[] = [];
  if (stdout.trim()) {
    const raw = parseJsonExact(stdout);
    if (!Array.isArray(raw)) throw new EtcdParseError('etcdctl endpoint status -w json: expected a JSON array');
    for (const e of raw as Record<string, unknown>[]) {
      const st = (e.Status ?? {}) as Record<string, unknown>;
      const header = (st.header ?? {}) as Record<string, unknown>;
      out.push({
        endpoint: String(e.Endpoint ?? ''),
        memberId: idFromJson(header.member_id, 'member_id'),
        leaderId: idFromJson(st.leader, 'leader'),
        isLearner: st.isLearner === true,
        version: typeof st.version === 'string' ? st.version : undefined,
        dbSize: st.dbSize === undefined ? undefined : Number(st.dbSize),
        raftIndex: st.raftIndex === undefined ? undefined : String(st.raftIndex),
        errors: strArray(st.errors).length ? strArray(st.errors) : undefined,
      });
    }
  }
  // "Failed to get the status of endpoint http://127.0.0.1:24793 (context deadline exceeded)"
  for (const m of stderr.matchAll(/Failed to get the status of endpoint (\S+) \((.*)\)\s*$/gm)) {
    if (!out.some((s) => s.endpoint === m[1])) out.push({ endpoint: m[1], memberId: '', leaderId: '', isLearner: false, errors: [m[2]] });
  }
  return out;
}

/** `etcdctl endpoint health -w json` (exit code 1 when any endpoint is unhealthy; stdout still complete). */
export function parseEndpointHealthJson(text: string): EtcdEndpointHealth[] {
  const raw = parseJsonExact(text);
  if (!Array.isArray(raw)) throw new EtcdParseError('etcdctl endpoint health -w json: expected a JSON array');
  return (raw as Record<string, unknown>[]).map((e) => ({
    endpoint: String(e.endpoint ?? ''),
    health: e.health === true || e.health === 'true',
    error: typeof e.error === 'string' && e.error ? e.error : undefined,
    took: typeof e.took === 'string' ? e.took : undefined,
  }));
}

/** `etcdctl endpoint health` plain lines: "<ep> is healthy: ..." / "<ep> is unhealthy: <error>". */
export function parseEndpointHealthText(text: string): EtcdEndpointHealth[] {
  const out: EtcdEndpointHealth[] = [];
  for (const m of text.matchAll(/^(\S+) is (healthy|unhealthy): (.*)$/gm)) {
    const took = /took = (\S+)/.exec(m[3])?.[1];
    out.push({
      endpoint: m[1],
      health: m[2] === 'healthy',
      error: m[2] === 'unhealthy' ? m[3].replace(/^failed to commit proposal: /, '') : undefined,
      took,
    });
  }
  return out;
}

/**
 * `etcdctl alarm list` (simple output: one AlarmMember per line as Go's %+v prints it, "memberID:<decimal>
 * alarm:NOSPACE") -> alarms per member, keyed by lowercase hex id. Lines that are not alarms are ignored.
 */
export function parseAlarmList(lines: string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const l of lines) {
    const m = /memberID:\s*(\d{1,20})\s+alarm:\s*([A-Z_]+)/.exec(l);
    if (!m) continue;
    const id = decimalToHex(m[1]!);
    out.set(id, [...(out.get(id) ?? []), m[2]!]);
  }
  return out;
}

export interface MemberAddResult {
  id: string;
  clusterId: string;
  name: string;
  initialCluster: string;
  initialClusterState: string;
  initialAdvertisePeerURLs: string;
}

/** `etcdctl member add NAME [--learner] --peer-urls=URL` */
export function parseMemberAdd(text: string): MemberAddResult {
  // etcdctl prints `Member %16x added%sto cluster %16x`: ids shorter than 16 hex digits are space-padded,
  // and 3.5 says "added as learner to cluster" where 3.4 says "added to cluster"
  const m = /Member\s+([0-9a-f]+) added(?: as learner)? to cluster\s+([0-9a-f]+)/.exec(text);
  if (!m) throw new EtcdParseError(`etcdctl member add: no "Member <id> added to cluster <id>" line in ${JSON.stringify(text.slice(0, 200))}`);
  const env = (k: string): string => {
    const r = new RegExp(`^${k}="?([^"\\n]*)"?\\s*$`, 'm').exec(text);
    return r ? r[1] : '';
  };
  return {
    id: normalizeHexId(m[1]),
    clusterId: normalizeHexId(m[2]),
    name: env('ETCD_NAME'),
    initialCluster: env('ETCD_INITIAL_CLUSTER'),
    initialClusterState: env('ETCD_INITIAL_CLUSTER_STATE'),
    initialAdvertisePeerURLs: env('ETCD_INITIAL_ADVERTISE_PEER_URLS'),
  };
}

/** The last "Error: ..." line etcdctl prints on stderr (its JSON retry logs are skipped). */
export function etcdctlErrorMessage(stderr: string, stdout = ''): string {
  const lines = (stderr + '\n' + stdout).split('\n').map((l) => l.trim());
  const err = [...lines].reverse().find((l) => l.startsWith('Error:'));
  if (err) return err.replace(/^Error:\s*/, '');
  const plain = [...lines].reverse().find((l) => l && !l.startsWith('{'));
  return plain ?? 'no error message';
}
