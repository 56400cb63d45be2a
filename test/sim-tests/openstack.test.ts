import assert from 'node:assert/strict';
import { startApi, until, ids, type Api } from './openstack-helpers.js';
import { DEFAULTS } from '../sim/index.js';
import type { SimServerInfo } from '../sim/contract.js';
import type { CatalogEntry } from '../../lib/openstack/catalog.js';
import type { AvailabilityZone, Flavor, Port, Server, ServerAddress, Volume } from '../../lib/openstack/types.js';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

async function serverStatus(api: Api, id: string): Promise<any> {
  return (await api.call('GET', `/compute/v2.1/servers/${id}`)).body.server;
}

describe('sim openstack: keystone', function () {
  this.timeout(20000);
  let api: Api;
  // tokens live long here: a loaded machine must not expire them mid-test; expiry has its own sim below
  before(async () => { api = await startApi({ timeScale: 0.01 }); });
  after(async () => api.sim.stop());

  const auth = async (identity: unknown, scope?: unknown) => {
    const r = await fetch(`${api.sim.baseUrl}/identity/v3/auth/tokens`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ auth: { identity, ...(scope ? { scope } : {}) } }) });
    return { status: r.status, token: r.headers.get('x-subject-token'), body: (await r.json()) as any };
  };

  it('issues password tokens by name+domain and by id, with a catalog of every service in two regions', async () => {
    const r = await auth({ methods: ['password'], password: { user: { name: 'kadd', domain: { name: 'Default' }, password: 'kadd-secret' } } }, { project: { name: 'kadd', domain: { id: 'default' } } });
    assert.equal(r.status, 201);
    assert.ok(r.token);
    const types = r.body.token.catalog.map((s: CatalogEntry) => s.type).sort();
    assert.deepEqual(types, ['block-storage', 'compute', 'identity', 'image', 'load-balancer', 'network', 'volumev3']);
    const compute: CatalogEntry = r.body.token.catalog.find((s: CatalogEntry) => s.type === 'compute');
    assert.deepEqual([...new Set(compute.endpoints.map((e) => e.region))].sort(), ['RegionOne', 'RegionTwo']);
    assert.deepEqual([...new Set(compute.endpoints.map((e) => e.interface))].sort(), ['admin', 'internal', 'public']);
    const vol = r.body.token.catalog.find((s: CatalogEntry) => s.type === 'volumev3').endpoints[0].url as string;
    assert.ok(vol.endsWith(`/volume/v3/${api.sim.projectId}`));
    const userId = r.body.token.user.id;
    const byId = await auth({ methods: ['password'], password: { user: { id: userId, password: 'kadd-secret' } } }, { project: { id: api.sim.projectId } });
    assert.equal(byId.status, 201);
    // RegionTwo endpoints work too
    const r2 = compute.endpoints.find((e) => e.region === 'RegionTwo' && e.interface === 'public')!.url;
    const fl = await fetch(`${r2}/flavors`, { headers: { 'x-auth-token': r.token! } });
    assert.equal(fl.status, 200);
    await fl.text();
  });

  it('rejects a bad password, an unknown project and a malformed body', async () => {
    const bad = await auth({ methods: ['password'], password: { user: { name: 'kadd', domain: { name: 'Default' }, password: 'nope' } } });
    assert.equal(bad.status, 401);
    assert.deepEqual(bad.body, { error: { code: 401, message: 'The request you have made requires authentication.', title: 'Unauthorized' } });
    const proj = await auth({ methods: ['password'], password: { user: { name: 'kadd', domain: { name: 'Default' }, password: 'kadd-secret' } } }, { project: { name: 'nope', domain: { name: 'Default' } } });
    assert.equal(proj.status, 401);
    const r = await fetch(`${api.sim.baseUrl}/identity/v3/auth/tokens`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"auth": {}}' });
    assert.equal(r.status, 400);
    await r.text();
  });

  it('application credentials: seeded one works, new ones can be created over the API, wrong secret is 401', async () => {
    const ac = [...api.sim.openstack.store.appCreds.values()].find((a) => a.name === DEFAULTS.appCredName)!;
    const r = await auth({ methods: ['application_credential'], application_credential: { id: ac.id, secret: DEFAULTS.appCredSecret } });
    assert.equal(r.status, 201);
    assert.equal(r.body.token.application_credential.name, DEFAULTS.appCredName);
    assert.equal(r.body.token.project.id, api.sim.projectId);
    const byName = await auth({ methods: ['application_credential'], application_credential: { name: DEFAULTS.appCredName, secret: DEFAULTS.appCredSecret, user: { name: 'kadd', domain: { name: 'Default' } } } });
    assert.equal(byName.status, 201);
    // keystone/auth/plugins/application_credential.py: a wrong secret is Unauthorized (401), like an unknown id
    const wrong = await auth({ methods: ['application_credential'], application_credential: { id: ac.id, secret: 'x' } });
    assert.equal(wrong.status, 401);
    assert.deepEqual(wrong.body, { error: { code: 401, message: 'The request you have made requires authentication.', title: 'Unauthorized' } });
    assert.equal((await auth({ methods: ['application_credential'], application_credential: { id: 'nope', secret: DEFAULTS.appCredSecret } })).status, 401);
    const userId = r.body.token.user.id;
    // a restricted app-cred token may not manage app creds: ForbiddenAction (403), while the token itself is valid
    assert.equal((await api.call('GET', '/compute/v2.1/flavors', undefined, { 'x-auth-token': r.token! })).status, 200);
    const denied = await api.call('POST', `/identity/v3/users/${userId}/application_credentials`, { application_credential: { name: 'x' } }, { 'x-auth-token': r.token! });
    assert.equal(denied.status, 403, denied.text);
    assert.equal(denied.body.error.message, "You are not authorized to perform the requested action: Using method 'application_credential' is not allowed for managing additional application credentials..");
    const created = await api.call('POST', `/identity/v3/users/${userId}/application_credentials`, { application_credential: { name: 'ci' } });
    assert.equal(created.status, 201);
    const { id, secret } = created.body.application_credential;
    assert.ok(secret);
    assert.equal((await auth({ methods: ['application_credential'], application_credential: { id, secret } })).status, 201);
  });

  it('every service answers 401 on a bad or expired token', async () => {
    for (const p of ['/compute/v2.1/servers', '/network/v2.0/networks', `/volume/v3/${api.sim.projectId}/volumes`, '/image/v2/images', '/load-balancer/v2/lbaas/loadbalancers']) {
      const r = await api.call('GET', p, undefined, { 'x-auth-token': 'bogus' });
      assert.equal(r.status, 401, p);
      assert.equal(r.body.error.code, 401);
    }
  });

  it('a token expires after identity.tokenTtl sim seconds', async () => {
    // the sim's clock is held still and moved by the test (tokenTtl 100 sim s = 1 real s at timeScale 0.01): the
    // token is used before and after its expiry whatever the machine's load (no assertion skipped when slow)
    let clockMs = Date.now();
    const short = await startApi({ identity: { tokenTtl: 100 }, timeScale: 0.01 }, { clock: () => clockMs });
    try {
      const fresh = await short.sim.token();
      clockMs += 990; // 99 sim s
      const ok = await short.call('GET', '/compute/v2.1/flavors', undefined, { 'x-auth-token': fresh });
      assert.equal(ok.status, 200);
      clockMs += 20; // 101 sim s
      const r = await short.call('GET', '/compute/v2.1/flavors', undefined, { 'x-auth-token': fresh });
      assert.equal(r.status, 401);
      assert.match(r.headers.get('www-authenticate') ?? '', /^Keystone uri=/);
    } finally {
      await short.sim.stop();
    }
  });

  it('serves the identity version document', async () => {
    const r = await api.call('GET', '/identity/v3');
    assert.equal(r.status, 200);
    assert.equal(r.body.version.id, 'v3.14');
  });
});

