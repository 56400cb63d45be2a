/**
 * Issue 12 points 6 and 11: an endpoint that accepts TCP and never answers. Once a Keystone like that gave
 * 302 s of silence and a Kubernetes API server 25 minutes (and the first Ctrl-C did not stop it); the exit
 * code was 1 although nothing had changed. Here kadd runs as a child process against a local net.Server that
 * accepts connections and never writes a byte; the rest of the cloud is the simulator.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { KUBE_FIRST_BYTE_TIMEOUT_MS, KUBE_REQUEST_TIMEOUT_MS } from '../../lib/kube/client.js';
import { OPENSTACK_FIRST_BYTE_TIMEOUT_MS } from '../../lib/openstack/http.js';
import { FAST_FLAGS, kubeconfigFor, startKaddSim, type KaddSim } from '../helpers/kadd-sim.js';

/** A TCP server that accepts every connection and never answers. */
async function silentServer(): Promise<{ url: string; accepted(): number; close(): Promise<void> }> {
  const sockets: Socket[] = [];
  const srv: Server = createServer((s) => {
    sockets.push(s);
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    accepted: () => sockets.length,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        srv.close(() => r());
      }),
  };
}

describe('endpoints that accept TCP and never answer (child process)', function () {
  this.timeout(60_000);
  let h: KaddSim | undefined;
  let silent: Awaited<ReturnType<typeof silentServer>> | undefined;
  afterEach(async () => {
    await h?.stop();
    await silent?.close();
    h = undefined;
    silent = undefined;
  });

  it('the default deadlines are well below the 60 s request timeout', () => {
    assert.equal(KUBE_REQUEST_TIMEOUT_MS, 60_000);
    assert.ok(KUBE_FIRST_BYTE_TIMEOUT_MS <= 20_000, `kube first byte ${KUBE_FIRST_BYTE_TIMEOUT_MS}`);
    assert.ok(OPENSTACK_FIRST_BYTE_TIMEOUT_MS <= 20_000, `openstack first byte ${OPENSTACK_FIRST_BYTE_TIMEOUT_MS}`);
  });

  it('a silent Keystone: says where it waits, shows each retry, gives up in seconds, exit 2 (nothing changed)', async () => {
    h = await startKaddSim();
    silent = await silentServer();
    h.sim.resetCounters();
    const t0 = Date.now();
    const r = await h.spawnKadd(['add', ...FAST_FLAGS, '--request-timeout', '1s', '--os-auth-url', `${silent.url}/v3`, h.cfgPath]).done;
    const ms = Date.now() - t0;
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`authenticating at ${silent.url}/v3 as user 'kadd'`));
    assert.match(r.stderr, /identity POST .*: no answer within 1 s; retry 1 of 2/);
    assert.match(r.stderr, /identity POST .*: no answer within 1 s; retry 2 of 2/);
    assert.match(r.stderr, /^ {2}nothing was changed$/m);
    assert.doesNotMatch(r.stderr, /retry 3/, 'a stalled endpoint is retried twice, not more');
    assert.ok(silent.accepted() >= 3, 'three attempts reached the silent server');
    assert.ok(ms < 20_000, `took ${ms} ms`);
    assert.deepEqual(h.mutations(), {});
  });

  it('a silent Kubernetes API: says where it waits, retries reads visibly, exit 2, nothing created', async () => {
    h = await startKaddSim();
    silent = await silentServer();
    const kc = join(h.dir, 'silent-kubeconfig');
    writeFileSync(kc, kubeconfigFor(silent.url));
    h.sim.resetCounters();
    const t0 = Date.now();
    const r = await h.spawnKadd(['add', ...FAST_FLAGS, '--request-timeout', '1s', '--kubeconfig', kc, '--amount', '2', h.cfgPath]).done;
    const ms = Date.now() - t0;
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`checking the Kubernetes API at ${silent.url}`));
    assert.match(r.stderr, /Kubernetes API .*: no answer within 1 s; retry 1 of 2/);
    assert.ok(ms < 40_000, `took ${ms} ms`);
    assert.deepEqual(h.mutations(), {}, 'nothing reached OpenStack or Kubernetes that changes anything');
    assert.deepEqual(h.serverNames(), ['demo-node-1']);
  });

  it('a silent Kubernetes API and a long deadline: the first Ctrl-C stops at once (exit 130)', async () => {
    h = await startKaddSim();
    silent = await silentServer();
    const kc = join(h.dir, 'silent-kubeconfig');
    writeFileSync(kc, kubeconfigFor(silent.url));
    const c = h.spawnKadd(['add', ...FAST_FLAGS, '--request-timeout', '60s', '--kubeconfig', kc, h.cfgPath]);
    await c.waitFor(/checking the Kubernetes API/);
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    c.proc.kill('SIGINT');
    const r = await c.done;
    const ms = Date.now() - t0;
    assert.equal(r.code, 130, r.stderr);
    assert.ok(ms < 5_000, `stopped ${ms} ms after Ctrl-C`);
    assert.deepEqual(h.mutations(), {});
  });
});
