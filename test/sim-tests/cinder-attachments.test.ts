/**
 * Cinder v3 attachments in the simulator, and the scenario fault faults.leaveReservedOnEarlyDelete (seen on a
 * real Zed cloud: a boot-from-volume server deleted before spawning leaves its volume `reserved` forever).
 */
import assert from 'node:assert/strict';
import { startApi, until, ids, type Api } from './openstack-helpers.js';
import type { Scenario } from '../sim/contract.js';

const MV = { 'OpenStack-API-Version': 'volume 3.59' };
const IN_USE_MSG = 'Invalid volume: Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached, belong to a group, have snapshots, awaiting a transfer, or be disassociated from snapshots after volume transfer.';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO_MICRO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/;

interface Env { api: Api; x: Awaited<ReturnType<typeof ids>>; vol: (p: string) => string }

async function env(scenario: Scenario = {}): Promise<Env> {
  const api = await startApi(scenario);
  const x = await ids(api);
  return { api, x, vol: (p) => `/volume/v3/${x.project}${p}` };
}

async function mkVolume(e: Env, name: string): Promise<string> {
  const r = await e.api.call('POST', e.vol('/volumes'), { volume: { name, size: 25, imageRef: e.x.image } }, MV);
  assert.equal(r.status, 202, r.text);
  const id = r.body.volume.id as string;
  await until(async () => (await e.api.call('GET', e.vol(`/volumes/${id}`), undefined, MV)).body.volume.status === 'available');
  return id;
}

async function bootFromVolume(e: Env, name: string, volumeId: string, deleteOnTermination: boolean): Promise<string> {
  const r = await e.api.call('POST', '/compute/v2.1/servers', {
    server: {
      name, flavorRef: '2', networks: [{ uuid: e.x.net }],
      block_device_mapping_v2: [{ boot_index: 0, uuid: volumeId, source_type: 'volume', destination_type: 'volume', delete_on_termination: deleteOnTermination }],
    },
  });
  assert.equal(r.status, 202, r.text);
  return r.body.server.id as string;
}

const getVolume = async (e: Env, id: string): Promise<any> => (await e.api.call('GET', e.vol(`/volumes/${id}`), undefined, MV)).body.volume;
const server = async (e: Env, id: string): Promise<any> => (await e.api.call('GET', `/compute/v2.1/servers/${id}`)).body.server;
const listAtt = async (e: Env, q: string, detail = false): Promise<any[]> => {
  const r = await e.api.call('GET', e.vol(`/attachments${detail ? '/detail' : ''}?${q}`), undefined, MV);
  assert.equal(r.status, 200, r.text);
  return r.body.attachments;
};

