/**
 * OpenStack credentials: clouds.yaml / secure.yaml / OS_* environment / --os-* options, resolved into one
 * ResolvedCloud (research/style-and-conventions.md 2.1).
 *
 * Precedence, for EVERY key: CLI > environment > secure.yaml > clouds.yaml (> region `values`) > defaults.
 * This is openstacksdk's fixed rule (openstacksdk 2.0.0, commit 1ceb9972e, story 2010784). Older
 * python-openstackclient (OSC 6.0.0 with openstacksdk < 2.0) is wrong here: with OS_CLOUD set, it ignores
 * OS_PROJECT_NAME / --os-project-name (and the other project/domain keys) in favour of clouds.yaml.
 * kadd does not reproduce that bug.
 *
 * No network call happens here; every problem is a ConfigError (exit 2) whose message never contains a
 * secret value.
 */
import { readFile, access } from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError } from '../errors.js';
import { registerSecret } from '../redact.js';
import type { CamelAuth } from './auth.js';

export type AuthType = 'password' | 'v3applicationcredential';
export type Interface = 'public' | 'internal' | 'admin';

/** The credentials of a cloud, in the camelCase spelling the client takes (lib/openstack/auth.ts CamelAuth). */
export type ResolvedAuth = Omit<CamelAuth, 'domainName' | 'domainId'>;

export interface ResolvedCloud {
  /** cloud name from clouds.yaml, or 'envvars' (or $OS_CLOUD_NAME) for the environment/CLI-only cloud */
  name: string;
  /** Keystone URL as given (kadd's auth appends /v3 when missing) */
  authUrl: string;
  authType: AuthType;
  auth: ResolvedAuth;
  regionName?: string;
  interface: Interface;
  /** verify the server certificate (false with --insecure / verify: false) */
  verify: boolean;
  /** absolute path of a CA bundle */
  cacert?: string;
  /** absolute paths of a client certificate and key */
  cert?: string;
  key?: string;
  /** seconds per request; undefined (or api_timeout: 0) = kadd's default of 60 s: kadd never waits forever on a request */
  apiTimeout?: number;
  /** files read (clouds.yaml, secure.yaml), absolute */
  sources: string[];
  /**
   * What the caller should tell the user (this module does not print): which cloud was picked by default, a
   * setting that has no effect. Never contains a secret.
   */
  notices?: CloudNotice[];
}

export interface CloudNotice {
  level: 'info' | 'warn';
  message: string;
}

export interface ResolveCloudOptions {
  cli: Record<string, string | boolean | undefined>;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** defaults to os.homedir() */
  home?: string;
  /** system-wide directories searched last; defaults to [$XDG_CONFIG_DIRS[0] or /etc/xdg]/openstack, /etc/openstack */
  systemDirs?: string[];
}

type Flat = Record<string, unknown>;

/** Keys that belong to the `auth:` section of a clouds.yaml entry (after legacy renames). */
const AUTH_KEYS = new Set([
  'auth_url', 'username', 'user_id', 'password', 'user_domain_name', 'user_domain_id', 'project_name', 'project_id',
  'project_domain_name', 'project_domain_id', 'domain_name', 'domain_id', 'application_credential_id',
  'application_credential_name', 'application_credential_secret',
]);

/** Environment variables that select things rather than describe the envvars cloud. */
const ENV_SELECTORS = new Set(['OS_CLOUD', 'OS_REGION_NAME', 'OS_CLIENT_CONFIG_FILE', 'OS_CLIENT_SECURE_FILE', 'OS_CLOUD_NAME']);

const LEGACY: Record<string, string> = {
  tenant_name: 'project_name',
  tenant_id: 'project_id',
  endpoint_type: 'interface',
  os_endpoint_type: 'interface',
  auth_plugin: 'auth_type',
};

/** Keys whose values are secrets: never echoed. */
const SECRET_KEYS = new Set(['password', 'application_credential_secret']);

