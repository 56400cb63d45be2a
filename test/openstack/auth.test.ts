import assert from 'node:assert/strict';
import nock from 'nock';
import { OpenStackError, ConfigError } from '../../lib/errors.js';
import { buildAuthBody, identityBase } from '../../lib/openstack/auth.js';
import {
  APP_SECRET, KEYSTONE, NOVA, PASSWORD, PROJECT, T0, appCredCloud, client, fakeClock, fixture, keystone, passwordCloud, setupNock, tokenExpiring,
} from './helpers.js';

describe('openstack auth (Keystone v3)', () => {
  setupNock();

  it('password: scoped to the project, exact body, token from X-Subject-Token', async () => {
    let seen: unknown;
    nock(KEYSTONE)
      .post('/v3/auth/tokens', (b) => ((seen = b), true))
      .reply(201, fixture('identity/token-password.json'), { 'X-Subject-Token': 'tok-password-1234' });
    const nova = nock(NOVA, { reqheaders: { 'x-auth-token': 'tok-password-1234' } }).get('/v2.1/limits').reply(200, fixture('compute/limits.json'));
    const { c } = client();
    assert.equal(await c.projectId(), PROJECT);
    assert.deepEqual(seen, {
      auth: {
        identity: { methods: ['password'], password: { user: { name: 'kadd', domain: { name: 'Default' }, password: PASSWORD } } },
        scope: { project: { name: 'k8s', domain: { name: 'Default' } } },
      },
    });
    assert.equal((await c.compute.getLimits()).maxTotalCores, 20);
    assert.ok(nova.isDone());
  });

  it('password: ids instead of names, and the OSC default domain', () => {
    assert.deepEqual(buildAuthBody(passwordCloud({ auth: { user_id: 'u1', password: 'p', project_id: 'p1' } })), {
      auth: { identity: { methods: ['password'], password: { user: { id: 'u1', password: 'p' } } }, scope: { project: { id: 'p1' } } },
    });
    assert.deepEqual(buildAuthBody(passwordCloud({ auth: { username: 'u', password: 'p', project_name: 'k8s' } })), {
      auth: {
        identity: { methods: ['password'], password: { user: { name: 'u', domain: { id: 'default' }, password: 'p' } } },
        scope: { project: { name: 'k8s', domain: { id: 'default' } } },
      },
    });
    // config.ts spelling (camelCase) is accepted too
    assert.deepEqual(buildAuthBody(passwordCloud({ auth: { username: 'u', password: 'p', projectName: 'k8s', projectDomainId: 'd9', userDomainName: 'Users' } })), {
      auth: {
        identity: { methods: ['password'], password: { user: { name: 'u', domain: { name: 'Users' }, password: 'p' } } },
        scope: { project: { name: 'k8s', domain: { id: 'd9' } } },
      },
    });
  });

  it('application credential by id: no scope in the body', async () => {
    let seen: unknown;
    nock(KEYSTONE)
      .post('/v3/auth/tokens', (b) => ((seen = b), true))
      .reply(201, fixture('identity/token-appcred.json'), { 'X-Subject-Token': 'tok-appcred-1234' });
    const { c } = client(appCredCloud());
    assert.equal(await c.projectId(), PROJECT);
    assert.deepEqual(seen, {
      auth: { identity: { methods: ['application_credential'], application_credential: { id: '423f19a4ac1e4f48bbb4180756e6eb6c', secret: APP_SECRET } } },
    });
  });

  it('application credential by name needs the user', () => {
    assert.deepEqual(
      buildAuthBody(appCredCloud({ auth: { application_credential_name: 'kadd-ci', application_credential_secret: 's', username: 'kadd', user_domain_name: 'Default' } })),
      {
        auth: {
          identity: {
            methods: ['application_credential'],
            application_credential: { secret: 's', name: 'kadd-ci', user: { name: 'kadd', domain: { name: 'Default' } } },
          },
        },
      },
    );
    assert.deepEqual(buildAuthBody(appCredCloud({ auth: { application_credential_name: 'kadd-ci', application_credential_secret: 's', user_id: 'u1' } })), {
      auth: { identity: { methods: ['application_credential'], application_credential: { secret: 's', name: 'kadd-ci', user: { id: 'u1' } } } },
    });
    assert.throws(() => buildAuthBody(appCredCloud({ auth: { application_credential_name: 'kadd-ci', application_credential_secret: 's' } })), ConfigError);
  });

  it('missing secret or project: ConfigError (exit 2) and no request', async () => {
    const { c } = client(appCredCloud({ auth: { application_credential_id: 'ac1' } }));
    await assert.rejects(c.projectId(), (e: unknown) => e instanceof ConfigError && e.exitCode === 2 && /application_credential_secret/.test(e.message));
    const { c: c2 } = client(passwordCloud({ auth: { username: 'u', password: 'p' } }));
    await assert.rejects(c2.projectId(), (e: unknown) => e instanceof ConfigError && /project/.test(e.message));
  });

  it('appends /v3 to an unversioned auth URL', () => {
    assert.equal(identityBase('http://k:5000'), 'http://k:5000/v3');
    assert.equal(identityBase('http://k:5000/v3/'), 'http://k:5000/v3');
    assert.equal(identityBase('https://k/identity'), 'https://k/identity/v3');
  });

  it('a 401 from Keystone: one line naming the auth URL and the user, never the password', async () => {
    nock(KEYSTONE).post('/v3/auth/tokens').reply(401, fixture('identity/error-401.json'));
    const { c } = client();
    await assert.rejects(c.projectId(), (e: unknown) => {
      assert.ok(e instanceof OpenStackError);
      assert.equal(e.code, 'E_OPENSTACK_AUTH');
      assert.match(e.message, /^authentication at http:\/\/keystone\.test:5000\/v3 for user 'kadd' failed: 401 The request you have made requires authentication\.$/);
      assert.ok(!e.message.includes(PASSWORD));
      assert.ok(!e.message.includes('\n'));
      return true;
    });
  });

  it('a 401 for an application credential names the credential id, not the secret', async () => {
    nock(KEYSTONE).post('/v3/auth/tokens').reply(401, fixture('identity/error-401.json'));
    const { c } = client(appCredCloud());
    await assert.rejects(c.projectId(), (e: unknown) => {
      assert.ok(e instanceof OpenStackError);
      assert.match(e.message, /application credential 423f19a4ac1e4f48bbb4180756e6eb6c failed: 401/);
      assert.ok(!e.message.includes(APP_SECRET));
      return true;
    });
  });

  it('single-flight: 5 parallel calls on a fresh client make 1 token POST', async () => {
    const ks = keystone('tok-single-flight-1');
    nock(NOVA).get('/v2.1/os-availability-zone').times(5).reply(200, fixture('compute/availability-zones.json'));
    const { c } = client();
    const res = await Promise.all(Array.from({ length: 5 }, () => c.compute.listAvailabilityZones()));
    assert.equal(res.length, 5);
    assert.equal(res[0]![0]!.zoneName, 'nova');
    assert.ok(ks.isDone());
    assert.equal(c.counts()['identity POST'], 1);
    assert.equal(c.counts()['compute GET'], 5);
  });

  it('refreshes the token proactively 5 minutes before it expires', async () => {
    const clock = fakeClock(T0);
    keystone('tok-first-aaaaaa', tokenExpiring(T0 + 3_600_000));
    nock(NOVA, { reqheaders: { 'x-auth-token': 'tok-first-aaaaaa' } }).get('/v2.1/limits').reply(200, fixture('compute/limits.json'));
    const { c } = client(passwordCloud(), { clock });
    await c.compute.getLimits();
    // 54 minutes later: still fresh, no new token
    clock.t = T0 + 54 * 60_000;
    nock(NOVA, { reqheaders: { 'x-auth-token': 'tok-first-aaaaaa' } }).get('/v2.1/limits').reply(200, fixture('compute/limits.json'));
    await c.compute.getLimits();
    // 56 minutes later: inside the 5-minute margin -> one new token
    clock.t = T0 + 56 * 60_000;
    keystone('tok-second-bbbbbb', tokenExpiring(clock.t + 3_600_000, clock.t));
    nock(NOVA, { reqheaders: { 'x-auth-token': 'tok-second-bbbbbb' } }).get('/v2.1/limits').reply(200, fixture('compute/limits.json'));
    await c.compute.getLimits();
    assert.equal(c.counts()['identity POST'], 2);
  });

  it('re-authenticates once on a 401 and repeats the request', async () => {
    keystone('tok-revoked-aaaaa');
    nock(NOVA, { reqheaders: { 'x-auth-token': 'tok-revoked-aaaaa' } }).get('/v2.1/limits').reply(401, { error: { code: 401, message: 'The request you have made requires authentication.' } });
    keystone('tok-fresh-bbbbbbb');
    nock(NOVA, { reqheaders: { 'x-auth-token': 'tok-fresh-bbbbbbb' } }).get('/v2.1/limits').reply(200, fixture('compute/limits.json'));
    const { c } = client();
    assert.equal((await c.compute.getLimits()).totalCoresUsed, 2);
    assert.equal(c.counts()['identity POST'], 2);
  });

  it('concurrent 401s share one re-authentication', async () => {
    keystone('tok-revoked-aaaaa');
    nock(NOVA, { reqheaders: { 'x-auth-token': 'tok-revoked-aaaaa' } }).get('/v2.1/limits').times(3).reply(401, {});
    keystone('tok-fresh-bbbbbbb');
    nock(NOVA, { reqheaders: { 'x-auth-token': 'tok-fresh-bbbbbbb' } }).get('/v2.1/limits').times(3).reply(200, fixture('compute/limits.json'));
    const { c } = client();
    await c.projectId();
    await Promise.all([c.compute.getLimits(), c.compute.getLimits(), c.compute.getLimits()]);
    assert.equal(c.counts()['identity POST'], 2);
  });

  it('gives up after the second 401', async () => {
    keystone('tok-one-aaaaaaa');
    keystone('tok-two-bbbbbbb');
    nock(NOVA).get('/v2.1/limits').times(2).reply(401, { error: { code: 401, message: 'The request you have made requires authentication.' } });
    const { c } = client();
    await assert.rejects(c.compute.getLimits(), (e: unknown) => e instanceof OpenStackError && e.status === 401 && /still unauthorized after re-authenticating/.test(e.message));
    assert.equal(c.counts()['identity POST'], 2);
    assert.equal(c.counts()['compute GET'], 2);
  });

  it('a token without a catalog or project is refused with a clear message', async () => {
    const b = fixture('identity/token-password.json');
    delete b.token.project;
    keystone('tok-unscoped-aaaa', b);
    const { c } = client();
    await assert.rejects(c.projectId(), /not scoped to a project/);
  });
});