describe('sim cinder: attachments (3.27+), normal path', function () {
  this.timeout(20000);
  let e: Env;
  // builds take 500 sim s (0.5 s real): the reserved phase is long enough to observe on a loaded machine
  before(async () => { e = await env({ latency: { serverBuild: { fixed: 500_000 } } }); });
  after(async () => e.api.sim.stop());

  it('boot from volume: reserved attachment, attached at ACTIVE, deleted with the server; volume reserved -> in-use -> available', async () => {
    const volId = await mkVolume(e, 'bfv-keep');
    const other = await mkVolume(e, 'bfv-other');
    const sid = await bootFromVolume(e, 'att-1', volId, false);

    // at the API: Nova reserved an attachment; Cinder hides reserved attachments from the volume body
    const v0 = await getVolume(e, volId);
    assert.equal(v0.status, 'reserved');
    assert.deepEqual(v0.attachments, []);
    const reserved = await listAtt(e, `volume_id=${volId}`, true);
    assert.equal(reserved.length, 1);
    assert.match(reserved[0].id, UUID);
    assert.deepEqual({ ...reserved[0], id: 'x' }, { id: 'x', status: 'reserved', instance: sid, volume_id: volId, attached_at: '', detached_at: '', attach_mode: null, connection_info: null });

    await until(async () => (await server(e, sid)).status === 'ACTIVE');
    const v1 = await getVolume(e, volId);
    assert.equal(v1.status, 'in-use');
    assert.equal(v1.attachments.length, 1);
    assert.equal(v1.attachments[0].attachment_id, reserved[0].id, 'the volume body names the same attachment');
    assert.equal(v1.attachments[0].server_id, sid);

    // summary list: exactly the four keys of the api-ref sample; filters by volume and by instance
    const summary = await listAtt(e, `volume_id=${volId}`);
    assert.deepEqual(summary, [{ id: reserved[0].id, status: 'attached', instance: sid, volume_id: volId }]);
    assert.deepEqual((await listAtt(e, `instance_id=${sid}`)).map((a) => a.id), [reserved[0].id]);
    assert.deepEqual(await listAtt(e, `volume_id=${other}`), [], 'an unattached volume has none');
    assert.deepEqual(await listAtt(e, `instance_id=${sid}&attach_status=reserved`), []);

    const one = await e.api.call('GET', e.vol(`/attachments/${reserved[0].id}`), undefined, MV);
    assert.equal(one.status, 200);
    const d = one.body.attachment;
    assert.equal(d.status, 'attached');
    assert.equal(d.attach_mode, 'rw');
    assert.match(d.attached_at, ISO_MICRO);
    assert.equal(d.detached_at, '');
    assert.equal(d.connection_info.driver_volume_type, 'iscsi');
    assert.deepEqual(Object.keys(d).sort(), ['attach_mode', 'attached_at', 'connection_info', 'detached_at', 'id', 'instance', 'status', 'volume_id']);

    // in use by a live server: the volume cannot be deleted, nor can a user pull the attachment (CVE-2023-2088 fix)
    const delVol = await e.api.call('DELETE', e.vol(`/volumes/${volId}`), undefined, MV);
    assert.equal(delVol.status, 400);
    assert.deepEqual(delVol.body, { badRequest: { code: 400, message: IN_USE_MSG } });
    const pull = await e.api.call('DELETE', e.vol(`/attachments/${reserved[0].id}`), undefined, MV);
    assert.equal(pull.status, 409);
    assert.deepEqual(pull.body, { conflictingRequest: { code: 409, message: `Detach volume from instance ${sid} using the Compute API` } });

    // server delete: Nova deletes the attachment, the volume goes back to available (delete_on_termination false)
    assert.equal((await e.api.call('DELETE', `/compute/v2.1/servers/${sid}`)).status, 204);
    await until(async () => (await e.api.call('GET', `/compute/v2.1/servers/${sid}`)).status === 404);
    assert.equal((await getVolume(e, volId)).status, 'available');
    assert.deepEqual(await listAtt(e, `volume_id=${volId}`), []);
    const gone = await e.api.call('GET', e.vol(`/attachments/${reserved[0].id}`), undefined, MV);
    assert.equal(gone.status, 404);
  });

  it('delete_on_termination still deletes the volume with its server', async () => {
    const volId = await mkVolume(e, 'bfv-drop');
    const sid = await bootFromVolume(e, 'att-2', volId, true);
    await until(async () => (await server(e, sid)).status === 'ACTIVE');
    await e.api.call('DELETE', `/compute/v2.1/servers/${sid}`);
    await until(async () => (await e.api.call('GET', e.vol(`/volumes/${volId}`), undefined, MV)).status === 404);
  });

  it('unknown attachment: 404 with Cinder\'s itemNotFound body, on GET and DELETE', async () => {
    const id = '0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5';
    for (const m of ['GET', 'DELETE']) {
      const r = await e.api.call(m, e.vol(`/attachments/${id}`), undefined, MV);
      assert.equal(r.status, 404, m);
      assert.deepEqual(r.body, { itemNotFound: { code: 404, message: `Volume attachment could not be found with filter: attachment_id = ${id}.` } });
    }
  });

  it('microversion gate: below 3.27 (and without a header, 3.0) /attachments is an unknown resource', async () => {
    for (const h of [{}, { 'OpenStack-API-Version': 'volume 3.26' }] as Record<string, string>[]) {
      for (const p of ['/attachments', '/attachments/detail', '/attachments/0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5']) {
        const r = await e.api.call('GET', e.vol(p), undefined, h);
        assert.equal(r.status, 404, `${p} ${JSON.stringify(h)}`);
        assert.deepEqual(r.body, { itemNotFound: { code: 404, message: 'The resource could not be found.' } });
      }
    }
    const at27 = await e.api.call('GET', e.vol('/attachments'), undefined, { 'OpenStack-API-Version': 'volume 3.27' });
    assert.equal(at27.status, 200);
    assert.equal(at27.headers.get('openstack-api-version'), 'volume 3.27');
    assert.ok(Array.isArray(at27.body.attachments));
  });

  it('attachments are project-scoped', async () => {
    const volId = await mkVolume(e, 'bfv-scope');
    const sid = await bootFromVolume(e, 'att-3', volId, true);
    const [a] = await listAtt(e, `volume_id=${volId}`);
    assert.ok(a);
    const auth = await fetch(`${e.api.sim.baseUrl}/identity/v3/auth/tokens?nocatalog`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ auth: { identity: { methods: ['password'], password: { user: { name: 'other', domain: { id: 'default' }, password: 'other-secret' } } }, scope: { project: { name: 'other', domain: { id: 'default' } } } } }),
    });
    assert.equal(auth.status, 201);
    const other = auth.headers.get('x-subject-token')!;
    const otherProject = ((await auth.json()) as any).token.project.id as string;
    assert.notEqual(otherProject, e.x.project);
    const hdr = { 'x-auth-token': other, ...MV };
    const r = await fetch(`${e.api.sim.baseUrl}/volume/v3/${otherProject}/attachments?volume_id=${volId}`, { headers: hdr });
    assert.equal(r.status, 200);
    assert.deepEqual(((await r.json()) as any).attachments, []);
    for (const m of ['GET', 'DELETE']) {
      const r2 = await fetch(`${e.api.sim.baseUrl}/volume/v3/${otherProject}/attachments/${a.id}`, { method: m, headers: hdr });
      assert.equal(r2.status, 404, m);
      await r2.text();
    }
    await e.api.call('DELETE', `/compute/v2.1/servers/${sid}`);
    await until(async () => (await e.api.call('GET', e.vol(`/volumes/${volId}`), undefined, MV)).status === 404);
  });
});

