/**
 * Load and validate the koris-style cluster file (research/koris.md section 2) plus kadd's own keys.
 *
 * - Every problem is collected and reported at once: a ConfigError (exit 2) whose message is the
 *   summary and whose details hold one line per problem: "<file>: <key path>: expected X, found Y (line N)".
 * - A YAML syntax error names line and column.
 * - Unknown keys are warnings with a "did you mean" (errors with `strict`).
 * - No network access, ever: this only reads the one file.
 */
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { isIP, isIPv4 } from 'node:net';
import { homedir } from 'node:os';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { load, YAMLException } from 'js-yaml';
import { ConfigError } from '../errors.js';
import type { ClusterConfig, ConfigWarning, SshSettings } from './types.js';
import { indexYaml, joinPath, lineOfPath, type YamlIndex } from './yaml-index.js';
import { suggest } from './suggest.js';

export interface LoadOptions {
  /** unknown keys are errors instead of warnings */
  strict?: boolean;
  /** base for relative paths (default process.cwd()) */
  cwd?: string;
  /** name used in messages (default: the path as given) */
  displayPath?: string;
  env?: NodeJS.ProcessEnv;
}

export interface LoadedConfig {
  config: ClusterConfig;
  warnings: ConfigWarning[];
  /** the parsed YAML, untouched */
  raw: Record<string, unknown>;
}

export const DEFAULTS = {
  nNodes: 0,
  subnetCidr: '192.168.0.0/16',
  podSubnet: '10.233.0.0/16',
  podNetwork: 'CALICO',
  volumeSize: 25,
  sshUser: 'ubuntu',
  sshPort: 22,
} as const;

const POD_NETWORKS = ['CALICO', 'FLANNEL'];
const TAINT_EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'] as const;

/** Keys per mapping. `null` = any keys allowed below (free-form). */
const ROOT_KEYS = [
  'cluster-name', 'n-masters', 'n-nodes', 'keypair', 'master_flavor', 'node_flavor', 'availability-zones',
  'availibility-zones', 'image', 'storage_class', 'private_net', 'loadbalancer', 'version', 'pod_subnet',
  'pod_network', 'addons', 'user_data', 'security_group',
  // kadd's own
  'volume_size', 'server_group', 'ssh', 'node_labels', 'node_taints',
];
/**
 * When koris had to create the network during `add`, it merged the whole openstacksdk Network object
 * into private_net and replaced private_net.subnet with {cidr, ip_version, network_id, name}
 * (koris.md section 2). Files written by koris therefore carry these keys: accept them silently.
 */
const KORIS_NETWORK_FIELDS = [
  'id', 'admin_state_up', 'availability_zone_hints', 'availability_zones', 'created_at', 'description', 'dns_domain',
  'ipv4_address_scope', 'ipv4_address_scope_id', 'ipv6_address_scope', 'ipv6_address_scope_id', 'is_admin_state_up',
  'is_default', 'is_port_security_enabled', 'is_router_external', 'is_shared', 'is_vlan_transparent', 'location',
  'mtu', 'port_security_enabled', 'project_id', 'provider:network_type', 'provider:physical_network',
  'provider:segmentation_id', 'provider_network_type', 'provider_physical_network', 'provider_segmentation_id',
  'qos_policy_id', 'revision_number', 'router:external', 'segments', 'shared', 'status', 'subnet_ids', 'subnets',
  'tags', 'tenant_id', 'updated_at',
];
const KNOWN: Record<string, string[]> = {
  '': ROOT_KEYS,
  private_net: ['name', 'subnet', ...KORIS_NETWORK_FIELDS],
  'private_net.subnet': ['name', 'cidr', 'router', 'ip_version', 'network_id', 'id'],
  'private_net.subnet.router': ['name', 'id'],
  loadbalancer: ['name', 'floatingip', 'dnsname', 'ssh'],
  version: ['k8s'],
  ssh: ['user', 'port', 'private_key', 'bastion', 'known_hosts', 'host_keys'],
  'ssh.bastion': ['host', 'port', 'user'],
  security_group: ['name'],
};

