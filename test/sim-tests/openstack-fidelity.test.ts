/**
 * Fidelity: plain fetch against the simulator, bodies compared with the examples recorded from the official
 * API references (fixtures/sim/api-ref): same keys, same value types. Differences that are deliberate are
 * listed per fixture with the reason.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startApi, until, ids, type Api } from './openstack-helpers.js';

function fixture(p: string): any {
  return JSON.parse(readFileSync(new URL(`../../fixtures/sim/api-ref/${p}`, import.meta.url), 'utf8'));
}

const typeOf = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

/** compare shapes: every key of `ref` must be in `got` (unless ignored) and vice versa (unless extra-allowed) */
function sameShape(got: any, ref: any, path: string, ignore: Set<string>, extra: Set<string>, problems: string[]): void {
  const tg = typeOf(got), tr = typeOf(ref);
  if (tg === 'null' || tr === 'null') return; // nullable fields: null on either side carries no type
  if (tg !== tr) { problems.push(`${path}: type ${tg}, reference has ${tr}`); return; }
  if (tr === 'array') {
    if (got.length && ref.length) sameShape(got[0], ref[0], `${path}[]`, ignore, extra, problems);
    return;
  }
  if (tr !== 'object') return;
  // maps with user-chosen keys (metadata, addresses, extra_specs) compare values only
  const freeKeys = /(^|\.)(metadata|addresses|extra_specs|dns_assignment)$/.test(path);
  if (freeKeys) {
    const gv = Object.values(got), rv = Object.values(ref);
    if (gv.length && rv.length) sameShape(gv[0], rv[0], `${path}.*`, ignore, extra, problems);
    return;
  }
  for (const k of Object.keys(ref)) {
    const p = path ? `${path}.${k}` : k;
    if (ignore.has(p)) continue;
    if (!(k in got)) { problems.push(`${p}: missing`); continue; }
    sameShape(got[k], ref[k], p, ignore, extra, problems);
  }
  for (const k of Object.keys(got)) {
    const p = path ? `${path}.${k}` : k;
    if (!(k in ref) && !extra.has(p)) problems.push(`${p}: not in the reference`);
  }
}

function check(got: unknown, ref: unknown, ignore: string[] = [], extra: string[] = []): void {
  const problems: string[] = [];
  sameShape(got, ref, '', new Set(ignore), new Set(extra), problems);
  assert.deepEqual(problems, []);
}

