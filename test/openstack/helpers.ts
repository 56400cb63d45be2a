/** Shared pieces for the OpenStack client tests: fixtures, a fake Io that keeps the trace, a fake clock. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as path from 'node:path';
import nock from 'nock';
import type { Io } from '../../lib/io.js';
import type { Clock } from '../../lib/clock.js';
import { createOpenStackClient, type ClientOptions, type CloudAuthInput } from '../../lib/openstack/client.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export const PROJECT = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
export const KEYSTONE = 'http://keystone.test:5000';
export const NOVA = 'http://nova.test:8774';
export const NEUTRON = 'http://neutron.test:9696';
export const CINDER = 'http://cinder.test:8776';
export const GLANCE = 'http://glance.test:9292';
export const OCTAVIA = 'http://octavia.test:9876';
/** issued_at of the token fixtures; expires_at is one hour later */
export const T0 = Date.parse('2030-01-01T11:00:00Z');

export const PASSWORD = 'S3cr3t-pa55word!';
export const APP_SECRET = 'app-cred-secret-XYZ-123';

export function fixture<T = any>(rel: string): T {
  return JSON.parse(readFileSync(path.join(root, 'fixtures/openstack', rel), 'utf8')) as T;
}

export interface TraceIo extends Io {
  traces: string[];
  logs: string[];
}

export function traceIo(debug = true): TraceIo {
  const traces: string[] = [];
  const logs: string[] = [];
  return {
    traces,
    logs,
    log(level, msg) {
      logs.push(`${level}: ${msg}`);
    },
    progress() {
      return { update() {}, succeed() {}, fail() {}, warn() {} };
    },
    result() {},
    trace(msg) {
      traces.push(msg);
    },
    async confirm(_q, def) {
      return def;
    },
    verbosity: 0,
    debug,
  };
}

export interface FakeClock extends Clock {
  t: number;
  sleeps: number[];
}

/** now() is settable; sleep() records the delay and resolves at once (after a macrotask turn). */
export function fakeClock(t = T0): FakeClock {
  const c: FakeClock = {
    t,
    sleeps: [],
    now: () => c.t,
    sleep: async (ms) => {
      c.sleeps.push(ms);
      await new Promise((r) => setImmediate(r));
    },
  };
  return c;
}

export function passwordCloud(over: Partial<CloudAuthInput> = {}): CloudAuthInput {
  return {
    authUrl: `${KEYSTONE}/v3`,
    authType: 'password',
    auth: { username: 'kadd', password: PASSWORD, user_domain_name: 'Default', project_name: 'k8s', project_domain_name: 'Default' },
    regionName: 'RegionOne',
    interface: 'public',
    verify: true,
    ...over,
  };
}

export function appCredCloud(over: Partial<CloudAuthInput> = {}): CloudAuthInput {
  return {
    authUrl: KEYSTONE,
    authType: 'v3applicationcredential',
    auth: { application_credential_id: '423f19a4ac1e4f48bbb4180756e6eb6c', application_credential_secret: APP_SECRET },
    regionName: 'RegionOne',
    interface: 'public',
    verify: true,
    ...over,
  };
}

export function client(cloud: CloudAuthInput = passwordCloud(), opts: Partial<ClientOptions> = {}) {
  const io = (opts.io as TraceIo | undefined) ?? traceIo();
  const clock = (opts.clock as FakeClock | undefined) ?? fakeClock();
  const c = createOpenStackClient(cloud, { retries: 3, backoffBaseMs: 1, random: () => 0.5, ...opts, io, clock });
  return { c, io, clock };
}

/** Expect one token POST; answers the password token fixture with `token` in X-Subject-Token. */
export function keystone(token = 'gAAAAABtoken-one-abcdefghijklmnop', body: unknown = fixture('identity/token-password.json'), times = 1) {
  return nock(KEYSTONE).post('/v3/auth/tokens').times(times).reply(201, body as nock.Body, { 'X-Subject-Token': token, 'Content-Type': 'application/json' });
}

/** The token fixture with another expiry. */
export function tokenExpiring(expiresAt: number, issuedAt = T0): unknown {
  const b = fixture('identity/token-password.json');
  b.token.expires_at = new Date(expiresAt).toISOString();
  b.token.issued_at = new Date(issuedAt).toISOString();
  return b;
}

export function setupNock(): void {
  before(() => nock.disableNetConnect());
  afterEach(() => {
    const pending = nock.pendingMocks();
    nock.cleanAll();
    if (pending.length) throw new Error(`nock mocks not called: ${pending.join(', ')}`);
  });
  // back to nock's default (other test files allow their own loopback servers)
  after(() => nock.enableNetConnect());
}
