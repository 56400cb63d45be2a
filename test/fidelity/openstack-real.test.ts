/**
 * Fidelity against REAL OpenStack bodies (fixtures/openstack-real, recorded from Debian 12 Zed by the e2e
 * suite, sanitized):
 *  1. each recorded body goes through kadd's own typed client (served by nock), and the typed answer
 *     carries the recorded values;
 *  2. the simulator answers the same requests with bodies of the same shape: same keys, same value types
 *     for every field kadd reads (lib/openstack/types.ts); the other keys the simulator lacks are listed.
 * The requests are those of fixtures/openstack-real/index.json AND of every service's own index
 * (fixtures/openstack-real/<service>/index.json: load-balancer's, recorded by client.e2e.test.ts).
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import nock from 'nock';
import { nullIo, type Io } from '../../lib/io.js';
import type { OpenStackClient } from '../../lib/openstack/types.js';
import type { Sim } from '../sim/index.js';

const FIX = new URL('../../fixtures/openstack-real/', import.meta.url);
const fx = (f: string): any => JSON.parse(readFileSync(new URL(f, FIX), 'utf8'));
type IndexEntry = { request: { method: string; path: string; microversion?: string }; status: number };
/** the main index plus each service directory's own index.json */
function loadIndex(): Record<string, IndexEntry> {
  const files: Record<string, IndexEntry> = { ...fx('index.json').files };
  for (const d of readdirSync(FIX, { withFileTypes: true })) {
    if (d.isDirectory() && existsSync(new URL(`${d.name}/index.json`, FIX))) Object.assign(files, fx(`${d.name}/index.json`).files);
  }
  return files;
}
const INDEX = loadIndex();

const io: Io = nullIo;

const AUTH = 'http://127.0.0.1:5000';
const NOVA = 'http://127.0.0.1:8774';
const CINDER = 'http://127.0.0.1:8776';
const GLANCE = 'http://127.0.0.1:9292';
const NEUTRON = 'http://127.0.0.1:9696';
const OCTAVIA = 'http://127.0.0.1:9876';

function tokenBody(): any {
  const t = fx('identity/token-password-scoped.json');
  t.token.expires_at = new Date(Date.now() + 3600_000).toISOString();
  return t;
}

async function client(): Promise<OpenStackClient> {
  const { createOpenStackClient } = await import('../../lib/openstack/client.js');
  return createOpenStackClient(
    {
      authUrl: `${AUTH}/v3`, authType: 'password', verify: true, auth: { username: 'kadd', password: 'x', project_name: 'kadd', user_domain_name: 'Default', project_domain_name: 'Default' },
      regionName: 'RegionOne', interface: 'public',
    },
    { io, retries: 0, backoffBaseMs: 1 },
  );
}

function serveToken(): void {
  nock(AUTH).post('/v3/auth/tokens').reply(201, tokenBody(), { 'x-subject-token': 'gAAAA-e2e-token', 'content-type': 'application/json' });
}

/** serve one recorded body for a request whose path (with query) matches re */
function serve(origin: string, method: string, re: RegExp, file: string, status = INDEX[file]!.status): void {
  nock(origin).intercept((uri: string) => re.test(uri), method).reply(status, fx(file), { 'content-type': 'application/json' });
}

const PID = '00000000000000000000000000000002';

