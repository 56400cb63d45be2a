/**
 * CLI > environment > secure.yaml > clouds.yaml > defaults, for EVERY key (openstacksdk >= 2.0's rule;
 * OSC 6.0.0 with an older SDK ignored env/CLI project and domain keys when OS_CLOUD was set).
 */
import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { dump } from 'js-yaml';
import { resolveCloud, type ResolvedCloud } from '../../lib/openstack/config.js';
import { clearSecrets } from '../../lib/redact.js';

type Layer = 'clouds' | 'secure' | 'env' | 'cli';
const LAYERS: Layer[] = ['clouds', 'secure', 'env', 'cli'];

interface Row {
  key: string;
  /** the value each layer sets */
  values: Record<Layer, string | boolean | number>;
  /** what ResolvedCloud shows for a layer's value */
  read: (c: ResolvedCloud) => unknown;
  expect?: (v: string | boolean | number) => unknown;
  /** default when no layer sets it (undefined = no default) */
  def?: unknown;
  /** extra clouds.yaml keys for this row */
  base?: Record<string, unknown>;
  /** clouds.yaml key path: top-level or under auth */
  inAuth: boolean;
  envName?: string;
  cliName?: string;
}

let tmp: string;
const file = (name: string) => {
  const p = path.join(tmp, 'files', name);
  writeFileSync(p, 'x');
  return p;
};

const PASSWORD_BASE = {
  auth: { auth_url: 'https://base/v3', username: 'base-user', password: 'base-password', project_name: 'base-project', user_domain_name: 'BaseUD', project_domain_name: 'BasePD' },
};
const APPCRED_BASE = {
  auth_type: 'v3applicationcredential',
  auth: { auth_url: 'https://base/v3', application_credential_id: 'base-acid', application_credential_secret: 'base-acsecret' },
};

function rows(): Row[] {
  const authRow = (key: string, read: (c: ResolvedCloud) => unknown, base: Record<string, unknown> = PASSWORD_BASE): Row => ({
    key,
    inAuth: true,
    values: { clouds: `${key}-clouds`, secure: `${key}-secure`, env: `${key}-env`, cli: `${key}-cli` },
    read,
    base,
  });
  return [
    { ...authRow('auth_url', (c) => c.authUrl), values: { clouds: 'https://clouds/v3', secure: 'https://secure/v3', env: 'https://env/v3', cli: 'https://cli/v3' } },
    authRow('username', (c) => c.auth.username),
    authRow('user_id', (c) => c.auth.userId),
    authRow('password', (c) => c.auth.password),
    authRow('project_name', (c) => c.auth.projectName),
    authRow('project_id', (c) => c.auth.projectId),
    authRow('user_domain_name', (c) => c.auth.userDomainName),
    authRow('user_domain_id', (c) => c.auth.userDomainId),
    authRow('project_domain_name', (c) => c.auth.projectDomainName),
    authRow('project_domain_id', (c) => c.auth.projectDomainId),
    authRow('application_credential_id', (c) => c.auth.applicationCredentialId, APPCRED_BASE),
    authRow('application_credential_secret', (c) => c.auth.applicationCredentialSecret, APPCRED_BASE),
    {
      key: 'auth_type', inAuth: false, read: (c) => c.authType, def: 'password',
      values: { clouds: 'v3applicationcredential', secure: 'password', env: 'v3applicationcredential', cli: 'password' },
      base: { auth: { ...PASSWORD_BASE.auth, ...APPCRED_BASE.auth } },
    },
    {
      key: 'region_name', inAuth: false, read: (c) => c.regionName, def: 'r-first',
      values: { clouds: 'r-clouds', secure: 'r-secure', env: 'r-env', cli: 'r-cli' },
      base: { ...PASSWORD_BASE, regions: ['r-first', 'r-clouds', 'r-secure', 'r-env', 'r-cli'] },
    },
    { key: 'interface', inAuth: false, read: (c) => c.interface, def: 'public', values: { clouds: 'internal', secure: 'admin', env: 'internal', cli: 'admin' } },
    {
      key: 'cacert', inAuth: false, read: (c) => c.cacert, def: undefined,
      values: { clouds: 'ca-clouds.pem', secure: 'ca-secure.pem', env: 'ca-env.pem', cli: 'ca-cli.pem' },
      expect: (v) => path.join(tmp, 'files', String(v)),
    },
    {
      key: 'cert', inAuth: false, read: (c) => c.cert,
      values: { clouds: 'cert-clouds.pem', secure: 'cert-secure.pem', env: 'cert-env.pem', cli: 'cert-cli.pem' },
      expect: (v) => path.join(tmp, 'files', String(v)),
      base: { ...PASSWORD_BASE, key: 'KEYFILE' },
    },
    {
      key: 'key', inAuth: false, read: (c) => c.key,
      values: { clouds: 'key-clouds.pem', secure: 'key-secure.pem', env: 'key-env.pem', cli: 'key-cli.pem' },
      expect: (v) => path.join(tmp, 'files', String(v)),
      base: { ...PASSWORD_BASE, cert: 'CERTFILE' },
    },
    { key: 'api_timeout', inAuth: false, read: (c) => c.apiTimeout, def: undefined, values: { clouds: 10, secure: 20, env: '30', cli: '40' }, expect: (v) => Number(v) },
    {
      key: 'verify', inAuth: false, read: (c) => c.verify, def: true,
      values: { clouds: false, secure: true, env: false, cli: true },
      envName: 'OS_VERIFY',
    },
    {
      key: 'insecure', inAuth: false, read: (c) => c.verify, def: true,
      values: { clouds: false, secure: true, env: false, cli: true },
      expect: (v) => !v,
      envName: 'OS_INSECURE',
      cliName: 'insecure',
    },
  ];
}

