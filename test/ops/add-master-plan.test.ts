import assert from 'node:assert/strict';
import { DEFAULT_STAGE_TIMEOUTS, findApiPool, parseStageTimeouts, pickZone, planMaster, type AddMasterRequest, type MasterObserved } from '../../lib/ops/add-master.js';
import { findStale, memberTable, formatMemberTable } from '../../lib/ops/master-etcd.js';
import { pickAdderNode } from '../../lib/ops/adder.js';
import { parseAddMasterArgs } from '../../lib/commands/add-master.js';
import type { ClusterView } from '../../lib/etcd/quorum.js';
import type { KNode } from '../../lib/kube/types.js';
import type { ClusterConfig } from '../../lib/config/types.js';

const cfg = {
  file: '/x/cfg.yml', clusterName: 'demo', nMasters: 1, nNodes: 1, keypair: 'kp', masterFlavor: 'm1.medium', nodeFlavor: 'm1.small',
  availabilityZones: ['az1', 'az2'], image: 'img', privateNet: { name: 'demo-net', subnet: { name: 'demo-subnet', cidr: '10.0.0.0/16', router: { name: 'demo-rt' } } },
  loadbalancer: { name: 'demo-lb' }, version: { k8s: '1.30.2' }, podSubnet: '', podNetwork: 'CALICO', volumeSize: 25, securityGroup: 'demo-sg',
  ssh: { user: 'ubuntu', port: 22, hostKeys: {} }, nodeLabels: {}, nodeTaints: [],
} as ClusterConfig;

const req = (over: Partial<AddMasterRequest> = {}): AddMasterRequest => ({
  config: cfg, snapshot: true, fixStale: false, keepFailed: false, timeouts: DEFAULT_STAGE_TIMEOUTS, volumeTimeoutMs: 1, tokenTtlSeconds: 1800,
  pollIntervalMs: 1, maxPollIntervalMs: 1, ...over,
});

const node = (name: string, ip: string, cp = true, ready = true): KNode => ({
  name, labels: cp ? { 'node-role.kubernetes.io/control-plane': '' } : {}, taints: [], unschedulable: false, ready, conditions: [],
  addresses: [{ type: 'InternalIP', address: ip }], creationTimestamp: `2024-01-0${name.slice(-1)}T00:00:00Z`,
});

const member = (id: string, name: string, ip: string, o: { learner?: boolean; healthy?: boolean; started?: boolean } = {}) => ({
  member: { id, name: o.started === false ? '' : name, peerURLs: [`https://${ip}:2380`], clientURLs: o.started === false ? [] : [`https://${ip}:2379`], isLearner: !!o.learner },
  started: o.started !== false, healthy: o.healthy ?? o.started !== false, isLeader: id === 'a', reason: o.healthy === false ? 'down' : undefined,
});

function observed(view: ClusterView, nodes: KNode[], over: Partial<MasterObserved> = {}): MasterObserved {
  return {
    flavors: [{ id: 'f1', name: 'm1.medium', vcpus: 2, ram: 4096, disk: 40 }, { id: 'f2', name: 'm1.large', vcpus: 4, ram: 8192, disk: 80 }],
    image: { id: 'i', name: 'img', status: 'active' }, keypair: { name: 'kp' }, zones: [{ zoneName: 'az1', zoneState: { available: true } }, { zoneName: 'az2', zoneState: { available: true } }],
    volumeTypes: null, network: { id: 'n', name: 'demo-net' }, subnet: { id: 's', name: 'demo-subnet', network_id: 'n', cidr: '', ip_version: 4 },
    securityGroup: { id: 'sg', name: 'demo-sg' }, novaLimits: { maxTotalCores: 10, totalCoresUsed: 9, maxTotalRAMSize: -1, totalRAMUsed: 0, maxTotalInstances: -1, totalInstancesUsed: 0 },
    cinderLimits: null, neutronQuota: null,
    masters: [{ id: 'm1', name: 'demo-master-1', status: 'ACTIVE', 'OS-EXT-AZ:availability_zone': 'az1' }], volumes: [], ports: [],
    lb: { id: 'lb', name: 'demo-lb', vip_address: '1.2.3.4', vip_subnet_id: 's', provisioning_status: 'ACTIVE' },
    listeners: [{ id: 'l', name: 'master-listener-demo', protocol: 'TCP', protocol_port: 6443, default_pool_id: 'p' }],
    pools: [{ id: 'p', name: 'master-pool-demo', protocol: 'TCP', lb_algorithm: 'ROUND_ROBIN' }],
    kube: { ok: true, version: 'v1.30.2', server: 'https://1.2.3.4:6443' }, ownership: { ok: true, reason: '' }, nodes,
    etcd: { view, transport: 'pod', nodeName: 'demo-master-1' }, errors: [], ...over,
  };
}

