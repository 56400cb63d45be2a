/**
 * Issue 12 point 4: adding a second master reduces availability (quorum 1 -> 2 while the member starts):
 * the plan is shown and confirmed on a terminal, --yes answers, and without a terminal and without --yes
 * the run is refused with exit 2 before any API write. 2 -> 3 asks nothing.
 */
import assert from 'node:assert/strict';
import { handleAddMaster } from '../../lib/commands/add-master.js';
import { UsageError } from '../../lib/errors.js';
import { FAST, type SimHarness, masterSimHooks } from './add-master-sim.helpers.js';

const T = '20';

/** Every request that changes something (authentication aside). */
function writes(h: SimHarness): string[] {
  return Object.keys(h.sim.counters().requests).filter((k) => / (POST|PUT|PATCH|DELETE) /.test(k) && !/auth\/tokens$/.test(k));
}

describe('kadd add --role master: confirmation of 1 -> 2 masters (simulator)', function () {
  this.timeout(120_000);
  const sim = masterSimHooks();

  it('1 -> 2 without a terminal and without --yes: exit 2 with the --yes hint, not one API write', async () => {
    const h = await sim.start({});
    h.sim.resetCounters();
    const err = await handleAddMaster({ config: h.cfgPath, timeout: T, tokenTtl: 86400 }, h.ctx, { ...FAST, interactive: false }).catch((e) => e);
    assert.ok(err instanceof UsageError, String(err));
    assert.equal(err.exitCode, 2);
    assert.match(err.message, /asks for confirmation .*stalls the API server.*stdin is not a terminal; nothing was changed/);
    assert.match(err.hint!, /--yes/);
    assert.deepEqual(writes(h), [], 'no API write (no Lease, no adder, no server)');
    assert.equal(h.kubeSim.etcd.members.length, 1);
  });

  it('1 -> 2 on a terminal: the plan is shown and the question asked; "no" changes nothing after the adder is gone; --yes proceeds', async () => {
    const h = await sim.start({});
    const asked: string[] = [];
    h.io.confirm = async (q) => {
      asked.push(q);
      return false;
    };
    const err = await handleAddMaster({ config: h.cfgPath, timeout: T, tokenTtl: 86400 }, h.ctx, { ...FAST, interactive: true }).catch((e) => e);
    assert.ok(err instanceof UsageError, String(err));
    assert.match(err.message, /not confirmed; nothing was changed/);
    assert.deepEqual(asked, ['add master demo-master-2 (1 -> 2 masters)?']);
    assert.ok(h.io.lines.some((l) => /^info: plan: add master demo-master-2 to cluster demo/.test(l)), 'the plan before the question');
    assert.equal([...h.sim.openstack.store.servers.values()].filter((s: any) => s.name === 'demo-master-2').length, 0, 'no server');
    assert.equal(h.kubeSim.deployments('kube-system').filter((d: any) => d.metadata.name.startsWith('kadd-master-adder')).length, 0, 'adder deleted');
    assert.equal(h.kubeSim.etcd.members.length, 1);

    asked.length = 0;
    const code = await handleAddMaster({ yes: true, config: h.cfgPath, timeout: T, tokenTtl: 86400 }, h.ctx, { ...FAST, interactive: false });
    assert.equal(code, 0, h.io.lines.join('\n'));
    assert.deepEqual(asked, [], '--yes answers: no question');
    assert.equal(h.kubeSim.etcd.members.length, 2);
  });

  it('2 -> 3 raises the fault tolerance: no question, no --yes needed without a terminal', async () => {
    const h = await sim.start({}, 2);
    const asked: string[] = [];
    h.io.confirm = async (q) => {
      asked.push(q);
      return false;
    };
    const code = await handleAddMaster({ config: h.cfgPath, timeout: T, tokenTtl: 86400 }, h.ctx, { ...FAST, interactive: false });
    assert.equal(code, 0, h.io.lines.join('\n'));
    assert.deepEqual(asked, []);
    assert.equal(h.kubeSim.etcd.members.length, 3);
  });
});
