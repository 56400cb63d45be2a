/** TLS through an undici Agent passed to global fetch: custom CA, --insecure, missing files. Uses a loopback HTTPS server. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import nock from 'nock';
import { ConfigError, OpenStackError } from '../../lib/errors.js';
import { client, fixture, passwordCloud } from './helpers.js';

describe('openstack TLS (loopback HTTPS)', function () {
  let dir = '';
  let srv: https.Server | undefined;
  let base = '';
  let hits = 0;

  before(async function () {
    try {
      dir = mkdtempSync(path.join(tmpdir(), 'kadd-tls-'));
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'ca.pem'),
        '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    } catch {
      this.skip(); // no openssl binary: the TLS path cannot be exercised here
    }
    nock.disableNetConnect();
    nock.enableNetConnect('127.0.0.1');
    srv = https.createServer({ key: readFileSync(path.join(dir, 'key.pem')), cert: readFileSync(path.join(dir, 'ca.pem')) }, (req, res) => {
      hits++;
      if (req.url === '/v3/auth/tokens') {
        const body = fixture('identity/token-password.json');
        for (const s of body.token.catalog) for (const e of s.endpoints) e.url = e.url.replace(/^http:\/\/[^/]+/, base);
        res.writeHead(201, { 'Content-Type': 'application/json', 'X-Subject-Token': 'tok-tls-123456' });
        res.end(JSON.stringify(body));
      } else {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(fixture('compute/limits.json')));
      }
    });
    await new Promise<void>((r) => srv!.listen(0, '127.0.0.1', () => r()));
    base = `https://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  });

  after(() => {
    srv?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    nock.enableNetConnect();
  });

  it('custom CA: verified connection', async () => {
    const { c } = client(passwordCloud({ authUrl: `${base}/v3`, cacert: path.join(dir, 'ca.pem') }));
    assert.equal((await c.compute.getLimits()).maxTotalCores, 20);
  });

  it('without the CA: one attempt, a TLS error that names the fix', async () => {
    hits = 0;
    const { c } = client(passwordCloud({ authUrl: `${base}/v3` }));
    await assert.rejects(c.projectId(), (e: unknown) => e instanceof OpenStackError && /TLS verification failed/.test(e.message) && /--os-cacert/.test(e.hint ?? ''));
    assert.equal(c.counts()['identity POST'], 1);
    assert.equal(hits, 0);
  });

  it('--insecure (verify false) connects without the CA', async () => {
    const { c } = client(passwordCloud({ authUrl: `${base}/v3`, verify: false }));
    assert.equal((await c.compute.getLimits()).totalCoresUsed, 2);
  });

  it('an unreadable CA file: ConfigError naming it', async () => {
    const { c } = client(passwordCloud({ authUrl: `${base}/v3`, cacert: path.join(dir, 'missing.pem') }));
    await assert.rejects(c.projectId(), (e: unknown) => e instanceof ConfigError && e.message.includes('missing.pem') && /ENOENT/.test(e.message));
  });
});