describe('fidelity: real OpenStack bodies through kadd\'s typed client (nock)', function () {
  let os: OpenStackClient;
  before(() => nock.disableNetConnect());
  after(() => {
    nock.cleanAll();
    nock.enableNetConnect();
  });
  beforeEach(async () => {
    nock.cleanAll();
    serveToken();
    os = await client();
  });
  afterEach(function () {
    if (this.currentTest?.state === 'passed') assert.deepEqual(nock.pendingMocks().filter((m) => !m.includes('auth/tokens')), [], 'every served fixture was requested');
  });

  it('identity/token-password-scoped.json: project and catalog regions', async () => {
    assert.equal(await os.projectId(), PID);
    assert.deepEqual(await os.regions(), ['RegionOne']);
  });

  it('identity/token-password-401.json: refused, the message names the 401', async () => {
    nock.cleanAll();
    nock(AUTH).post('/v3/auth/tokens').reply(401, fx('identity/token-password-401.json'), { 'content-type': 'application/json' });
    const c = await client();
    await assert.rejects(c.projectId(), /401|authenticat|unauthori/i);
  });

  it('compute/flavors-detail.json -> listFlavors', async () => {
    serve(NOVA, 'GET', /^\/v2\.1\/flavors\/detail/, 'compute/flavors-detail.json');
    const f = await os.compute.listFlavors();
    const raw = fx('compute/flavors-detail.json').flavors;
    assert.deepEqual(f.map((x) => x.name), raw.map((x: any) => x.name));
    const huge = f.find((x) => x.name === 'e2e.huge')!;
    assert.equal(huge.vcpus, 64);
    assert.equal(huge.ram, 1_000_000);
  });

  it('compute/keypair-detail.json -> getKeypair; 404 -> null', async () => {
    serve(NOVA, 'GET', /^\/v2\.1\/os-keypairs\/kadd-e2e$/, 'compute/keypair-detail.json');
    assert.equal((await os.compute.getKeypair('kadd-e2e'))?.name, 'kadd-e2e');
    nock(NOVA).get('/v2.1/os-keypairs/nope').reply(404, { itemNotFound: { code: 404, message: 'Keypair nope not found for user x' } });
    assert.equal(await os.compute.getKeypair('nope'), null);
  });

  it('compute/availability-zones.json -> listAvailabilityZones', async () => {
    serve(NOVA, 'GET', /^\/v2\.1\/os-availability-zone$/, 'compute/availability-zones.json');
    const z = await os.compute.listAvailabilityZones();
    assert.ok(z.some((x) => x.zoneName === 'az1' && x.zoneState.available === true), JSON.stringify(z));
  });

  it('compute/limits.json -> getLimits', async () => {
    serve(NOVA, 'GET', /^\/v2\.1\/limits$/, 'compute/limits.json');
    const l = await os.compute.getLimits();
    const raw = fx('compute/limits.json').limits.absolute;
    for (const k of ['maxTotalCores', 'totalCoresUsed', 'maxTotalRAMSize', 'totalRAMUsed', 'maxTotalInstances', 'totalInstancesUsed'] as const) {
      assert.equal(typeof l[k], 'number', k);
      assert.equal(l[k], raw[k], k);
    }
  });

  it('compute/server-create.json -> createServer', async () => {
    serve(NOVA, 'POST', /^\/v2\.1\/servers$/, 'compute/server-create.json');
    const r = await os.compute.createServer({ name: 'x', flavorRef: 'f', networks: 'none', user_data: '#cloud-config\n' });
    assert.equal(r.id, fx('compute/server-create.json').server.id);
  });

  it('compute/servers-detail-active.json and -building.json -> listServers', async () => {
    serve(NOVA, 'GET', /^\/v2\.1\/servers\/detail\?/, 'compute/servers-detail-building.json');
    const [b] = await os.compute.listServers({ name: '^kadd-e2e-smoke-vm$' });
    assert.equal(b!.status, 'BUILD');
    serve(NOVA, 'GET', /^\/v2\.1\/servers\/detail\?/, 'compute/servers-detail-active.json');
    const [a] = await os.compute.listServers({ name: '^kadd-e2e-smoke-vm$' });
    assert.equal(a!.status, 'ACTIVE');
    assert.equal(a!['OS-EXT-AZ:availability_zone'], 'az1');
    const addr = Object.values(a!.addresses ?? {})[0]?.[0];
    assert.equal(addr?.version, 4);
    assert.match(addr?.addr ?? '', /^\d+\.\d+\.\d+\.\d+$/);
    assert.equal(a!['os-extended-volumes:volumes_attached']?.length, 1);
  });

  it('compute/server-detail-active.json, -404.json, -error-novalidhost.json -> getServer (fault only in the single GET)', async () => {
    const id = '00000000-0000-4000-8000-000000000035';
    serve(NOVA, 'GET', new RegExp(`^/v2\\.1/servers/${id}$`), 'compute/server-detail-active.json');
    assert.equal((await os.compute.getServer(id))?.status, 'ACTIVE');
    serve(NOVA, 'GET', new RegExp(`^/v2\\.1/servers/${id}$`), 'compute/server-detail-404.json');
    assert.equal(await os.compute.getServer(id), null);
    const eid = '00000000-0000-4000-8000-000000000037';
    serve(NOVA, 'GET', new RegExp(`^/v2\\.1/servers/${eid}$`), 'compute/server-detail-error-novalidhost.json');
    const e = await os.compute.getServer(eid);
    assert.equal(e?.status, 'ERROR');
    assert.match(e?.fault?.message ?? '', /No valid host was found/);
    assert.equal(e?.fault?.code, 500);
  });

  it('compute/console-output.json -> getConsoleOutput', async () => {
    const id = '00000000-0000-4000-8000-000000000035';
    serve(NOVA, 'POST', new RegExp(`^/v2\\.1/servers/${id}/action$`), 'compute/console-output.json');
    assert.equal(await os.compute.getConsoleOutput(id, 50), fx('compute/console-output.json').output);
  });

  it('image/images-by-name.json, image-detail.json -> findImage by name and by id', async () => {
    serve(GLANCE, 'GET', /^\/v2\/images\?name=kadd-e2e-image/, 'image/images-by-name.json');
    const byName = await os.image.findImage('kadd-e2e-image');
    assert.equal(byName?.status, 'active');
    const id = fx('image/image-detail.json').id;
    serve(GLANCE, 'GET', new RegExp(`^/v2/images/${id}$`), 'image/image-detail.json');
    const byId = await os.image.findImage(id);
    assert.equal(byId?.name, 'kadd-e2e-image');
    assert.equal(typeof byId?.min_disk, 'number');
  });

  it('volume: limits, create from image, detail available / in-use / 404', async () => {
    serve(CINDER, 'GET', new RegExp(`^/v3/${PID}/limits$`), 'volume/limits.json');
    const l = await os.volume.getLimits();
    const raw = fx('volume/limits.json').limits.absolute;
    for (const k of ['maxTotalVolumes', 'totalVolumesUsed', 'maxTotalVolumeGigabytes', 'totalGigabytesUsed'] as const) assert.equal(l[k], raw[k], k);
    serve(CINDER, 'POST', new RegExp(`^/v3/${PID}/volumes$`), 'volume/volume-create-from-image.json');
    const v = await os.volume.createVolume({ name: 'x', size: 1, imageRef: 'i' });
    assert.equal(v.status, 'creating');
    const id = v.id;
    serve(CINDER, 'GET', new RegExp(`^/v3/${PID}/volumes/${id}$`), 'volume/volume-detail-available.json');
    const a = await os.volume.getVolume(id);
    assert.equal(a?.status, 'available');
    assert.equal(a?.bootable, 'true');
    serve(CINDER, 'GET', new RegExp(`^/v3/${PID}/volumes/${id}$`), 'volume/volume-detail-in-use.json');
    const u = await os.volume.getVolume(id);
    assert.equal(u?.status, 'in-use');
    assert.equal(typeof u?.attachments?.[0]?.server_id, 'string');
    serve(CINDER, 'GET', new RegExp(`^/v3/${PID}/volumes/${id}$`), 'volume/volume-detail-404.json');
    assert.equal(await os.volume.getVolume(id), null);
  });

  it('network: find/create network, subnet, router, interface, external networks, security groups, ports, quota details', async () => {
    serve(NEUTRON, 'GET', /^\/v2\.0\/networks\?.*name=kadd-e2e-smoke-net/, 'network/networks-by-name-empty.json');
    assert.equal(await os.network.findNetwork('kadd-e2e-smoke-net'), null);
    serve(NEUTRON, 'GET', /^\/v2\.0\/networks\?.*name=kadd-e2e-smoke-net/, 'network/networks-by-name.json');
    const net = await os.network.findNetwork('kadd-e2e-smoke-net');
    assert.equal(net?.id, fx('network/networks-by-name.json').networks[0].id);
    serve(NEUTRON, 'POST', /^\/v2\.0\/networks$/, 'network/network-create.json');
    assert.equal((await os.network.createNetwork({ name: 'kadd-e2e-smoke-net' })).name, 'kadd-e2e-smoke-net');
    serve(NEUTRON, 'POST', /^\/v2\.0\/subnets$/, 'network/subnet-create.json');
    const sn = await os.network.createSubnet({ name: 's', network_id: net!.id, cidr: '10.0.0.0/24', ip_version: 4 });
    assert.equal(sn.ip_version, 4);
    serve(NEUTRON, 'GET', /^\/v2\.0\/subnets\?.*network_id=/, 'network/subnets-by-network.json');
    assert.equal((await os.network.listSubnets({ network_id: net!.id }))[0]?.cidr, fx('network/subnets-by-network.json').subnets[0].cidr);
    serve(NEUTRON, 'POST', /^\/v2\.0\/routers$/, 'network/router-create.json');
    const rt = await os.network.createRouter({ name: 'kadd-e2e-smoke-router' });
    assert.equal(typeof rt.external_gateway_info?.network_id, 'string');
    serve(NEUTRON, 'PUT', /^\/v2\.0\/routers\/[^/]+\/add_router_interface$/, 'network/router-add-interface.json');
    await os.network.addRouterInterface(rt.id, sn.id);
    serve(NEUTRON, 'GET', /^\/v2\.0\/routers\?.*name=kadd-e2e-smoke-router/, 'network/routers-by-name.json');
    assert.equal((await os.network.findRouter('kadd-e2e-smoke-router'))?.id, rt.id);
    serve(NEUTRON, 'GET', /^\/v2\.0\/networks\?.*router%3Aexternal=true/, 'network/networks-external.json');
    assert.ok((await os.network.listExternalNetworks()).some((n) => n.name === 'public' && n['router:external'] === true));
    serve(NEUTRON, 'GET', /^\/v2\.0\/security-groups\?.*name=default/, 'network/security-groups.json');
    assert.equal((await os.network.findSecurityGroup('default'))?.name, 'default');
    serve(NEUTRON, 'POST', /^\/v2\.0\/ports$/, 'network/port-create.json');
    const p = await os.network.createPort({ name: 'kadd-e2e-smoke-port', network_id: net!.id });
    assert.match(p.fixed_ips?.[0]?.ip_address ?? '', /^\d+\.\d+\.\d+\.\d+$/);
    serve(NEUTRON, 'GET', /^\/v2\.0\/ports\?.*network_id=/, 'network/ports-by-network.json');
    assert.ok((await os.network.listPorts({ network_id: net!.id })).length >= 1);
    serve(NEUTRON, 'GET', new RegExp(`^/v2\\.0/quotas/${PID}/details`), 'network/quota-details.json');
    const q = await os.network.getQuotaDetails(PID);
    assert.equal(q.port.limit, 100);
    assert.equal(typeof q.port.used, 'number');
    assert.equal(typeof q.port.reserved, 'number');
  });

  it('load-balancer: findLoadBalancer, listListeners, listPools, listMembers', async () => {
    const lbRaw = fx('load-balancer/loadbalancers-by-name.json').loadbalancers[0];
    serve(OCTAVIA, 'GET', /^\/v2\/lbaas\/loadbalancers\?name=kadd-e2e-cli-mwqvtnk0-lb$/, 'load-balancer/loadbalancers-by-name.json');
    const lb = await os.loadbalancer.findLoadBalancer('kadd-e2e-cli-mwqvtnk0-lb');
    assert.equal(lb?.id, lbRaw.id);
    assert.equal(lb!.vip_address, lbRaw.vip_address);
    assert.equal(lb!.provisioning_status, 'ACTIVE');
    assert.deepEqual(lb!.listeners, lbRaw.listeners);
    assert.deepEqual(lb!.pools, lbRaw.pools);
    serve(OCTAVIA, 'GET', new RegExp(`^/v2/lbaas/listeners\\?loadbalancer_id=${lbRaw.id}$`), 'load-balancer/listeners-by-loadbalancer.json');
    const [l] = await os.loadbalancer.listListeners({ loadbalancer_id: lbRaw.id });
    assert.deepEqual([l!.protocol, l!.protocol_port, l!.default_pool_id, l!.loadbalancers?.[0]?.id], ['TCP', 6443, lbRaw.pools[0].id, lbRaw.id]);
    serve(OCTAVIA, 'GET', new RegExp(`^/v2/lbaas/pools\\?loadbalancer_id=${lbRaw.id}$`), 'load-balancer/pools-by-loadbalancer.json');
    const [p] = await os.loadbalancer.listPools({ loadbalancer_id: lbRaw.id });
    assert.deepEqual([p!.id, p!.lb_algorithm, p!.listeners?.[0]?.id, p!.provisioning_status], [lbRaw.pools[0].id, 'ROUND_ROBIN', l!.id, 'ACTIVE']);
    serve(OCTAVIA, 'GET', new RegExp(`^/v2/lbaas/pools/${p!.id}/members$`), 'load-balancer/members-empty.json');
    assert.deepEqual(await os.loadbalancer.listMembers(p!.id), []);
    serve(OCTAVIA, 'GET', new RegExp(`^/v2/lbaas/pools/${p!.id}/members$`), 'load-balancer/members.json');
    const ms = await os.loadbalancer.listMembers(p!.id);
    assert.deepEqual(ms.map((m) => [m.address, m.protocol_port, m.provisioning_status, m.subnet_id]), fx('load-balancer/members.json').members.map((m: any) => [m.address, 6443, 'ACTIVE', m.subnet_id]));
  });

  it('load-balancer: createMember waits out the real 409 (pool immutable) and returns the member; deleteMember of a gone member resolves', async () => {
    const pool = fx('load-balancer/pools-by-loadbalancer.json').pools[0];
    const member = fx('load-balancer/member-detail.json').member;
    const members = new RegExp(`^/v2/lbaas/pools/${pool.id}/members$`);
    serve(OCTAVIA, 'POST', members, 'load-balancer/member-create-409-pending-update.json');
    // while refused, kadd polls the pool until it leaves PENDING_*; the real pool is ACTIVE
    nock(OCTAVIA).get(`/v2/lbaas/pools/${pool.id}`).reply(200, { pool }, { 'content-type': 'application/json' });
    nock(OCTAVIA).post(`/v2/lbaas/pools/${pool.id}/members`).reply(201, { member }, { 'content-type': 'application/json' });
    const m = await os.loadbalancer.createMember(pool.id, { name: member.name, address: member.address, protocol_port: 6443, subnet_id: member.subnet_id });
    assert.equal(m.id, member.id);
    assert.equal(m.subnet_id, member.subnet_id);
    const gone = fx('load-balancer/member-not-found.json');
    nock(OCTAVIA).delete(`/v2/lbaas/pools/${pool.id}/members/${member.id}`).reply(404, gone, { 'content-type': 'application/json' });
    await os.loadbalancer.deleteMember(pool.id, member.id);
  });

  it('load-balancer: the real fault body becomes the error message (faultstring)', async () => {
    const pool = fx('load-balancer/pools-by-loadbalancer.json').pools[0];
    serve(OCTAVIA, 'GET', new RegExp(`^/v2/lbaas/pools/${pool.id}/members$`), 'load-balancer/member-not-found.json', 404);
    await assert.rejects(os.loadbalancer.listMembers(pool.id), (e: Error) => {
      assert.match(e.message, /Member 00000000-0000-4000-8000-000000000007 not found\./);
      return true;
    });
  });
});