describe('sim openstack: fidelity against the API reference examples', function () {
  this.timeout(20000);
  let api: Api;
  let x: Awaited<ReturnType<typeof ids>>;
  before(async () => { api = await startApi(); x = await ids(api); });
  after(async () => api.sim.stop());

  it('nova GET /servers/{id} at 2.47 (admin-only fields left out: the sim user is a member)', async () => {
    const v = (await api.call('POST', `/volume/v3/${x.project}/volumes`, { volume: { name: 'f', size: 10 } })).body.volume;
    await until(async () => (await api.call('GET', `/volume/v3/${x.project}/volumes/${v.id}`)).body.volume.status === 'available');
    const r = await api.call('POST', '/compute/v2.1/servers', { server: { name: 'fid', flavorRef: '2', imageRef: x.image, networks: [{ uuid: x.net }], metadata: { a: 'b' }, block_device_mapping_v2: [{ uuid: v.id, source_type: 'volume', destination_type: 'volume', boot_index: 1 }] } }, { 'OpenStack-API-Version': 'compute 2.47' });
    assert.equal(r.status, 202, r.text);
    const s = await until(async () => { const b = (await api.call('GET', `/compute/v2.1/servers/${r.body.server.id}`, undefined, { 'OpenStack-API-Version': 'compute 2.47' })).body; return b.server.status === 'ACTIVE' && b; });
    const adminOnly = ['host', 'hostname', 'hypervisor_hostname', 'instance_name', 'kernel_id', 'launch_index', 'ramdisk_id', 'reservation_id', 'root_device_name', 'user_data'].map((k) => `server.OS-EXT-SRV-ATTR:${k}`);
    check(s, fixture('compute/server-get-resp-v2.47.json'), [...adminOnly, 'server.host_status']);
    const nf = await api.call('GET', '/compute/v2.1/flavors/nope');
    assert.deepEqual(Object.keys(nf.body), ['itemNotFound']);
    assert.deepEqual(Object.keys(nf.body.itemNotFound).sort(), ['code', 'message']);
  });

  it('cinder GET /volumes/{id} (3.0; os-vol-host-attr:host is admin-only)', async () => {
    const v = (await api.call('POST', `/volume/v3/${x.project}/volumes`, { volume: { name: 'f2', size: 1, metadata: { contents: 'junk' } } })).body.volume;
    const got = await until(async () => { const b = (await api.call('GET', `/volume/v3/${x.project}/volumes/${v.id}`)).body; return b.volume.status === 'available' && b; });
    check(got, fixture('block-storage/volume-show-response.json'), ['volume.os-vol-host-attr:host'],
      ['volume.consistencygroup_id', 'volume.encrypted', 'volume.migration_status', 'volume.multiattach', 'volume.replication_status', 'volume.updated_at', 'volume.user_id']);
  });

  it('neutron POST /ports (extensions the sim does not model are ignored)', async () => {
    const r = await api.call('POST', '/network/v2.0/ports', { port: { network_id: x.net, name: 'private-port' } });
    // dns_assignment: the api-ref sample shows an object; a real Neutron returns a list of them (kept real)
    assert.ok(Array.isArray(r.body.port.dns_assignment));
    check(r.body, fixture('network/port-create-response.json'), ['port.dns_domain', 'port.dns_assignment'],
      ['port.binding_vnic_type', 'port.binding:vnic_type', 'port.binding:host_id', 'port.binding:vif_type', 'port.binding:vif_details', 'port.binding:profile', 'port.qos_network_policy_id', 'port.propagate_uplink_status', 'port.resource_request']);
  });

  it('glance GET /v2/images/{id}', async () => {
    const got = (await api.call('GET', `/image/v2/images/${x.cirros}`)).body;
    check(got, fixture('image/image-show-response.json'), [], ['os_hidden', 'stores', 'os_distro', 'hw_disk_bus']);
  });

  it('octavia POST /pools/{id}/members', async () => {
    const lb = (await api.call('POST', '/load-balancer/v2/lbaas/loadbalancers', { loadbalancer: { name: 'f-lb', vip_subnet_id: x.subnet } })).body.loadbalancer;
    await until(async () => (await api.call('GET', `/load-balancer/v2/lbaas/loadbalancers/${lb.id}`)).body.loadbalancer.provisioning_status === 'ACTIVE');
    const pool = (await api.call('POST', '/load-balancer/v2/lbaas/pools', { pool: { loadbalancer_id: lb.id, protocol: 'TCP', lb_algorithm: 'ROUND_ROBIN', name: 'p' } })).body.pool;
    await until(async () => (await api.call('GET', `/load-balancer/v2/lbaas/loadbalancers/${lb.id}`)).body.loadbalancer.provisioning_status === 'ACTIVE');
    const m = await api.call('POST', `/load-balancer/v2/lbaas/pools/${pool.id}/members`, { member: { address: '10.0.0.16', protocol_port: 80, subnet_id: x.subnet, weight: 20, name: 'web-server-1' } });
    assert.equal(m.status, 201);
    check(m.body, fixture('load-balancer/member-create-response.json'), [], ['member.tenant_id', 'member.tags', 'member.backup']);
  });

  it('keystone POST /v3/auth/tokens (password, project scope)', async () => {
    const r = await fetch(`${api.sim.baseUrl}/identity/v3/auth/tokens`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ auth: { identity: { methods: ['password'], password: { user: { name: 'kadd', domain: { name: 'Default' }, password: 'kadd-secret' } } }, scope: { project: { name: 'kadd', domain: { name: 'Default' } } } } }) });
    check(await r.json(), fixture('identity/auth-password-project-scoped-response.json'), ['token.extras'], ['token.user.password_expires_at']);
  });
});

