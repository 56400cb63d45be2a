/**
 * Smoke test of the real e2e OpenStack with plain fetch (not kadd's client): proves the cloud can do
 * everything kadd needs, and records sanitized real response bodies into fixtures/openstack-real/.
 * Skips when the cloud is not up (start it with `sudo bash test/e2e/openstack/start.sh`).
 */
import assert from 'node:assert/strict';
import { Recorder, Session, cloudUnavailable, e2eEnv, pollUntil, readCloud, type ApiResponse, type Env } from './helpers.js';

/** Stable names (so recorded fixtures do not change between runs); leftovers of a crashed run are removed first. */
const PREFIX = 'kadd-e2e-smoke';

describe('e2e: real OpenStack smoke (plain fetch)', function () {
  this.timeout(300_000);
  const env: Env = e2eEnv();
  const rec = new Recorder();
  let s: Session;
  let admin: Session;
  // everything created, for cleanup in after()
  const made = { servers: [] as string[], volumes: [] as string[], ports: [] as string[], routers: [] as string[], subnets: [] as string[], networks: [] as string[], routerIfaces: [] as { router: string; subnet: string }[] };
  let netId = '';
  let subnetId = '';
  let routerId = '';
  let imageId = '';
  let flavorId = '';
  let hugeFlavorId = '';
  let volumeId = '';
  let portId = '';
  let serverId = '';
  let baseline = { servers: 0, volumes: 0, ports: 0 };

  /** request + record in one go */
  async function call(service: 'identity' | 'compute' | 'volume' | 'network' | 'image', name: string | undefined, method: string, path: string, body?: unknown, ok?: number[], sess: Session = s): Promise<ApiResponse> {
    const type = service === 'volume' ? 'volumev3' : service;
    const res = await sess.req(method, type, path, body, ok);
    if (name) rec.record(service, name, res, { method, path, microversion: type === 'compute' ? '2.79' : type === 'volumev3' ? '3.60' : undefined });
    return res;
  }

  /**
   * This test's own servers, volumes and ports (by name prefix), so another suite working on the same cloud at
   * the same time cannot change the count. A port left behind would also make the network's DELETE fail.
   */
  async function counts(): Promise<{ servers: number; volumes: number; ports: number }> {
    const mine = (xs: { name?: string | null }[]) => xs.filter((x) => (x.name ?? '').startsWith(PREFIX)).length;
    const [sv, vo, po] = await Promise.all([
      s.req('GET', 'compute', '/servers'),
      s.req('GET', 'volumev3', '/volumes'),
      s.req('GET', 'network', `/ports?project_id=${s.projectId}`),
    ]);
    return { servers: mine(sv.body.servers), volumes: mine(vo.body.volumes), ports: mine(po.body.ports) };
  }

  /** Best-effort removal of everything in `made`, in dependency order. */
  async function cleanup(): Promise<void> {
    for (const id of made.servers) await s.req('DELETE', 'compute', `/servers/${id}`, undefined, [204, 404]).catch(() => {});
    for (const id of made.servers) {
      await pollUntil(`server ${id} gone`, async () => ((await s.req('GET', 'compute', `/servers/${id}`, undefined, [200, 404])).status === 404 ? true : undefined), 60_000).catch(() => {});
    }
    for (const id of made.ports) await s.req('DELETE', 'network', `/ports/${id}`, undefined, [204, 404]).catch(() => {});
    for (const id of made.volumes) {
      await pollUntil(`volume ${id} detached`, async () => {
        const r = await s.req('GET', 'volumev3', `/volumes/${id}`, undefined, [200, 404]);
        return r.status === 404 || !['in-use', 'attaching', 'detaching', 'creating', 'reserved'].includes(r.body.volume.status) ? true : undefined;
      }, 60_000).catch(() => {});
      await s.req('DELETE', 'volumev3', `/volumes/${id}`, undefined, [202, 404]).catch(() => {});
    }
    for (const ri of made.routerIfaces) await s.req('PUT', 'network', `/routers/${ri.router}/remove_router_interface`, { subnet_id: ri.subnet }, [200, 404]).catch(() => {});
    for (const id of made.routers) await s.req('DELETE', 'network', `/routers/${id}`, undefined, [204, 404]).catch(() => {});
    for (const id of made.subnets) await s.req('DELETE', 'network', `/subnets/${id}`, undefined, [204, 404]).catch(() => {});
    for (const id of made.networks) await s.req('DELETE', 'network', `/networks/${id}`, undefined, [204, 404]).catch(() => {});
    for (const list of Object.values(made)) list.length = 0;
  }

  /** Fill `made` with what a crashed earlier run of this test left behind (found by name prefix). */
  async function findLeftovers(): Promise<number> {
    const starts = (x: { name?: string }) => typeof x.name === 'string' && x.name.startsWith(PREFIX);
    const [sv, vo, po, rt, sn, nw] = await Promise.all([
      s.req('GET', 'compute', `/servers?name=${encodeURIComponent(`^${PREFIX}`)}`),
      s.req('GET', 'volumev3', '/volumes'),
      s.req('GET', 'network', `/ports?project_id=${s.projectId}`),
      s.req('GET', 'network', `/routers?project_id=${s.projectId}`),
      s.req('GET', 'network', `/subnets?project_id=${s.projectId}`),
      s.req('GET', 'network', `/networks?project_id=${s.projectId}`),
    ]);
    made.servers.push(...sv.body.servers.filter(starts).map((x: any) => x.id));
    made.volumes.push(...vo.body.volumes.filter(starts).map((x: any) => x.id));
    made.ports.push(...po.body.ports.filter(starts).map((x: any) => x.id));
    const subnets = sn.body.subnets.filter(starts);
    for (const r of rt.body.routers.filter(starts)) {
      made.routers.push(r.id);
      for (const sub of subnets) made.routerIfaces.push({ router: r.id, subnet: sub.id });
    }
    made.subnets.push(...subnets.map((x: any) => x.id));
    made.networks.push(...nw.body.networks.filter(starts).map((x: any) => x.id));
    return Object.values(made).reduce((n, l) => n + l.length, 0);
  }

  before(async function () {
    const why = await cloudUnavailable(env);
    if (why) {
      console.log(`    skipping the real-OpenStack e2e smoke test: ${why}`);
      this.skip();
    }
    const entry = readCloud(env.clouds, env.cloud);
    s = await Session.password(entry);
    admin = await Session.password(readCloud(env.clouds, env.adminCloud));
    const left = await findLeftovers();
    if (left > 0) {
      console.log(`      removing ${left} resources left behind by an earlier, interrupted run`);
      await cleanup();
    }
    baseline = await counts();
  });

  after(async function () {
    rec.flush();
    if (s) await cleanup();
  });

  it('authenticates with a password and gets a catalog with every service kadd uses', async function () {
    assert.ok(s.token.length > 20);
    for (const type of ['identity', 'compute', 'network', 'volumev3', 'block-storage', 'image']) {
      assert.ok(s.catalog.some((c) => c.type === type), `catalog has ${type}`);
    }
    rec.record('identity', 'token-password-scoped', { status: 201, headers: new Headers(), body: s.tokenBody }, { method: 'POST', path: '/v3/auth/tokens' });
    // a wrong password is refused with 401
    const entry = readCloud(env.clouds, env.cloud);
    const res = await fetch(`${entry.auth.auth_url}/auth/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ auth: { identity: { methods: ['password'], password: { user: { name: entry.auth.username, domain: { name: 'Default' }, password: 'wrong-password' } } } } }),
    });
    assert.equal(res.status, 401);
    rec.record('identity', 'token-password-401', { status: 401, headers: res.headers, body: await res.json() }, { method: 'POST', path: '/v3/auth/tokens' });
  });

  it('reads flavors, availability zones, keypairs, image, limits and quotas', async function () {
    const fl = await call('compute', 'flavors-detail', 'GET', '/flavors/detail');
    const small = fl.body.flavors.find((f: any) => f.name === env.flavor);
    const huge = fl.body.flavors.find((f: any) => f.name === env.flavorTooBig);
    assert.ok(small && huge, `flavors ${env.flavor} and ${env.flavorTooBig} exist`);
    flavorId = small.id;
    hugeFlavorId = huge.id;
    await call('compute', 'flavor-detail', 'GET', `/flavors/${flavorId}`);
    const az = await call('compute', 'availability-zones', 'GET', '/os-availability-zone');
    assert.ok(az.body.availabilityZoneInfo.some((z: any) => z.zoneName === env.az && z.zoneState.available), `nova AZ ${env.az}`);
    const vaz = await call('volume', 'availability-zones', 'GET', '/os-availability-zone');
    assert.ok(vaz.body.availabilityZoneInfo.some((z: any) => z.zoneName === env.az), `cinder AZ ${env.az}`);
    const kp = await call('compute', 'keypairs', 'GET', '/os-keypairs');
    assert.ok(kp.body.keypairs.some((k: any) => k.keypair.name === env.keypair));
    await call('compute', 'keypair-detail', 'GET', `/os-keypairs/${env.keypair}`);
    const im = await call('image', 'images-by-name', 'GET', `/images?name=${encodeURIComponent(env.image)}`);
    assert.equal(im.body.images.length, 1);
    imageId = im.body.images[0].id;
    const img = await call('image', 'image-detail', 'GET', `/images/${imageId}`);
    assert.equal(img.body.status, 'active');
    const nl = await call('compute', 'limits', 'GET', '/limits');
    assert.ok(nl.body.limits.absolute.maxTotalInstances > 0);
    await call('compute', 'quota-set-detail', 'GET', `/os-quota-sets/${s.projectId}/detail`);
    const cl = await call('volume', 'limits', 'GET', '/limits');
    assert.ok(cl.body.limits.absolute.maxTotalVolumes > 0);
    await call('volume', 'quota-set-usage', 'GET', `/os-quota-sets/${s.projectId}?usage=true`);
    const nq = await call('network', 'quota-details', 'GET', `/quotas/${s.projectId}/details`);
    assert.ok(nq.body.quota.port.limit > 0);
  });

  it('creates a network, a subnet and a router with an external gateway, and lists them', async function () {
    const ext = await call('network', 'networks-external', 'GET', `/networks?name=${env.externalNetwork}&router:external=true`);
    assert.equal(ext.body.networks.length, 1, `external network ${env.externalNetwork}`);
    const empty = await call('network', 'networks-by-name-empty', 'GET', `/networks?name=${PREFIX}-net`);
    assert.equal(empty.body.networks.length, 0);
    const net = await call('network', 'network-create', 'POST', '/networks', { network: { name: `${PREFIX}-net`, admin_state_up: true } }, [201]);
    netId = net.body.network.id;
    made.networks.push(netId);
    const sub = await call('network', 'subnet-create', 'POST', '/subnets', { subnet: { name: `${PREFIX}-subnet`, network_id: netId, ip_version: 4, cidr: '10.77.0.0/24', dns_nameservers: ['192.0.2.53'] } }, [201]);
    subnetId = sub.body.subnet.id;
    made.subnets.push(subnetId);
    const rt = await call('network', 'router-create', 'POST', '/routers', { router: { name: `${PREFIX}-router`, external_gateway_info: { network_id: ext.body.networks[0].id } } }, [201]);
    routerId = rt.body.router.id;
    made.routers.push(routerId);
    await call('network', 'router-add-interface', 'PUT', `/routers/${routerId}/add_router_interface`, { subnet_id: subnetId });
    made.routerIfaces.push({ router: routerId, subnet: subnetId });
    await call('network', 'networks-by-name', 'GET', `/networks?name=${PREFIX}-net`);
    await call('network', 'subnets-by-network', 'GET', `/subnets?network_id=${netId}`);
    const routers = await call('network', 'routers-by-name', 'GET', `/routers?name=${PREFIX}-router`);
    assert.equal(routers.body.routers.length, 1);
    const sgs = await call('network', 'security-groups', 'GET', `/security-groups?project_id=${s.projectId}`);
    assert.ok(sgs.body.security_groups.some((g: any) => g.name === 'default'));
    const port = await call('network', 'port-create', 'POST', '/ports', { port: { name: `${PREFIX}-port`, network_id: netId, fixed_ips: [{ subnet_id: subnetId }], security_groups: [sgs.body.security_groups.find((g: any) => g.name === 'default').id] } }, [201]);
    portId = port.body.port.id;
    made.ports.push(portId);
    await call('network', 'ports-by-network', 'GET', `/ports?network_id=${netId}`);
  });

  it('creates a bootable volume from the image in the AZ', async function () {
    const t0 = Date.now();
    const v = await call('volume', 'volume-create-from-image', 'POST', '/volumes', { volume: { name: `${PREFIX}-vol`, size: 1, imageRef: imageId, availability_zone: env.az, metadata: { 'kadd-e2e': 'smoke' } } }, [202]);
    volumeId = v.body.volume.id;
    made.volumes.push(volumeId);
    const ready = await pollUntil('volume available', async () => {
      const r = await s.req('GET', 'volumev3', `/volumes/${volumeId}`);
      assert.notEqual(r.body.volume.status, 'error', 'volume went to error');
      return r.body.volume.status === 'available' ? r : undefined;
    }, 120_000);
    rec.record('volume', 'volume-detail-available', ready, { method: 'GET', path: `/volumes/${volumeId}`, microversion: '3.60' });
    assert.equal(ready.body.volume.bootable, 'true');
    assert.equal(ready.body.volume.availability_zone, env.az);
    console.log(`      volume available in ${Date.now() - t0} ms`);
  });

  it('boots a server from the volume (BDMv2) on the port in the AZ, polls it to ACTIVE and reads its console', async function () {
    const t0 = Date.now();
    const userData = Buffer.from('#cloud-config\n# kadd e2e smoke\n').toString('base64');
    const cr = await call('compute', 'server-create', 'POST', '/servers', {
      server: {
        name: `${PREFIX}-vm`,
        flavorRef: flavorId,
        key_name: env.keypair,
        availability_zone: env.az,
        networks: [{ port: portId }],
        block_device_mapping_v2: [{ boot_index: 0, uuid: volumeId, source_type: 'volume', destination_type: 'volume', delete_on_termination: false }],
        user_data: userData,
        metadata: { 'kadd-e2e': 'smoke' },
        tags: ['kadd-e2e'],
      },
    }, [202]);
    serverId = cr.body.server.id;
    made.servers.push(serverId);
    let first = true;
    const active = await pollUntil('server ACTIVE', async () => {
      // batched poll, as kadd does: one list call per tick
      const r = await s.req('GET', 'compute', `/servers/detail?name=${encodeURIComponent(`^${PREFIX}-vm$`)}`);
      const sv = r.body.servers.find((x: any) => x.id === serverId);
      if (first && sv) {
        rec.record('compute', 'servers-detail-building', r, { method: 'GET', path: `/servers/detail?name=^${PREFIX}-vm$`, microversion: '2.79' });
        first = false;
      }
      assert.notEqual(sv?.status, 'ERROR', `server went to ERROR: ${JSON.stringify(sv?.fault)}`);
      return sv?.status === 'ACTIVE' ? r : undefined;
    }, 180_000);
    rec.record('compute', 'servers-detail-active', active, { method: 'GET', path: `/servers/detail?name=^${PREFIX}-vm$`, microversion: '2.79' });
    console.log(`      server ACTIVE in ${Date.now() - t0} ms`);
    const d = await call('compute', 'server-detail-active', 'GET', `/servers/${serverId}`);
    assert.equal(d.body.server['OS-EXT-AZ:availability_zone'], env.az);
    assert.deepEqual(d.body.server['os-extended-volumes:volumes_attached'].map((v: any) => v.id), [volumeId]);
    const con = await call('compute', 'console-output', 'POST', `/servers/${serverId}/action`, { 'os-getConsoleOutput': { length: 100 } }, [200]);
    assert.equal(typeof con.body.output, 'string');
    assert.ok(con.body.output.length > 0);
    const vol = await call('volume', 'volume-detail-in-use', 'GET', `/volumes/${volumeId}`);
    assert.equal(vol.body.volume.status, 'in-use');
    const port = await call('network', 'port-detail-bound', 'GET', `/ports/${portId}`);
    assert.equal(port.body.port.device_id, serverId);
    assert.equal(port.body.port.status, 'ACTIVE');
    await call('compute', 'server-interfaces', 'GET', `/servers/${serverId}/os-interface`);
  });

  it('a flavor too large for the host puts the server in ERROR with a NoValidHost fault', async function () {
    const v = await s.req('POST', 'volumev3', '/volumes', { volume: { name: `${PREFIX}-vol-huge`, size: 1, imageRef: imageId, availability_zone: env.az } }, [202]);
    const vid = v.body.volume.id;
    made.volumes.push(vid);
    await pollUntil('volume available', async () => ((await s.req('GET', 'volumev3', `/volumes/${vid}`)).body.volume.status === 'available' ? true : undefined));
    const cr = await s.req('POST', 'compute', '/servers', {
      server: {
        name: `${PREFIX}-vm-huge`,
        flavorRef: hugeFlavorId,
        availability_zone: env.az,
        networks: [{ uuid: netId }],
        block_device_mapping_v2: [{ boot_index: 0, uuid: vid, source_type: 'volume', destination_type: 'volume', delete_on_termination: false }],
      },
    }, [202]);
    const sid = cr.body.server.id;
    made.servers.push(sid);
    const err = await pollUntil('server ERROR', async () => {
      const r = await s.req('GET', 'compute', `/servers/${sid}`);
      assert.notEqual(r.body.server.status, 'ACTIVE');
      return r.body.server.status === 'ERROR' ? r : undefined;
    }, 120_000);
    rec.record('compute', 'server-detail-error-novalidhost', err, { method: 'GET', path: `/servers/${sid}`, microversion: '2.79' });
    assert.match(err.body.server.fault.message, /No valid host/i);
    // the port nova made for the failed server is gone, the volume is back to available
    await pollUntil('ERROR server ports released', async () => ((await s.req('GET', 'network', `/ports?device_id=${sid}`)).body.ports.length === 0 ? true : undefined), 60_000);
    await s.req('DELETE', 'compute', `/servers/${sid}`, undefined, [204]);
    await pollUntil('ERROR server deleted', async () => ((await s.req('GET', 'compute', `/servers/${sid}`, undefined, [200, 404])).status === 404 ? true : undefined), 60_000);
    const vol = await s.req('GET', 'volumev3', `/volumes/${vid}`);
    assert.equal(vol.body.volume.status, 'available');
    await s.req('DELETE', 'volumev3', `/volumes/${vid}`, undefined, [202]);
  });

  it('deletes everything and nothing is left behind', async function () {
    await s.req('DELETE', 'compute', `/servers/${serverId}`, undefined, [204]);
    const gone = await pollUntil('server deleted', async () => {
      const r = await s.req('GET', 'compute', `/servers/${serverId}`, undefined, [200, 404]);
      return r.status === 404 ? r : undefined;
    }, 120_000);
    rec.record('compute', 'server-detail-404', gone, { method: 'GET', path: `/servers/${serverId}`, microversion: '2.79' });
    await pollUntil('volume detached', async () => ((await s.req('GET', 'volumev3', `/volumes/${volumeId}`)).body.volume.status === 'available' ? true : undefined), 60_000);
    await s.req('DELETE', 'network', `/ports/${portId}`, undefined, [204, 404]);
    await s.req('DELETE', 'volumev3', `/volumes/${volumeId}`, undefined, [202]);
    const vgone = await pollUntil('volume deleted', async () => {
      const r = await s.req('GET', 'volumev3', `/volumes/${volumeId}`, undefined, [200, 404]);
      return r.status === 404 ? r : undefined;
    }, 60_000);
    rec.record('volume', 'volume-detail-404', vgone, { method: 'GET', path: `/volumes/${volumeId}`, microversion: '3.60' });
    await s.req('PUT', 'network', `/routers/${routerId}/remove_router_interface`, { subnet_id: subnetId });
    await s.req('DELETE', 'network', `/routers/${routerId}`, undefined, [204]);
    await s.req('DELETE', 'network', `/subnets/${subnetId}`, undefined, [204]);
    await s.req('DELETE', 'network', `/networks/${netId}`, undefined, [204]);
    made.routerIfaces.length = 0;

    const left = await counts();
    assert.deepEqual(left, baseline, 'servers, volumes and ports are back to what they were before the test');
    const byName = await s.req('GET', 'compute', `/servers?name=${encodeURIComponent(PREFIX)}`);
    assert.equal(byName.body.servers.length, 0);
    const nets = await s.req('GET', 'network', `/networks?name=${PREFIX}-net`);
    assert.equal(nets.body.networks.length, 0);
    // admin view: no server of this test anywhere in the cloud
    const adminAll = await admin.req('GET', 'compute', `/servers?all_tenants=1&name=${encodeURIComponent(PREFIX)}`);
    assert.equal(adminAll.body.servers.length, 0);
  });
});