// ------------------------------------------------------------------------------------------------
// 2. simulator vs real: same keys, same value types

type Diff = { missing: string[]; typeDiff: string[] };

function kind(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

/** keys of the real body the sim lacks, and type mismatches (null on either side matches anything) */
export function compareShape(real: unknown, sim: unknown, path = '', out: Diff = { missing: [], typeDiff: [] }): Diff {
  const kr = kind(real);
  const ks = kind(sim);
  if (kr === 'null' || ks === 'null') return out;
  if (kr !== ks) {
    out.typeDiff.push(`${path || '.'}: real ${kr}, sim ${ks}`);
    return out;
  }
  if (kr === 'array') {
    const r = real as unknown[];
    const s = sim as unknown[];
    if (r.length && s.length) compareShape(r[0], s[0], `${path}[]`, out);
    return out;
  }
  if (kr === 'object') {
    const r = real as Record<string, unknown>;
    const s = sim as Record<string, unknown>;
    // maps keyed by data (addresses by network name, volumes' metadata...) compare their values only
    const dataKeyed = /(addresses|metadata|properties|extra_specs|volume_image_metadata)$/.test(path);
    if (dataKeyed) {
      const rv = Object.values(r)[0];
      const sv = Object.values(s)[0];
      if (rv !== undefined && sv !== undefined) compareShape(rv, sv, `${path}{}`, out);
      return out;
    }
    for (const k of Object.keys(r)) {
      const p = path ? `${path}.${k}` : k;
      if (!(k in s)) out.missing.push(p);
      else compareShape(r[k], s[k], p, out);
    }
  }
  return out;
}

// lib/openstack/types.ts LoadBalancer / Listener / Pool / Member, and Octavia's fault body (kadd reads faultstring)
const LB_READS = ['id', 'name', 'vip_address', 'vip_subnet_id', 'provisioning_status', 'operating_status', 'listeners', 'pools'];
const LISTENER_READS = ['id', 'name', 'protocol', 'protocol_port', 'default_pool_id', 'loadbalancers'];
const POOL_READS = ['id', 'name', 'protocol', 'lb_algorithm', 'listeners', 'loadbalancers', 'members', 'provisioning_status'];
const MEMBER_READS = ['id', 'name', 'address', 'protocol_port', 'subnet_id', 'provisioning_status', 'operating_status'];
const FAULT = ['faultcode', 'faultstring', 'debuginfo'];

/** What kadd reads of each body (lib/openstack/types.ts): these must be present with the same type. */
const KADD_READS: Record<string, string[]> = {
  'compute/flavors-detail.json': ['flavors[].id', 'flavors[].name', 'flavors[].vcpus', 'flavors[].ram', 'flavors[].disk'],
  'compute/keypair-detail.json': ['keypair.name', 'keypair.fingerprint', 'keypair.type'],
  'compute/availability-zones.json': ['availabilityZoneInfo[].zoneName', 'availabilityZoneInfo[].zoneState.available'],
  'compute/limits.json': ['limits.absolute.maxTotalCores', 'limits.absolute.totalCoresUsed', 'limits.absolute.maxTotalRAMSize', 'limits.absolute.totalRAMUsed', 'limits.absolute.maxTotalInstances', 'limits.absolute.totalInstancesUsed'],
  'compute/server-create.json': ['server.id'],
  'compute/servers-detail-active.json': ['servers[].id', 'servers[].name', 'servers[].status', 'servers[].OS-EXT-STS:task_state', 'servers[].OS-EXT-AZ:availability_zone', 'servers[].addresses', 'servers[].metadata', 'servers[].flavor', 'servers[].key_name', 'servers[].os-extended-volumes:volumes_attached'],
  'compute/server-detail-active.json': ['server.id', 'server.name', 'server.status', 'server.addresses', 'server.os-extended-volumes:volumes_attached'],
  'compute/server-detail-error-novalidhost.json': ['server.status', 'server.fault.code', 'server.fault.message'],
  'compute/console-output.json': ['output'],
  'image/images-by-name.json': ['images[].id', 'images[].name', 'images[].status', 'images[].min_disk'],
  'image/image-detail.json': ['id', 'name', 'status', 'min_disk'],
  'volume/limits.json': ['limits.absolute.maxTotalVolumes', 'limits.absolute.totalVolumesUsed', 'limits.absolute.maxTotalVolumeGigabytes', 'limits.absolute.totalGigabytesUsed'],
  'volume/volume-create-from-image.json': ['volume.id', 'volume.status', 'volume.size'],
  'volume/volume-detail-available.json': ['volume.id', 'volume.name', 'volume.status', 'volume.size', 'volume.availability_zone', 'volume.bootable', 'volume.metadata'],
  'network/networks-by-name.json': ['networks[].id', 'networks[].name', 'networks[].subnets', 'networks[].project_id'],
  'network/network-create.json': ['network.id', 'network.name'],
  'network/subnet-create.json': ['subnet.id', 'subnet.name', 'subnet.network_id', 'subnet.cidr', 'subnet.ip_version'],
  'network/router-create.json': ['router.id', 'router.name', 'router.external_gateway_info'],
  'network/port-create.json': ['port.id', 'port.name', 'port.network_id', 'port.fixed_ips[].ip_address', 'port.fixed_ips[].subnet_id'],
  'network/quota-details.json': ['quota.port.used', 'quota.port.limit', 'quota.port.reserved'],
  'load-balancer/loadbalancer-create.json': [...LB_READS.map((k) => `loadbalancer.${k}`)],
  'load-balancer/loadbalancer-detail.json': [...LB_READS.map((k) => `loadbalancer.${k}`)],
  'load-balancer/loadbalancers-by-name.json': [...LB_READS.map((k) => `loadbalancers[].${k}`)],
  'load-balancer/listener-create.json': LISTENER_READS.map((k) => `listener.${k}`),
  'load-balancer/listeners-by-loadbalancer.json': LISTENER_READS.map((k) => `listeners[].${k}`),
  'load-balancer/pool-create.json': POOL_READS.map((k) => `pool.${k}`),
  'load-balancer/pools-by-loadbalancer.json': POOL_READS.map((k) => `pools[].${k}`),
  'load-balancer/members-empty.json': ['members'],
  'load-balancer/members.json': MEMBER_READS.map((k) => `members[].${k}`),
  'load-balancer/member-detail.json': MEMBER_READS.map((k) => `member.${k}`),
  'load-balancer/member-create-409-pending-update.json': FAULT,
  'load-balancer/member-not-found.json': FAULT,
};

/**
 * Values that must be the real ones (not only the type): Octavia's status transitions and its fault texts
 * (ids masked). Member operating_status is left out: the e2e provider reports ONLINE, Octavia itself says
 * NO_MONITOR for a pool without health monitor (what the simulator answers, like the API reference).
 */
const SAME_VALUE: Record<string, string[]> = {
  'load-balancer/loadbalancer-create.json': ['loadbalancer.provisioning_status', 'loadbalancer.operating_status'],
  'load-balancer/loadbalancer-detail.json': ['loadbalancer.provisioning_status', 'loadbalancer.operating_status'],
  'load-balancer/loadbalancers-by-name.json': ['loadbalancers[].provisioning_status', 'loadbalancers[].operating_status'],
  'load-balancer/listener-create.json': ['listener.provisioning_status', 'listener.operating_status', 'listener.default_pool_id'],
  'load-balancer/listeners-by-loadbalancer.json': ['listeners[].provisioning_status', 'listeners[].operating_status', 'listeners[].protocol', 'listeners[].protocol_port'],
  'load-balancer/pool-create.json': ['pool.provisioning_status', 'pool.operating_status', 'pool.members'],
  'load-balancer/pools-by-loadbalancer.json': ['pools[].provisioning_status', 'pools[].operating_status', 'pools[].lb_algorithm'],
  'load-balancer/members-empty.json': ['members'],
  'load-balancer/members.json': ['members[].provisioning_status', 'members[].protocol_port', 'members[].weight', 'members[].backup', 'members[].subnet_id'],
  'load-balancer/member-detail.json': ['member.provisioning_status', 'member.protocol_port', 'member.weight', 'member.backup'],
  'load-balancer/member-create-409-pending-update.json': FAULT,
  'load-balancer/member-not-found.json': FAULT,
};

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32}/g;
/** comparable value: ids masked, so a fault text or an id field compares by form */
function norm(v: unknown): unknown {
  return typeof v === 'string' ? v.replace(UUID, '<id>') : v;
}

