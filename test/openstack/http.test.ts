import assert from 'node:assert/strict';
import nock from 'nock';
import { OpenStackError, InterruptedError } from '../../lib/errors.js';
import { parseErrorBody, parseRetryAfter } from '../../lib/openstack/http.js';
import { CINDER, NEUTRON, NOVA, OCTAVIA, PROJECT, T0, client, fakeClock, fixture, keystone, passwordCloud, setupNock } from './helpers.js';

const SERVER = '569f39f9-7c76-42a1-9c2d-8394e2638a6d';
const createReq = { name: 'k8s-node-2', flavorRef: '2', networks: 'none' as const };

describe('openstack http: retries, Retry-After, timeouts, errors', () => {
  setupNock();
  beforeEach(() => keystone());

  it('429 with Retry-After in seconds: waits that long, then succeeds (GET)', async () => {
    nock(NOVA).get('/v2.1/limits').reply(429, { overLimit: { message: 'slow down' } }, { 'Retry-After': '2' });
    nock(NOVA).get('/v2.1/limits').reply(200, fixture('compute/limits.json'));
    const { c, clock } = client();
    await c.compute.getLimits();
    assert.deepEqual(clock.sleeps, [2000]);
  });

  it('429 with Retry-After as an HTTP date; a 429 POST is retried (it was not processed)', async () => {
    const clock = fakeClock(T0);
    const date = new Date(T0 + 3000).toUTCString();
    nock(NOVA).post('/v2.1/servers').reply(429, {}, { 'Retry-After': date });
    nock(NOVA).post('/v2.1/servers').reply(202, fixture('compute/server-create-resp.json'));
    const { c } = client(passwordCloud(), { clock });
    assert.equal((await c.compute.createServer(createReq)).id, 'f5dc173b-6804-445a-a6d8-c705dad5b5eb');
    assert.deepEqual(clock.sleeps, [3000]);
    assert.equal(c.counts()['compute POST'], 2);
  });

  it('413 is retried only with Retry-After (a quota 413 without it is final)', async () => {
    nock(NOVA).post('/v2.1/servers').reply(413, { overLimit: { code: 413, message: 'Rate limit' } }, { 'Retry-After': '1' });
    nock(NOVA).post('/v2.1/servers').reply(413, { overLimit: { code: 413, message: 'Quota exceeded for instances' } });
    const { c, clock } = client();
    await assert.rejects(c.compute.createServer(createReq), (e: unknown) => e instanceof OpenStackError && e.status === 413 && /Quota exceeded for instances/.test(e.message));
    assert.deepEqual(clock.sleeps, [1000]);
  });

  it('a Retry-After longer than the cap fails instead of waiting', async () => {
    nock(NOVA).get('/v2.1/limits').reply(429, {}, { 'Retry-After': '3600' });
    const { c, clock } = client();
    await assert.rejects(c.compute.getLimits(), /asks to wait 3600 s/);
    assert.deepEqual(clock.sleeps, []);
  });

  it('429 without Retry-After: exponential backoff with jitter', async () => {
    nock(NOVA).get('/v2.1/limits').times(3).reply(429, {});
    nock(NOVA).get('/v2.1/limits').reply(200, fixture('compute/limits.json'));
    const { c, clock } = client(passwordCloud(), { backoffBaseMs: 100, random: () => 0.5 });
    await c.compute.getLimits();
    assert.deepEqual(clock.sleeps, [50, 100, 200]);
  });

  it('5xx on GET is retried with backoff', async () => {
    nock(NOVA).get(`/v2.1/servers/${SERVER}`).reply(503, 'Service Unavailable');
    nock(NOVA).get(`/v2.1/servers/${SERVER}`).reply(500, { computeFault: { code: 500, message: 'boom' } });
    nock(NOVA).get(`/v2.1/servers/${SERVER}`).reply(200, fixture('compute/server-get.json'));
    const { c, clock } = client();
    assert.equal((await c.compute.getServer(SERVER))!.name, 'k8s-node-1');
    assert.equal(clock.sleeps.length, 2);
    assert.equal(c.counts()['compute GET'], 3);
  });

  it('5xx on GET: gives up after the configured retries with the parsed message', async () => {
    nock(NOVA).get(`/v2.1/servers/${SERVER}`).times(4).reply(500, { computeFault: { code: 500, message: 'Unexpected API Error.' } });
    const { c } = client(passwordCloud(), { retries: 3 });
    await assert.rejects(c.compute.getServer(SERVER), (e: unknown) => e instanceof OpenStackError && e.status === 500 && /Unexpected API Error\./.test(e.message));
    assert.equal(c.counts()['compute GET'], 4);
  });

  it('5xx on POST is NOT retried: it may have happened', async () => {
    nock(NOVA).post('/v2.1/servers').reply(500, { computeFault: { code: 500, message: 'Unexpected API Error.' } });
    const { c, clock } = client();
    await assert.rejects(c.compute.createServer(createReq), (e: unknown) => {
      assert.ok(e instanceof OpenStackError);
      assert.equal(e.code, 'E_OPENSTACK_UNCERTAIN');
      assert.match(e.message, /may or may not have been processed/);
      return true;
    });
    assert.equal(c.counts()['compute POST'], 1);
    assert.deepEqual(clock.sleeps, []);
  });

  it('connection reset on GET is retried; on POST it is not', async () => {
    nock(NEUTRON).get('/v2.0/networks').query(true).replyWithError({ code: 'ECONNRESET', message: 'socket hang up' });
    nock(NEUTRON).get('/v2.0/networks').query(true).reply(200, fixture('network/networks.json'));
    nock(NEUTRON).post('/v2.0/ports').replyWithError({ code: 'ECONNRESET', message: 'socket hang up' });
    const { c } = client();
    assert.equal((await c.network.findNetwork('k8s-net'))!.id, 'd32019d3-bc6e-4319-9c1d-6722fc136a22');
    await assert.rejects(c.network.createPort({ name: 'p', network_id: 'n' }), (e: unknown) => {
      assert.ok(e instanceof OpenStackError);
      assert.equal(e.code, 'E_OPENSTACK_UNCERTAIN');
      assert.match(e.message, /ECONNRESET/);
      return true;
    });
    assert.equal(c.counts()['network POST'], 1);
  });

  it('connection refused on POST is retried: the request never left', async () => {
    nock(NEUTRON).post('/v2.0/ports').replyWithError({ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED' });
    nock(NEUTRON).post('/v2.0/ports').reply(201, fixture('network/port-create-resp.json'));
    const { c } = client();
    assert.equal((await c.network.createPort({ name: 'k8s-node-1-port-0', network_id: 'n' })).name, 'k8s-node-1-port-0');
    assert.equal(c.counts()['network POST'], 2);
  });

  it('connection errors on GET: a clear error after the retries', async () => {
    nock(NOVA).get('/v2.1/limits').times(3).replyWithError({ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 10.0.0.1:8774' });
    const { c } = client(passwordCloud(), { retries: 2 });
    await assert.rejects(c.compute.getLimits(), (e: unknown) => e instanceof OpenStackError && e.code === 'E_OPENSTACK_CONNECT' && /gave up after 3 attempts/.test(e.message));
  });

  it('per-request timeout: GET retried, then a timeout error', async () => {
    nock(NOVA).get('/v2.1/limits').times(2).delay(300).reply(200, fixture('compute/limits.json'));
    const { c } = client(passwordCloud(), { timeoutMs: 50, retries: 1 });
    await assert.rejects(c.compute.getLimits(), (e: unknown) => e instanceof OpenStackError && e.code === 'E_OPENSTACK_TIMEOUT' && /no answer within 50 ms/.test(e.message));
    assert.equal(c.counts()['compute GET'], 2);
  });

  it("the operation's signal interrupts (exit 130), no retry", async () => {
    const ac = new AbortController();
    nock(NOVA).get('/v2.1/limits').delay(500).reply(200, fixture('compute/limits.json'));
    const { c } = client(passwordCloud(), { signal: ac.signal });
    await c.projectId();
    setTimeout(() => ac.abort(), 20);
    await assert.rejects(c.compute.getLimits(), (e: unknown) => e instanceof InterruptedError && e.exitCode === 130);
    assert.equal(c.counts()['compute GET'], 1);
  });

  it('Octavia 409 (load balancer immutable) is retried for member changes', async () => {
    nock(OCTAVIA).post('/v2/lbaas/pools/pool-1/members').reply(409, fixture('loadbalancer/error-409.json'));
    nock(OCTAVIA).post('/v2/lbaas/pools/pool-1/members').reply(201, fixture('loadbalancer/member-create-resp.json'));
    const { c } = client();
    assert.equal((await c.loadbalancer.createMember('pool-1', { address: '10.32.192.22', protocol_port: 6443 })).address, '10.32.192.22');
  });

  it('error bodies become one line (Nova, Neutron, Cinder, Octavia, Keystone, text)', async () => {
    assert.equal(parseErrorBody(fixture('compute/error-badrequest.json'), ''), 'Invalid flavorRef provided.');
    assert.equal(parseErrorBody(fixture('compute/error-itemnotfound.json'), ''), `Instance ${'569f39f9-7c76-42a1-9c2d-8394e2638a6d'} could not be found.`);
    assert.match(parseErrorBody(fixture('network/error-neutron.json'), ''), /^Bad router request: Router already has a port/);
    assert.equal(parseErrorBody(fixture('volume/error-badrequest.json'), ''), "Availability zone 'az9' is invalid.");
    assert.match(parseErrorBody(fixture('loadbalancer/error-409.json'), ''), /is immutable and cannot be updated\.$/);
    assert.equal(parseErrorBody(fixture('identity/error-401.json'), ''), 'The request you have made requires authentication.');
    assert.equal(parseErrorBody(undefined, '<html><body><h1>503 Service Unavailable</h1>\nNo server is available</body></html>'), '503 Service Unavailable No server is available');
    // through the client: the message names service, method, path and the parsed reason
    nock(CINDER).post(`/v3/${PROJECT}/volumes`).reply(400, fixture('volume/error-badrequest.json'));
    const { c } = client();
    await assert.rejects(c.volume.createVolume({ name: 'v', size: 1, availability_zone: 'az9' }), (e: unknown) => {
      assert.ok(e instanceof OpenStackError);
      assert.equal(e.message, `block-storage POST http://cinder.test:8776/v3/${PROJECT}/volumes: 400 Availability zone 'az9' is invalid.`);
      assert.equal(e.status, 400);
      return true;
    });
  });

  it('counts every request per service and method; resetCounts clears', async () => {
    nock(NOVA).get('/v2.1/limits').reply(200, fixture('compute/limits.json'));
    nock(CINDER).get(`/v3/${PROJECT}/limits`).reply(200, fixture('volume/limits.json'));
    const { c } = client();
    await c.compute.getLimits();
    await c.volume.getLimits();
    assert.deepEqual(c.counts(), { 'block-storage GET': 1, 'compute GET': 1, 'identity POST': 1 });
    c.resetCounts();
    assert.deepEqual(c.counts(), {});
  });
});

describe('openstack http: parseRetryAfter', () => {
  it('parseRetryAfter: seconds, dates, garbage', () => {
    assert.equal(parseRetryAfter('5', 0), 5000);
    assert.equal(parseRetryAfter(new Date(10_000).toUTCString(), 4000), 6000);
    assert.equal(parseRetryAfter(new Date(1000).toUTCString(), 4000), 0);
    assert.equal(parseRetryAfter('soon', 0), undefined);
    assert.equal(parseRetryAfter(null, 0), undefined);
  });

});
