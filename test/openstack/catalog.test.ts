import assert from 'node:assert/strict';
import nock from 'nock';
import { ConfigError, OpenStackError } from '../../lib/errors.js';
import { catalogRegions, normaliseUrl, resolveEndpoint, type CatalogEntry } from '../../lib/openstack/catalog.js';
import { PROJECT, client, fixture, keystone, passwordCloud, setupNock } from './helpers.js';

const catalog = (): CatalogEntry[] => fixture('identity/token-password.json').token.catalog;
const ep = (url: string, iface = 'public', region = 'RegionOne') => ({ interface: iface, region, region_id: region, url });

describe('openstack catalog', () => {
  it('block-storage, then volumev3, then volume', () => {
    const only = (type: string, url: string): CatalogEntry[] => [{ type, endpoints: [ep(url)] }];
    const o = { region: 'RegionOne', interface: 'public' as const, projectId: 'p1' };
    assert.equal(resolveEndpoint(only('volumev3', 'http://c:8776/v3/p1'), 'block-storage', o), 'http://c:8776/v3/p1');
    assert.equal(resolveEndpoint(only('block-storage', 'http://c:8776/v3/p1'), 'block-storage', o), 'http://c:8776/v3/p1');
    assert.equal(resolveEndpoint(only('volume', 'http://c:8776/v3/p1'), 'block-storage', o), 'http://c:8776/v3/p1');
    // block-storage wins when several are present
    const both: CatalogEntry[] = [{ type: 'volumev3', endpoints: [ep('http://old:8776/v3/p1')] }, { type: 'block-storage', endpoints: [ep('http://new:8776/v3/p1')] }];
    assert.equal(resolveEndpoint(both, 'block-storage', o), 'http://new:8776/v3/p1');
    // a legacy v2 "volume" endpoint is skipped for the v3 one
    const legacy: CatalogEntry[] = [{ type: 'volume', endpoints: [ep('http://c:8776/v2/p1')] }, { type: 'volumev3', endpoints: [ep('http://c:8776/v3/p1')] }];
    assert.equal(resolveEndpoint(legacy, 'block-storage', o), 'http://c:8776/v3/p1');
    assert.equal(resolveEndpoint(only('load-balancer', 'http://o:9876/'), 'load-balancer', o), 'http://o:9876/v2');
  });

  it('adds the version the catalog URL lacks', () => {
    assert.equal(normaliseUrl('network', 'http://x:9696', 'p'), 'http://x:9696/v2.0');
    assert.equal(normaliseUrl('network', 'http://x:9696/v2.0/', 'p'), 'http://x:9696/v2.0');
    assert.equal(normaliseUrl('network', 'https://x/networking', 'p'), 'https://x/networking/v2.0');
    assert.equal(normaliseUrl('compute', 'http://x:8774/v2.1', 'p'), 'http://x:8774/v2.1');
    assert.equal(normaliseUrl('compute', 'http://x:8774/v2.1/p', 'p'), 'http://x:8774/v2.1/p');
    assert.equal(normaliseUrl('compute', 'https://x/compute', 'p'), 'https://x/compute/v2.1');
    assert.equal(normaliseUrl('block-storage', 'http://x:8776/v3/p', 'p'), 'http://x:8776/v3/p');
    assert.equal(normaliseUrl('block-storage', 'http://x:8776/v3', 'p'), 'http://x:8776/v3/p');
    assert.equal(normaliseUrl('block-storage', 'http://x:8776', 'p'), 'http://x:8776/v3/p');
    assert.equal(normaliseUrl('image', 'http://x:9292', 'p'), 'http://x:9292/v2');
    assert.equal(normaliseUrl('image', 'http://x:9292/v2/', 'p'), 'http://x:9292/v2');
    assert.equal(normaliseUrl('load-balancer', 'http://x/load-balancer', 'p'), 'http://x/load-balancer/v2');
    // Keystone left the placeholder in
    const c: CatalogEntry[] = [{ type: 'volumev3', endpoints: [ep('http://c:8776/v3/%(tenant_id)s')] }];
    assert.equal(resolveEndpoint(c, 'block-storage', { region: 'RegionOne', interface: 'public', projectId: 'p9' }), 'http://c:8776/v3/p9');
  });

  it('region and interface', () => {
    const o = { interface: 'public' as const, projectId: PROJECT };
    assert.equal(resolveEndpoint(catalog(), 'compute', { ...o, region: 'RegionTwo' }), 'http://nova-r2.test:8774/v2.1');
    assert.equal(resolveEndpoint(catalog(), 'compute', { ...o, region: 'RegionOne', interface: 'internal' }), 'http://nova-internal.test:8774/v2.1');
    assert.throws(
      () => resolveEndpoint(catalog(), 'compute', { ...o, region: 'RegionNine' }),
      (e: unknown) => e instanceof ConfigError && e.exitCode === 2 && e.message === "region 'RegionNine' has no compute endpoint; regions in the catalog: RegionOne, RegionTwo",
    );
    assert.throws(
      () => resolveEndpoint(catalog(), 'compute', { ...o, region: 'RegionTwo', interface: 'internal' }),
      (e: unknown) => e instanceof ConfigError && e.message === "no compute endpoint with interface 'internal' in region 'RegionTwo'; interfaces present: public",
    );
    assert.throws(
      () => resolveEndpoint(catalog(), 'compute', { ...o, region: undefined }),
      (e: unknown) => e instanceof ConfigError && /several regions \(RegionOne, RegionTwo\)/.test(e.message),
    );
    // one region only: no region needed
    assert.equal(resolveEndpoint(catalog(), 'network', { ...o, region: undefined }), 'http://neutron.test:9696/v2.0');
    const noLb = catalog().filter((s) => s.type !== 'load-balancer');
    assert.throws(() => resolveEndpoint(noLb, 'load-balancer', { ...o, region: 'RegionOne' }), (e: unknown) => e instanceof OpenStackError && /no load-balancer service .*types present: block-storage, compute, identity, image, network, volumev3/.test(e.message));
    assert.deepEqual(catalogRegions(catalog()), ['RegionOne', 'RegionTwo']);
  });

  describe('through the client', () => {
    setupNock();
    it('regions() and an unknown region error before any service call', async () => {
      keystone();
      const { c } = client(passwordCloud({ regionName: 'RegionX' }));
      assert.deepEqual(await c.regions(), ['RegionOne', 'RegionTwo']);
      await assert.rejects(c.compute.getLimits(), /region 'RegionX' has no compute endpoint; regions in the catalog: RegionOne, RegionTwo/);
      assert.equal(c.counts()['compute GET'], undefined);
    });
    it('interface internal picks the internal URLs', async () => {
      keystone();
      nock('http://nova-internal.test:8774').get('/v2.1/limits').reply(200, fixture('compute/limits.json'));
      nock('http://cinder-internal.test:8776').get(`/v3/${PROJECT}/limits`).reply(200, fixture('volume/limits.json'));
      const { c } = client(passwordCloud({ interface: 'internal' }));
      await c.compute.getLimits();
      await c.volume.getLimits();
    });
  });
});
