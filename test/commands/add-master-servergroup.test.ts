/** `kadd add --role master` with `server_group` in the cluster file (simulator): the new master joins the group. */
import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { handleAddMaster } from '../../lib/commands/add-master.js';
import { FAST, type SimHarness, masterSimHooks } from './add-master-sim.helpers.js';

async function createGroup(h: SimHarness, name: string, policy: string): Promise<string> {
  const r = await fetch(`${h.sim.baseUrl}/compute/v2.1/os-server-groups`, {
    method: 'POST',
    headers: { 'x-auth-token': await h.sim.token(), 'content-type': 'application/json', 'OpenStack-API-Version': 'compute 2.67' },
    body: JSON.stringify({ server_group: { name, policy } }),
  });
  assert.equal(r.status, 200);
  return ((await r.json()) as { server_group: { id: string } }).server_group.id;
}

describe('kadd add --role master with server_group (simulator)', function () {
  this.timeout(120_000);
  const sim = masterSimHooks();
  let h: SimHarness | undefined;

  it('the dry-run plan names the group; the new master is created in it (a member), the warning for hard anti-affinity logged', async () => {
    h = await sim.start({});
    const id = await createGroup(h, 'demo-masters', 'anti-affinity');
    appendFileSync(h.cfgPath, 'server_group: demo-masters\n');

    const dry = await handleAddMaster({ yes: true, config: h.cfgPath, timeout: '20', tokenTtl: 86400, dryRun: true }, h.ctx, FAST);
    assert.equal(dry, 0, h.io.lines.join('\n'));
    assert.match(h.io.results.join(''), new RegExp(`group {6}server group demo-masters \\(anti-affinity, 0 members now, ${id}\\)`));

    const code = await handleAddMaster({ yes: true, config: h.cfgPath, timeout: '20', tokenTtl: 86400 }, h.ctx, FAST);
    assert.equal(code, 0, h.io.lines.join('\n'));
    assert.ok(h.io.lines.some((l) => /warn: server group demo-masters has the hard anti-affinity policy: with 1 member it needs 1 compute host,/.test(l)), h.io.lines.join('\n'));
    const st = h.sim.state().openstack;
    const m2 = st.servers.find((s: { name: string }) => s.name === 'demo-master-2');
    assert.ok(m2, 'demo-master-2 exists');
    assert.equal(m2.serverGroup, id);
    assert.deepEqual(st.serverGroups.find((g: { id: string }) => g.id === id).members, [m2.id]);
  });
});
