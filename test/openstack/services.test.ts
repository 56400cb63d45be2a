import assert from 'node:assert/strict';
import nock from 'nock';
import { OpenStackError, PreflightError } from '../../lib/errors.js';
import { COMPUTE_MICROVERSION, VOLUME_MICROVERSION } from '../../lib/openstack/client.js';
import { CINDER, GLANCE, NEUTRON, NOVA, OCTAVIA, PROJECT, client, fixture, keystone, setupNock } from './helpers.js';

const SERVER = '569f39f9-7c76-42a1-9c2d-8394e2638a6d';
const IMAGE = '1bea47ed-f6a9-463b-b423-14b9cca9ad27';

function server(id: string, name: string) {
  const s = fixture('compute/server-get.json').server;
  return { ...s, id, name };
}

describe('openstack typed calls', () => {
  setupNock();
  beforeEach(() => keystone());

  describe('compute', () => {
    it('sends the compute microversion headers', async () => {
      nock(NOVA, { reqheaders: { 'openstack-api-version': `compute ${COMPUTE_MICROVERSION}`, 'x-openstack-nova-api-version': COMPUTE_MICROVERSION } })
        .get('/v2.1/os-availability-zone')
        .reply(200, fixture('compute/availability-zones.json'));
      const { c } = client();
      const az = await c.compute.listAvailabilityZones();
      assert.deepEqual(az.map((z) => [z.zoneName, z.zoneState.available]), [['nova', true], ['az2', false]]);
      assert.equal(COMPUTE_MICROVERSION, '2.67');
    });

    it('listServers: filters and all 3 pages (next links followed on our own endpoint)', async () => {
      const q = { name: '^k8s-node-\\d+$', status: 'ACTIVE', tags: 'kadd-cluster=k8s,kadd-role=node' };
      nock(NOVA).get('/v2.1/servers/detail').query(q).reply(200, {
        servers: [server('s1', 'k8s-node-1')],
        // links carry the service's internal host (proxy): only the query matters
        servers_links: [{ rel: 'next', href: `http://controller:8774/v2.1/servers/detail?${new URLSearchParams({ ...q, marker: 's1' })}` }],
      });
      nock(NOVA).get('/v2.1/servers/detail').query({ ...q, marker: 's1' }).reply(200, {
        servers: [server('s2', 'k8s-node-2')],
        servers_links: [{ rel: 'next', href: `http://controller:8774/v2.1/servers/detail?${new URLSearchParams({ ...q, marker: 's2' })}` }],
      });
      nock(NOVA).get('/v2.1/servers/detail').query({ ...q, marker: 's2' }).reply(200, { servers: [server('s3', 'k8s-node-3')] });
      const { c } = client();
      const list = await c.compute.listServers({ name: '^k8s-node-\\d+$', status: 'ACTIVE', tags: ['kadd-cluster=k8s', 'kadd-role=node'] });
      assert.deepEqual(list.map((s) => s.id), ['s1', 's2', 's3']);
      assert.equal(c.counts()['compute GET'], 3);
    });

    it('pagination stops on a repeated next link', async () => {
      const page = { servers: [server('s1', 'a')], servers_links: [{ rel: 'next', href: `${NOVA}/v2.1/servers/detail?marker=s1` }] };
      nock(NOVA).get('/v2.1/servers/detail').reply(200, page);
      nock(NOVA).get('/v2.1/servers/detail').query({ marker: 's1' }).reply(200, page);
      const { c } = client();
      await assert.rejects(c.compute.listServers(), /pagination loops/);
    });

    it('createServer: BDMv2, AZ, key, port, metadata, tags, base64 user_data, scheduler hints beside "server"', async () => {
      let body: any;
      nock(NOVA)
        .post('/v2.1/servers', (b) => ((body = b), true))
        .reply(202, fixture('compute/server-create-resp.json'));
      const { c } = client();
      const r = await c.compute.createServer({
        name: 'k8s-node-2',
        flavorRef: '2',
        availability_zone: 'nova',
        key_name: 'kadd-key',
        networks: [{ port: '65c0ee9f-d634-4522-8954-51021b570b0d' }],
        block_device_mapping_v2: [{ boot_index: 0, uuid: 'vol-1', source_type: 'volume', destination_type: 'volume', delete_on_termination: true }],
        user_data: '#cloud-config\nruncmd: [kubeadm join]\n',
        metadata: { 'kadd-cluster': 'k8s', 'kadd-role': 'node' },
        tags: ['kadd-cluster=k8s', 'kadd-role=node'],
        security_groups: [{ name: 'k8s-nodes' }],
        'OS-SCH-HNT:scheduler_hints': { group: 'sg-1' },
      });
      assert.equal(r.id, 'f5dc173b-6804-445a-a6d8-c705dad5b5eb');
      assert.deepEqual(body, {
        server: {
          name: 'k8s-node-2',
          flavorRef: '2',
          availability_zone: 'nova',
          key_name: 'kadd-key',
          networks: [{ port: '65c0ee9f-d634-4522-8954-51021b570b0d' }],
          block_device_mapping_v2: [{ boot_index: 0, uuid: 'vol-1', source_type: 'volume', destination_type: 'volume', delete_on_termination: true }],
          user_data: Buffer.from('#cloud-config\nruncmd: [kubeadm join]\n').toString('base64'),
          metadata: { 'kadd-cluster': 'k8s', 'kadd-role': 'node' },
          tags: ['kadd-cluster=k8s', 'kadd-role=node'],
          security_groups: [{ name: 'k8s-nodes' }],
        },
        'OS-SCH-HNT:scheduler_hints': { group: 'sg-1' },
      });
    });

    it('user_data over 65535 bytes after base64: PreflightError, no request', async () => {
      nock.cleanAll(); // not even a token is needed
      const { c } = client();
      await assert.rejects(
        c.compute.createServer({ name: 'x', flavorRef: '1', networks: 'none', user_data: 'x'.repeat(50_000) }),
        (e: unknown) => e instanceof PreflightError && e.exitCode === 2 && /66668 bytes after base64/.test(e.message),
      );
      assert.deepEqual(c.counts(), {});
    });

    it('getServer: 404 -> null; deleteServer: 404 is fine; other errors surface', async () => {
      nock(NOVA).get(`/v2.1/servers/${SERVER}`).reply(404, fixture('compute/error-itemnotfound.json'));
      nock(NOVA).delete(`/v2.1/servers/${SERVER}`).reply(404, fixture('compute/error-itemnotfound.json'));
      nock(NOVA).delete('/v2.1/servers/s2').reply(204);
      nock(NOVA).delete('/v2.1/servers/s3').reply(403, fixture('compute/error-forbidden-quota.json'));
      const { c } = client();
      assert.equal(await c.compute.getServer(SERVER), null);
      await c.compute.deleteServer(SERVER);
      await c.compute.deleteServer('s2');
      await assert.rejects(c.compute.deleteServer('s3'), (e: unknown) => e instanceof OpenStackError && e.status === 403);
    });

    it('console output, flavors, keypair, limits', async () => {
      nock(NOVA).post(`/v2.1/servers/${SERVER}/action`, { 'os-getConsoleOutput': { length: 50 } }).reply(200, fixture('compute/console-output.json'));
      nock(NOVA).get('/v2.1/flavors/detail').reply(200, fixture('compute/flavors-detail.json'));
      nock(NOVA).get('/v2.1/os-keypairs/kadd-key').reply(200, fixture('compute/keypair.json'));
      nock(NOVA).get('/v2.1/os-keypairs/nope').reply(404, { itemNotFound: { code: 404, message: 'Keypair nope not found for user x' } });
      nock(NOVA).get('/v2.1/limits').reply(200, fixture('compute/limits.json'));
      const { c } = client();
      assert.match(await c.compute.getConsoleOutput(SERVER, 50), /Cloud-init v\. 22\.4 finished/);
      assert.deepEqual((await c.compute.listFlavors()).map((f) => f.name), ['m1.tiny', 'm1.small']);
      assert.equal((await c.compute.getKeypair('kadd-key'))!.fingerprint, '44:fe:29:6e:23:14:b9:53:5b:65:82:58:1c:fe:5a:c3');
      assert.equal(await c.compute.getKeypair('nope'), null);
      const l = await c.compute.getLimits();
      assert.deepEqual([l.maxTotalCores, l.totalCoresUsed, l.maxTotalRAMSize, l.totalRAMUsed, l.maxTotalInstances, l.totalInstancesUsed], [20, 2, 51200, 4096, 10, 2]);
    });
    describe('findServerGroup', () => {
      const SG = '616fb98f-46ca-475e-917e-2563e5a8cd19';
      const group = (id: string, name: string, extra: Record<string, unknown> = {}) => ({ ...fixture('compute/server-groups-list.json').server_groups[0], id, name, ...extra });

      it('by name: 2.64+ body (policy + rules), pages by offset until a short page', async () => {
        nock(NOVA).get('/v2.1/os-server-groups').reply(200, {
          server_groups: [fixture('compute/server-groups-list.json').server_groups[0], group('g2', 'other'), group('g3', 'third')],
        });
        nock(NOVA).get('/v2.1/os-server-groups').query({ offset: '3' }).reply(200, { server_groups: [group('g4', 'k8s-masters', { policy: 'soft-anti-affinity', rules: {}, members: ['s1', 's2'] })] });
        const { c } = client();
        const g = await c.compute.findServerGroup('k8s-masters');
        assert.deepEqual({ id: g!.id, policy: g!.policy, members: g!.members }, { id: 'g4', policy: 'soft-anti-affinity', members: ['s1', 's2'] });
        assert.equal(c.counts()['compute GET'], 2);
      });

      it('by name: older body (policies list), an empty second page ends the listing; no match -> null', async () => {
        nock(NOVA).get('/v2.1/os-server-groups').twice().reply(200, fixture('compute/server-groups-list-v2.13.json'));
        nock(NOVA).get('/v2.1/os-server-groups').query({ offset: '1' }).twice().reply(200, { server_groups: [] });
        const { c } = client();
        const g = await c.compute.findServerGroup('k8s-nodes');
        assert.deepEqual(g!.policies, ['anti-affinity']);
        assert.equal(g!.policy, undefined);
        assert.equal(await c.compute.findServerGroup('k8s-node'), null, 'exact names only');
      });

      it('by id: GET /os-server-groups/{id}; a 404 falls back to the name listing', async () => {
        nock(NOVA).get('/v2.1/os-server-groups/5bbcc3c4-1da2-4437-a48a-66f15b1b13f9').reply(200, fixture('compute/server-group-get.json'));
        nock(NOVA).get(`/v2.1/os-server-groups/${SG}`).reply(404, { itemNotFound: { code: 404, message: `Instance group ${SG} could not be found.` } });
        nock(NOVA).get('/v2.1/os-server-groups').reply(200, { server_groups: [] });
        const { c } = client();
        assert.equal((await c.compute.findServerGroup('5bbcc3c4-1da2-4437-a48a-66f15b1b13f9'))!.name, 'k8s-masters');
        assert.equal(await c.compute.findServerGroup(SG), null);
      });

      it('two groups with the name: an error naming both ids, the fix in the message', async () => {
        nock(NOVA).get('/v2.1/os-server-groups').reply(200, { server_groups: [group('g1', 'k8s'), group('g2', 'k8s', { policy: 'affinity', members: ['s1'] })] });
        nock(NOVA).get('/v2.1/os-server-groups').query({ offset: '2' }).reply(200, { server_groups: [] });
        const { c } = client();
        await assert.rejects(c.compute.findServerGroup('k8s'), (e: unknown) =>
          e instanceof OpenStackError && e.code === 'E_OPENSTACK_AMBIGUOUS' && /2 server groups are named 'k8s' \(g1 anti-affinity, 0 members; g2 affinity, 1 members\); put the id/.test(e.message));
      });

      it('a server that ignores offset (same page again) does not loop', async () => {
        nock(NOVA).get('/v2.1/os-server-groups').reply(200, { server_groups: [group('g1', 'a')] });
        nock(NOVA).get('/v2.1/os-server-groups').query({ offset: '1' }).reply(200, { server_groups: [group('g1', 'a')] });
        const { c } = client();
        assert.equal((await c.compute.findServerGroup('a'))!.id, 'g1');
      });
    });
  });

  describe('block-storage', () => {
    it('createVolume from an image with AZ, type, size and metadata; volume microversion header', async () => {
      nock(CINDER, { reqheaders: { 'openstack-api-version': `volume ${VOLUME_MICROVERSION}` } })
        .post(`/v3/${PROJECT}/volumes`, {
          volume: { name: 'k8s-node-1-root', size: 20, imageRef: IMAGE, availability_zone: 'nova', volume_type: 'ssd', metadata: { 'kadd-cluster': 'k8s' } },
        })
        .reply(202, fixture('volume/volume-create-resp.json'));
      const { c } = client();
      const v = await c.volume.createVolume({ name: 'k8s-node-1-root', size: 20, imageRef: IMAGE, availability_zone: 'nova', volume_type: 'ssd', metadata: { 'kadd-cluster': 'k8s' } });
      assert.equal(v.status, 'creating');
      assert.equal(VOLUME_MICROVERSION, '3.59');
    });

    it('listVolumes with name/status/metadata filters across pages; get 404 -> null; delete 404 ok; types; limits', async () => {
      const q = { name: 'k8s-node-1-root', status: 'available', metadata: JSON.stringify({ 'kadd-cluster': 'k8s' }) };
      const page1 = fixture('volume/volumes-detail.json');
      page1.volumes_links[0].href = `${CINDER}/v3/${PROJECT}/volumes/detail?${new URLSearchParams({ ...q, limit: '1', marker: 'v1' })}`;
      nock(CINDER).get(`/v3/${PROJECT}/volumes/detail`).query(q).reply(200, page1);
      nock(CINDER).get(`/v3/${PROJECT}/volumes/detail`).query({ ...q, limit: '1', marker: 'v1' }).reply(200, { volumes: [] });
      nock(CINDER).get(`/v3/${PROJECT}/volumes/nope`).reply(404, { itemNotFound: { code: 404, message: 'Volume nope could not be found.' } });
      nock(CINDER).delete(`/v3/${PROJECT}/volumes/nope`).reply(404, { itemNotFound: { code: 404, message: 'Volume nope could not be found.' } });
      nock(CINDER).get(`/v3/${PROJECT}/types`).reply(200, fixture('volume/types.json'));
      nock(CINDER).get(`/v3/${PROJECT}/limits`).reply(200, fixture('volume/limits.json'));
      const { c } = client();
      const vols = await c.volume.listVolumes({ name: 'k8s-node-1-root', status: 'available', metadata: { 'kadd-cluster': 'k8s' } });
      assert.deepEqual(vols.map((v) => v.name), ['k8s-node-1-root']);
      assert.equal(await c.volume.getVolume('nope'), null);
      await c.volume.deleteVolume('nope');
      assert.deepEqual(await c.volume.listVolumeTypes(), [
        { id: '6685584b-1eac-4da6-b5c3-555430cf68ff', name: '__DEFAULT__' },
        { id: '8eb69a46-df97-4e41-9586-9a40a7533803', name: 'ssd' },
      ]);
      const l = await c.volume.getLimits();
      assert.deepEqual([l.maxTotalVolumes, l.totalVolumesUsed, l.maxTotalVolumeGigabytes, l.totalGigabytesUsed], [10, 2, 1000, 40]);
    });
  });

  describe('image', () => {
    it('by id, by name, none, several', async () => {
      const img = fixture('image/images.json').images[0];
      nock(GLANCE).get(`/v2/images/${IMAGE}`).reply(200, img);
      nock(GLANCE).get('/v2/images').query({ name: 'ubuntu-22.04' }).reply(200, fixture('image/images.json'));
      nock(GLANCE).get('/v2/images').query({ name: 'nope' }).reply(200, { images: [] });
      nock(GLANCE).get('/v2/images').query({ name: 'dup' }).reply(200, { images: [{ ...img, name: 'dup', id: 'i1' }, { ...img, name: 'dup', id: 'i2' }] });
      const { c } = client();
      assert.equal((await c.image.findImage(IMAGE))!.name, 'ubuntu-22.04');
      assert.equal((await c.image.findImage('ubuntu-22.04'))!.id, IMAGE);
      assert.equal(await c.image.findImage('nope'), null);
      await assert.rejects(c.image.findImage('dup'), /2 images are named 'dup' \(i1 active, i2 active\)/);
    });

    it('follows Glance "next" links', async () => {
      const img = fixture('image/images.json').images[0];
      nock(GLANCE).get('/v2/images').query({ name: 'u' }).reply(200, { images: [{ ...img, name: 'u', status: 'deactivated', id: 'i1' }], next: '/v2/images?name=u&marker=i1' });
      nock(GLANCE).get('/v2/images').query({ name: 'u', marker: 'i1' }).reply(200, { images: [{ ...img, name: 'u', id: 'i2' }] });
      const { c } = client();
      assert.equal((await c.image.findImage('u'))!.id, 'i2');
    });
  });

  describe('network', () => {
    it('find network/subnet/router/security group by exact name, limited to the project where private', async () => {
      nock(NEUTRON).get('/v2.0/networks').query({ name: 'k8s-net' }).reply(200, fixture('network/networks.json'));
      nock(NEUTRON).get('/v2.0/subnets').query({ name: 'k8s-subnet', network_id: 'd32019d3-bc6e-4319-9c1d-6722fc136a22' }).reply(200, fixture('network/subnets.json'));
      nock(NEUTRON).get('/v2.0/routers').query({ name: 'k8s-router', project_id: PROJECT }).reply(200, fixture('network/routers.json'));
      nock(NEUTRON).get('/v2.0/security-groups').query({ name: 'k8s-nodes', project_id: PROJECT }).reply(200, fixture('network/security-groups.json'));
      nock(NEUTRON).get('/v2.0/security-groups').query({ name: 'none', project_id: PROJECT }).reply(200, { security_groups: [] });
      const { c } = client();
      const net = await c.network.findNetwork('k8s-net');
      assert.equal(net!.id, 'd32019d3-bc6e-4319-9c1d-6722fc136a22');
      assert.equal((await c.network.findSubnet('k8s-subnet', net!.id))!.cidr, '10.32.192.0/18');
      assert.equal((await c.network.findRouter('k8s-router'))!.external_gateway_info!.network_id, 'ae34051f-aa6c-4c75-abf5-50dc9ac99ef3');
      assert.equal((await c.network.findSecurityGroup('k8s-nodes'))!.id, 'f0ac4394-7e4a-4409-9701-ba8be283dbc3');
      assert.equal(await c.network.findSecurityGroup('none'), null);
    });

    it('two networks with one name: ours wins; two of ours is an error', async () => {
      const n = fixture('network/networks.json').networks[0];
      nock(NEUTRON).get('/v2.0/networks').query({ name: 'k8s-net' }).reply(200, { networks: [{ ...n, id: 'other', project_id: 'x' }, n] });
      nock(NEUTRON).get('/v2.0/networks').query({ name: 'k8s-net' }).reply(200, { networks: [{ ...n, id: 'a' }, { ...n, id: 'b' }] });
      const { c } = client();
      assert.equal((await c.network.findNetwork('k8s-net'))!.id, n.id);
      await assert.rejects(c.network.findNetwork('k8s-net'), /2 networks are named 'k8s-net' \(a, b\)/);
    });

    it('router interface (already present counts as done), external networks, port tags, ports, quota details', async () => {
      nock(NEUTRON).put('/v2.0/routers/r1/add_router_interface', { subnet_id: 's1' }).reply(200, { id: 'r1', subnet_id: 's1', port_id: 'p' });
      nock(NEUTRON).put('/v2.0/routers/r1/add_router_interface', { subnet_id: 's1' }).reply(400, fixture('network/error-neutron.json'));
      nock(NEUTRON).get('/v2.0/networks').query({ 'router:external': 'true' }).reply(200, { networks: [{ id: 'ext', name: 'public', 'router:external': true }] });
      nock(NEUTRON).put('/v2.0/ports/p1/tags', { tags: ['kadd-cluster=k8s'] }).reply(200, { tags: ['kadd-cluster=k8s'] });
      nock(NEUTRON).get('/v2.0/ports').query({ name: 'k8s-node-1-port-0', project_id: PROJECT }).reply(200, { ports: [fixture('network/port-create-resp.json').port] });
      nock(NEUTRON).delete('/v2.0/ports/gone').reply(404, fixture('network/error-notfound.json'));
      nock(NEUTRON).get(`/v2.0/quotas/${PROJECT}/details`).reply(200, fixture('network/quota-details.json'));
      const { c } = client();
      await c.network.addRouterInterface('r1', 's1');
      await c.network.addRouterInterface('r1', 's1');
      assert.deepEqual((await c.network.listExternalNetworks()).map((n) => n.id), ['ext']);
      await c.network.setPortTags('p1', ['kadd-cluster=k8s']);
      assert.equal((await c.network.listPorts({ name: 'k8s-node-1-port-0' }))[0]!.fixed_ips![0]!.ip_address, '10.32.192.11');
      await c.network.deletePort('gone');
      const q = await c.network.getQuotaDetails(await c.projectId());
      assert.deepEqual(q.port, { used: 5, limit: 500, reserved: 0 });
      assert.deepEqual(q.router, { used: 1, limit: 10, reserved: 0 });
    });

    it('create network, subnet, router, security group, port', async () => {
      nock(NEUTRON).post('/v2.0/networks', { network: { name: 'k8s-net', admin_state_up: true } }).reply(201, { network: fixture('network/networks.json').networks[0] });
      nock(NEUTRON).post('/v2.0/subnets', { subnet: { name: 'k8s-subnet', network_id: 'n1', cidr: '10.32.192.0/18', ip_version: 4 } }).reply(201, { subnet: fixture('network/subnets.json').subnets[0] });
      nock(NEUTRON).post('/v2.0/routers', { router: { name: 'k8s-router', external_gateway_info: { network_id: 'ext' } } }).reply(201, { router: fixture('network/routers.json').routers[0] });
      nock(NEUTRON).post('/v2.0/security-groups', { security_group: { name: 'k8s-nodes', description: 'kadd' } }).reply(201, { security_group: fixture('network/security-groups.json').security_groups[0] });
      nock(NEUTRON)
        .post('/v2.0/ports', { port: { name: 'k8s-node-1-port-0', network_id: 'n1', fixed_ips: [{ subnet_id: 's1' }], security_groups: ['sg1'] } })
        .reply(201, fixture('network/port-create-resp.json'));
      const { c } = client();
      await c.network.createNetwork({ name: 'k8s-net', admin_state_up: true });
      await c.network.createSubnet({ name: 'k8s-subnet', network_id: 'n1', cidr: '10.32.192.0/18', ip_version: 4 });
      await c.network.createRouter({ name: 'k8s-router', external_gateway_info: { network_id: 'ext' } });
      await c.network.createSecurityGroup({ name: 'k8s-nodes', description: 'kadd' });
      const p = await c.network.createPort({ name: 'k8s-node-1-port-0', network_id: 'n1', fixed_ips: [{ subnet_id: 's1' }], security_groups: ['sg1'] });
      assert.equal(p.id, '65c0ee9f-d634-4522-8954-51021b570b0d');
      assert.equal(c.counts()['network POST'], 5);
    });
  });

  describe('volume attachments', () => {
    it('lists a volume\'s attachments (volume_id filter) and deletes one; a 404 is not an error', async () => {
      const att = { id: 'a1b2', volume_id: 'v-1', instance: 's-9', status: 'reserved', attach_mode: 'rw' };
      nock(CINDER).get(`/v3/${PROJECT}/attachments`).query({ volume_id: 'v-1' }).matchHeader('openstack-api-version', `volume ${VOLUME_MICROVERSION}`).reply(200, { attachments: [att] });
      nock(CINDER).delete(`/v3/${PROJECT}/attachments/a1b2`).reply(200, { attachments: [] });
      nock(CINDER).delete(`/v3/${PROJECT}/attachments/gone`).reply(404, { itemNotFound: { code: 404, message: 'VolumeAttachment gone could not be found.' } });
      const { c } = client();
      assert.deepEqual(await c.volume.listAttachments('v-1'), [att]);
      await c.volume.deleteAttachment('a1b2');
      await c.volume.deleteAttachment('gone');
    });
  });

  describe('feature detection and user messages', () => {
    it('Neutron extension aliases; Cinder user messages of one volume, oldest first', async () => {
      nock(NEUTRON).get('/v2.0/extensions').reply(200, { extensions: [{ alias: 'standard-attr-tag', name: 'Tag support' }, { alias: 'tag-creation', name: 'Tag support on resource creation' }, { name: 'no alias' }] });
      const older = { id: 'm1', event_id: 'VOLUME_VOLUME_001_003', user_message: 'schedule allocate volume:Could not find any available weighted backend.', created_at: '2026-12-04T10:00:00.000000', resource_uuid: 'v-1' };
      const newer = { ...older, id: 'm2', created_at: '2026-12-04T10:05:00.000000' };
      nock(CINDER).get(`/v3/${PROJECT}/messages`).query({ resource_uuid: 'v-1' }).matchHeader('openstack-api-version', `volume ${VOLUME_MICROVERSION}`).reply(200, { messages: [newer, older] });
      nock(NEUTRON).post('/v2.0/ports', { port: { name: 'p', network_id: 'n1', tags: ['kadd-cluster=k8s'] } }).reply(201, { port: { id: 'p1', name: 'p', network_id: 'n1', tags: ['kadd-cluster=k8s'] } });
      const { c } = client();
      assert.deepEqual(await c.network.listExtensions(), ['standard-attr-tag', 'tag-creation']);
      assert.deepEqual((await c.volume.listMessages('v-1')).map((m) => m.id), ['m1', 'm2']);
      assert.deepEqual((await c.network.createPort({ name: 'p', network_id: 'n1', tags: ['kadd-cluster=k8s'] })).tags, ['kadd-cluster=k8s']);
    });
  });

  describe('port create with tags', () => {
    it('a Neutron that refuses `tags` in a create (400): the same create once more without them; other 400s are errors', async () => {
      const bad = { NeutronError: { type: 'HTTPBadRequest', message: "Unrecognized attribute(s) 'tags'", detail: '' } };
      nock(NEUTRON).post('/v2.0/ports', { port: { name: 'p', network_id: 'n1', tags: ['kadd-cluster=k8s'] } }).reply(400, bad);
      nock(NEUTRON).post('/v2.0/ports', { port: { name: 'p', network_id: 'n1' } }).reply(201, { port: { id: 'p1', name: 'p', network_id: 'n1', tags: [] } });
      nock(NEUTRON).post('/v2.0/ports', { port: { name: 'q', network_id: 'n1', tags: ['kadd-cluster=k8s'] } })
        .reply(400, { NeutronError: { type: 'HTTPBadRequest', message: 'Invalid input for fixed_ips', detail: '' } });
      const { c } = client();
      assert.deepEqual((await c.network.createPort({ name: 'p', network_id: 'n1', tags: ['kadd-cluster=k8s'] })).tags, []);
      await assert.rejects(c.network.createPort({ name: 'q', network_id: 'n1', tags: ['kadd-cluster=k8s'] }), /Invalid input for fixed_ips/);
      assert.equal(c.counts()['network POST'], 3);
    });
  });

  describe('load-balancer', () => {
    it('find LB, listeners, pools, members (paged), delete member 404 ok', async () => {
      const LB = '607226db-27ef-4d41-ae89-f2a800e9c2db';
      const POOL = '9aa16cdc-8d18-47b9-aba9-ec044531a79f';
      nock(OCTAVIA).get('/v2/lbaas/loadbalancers').query({ name: 'k8s-api' }).reply(200, fixture('loadbalancer/loadbalancers.json'));
      nock(OCTAVIA).get('/v2/lbaas/listeners').query({ loadbalancer_id: LB }).reply(200, fixture('loadbalancer/listeners.json'));
      nock(OCTAVIA).get('/v2/lbaas/pools').query({ loadbalancer_id: LB }).reply(200, fixture('loadbalancer/pools.json'));
      nock(OCTAVIA).get(`/v2/lbaas/pools/${POOL}/members`).reply(200, { ...fixture('loadbalancer/members.json'), members_links: [{ rel: 'next', href: `${OCTAVIA}/v2/lbaas/pools/${POOL}/members?marker=m1` }] });
      nock(OCTAVIA).get(`/v2/lbaas/pools/${POOL}/members`).query({ marker: 'm1' }).reply(200, { members: [{ id: 'm2', address: '10.32.192.22', protocol_port: 6443 }], members_links: [] });
      nock(OCTAVIA).delete(`/v2/lbaas/pools/${POOL}/members/m9`).reply(404, { faultcode: 'Client', faultstring: 'Member m9 not found.', debuginfo: null });
      const { c } = client();
      const lb = await c.loadbalancer.findLoadBalancer('k8s-api');
      assert.equal(lb!.vip_address, '10.32.192.50');
      assert.equal((await c.loadbalancer.listListeners({ loadbalancer_id: LB }))[0]!.protocol_port, 6443);
      assert.equal((await c.loadbalancer.listPools({ loadbalancer_id: LB }))[0]!.id, POOL);
      assert.deepEqual((await c.loadbalancer.listMembers(POOL)).map((m) => m.address), ['10.32.192.21', '10.32.192.22']);
      await c.loadbalancer.deleteMember(POOL, 'm9');
    });

    const POOL = '9aa16cdc-8d18-47b9-aba9-ec044531a79f';
    const pool = (st: string) => ({ pool: { id: POOL, name: 'master-pool-k', protocol: 'TCP', lb_algorithm: 'SOURCE_IP', provisioning_status: st } });

    it('a member change that meets a busy load balancer (409 beyond the quick retries) waits for the pool and tries again', async () => {
      const busy = { faultcode: 'Client', faultstring: `Pool ${POOL} is immutable and cannot be updated.`, debuginfo: null };
      nock(OCTAVIA).post(`/v2/lbaas/pools/${POOL}/members`).times(4).reply(409, busy);
      nock(OCTAVIA).get(`/v2/lbaas/pools/${POOL}`).reply(200, pool('PENDING_UPDATE'));
      nock(OCTAVIA).get(`/v2/lbaas/pools/${POOL}`).reply(200, pool('ACTIVE'));
      nock(OCTAVIA).post(`/v2/lbaas/pools/${POOL}/members`, { member: { address: '10.0.0.7', protocol_port: 6443 } }).reply(201, { member: { id: 'm7', address: '10.0.0.7', protocol_port: 6443 } });
      const { c, clock } = client();
      const m = await c.loadbalancer.createMember(POOL, { address: '10.0.0.7', protocol_port: 6443 });
      assert.equal(m.id, 'm7');
      assert.ok(clock.sleeps.includes(2000), `waited for the pool: ${clock.sleeps}`);
      assert.ok(nock.isDone());
    });

    it('gives up after the deadline with a message naming the stuck load balancer', async () => {
      const busy = { faultcode: 'Client', faultstring: `Pool ${POOL} is immutable and cannot be updated.`, debuginfo: null };
      nock(OCTAVIA).delete(`/v2/lbaas/pools/${POOL}/members/m7`).times(100).reply(409, busy);
      nock(OCTAVIA).get(`/v2/lbaas/pools/${POOL}`).times(1000).reply(200, pool('PENDING_UPDATE'));
      const { c, clock } = client();
      clock.sleep = async (ms) => {
        clock.sleeps.push(ms);
        clock.t += ms;
        await new Promise((r) => setImmediate(r));
      };
      await assert.rejects(c.loadbalancer.deleteMember(POOL, 'm7'), (e: unknown) => e instanceof OpenStackError && e.status === 409 && /stayed busy \(409\) for 300 s/.test(e.message));
      nock.cleanAll();
    });
  });
});
