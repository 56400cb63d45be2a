/**
 * `kadd add --role node --no-wait`: the OpenStack requests of one run, counted on the simulator (issue 14).
 * Fixed: the authentication and one of each preflight lookup, whatever N; no extension list (the port
 * create's answer says whether Neutron kept the tags), no planned-port lookup when nothing of an earlier run
 * is left; per node: port, volume and server create, plus the tag PUT only where Neutron dropped the tags
 * (Zed); polls: one list call per tick for the whole batch, so their number does not grow with N.
 */
import assert from 'node:assert/strict';
import { FAST_FLAGS, startKaddSim, type KaddSim } from '../helpers/kadd-sim.js';
import { portsToAdopt } from '../../lib/ops/add-workers-preflight.js';

/** One request each per run (the simulator's cluster file names a storage class: the volume type list). */
const ONCE = [
  'identity POST /identity/v3/auth/tokens',
  'compute GET /compute/v2.1/flavors/{id}', // GET /flavors/detail
  'compute GET /compute/v2.1/limits',
  'compute GET /compute/v2.1/os-availability-zone',
  'compute GET /compute/v2.1/os-keypairs/{id}',
  'image GET /image/v2/images',
  'load-balancer GET /load-balancer/v2/lbaas/loadbalancers', // ownership: the kubeconfig's host is the VIP
  'network GET /network/v2.0/networks',
  'network GET /network/v2.0/subnets',
  'network GET /network/v2.0/routers',
  'network GET /network/v2.0/security-groups',
  'network GET /network/v2.0/quotas/{id}/details',
  'volume GET /volume/v3/{id}/limits',
  'volume GET /volume/v3/{id}/types',
];
const SERVER_LIST = 'compute GET /compute/v2.1/servers/detail';
const VOLUME_LIST = 'volume GET /volume/v3/{id}/volumes/detail';

describe('kadd add --role node: requests per run (simulator)', function () {
  this.timeout(60_000);
  let h: KaddSim | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  for (const tagCreation of [false, true]) {
    for (const n of [1, 3]) {
      it(`N=${n}, Neutron ${tagCreation ? 'with' : 'without'} tag-creation: ${ONCE.length + 2} lookups + <= 4 polls + ${tagCreation ? 3 : 4} per node`, async () => {
        h = await startKaddSim({ nodes: 1, ...(tagCreation ? { scenario: { network: { extensions: ['tag-creation'] } } } : {}) });
        h.sim.resetCounters();
        // a poll interval the simulated builds beat (volume 40-80 ms, server 150-250 ms)
        const r = await h.kadd(['add', ...FAST_FLAGS.map((f) => (f === '25' ? '1000' : f)), '--no-wait', '--amount', String(n), h.cfgPath]);
        assert.equal(r.code, 0, r.stderr);
        const c = Object.fromEntries(Object.entries(h.counters()).filter(([k]) => !k.startsWith('kube ')));
        const seen = JSON.stringify(c, null, 1);
        for (const k of ONCE) assert.equal(c[k], 1, `${k} once\n${seen}`);
        assert.equal(c['network GET /network/v2.0/extensions'], undefined, `no extension list\n${seen}`);
        assert.equal(c['network GET /network/v2.0/ports'], undefined, `no planned-port lookup: nothing of an earlier run is left\n${seen}`);
        assert.equal(c['network POST /network/v2.0/ports'], n);
        assert.equal(c['volume POST /volume/v3/{id}/volumes'], n);
        assert.equal(c['compute POST /compute/v2.1/servers'], n);
        assert.equal(c['network PUT /network/v2.0/ports/{id}/tags'] ?? 0, tagCreation ? 0 : n, 'the tag PUT only where the create dropped the tags');
        // the preflight's own listing + the polls (one list per tick for the whole batch)
        assert.ok(c[SERVER_LIST]! >= 2 && c[SERVER_LIST]! <= 3, `servers listed ${c[SERVER_LIST]} times\n${seen}`);
        assert.ok(c[VOLUME_LIST]! >= 2 && c[VOLUME_LIST]! <= 3, `volumes listed ${c[VOLUME_LIST]} times\n${seen}`);
        const total = Object.values(c).reduce((a, b) => a + b, 0);
        const perNode = tagCreation ? 3 : 4;
        assert.ok(total <= ONCE.length + 6 + perNode * n, `${total} requests > ${ONCE.length + 6} + ${perNode}N\n${seen}`);
        assert.equal(Object.keys(c).length, ONCE.length + 5 + (tagCreation ? 0 : 1), `no other request\n${seen}`);
        // the ports carry kadd's tags either way
        const ports = [...(h.sim.openstack.store.ports.values() as Iterable<{ name: string; tags: string[] }>)].filter((p) => /^demo-node-[0-9]+-port-0$/.test(p.name) && p.name !== 'demo-node-1-port-0');
        assert.equal(ports.length, n);
        for (const p of ports) assert.deepEqual([...p.tags].sort(), ['kadd-cluster=demo', 'kadd-role=node'], p.name);
      });
    }
  }
});

describe('portsToAdopt: the planned ports are looked up only when one may exist', () => {
  const config = { clusterName: 'k' } as never;
  it('nothing left of an earlier run: no lookup', () => {
    assert.deepEqual(portsToAdopt({ config, amount: 2 }, ['k-node-1', 'k-node-3'], ['k-node-1-root', 'k-node-3-root']), []);
  });
  it('a boot volume of a planned name is left (the journal is gone): every planned port is looked up', () => {
    assert.deepEqual(portsToAdopt({ config, amount: 2 }, ['k-node-1'], ['k-node-1-root', 'k-node-3-root']), ['k-node-2-port-0', 'k-node-3-port-0']);
  });
  it('a resume (the journal names the nodes): looked up', () => {
    assert.deepEqual(portsToAdopt({ config, amount: 1, resumeNames: ['k-node-2'] }, ['k-node-1'], []), ['k-node-2-port-0']);
  });
});
