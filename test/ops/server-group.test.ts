/** serverGroupCheck and groupDiagnosis (lib/ops/observe.ts): pure. */
import assert from 'node:assert/strict';
import { groupDiagnosis, groupPolicy, serverGroupCheck } from '../../lib/ops/observe.js';
import { diagnose } from '../../lib/ops/diagnose.js';
import type { NovaLimits, ServerGroup } from '../../lib/openstack/types.js';

const g = (o: Partial<ServerGroup> = {}): ServerGroup => ({ id: 'g1', name: 'k8s', policy: 'anti-affinity', members: ['a', 'b'], ...o });

describe('server_group checks', () => {
  it('not configured: nothing at all', () => {
    assert.deepEqual(serverGroupCheck({}, { serverGroup: null }, 3), { blockers: [], warnings: [] });
  });

  it('configured but missing: one blocker with the create command; a failed lookup adds none of its own', () => {
    assert.deepEqual(serverGroupCheck({ serverGroup: 'k8s' }, { serverGroup: null }, 1).blockers, [
      'server group k8s (server_group) not found; create it with `openstack server group create --policy anti-affinity k8s`',
    ]);
    assert.deepEqual(serverGroupCheck({ serverGroup: 'k8s' }, { serverGroup: null, serverGroupFailed: true }, 1).blockers, []);
  });

  it('policy from either microversion shape', () => {
    assert.equal(groupPolicy(g({ policy: undefined, policies: ['soft-affinity'] })), 'soft-affinity');
    assert.equal(groupPolicy(g()), 'anti-affinity');
  });

  it('hard anti-affinity warns with the host count needed (max_server_per_host respected); soft policies do not warn', () => {
    const w = serverGroupCheck({ serverGroup: 'k8s' }, { serverGroup: g() }, 3).warnings;
    assert.equal(w.length, 1);
    assert.match(w[0]!, /hard anti-affinity policy: with 5 members it needs 5 compute hosts/);
    assert.match(serverGroupCheck({ serverGroup: 'k8s' }, { serverGroup: g({ rules: { max_server_per_host: 2 } }) }, 3).warnings[0]!, /\(at most 2 per host\): with 5 members it needs 3 compute hosts/);
    assert.match(serverGroupCheck({ serverGroup: 'k8s' }, { serverGroup: g({ policy: 'affinity' }) }, 1).warnings[0]!, /all its members go to one compute host/);
    assert.deepEqual(serverGroupCheck({ serverGroup: 'k8s' }, { serverGroup: g({ policy: 'soft-anti-affinity' }) }, 3).warnings, []);
    assert.deepEqual(serverGroupCheck({ serverGroup: 'k8s' }, { serverGroup: g() }, 0).warnings, [], 'nothing new (all adopted): no warning');
  });

  it('the server_group_members quota blocks before anything is created', () => {
    const limits: NovaLimits = {
      maxTotalCores: -1, totalCoresUsed: 0, maxTotalRAMSize: -1, totalRAMUsed: 0, maxTotalInstances: -1, totalInstancesUsed: 0,
      maxServerGroupMembers: 3,
    };
    const r = serverGroupCheck({ serverGroup: 'k8s' }, { serverGroup: g({ policy: 'soft-anti-affinity' }), novaLimits: limits }, 2);
    assert.deepEqual(r.blockers, ['quota: server group k8s has 2 members; 2 more exceed the server_group_members quota of 3']);
    assert.deepEqual(serverGroupCheck({ serverGroup: 'k8s' }, { serverGroup: g(), novaLimits: limits }, 1).blockers, []);
    assert.deepEqual(r.group, { id: 'g1', name: 'k8s', policy: 'soft-anti-affinity', members: 2 });
  });

  it('NoValidHost in a hard group: the diagnosis names the group and the way out; other causes untouched', () => {
    const nvh = diagnose({ fault: { message: 'No valid host was found. There are not enough hosts available.' }, status: 'ERROR' });
    assert.equal(nvh.cause, 'no-valid-host');
    const d = groupDiagnosis(nvh, { name: 'k8s', policy: 'anti-affinity' });
    assert.match(d.summary, /no host for server group k8s \(anti-affinity\)/);
    assert.match(d.nextStep, /soft-anti-affinity/);
    assert.deepEqual(d.evidence, nvh.evidence);
    assert.equal(groupDiagnosis(nvh, { name: 'k8s', policy: 'soft-anti-affinity' }), nvh);
    assert.equal(groupDiagnosis(nvh, undefined), nvh);
    const other = diagnose({ fault: { message: 'Build of instance aborted: Volume attachment failed' }, status: 'ERROR' });
    assert.equal(groupDiagnosis(other, { name: 'k8s', policy: 'anti-affinity' }), other);
  });
});