type Raw = Record<string, unknown>;

const isMap = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);

/** How a found value is shown in a message. Never the content of something that may be secret. */
export function describeFound(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'an empty value';
  if (typeof v === 'string') {
    if (/PRIVATE KEY/.test(v)) return 'what looks like a private key (not shown)';
    const s = v.length > 60 ? `${v.slice(0, 57)}...` : v;
    return JSON.stringify(s);
  }
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return 'a list';
  if (v instanceof Date) return `the date ${v.toISOString().slice(0, 10)}`;
  return 'a mapping';
}

class Checker {
  readonly problems: string[] = [];
  readonly warnings: ConfigWarning[] = [];
  constructor(
    readonly display: string,
    readonly index: YamlIndex | undefined,
    readonly strict: boolean,
  ) {}

  private where(path: string): string {
    const line = lineOfPath(this.index, path);
    return line ? ` (line ${line})` : '';
  }
  problem(path: string, text: string): void {
    this.problems.push(`${this.display}: ${path || '(top level)'}: ${text}${this.where(path)}`);
  }
  expected(path: string, expected: string, found: unknown, extra = ''): void {
    this.problem(path, `expected ${expected}, found ${describeFound(found)}${extra}`);
  }
  warn(path: string, text: string): void {
    this.warnings.push({ path, message: `${this.display}: ${path}: ${text}${this.where(path)}` });
  }

  /** Report keys of `obj` not in the known list for `path`. */
  keys(path: string, obj: Raw): void {
    const known = KNOWN[path];
    if (!known) return;
    for (const k of Object.keys(obj)) {
      if (known.includes(k)) continue;
      const p = joinPath(path, k);
      const guess = suggest(k, known.filter((x) => !KORIS_NETWORK_FIELDS.includes(x) || path !== 'private_net'));
      const text = `unknown key${guess ? `; did you mean ${guess}?` : ''}`;
      if (this.strict) this.problem(p, `${text}${guess ? '' : ' (remove it, or run without --strict)'}`);
      else this.warn(p, text);
    }
  }

  // ---- typed getters: report and return undefined when the value is wrong ----

  str(obj: Raw, key: string, path: string, required: boolean, what = 'a string'): string | undefined {
    const v = obj[key];
    const p = joinPath(path, key);
    if (v === undefined || v === null) {
      if (required) this.problem(p, v === null ? `expected ${what}, found an empty value` : `required key missing (expected ${what})`);
      return undefined;
    }
    if (typeof v === 'number' || typeof v === 'boolean') {
      this.expected(p, what, v, ` (YAML read it as a ${typeof v}; quote it: "${String(v)}")`);
      return undefined;
    }
    if (typeof v !== 'string') {
      this.expected(p, what, v);
      return undefined;
    }
    if (!v.trim()) {
      if (required) this.expected(p, `${what} (not empty)`, v);
      return undefined;
    }
    return v;
  }

  int(obj: Raw, key: string, path: string, opts: { required: boolean; min: number; max?: number; what?: string }): number | undefined {
    const v = obj[key];
    const p = joinPath(path, key);
    const what = opts.what ?? `a whole number >= ${opts.min}${opts.max !== undefined ? ` and <= ${opts.max}` : ''}`;
    if (v === undefined || v === null) {
      if (opts.required) this.problem(p, v === null ? `expected ${what}, found an empty value` : `required key missing (expected ${what})`);
      return undefined;
    }
    if (typeof v !== 'number' || !Number.isInteger(v) || v < opts.min || (opts.max !== undefined && v > opts.max)) {
      const extra = typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? ' (remove the quotes)' : '';
      this.expected(p, what, v, extra);
      return undefined;
    }
    return v;
  }

  map(obj: Raw, key: string, path: string): Raw | undefined {
    const v = obj[key];
    const p = joinPath(path, key);
    if (v === undefined || v === null) return undefined;
    if (!isMap(v)) {
      this.expected(p, 'a mapping', v);
      return undefined;
    }
    this.keys(p, v);
    return v;
  }
}