describe('add-master plan (pure)', () => {
  const one: ClusterView = { members: [member('a', 'demo-master-1', '10.0.0.1')], leaderId: 'a' };
  const nodes1 = [node('demo-master-1', '10.0.0.1')];

  it('1 -> 2: allowed with the progress warning and the even-size warning; name, zone, flavor, pool, quota', () => {
    const p = planMaster(req(), observed(one, nodes1));
    assert.deepEqual(p.blockers, ['quota: cores needs 2, only 1 free']);
    assert.equal(p.name, 'demo-master-2');
    assert.equal(p.zone, 'az2', 'the zone with the fewest masters');
    assert.equal(p.flavor.name, 'm1.medium');
    assert.deepEqual(p.lb, { id: 'lb', name: 'demo-lb', poolId: 'p', poolName: 'master-pool-demo', subnetId: 's' });
    assert.ok(p.warnings.some((w) => /1 to 2/.test(w)));
    assert.ok(p.warnings.some((w) => /even number/.test(w)));
    assert.equal(p.mastersAfter, 2);
    assert.equal(p.etcd.projection?.votersAfter, 2);
  });

  it('--flavor is honoured; an unknown flavor is a blocker naming the choices', () => {
    const o = observed(one, nodes1, { novaLimits: null });
    assert.equal(planMaster(req({ flavor: 'm1.large' }), o).flavor.id, 'f2');
    assert.match(planMaster(req({ flavor: 'nope' }), o).blockers.join(), /flavor nope not found; available: m1.large, m1.medium/);
  });

  it('refuses with an unhealthy member (3 members, 1 down: adding would risk quorum)', () => {
    const v: ClusterView = { members: [member('a', 'demo-master-1', '10.0.0.1'), member('b', 'demo-master-2', '10.0.0.2', { healthy: false }), member('c', 'demo-master-3', '10.0.0.3')], leaderId: 'a' };
    const p = planMaster(req(), observed(v, [node('demo-master-1', '10.0.0.1'), node('demo-master-2', '10.0.0.2', true, false), node('demo-master-3', '10.0.0.3')], { novaLimits: null }));
    assert.ok(p.blockers.some((b) => /demo-master-2 is not Ready/.test(b)));
    assert.ok(p.blockers.some((b) => /unhealthy/.test(b)));
    assert.ok(p.blockers.some((b) => /risk quorum/.test(b)));
  });

  it('a stale learner (no Node) blocks without --fix-stale, with its fix; with it, the plan is clean and lists the removal', () => {
    const v: ClusterView = { members: [member('a', 'demo-master-1', '10.0.0.1'), member('ffffffffffffffff', 'x', '10.0.0.9', { learner: true, started: false })], leaderId: 'a' };
    const o = observed(v, nodes1, { novaLimits: null });
    const p = planMaster(req(), o);
    assert.equal(p.stale.length, 1);
    assert.equal(p.stale[0]!.id, 'ffffffffffffffff', 'uint64 id kept exact');
    assert.ok(p.blockers.some((b) => /stale/.test(b) && /--fix-stale/.test(b) && /member remove ffffffffffffffff/.test(b)));
    const q = planMaster(req({ fixStale: true }), o);
    assert.deepEqual(q.blockers, []);
    assert.ok(q.warnings.some((w) => /--fix-stale/.test(w)));
  });

  it('a started learner with a Node is not stale but still blocks (promote or remove)', () => {
    const v: ClusterView = { members: [member('a', 'demo-master-1', '10.0.0.1'), member('b', 'demo-master-2', '10.0.0.2', { learner: true })], leaderId: 'a' };
    const ns = [...nodes1, node('demo-master-2', '10.0.0.2')];
    assert.deepEqual(findStale(v, ns), []);
    const p = planMaster(req({ fixStale: true }), observed(v, ns, { novaLimits: null }));
    assert.ok(p.blockers.some((b) => /learner/.test(b) && /promote/.test(b)));
  });

  it('no API pool, unreadable etcd, API down: each is a blocker', () => {
    const o = observed(one, nodes1, { novaLimits: null, listeners: [], pools: [], etcd: { error: 'exec failed' }, kube: { ok: false, error: 'ECONNREFUSED', server: 'https://x:6443' } });
    const b = planMaster(req(), o).blockers.join('\n');
    assert.match(b, /no pool for the API/);
    assert.match(b, /cannot read the etcd member list: exec failed/);
    assert.match(b, /did not answer \(ECONNREFUSED\)/);
  });

  it('helpers: API pool by listener port, zone choice, adder node choice, member table', () => {
    assert.equal(findApiPool('c', [{ id: 'l', name: 'other', protocol: 'TCP', protocol_port: 6443, default_pool_id: 'p2' }], [{ id: 'p2', name: 'x', protocol: 'TCP', lb_algorithm: 'R' }]).pool?.id, 'p2');
    assert.equal(pickZone([], []), undefined);
    assert.equal(pickZone(['a', 'b'], [{ id: '1', name: 'x', status: 'ACTIVE', 'OS-EXT-AZ:availability_zone': 'a' }]), 'b');
    const ns = [node('m-2', '1'), node('m-1', '2'), node('w-1', '3', false), { ...node('m-3', '4'), unschedulable: true }];
    assert.equal(pickAdderNode(ns)?.name, 'm-1');
    assert.equal(pickAdderNode(ns, ['m-1'])?.name, 'm-2');
    assert.equal(pickAdderNode([node('m-1', '1', true, false)]), null);
    const t = formatMemberTable(memberTable(one));
    assert.match(t, /NAME\s+ID\s+LEARNER\s+HEALTHY\s+LEADER/);
    assert.match(t, /demo-master-1\s+a\s+false\s+true\s+\*/);
  });

  it('argv: one master per run, --via, timeouts per stage', () => {
    assert.throws(() => parseAddMasterArgs({ config: 'c', amount: 3 }), /one master per run/);
    assert.throws(() => parseAddMasterArgs({ config: 'c', via: 'telnet' }), /--via must be kube or ssh/);
    const a = parseAddMasterArgs({ config: 'c', 'no-snapshot': true, snapshot: false, 'fix-stale': true, timeout: 'ready=30' });
    assert.equal(a.request.snapshot, false);
    assert.equal(a.request.fixStale, true);
    assert.equal(a.request.timeouts.ready, 30_000);
    assert.equal(a.request.timeouts.active, DEFAULT_STAGE_TIMEOUTS.active);
    assert.equal(parseStageTimeouts('5').promoted, 5000);
    assert.throws(() => parseStageTimeouts('bogus=5'), /unknown stage "bogus"/);
    assert.throws(() => parseStageTimeouts('-1'), /positive number/);
  });
});
