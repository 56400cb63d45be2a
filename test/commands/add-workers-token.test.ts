/**
 * Token expiry during a slow boot: the bootstrap token lives 300 s, the servers take 900 s to build.
 * kadd must keep extending the token while nodes are still building, or the kubelets' joins fail with
 * kubeadm's "token ... is invalid for this cluster or it has expired".
 * The simulator runs at timeScale 0.004 and kadd runs on the simulator's clock, so 900 s take ~4 s.
 */
import assert from 'node:assert/strict';
import { simClock, startKaddSim, type KaddSim } from '../helpers/kadd-sim.js';

describe('add --role node: token expiry during a slow boot', function () {
  this.timeout(60_000);
  let h: KaddSim | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  it('keeps the token alive while servers build for 3x its TTL; the nodes still join', async () => {
    h = await startKaddSim({
      scenario: { timeScale: 0.004, latency: { serverBuild: { fixed: 900_000 }, nodeRegister: { fixed: 20_000 }, nodeReady: { fixed: 10_000 } } },
    });
    const r = await h.kadd(
      ['add', '-v', '--amount', '2', '--token-ttl', '300', '--poll-interval', '5000', '--boot-timeout', '3600', '--timeout', '600', h.cfgPath],
      { clock: simClock(h) },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.ok((r.stderr.match(/bootstrap token [a-z0-9]{6} extended to/g) ?? []).length >= 2, 'the token was extended several times during the build');
    assert.equal(h.nodes().get('demo-node-2'), true);
    assert.equal(h.nodes().get('demo-node-3'), true);
    assert.deepEqual(h.bootstrapTokens(), [], 'the token is deleted at the end');
  });

  it('control: a kadd that does not see the time pass never extends the token, and the join fails on it', async () => {
    // kadd on the real clock while the simulator runs 250x faster: kadd believes only seconds passed and
    // never extends the token; the simulator checks the expiration with its own clock at join time
    h = await startKaddSim({
      scenario: { timeScale: 0.004, latency: { serverBuild: { fixed: 900_000 }, nodeRegister: { fixed: 20_000 }, nodeReady: { fixed: 10_000 } } },
    });
    const r = await h.kadd(['add', '--amount', '1', '--token-ttl', '300', '--poll-interval', '20', '--boot-timeout', '60', '--timeout', '3', h.cfgPath]);
    assert.equal(r.code, 1, r.stderr);
    assert.doesNotMatch(r.stderr, /extended to/);
    assert.match(r.stderr, /kubeadm rejected the bootstrap token/);
    assert.match(r.stderr, /could not find a JWS signature in the cluster-info ConfigMap for token ID|token id "[a-z0-9]{6}" is invalid for this cluster or it has expired/);
  });
});