/** Where each key comes from, for "missing X" messages. */
function sourceHint(key: string): string {
  const env = 'OS_' + key.toUpperCase();
  const cli = '--os-' + key.replace(/_/g, '-');
  const where = AUTH_KEYS.has(key) ? `auth.${key}` : key;
  return `set ${env}, ${cli} or ${where} in clouds.yaml${SECRET_KEYS.has(key) ? '/secure.yaml' : ''}`;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

/** openstacksdk `merge_clouds`: nested dicts merge, scalars and lists replace, b wins. */
export function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    out[k] = isObj(v) && isObj(out[k]) ? deepMerge(out[k] as Record<string, unknown>, v) : v;
  }
  return out;
}

function canonKey(k: string): string {
  const n = k.replace(/-/g, '_').toLowerCase();
  return LEGACY[n] ?? n;
}

/** Flatten a clouds.yaml entry: top-level keys and `auth:` keys into one map (auth.x wins over top-level x). */
function flattenEntry(entry: Record<string, unknown>): Flat {
  const out: Flat = {};
  for (const [k, v] of Object.entries(entry)) {
    if (k === 'auth' || k === 'regions' || k === 'profile' || k === 'cloud') continue;
    if (v === null || v === undefined) continue;
    out[canonKey(k)] = v;
  }
  if (isObj(entry.auth)) {
    for (const [k, v] of Object.entries(entry.auth)) {
      if (v === null || v === undefined) continue;
      out[canonKey(k)] = v;
    }
  }
  return out;
}

/** OS_FOO_BAR -> foo_bar for every OS_* variable except selectors and OS_TEST..., OS_STD..., OS_LOG.... Empty = unset. */
function envLayer(env: NodeJS.ProcessEnv, withSelectors: boolean): Flat {
  const out: Flat = {};
  for (const [k, v] of Object.entries(env)) {
    if (!k.startsWith('OS_') || v === undefined || v === '') continue;
    if (/^OS_(TEST|STD|LOG)/.test(k)) continue;
    if (ENV_SELECTORS.has(k) && !(withSelectors && k === 'OS_REGION_NAME')) continue;
    out[canonKey(k.slice(3))] = v;
  }
  return out;
}

/** --os-foo-bar / osFooBar -> foo_bar; --insecure / --verify kept as such. */
function cliLayer(cli: Record<string, string | boolean | undefined>): Flat {
  const out: Flat = {};
  for (const [k, v] of Object.entries(cli)) {
    if (v === undefined || v === '') continue;
    let key: string | undefined;
    if (k.startsWith('os-')) key = k.slice(3);
    else if (/^os[A-Z]/.test(k)) key = k.slice(2).replace(/[A-Z]/g, (c) => '_' + c.toLowerCase()).slice(1);
    else if (k === 'insecure' || k === 'verify') key = k;
    if (!key) continue;
    key = canonKey(key);
    if (key === 'cloud') continue;
    // --insecure / --verify are flags: only `true` means the user gave them (a yargs boolean defaults to false,
    // which must not override clouds.yaml). Each sets both keys so that the CLI beats the file's other key.
    if (key === 'insecure' && typeof v === 'boolean') {
      if (v) Object.assign(out, { insecure: true, verify: false });
      continue;
    }
    if (key === 'verify' && typeof v === 'boolean') {
      if (v) Object.assign(out, { insecure: false, verify: true });
      continue;
    }
    out[key] = v;
  }
  return out;
}

function tilde(p: string, home: string): string {
  if (p === '~') return home;
  if (p.startsWith('~/')) return path.join(home, p.slice(2));
  return p;
}

/** Path for messages: ./x relative to cwd, ~/x under home, else absolute. */
function showPath(p: string, cwd: string, home: string): string {
  const rel = path.relative(cwd, p);
  if (!rel.startsWith('..') && !path.isAbsolute(rel)) return './' + rel;
  const relHome = path.relative(home, p);
  if (!relHome.startsWith('..') && !path.isAbsolute(relHome)) return '~/' + relHome;
  return p;
}

