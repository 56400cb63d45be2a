import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mulberry32, SeededRng, sampleLatency } from '../sim/rng.js';
import { loadScenario, ScenarioError } from '../sim/scenario.js';
import nock from 'nock';
import { templatePath, SimCoreImpl } from '../sim/core.js';
import { startSim } from '../sim/index.js';
import { startApi, until, ids, sleep } from './openstack-helpers.js';

describe('sim core: rng and scenario', () => {
  it('mulberry32 is deterministic per seed and differs across seeds', () => {
    const a = mulberry32(1), b = mulberry32(1), c = mulberry32(2);
    const xa = [a(), a(), a()], xb = [b(), b(), b()], xc = [c(), c(), c()];
    assert.deepEqual(xa, xb);
    assert.notDeepEqual(xa, xc);
    for (const x of xa) assert.ok(x >= 0 && x < 1);
  });

  it('samples every latency distribution within its bounds', () => {
    const r = new SeededRng(3);
    assert.equal(r.latency(250), 250);
    assert.equal(r.latency({ fixed: 7 }), 7);
    for (let i = 0; i < 200; i++) {
      const u = r.latency({ uniform: [10, 20] });
      assert.ok(u >= 10 && u <= 20);
      assert.ok(r.latency({ normal: { mean: 100, stddev: 50, min: 30 } }) >= 30);
    }
    assert.equal(sampleLatency(undefined, () => 0.5), 0);
    assert.match(r.uuid(), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('loads YAML text and rejects bad scenarios with one-line errors', () => {
    const sc = loadScenario('seed: 5\ntimeScale: 0.5\nlatency:\n  serverBuild: {uniform: [1, 2]}\n');
    assert.equal(sc.seed, 5);
    assert.throws(() => loadScenario('timeScale: 0\n'), (e: Error) => e instanceof ScenarioError && /timeScale must be a number > 0/.test(e.message));
    assert.throws(() => loadScenario('latency:\n  serverBuild: {gauss: 1}\n'), /latency must be/);
    assert.throws(() => loadScenario('faults:\n  errorRates: [{service: compute, rate: 2}]\n'), /rate must be a probability/);
    assert.throws(() => loadScenario('faults:\n  outages: [{service: compute, from: 5, to: 1}]\n'), /outages\[0\]/);
    assert.throws(() => loadScenario('cluster: {name: Bad_Name}\n'), /DNS label/);
    assert.throws(() => loadScenario('/nonexistent/x.yml'), /does not exist/);
    assert.throws(() => loadScenario('a: [\n'), /not valid YAML/);
  });

  it('templates ids out of counted paths', () => {
    assert.equal(templatePath('compute', '/compute/v2.1/servers/0b5d2c72-12cc-4ba6-a8d7-3ff5cc1d8cb8/action'), '/compute/v2.1/servers/{id}/action');
    assert.equal(templatePath('volume', '/volume/v3/0c2eba2c5af04d3f9e9d0d410b371fde/volumes'), '/volume/v3/{id}/volumes');
    assert.equal(templatePath('kube', '/api/v1/namespaces/kube-system/pods/x/eviction'), '/api/v1/namespaces/{namespace}/pods/{name}/eviction');
  });
});

describe('sim core: server, /_sim and faults', function () {
  this.timeout(20000);
  before(() => nock.enableNetConnect('127.0.0.1'));

  it('counts requests per service, method and path template; reset works', async () => {
    const api = await startApi();
    try {
      await api.call('GET', '/compute/v2.1/flavors');
      await api.call('GET', '/compute/v2.1/flavors');
      await api.call('GET', '/network/v2.0/networks');
      const c = (await (await fetch(`${api.sim.baseUrl}/_sim/counters`)).json()) as { requests: Record<string, number>; byService: Record<string, number> };
      assert.equal(c.requests['compute GET /compute/v2.1/flavors'], 2);
      assert.equal(c.requests['network GET /network/v2.0/networks'], 1);
      assert.equal(c.byService.identity, 1);
      assert.equal((await fetch(`${api.sim.baseUrl}/_sim/reset-counters`, { method: 'POST' })).status, 200);
      assert.equal(api.sim.counters().total, 0);
      const st = (await (await fetch(`${api.sim.baseUrl}/_sim/state`)).json()) as { openstack: { flavors: unknown[] }; timeline: unknown[] };
      assert.ok(st.openstack.flavors.length >= 4);
      assert.ok(Array.isArray(st.timeline));
    } finally {
      await api.sim.stop();
    }
  });

  it('rate limit fault answers 429 with Retry-After in the service shape', async () => {
    const api = await startApi({ faults: { rateLimit: [{ service: 'nova', method: 'GET', path: 'flavors', rate: 1, retryAfter: 7 }] } });
    try {
      const r = await api.call('GET', '/compute/v2.1/flavors');
      assert.equal(r.status, 429);
      assert.equal(r.headers.get('retry-after'), '7');
      assert.equal(r.body.overLimit.code, 429);
      assert.equal((await api.call('GET', '/compute/v2.1/os-keypairs')).status, 200, 'path filter limits the fault');
    } finally {
      await api.sim.stop();
    }
  });

  it('error rate fault answers 500 (or the given status) at the given probability', async () => {
    const api = await startApi({ faults: { errorRates: [{ service: 'network', rate: 0.5 }, { service: 'image', rate: 1, status: 502 }] } });
    try {
      let errors = 0;
      for (let i = 0; i < 40; i++) if ((await api.call('GET', '/network/v2.0/networks')).status === 500) errors++;
      assert.ok(errors > 5 && errors < 35, `about half should fail, got ${errors}/40`);
      const r = await api.call('GET', '/image/v2/images');
      assert.equal(r.status, 502);
    } finally {
      await api.sim.stop();
    }
  });

  it('outage windows answer 503 between from and to, and can be patched at runtime', async () => {
    // the sim's clock is held still and moved by the test: the window is 30 real ms at this timeScale, which a
    // loaded machine can spend before the first request is answered (this flaked under load)
    let clockMs = Date.now();
    const api = await startApi({ timeScale: 0.01, faults: { outages: [{ service: 'compute', from: 0, to: 3 }] } }, { clock: () => clockMs });
    try {
      const r = await api.call('GET', '/compute/v2.1/flavors');
      assert.equal(r.status, 503);
      assert.match(r.text, /Service Unavailable/);
      assert.equal((await api.call('GET', '/network/v2.0/networks')).status, 200, 'other services are up');
      clockMs += 29; // 2.9 sim s: still inside the window
      assert.equal((await api.call('GET', '/compute/v2.1/flavors')).status, 503, 'until the window ends');
      clockMs += 2; // 3.1 sim s
      assert.equal((await api.call('GET', '/compute/v2.1/flavors')).status, 200, 'after the window');
      const p = await fetch(`${api.sim.baseUrl}/_sim/scenario`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ faults: { outages: [{ service: 'load-balancer', from: 0, to: 100 }] } }) });
      assert.equal(p.status, 200);
      assert.equal((await api.call('GET', '/load-balancer/v2/lbaas/loadbalancers')).status, 503);
      const bad = await fetch(`${api.sim.baseUrl}/_sim/scenario`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ faults: { errorRates: [{ service: 'x', rate: 9 }] } }) });
      assert.equal(bad.status, 400);
    } finally {
      await api.sim.stop();
    }
  });

  it('request latency per service is applied (scaled by timeScale)', async () => {
    const api = await startApi({ timeScale: 1, latency: { request: { compute: { fixed: 500 } } } });
    try {
      // compared by order, not by a wall-time bound on the fast one (a loaded machine can take 100 ms for any request)
      const t = Date.now();
      const done: string[] = [];
      await Promise.all([
        api.call('GET', '/compute/v2.1/flavors').then(() => done.push('compute')),
        api.call('GET', '/network/v2.0/networks').then(() => done.push('network')),
      ]);
      assert.ok(Date.now() - t >= 490, 'compute is slowed');
      assert.deepEqual(done, ['network', 'compute'], 'network is not: it answers while compute waits out its latency');
    } finally {
      await api.sim.stop();
    }
  });

  it('same seed gives the same ids, latencies, faults and outcomes per resource, whatever the wall-clock interleaving; another seed differs', async function () {
    this.timeout(60000);
    /**
     * One run: a fixed request sequence (servers, one doomed by a serverError fault, volumes, a faulted service).
     * `noisy` perturbs the run the way a loaded machine does: kube controllers drawing randomness on their own
     * timers (a Deployment being scaled) and real-time pauses between requests. Neither may change the result.
     */
    const run = async (seed: number, noisy: boolean): Promise<unknown> => {
      const api = await startApi({
        seed,
        faults: { serverError: [{ name: '^bad-', message: 'No valid host was found.' }] },
        latency: { serverBuild: { uniform: [1000, 9000] }, volumeCreate: { uniform: [500, 3000] } },
      });
      const noise = async (i: number): Promise<void> => {
        if (!noisy) return;
        const d = await fetch(`${api.sim.baseUrl}/apis/apps/v1/namespaces/default/deployments`, {
          method: 'POST', headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: `noise-${i}` }, spec: { replicas: 3, selector: { matchLabels: { app: `noise-${i}` } }, template: { metadata: { labels: { app: `noise-${i}` } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } } } }),
        });
        await d.text();
        await sleep(5 + 7 * i);
      };
      try {
        const { net, image } = await ids(api);
        const names = ['a-1', 'bad-2', 'a-3', 'a-4'];
        for (const [i, name] of names.entries()) {
          await noise(i);
          const r = await api.call('POST', '/compute/v2.1/servers', { server: { name, flavorRef: '2', imageRef: image, networks: [{ uuid: net }] } });
          assert.equal(r.status, 202);
        }
        for (const name of ['v-1', 'v-2']) {
          await noise(9);
          assert.equal((await api.call('POST', `/volume/v3/${api.sim.projectId}/volumes`, { volume: { name, size: 1 } })).status, 202);
        }
        api.sim.core.patchScenario({ faults: { errorRates: [{ service: 'image', rate: 0.5, status: 502 }] } });
        const imageStatuses: number[] = [];
        for (let i = 0; i < 12; i++) imageStatuses.push((await api.call('GET', '/image/v2/images')).status);
        await until(() => api.sim.core.timeline.filter((e) => e.type === 'server.active' || e.type === 'server.error').length === names.length, 10000);
        await until(() => api.sim.core.timeline.filter((e) => e.type === 'volume.available').length === 2, 10000);
        // per resource, in a stable order: its events (type + sampled values) and what the API says about it
        const byResource: Record<string, unknown[]> = {};
        for (const e of api.sim.core.timeline.filter((t) => /^(server|volume)\./.test(t.type))) (byResource[e.subject] ??= []).push({ type: e.type, detail: e.detail });
        const servers: any[] = [];
        for (const x of (await api.call('GET', '/compute/v2.1/servers')).body.servers) servers.push((await api.call('GET', `/compute/v2.1/servers/${x.id}`)).body.server);
        const vols = (await api.call('GET', `/volume/v3/${api.sim.projectId}/volumes/detail`)).body.volumes as any[];
        const resources = Object.keys(byResource).sort().map((k) => {
          const sv = servers.find((x) => x.name === k);
          const vv = vols.find((x) => x.name === k);
          return {
            name: k, events: byResource[k],
            ...(sv ? { id: sv.id, status: sv.status, fault: sv.fault?.message ?? null, addresses: sv.addresses } : {}),
            ...(vv ? { id: vv.id, status: vv.status } : {}),
          };
        });
        return { net, resources, imageStatuses };
      } finally {
        await api.sim.stop();
      }
    };
    const a: any = await run(11, false);
    const b: any = await run(11, true);
    const c: any = await run(12, false);
    assert.equal(a.resources.length, 6, JSON.stringify(a.resources));
    assert.ok(a.resources.some((r: any) => r.name === 'bad-2' && r.status === 'ERROR' && r.fault === 'No valid host was found.'));
    assert.ok(a.imageStatuses.includes(502) && a.imageStatuses.includes(200), 'the error-rate fault fires sometimes, not always');
    assert.deepEqual(b, a, 'same seed, same run: kube timers and real-time pauses change nothing');
    // another seed: other ids, other sampled latencies
    assert.notEqual(c.net, a.net);
    const lat = (x: any) => x.resources.map((r: any) => r.events.find((e: any) => e.type === 'server.create' || e.type === 'volume.create')?.detail);
    assert.notDeepEqual(lat(c), lat(a));
  });

  it('answers 503 "kube sim not loaded" on /api and upgrades when no kube part is wired', async () => {
    const core = new SimCoreImpl({});
    await core.listen(0);
    try {
      const r = await fetch(`${core.baseUrl}/api/v1/nodes`);
      assert.equal(r.status, 503);
      assert.match(await r.text(), /kube sim not loaded/);
    } finally {
      await core.stop();
    }
  });

  it('kube faults apply to kube paths, and /_sim is never faulted', async () => {
    const sim = await startSim({ scenario: { faults: { errorRates: [{ service: 'kube', rate: 1 }] } } });
    try {
      const r = await fetch(`${sim.baseUrl}/_sim/counters`);
      assert.equal(r.status, 200);
      const k = await fetch(`${sim.baseUrl}/api/v1/nodes`);
      assert.equal(k.status, 500, 'kube faults apply to kube paths');
      await k.text();
    } finally {
      await sim.stop();
    }
  });

  it('cli prints its base URL as JSON and stops on SIGTERM', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/sim/cli.ts', '--scenario', 'fixtures/sim/cluster-1m1n.yml'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let buf = '';
        child.stdout.on('data', (d: Buffer) => { buf += d.toString(); if (buf.includes('\n')) resolve(buf.split('\n')[0]!); });
        child.on('exit', (code) => reject(new Error(`cli exited ${code}`)));
      });
      const { baseUrl } = JSON.parse(line) as { baseUrl: string };
      const r = await fetch(`${baseUrl}/identity/v3`);
      assert.equal(r.status, 200);
      await r.text();
    } finally {
      const exited = new Promise((r) => child.on('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(5000)]);
    }
  });
});