// ---------------------------------------------------------------------------------------------
// value checks

const NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const K8S_VERSION = /^v?(\d+)\.(\d+)\.(\d+)$/;
const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}=?$/;

function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
}

/** Parse a CIDR; returns an error text or the parts. */
export function parseCidr(s: string): { family: 4 | 6; addr: string; prefix: number; hostBits: boolean } | string {
  const m = /^([^/\s]+)\/(\d{1,3})$/.exec(s);
  if (!m) return 'expected a CIDR like 10.0.0.0/24';
  const family = isIP(m[1]!);
  if (!family) return 'expected a CIDR like 10.0.0.0/24 (the address part is not an IP address)';
  const prefix = Number(m[2]);
  const max = family === 4 ? 32 : 128;
  if (prefix > max) return `expected a CIDR with a prefix length of at most ${max}`;
  let hostBits = false;
  if (family === 4) {
    const n = ipv4ToInt(m[1]!);
    const size = 2 ** (32 - prefix);
    hostBits = n % size !== 0;
  }
  return { family: family as 4 | 6, addr: m[1]!, prefix, hostBits };
}

function networkOf(addr: string, prefix: number): string {
  const n = ipv4ToInt(addr);
  const size = 2 ** (32 - prefix);
  const base = n - (n % size);
  return [24, 16, 8, 0].map((s) => Math.floor(base / 2 ** s) % 256).join('.') + `/${prefix}`;
}

function cidrsOverlap(a: string, b: string): boolean {
  const pa = parseCidr(a);
  const pb = parseCidr(b);
  if (typeof pa === 'string' || typeof pb === 'string' || pa.family !== 4 || pb.family !== 4) return false;
  const p = Math.min(pa.prefix, pb.prefix);
  const size = 2 ** (32 - p);
  return Math.floor(ipv4ToInt(pa.addr) / size) === Math.floor(ipv4ToInt(pb.addr) / size);
}

function checkCidr(c: Checker, path: string, v: string): string | undefined {
  const r = parseCidr(v);
  if (typeof r === 'string') {
    c.problem(path, `${r}, found ${describeFound(v)}`);
    return undefined;
  }
  if (r.hostBits) c.warn(path, `${v} has host bits set; did you mean ${networkOf(r.addr, r.prefix)}?`);
  return v;
}

function checkLabelKey(key: string): string | undefined {
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && (!prefix || prefix.length > 253 || !DNS1123_SUBDOMAIN.test(prefix))) {
    return 'a label key prefix must be a DNS subdomain (lowercase letters, digits, "-" and ".")';
  }
  if (!name || name.length > 63 || !LABEL_NAME.test(name)) {
    return 'a label name must be 1-63 characters: letters, digits, "-", "_", ".", starting and ending with a letter or digit';
  }
  return undefined;
}

function checkLabelValue(v: string): string | undefined {
  if (v === '') return undefined;
  if (v.length > 63 || !LABEL_NAME.test(v)) {
    return 'a label value must be empty or 1-63 characters: letters, digits, "-", "_", ".", starting and ending with a letter or digit';
  }
  return undefined;
}

function expandPath(p: string, baseDir: string, env: NodeJS.ProcessEnv): string {
  let s = p;
  if (s === '~' || s.startsWith('~/')) s = (env.HOME || homedir()) + s.slice(1);
  return isAbsolute(s) ? s : resolve(baseDir, s);
}

// ---------------------------------------------------------------------------------------------