async function exists(p: string): Promise<boolean> {
  try {
    await access(p, fsConstants.F_OK);
    return true;
  } catch {
    return false;
  }
}

export interface SearchDirs {
  dirs: string[];
}

/** The directories searched for clouds.yaml and secure.yaml, in order (openstacksdk's list, Linux). */
export function configDirs(env: NodeJS.ProcessEnv, cwd: string, home: string, systemDirs?: string[]): string[] {
  const xdgHome = env.XDG_CONFIG_HOME ? path.join(env.XDG_CONFIG_HOME, 'openstack') : path.join(home, '.config', 'openstack');
  const userDir = path.join(env.SNAP_REAL_HOME || home, '.config', 'openstack');
  // openstacksdk joins every XDG_CONFIG_DIRS entry into one path that never exists; kadd uses the first entry.
  const firstXdg = (env.XDG_CONFIG_DIRS ?? '').split(':').find((d) => d !== '') ?? '/etc/xdg';
  const sys = systemDirs ?? [path.join(firstXdg, 'openstack'), '/etc/openstack'];
  const dirs = [cwd, xdgHome, userDir, ...sys];
  return dirs.filter((d, i) => dirs.indexOf(d) === i);
}

interface FoundFile {
  path: string;
  data: Record<string, unknown>;
}

async function parseConfigFile(p: string, cwd: string, home: string): Promise<Record<string, unknown>> {
  const text = await readFile(p, 'utf8');
  const shown = showPath(p, cwd, home);
  let data: unknown;
  try {
    if (p.endsWith('.json')) data = JSON.parse(text);
    else {
      const { load } = await import('js-yaml');
      data = load(text);
    }
  } catch (e) {
    const m = e as { mark?: { line: number; column: number }; reason?: string; message?: string };
    const where = m.mark ? `:${m.mark.line + 1}:${m.mark.column + 1}` : '';
    // V8's JSON.parse message quotes the text around the error (`..."password":hunter2..."`): a secure.json
    // must not echo its secret, so JSON errors say where, never what. js-yaml's `reason` carries no snippet.
    const why = p.endsWith('.json') ? jsonErrorWhere(m.message) : (m.reason ?? m.message ?? String(e));
    throw new ConfigError(`${shown}${where}: cannot parse: ${why}`, {
      code: 'E_CLOUDS_YAML',
      hint: 'fix the syntax error (kadd does not skip a broken file, so it never silently uses another cloud)',
    });
  }
  if (data === null || data === undefined) return {};
  if (!isObj(data)) throw new ConfigError(`${shown}: expected a mapping with a 'clouds:' key`, { code: 'E_CLOUDS_YAML' });
  if (data.clouds !== undefined && !isObj(data.clouds)) {
    throw new ConfigError(`${shown}: 'clouds' must be a mapping of cloud names`, { code: 'E_CLOUDS_YAML' });
  }
  return data;
}

/** "invalid JSON (at position N)" from a JSON.parse error, without the quoted text V8 adds. */
function jsonErrorWhere(message: string | undefined): string {
  const pos = /at position (\d+)/.exec(message ?? '')?.[1];
  return pos !== undefined ? `invalid JSON at position ${pos}` : /end of JSON input/i.test(message ?? '') ? 'invalid JSON: unexpected end of input' : 'invalid JSON';
}

/**
 * First existing file among dirs x [base.yaml, base.yml, base.json], with an explicit file (OS_CLIENT_*_FILE)
 * in front. First found wins; files are never merged with each other.
 */