describe('sim openstack: nova', function () {
  this.timeout(20000);
  let api: Api;
  let x: Awaited<ReturnType<typeof ids>>;
  beforeEach(async () => {
    api = await startApi({ latency: { serverBuild: { fixed: 100000 }, bootStage: 2000, serverDelete: 1000 } });
    x = await ids(api);
  });
  afterEach(async () => api.sim.stop());

  const create = (server: Record<string, unknown>, headers: Record<string, string> = {}) =>
    api.call('POST', '/compute/v2.1/servers', { server: { flavorRef: '2', imageRef: x.image, networks: [{ uuid: x.net }], ...server } }, headers);

  it('BUILD -> ACTIVE, emits server.active with decoded user_data, echoes the microversion', async () => {
    const events: SimServerInfo[] = [];
    api.sim.core.events.on('server.active', (s) => events.push(s));
    const r = await create({ name: 'n-1', user_data: b64('#cloud-config\nruncmd: [kubeadm join]\n'), metadata: { role: 'node' }, key_name: 'kadd' }, { 'OpenStack-API-Version': 'compute 2.79' });
    assert.equal(r.status, 202);
    assert.equal(r.headers.get('openstack-api-version'), 'compute 2.79');
    assert.ok(r.headers.get('location')?.endsWith(`/servers/${r.body.server.id}`));
    const s0 = await serverStatus(api, r.body.server.id);
    assert.equal(s0.status, 'BUILD');
    const s = await until(async () => { const v = await serverStatus(api, r.body.server.id); return v.status === 'ACTIVE' && v; });
    assert.equal(s['OS-EXT-STS:vm_state'], 'active');
    assert.ok(Object.values(s.addresses as Record<string, ServerAddress[]>)[0]![0]!.addr.startsWith('10.0.'));
    assert.equal(events.length, 1);
    assert.equal(events[0]!.userData, '#cloud-config\nruncmd: [kubeadm join]\n');
    assert.equal(events[0]!.metadata.role, 'node');
    const port = (await api.call('GET', `/network/v2.0/ports?device_id=${s.id}`)).body.ports[0];
    assert.equal(port.status, 'ACTIVE');
    assert.equal(port.device_owner, 'compute:nova');
  });

  it('goes to ERROR with a fault when the scenario says so (only `times` creates)', async () => {
    await api.sim.stop();
    api = await startApi({ faults: { serverError: [{ name: '^boom', message: 'No valid host was found.', times: 1 }] } });
    x = await ids(api);
    const a = await create({ name: 'boom-1' });
    const e = await until(async () => { const v = await serverStatus(api, a.body.server.id); return v.status === 'ERROR' && v; });
    assert.equal(e.fault.message, 'No valid host was found.');
    assert.equal(e.fault.code, 500);
    assert.match(e.fault.created, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const b = await create({ name: 'boom-2' });
    await until(async () => (await serverStatus(api, b.body.server.id)).status === 'ACTIVE');
  });

  it('validates like Nova: flavor, AZ, key, network, port, user_data, metadata, tags', async () => {
    const cases: [Record<string, unknown>, number, RegExp, Record<string, string>?][] = [
      [{ name: 'v', flavorRef: '99' }, 400, /^Flavor 99 could not be found\.$/],
      [{ name: 'v', availability_zone: 'nope' }, 400, /requested availability zone is not available/],
      [{ name: 'v', key_name: 'nope' }, 400, /Invalid key_name provided/],
      [{ name: 'v', networks: [{ uuid: '00000000-0000-4000-8000-000000000000' }] }, 400, /Network 0+-0+-4000-8000-0+ could not be found/],
      [{ name: 'v', networks: [{ port: '00000000-0000-4000-8000-000000000000' }] }, 400, /Port id .* could not be found/],
      [{ name: 'v', user_data: 'not base64!' }, 400, /is not a 'base64'/],
      [{ name: 'v', user_data: b64('x'.repeat(50000)) }, 400, /is too long/],
      [{ name: 'v', metadata: { k: 'v'.repeat(256) } }, 400, /is too long/],
      [{ name: 'v', metadata: Object.fromEntries(Array.from({ length: 129 }, (_, i) => [`k${i}`, 'v'])) }, 403, /Quota exceeded for metadata_items/],
      [{ name: 'v', tags: ['a'] }, 400, /Additional properties are not allowed \('tags' was unexpected\)/],
      [{ name: 'v', tags: Array.from({ length: 51 }, (_, i) => `t${i}`) }, 400, /is too long/, { 'OpenStack-API-Version': 'compute 2.52' }],
      [{ name: 'v', imageRef: '00000000-0000-4000-8000-000000000000' }, 400, /Image .* could not be found/],
      [{ name: 'v', imageRef: undefined }, 400, /Boot sequence/],
      [{ name: 'v', flavorRef: '1' }, 400, /disk is too small/],
      [{ name: 'v', block_device_mapping_v2: [{ boot_index: 0, source_type: 'disk', destination_type: 'volume', uuid: 'x' }] }, 400, /is not one of \['volume', 'image', 'snapshot', 'blank'\]/],
    ];
    for (const [body, status, re, headers] of cases) {
      const r = await create(body, headers);
      assert.equal(r.status, status, `${JSON.stringify(body).slice(0, 80)} -> ${r.text.slice(0, 200)}`);
      const inner = Object.values(r.body as Record<string, { message: string; code: number }>)[0]!;
      assert.equal(inner.code, status);
      assert.match(inner.message, re);
    }
    assert.equal((await create({ name: 'ok', tags: ['a', 'b'] }, { 'OpenStack-API-Version': 'compute 2.52' })).status, 202);
    assert.equal((await create({ name: 'ok2' }, { 'OpenStack-API-Version': 'compute 2.999' })).status, 406);
    assert.equal([...api.sim.openstack.store.servers.values()].filter((s) => s.name === 'v').length, 0, 'no server on refusal');
  });

  it('ports: a bound port is refused (409); a pre-created port is kept and unbound on delete', async () => {
    const p = (await api.call('POST', '/network/v2.0/ports', { port: { network_id: x.net, name: 'mine' } })).body.port;
    const a = await create({ name: 'p-1', networks: [{ port: p.id }] });
    assert.equal(a.status, 202);
    const b = await create({ name: 'p-2', networks: [{ port: p.id }] });
    assert.equal(b.status, 409);
    assert.equal(b.body.conflictingRequest.message, `Port ${p.id} is still in use.`);
    await until(async () => (await serverStatus(api, a.body.server.id)).status === 'ACTIVE');
    assert.equal((await api.call('DELETE', `/compute/v2.1/servers/${a.body.server.id}`)).status, 204);
    await until(async () => (await api.call('GET', `/compute/v2.1/servers/${a.body.server.id}`)).status === 404);
    const after = (await api.call('GET', `/network/v2.0/ports/${p.id}`)).body.port;
    assert.equal(after.device_id, '');
    assert.equal(after.status, 'DOWN');
  });

  it('boot from volume: volume reserved then in-use; delete honours delete_on_termination', async () => {
    const mkVol = async (name: string) => {
      const v = (await api.call('POST', `/volume/v3/${x.project}/volumes`, { volume: { name, size: 25, imageRef: x.image } })).body.volume;
      await until(async () => (await api.call('GET', `/volume/v3/${x.project}/volumes/${v.id}`)).body.volume.status === 'available');
      return v.id as string;
    };
    const keep = await mkVol('keep'), drop = await mkVol('drop');
    const boot = (name: string, vol: string, del: boolean) => create({ name, imageRef: undefined, block_device_mapping_v2: [{ boot_index: 0, uuid: vol, source_type: 'volume', destination_type: 'volume', delete_on_termination: del }] });
    const a = await boot('bfv-1', keep, false), b = await boot('bfv-2', drop, true);
    assert.equal(a.status, 202, a.text);
    assert.match((await boot('bfv-3', keep, false)).body.badRequest.message, new RegExp(`^Invalid volume: volume '${keep}' status must be 'available'. Currently in '(reserved|in-use)'$`));
    await until(async () => (await serverStatus(api, b.body.server.id)).status === 'ACTIVE' && (await serverStatus(api, a.body.server.id)).status === 'ACTIVE');
    const v = (await api.call('GET', `/volume/v3/${x.project}/volumes/${keep}`)).body.volume;
    assert.equal(v.status, 'in-use');
    assert.equal(v.attachments[0].server_id, a.body.server.id);
    assert.equal((await api.call('DELETE', `/volume/v3/${x.project}/volumes/${keep}`)).status, 400, 'in-use volume cannot be deleted');
    const s = await serverStatus(api, a.body.server.id);
    assert.deepEqual(s['os-extended-volumes:volumes_attached'], [{ id: keep }]);
    await api.call('DELETE', `/compute/v2.1/servers/${a.body.server.id}`);
    await api.call('DELETE', `/compute/v2.1/servers/${b.body.server.id}`);
    await until(async () => (await api.call('GET', `/volume/v3/${x.project}/volumes/${drop}`)).status === 404);
    await until(async () => (await api.call('GET', `/volume/v3/${x.project}/volumes/${keep}`)).body.volume.status === 'available');
  });

  it('boot from image to a new volume creates the volume in Cinder', async () => {
    const r = await create({ name: 'biv', imageRef: undefined, block_device_mapping_v2: [{ boot_index: 0, uuid: x.image, source_type: 'image', destination_type: 'volume', volume_size: 25, delete_on_termination: true }] });
    assert.equal(r.status, 202, r.text);
    await until(async () => (await serverStatus(api, r.body.server.id)).status === 'ACTIVE');
    const vols = (await api.call('GET', `/volume/v3/${x.project}/volumes/detail?status=in-use`)).body.volumes;
    assert.equal(vols.length, 1);
    assert.equal(vols[0].bootable, 'true');
    const small = await create({ name: 'biv2', imageRef: undefined, block_device_mapping_v2: [{ boot_index: 0, uuid: x.image, source_type: 'image', destination_type: 'volume', volume_size: 5 }] });
    assert.equal(small.status, 400);
  });

  it('quota: instances/cores/ram refusal with Nova\'s message', async () => {
    await api.sim.stop();
    api = await startApi({ faults: { quota: { instances: 2, cores: 100, ram: 100000 } } });
    x = await ids(api);
    assert.equal((await create({ name: 'q-1' })).status, 202);
    assert.equal((await create({ name: 'q-2' })).status, 202);
    const r = await create({ name: 'q-3' });
    assert.equal(r.status, 403);
    assert.equal(r.body.forbidden.message, 'Quota exceeded for instances: Requested 1, but already used 2 of 2 instances');
    const lim = (await api.call('GET', '/compute/v2.1/limits')).body.limits.absolute;
    assert.equal(lim.maxTotalInstances, 2);
    assert.equal(lim.totalInstancesUsed, 2);
  });

  it('lists with name regex, status, tags and limit/marker pagination (servers_links)', async () => {
    const mv = { 'OpenStack-API-Version': 'compute 2.52' };
    for (let i = 1; i <= 7; i++) assert.equal((await create({ name: `c-node-${i}`, tags: i % 2 ? ['odd', 'k'] : ['k'] }, mv)).status, 202);
    await create({ name: 'other' });
    const names = async (q: string) => (await api.call('GET', `/compute/v2.1/servers/detail?${q}`, undefined, mv)).body.servers.map((s: Server) => s.name);
    assert.equal((await names('name=^c-node-')).length, 7);
    assert.deepEqual(await names('name=node-1$'), ['c-node-1']);
    assert.equal((await names('tags=odd,k')).length, 4);
    assert.equal((await names('status=ERROR')).length, 0);
    await until(async () => (await names('status=active')).length === 8);
    const seen: string[] = [];
    let url = '/compute/v2.1/servers?limit=3&name=c-node';
    for (let pages = 0; pages < 10; pages++) {
      const r = await api.call('GET', url);
      seen.push(...r.body.servers.map((s: Server) => s.name));
      const next = r.body.servers_links?.[0]?.href as string | undefined;
      if (!next) break;
      url = next.slice(api.sim.baseUrl.length);
    }
    assert.equal(seen.length, 7);
    assert.equal(new Set(seen).size, 7);
    assert.equal(seen[0], 'c-node-7', 'newest first');
    assert.equal((await api.call('GET', '/compute/v2.1/servers?marker=nope')).status, 400);
  });

  it('changes-since lists deleted servers as DELETED', async () => {
    const t0 = new Date(api.sim.core.now() - 1000).toISOString();
    const r = await create({ name: 'gone' });
    await api.call('DELETE', `/compute/v2.1/servers/${r.body.server.id}`);
    await until(async () => (await api.call('GET', `/compute/v2.1/servers/${r.body.server.id}`)).status === 404);
    const list = (await api.call('GET', `/compute/v2.1/servers/detail?changes-since=${encodeURIComponent(t0)}`)).body.servers;
    assert.equal(list.find((s: Server) => s.id === r.body.server.id)?.status, 'DELETED');
  });

  it('console output grows with the boot, honours length, includes appended kubeadm text; 404 shape', async () => {
    const r = await create({ name: 'con' });
    const id = r.body.server.id;
    const con = async (length?: number) => (await api.call('POST', `/compute/v2.1/servers/${id}/action`, { 'os-getConsoleOutput': length === undefined ? {} : { length } })).body.output as string;
    await until(async () => (await serverStatus(api, id)).status === 'ACTIVE');
    const early = await con();
    await until(async () => (await con()).includes("running 'modules:final'"), 3000);
    api.sim.core.appendConsole(id, '[kubeadm] This node has joined the cluster');
    const full = await con();
    assert.ok(full.length > early.length, 'output grows');
    for (const stage of ["'init-local'", "'init'", "'modules:config'", "'modules:final'", 'This node has joined']) assert.ok(full.includes(stage), stage);
    assert.ok(full.indexOf("'init-local'") < full.indexOf("'modules:final'"));
    const two = await con(2);
    assert.equal(two.split('\n').filter(Boolean).length, 2);
    const nf = await api.call('GET', '/compute/v2.1/servers/00000000-0000-4000-8000-000000000000');
    assert.equal(nf.status, 404);
    assert.deepEqual(nf.body, { itemNotFound: { code: 404, message: 'Instance 00000000-0000-4000-8000-000000000000 could not be found.' } });
  });

  it('serves flavors, keypairs, availability zones', async () => {
    const f = (await api.call('GET', '/compute/v2.1/flavors/detail')).body.flavors;
    assert.ok(f.find((x: Flavor) => x.name === 'm1.small' && x.vcpus === 1 && x.ram === 2048));
    assert.deepEqual((await api.call('GET', '/compute/v2.1/os-availability-zone')).body.availabilityZoneInfo.map((z: AvailabilityZone) => z.zoneName), ['nova', 'az2']);
    assert.equal((await api.call('GET', '/compute/v2.1/os-keypairs/kadd')).body.keypair.name, 'kadd');
    const kp = await api.call('POST', '/compute/v2.1/os-keypairs', { keypair: { name: 'k2', public_key: DEFAULTS.publicKey } }, { 'OpenStack-API-Version': 'compute 2.10' });
    assert.equal(kp.status, 201);
    assert.equal((await api.call('POST', '/compute/v2.1/os-keypairs', { keypair: { name: 'k2', public_key: DEFAULTS.publicKey } })).status, 409);
  });
});

describe('sim openstack: cinder, neutron, glance', function () {
  this.timeout(20000);
  let api: Api;
  let x: Awaited<ReturnType<typeof ids>>;
  beforeEach(async () => { api = await startApi({ faults: { volumeError: [{ name: '^bad' }], quota: { volumes: 3, gigabytes: 100 } } }); x = await ids(api); });
  afterEach(async () => api.sim.stop());

  it('volume creating -> available; error per scenario; validation; quota 413', async () => {
    const V = `/volume/v3/${x.project}/volumes`;
    const ok = await api.call('POST', V, { volume: { name: 'good', size: 10, imageRef: x.image, availability_zone: 'az2', volume_type: 'ssd', metadata: { a: 'b' } } });
    assert.equal(ok.status, 202);
    assert.equal(ok.body.volume.status, 'creating');
    const bad = await api.call('POST', V, { volume: { name: 'bad-1', size: 1 } });
    await until(async () => (await api.call('GET', `${V}/${ok.body.volume.id}`)).body.volume.status === 'available');
    await until(async () => (await api.call('GET', `${V}/${bad.body.volume.id}`)).body.volume.status === 'error');
    const small = await api.call('POST', V, { volume: { name: 's', size: 5, imageRef: x.image } });
    assert.equal(small.status, 400);
    assert.equal(small.body.badRequest.message, 'Invalid input received: Volume size 5GB cannot be smaller than the image minDisk size 10GB.');
    assert.equal((await api.call('POST', V, { volume: { name: 's', size: 1, availability_zone: 'zz' } })).status, 400);
    assert.equal((await api.call('POST', V, { volume: { name: 's', size: 1, volume_type: 'zz' } })).status, 404);
    const big = await api.call('POST', V, { volume: { name: 'big', size: 95 } });
    assert.equal(big.status, 413);
    assert.equal(big.body.overLimit.message, 'Requested volume or snapshot exceeds allowed gigabytes quota. Requested 95G, quota is 100G and 11G has been consumed.');
    await api.call('POST', V, { volume: { name: 'third', size: 1 } });
    const many = await api.call('POST', V, { volume: { name: 'fourth', size: 1 } });
    assert.equal(many.status, 413);
    assert.equal(many.body.overLimit.message, "Maximum number of volumes allowed (3) exceeded for quota 'volumes'.");
    const list = (await api.call('GET', `${V}/detail?metadata=${encodeURIComponent('{"a":"b"}')}`)).body.volumes;
    assert.deepEqual(list.map((v: Volume) => v.name), ['good']);
    const page = await api.call('GET', `${V}/detail?limit=1`);
    assert.equal(page.body.volumes.length, 1);
    assert.ok(page.body.volumes_links[0].href.includes('marker='));
    const lim = (await api.call('GET', `/volume/v3/${x.project}/limits`)).body.limits.absolute;
    assert.equal(lim.maxTotalVolumes, 3);
    assert.equal(lim.totalVolumesUsed, 3);
    assert.equal((await api.call('GET', `/volume/v3/${x.project}/types`)).body.volume_types.length, 2);
    assert.equal((await api.call('GET', `/volume/v3/not-mine/volumes`)).status, 400);
    assert.equal((await api.call('DELETE', `${V}/${ok.body.volume.id}`)).status, 202);
    await until(async () => (await api.call('GET', `${V}/${ok.body.volume.id}`)).status === 404);
  });

  it('neutron: ports with filters and tags, fixed IP allocation, quota details, routers, security groups', async () => {
    const P = '/network/v2.0/ports';
    const a = (await api.call('POST', P, { port: { network_id: x.net, name: 'pa', device_id: 'dev-1' } })).body.port;
    const b = (await api.call('POST', P, { port: { network_id: x.net, name: 'pb' } })).body.port;
    assert.notEqual(a.fixed_ips[0].ip_address, b.fixed_ips[0].ip_address);
    assert.equal(a.fixed_ips[0].subnet_id, x.subnet);
    assert.deepEqual((await api.call('GET', `${P}?name=pa`)).body.ports.map((p: Port) => p.id), [a.id]);
    assert.deepEqual((await api.call('GET', `${P}?device_id=dev-1`)).body.ports.map((p: Port) => p.id), [a.id]);
    assert.equal((await api.call('PUT', `${P}/${b.id}/tags/kadd`)).status, 201);
    assert.deepEqual((await api.call('GET', `${P}?tags=kadd`)).body.ports.map((p: Port) => p.id), [b.id]);
    const fixed = await api.call('POST', P, { port: { network_id: x.net, fixed_ips: [{ ip_address: a.fixed_ips[0].ip_address }] } });
    assert.equal(fixed.status, 409);
    assert.equal(fixed.body.NeutronError.type, 'IpAddressAlreadyAllocated');
    const q = (await api.call('GET', `/network/v2.0/quotas/${x.project}/details`)).body.quota;
    assert.equal(q.port.used, 2);
    assert.equal(typeof q.port.limit, 'number');
    assert.equal((await api.call('DELETE', `${P}/${a.id}`)).status, 204);
    const nf = await api.call('GET', `${P}/${a.id}`);
    assert.deepEqual(nf.body, { NeutronError: { type: 'PortNotFound', message: `Port ${a.id} could not be found.`, detail: '' } });
    const ext = (await api.call('GET', '/network/v2.0/networks?router:external=true')).body.networks;
    assert.equal(ext.length, 1);
    const rt = (await api.call('POST', '/network/v2.0/routers', { router: { name: 'r', external_gateway_info: { network_id: ext[0].id } } })).body.router;
    const iface = await api.call('PUT', `/network/v2.0/routers/${rt.id}/add_router_interface`, { subnet_id: x.subnet });
    assert.equal(iface.status, 200);
    assert.equal(iface.body.subnet_id, x.subnet);
    const sg = await api.call('POST', '/network/v2.0/security-groups', { security_group: { name: 'c-sec-group' } });
    assert.equal(sg.status, 201);
    const rule = await api.call('POST', '/network/v2.0/security-group-rules', { security_group_rule: { security_group_id: sg.body.security_group.id, direction: 'ingress', protocol: 'tcp', port_range_min: 6443, port_range_max: 6443 } });
    assert.equal(rule.status, 201);
    assert.equal((await api.call('DELETE', `/network/v2.0/networks/${x.net}`)).status, 409, 'network in use');
  });

  it('glance: list with name filter, get, 404', async () => {
    const l = (await api.call('GET', '/image/v2/images?name=cirros')).body.images;
    assert.equal(l.length, 1);
    assert.equal((await api.call('GET', `/image/v2/images/${l[0].id}`)).body.name, 'cirros');
    const nf = await api.call('GET', '/image/v2/images/00000000-0000-4000-8000-000000000000');
    assert.equal(nf.status, 404);
    assert.match(nf.text, /No image found with ID/);
  });
});

describe('sim openstack: octavia and the seeded cluster', function () {
  this.timeout(20000);
  let api: Api;
  beforeEach(async () => { api = await startApi({ timeScale: 0.01, cluster: { name: 'c1', masters: 3, nodes: 2 }, latency: { lbChange: 20000 } }); });
  afterEach(async () => api.sim.stop());

  it('seeds servers, volumes, network, LB, listener and pool with the masters', async () => {
    const names = (await api.call('GET', '/compute/v2.1/servers/detail')).body.servers.map((s: Server) => s.name).sort();
    assert.deepEqual(names, ['c1-master-1', 'c1-master-2', 'c1-master-3', 'c1-node-1', 'c1-node-2']);
    const lb = (await api.call('GET', '/load-balancer/v2/lbaas/loadbalancers?name=c1-lb')).body.loadbalancers[0];
    assert.equal(lb.provisioning_status, 'ACTIVE');
    const listener = (await api.call('GET', '/load-balancer/v2/lbaas/listeners?name=master-listener-c1')).body.listeners[0];
    const pool = (await api.call('GET', `/load-balancer/v2/lbaas/pools/${listener.default_pool_id}`)).body.pool;
    assert.equal(pool.name, 'master-pool-c1');
    assert.equal(pool.members.length, 3);
    assert.equal((await api.call('GET', '/network/v2.0/security-groups?name=c1-sec-group')).body.security_groups.length, 1);
    assert.equal((await api.call('GET', `/volume/v3/${api.sim.projectId}/volumes/detail?status=in-use`)).body.volumes.length, 5);
    assert.equal(api.sim.core.openstack!.loadBalancerVip('c1-lb'), lb.vip_address);
    assert.equal(api.sim.core.openstack!.getServer('c1-node-2')!.status, 'ACTIVE');
  });

  it('member create: PENDING_CREATE -> ACTIVE, LB PENDING_UPDATE, concurrent change 409, delete', async () => {
    const pool = (await api.call('GET', '/load-balancer/v2/lbaas/pools?name=master-pool-c1')).body.pools[0];
    const lb = pool.loadbalancers[0].id;
    const m = await api.call('POST', `/load-balancer/v2/lbaas/pools/${pool.id}/members`, { member: { address: '192.168.9.9', protocol_port: 6443, name: 'c1-master-4' } });
    assert.equal(m.status, 201);
    assert.equal(m.body.member.provisioning_status, 'PENDING_CREATE');
    assert.equal((await api.call('GET', `/load-balancer/v2/lbaas/loadbalancers/${lb}`)).body.loadbalancer.provisioning_status, 'PENDING_UPDATE');
    const busy = await api.call('POST', `/load-balancer/v2/lbaas/pools/${pool.id}/members`, { member: { address: '192.168.9.10', protocol_port: 6443 } });
    assert.equal(busy.status, 409);
    assert.equal(busy.body.faultstring, `Pool ${pool.id} is immutable and cannot be updated.`); // Octavia checks the member's pool first (real Zed: fixtures/openstack-real/load-balancer)
    await until(async () => (await api.call('GET', `/load-balancer/v2/lbaas/pools/${pool.id}/members/${m.body.member.id}`)).body.member.provisioning_status === 'ACTIVE');
    assert.equal((await api.call('GET', `/load-balancer/v2/lbaas/loadbalancers/${lb}`)).body.loadbalancer.provisioning_status, 'ACTIVE');
    const dup = await api.call('POST', `/load-balancer/v2/lbaas/pools/${pool.id}/members`, { member: { address: '192.168.9.9', protocol_port: 6443 } });
    assert.equal(dup.status, 409);
    assert.equal((await api.call('DELETE', `/load-balancer/v2/lbaas/pools/${pool.id}/members/${m.body.member.id}`)).status, 204);
    await until(async () => (await api.call('GET', `/load-balancer/v2/lbaas/pools/${pool.id}/members/${m.body.member.id}`)).status === 404);
    assert.equal((await api.call('GET', `/load-balancer/v2/lbaas/pools/${pool.id}/members`)).body.members.length, 3);
  });

  it('load balancer create: PENDING_CREATE -> ACTIVE with a VIP from the subnet', async () => {
    const sub = (await api.call('GET', '/network/v2.0/subnets?name=c1-subnet')).body.subnets[0];
    const r = await api.call('POST', '/load-balancer/v2/lbaas/loadbalancers', { loadbalancer: { name: 'x-lb', vip_subnet_id: sub.id } });
    assert.equal(r.status, 201);
    assert.equal(r.body.loadbalancer.provisioning_status, 'PENDING_CREATE');
    assert.match(r.body.loadbalancer.vip_address, /^192\.168\./);
    await until(async () => (await api.call('GET', `/load-balancer/v2/lbaas/loadbalancers/${r.body.loadbalancer.id}`)).body.loadbalancer.provisioning_status === 'ACTIVE');
  });
});
