/**
 * The simulator's Nova server groups: /os-server-groups per microversion, the `group` scheduler hint on
 * server create, membership, and placement by policy on the simulated compute hosts (NoValidHost when a hard
 * anti-affinity group has more members than the zone has hosts).
 */
import assert from 'node:assert/strict';
import { startApi, until, ids, type Api } from './openstack-helpers.js';
import type { Scenario } from '../sim/contract.js';
import { loadScenario, ScenarioError } from '../sim/scenario.js';
import type { ServerGroup } from '../../lib/openstack/types.js';

const mv = (v: string) => ({ 'OpenStack-API-Version': `compute ${v}` });
const SG = '/compute/v2.1/os-server-groups';

describe('sim openstack: nova server groups', function () {
  this.timeout(20000);
  let api: Api | undefined;
  const start = async (sc: Scenario = {}) => (api = await startApi(sc));
  afterEach(async () => {
    await api?.sim.stop();
    api = undefined;
  });

  const createGroup = async (a: Api, name: string, policy: string, extra: Record<string, unknown> = {}) => {
    const r = await a.call('POST', SG, { server_group: { name, policy, ...extra } }, mv('2.67'));
    assert.equal(r.status, 200, r.text);
    return r.body.server_group as { id: string; name: string; policy: string; members: string[] };
  };
  const boot = async (a: Api, name: string, group?: string, az = 'nova') => {
    const x = await ids(a);
    const body: Record<string, unknown> = { server: { name, flavorRef: '1', imageRef: x.cirros, networks: [{ uuid: x.net }], availability_zone: az } };
    if (group) body['OS-SCH-HNT:scheduler_hints'] = { group };
    return a.call('POST', '/compute/v2.1/servers', body, mv('2.67'));
  };
  const settled = async (a: Api, id: string) =>
    until(async () => {
      const s = (await a.call('GET', `/compute/v2.1/servers/${id}`, undefined, mv('2.79'))).body.server;
      return s.status !== 'BUILD' && s;
    });

  it('list/create/get/delete: policy + rules from 2.64, policies + metadata before, project_id from 2.13', async () => {
    const a = await start();
    const g = await createGroup(a, 'k8s-nodes', 'anti-affinity', { rules: { max_server_per_host: 2 } });
    assert.deepEqual(Object.keys(g), ['id', 'name', 'policy', 'rules', 'members', 'project_id', 'user_id']);
    assert.deepEqual(g.policy, 'anti-affinity');
    const l64 = (await a.call('GET', SG, undefined, mv('2.67'))).body.server_groups;
    assert.deepEqual(l64.map((x: ServerGroup) => [x.name, x.policy, x.rules]), [['k8s-nodes', 'anti-affinity', { max_server_per_host: 2 }]]);
    const l13 = (await a.call('GET', SG, undefined, mv('2.13'))).body.server_groups[0];
    assert.deepEqual(Object.keys(l13), ['id', 'name', 'policies', 'members', 'metadata', 'project_id', 'user_id']);
    assert.deepEqual(l13.policies, ['anti-affinity']);
    const l1 = (await a.call('GET', `${SG}/${g.id}`)).body.server_group;
    assert.deepEqual(Object.keys(l1), ['id', 'name', 'policies', 'members', 'metadata']);
    // pre-2.64 create takes a one-item policies list; soft-* only from 2.15
    assert.equal((await a.call('POST', SG, { server_group: { name: 'old', policies: ['affinity'] } }, mv('2.1'))).status, 200);
    assert.equal((await a.call('POST', SG, { server_group: { name: 'old', policies: ['soft-affinity'] } }, mv('2.14'))).status, 400);
    assert.equal((await a.call('POST', SG, { server_group: { name: 'old', policies: ['soft-affinity'] } }, mv('2.15'))).status, 200);
    // limit / offset, no links (Nova's common.limited)
    const p2 = (await a.call('GET', `${SG}?offset=1&limit=1`, undefined, mv('2.67'))).body;
    assert.deepEqual(Object.keys(p2), ['server_groups']);
    assert.deepEqual(p2.server_groups.map((x: ServerGroup) => x.name), ['old']);
    assert.equal((await a.call('GET', `${SG}?offset=9`, undefined, mv('2.67'))).body.server_groups.length, 0);
    // another project does not see them
    const t = await fetch(`${a.sim.baseUrl}/identity/v3/auth/tokens`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ auth: { identity: { methods: ['password'], password: { user: { name: 'other', domain: { name: 'Default' }, password: 'other-secret' } } }, scope: { project: { name: 'other', domain: { id: 'default' } } } } }),
    });
    assert.equal(t.status, 201);
    await t.text();
    const other = t.headers.get('x-subject-token')!;
    assert.equal((await a.call('GET', `${SG}/${g.id}`, undefined, { 'x-auth-token': other })).status, 404);
    assert.deepEqual((await a.call('GET', SG, undefined, { 'x-auth-token': other })).body.server_groups, []);
    assert.equal((await a.call('DELETE', `${SG}/${g.id}`)).status, 204);
    const gone = await a.call('GET', `${SG}/${g.id}`);
    assert.equal(gone.status, 404);
    assert.equal(gone.body.itemNotFound.message, `Instance group ${g.id} could not be found.`);
  });

  it('create refuses what Nova refuses: policies at 2.64+, rules on another policy, bad names, over quota', async () => {
    const a = await start();
    const bad = async (body: unknown, v = '2.67') => {
      const r = await a.call('POST', SG, body, mv(v));
      assert.equal(r.status, 400, JSON.stringify(body));
      return r.body.badRequest.message as string;
    };
    assert.match(await bad({ server_group: { name: 'x', policies: ['anti-affinity'] } }), /Additional properties are not allowed \('policies' was unexpected\)/);
    assert.match(await bad({ server_group: { name: 'x', policy: 'spread' } }), /'spread' is not one of/);
    assert.match(await bad({ server_group: { name: 'x' } }), /'policy' is a required property/);
    assert.equal(await bad({ server_group: { name: 'x', policy: 'affinity', rules: { max_server_per_host: 2 } } }), 'Only anti-affinity policy supports rules.');
    assert.match(await bad({ server_group: { name: ' x', policy: 'affinity' } }), /does not match/);
    assert.match(await bad({ server_group: { name: 'x', policy: 'anti-affinity' } }, '2.63'), /'policy' was unexpected/);
    for (let i = 0; i < 10; i++) await createGroup(a, `g${i}`, 'soft-affinity');
    const over = await a.call('POST', SG, { server_group: { name: 'g10', policy: 'affinity' } }, mv('2.67'));
    assert.equal(over.status, 403);
    assert.equal(over.body.forbidden.message, 'Quota exceeded, too many server groups.');
    const lim = (await a.call('GET', '/compute/v2.1/limits', undefined, mv('2.67'))).body.limits.absolute;
    assert.deepEqual([lim.maxServerGroups, lim.totalServerGroupsUsed, lim.maxServerGroupMembers], [10, 10, 10]);
  });

  it('the group hint: not a uuid or unknown -> 400 like Nova; a member is listed, shown in server_groups (2.71+), and leaves with its delete', async () => {
    const a = await start();
    const notUuid = await boot(a, 'n0', 'k8s-nodes');
    assert.equal(notUuid.status, 400);
    assert.match(notUuid.body.badRequest.message, /Invalid input for field\/attribute group\. Value: k8s-nodes\. 'k8s-nodes' is not a 'uuid'/);
    const missing = '0b0c0d0e-0000-4000-8000-000000000001';
    const unknown = await boot(a, 'n0', missing);
    assert.equal(unknown.status, 400);
    assert.equal(unknown.body.badRequest.message, `Instance group ${missing} could not be found.`);
    const stray = await a.call('POST', '/compute/v2.1/servers', { server: { name: 'x', flavorRef: '1' }, hints: {} }, mv('2.67'));
    assert.equal(stray.status, 400, 'only server and the scheduler hints are allowed beside each other');

    const g = await createGroup(a, 'k8s-nodes', 'soft-anti-affinity');
    const r = await boot(a, 'n1', g.id);
    assert.equal(r.status, 202, r.text);
    const id = r.body.server.id;
    assert.deepEqual((await a.call('GET', `${SG}/${g.id}`, undefined, mv('2.67'))).body.server_group.members, [id], 'a member from the create on');
    const s = await settled(a, id);
    assert.equal(s.status, 'ACTIVE');
    assert.deepEqual(s.server_groups, [g.id]);
    assert.equal((await a.call('DELETE', `/compute/v2.1/servers/${id}`)).status, 204);
    await until(async () => (await a.call('GET', `/compute/v2.1/servers/${id}`)).status === 404);
    assert.deepEqual((await a.call('GET', `${SG}/${g.id}`, undefined, mv('2.67'))).body.server_group.members, []);
  });

  it('anti-affinity: members on distinct hosts (hostId); one more than the zone has hosts goes to ERROR with NoValidHost, stays a member', async () => {
    const a = await start({ compute: { hostsPerZone: 3 } });
    const g = await createGroup(a, 'spread', 'anti-affinity');
    const made: string[] = [];
    for (const n of ['a1', 'a2', 'a3', 'a4']) made.push((await boot(a, n, g.id)).body.server.id);
    const st = await Promise.all(made.map((id) => settled(a, id)));
    assert.deepEqual(st.map((s) => s.status), ['ACTIVE', 'ACTIVE', 'ACTIVE', 'ERROR']);
    assert.equal(new Set(st.slice(0, 3).map((s) => s.hostId)).size, 3, 'three members, three hosts');
    assert.deepEqual(st[3].fault.message, 'No valid host was found. There are not enough hosts available.');
    assert.equal(st[3].fault.code, 500);
    assert.equal(st[3].hostId, '');
    assert.deepEqual((await a.call('GET', `${SG}/${g.id}`, undefined, mv('2.67'))).body.server_group.members, made);
    // a free host again once a member is deleted: the next one is placed there
    await a.call('DELETE', `/compute/v2.1/servers/${made[0]}`);
    await a.call('DELETE', `/compute/v2.1/servers/${made[3]}`);
    await until(async () => (await a.call('GET', `/compute/v2.1/servers/${made[0]}`)).status === 404);
    const again = await settled(a, (await boot(a, 'a5', g.id)).body.server.id);
    assert.equal(again.status, 'ACTIVE');
    assert.equal(again.hostId, st[0].hostId);
    // another zone has its own hosts
    const az2 = await settled(a, (await boot(a, 'b1', g.id, 'az2')).body.server.id);
    assert.equal(az2.status, 'ACTIVE');
  });

  it('max_server_per_host, affinity and soft policies place as Nova would', async () => {
    const a = await start({ compute: { hostsPerZone: 2 }, faults: { quota: { instances: 100, cores: 200, ram: 1_000_000, ports: 200 } } });
    const two = await createGroup(a, 'two', 'anti-affinity', { rules: { max_server_per_host: 2 } });
    const aff = await createGroup(a, 'aff', 'affinity');
    const soft = await createGroup(a, 'soft', 'soft-anti-affinity');
    const run = async (g: string, names: string[], az?: string) => {
      const out = [];
      for (const n of names) out.push((await boot(a, n, g, az)).body.server.id as string);
      return Promise.all(out.map((id) => settled(a, id)));
    };
    const t = await run(two.id, ['t1', 't2', 't3', 't4', 't5']);
    assert.deepEqual(t.map((s) => s.status), ['ACTIVE', 'ACTIVE', 'ACTIVE', 'ACTIVE', 'ERROR'], '2 hosts x 2 per host');
    const f = await run(aff.id, ['f1', 'f2', 'f3']);
    assert.deepEqual(f.map((s) => s.status), ['ACTIVE', 'ACTIVE', 'ACTIVE']);
    assert.equal(new Set(f.map((s) => s.hostId)).size, 1, 'affinity: one host');
    const fz = await run(aff.id, ['f4'], 'az2');
    assert.equal(fz[0].status, 'ERROR', 'affinity cannot follow its members into another zone');
    const s = await run(soft.id, ['s1', 's2', 's3']);
    assert.deepEqual(s.map((x) => x.status), ['ACTIVE', 'ACTIVE', 'ACTIVE'], 'soft never fails');
    assert.equal(new Set(s.map((x) => x.hostId)).size, 2, 'soft-anti-affinity spreads over both hosts');
    // member quota: 10 per group
    const many = await createGroup(a, 'many', 'soft-affinity');
    for (let i = 0; i < 10; i++) assert.equal((await boot(a, `m${i}`, many.id)).status, 202);
    const over = await boot(a, 'm10', many.id);
    assert.equal(over.status, 403);
    assert.equal(over.body.forbidden.message, 'Quota exceeded, too many servers in group');
  });

  it('scenario compute.hostsPerZone is validated', () => {
    assert.throws(() => loadScenario({ compute: { hostsPerZone: 0 } }), ScenarioError);
    assert.throws(() => loadScenario('compute: {hostsPerZone: 1.5}'), /compute\.hostsPerZone must be an integer/);
    assert.equal(loadScenario({ compute: { hostsPerZone: 1 } }).compute!.hostsPerZone, 1);
  });
});