async function findConfigFile(
  base: 'clouds' | 'secure',
  explicit: string | undefined,
  explicitVar: string,
  dirs: string[],
  cwd: string,
  home: string,
): Promise<{ found?: FoundFile; searched: string[] }> {
  const searched: string[] = [];
  if (explicit) {
    const p = path.resolve(cwd, tilde(explicit, home));
    if (!(await exists(p))) {
      throw new ConfigError(`${explicitVar}=${explicit}: no such file`, { code: 'E_CLOUDS_YAML', hint: `fix or unset ${explicitVar}` });
    }
    return { found: { path: p, data: await parseConfigFile(p, cwd, home) }, searched: [p] };
  }
  for (const d of dirs) {
    for (const ext of ['.yaml', '.yml', '.json']) {
      const p = path.join(d, base + ext);
      searched.push(p);
      if (await exists(p)) {
        try {
          await access(p, fsConstants.R_OK);
        } catch {
          throw new ConfigError(`${showPath(p, cwd, home)}: not readable (permission denied)`, { code: 'E_CLOUDS_YAML' });
        }
        return { found: { path: p, data: await parseConfigFile(p, cwd, home) }, searched };
      }
    }
  }
  return { searched };
}

function str(v: unknown): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

function bool(v: unknown, key: string, origin: string): boolean | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'boolean') return v;
  const s = String(v).toLowerCase();
  if (['true', 'yes', '1', 'on'].includes(s)) return true;
  if (['false', 'no', '0', 'off'].includes(s)) return false;
  throw new ConfigError(`${key}: expected true or false, found '${String(v)}' (${origin})`, { code: 'E_CLOUDS_YAML' });
}

interface Region {
  name: string;
  values: Flat;
}

function parseRegions(entry: Record<string, unknown>, where: string): Region[] {
  const out: Region[] = [];
  if (entry.regions !== undefined && entry.regions !== null) {
    if (!Array.isArray(entry.regions)) throw new ConfigError(`${where}: 'regions' must be a list`, { code: 'E_CLOUDS_YAML' });
    for (const r of entry.regions) {
      if (typeof r === 'string') out.push({ name: r, values: {} });
      else if (isObj(r) && typeof r.name === 'string') out.push({ name: r.name, values: isObj(r.values) ? flattenEntry(r.values) : {} });
      else throw new ConfigError(`${where}: each entry of 'regions' must be a name or {name, values}`, { code: 'E_CLOUDS_YAML' });
    }
    return out;
  }
  const rn = str(entry.region_name);
  // a comma-separated region_name is deprecated but still means a list
  if (rn) for (const n of rn.split(',').map((s) => s.trim()).filter(Boolean)) out.push({ name: n, values: {} });
  return out;
}