function getPath(body: unknown, p: string): unknown {
  let cur: unknown = body;
  for (const raw of p.split('.')) {
    const arr = raw.endsWith('[]');
    const key = arr ? raw.slice(0, -2) : raw;
    if (!cur || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[key];
    if (arr) cur = Array.isArray(cur) ? cur[0] : undefined;
  }
  return cur;
}

function hasPath(body: unknown, p: string): boolean {
  let cur: unknown[] = [body];
  // walk: segments split on '.', except inside names like OS-EXT-AZ:availability_zone (no dots there)
  for (const raw of p.split('.')) {
    const arr = raw.endsWith('[]');
    const key = arr ? raw.slice(0, -2) : raw;
    const next: unknown[] = [];
    for (const c of cur) {
      if (!c || typeof c !== 'object' || !(key in (c as object))) return false;
      const v = (c as Record<string, unknown>)[key];
      if (arr) {
        if (!Array.isArray(v) || v.length === 0) return false;
        next.push(v[0]);
      } else next.push(v);
    }
    cur = next;
  }
  return true;
}

describe('fidelity: simulator bodies vs real OpenStack bodies (same keys, same types)', function () {
  this.timeout(30_000);
  let sim: Sim;
  let token = '';
  const simBodies: Record<string, unknown> = {};
  /** the simulator's status code, where the test recorded it (Octavia's requests) */
  const simStatus: Record<string, number> = {};
  const report: string[] = [];

  async function call(method: string, path: string, body?: unknown, mv?: string): Promise<{ status: number; body: any }> {
    const headers: Record<string, string> = { 'x-auth-token': token, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (mv) headers['openstack-api-version'] = mv;
    const r = await fetch(`${sim.baseUrl}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : undefined };
  }

  before(async function () {
    nock.enableNetConnect();
    const { startSim } = await import('../sim/index.js');
    sim = await startSim({
      // lbChange 300 s x 0.001: a load balancer stays PENDING_UPDATE ~300 ms after a write, long enough to be refused (409)
      scenario: { seed: 1, timeScale: 0.001, latency: { lbChange: 300_000 }, faults: { serverError: [{ name: '^bad-', message: 'No valid host was found. There are not enough hosts available.', code: 500 }] } },
    });
    token = await sim.token();
    const C = (p: string) => `/compute/v2.1${p}`;
    const V = (p: string) => `/volume/v3/${sim.projectId}${p}`;
    const N = (p: string) => `/network/v2.0${p}`;
    const NV = 'compute 2.79';
    const put = (f: string, b: unknown) => (simBodies[f] = b);

    const tok = await fetch(`${sim.baseUrl}/identity/v3/auth/tokens`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ auth: { identity: { methods: ['password'], password: { user: { name: 'kadd', password: 'kadd-secret', domain: { name: 'Default' } } } }, scope: { project: { name: 'kadd', domain: { name: 'Default' } } } } }),
    });
    put('identity/token-password-scoped.json', await tok.json());
    const bad = await fetch(`${sim.baseUrl}/identity/v3/auth/tokens`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ auth: { identity: { methods: ['password'], password: { user: { name: 'kadd', password: 'wrong', domain: { name: 'Default' } } } }, scope: { project: { name: 'kadd', domain: { name: 'Default' } } } } }),
    });
    put('identity/token-password-401.json', await bad.json());

    const flavors = (await call('GET', C('/flavors/detail'), undefined, NV)).body;
    put('compute/flavors-detail.json', flavors);
    put('compute/flavor-detail.json', (await call('GET', C(`/flavors/${flavors.flavors[0].id}`), undefined, NV)).body);
    put('compute/keypairs.json', (await call('GET', C('/os-keypairs'), undefined, NV)).body);
    put('compute/keypair-detail.json', (await call('GET', C('/os-keypairs/kadd'), undefined, NV)).body);
    put('compute/availability-zones.json', (await call('GET', C('/os-availability-zone'), undefined, NV)).body);
    put('compute/limits.json', (await call('GET', C('/limits'), undefined, NV)).body);
    put('compute/quota-set-detail.json', (await call('GET', C(`/os-quota-sets/${sim.projectId}/detail`), undefined, NV)).body);

    const images = (await call('GET', `/image/v2/images?name=ubuntu-22.04`)).body;
    put('image/images-by-name.json', images);
    put('image/image-detail.json', (await call('GET', `/image/v2/images/${images.images[0].id}`)).body);

    put('network/networks-by-name-empty.json', (await call('GET', N('/networks?name=fid-net'))).body);
    const net = (await call('POST', N('/networks'), { network: { name: 'fid-net', admin_state_up: true } })).body;
    put('network/network-create.json', net);
    put('network/networks-by-name.json', (await call('GET', N('/networks?name=fid-net'))).body);
    const sn = (await call('POST', N('/subnets'), { subnet: { name: 'fid-subnet', network_id: net.network.id, cidr: '10.9.0.0/24', ip_version: 4 } })).body;
    put('network/subnet-create.json', sn);
    put('network/subnets-by-network.json', (await call('GET', N(`/subnets?network_id=${net.network.id}`))).body);
    const ext = (await call('GET', N('/networks?router:external=true'))).body;
    put('network/networks-external.json', ext);
    const rt = (await call('POST', N('/routers'), { router: { name: 'fid-router', external_gateway_info: ext.networks[0] ? { network_id: ext.networks[0].id } : undefined } })).body;
    put('network/router-create.json', rt);
    put('network/router-add-interface.json', (await call('PUT', N(`/routers/${rt.router.id}/add_router_interface`), { subnet_id: sn.subnet.id })).body);
    put('network/routers-by-name.json', (await call('GET', N('/routers?name=fid-router'))).body);
    put('network/security-groups.json', (await call('GET', N(`/security-groups?project_id=${sim.projectId}`))).body);
    const port = (await call('POST', N('/ports'), { port: { name: 'fid-port', network_id: net.network.id, fixed_ips: [{ subnet_id: sn.subnet.id }] } })).body;
    put('network/port-create.json', port);
    put('network/ports-by-network.json', (await call('GET', N(`/ports?network_id=${net.network.id}`))).body);
    put('network/quota-details.json', (await call('GET', N(`/quotas/${sim.projectId}/details`))).body);

    put('volume/availability-zones.json', (await call('GET', V('/os-availability-zone'), undefined, 'volume 3.60')).body);
    put('volume/limits.json', (await call('GET', V('/limits'), undefined, 'volume 3.60')).body);
    put('volume/quota-set-usage.json', (await call('GET', V(`/os-quota-sets/${sim.projectId}?usage=true`), undefined, 'volume 3.60')).body);
    const vol = (await call('POST', V('/volumes'), { volume: { name: 'fid-vol', size: 20, imageRef: images.images[0].id } }, 'volume 3.60')).body;
    if (!vol?.volume) throw new Error(`sim volume create: ${JSON.stringify(vol)}`);
    put('volume/volume-create-from-image.json', vol);
    let v: any;
    for (let i = 0; i < 200; i++) {
      v = (await call('GET', V(`/volumes/${vol.volume.id}`), undefined, 'volume 3.60')).body;
      if (v.volume.status === 'available') break;
      await new Promise((r) => setTimeout(r, 10));
    }
    put('volume/volume-detail-available.json', v);

    const srv = (await call('POST', C('/servers'), {
      server: {
        name: 'fid-vm', flavorRef: flavors.flavors[0].id, networks: [{ port: port.port.id }], key_name: 'kadd', availability_zone: undefined,
        block_device_mapping_v2: [{ boot_index: 0, uuid: vol.volume.id, source_type: 'volume', destination_type: 'volume', delete_on_termination: true }],
      },
    }, NV)).body;
    put('compute/server-create.json', srv);
    put('compute/servers-detail-building.json', (await call('GET', C('/servers/detail?name=^fid-vm$'), undefined, NV)).body);
    let s: any;
    for (let i = 0; i < 300; i++) {
      s = (await call('GET', C(`/servers/${srv.server.id}`), undefined, NV)).body;
      if (s.server.status !== 'BUILD') break;
      await new Promise((r) => setTimeout(r, 10));
    }
    put('compute/server-detail-active.json', s);
    put('compute/servers-detail-active.json', (await call('GET', C('/servers/detail?name=^fid-vm$'), undefined, NV)).body);
    put('compute/server-interfaces.json', (await call('GET', C(`/servers/${srv.server.id}/os-interface`), undefined, NV)).body);
    put('compute/console-output.json', (await call('POST', C(`/servers/${srv.server.id}/action`), { 'os-getConsoleOutput': { length: 50 } }, NV)).body);
    put('volume/volume-detail-in-use.json', (await call('GET', V(`/volumes/${vol.volume.id}`), undefined, 'volume 3.60')).body);
    put('network/port-detail-bound.json', (await call('GET', N(`/ports/${port.port.id}`))).body);

    const badSrv = (await call('POST', C('/servers'), { server: { name: 'bad-1', flavorRef: [...flavors.flavors].sort((a: any, b: any) => b.disk - a.disk)[0].id, imageRef: images.images[0].id, networks: [{ uuid: net.network.id }] } }, NV)).body;
    if (!badSrv?.server) throw new Error(`sim server create: ${JSON.stringify(badSrv)}`);
    let e: any;
    for (let i = 0; i < 300; i++) {
      e = (await call('GET', C(`/servers/${badSrv.server.id}`), undefined, NV)).body;
      if (e.server.status !== 'BUILD') break;
      await new Promise((r) => setTimeout(r, 10));
    }
    put('compute/server-detail-error-novalidhost.json', e);

    await call('DELETE', C(`/servers/${srv.server.id}`), undefined, NV);
    for (let i = 0; i < 300; i++) {
      const g = await call('GET', C(`/servers/${srv.server.id}`), undefined, NV);
      if (g.status === 404) {
        put('compute/server-detail-404.json', g.body);
        break;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    const gone = await call('GET', V('/volumes/00000000-0000-4000-8000-00000000dead'), undefined, 'volume 3.60');
    put('volume/volume-detail-404.json', gone.body);

    // ---- Octavia: the sequence of test/e2e/openstack/client.e2e.test.ts (fixtures/openstack-real/load-balancer)
    const O = (p: string) => `/load-balancer/v2/lbaas${p}`;
    const putR = (f: string, r: { status: number; body: any }) => {
      simStatus[f] = r.status;
      put(f, r.body);
    };
    const lbIdle = async (id: string, after: string) => {
      for (let i = 0; i < 500; i++) {
        const st = (await call('GET', O(`/loadbalancers/${id}`))).body.loadbalancer.provisioning_status;
        if (st === 'ACTIVE') return;
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error(`sim load balancer not ACTIVE after ${after}`);
    };
    const lbc = await call('POST', O('/loadbalancers'), { loadbalancer: { name: 'fid-lb', vip_subnet_id: sn.subnet.id, description: 'fidelity' } });
    if (!lbc.body?.loadbalancer) throw new Error(`sim LB create: ${JSON.stringify(lbc.body)}`);
    putR('load-balancer/loadbalancer-create.json', lbc);
    const lbId = lbc.body.loadbalancer.id as string;
    await lbIdle(lbId, 'create');
    const lis = await call('POST', O('/listeners'), { listener: { name: 'master-listener-fid', protocol: 'TCP', protocol_port: 6443, loadbalancer_id: lbId } });
    putR('load-balancer/listener-create.json', lis);
    await lbIdle(lbId, 'listener create');
    const pool = await call('POST', O('/pools'), { pool: { name: 'master-pool-fid', protocol: 'TCP', lb_algorithm: 'ROUND_ROBIN', listener_id: lis.body.listener.id } });
    putR('load-balancer/pool-create.json', pool);
    const poolId = pool.body.pool.id as string;
    await lbIdle(lbId, 'pool create');
    putR('load-balancer/loadbalancers-by-name.json', await call('GET', O('/loadbalancers?name=fid-lb')));
    putR('load-balancer/loadbalancer-detail.json', await call('GET', O(`/loadbalancers/${lbId}`)));
    putR('load-balancer/listeners-by-loadbalancer.json', await call('GET', O(`/listeners?loadbalancer_id=${lbId}`)));
    putR('load-balancer/pools-by-loadbalancer.json', await call('GET', O(`/pools?loadbalancer_id=${lbId}`)));
    putR('load-balancer/members-empty.json', await call('GET', O(`/pools/${poolId}/members`)));
    const m1 = await call('POST', O(`/pools/${poolId}/members`), { member: { name: 'fid-master-1', address: '10.9.0.11', protocol_port: 6443 } });
    if (m1.status !== 201) throw new Error(`sim member create: ${m1.status} ${JSON.stringify(m1.body)}`);
    putR('load-balancer/member-create-409-pending-update.json', await call('POST', O(`/pools/${poolId}/members`), { member: { address: '10.9.0.99', protocol_port: 6443 } }));
    await lbIdle(lbId, 'member create');
    const m2 = await call('POST', O(`/pools/${poolId}/members`), { member: { name: 'fid-master-2', address: '10.9.0.12', protocol_port: 6443, subnet_id: sn.subnet.id } });
    await lbIdle(lbId, 'member create');
    putR('load-balancer/members.json', await call('GET', O(`/pools/${poolId}/members`)));
    putR('load-balancer/member-detail.json', await call('GET', O(`/pools/${poolId}/members/${m2.body.member.id}`)));
    await call('DELETE', O(`/pools/${poolId}/members/${m1.body.member.id}`));
    await lbIdle(lbId, 'member delete');
    putR('load-balancer/member-not-found.json', await call('GET', O(`/pools/${poolId}/members/${m1.body.member.id}`)));
  });

  after(async function () {
    if (sim) await sim.stop();
    if (report.length) console.log(`      keys of the real bodies the simulator lacks (informational):\n        ${report.join('\n        ')}`);
  });

  it('asks for the requests of the service indexes too (load-balancer/index.json)', function () {
    assert.ok(Object.keys(INDEX).filter((f) => f.startsWith('load-balancer/')).length >= 12, Object.keys(INDEX).join(' '));
  });

  it('answers every recorded request', function () {
    const missing = Object.keys(INDEX).filter((f) => !(f in simBodies));
    assert.deepEqual(missing, [], 'recorded requests the simulator was not asked (or did not answer)');
  });

  for (const file of Object.keys(INDEX)) {
    it(`${file}: every field kadd reads is there with the real type`, function () {
      const real = fx(file);
      const sim = simBodies[file];
      if (sim === undefined) this.skip();
      const d = compareShape(real, sim);
      if (d.missing.length) report.push(`${file}: ${d.missing.join(', ')}`);
      const reads = KADD_READS[file] ?? [];
      const lacking = reads.filter((p) => hasPath(real, p) && !hasPath(sim, p));
      assert.deepEqual(lacking, [], `the simulator lacks fields kadd reads (real has them)`);
      // types must agree on what kadd reads; other differences are listed (e.g. flavor swap: Nova >= 2.75 says 0, the sim "")
      const readDiff = d.typeDiff.filter((t) => reads.some((p) => t.startsWith(`${p}:`) || t.startsWith(`${p}.`) || t.startsWith(`${p}[]`) || t.startsWith(`${p}{}`)));
      const other = d.typeDiff.filter((t) => !readDiff.includes(t));
      if (other.length) report.push(`${file}: types differ: ${other.join(', ')}`);
      assert.deepEqual(readDiff, [], 'value types differ on fields kadd reads');
      if (simStatus[file] !== undefined) assert.equal(simStatus[file], INDEX[file]!.status, 'status code');
      const values = (SAME_VALUE[file] ?? []).filter((p) => norm(getPath(sim, p)) !== undefined || norm(getPath(real, p)) !== undefined);
      assert.deepEqual(Object.fromEntries(values.map((p) => [p, norm(getPath(sim, p))])), Object.fromEntries(values.map((p) => [p, norm(getPath(real, p))])), 'values that must be the real ones');
    });
  }
});
