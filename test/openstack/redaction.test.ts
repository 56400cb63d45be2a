import assert from 'node:assert/strict';
import nock from 'nock';
import { clearSecrets, redactText } from '../../lib/redact.js';
import { APP_SECRET, KEYSTONE, NOVA, PASSWORD, appCredCloud, client, fixture, keystone, setupNock, traceIo } from './helpers.js';

const USER_DATA = '#cloud-config\nruncmd:\n  - kubeadm join 10.0.0.1:6443 --token abcdef.0123456789abcdef --discovery-token-ca-cert-hash sha256:00\n';
const USER_DATA_B64 = Buffer.from(USER_DATA).toString('base64');
const SERVER_DETAIL_UD = fixture('compute/server-get.json').server['OS-EXT-SRV-ATTR:user_data'] as string;

function assertClean(traces: string[], secrets: string[]): void {
  const all = traces.join('\n');
  for (const s of secrets) assert.ok(!all.includes(s), `trace leaks ${s.slice(0, 12)}…:\n${all}`);
}

describe('openstack --debug trace redaction', () => {
  setupNock();
  afterEach(() => clearSecrets());

  it('password auth, 401 re-auth, server create and details: no password, token, user_data or adminPass', async () => {
    const tok1 = 'gAAAAABfirst-token-0123456789';
    const tok2 = 'gAAAAABsecond-token-9876543210';
    keystone(tok1);
    nock(NOVA).post('/v2.1/servers').reply(401, { error: { code: 401, message: 'The request you have made requires authentication.' } });
    keystone(tok2);
    nock(NOVA).post('/v2.1/servers').reply(202, fixture('compute/server-create-resp.json'));
    nock(NOVA).get('/v2.1/servers/f5dc173b-6804-445a-a6d8-c705dad5b5eb').reply(200, fixture('compute/server-get.json'));
    const io = traceIo(true);
    const { c } = client(undefined, { io });
    await c.compute.createServer({ name: 'k8s-node-2', flavorRef: '2', networks: 'none', user_data: USER_DATA });
    await c.compute.getServer('f5dc173b-6804-445a-a6d8-c705dad5b5eb');

    // the trace is there: method, URL, status and time of every request and response
    const lines = io.traces;
    assert.ok(lines.some((l) => l.startsWith(`--> POST ${KEYSTONE}/v3/auth/tokens `)), lines.join('\n'));
    assert.ok(lines.some((l) => /^<-- 201 POST http:\/\/keystone\.test:5000\/v3\/auth\/tokens \(\d+ ms\) .*"catalog":"identity, compute, network, volumev3, block-storage, image, load-balancer"/.test(l)));
    assert.ok(lines.some((l) => /^<-- 401 POST http:\/\/nova\.test:8774\/v2\.1\/servers \(\d+ ms\)/.test(l)));
    assert.ok(lines.some((l) => /^<-- 202 POST http:\/\/nova\.test:8774\/v2\.1\/servers \(\d+ ms\)/.test(l)));
    assert.ok(lines.some((l) => l.includes('"user_data":"<redacted>"')));
    assert.ok(lines.some((l) => l.includes('"OS-EXT-SRV-ATTR:user_data":"<redacted>"')));
    assert.ok(lines.some((l) => l.includes('"password":"<redacted>"')));
    assert.equal(lines.filter((l) => l.startsWith('-->')).length, 5);
    assert.equal(lines.filter((l) => l.startsWith('<--')).length, 5);

    assertClean(lines, [PASSWORD, tok1, tok2, USER_DATA_B64, 'kubeadm join', '0123456789abcdef', SERVER_DETAIL_UD, '6NpUwoz2QDRN']);
  });

  it('application credential: the secret never appears', async () => {
    keystone('gAAAAABappcred-token-abcdefgh', fixture('identity/token-appcred.json'));
    nock(NOVA).get('/v2.1/limits').reply(200, fixture('compute/limits.json'));
    const io = traceIo(true);
    const { c } = client(appCredCloud(), { io });
    await c.compute.getLimits();
    assert.ok(io.traces.some((l) => l.includes('"application_credential":{"id":"423f19a4ac1e4f48bbb4180756e6eb6c","secret":"<redacted>"}')), io.traces.join('\n'));
    assertClean(io.traces, [APP_SECRET, 'gAAAAABappcred-token-abcdefgh']);
  });

  it('a server echoing a secret in an error body is scrubbed from trace and error', async () => {
    const tok = 'gAAAAABechoed-token-zyxwvut';
    keystone(tok);
    nock(NOVA).get('/v2.1/limits').reply(400, { badRequest: { code: 400, message: `bad token ${tok} for password ${PASSWORD}` } });
    const io = traceIo(true);
    const { c } = client(undefined, { io });
    await assert.rejects(c.compute.getLimits(), (e: unknown) => {
      assert.ok(!(e as Error).message.includes(tok));
      assert.ok(!(e as Error).message.includes(PASSWORD));
      return true;
    });
    assertClean(io.traces, [tok, PASSWORD]);
  });

  it('no trace at all without --debug', async () => {
    keystone();
    nock(NOVA).get('/v2.1/limits').reply(200, fixture('compute/limits.json'));
    const io = traceIo(false);
    const { c } = client(undefined, { io });
    await c.compute.getLimits();
    assert.deepEqual(io.traces, []);
  });
});

describe('redactText: JSON keys in free text (error bodies, console logs)', () => {
  it('redacts every value whose key isSecretKey() would redact, and nothing else', () => {
    const text =
      '{"application_credential_secret": "ac-s3cret", "token-secret":"0123456789abcdef", "X-Auth-Token":"gAAAAAB-tok", "password":"pw",' +
      ' "OS-EXT-SRV-ATTR:user_data":"IyFjbG91ZA==", "certificateKey":"cafe", "name":"node-1", "token-id":"abcdef", "expiration":"2024-01-01T00:00:00Z"}';
    const out = redactText(text);
    for (const s of ['ac-s3cret', '0123456789abcdef', 'gAAAAAB-tok', '"pw"', 'IyFjbG91ZA==', 'cafe']) assert.ok(!out.includes(s), `${s} leaks: ${out}`);
    for (const s of ['"name":"node-1"', '"token-id":"abcdef"', '"expiration":"2024-01-01T00:00:00Z"']) assert.ok(out.includes(s), `${s} lost: ${out}`);
  });
});