function checkSsh(c: Checker, root: Raw, baseDir: string, env: NodeJS.ProcessEnv): SshSettings {
  const ssh = c.map(root, 'ssh', '') ?? {};
  if (root.ssh !== undefined && root.ssh !== null && !isMap(root.ssh)) {
    /* reported by map() */
  }
  const user = c.str(ssh, 'user', 'ssh', false, 'a user name') ?? DEFAULTS.sshUser;
  const port = c.int(ssh, 'port', 'ssh', { required: false, min: 1, max: 65535, what: 'a port number 1-65535' }) ?? DEFAULTS.sshPort;
  const out: SshSettings = { user, port, hostKeys: {} };

  const pk = ssh.private_key;
  if (typeof pk === 'string' && /PRIVATE KEY|^[A-Za-z0-9+/=\s]{200,}$/.test(pk)) {
    c.problem('ssh.private_key', 'expected the path of a private key file, found what looks like the key itself (not shown); put the key in a file with mode 0600 and give its path');
  } else {
    const s = c.str(ssh, 'private_key', 'ssh', false, 'the path of a private key file');
    if (s) {
      out.privateKey = expandPath(s, baseDir, env);
      if (!existsSync(out.privateKey)) c.warn('ssh.private_key', `${out.privateKey} does not exist (yet)`);
    }
  }
  const kh = c.str(ssh, 'known_hosts', 'ssh', false, 'the path of an OpenSSH known_hosts file');
  if (kh) {
    out.knownHosts = expandPath(kh, baseDir, env);
    if (!existsSync(out.knownHosts)) c.warn('ssh.known_hosts', `${out.knownHosts} does not exist (yet)`);
  }

  const b = ssh.bastion;
  if (typeof b === 'string') {
    // shorthand: [user@]host[:port]
    const m = /^(?:([^@\s]+)@)?([^:@\s]+|\[[0-9a-fA-F:]+\])(?::(\d+))?$/.exec(b);
    if (!m) c.expected('ssh.bastion', 'a mapping {host, port, user} or "[user@]host[:port]"', b);
    else {
      const bport = m[3] ? Number(m[3]) : DEFAULTS.sshPort;
      if (bport < 1 || bport > 65535) c.expected('ssh.bastion', 'a port number 1-65535 after the ":"', b);
      out.bastion = { host: m[2]!.replace(/^\[|\]$/g, ''), port: bport, user: m[1] ?? user };
    }
  } else if (b !== undefined && b !== null) {
    const bm = c.map(ssh, 'bastion', 'ssh');
    if (bm) {
      const host = c.str(bm, 'host', 'ssh.bastion', true, 'a host name or IP address');
      const bport = c.int(bm, 'port', 'ssh.bastion', { required: false, min: 1, max: 65535, what: 'a port number 1-65535' }) ?? DEFAULTS.sshPort;
      const buser = c.str(bm, 'user', 'ssh.bastion', false, 'a user name') ?? user;
      if (host) out.bastion = { host, port: bport, user: buser };
    }
  }

  const hk = ssh.host_keys;
  if (hk !== undefined && hk !== null) {
    if (!isMap(hk)) c.expected('ssh.host_keys', 'a mapping of host -> fingerprint(s) "SHA256:..."', hk);
    else {
      for (const [host, v] of Object.entries(hk)) {
        const p = joinPath('ssh.host_keys', host);
        const list = typeof v === 'string' ? [v] : Array.isArray(v) ? v : undefined;
        if (!list || list.length === 0) {
          c.expected(p, 'a fingerprint "SHA256:..." or a list of them', v);
          continue;
        }
        const fps: string[] = [];
        list.forEach((f, i) => {
          const fp = typeof v === 'string' ? p : joinPath(p, i);
          if (typeof f !== 'string' || !FINGERPRINT.test(f.trim())) {
            c.expected(fp, 'a host key fingerprint "SHA256:<43 base64 characters>" (ssh-keygen -lf <key>)', f);
          } else fps.push(f.trim());
        });
        out.hostKeys[host] = fps;
      }
    }
  }
  return out;
}