describe('sim cinder: faults.leaveReservedOnEarlyDelete', function () {
  this.timeout(20000);
  let e: Env;
  // a long build (1000 sim s; timeScale 0.001 makes it 1 s real): scheduling lasts 300 ms real, time enough to delete in it
  before(async () => { e = await env({ faults: { leaveReservedOnEarlyDelete: true }, latency: { serverBuild: { fixed: 1_000_000 } } }); });
  after(async () => e.api.sim.stop());

  it('a server deleted while scheduling leaves its boot volume reserved; deleting the dangling attachment frees it', async () => {
    const volId = await mkVolume(e, 'early');
    const sid = await bootFromVolume(e, 'early-1', volId, true);
    assert.equal((await server(e, sid))['OS-EXT-STS:task_state'], 'scheduling');
    assert.equal((await e.api.call('DELETE', `/compute/v2.1/servers/${sid}`)).status, 204);
    await until(async () => (await e.api.call('GET', `/compute/v2.1/servers/${sid}`)).status === 404);

    // the volume stays reserved (delete_on_termination was true: not honoured either), its body shows no attachment
    const v = await getVolume(e, volId);
    assert.equal(v.status, 'reserved');
    assert.deepEqual(v.attachments, []);
    const refused = await e.api.call('DELETE', e.vol(`/volumes/${volId}`), undefined, MV);
    assert.equal(refused.status, 400);
    assert.deepEqual(refused.body, { badRequest: { code: 400, message: IN_USE_MSG } });
    assert.equal((await getVolume(e, volId)).status, 'reserved', 'still there, still reserved');

    // the attachment list shows the dangling attachment, naming the deleted server
    const list = await listAtt(e, `volume_id=${volId}`);
    assert.equal(list.length, 1);
    assert.deepEqual({ ...list[0], id: 'x' }, { id: 'x', status: 'reserved', instance: sid, volume_id: volId });
    assert.equal((await e.api.call('GET', `/compute/v2.1/servers/${sid}`)).status, 404, 'its server is gone');

    // deleting it (allowed: reserved, and the server is gone) puts the volume back to available
    const del = await e.api.call('DELETE', e.vol(`/attachments/${list[0].id}`), undefined, MV);
    assert.equal(del.status, 200, del.text);
    assert.deepEqual(del.body, { attachments: [] });
    assert.equal((await getVolume(e, volId)).status, 'available');
    assert.deepEqual(await listAtt(e, `volume_id=${volId}`), []);
    const again = await e.api.call('DELETE', e.vol(`/attachments/${list[0].id}`), undefined, MV);
    assert.equal(again.status, 404);

    // now the volume can be deleted
    assert.equal((await e.api.call('DELETE', e.vol(`/volumes/${volId}`), undefined, MV)).status, 202);
    await until(async () => (await e.api.call('GET', e.vol(`/volumes/${volId}`), undefined, MV)).status === 404);
    const tl = (e.api.sim.state() as any).timeline as { type: string; subject: string; detail?: { server?: string } }[];
    assert.ok(tl.some((t) => t.type === 'volume.reserved.leaked' && t.subject === 'early' && t.detail?.server === sid), 'the leak is on the timeline');
  });

  it('a server deleted once spawning cleans up as usual (the fault is only for early deletes)', async () => {
    const volId = await mkVolume(e, 'late');
    const sid = await bootFromVolume(e, 'late-1', volId, false);
    await until(async () => (await server(e, sid))['OS-EXT-STS:task_state'] === 'spawning', 5000);
    await e.api.call('DELETE', `/compute/v2.1/servers/${sid}`);
    await until(async () => (await e.api.call('GET', `/compute/v2.1/servers/${sid}`)).status === 404);
    assert.equal((await getVolume(e, volId)).status, 'available');
    assert.deepEqual(await listAtt(e, `volume_id=${volId}`), []);
  });

  it('without the fault an early delete cleans up too (the default)', async () => {
    const plain = await env({ latency: { serverBuild: { fixed: 1_000_000 } } });
    try {
      const volId = await mkVolume(plain, 'early-ok');
      const sid = await bootFromVolume(plain, 'early-ok-1', volId, false);
      assert.equal((await server(plain, sid))['OS-EXT-STS:task_state'], 'scheduling');
      await plain.api.call('DELETE', `/compute/v2.1/servers/${sid}`);
      await until(async () => (await plain.api.call('GET', `/compute/v2.1/servers/${sid}`)).status === 404);
      assert.equal((await getVolume(plain, volId)).status, 'available');
      assert.deepEqual(await listAtt(plain, `volume_id=${volId}`), []);
    } finally {
      await plain.api.sim.stop();
    }
  });
});
