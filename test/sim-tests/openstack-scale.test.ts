import assert from 'node:assert/strict';
import { startApi, until, ids } from './openstack-helpers.js';

describe('sim openstack: scale', function () {
  this.timeout(120000);

  it('holds 500 servers created and polled, lists stay linear, RSS < 300 MB', async () => {
    const api = await startApi({
      timeScale: 0.001,
      faults: { quota: { instances: 1000, cores: 4000, ram: 8192000, volumes: 1000, gigabytes: 100000, ports: 2000 } },
    });
    try {
      const x = await ids(api);
      const N = 500;
      const created: string[] = [];
      for (let i = 0; i < N; i += 25) {
        const batch = await Promise.all(Array.from({ length: Math.min(25, N - i) }, (_, j) =>
          api.call('POST', '/compute/v2.1/servers', { server: { name: `big-node-${i + j + 1}`, flavorRef: '0', imageRef: x.cirros, networks: [{ uuid: x.net }], user_data: Buffer.from('#cloud-config\n' + 'x'.repeat(2000)).toString('base64') } })));
        for (const r of batch) {
          assert.equal(r.status, 202, r.text);
          created.push(r.body.server.id);
        }
      }
      // poll every server once until all are ACTIVE (as a client would)
      await until(async () => {
        const list = (await api.call('GET', '/compute/v2.1/servers/detail?status=ACTIVE&name=^big-node-')).body.servers;
        return list.length === N;
      }, 60000, 50);
      for (let i = 0; i < N; i += 50) {
        const rs = await Promise.all(created.slice(i, i + 50).map((id) => api.call('GET', `/compute/v2.1/servers/${id}`)));
        for (const r of rs) assert.equal(r.body.server.status, 'ACTIVE');
      }
      const t = Date.now();
      const all = await api.call('GET', '/compute/v2.1/servers/detail');
      assert.equal(all.body.servers.length, N);
      assert.ok(Date.now() - t < 2000, `full detail list took ${Date.now() - t} ms`);
      const ports = await api.call('GET', `/network/v2.0/ports?network_id=${x.net}`);
      assert.equal(ports.body.ports.length, N);
      const rss = process.memoryUsage().rss / 1048576;
      assert.ok(rss < 300, `RSS ${rss.toFixed(0)} MB`);
    } finally {
      await api.sim.stop();
    }
  });
});