function checkLabels(c: Checker, root: Raw): Record<string, string> {
  const out: Record<string, string> = {};
  const v = root.node_labels;
  if (v === undefined || v === null) return out;
  if (!isMap(v)) {
    c.expected('node_labels', 'a mapping of label -> value', v);
    return out;
  }
  for (const [k, x] of Object.entries(v)) {
    const p = joinPath('node_labels', k);
    const ke = checkLabelKey(k);
    if (ke) {
      c.problem(p, `invalid label key ${JSON.stringify(k)}: ${ke}`);
      continue;
    }
    if (x !== null && typeof x === 'object') {
      c.expected(p, 'a label value (a string)', x);
      continue;
    }
    const s = x === null ? '' : String(x);
    const ve = checkLabelValue(s);
    if (ve) {
      c.problem(p, `invalid label value ${JSON.stringify(s)}: ${ve}`);
      continue;
    }
    out[k] = s;
  }
  return out;
}

function checkTaints(c: Checker, root: Raw): ClusterConfig['nodeTaints'] {
  const out: ClusterConfig['nodeTaints'] = [];
  const v = root.node_taints;
  if (v === undefined || v === null) return out;
  if (!Array.isArray(v)) {
    c.expected('node_taints', 'a list of taints "key=value:Effect"', v);
    return out;
  }
  v.forEach((t, i) => {
    const p = joinPath('node_taints', i);
    let key: unknown;
    let value: unknown;
    let effect: unknown;
    if (typeof t === 'string') {
      const m = /^([^=:\s]+)(?:=([^:\s]*))?:([A-Za-z]+)$/.exec(t.trim());
      if (!m) {
        c.expected(p, 'a taint "key=value:Effect" or "key:Effect"', t);
        return;
      }
      [key, value, effect] = [m[1], m[2], m[3]];
    } else if (isMap(t)) {
      ({ key, value, effect } = t);
      const extra = Object.keys(t).filter((k) => !['key', 'value', 'effect'].includes(k));
      for (const k of extra) c.warn(joinPath(p, k), `unknown key${suggest(k, ['key', 'value', 'effect']) ? `; did you mean ${suggest(k, ['key', 'value', 'effect'])}?` : ''}`);
    } else {
      c.expected(p, 'a taint "key=value:Effect" or a mapping {key, value, effect}', t);
      return;
    }
    if (typeof key !== 'string' || checkLabelKey(key)) {
      c.problem(p, `invalid taint key ${describeFound(key)}: ${typeof key === 'string' ? checkLabelKey(key) : 'expected a string'}`);
      return;
    }
    if (value !== undefined && value !== null && (typeof value === 'object' || checkLabelValue(String(value)))) {
      c.problem(p, `invalid taint value ${describeFound(value)}: ${checkLabelValue(String(value)) ?? 'expected a string'}`);
      return;
    }
    if (!(TAINT_EFFECTS as readonly unknown[]).includes(effect)) {
      c.expected(p, `a taint effect ${TAINT_EFFECTS.join(', ')}`, effect);
      return;
    }
    out.push({
      key,
      ...(value !== undefined && value !== null && value !== '' ? { value: String(value) } : {}),
      effect: effect as (typeof TAINT_EFFECTS)[number],
    });
  });
  return out;
}