/** Resolve the cloud kadd talks to. Throws ConfigError with a one-line message on any problem. */
export async function resolveCloud(opts: ResolveCloudOptions): Promise<ResolvedCloud> {
  const { env, cwd } = opts;
  const notices: CloudNotice[] = [];
  const home = opts.home ?? os.homedir();
  const dirs = configDirs(env, cwd, home, opts.systemDirs);
  const clouds = await findConfigFile('clouds', env.OS_CLIENT_CONFIG_FILE, 'OS_CLIENT_CONFIG_FILE', dirs, cwd, home);
  const secure = await findConfigFile('secure', env.OS_CLIENT_SECURE_FILE, 'OS_CLIENT_SECURE_FILE', dirs, cwd, home);
  const sources = [clouds.found?.path, secure.found?.path].filter((p): p is string => !!p);
  const shownSources = sources.map((p) => showPath(p, cwd, home));

  const cloudsMap = (clouds.found?.data.clouds ?? {}) as Record<string, unknown>;
  const secureMap = (secure.found?.data.clouds ?? {}) as Record<string, unknown>;
  const merged: Record<string, Record<string, unknown>> = {};
  for (const [n, c] of Object.entries(cloudsMap)) merged[n] = isObj(c) ? c : {};
  for (const [n, c] of Object.entries(secureMap)) merged[n] = deepMerge(merged[n] ?? {}, isObj(c) ? c : {});

  const envCloudName = env.OS_CLOUD_NAME || 'envvars';
  if (merged[envCloudName]) {
    throw new ConfigError(
      `${shownSources.join(', ')}: a cloud may not be named '${envCloudName}' (reserved for the cloud built from OS_* variables)`,
      { code: 'E_CLOUDS_YAML', hint: 'rename that cloud' },
    );
  }
  const known = Object.keys(merged).sort();
  const knownText = known.length ? known.join(', ') : '(none)';

  const cli = cliLayer(opts.cli);
  const envVars = envLayer(env, true);
  const envDescribesCloud = Object.keys(envLayer(env, false)).length > 0;
  const cliDescribesCloud = Object.keys(cli).some((k) => AUTH_KEYS.has(k) || k === 'auth_type');

  const requested = str(opts.cli['os-cloud']) ?? str(opts.cli.osCloud) ?? str(env.OS_CLOUD);
  let name: string;
  let entry: Record<string, unknown> = {};
  let isEnvCloud = false;
  if (requested) {
    if (requested === envCloudName) {
      isEnvCloud = true;
      name = requested;
    } else if (merged[requested]) {
      name = requested;
      entry = merged[requested]!;
    } else {
      const where = shownSources.length
        ? `in ${shownSources.join(', ')}`
        : `(no clouds.yaml found in ${dirs.map((d) => showPath(d, cwd, home)).join(', ')})`;
      throw new ConfigError(`cloud '${requested}' not found ${where}; known: ${knownText}`, {
        code: 'E_CLOUD_NOT_FOUND',
        hint: 'check --os-cloud / OS_CLOUD, or set OS_CLIENT_CONFIG_FILE to the clouds.yaml that defines it',
      });
    }
  } else if (envDescribesCloud || cliDescribesCloud) {
    isEnvCloud = true;
    name = envCloudName;
  } else if (known.length === 1) {
    // openstacksdk's rule (OSC does not do this): a clouds.yaml with exactly one cloud is the default
    name = known[0]!;
    entry = merged[name]!;
    notices.push({ level: 'info', message: `using cloud '${name}', the only one in ${shownSources.join(', ')}` });
  } else if (known.length > 1) {
    throw new ConfigError(`no cloud selected and ${shownSources.join(', ')} defines several; known: ${knownText}`, {
      code: 'E_CLOUD_NOT_FOUND',
      hint: 'pass --os-cloud NAME or set OS_CLOUD',
    });
  } else {
    throw new ConfigError(
      `no OpenStack credentials: no OS_* variables and no clouds.yaml in ${dirs.map((d) => showPath(d, cwd, home)).join(', ')}`,
      { code: 'E_NO_CREDENTIALS', hint: 'source an openrc file, or write a clouds.yaml and pass --os-cloud' },
    );
  }
  const entryWhere = `cloud '${name}' in ${shownSources.join(', ') || 'the environment'}`;

  if (entry.profile !== undefined || entry.cloud !== undefined) {
    throw new ConfigError(`${entryWhere}: 'profile' (vendor profiles / clouds-public.yaml) is not supported`, {
      code: 'E_CLOUDS_YAML',
      hint: 'copy the profile values into the cloud entry',
    });
  }

  // Layers, lowest first. secure.yaml is already deep-merged into `entry` (secure wins over clouds).
  const defaults: Flat = { auth_type: 'password', interface: 'public', verify: true };
  const fileLayer = isEnvCloud ? {} : flattenEntry(entry);
  // The environment overlays a named cloud too (OSC's behaviour, with the openstacksdk >= 2.0 fix for project/domain keys).
  const layersBeforeRegion = [defaults, fileLayer];
  const upper = [envVars, cli];

  // Region: decide the name from the full stack, then insert that region's `values` just above the file layer.
  const regions = isEnvCloud ? [] : parseRegions(entry, entryWhere);
  const explicitRegion = str(cli.region_name) ?? str(envVars.region_name);
  // with a `regions:` list, a region_name in the file selects one of them (openstacksdk ignores it; kadd honours it)
  const fileRegion = Array.isArray(entry.regions) ? str(fileLayer.region_name) : undefined;
  let regionName: string | undefined = explicitRegion ?? fileRegion ?? regions[0]?.name;
  if (regionName !== undefined && regions.length > 0 && !regions.some((r) => r.name === regionName)) {
    const origin = str(cli.region_name) ? '--os-region-name' : explicitRegion ? 'OS_REGION_NAME' : 'region_name';
    throw new ConfigError(
      `region '${regionName}' (${origin}) is not a valid region for cloud '${name}'; valid: ${regions.map((r) => r.name).join(', ')}`,
      { code: 'E_REGION', hint: 'region names are case-sensitive' },
    );
  }
  const regionValues = regions.find((r) => r.name === regionName)?.values ?? {};
  const all: Flat = Object.assign({}, ...layersBeforeRegion, regionValues, ...upper);
  if (regionName === undefined) regionName = str(all.region_name);

  // legacy domain_* -> user_domain_* / project_domain_* when those are unset
  for (const kind of ['name', 'id'] as const) {
    const d = str(all[`domain_${kind}`]);
    if (d) {
      if (all[`user_domain_${kind}`] === undefined) all[`user_domain_${kind}`] = d;
      if (all[`project_domain_${kind}`] === undefined) all[`project_domain_${kind}`] = d;
    }
  }

  const idv = str(all.identity_api_version);
  if (idv && !/^3(\.\d+)?$/.test(idv)) {
    throw new ConfigError(`identity_api_version ${idv} is not supported for cloud '${name}'; kadd speaks Keystone v3 only`, {
      code: 'E_CLOUDS_YAML',
      hint: 'set OS_IDENTITY_API_VERSION=3 (or remove it)',
    });
  }

  const rawAuthType = (str(all.auth_type) ?? 'password').toLowerCase();
  let authType: AuthType;
  if (rawAuthType === 'password' || rawAuthType === 'v3password') authType = 'password';
  else if (rawAuthType === 'v3applicationcredential' || rawAuthType === 'application_credential') authType = 'v3applicationcredential';
  else {
    throw new ConfigError(`auth_type '${rawAuthType}' of cloud '${name}' is not supported; use password or v3applicationcredential`, {
      code: 'E_AUTH_TYPE',
    });
  }

  const missing = (key: string, extra = ''): never => {
    throw new ConfigError(`missing ${key} for cloud '${name}': ${sourceHint(key)}${extra}`, { code: 'E_MISSING_AUTH' });
  };

  let authUrl = str(all.auth_url) ?? '';
  if (!authUrl) missing('auth_url');
  if (regionName) authUrl = authUrl.replace(/\{region_name\}/g, regionName);

  const auth: ResolvedAuth = {};
  const put = (k: keyof ResolvedAuth, key: string) => {
    const v = str(all[key]);
    if (v !== undefined) auth[k] = v;
  };
  put('username', 'username');
  put('userId', 'user_id');
  put('userDomainName', 'user_domain_name');
  put('userDomainId', 'user_domain_id');
  if (authType === 'password') {
    put('password', 'password');
    put('projectName', 'project_name');
    put('projectId', 'project_id');
    put('projectDomainName', 'project_domain_name');
    put('projectDomainId', 'project_domain_id');
    if (!auth.username && !auth.userId) {
      const appHint = all.application_credential_secret !== undefined ? ' (or set auth_type: v3applicationcredential / OS_AUTH_TYPE for an application credential)' : '';
      missing('username', appHint);
    }
    if (!auth.password) missing('password');
    if (auth.username && !auth.userId && !auth.userDomainName && !auth.userDomainId) missing('user_domain_name', ' (or user_domain_id)');
    if (!auth.projectName && !auth.projectId) missing('project_name', ' (or project_id)');
    if (auth.projectName && !auth.projectId && !auth.projectDomainName && !auth.projectDomainId) {
      missing('project_domain_name', ' (or project_domain_id)');
    }
  } else {
    // the application credential is already project-scoped: no project keys are sent
    put('applicationCredentialId', 'application_credential_id');
    put('applicationCredentialName', 'application_credential_name');
    put('applicationCredentialSecret', 'application_credential_secret');
    if (!auth.applicationCredentialId && !auth.applicationCredentialName) missing('application_credential_id', ' (or application_credential_name)');
    if (!auth.applicationCredentialSecret) missing('application_credential_secret');
    if (!auth.applicationCredentialId) {
      if (!auth.username && !auth.userId) missing('username', ' (an application credential given by name needs its user)');
      if (auth.username && !auth.userId && !auth.userDomainName && !auth.userDomainId) missing('user_domain_name', ' (or user_domain_id)');
    } else {
      // by id, the user is implied; do not send stray openrc user fields
      delete auth.username;
      delete auth.userId;
      delete auth.userDomainName;
      delete auth.userDomainId;
    }
  }
  registerSecret(auth.password);
  registerSecret(auth.applicationCredentialSecret);

  const ifaceRaw = (str(all.interface) ?? 'public').toLowerCase().replace(/url$/, '');
  if (!['public', 'internal', 'admin'].includes(ifaceRaw)) {
    throw new ConfigError(`interface '${str(all.interface)}' of cloud '${name}' is invalid; expected public, internal or admin`, {
      code: 'E_CLOUDS_YAML',
    });
  }

  const insecure = bool(all.insecure, 'insecure', entryWhere);
  const verifyRaw = bool(all.verify, 'verify', entryWhere);
  // `insecure: true` wins (openstacksdk); the CLI sets both, so --verify beats a file's insecure: true
  const verify = insecure === true ? false : (verifyRaw ?? true);
  const abs = (k: string): string | undefined => {
    const v = str(all[k]);
    return v === undefined ? undefined : path.resolve(cwd, tilde(v, home));
  };
  const cacert = abs('cacert');
  const cert = abs('cert');
  const key = abs('key');
  if (!verify && cacert) notices.push({ level: 'warn', message: `cloud '${name}': TLS verification is off, so cacert ${cacert} is not used` });
  if ((cert && !key) || (key && !cert)) {
    throw new ConfigError(`cloud '${name}': a client certificate needs both cert and key; ${sourceHint(cert ? 'key' : 'cert')}`, {
      code: 'E_CLOUDS_YAML',
    });
  }
  for (const [k, p] of [['cacert', cacert], ['cert', cert], ['key', key]] as const) {
    if (p && !(await exists(p))) {
      throw new ConfigError(`${k} file ${p} of cloud '${name}' does not exist`, { code: 'E_CLOUDS_YAML', hint: sourceHint(k) });
    }
  }

  let apiTimeout: number | undefined;
  const t = all.api_timeout;
  if (t !== undefined && t !== null && t !== '') {
    const n = typeof t === 'number' ? t : Number(String(t));
    if (!Number.isFinite(n) || n < 0) {
      throw new ConfigError(`api_timeout '${String(t)}' of cloud '${name}' is invalid; expected seconds >= 0 (0 = none)`, {
        code: 'E_CLOUDS_YAML',
      });
    }
    apiTimeout = n > 0 ? n : undefined;
  }

  const out: ResolvedCloud = {
    name,
    authUrl,
    authType,
    auth,
    interface: ifaceRaw as Interface,
    verify,
    sources,
    notices,
  };
  if (regionName) out.regionName = regionName;
  if (verify && cacert) out.cacert = cacert;
  if (cert) out.cert = cert;
  if (key) out.key = key;
  if (apiTimeout !== undefined) out.apiTimeout = apiTimeout;
  return out;
}