describe('openstack/config precedence: CLI > env > secure.yaml > clouds.yaml > defaults, every key', () => {
  let cwd: string;
  beforeEach(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'kadd-prec-'));
    cwd = path.join(tmp, 'work');
    mkdirSync(cwd);
    mkdirSync(path.join(tmp, 'files'));
  });
  afterEach(() => {
    rmSync(tmp, { recursive: true, force: true });
    clearSecrets();
  });

  for (const row of rows()) {
    // up to which layer the key is set: none (defaults), clouds, clouds+secure, ...+env, ...+cli
    for (let upto = -1; upto < LAYERS.length; upto++) {
      const set = LAYERS.slice(0, upto + 1);
      const title = `${row.key}: ${set.length ? set.join(' + ') : 'defaults'} -> ${set.length ? set[set.length - 1] : 'default'}`;
      if (upto === -1 && !('def' in row)) continue;
      it(title, async () => {
        const val = (l: Layer) => {
          const v = row.values[l];
          return ['cacert', 'cert', 'key'].includes(row.key) ? file(String(v)) : v;
        };
        const base = JSON.parse(JSON.stringify(row.base ?? PASSWORD_BASE).replace('"KEYFILE"', JSON.stringify(file('k.pem'))).replace('"CERTFILE"', JSON.stringify(file('c.pem'))));
        const clouds: Record<string, unknown> = base;
        const secure: Record<string, unknown> = {};
        const put = (target: Record<string, unknown>, v: unknown) => {
          if (row.inAuth) target.auth = { ...((target.auth as object) ?? {}), [row.key]: v };
          else target[row.key] = v;
        };
        if (set.includes('clouds')) put(clouds, val('clouds'));
        if (set.includes('secure')) put(secure, val('secure'));
        writeFileSync(path.join(cwd, 'clouds.yaml'), dump({ clouds: { t: clouds } }));
        writeFileSync(path.join(cwd, 'secure.yaml'), dump({ clouds: { t: secure } }));
        const env: NodeJS.ProcessEnv = { OS_CLOUD: 't' };
        if (set.includes('env')) env[row.envName ?? 'OS_' + row.key.toUpperCase()] = String(val('env'));
        const cli: Record<string, string | boolean | undefined> = {};
        if (set.includes('cli')) {
          const v = val('cli');
          cli[row.cliName ?? 'os-' + row.key.replace(/_/g, '-')] = typeof v === 'number' ? String(v) : v;
        }
        if (row.key === 'verify' && set.includes('cli')) {
          delete cli['os-verify'];
          cli.verify = true;
        }
        const c = await resolveCloud({ cli, env, cwd, home: path.join(tmp, 'home'), systemDirs: [] });
        const last = set[set.length - 1];
        const want = last === undefined ? row.def : (row.expect ?? ((v) => v))(row.values[last]);
        assert.deepEqual(row.read(c), want);
      });
    }
  }
});