/** Validate an already-parsed document. `file` is absolute, `display` the name used in messages. */
export function validateClusterConfig(
  doc: unknown,
  opts: { file: string; display: string; strict?: boolean; index?: YamlIndex; env?: NodeJS.ProcessEnv },
): LoadedConfig {
  const env = opts.env ?? process.env;
  const c = new Checker(opts.display, opts.index, !!opts.strict);
  if (doc === null || doc === undefined) {
    throw new ConfigError(`${opts.display}: the file is empty; expected a mapping with cluster-name, n-masters, n-nodes, ...`, {
      hint: 'start from the example in the README (kadd validate prints what it understood)',
    });
  }
  if (!isMap(doc)) {
    throw new ConfigError(`${opts.display}: expected a mapping of keys (cluster-name: ..., n-nodes: ...) at the top level, found ${describeFound(doc)}`);
  }
  const root = doc;
  c.keys('', root);

  // cluster-name
  const rawName = c.str(root, 'cluster-name', '', true, 'a cluster name');
  let clusterName = rawName ?? '';
  if (rawName !== undefined) {
    if (!NAME_RE.test(rawName) || rawName.length > 40) {
      const lower = rawName.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40);
      c.expected(
        'cluster-name',
        'a name of at most 40 lowercase letters, digits and "-", starting and ending with a letter or digit (node names are <cluster>-node-<N>)',
        rawName,
        lower && lower !== rawName ? `; for example ${JSON.stringify(lower)}` : '',
      );
      clusterName = '';
    }
  }
  const cn = clusterName || 'cluster';

  const nMasters = c.int(root, 'n-masters', '', { required: true, min: 1 });
  const nNodes = c.int(root, 'n-nodes', '', { required: true, min: 0 });
  const keypair = c.str(root, 'keypair', '', true, 'the name of a Nova keypair');
  const masterFlavor = c.str(root, 'master_flavor', '', true, 'a flavor name');
  const nodeFlavor = c.str(root, 'node_flavor', '', true, 'a flavor name');
  const image = c.str(root, 'image', '', true, 'an image name');
  const storageClass = c.str(root, 'storage_class', '', false, 'a Cinder volume type');

  // availability zones, both spellings
  let availabilityZones: string[] = [];
  const azKeys = ['availability-zones', 'availibility-zones'].filter((k) => root[k] !== undefined);
  if (azKeys.length === 2) {
    c.problem('availibility-zones', 'both availability-zones and availibility-zones (koris spelling) are set; keep one of them');
  }
  for (const k of azKeys) {
    const v = root[k];
    if (v === null) continue;
    if (!Array.isArray(v)) {
      c.expected(k, 'a list of availability zone names', v, typeof v === 'string' ? `; write it as a list: [${v}]` : '');
      continue;
    }
    const zones: string[] = [];
    v.forEach((z, i) => {
      if (typeof z !== 'string' || !z.trim()) c.expected(joinPath(k, i), 'an availability zone name', z);
      else zones.push(z);
    });
    const dup = zones.find((z, i) => zones.indexOf(z) !== i);
    if (dup) c.warn(k, `zone ${JSON.stringify(dup)} is listed more than once`);
    availabilityZones = zones;
  }

  // private_net
  const pn = c.map(root, 'private_net', '') ?? {};
  if (root.private_net !== undefined && root.private_net !== null && !isMap(root.private_net)) {
    /* reported */
  }
  const netName = c.str(pn, 'name', 'private_net', false, 'a network name') ?? `${cn}-net`;
  const sn = c.map(pn, 'subnet', 'private_net') ?? {};
  const subnetName = c.str(sn, 'name', 'private_net.subnet', false, 'a subnet name') ?? `${cn}-subnet`;
  const cidrRaw = c.str(sn, 'cidr', 'private_net.subnet', false, 'a CIDR like 192.168.0.0/16');
  const subnetCidr = cidrRaw !== undefined ? checkCidr(c, 'private_net.subnet.cidr', cidrRaw) : DEFAULTS.subnetCidr;
  const rt = c.map(sn, 'router', 'private_net.subnet') ?? {};
  const routerName = c.str(rt, 'name', 'private_net.subnet.router', false, 'a router name') ?? `${cn}-rt`;
  if (pn.router !== undefined) {
    c.problem('private_net.router', 'the router belongs under private_net.subnet.router (koris reads it there)');
  }

  // loadbalancer
  const lb = c.map(root, 'loadbalancer', '') ?? {};
  const lbName = c.str(lb, 'name', 'loadbalancer', false, 'a load balancer name') ?? `${cn}-lb`;
  const fipRaw = c.str(lb, 'floatingip', 'loadbalancer', false, 'an IP address');
  let floatingip: string | undefined;
  if (fipRaw !== undefined) {
    if (!isIP(fipRaw)) c.expected('loadbalancer.floatingip', 'an IPv4 or IPv6 address', fipRaw);
    else floatingip = fipRaw;
  }
  const dnsRaw = c.str(lb, 'dnsname', 'loadbalancer', false, 'a DNS name');
  let dnsname: string | undefined;
  if (dnsRaw !== undefined) {
    const d = dnsRaw.replace(/\.$/, '').toLowerCase();
    if (d.length > 253 || !DNS1123_SUBDOMAIN.test(d) || d.split('.').some((l) => l.length > 63)) {
      c.expected('loadbalancer.dnsname', 'a DNS name like api.example.com', dnsRaw);
    } else dnsname = d;
  }
  if (lb.ssh !== undefined && typeof lb.ssh !== 'boolean') c.expected('loadbalancer.ssh', 'true or false', lb.ssh);

  // version
  let k8s = '';
  const ver = root.version;
  if (ver !== undefined && ver !== null && !isMap(ver)) {
    c.expected('version', 'a mapping like {k8s: "1.29.3"}', ver);
  } else {
    const vm = c.map(root, 'version', '') ?? {};
    const v = vm.k8s;
    if (v !== undefined && v !== null) {
      const m = typeof v === 'string' ? K8S_VERSION.exec(v.trim()) : null;
      if (!m) {
        c.expected('version.k8s', 'a Kubernetes version X.Y.Z like "1.29.3"', v, typeof v === 'number' ? ' (quote it, and give all three parts)' : '');
      } else k8s = `${Number(m[1])}.${Number(m[2])}.${Number(m[3])}`;
    } else {
      c.warn('version', 'version.k8s is not set; kadd will use the version the control plane runs');
    }
  }

  // pod network
  const psRaw = c.str(root, 'pod_subnet', '', false, 'a CIDR like 10.233.0.0/16');
  const podSubnet = psRaw !== undefined ? checkCidr(c, 'pod_subnet', psRaw) : DEFAULTS.podSubnet;
  if (podSubnet && subnetCidr && cidrsOverlap(podSubnet, subnetCidr)) {
    c.problem('pod_subnet', `${podSubnet} overlaps private_net.subnet.cidr ${subnetCidr}; pods and nodes need separate ranges`);
  }
  const pnRaw = c.str(root, 'pod_network', '', false, `one of ${POD_NETWORKS.join(', ')}`);
  let podNetwork: string = DEFAULTS.podNetwork;
  if (pnRaw !== undefined) {
    if (!POD_NETWORKS.includes(pnRaw.toUpperCase())) c.expected('pod_network', `one of ${POD_NETWORKS.join(', ')}`, pnRaw);
    else podNetwork = pnRaw.toUpperCase();
  }

  // addons / user_data: documented by koris; kept (addons) or ignored (user_data)
  const addons = root.addons;
  if (addons !== undefined && addons !== null && typeof addons !== 'object') {
    c.expected('addons', 'a list of addon names or a mapping', addons);
  }
  if (root.user_data !== undefined) {
    c.warn('user_data', 'koris documented this key but never used it, and kadd ignores it too');
  }

  // kadd's own
  const volumeSize = c.int(root, 'volume_size', '', { required: false, min: 1, max: 65536, what: 'a boot volume size in GB (a whole number >= 1)' }) ?? DEFAULTS.volumeSize;
  let securityGroup = `${cn}-sec-group`;
  const sg = root.security_group;
  if (isMap(sg)) {
    c.keys('security_group', sg);
    securityGroup = c.str(sg, 'name', 'security_group', false, 'a security group name') ?? securityGroup;
  } else {
    securityGroup = c.str(root, 'security_group', '', false, 'a security group name') ?? securityGroup;
  }
  const serverGroup = c.str(root, 'server_group', '', false, 'a Nova server group name');

  const baseDir = dirname(opts.file);
  const ssh = checkSsh(c, root, baseDir, env);
  const nodeLabels = checkLabels(c, root);
  const nodeTaints = checkTaints(c, root);

  if (c.problems.length) {
    const hint = `fix ${c.problems.length === 1 ? 'it' : 'them'} and check again with: kadd validate ${opts.display}`;
    // warnings (a misspelt key, say) often explain an error ("required key missing"): list them too
    // (not about a key that already has an error)
    const warned = c.warnings
      .filter((w) => !c.problems.some((p) => p.startsWith(`${opts.display}: ${w.path}:`) || p.startsWith(`${opts.display}: ${w.path}.`)))
      .map((w) => `warning: ${w.message}`);
    if (c.problems.length === 1) throw new ConfigError(c.problems[0]!, { hint, code: 'E_CONFIG_INVALID', ...(warned.length ? { details: warned } : {}) });
    throw new ConfigError(`${opts.display}: ${c.problems.length} problems`, { details: [...c.problems, ...warned], hint, code: 'E_CONFIG_INVALID' });
  }

  const config: ClusterConfig = {
    file: opts.file,
    clusterName,
    nMasters: nMasters!,
    nNodes: nNodes!,
    keypair: keypair!,
    masterFlavor: masterFlavor!,
    nodeFlavor: nodeFlavor!,
    availabilityZones,
    image: image!,
    ...(storageClass !== undefined ? { storageClass } : {}),
    privateNet: { name: netName, subnet: { name: subnetName, cidr: subnetCidr!, router: { name: routerName } } },
    loadbalancer: { name: lbName, ...(floatingip ? { floatingip } : {}), ...(dnsname ? { dnsname } : {}) },
    version: { k8s },
    podSubnet: podSubnet!,
    podNetwork,
    ...(addons !== undefined && addons !== null ? { addons } : {}),
    volumeSize,
    securityGroup,
    ...(serverGroup !== undefined ? { serverGroup } : {}),
    ssh,
    nodeLabels,
    nodeTaints,
  };
  return { config, warnings: c.warnings, raw: root };
}

