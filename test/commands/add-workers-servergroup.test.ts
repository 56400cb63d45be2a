/**
 * `server_group` in the cluster file, the whole `kadd add` command on the simulator: new workers are created
 * with the `group` scheduler hint and become members; a missing group is refused at preflight; a hard
 * anti-affinity group with too few hosts ends in Nova's NoValidHost, shown and rolled back.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync } from 'node:fs';
import { FAST_FLAGS, startKaddSim, type KaddSim, type KaddSimOptions } from '../helpers/kadd-sim.js';

const add = (h: KaddSim, ...args: string[]) => h.kadd(['add', ...FAST_FLAGS, ...args, h.cfgPath]);

/** create a server group straight in the simulator's API (as `openstack server group create` would) */
async function createGroup(h: KaddSim, name: string, policy: string): Promise<string> {
  const r = await fetch(`${h.sim.baseUrl}/compute/v2.1/os-server-groups`, {
    method: 'POST',
    headers: { 'x-auth-token': await h.sim.token(), 'content-type': 'application/json', 'OpenStack-API-Version': 'compute 2.67' },
    body: JSON.stringify({ server_group: { name, policy } }),
  });
  const b = (await r.json()) as { server_group: { id: string } };
  assert.equal(r.status, 200);
  return b.server_group.id;
}

function group(h: KaddSim, id: string): { members: string[] } {
  return (h.sim.state() as any).openstack.serverGroups.find((g: { id: string }) => g.id === id);
}

describe('kadd add with server_group (whole command on the simulator)', function () {
  this.timeout(30_000);
  let h: KaddSim | undefined;
  const start = async (o: KaddSimOptions) => (h = await startKaddSim(o));
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  it('workers land in the group: the hint on every create, members listed, the group in the dry-run plan', async () => {
    const h = await start({ nodes: 1, extraConfig: 'server_group: demo-workers\n' });
    const id = await createGroup(h, 'demo-workers', 'anti-affinity');

    const dry = await add(h, '--amount', '3', '--dry-run');
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, new RegExp(`^server group demo-workers \\(anti-affinity, 0 members now, ${id}\\)$`, 'm'));
    assert.match(dry.stdout, /warning: server group demo-workers has the hard anti-affinity policy: with 3 members it needs 3 compute hosts, and Nova fails the build with "No valid host"/);
    const json = JSON.parse((await add(h, '--amount', '3', '--dry-run', '-f', 'json')).stdout);
    assert.deepEqual(json.serverGroup, { name: 'demo-workers', id, policy: 'anti-affinity', members: 0 });

    const r = await add(h, '--amount', '3');
    assert.equal(r.code, 0, r.stderr);
    const made = h.servers().filter((s) => /^demo-node-[234]$/.test(s.name));
    assert.equal(made.length, 3);
    assert.deepEqual([...group(h, id).members].sort(), made.map((s) => s.id).sort(), 'the three new workers are the members');
    // distinct simulated hosts (2 per zone by default, zones nova/az2 round-robin)
    const hosts = (h.sim.state() as any).openstack.servers.filter((s: any) => made.some((m) => m.id === s.id)).map((s: any) => s.host);
    assert.equal(new Set(hosts).size, 3);
    for (const n of ['demo-node-2', 'demo-node-3', 'demo-node-4']) assert.equal(h.nodes().get(n), true);
  });

  it('a group that does not exist: exit 2 at preflight with how to create it, and no mutating request', async () => {
    const h = await start({ nodes: 1, extraConfig: 'server_group: nope-group\n' });
    h.sim.resetCounters();
    const r = await add(h, '--amount', '1');
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /server group nope-group \(server_group\) not found; create it with `openstack server group create --policy anti-affinity nope-group`/);
    assert.match(r.stderr, /nothing was created/);
    assert.deepEqual(h.mutations({ exceptClusterLock: true }), {}, 'no POST/PUT/PATCH/DELETE reached OpenStack or Kubernetes (but kadd\'s own Lease, released)');
    assert.ok((h.counters()['compute GET /compute/v2.1/os-server-groups'] ?? 0) >= 1, 'the group was looked up');
  });

  it('no server_group configured: not one server-group request, no hint', async () => {
    const h = await start({ nodes: 1 });
    h.sim.resetCounters();
    const r = await add(h, '--amount', '1');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(Object.keys(h.counters()).filter((k) => k.includes('os-server-groups')), []);
    assert.equal((h.sim.state() as any).openstack.servers.find((s: any) => s.name === 'demo-node-2').serverGroup, undefined);
  });

  it('hard anti-affinity with too few hosts: the ERROR shown with its NoValidHost fault, rolled back, exit 3 (partial)', async () => {
    // one host per zone, two zones, one member already there: the 2nd new worker has no host in either zone
    const h = await start({ nodes: 1, scenario: { compute: { hostsPerZone: 1 } }, extraConfig: 'server_group: tight\n' });
    const id = await createGroup(h, 'tight', 'anti-affinity');
    const first = await add(h, '--amount', '1');
    assert.equal(first.code, 0, first.stderr);
    assert.equal(group(h, id).members.length, 1);
    copyFileSync(h.updatedPath, h.cfgPath); // as an operator does: the updated file becomes the cluster file

    const r = await add(h, '--amount', '2');
    assert.equal(r.code, 3, `partial success expected\n${r.stderr}`);
    assert.match(r.stderr, /server went to ERROR: No valid host was found\. There are not enough hosts available\..*retrying in zone/);
    assert.match(r.stdout, /rolled-back .*No valid host was found/);
    // the diagnosis blames the group, not the flavor
    assert.match(r.stderr, /Nova found no host for server group tight \(anti-affinity\): every compute host it may use already runs a member/);
    assert.match(r.stderr, /next step: use a soft-anti-affinity group/);
    assert.match(r.stderr, /1 of 2 nodes added/);
    const failed = r.stdout.split('\n').find((l) => /rolled-back/.test(l))!.trim().split(/\s+/)[0]!;
    assert.deepEqual(h.servers().filter((s) => s.name === failed), [], 'the ERROR server is deleted');
    assert.deepEqual(h.volumes().filter((v) => v.name === `${failed}-root` && v.status !== 'deleting'), []);
    assert.deepEqual(h.ports().filter((p) => p.name === `${failed}-port-0`), []);
    assert.equal(group(h, id).members.length, 2, 'only the members that have a host are left');
    assert.ok(existsSync(h.updatedPath));
  });
});
