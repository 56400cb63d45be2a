import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { dump } from 'js-yaml';
import { resolveCloud, type ResolvedCloud } from '../../lib/openstack/config.js';
import { rejectsConfigError as rejects } from '../helpers/assert.js';
import { clearSecrets, redactText } from '../../lib/redact.js';

const FIX = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/clouds');

let tmp: string;
let cwd: string;
let home: string;

beforeEach(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'kadd-clouds-'));
  cwd = path.join(tmp, 'work');
  home = path.join(tmp, 'home');
  mkdirSync(cwd, { recursive: true });
  mkdirSync(home, { recursive: true });
});
afterEach(() => {
  rmSync(tmp, { recursive: true, force: true });
  clearSecrets();
});

function resolve(env: NodeJS.ProcessEnv, cli: Record<string, string | boolean | undefined> = {}): Promise<ResolvedCloud> {
  return resolveCloud({ cli, env, cwd, home, systemDirs: [] });
}

/** Source an openrc file with bash in an empty environment and return what it exports. */
function sourceOpenrc(file: string): NodeJS.ProcessEnv {
  const out = execFileSync('bash', ['--norc', '--noprofile', '-c', 'set -a; source "$1" >/dev/null; env -0', '_', file], { env: {} }).toString();
  const env: NodeJS.ProcessEnv = {};
  for (const kv of out.split('\0')) {
    const i = kv.indexOf('=');
    if (i > 0 && kv.startsWith('OS_')) env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return env;
}

function copyProject(): void {
  cpSync(path.join(FIX, 'project'), cwd, { recursive: true });
  mkdirSync(path.join(home, 'certs'));
  writeFileSync(path.join(home, 'certs/staging-ca.pem'), 'x');
}

describe('openstack/config: clouds.yaml + secure.yaml', () => {
  it('merges secure.yaml into the named cloud and reads both files', async () => {
    copyProject();
    const c = await resolve({ OS_CLOUD: 'dev' });
    assert.equal(c.name, 'dev');
    assert.equal(c.authType, 'password');
    assert.equal(c.authUrl, 'https://keystone.dev.example:5000/v3');
    assert.deepEqual(c.auth, {
      username: 'dev-user',
      password: 'dev-secure-password',
      userDomainName: 'Default',
      projectName: 'k8s-dev',
      projectDomainName: 'Default',
    });
    assert.equal(c.regionName, 'RegionOne');
    assert.equal(c.interface, 'public');
    assert.equal(c.verify, true);
    assert.deepEqual(c.sources, [path.join(cwd, 'clouds.yaml'), path.join(cwd, 'secure.yaml')]);
  });

  it('--os-cloud beats OS_CLOUD', async () => {
    copyProject();
    const c = await resolve({ OS_CLOUD: 'dev' }, { 'os-cloud': 'staging' });
    assert.equal(c.name, 'staging');
  });

  it('regions list: first is the default, values of the chosen region apply, ~ expanded in cacert, api_timeout', async () => {
    copyProject();
    const one = await resolve({ OS_CLOUD: 'staging' });
    assert.equal(one.regionName, 'RegionOne');
    assert.equal(one.interface, 'public');
    assert.equal(one.cacert, path.join(home, 'certs/staging-ca.pem'));
    assert.equal(one.apiTimeout, 45);
    assert.deepEqual(one.auth, { username: 'staging-user', password: 'staging-secure-password', userDomainId: 'default', projectId: '0123456789abcdef0123456789abcdef' });
    const two = await resolve({ OS_CLOUD: 'staging', OS_REGION_NAME: 'RegionTwo' });
    assert.equal(two.regionName, 'RegionTwo');
    assert.equal(two.interface, 'internal', "RegionTwo's values set interface");
    // the environment still beats region values
    const three = await resolve({ OS_CLOUD: 'staging', OS_REGION_NAME: 'RegionTwo', OS_INTERFACE: 'admin' });
    assert.equal(three.interface, 'admin');
  });

  it('unknown region: error listing the valid ones (case-sensitive)', async () => {
    copyProject();
    const e = await rejects(resolve({ OS_CLOUD: 'staging', OS_REGION_NAME: 'regionone' }));
    assert.equal(e.message, "region 'regionone' (OS_REGION_NAME) is not a valid region for cloud 'staging'; valid: RegionOne, RegionTwo");
    assert.equal(e.code, 'E_REGION');
    // a single region_name in clouds.yaml is the only valid one (as openstacksdk)
    const e2 = await rejects(resolve({ OS_CLOUD: 'dev' }, { 'os-region-name': 'Elsewhere' }));
    assert.equal(e2.message, "region 'Elsewhere' (--os-region-name) is not a valid region for cloud 'dev'; valid: RegionOne");
  });

  it('unknown cloud names the file searched and the known clouds', async () => {
    writeFileSync(path.join(cwd, 'clouds.yaml'), dump({ clouds: { staging: {}, dev: {} } }));
    const e = await rejects(resolve({ OS_CLOUD: 'prod' }));
    assert.equal(e.message, "cloud 'prod' not found in ./clouds.yaml; known: dev, staging");
    assert.equal(e.code, 'E_CLOUD_NOT_FOUND');
  });

  it('unknown cloud with no file at all lists the directories searched', async () => {
    const e = await rejects(resolve({ OS_CLOUD: 'prod' }));
    assert.match(e.message, /^cloud 'prod' not found \(no clouds\.yaml found in \.\/, ~\/\.config\/openstack\); known: \(none\)$/);
  });

  it('search order: ./clouds.yaml hides ~/.config/openstack/clouds.yaml, but ~/.config secure.yaml still applies', async () => {
    const userDir = path.join(home, '.config/openstack');
    mkdirSync(userDir, { recursive: true });
    cpSync(path.join(FIX, 'user-config/clouds.yaml'), path.join(userDir, 'clouds.yaml'));
    writeFileSync(path.join(cwd, 'clouds.yml'), dump({ clouds: { dev: { auth: { auth_url: 'https://k/v3', username: 'u', project_id: 'p', user_domain_id: 'd' } } } }));
    writeFileSync(path.join(userDir, 'secure.yaml'), dump({ clouds: { dev: { auth: { password: 'from-home-secure' } } } }));
    const e = await rejects(resolve({ OS_CLOUD: 'home-only' }));
    assert.equal(e.message, "cloud 'home-only' not found in ./clouds.yml, ~/.config/openstack/secure.yaml; known: dev");
    const c = await resolve({ OS_CLOUD: 'dev' });
    assert.equal(c.auth.password, 'from-home-secure');
    assert.deepEqual(c.sources, [path.join(cwd, 'clouds.yml'), path.join(userDir, 'secure.yaml')]);
  });

  it('XDG_CONFIG_HOME is searched before ~/.config/openstack', async () => {
    const xdg = path.join(tmp, 'xdg');
    mkdirSync(path.join(xdg, 'openstack'), { recursive: true });
    mkdirSync(path.join(home, '.config/openstack'), { recursive: true });
    const cloud = (u: string) => ({ clouds: { c: { auth: { auth_url: 'https://k/v3', username: u, password: 'pw-123456', project_id: 'p', user_domain_id: 'd' } } } });
    writeFileSync(path.join(xdg, 'openstack/clouds.yaml'), dump(cloud('xdg')));
    writeFileSync(path.join(home, '.config/openstack/clouds.yaml'), dump(cloud('home')));
    assert.equal((await resolve({ OS_CLOUD: 'c', XDG_CONFIG_HOME: xdg })).auth.username, 'xdg');
    assert.equal((await resolve({ OS_CLOUD: 'c' })).auth.username, 'home');
  });

  it('system dirs are searched last', async () => {
    const sys = path.join(tmp, 'etc-openstack');
    mkdirSync(sys);
    writeFileSync(path.join(sys, 'clouds.yaml'), dump({ clouds: { site: { auth: { auth_url: 'https://site/v3', application_credential_id: 'i', application_credential_secret: 's-123456' }, auth_type: 'v3applicationcredential' } } }));
    const c = await resolveCloud({ cli: {}, env: { OS_CLOUD: 'site' }, cwd, home, systemDirs: [sys] });
    assert.equal(c.authUrl, 'https://site/v3');
  });

  it('OS_CLIENT_CONFIG_FILE / OS_CLIENT_SECURE_FILE are used first; a missing one is an error', async () => {
    copyProject();
    const other = path.join(tmp, 'other.yaml');
    writeFileSync(other, dump({ clouds: { dev: { auth: { auth_url: 'https://other/v3', username: 'o', project_id: 'p', user_domain_id: 'd' } } } }));
    const sec = path.join(tmp, 'other-secure.yaml');
    writeFileSync(sec, dump({ clouds: { dev: { auth: { password: 'other-secure' } } } }));
    const c = await resolve({ OS_CLOUD: 'dev', OS_CLIENT_CONFIG_FILE: other, OS_CLIENT_SECURE_FILE: sec });
    assert.equal(c.authUrl, 'https://other/v3');
    assert.equal(c.auth.password, 'other-secure');
    const e = await rejects(resolve({ OS_CLOUD: 'dev', OS_CLIENT_CONFIG_FILE: path.join(tmp, 'nope.yaml') }));
    assert.match(e.message, /^OS_CLIENT_CONFIG_FILE=.*nope\.yaml: no such file$/);
  });

  it('a cloud present only in secure.yaml exists', async () => {
    writeFileSync(path.join(cwd, 'secure.yaml'), dump({ clouds: { hidden: { auth: { auth_url: 'https://h/v3', username: 'u', password: 'pw-abcdef', project_id: 'p', user_domain_id: 'd' } } } }));
    const c = await resolve({ OS_CLOUD: 'hidden' });
    assert.equal(c.auth.password, 'pw-abcdef');
  });

  it('a YAML syntax error is reported with file, line and column (not skipped)', async () => {
    writeFileSync(path.join(cwd, 'clouds.yaml'), 'clouds:\n  dev:\n    auth: [unclosed\n');
    const e = await rejects(resolve({ OS_CLOUD: 'dev' }));
    assert.match(e.message, /^\.\/clouds\.yaml:\d+:\d+: cannot parse/);
  });

  it('a JSON syntax error in secure.json says where, never echoes the text around it (the secret)', async () => {
    writeFileSync(path.join(cwd, 'clouds.yaml'), dump({ clouds: { dev: { auth: { auth_url: 'https://h/v3', username: 'u', project_id: 'p', user_domain_id: 'd' } } } }));
    writeFileSync(path.join(cwd, 'secure.json'), '{"clouds":{"dev":{"auth":{"password":hunter2-unquoted-secret}}}}');
    const e = await rejects(resolve({ OS_CLOUD: 'dev' }));
    assert.match(e.message, /^\.\/secure\.json: cannot parse: invalid JSON( at position \d+)?$/);
    assert.ok(!e.message.includes('hunter2'), e.message);
  });

  it('a clouds.yaml cloud named envvars is rejected', async () => {
    writeFileSync(path.join(cwd, 'clouds.yaml'), dump({ clouds: { envvars: {} } }));
    const e = await rejects(resolve({}));
    assert.match(e.message, /may not be named 'envvars'/);
  });

  it('the only cloud in clouds.yaml is used when none is named; several -> error listing them', async () => {
    writeFileSync(path.join(cwd, 'clouds.yaml'), dump({ clouds: { solo: { auth: { auth_url: 'https://s/v3', username: 'u', password: 'pw-abcdef', project_id: 'p', user_domain_id: 'd' } } } }));
    const solo = await resolve({});
    assert.equal(solo.name, 'solo');
    assert.deepEqual(solo.notices, [{ level: 'info', message: "using cloud 'solo', the only one in ./clouds.yaml" }]);
    copyProject();
    const e = await rejects(resolve({}));
    assert.equal(e.message, 'no cloud selected and ./clouds.yaml, ./secure.yaml defines several; known: appcred, dev, staging');
  });

  it('no credentials at all', async () => {
    const e = await rejects(resolve({}));
    assert.equal(e.code, 'E_NO_CREDENTIALS');
  });

  it('application credential cloud from clouds.yaml + secure.yaml', async () => {
    copyProject();
    const c = await resolve({ OS_CLOUD: 'appcred' });
    assert.equal(c.authType, 'v3applicationcredential');
    assert.deepEqual(c.auth, { applicationCredentialId: '21dced0fd20347869b93710d2b98aae0', applicationCredentialSecret: 'appcred-secure-secret' });
  });

  it('auth_url with {region_name} is expanded', async () => {
    writeFileSync(path.join(cwd, 'clouds.yaml'), dump({ clouds: { r: { region_name: 'fra1', auth: { auth_url: 'https://{region_name}.k/v3', username: 'u', password: 'pw-abcdef', project_id: 'p', user_domain_id: 'd' } } } }));
    assert.equal((await resolve({ OS_CLOUD: 'r' })).authUrl, 'https://fra1.k/v3');
  });

  it('legacy keys: tenant_name, endpoint_type, domain_name', async () => {
    writeFileSync(path.join(cwd, 'clouds.yaml'), dump({ clouds: { old: { endpoint_type: 'internalURL', auth: { auth_url: 'https://k/v3', username: 'u', password: 'pw-abcdef', tenant_name: 'proj', domain_name: 'Dom' } } } }));
    const c = await resolve({ OS_CLOUD: 'old' });
    assert.equal(c.interface, 'internal');
    assert.deepEqual(c.auth, { username: 'u', password: 'pw-abcdef', userDomainName: 'Dom', projectName: 'proj', projectDomainName: 'Dom' });
  });
});

describe('openstack/config: openrc and the envvars cloud', () => {
  it('openrc v3 (password) gives the envvars cloud', async () => {
    const env = sourceOpenrc(path.join(FIX, 'openrc/password-openrc.sh'));
    assert.equal(env.OS_PASSWORD, 'openrc-password-value');
    const c = await resolve(env);
    assert.equal(c.name, 'envvars');
    assert.equal(c.authType, 'password');
    assert.equal(c.authUrl, 'https://keystone.example:5000/v3');
    assert.deepEqual(c.auth, {
      username: 'alice',
      password: 'openrc-password-value',
      userDomainName: 'Default',
      projectName: 'k8s-prod',
      projectId: '0123456789abcdef0123456789abcdef',
      projectDomainId: 'default',
    });
    assert.equal(c.regionName, 'RegionOne');
    assert.equal(c.interface, 'public');
    assert.deepEqual(c.sources, []);
  });

  it('application credential openrc', async () => {
    const env = sourceOpenrc(path.join(FIX, 'openrc/app-credential-openrc.sh'));
    const c = await resolve(env);
    assert.equal(c.name, 'envvars');
    assert.equal(c.authType, 'v3applicationcredential');
    assert.deepEqual(c.auth, { applicationCredentialId: '21dced0fd20347869b93710d2b98aae0', applicationCredentialSecret: 'appcred-openrc-secret-value' });
    assert.equal(c.regionName, 'RegionOne');
  });

  it('application credential by name needs the user', async () => {
    const env = { OS_AUTH_TYPE: 'v3applicationcredential', OS_AUTH_URL: 'https://k/v3', OS_APPLICATION_CREDENTIAL_NAME: 'kadd', OS_APPLICATION_CREDENTIAL_SECRET: 'sec-123456' };
    const e = await rejects(resolve(env));
    assert.match(e.message, /^missing username for cloud 'envvars': set OS_USERNAME, --os-username or auth\.username in clouds\.yaml/);
    const c = await resolve({ ...env, OS_USERNAME: 'bob', OS_USER_DOMAIN_NAME: 'Default' });
    assert.deepEqual(c.auth, { username: 'bob', userDomainName: 'Default', applicationCredentialName: 'kadd', applicationCredentialSecret: 'sec-123456' });
  });

  it('OS_CLOUD_NAME renames the envvars cloud; OS_CLOUD=envvars selects it even with clouds.yaml', async () => {
    copyProject();
    const env = sourceOpenrc(path.join(FIX, 'openrc/password-openrc.sh'));
    assert.equal((await resolve({ ...env, OS_CLOUD_NAME: 'mine' })).name, 'mine');
    assert.equal((await resolve({ ...env, OS_CLOUD: 'envvars' })).authUrl, 'https://keystone.example:5000/v3');
  });

  it('--os-* options alone describe a cloud', async () => {
    const c = await resolve({}, { 'os-auth-url': 'https://k/v3', 'os-username': 'u', 'os-password': 'cli-pass-1', 'os-project-id': 'p', 'os-user-domain-id': 'd' });
    assert.equal(c.name, 'envvars');
    assert.equal(c.auth.password, 'cli-pass-1');
  });

  it('missing fields: one line naming the key and where it comes from, never a secret', async () => {
    const base = { OS_AUTH_URL: 'https://k/v3', OS_USERNAME: 'u', OS_PASSWORD: 'super-secret-pw', OS_PROJECT_NAME: 'p', OS_USER_DOMAIN_NAME: 'D', OS_PROJECT_DOMAIN_NAME: 'D' };
    const cases: [string, string][] = [
      ['OS_AUTH_URL', "missing auth_url for cloud 'envvars': set OS_AUTH_URL, --os-auth-url or auth.auth_url in clouds.yaml"],
      ['OS_PASSWORD', "missing password for cloud 'envvars': set OS_PASSWORD, --os-password or auth.password in clouds.yaml/secure.yaml"],
      ['OS_PROJECT_NAME', "missing project_name for cloud 'envvars': set OS_PROJECT_NAME, --os-project-name or auth.project_name in clouds.yaml (or project_id)"],
      ['OS_USER_DOMAIN_NAME', "missing user_domain_name for cloud 'envvars': set OS_USER_DOMAIN_NAME, --os-user-domain-name or auth.user_domain_name in clouds.yaml (or user_domain_id)"],
      ['OS_PROJECT_DOMAIN_NAME', "missing project_domain_name for cloud 'envvars': set OS_PROJECT_DOMAIN_NAME, --os-project-domain-name or auth.project_domain_name in clouds.yaml (or project_domain_id)"],
    ];
    for (const [drop, msg] of cases) {
      const env: NodeJS.ProcessEnv = { ...base };
      delete env[drop];
      const e = await rejects(resolve(env));
      assert.equal(e.message, msg);
      assert.ok(!e.message.includes('\n'));
      assert.ok(!JSON.stringify({ m: e.message, h: e.hint }).includes('super-secret-pw'));
    }
    const e = await rejects(resolve({ ...base, OS_USERNAME: '', OS_APPLICATION_CREDENTIAL_SECRET: 'x-123456' }));
    assert.match(e.message, /auth_type: v3applicationcredential/);
  });

  it('bad values are one-line ConfigErrors', async () => {
    const base = { OS_AUTH_URL: 'https://k/v3', OS_USERNAME: 'u', OS_PASSWORD: 'pw-abcdef', OS_PROJECT_ID: 'p', OS_USER_ID: 'uid' };
    assert.match((await rejects(resolve({ ...base, OS_INTERFACE: 'private' }))).message, /interface 'private'.*expected public, internal or admin/);
    assert.match((await rejects(resolve({ ...base, OS_AUTH_TYPE: 'token' }))).message, /auth_type 'token'.*not supported/);
    assert.match((await rejects(resolve({ ...base, OS_IDENTITY_API_VERSION: '2.0' }))).message, /Keystone v3 only/);
    assert.match((await rejects(resolve({ ...base, OS_API_TIMEOUT: 'soon' }))).message, /api_timeout 'soon'/);
    assert.match((await rejects(resolve({ ...base, OS_CACERT: path.join(tmp, 'missing.pem') }))).message, /cacert file .* does not exist/);
    assert.match((await rejects(resolve({ ...base, OS_CERT: path.join(tmp, 'missing.pem') }))).message, /needs both cert and key/);
  });

  it('secrets are registered for redaction', async () => {
    const env = sourceOpenrc(path.join(FIX, 'openrc/password-openrc.sh'));
    await resolve(env);
    assert.equal(redactText('pw=openrc-password-value'), 'pw=<redacted>');
  });
});

describe('openstack/config: TLS', () => {
  const base = { OS_AUTH_URL: 'https://k/v3', OS_USERNAME: 'u', OS_PASSWORD: 'pw-abcdef', OS_PROJECT_ID: 'p', OS_USER_ID: 'uid' };
  it('insecure wins when true; --verify beats a file insecure: true', async () => {
    writeFileSync(path.join(cwd, 'clouds.yaml'), dump({ clouds: { t: { insecure: true, verify: true, auth: { auth_url: 'https://k/v3', username: 'u', password: 'pw-abcdef', project_id: 'p', user_domain_id: 'd' } } } }));
    assert.equal((await resolve({ OS_CLOUD: 't' })).verify, false);
    assert.equal((await resolve({ OS_CLOUD: 't' }, { verify: true })).verify, true);
    assert.equal((await resolve({ ...base }, { insecure: true })).verify, false);
    // a yargs boolean's default (false) is not an explicit choice and does not override the file
    assert.equal((await resolve({ OS_CLOUD: 't' }, { insecure: false, verify: false })).verify, false);
  });
  it('verify false with cacert: cacert dropped with a warning', async () => {
    writeFileSync(path.join(tmp, 'ca.pem'), 'x');
    const c = await resolveCloud({ cli: { insecure: true }, env: { ...base, OS_CACERT: path.join(tmp, 'ca.pem') }, cwd, home, systemDirs: [] });
    assert.equal(c.verify, false);
    assert.equal(c.cacert, undefined);
    assert.deepEqual(c.notices?.map((n) => n.level), ['warn']);
    assert.match(c.notices![0].message, /TLS verification is off/);
  });
  it('client cert and key, relative to cwd and ~', async () => {
    writeFileSync(path.join(cwd, 'client.crt'), 'x');
    writeFileSync(path.join(home, 'client.key'), 'x');
    chmodSync(path.join(home, 'client.key'), 0o600);
    const c = await resolve({ ...base, OS_CERT: 'client.crt', OS_KEY: '~/client.key' });
    assert.equal(c.cert, path.join(cwd, 'client.crt'));
    assert.equal(c.key, path.join(home, 'client.key'));
  });
  it('api_timeout 0 means none', async () => {
    assert.equal((await resolve({ ...base, OS_API_TIMEOUT: '0' })).apiTimeout, undefined);
    assert.equal((await resolve({ ...base, OS_API_TIMEOUT: '12.5' })).apiTimeout, 12.5);
  });
});