/** Parse YAML text; a syntax error becomes a ConfigError with line and column. */
export function parseYamlText(text: string, display: string): unknown {
  // only blank lines and comments: js-yaml 5 refuses that; it is simply an empty file
  if (/^(\s*(#.*)?(\r?\n|$))*$/.test(text.replace(/^---\s*$/m, ''))) return null;
  try {
    return load(text, { filename: display });
  } catch (e) {
    if (e instanceof YAMLException) {
      const mark = e.mark;
      const reason = e.reason ?? e.message.split('\n')[0];
      const where = mark ? `:${mark.line + 1}:${mark.column + 1}` : '';
      throw new ConfigError(`${display}${where}: YAML syntax error: ${reason}`, {
        hint: /single document/.test(String(reason))
          ? 'a cluster file holds one YAML document; remove the extra "---" and what follows it'
          : 'check the indentation and quoting around that line (tabs are not allowed for indentation)',
        code: 'E_CONFIG_SYNTAX',
        cause: e,
      });
    }
    throw e;
  }
}

/** Validate YAML text (used by tests and by load). */
export function parseClusterConfig(
  text: string,
  opts: { file: string; display?: string; strict?: boolean; env?: NodeJS.ProcessEnv },
): LoadedConfig {
  const display = opts.display ?? opts.file;
  const doc = parseYamlText(text, display);
  let index: YamlIndex | undefined;
  try {
    index = indexYaml(text);
  } catch {
    index = undefined; // positions are a nicety
  }
  return validateClusterConfig(doc, { file: opts.file, display, strict: opts.strict, index, env: opts.env });
}

/** Read and validate a cluster file. Throws ConfigError (exit 2) listing every problem. */
export async function loadClusterConfig(path: string, opts: LoadOptions = {}): Promise<LoadedConfig> {
  const cwd = opts.cwd ?? process.cwd();
  const file = resolve(cwd, path);
  const display = opts.displayPath ?? (isAbsolute(path) ? path : relative(cwd, file) || path);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : String((e as Error).message);
    throw new ConfigError(`cannot read cluster file ${display}: ${why}`, {
      hint: code === 'ENOENT' ? `check the path (relative paths start at ${cwd})` : undefined,
      code: 'E_CONFIG_READ',
    });
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  return parseClusterConfig(text, { file, display, strict: opts.strict, env: opts.env });
}