/** behaviours of a real OpenStack Zed (fixtures/openstack-real, recorded by the e2e suite) at the versions kadd uses */
describe('sim openstack: fidelity to real Zed, per microversion', function () {
  this.timeout(20000);
  let api: Api;
  let x: Awaited<ReturnType<typeof ids>>;
  before(async () => { api = await startApi({ faults: { serverError: [{ name: '^nohost-', message: 'No valid host was found. ' }] } }); x = await ids(api); });
  after(async () => api.sim.stop());
  const mv = (v: string) => ({ 'OpenStack-API-Version': `compute ${v}` });
  const real = (p: string): any => JSON.parse(readFileSync(new URL(`../../fixtures/openstack-real/${p}`, import.meta.url), 'utf8'));

  it('flavor swap: "" for no swap before 2.75 (kadd: 2.67), 0 from 2.75 on (real Zed at 2.79 says 0)', async () => {
    const at = async (v: string) => ((await api.call('GET', '/compute/v2.1/flavors/detail', undefined, mv(v))).body.flavors as any[]).find((f) => f.id === '2');
    assert.equal((await at('2.67')).swap, '');
    assert.equal((await at('2.74')).swap, '');
    assert.equal((await at('2.75')).swap, 0);
    assert.equal((await at('2.79')).swap, real('compute/flavor-detail.json').flavor.swap);
    assert.equal((await api.call('GET', '/compute/v2.1/flavors/2', undefined, mv('2.79'))).body.flavor.swap, 0);
  });

  it('server image: "" for a server booted from a volume, {id, links} for an image-backed one, at 2.67 and 2.79; volume attachments per microversion', async () => {
    const vol = (await api.call('POST', `/volume/v3/${x.project}/volumes`, { volume: { name: 'bfv-root', size: 10, imageRef: x.image } })).body.volume;
    await until(async () => (await api.call('GET', `/volume/v3/${x.project}/volumes/${vol.id}`)).body.volume.status === 'available');
    const bfv = (await api.call('POST', '/compute/v2.1/servers', { server: { name: 'bfv', flavorRef: '2', networks: [{ uuid: x.net }], block_device_mapping_v2: [{ boot_index: 0, uuid: vol.id, source_type: 'volume', destination_type: 'volume', delete_on_termination: true }] } }, mv('2.67'))).body.server.id;
    const imgBacked = (await api.call('POST', '/compute/v2.1/servers', { server: { name: 'img', flavorRef: '2', imageRef: x.image, networks: [{ uuid: x.net }] } }, mv('2.67'))).body.server.id;
    for (const v of ['2.67', '2.79']) {
      assert.equal((await api.call('GET', `/compute/v2.1/servers/${bfv}`, undefined, mv(v))).body.server.image, '');
      const img = (await api.call('GET', `/compute/v2.1/servers/${imgBacked}`, undefined, mv(v))).body.server.image;
      assert.equal(img.id, x.image);
      assert.ok(Array.isArray(img.links));
    }
    assert.equal(real('compute/server-detail-active.json').server.image, '', 'the recorded BFV server says "" too');
    const list = (await api.call('GET', '/compute/v2.1/servers/detail?name=^bfv$', undefined, mv('2.67'))).body.servers;
    assert.equal(list[0].image, '');
    const va79 = (await api.call('GET', `/compute/v2.1/servers/${bfv}/os-volume_attachments`, undefined, mv('2.79'))).body.volumeAttachments[0];
    assert.equal(va79.tag, null);
    assert.equal(va79.delete_on_termination, true);
    const va67 = (await api.call('GET', `/compute/v2.1/servers/${bfv}/os-volume_attachments`, undefined, mv('2.67'))).body.volumeAttachments[0];
    assert.deepEqual(Object.keys(va67).sort(), ['device', 'id', 'serverId', 'volumeId']);
  });

  it('server_groups (2.71+) only in GET /servers/{id}; os-interface tag (2.70+)', async () => {
    const id = (await api.call('POST', '/compute/v2.1/servers', { server: { name: 'sg', flavorRef: '2', imageRef: x.image, networks: [{ uuid: x.net }] } })).body.server.id;
    assert.deepEqual((await api.call('GET', `/compute/v2.1/servers/${id}`, undefined, mv('2.79'))).body.server.server_groups, []);
    assert.ok(!('server_groups' in (await api.call('GET', `/compute/v2.1/servers/${id}`, undefined, mv('2.67'))).body.server));
    const l = (await api.call('GET', '/compute/v2.1/servers/detail?name=^sg$', undefined, mv('2.79'))).body.servers[0];
    assert.ok(!('server_groups' in l), 'lists do not carry server_groups');
    await until(async () => (await api.call('GET', `/compute/v2.1/servers/${id}`)).body.server.status === 'ACTIVE');
    const ifs = (await api.call('GET', `/compute/v2.1/servers/${id}/os-interface`, undefined, mv('2.79'))).body.interfaceAttachments;
    assert.equal(ifs[0].tag, null);
    assert.ok(!('tag' in (await api.call('GET', `/compute/v2.1/servers/${id}/os-interface`, undefined, mv('2.67'))).body.interfaceAttachments[0]));
  });

  it('NoValidHost: ERROR with no hostId and no addresses, the requested AZ, the fault only in the single GET; a client port stays unbound and the boot volume is released by the delete', async () => {
    const vol = (await api.call('POST', `/volume/v3/${x.project}/volumes`, { volume: { name: 'nohost-root', size: 10, imageRef: x.image } })).body.volume;
    await until(async () => (await api.call('GET', `/volume/v3/${x.project}/volumes/${vol.id}`)).body.volume.status === 'available');
    const port = (await api.call('POST', '/network/v2.0/ports', { port: { network_id: x.net, name: 'nohost-port' } })).body.port;
    const id = (await api.call('POST', '/compute/v2.1/servers', { server: { name: 'nohost-1', flavorRef: '2', availability_zone: 'az2', networks: [{ port: port.id }], block_device_mapping_v2: [{ boot_index: 0, uuid: vol.id, source_type: 'volume', destination_type: 'volume', delete_on_termination: false }] } }, mv('2.67'))).body.server.id;
    const building = (await api.call('GET', `/compute/v2.1/servers/${id}`, undefined, mv('2.67'))).body.server;
    assert.equal(building['OS-EXT-AZ:availability_zone'], 'az2', 'the requested AZ shows from the start, as in servers-detail-building.json');
    const s = await until(async () => { const b = (await api.call('GET', `/compute/v2.1/servers/${id}`, undefined, mv('2.79'))).body.server; return b.status === 'ERROR' && b; });
    const r = real('compute/server-detail-error-novalidhost.json').server;
    assert.equal(s.hostId, r.hostId);
    assert.deepEqual(s.addresses, r.addresses);
    assert.equal(s.image, r.image);
    assert.equal(s['OS-EXT-AZ:availability_zone'], 'az2');
    assert.equal(s.fault.code, 500);
    assert.match(s.fault.message, /^No valid host was found/);
    assert.equal(s['os-extended-volumes:volumes_attached'][0].id, vol.id);
    const inList = (await api.call('GET', '/compute/v2.1/servers/detail?name=^nohost-1$', undefined, mv('2.79'))).body.servers[0];
    assert.ok(!('fault' in inList));
    const p = (await api.call('GET', `/network/v2.0/ports/${port.id}`)).body.port;
    assert.equal(p.device_id, '');
    assert.equal((await api.call('GET', `/network/v2.0/ports?device_id=${id}`)).body.ports.length, 0);
    assert.equal((await api.call('GET', `/compute/v2.1/servers/${id}/os-interface`)).body.interfaceAttachments.length, 0);
    assert.equal((await api.call('DELETE', `/compute/v2.1/servers/${id}`)).status, 204);
    await until(async () => (await api.call('GET', `/compute/v2.1/servers/${id}`)).status === 404);
    assert.equal((await api.call('GET', `/volume/v3/${x.project}/volumes/${vol.id}`)).body.volume.status, 'available');
  });

  it('neutron security group rules carry normalized_cidr, remote_address_group_id, standard_attr_id and tags', async () => {
    const sgs = (await api.call('GET', `/network/v2.0/security-groups?project_id=${x.project}`)).body.security_groups as any[];
    const rule = sgs[0].security_group_rules[0];
    for (const k of Object.keys(real('network/security-groups.json').security_groups[0].security_group_rules[0])) assert.ok(k in rule, k);
    const created = (await api.call('POST', '/network/v2.0/security-group-rules', { security_group_rule: { security_group_id: sgs[0].id, direction: 'ingress', protocol: 'tcp', port_range_min: 6443, port_range_max: 6443, remote_ip_prefix: '10.1.2.3/16' } })).body.security_group_rule;
    assert.equal(created.normalized_cidr, '10.1.0.0/16');
    assert.equal(typeof created.standard_attr_id, 'number');
    assert.ok(created.standard_attr_id > rule.standard_attr_id);
  });

  it('cinder: quota usage per volume type, service_uuid/shared_targets (3.48+) once the volume is placed', async () => {
    const q = (await api.call('GET', `/volume/v3/${x.project}/os-quota-sets/${x.project}?usage=true`, undefined, { 'OpenStack-API-Version': 'volume 3.59' })).body.quota_set;
    for (const k of Object.keys(real('volume/quota-set-usage.json').quota_set)) assert.ok(k in q, k);
    assert.deepEqual(Object.keys(q.volumes___DEFAULT__).sort(), ['in_use', 'limit', 'reserved']);
    assert.equal(q.volumes___DEFAULT__.limit, -1);
    const v = (await api.call('POST', `/volume/v3/${x.project}/volumes`, { volume: { name: 'svc', size: 1, volume_type: 'ssd' } }, { 'OpenStack-API-Version': 'volume 3.59' })).body.volume;
    assert.equal(v.service_uuid, null);
    assert.equal(v.shared_targets, true);
    const got = await until(async () => { const b = (await api.call('GET', `/volume/v3/${x.project}/volumes/${v.id}`, undefined, { 'OpenStack-API-Version': 'volume 3.59' })).body.volume; return b.status === 'available' && b; });
    assert.match(got.service_uuid, /^[0-9a-f-]{36}$/);
    assert.equal(got.shared_targets, false);
    assert.ok(!('service_uuid' in (await api.call('GET', `/volume/v3/${x.project}/volumes/${v.id}`, undefined, { 'OpenStack-API-Version': 'volume 3.47' })).body.volume));
    const q2 = (await api.call('GET', `/volume/v3/${x.project}/os-quota-sets/${x.project}?usage=true`)).body.quota_set;
    assert.equal(q2.volumes_ssd.in_use, q.volumes_ssd.in_use + 1);
    assert.equal(q2.gigabytes_ssd.in_use, q.gigabytes_ssd.in_use + 1);
  });
});
