import assert from 'node:assert/strict';
import { plan, assertNoBlockers, validateRequest, type AddWorkersRequest, type Observed } from '../../lib/ops/add-workers.js';
import type { ClusterConfig } from '../../lib/config/types.js';
import { PreflightError, UsageError } from '../../lib/errors.js';

export function testConfig(over: Partial<ClusterConfig> = {}): ClusterConfig {
  return {
    file: '/tmp/cfg.yml', clusterName: 'k', nMasters: 1, nNodes: 2, keypair: 'kp', masterFlavor: 'm1.large', nodeFlavor: 'm1.medium',
    availabilityZones: ['nova', 'az2'], image: 'ubuntu', storageClass: undefined,
    privateNet: { name: 'k-net', subnet: { name: 'k-subnet', cidr: '192.168.0.0/16', router: { name: 'k-rt' } } },
    loadbalancer: { name: 'k-lb' }, version: { k8s: '1.30.4' }, podSubnet: '10.233.0.0/16', podNetwork: 'CALICO',
    volumeSize: 25, securityGroup: 'k-sec-group', ssh: { user: 'ubuntu', port: 22, hostKeys: {} }, nodeLabels: {}, nodeTaints: [],
    ...over,
  };
}

function req(over: Partial<AddWorkersRequest> = {}): AddWorkersRequest {
  return {
    config: testConfig(), amount: 3, concurrency: 4, bootTimeoutMs: 1, joinTimeoutMs: 1, volumeTimeoutMs: 1, wait: true, keepFailed: false,
    tokenTtlSeconds: 900, pollIntervalMs: 1, maxPollIntervalMs: 1, ...over,
  };
}

function observed(over: Partial<Observed> = {}): Observed {
  return {
    flavors: [{ id: 'f1', name: 'm1.medium', vcpus: 2, ram: 4096, disk: 0 }, { id: 'f2', name: 'm1.large', vcpus: 4, ram: 8192, disk: 0 }],
    image: { id: 'img', name: 'ubuntu', status: 'active' }, keypair: { name: 'kp' },
    zones: [{ zoneName: 'nova', zoneState: { available: true } }, { zoneName: 'az2', zoneState: { available: true } }],
    volumeTypes: null, network: { id: 'n1', name: 'k-net' }, subnet: { id: 's1', name: 'k-subnet', network_id: 'n1', cidr: '192.168.0.0/16', ip_version: 4 },
    router: { id: 'r1', name: 'k-rt' }, securityGroup: { id: 'sg', name: 'k-sec-group' },
    novaLimits: { maxTotalCores: 100, totalCoresUsed: 10, maxTotalRAMSize: 100000, totalRAMUsed: 0, maxTotalInstances: 10, totalInstancesUsed: 3 },
    cinderLimits: { maxTotalVolumes: 10, totalVolumesUsed: 3, maxTotalVolumeGigabytes: 1000, totalGigabytesUsed: 75 },
    neutronQuota: { port: { used: 5, limit: 50, reserved: 0 } },
    servers: [{ id: 'a', name: 'k-node-1', status: 'ACTIVE' }, { id: 'b', name: 'k-node-10', status: 'ACTIVE' }],
    volumes: [], ports: [],
    kube: { ok: true, version: 'v1.30.4', server: 'https://10.0.0.5:6443' }, ownership: { ok: true, reason: 'vip' },
    userDataBytes: 4000, errors: [],
    ...over,
  };
}

describe('ops/add-workers plan', () => {
  it('validateRequest refuses a non-numeric --token-ttl (NaN) instead of creating a token with it', () => {
    assert.throws(() => validateRequest(req({ tokenTtlSeconds: Number.NaN })), UsageError);
    assert.throws(() => validateRequest(req({ tokenTtlSeconds: 299 })), UsageError);
    validateRequest(req());
  });

  it('plans names after the numeric maximum, zones round-robin, network skipped when present', () => {
    const p = plan(req(), observed());
    assert.deepEqual(p.blockers, []);
    assert.deepEqual(p.nodes.map((n) => n.name), ['k-node-11', 'k-node-12', 'k-node-13']);
    assert.deepEqual(p.nodes.map((n) => n.zone), ['nova', 'az2', 'nova']);
    assert.equal(p.network.action, 'exists');
    assert.equal(p.apiEndpoint, '10.0.0.5:6443');
    assert.deepEqual(p.nodes[0].flavor, { id: 'f1', name: 'm1.medium', vcpus: 2, ram: 4096 });
    assert.deepEqual(p.quota.find((q) => q.resource === 'cores'), { resource: 'cores', need: 6, free: 90, ok: true });
  });
  it('--flavor and --zone win', () => {
    const p = plan(req({ flavor: 'm1.large', zone: 'az2' }), observed());
    assert.ok(p.nodes.every((n) => n.flavor.name === 'm1.large' && n.zone === 'az2'));
  });
  it('reports every problem at once', () => {
    const p = plan(req({ flavor: 'nope', zone: 'mars' }), observed({ image: null, keypair: null, ownership: { ok: false, reason: 'not ours' } }));
    const text = p.blockers.join('\n');
    assert.match(text, /flavor nope not found; available: m1.large, m1.medium/);
    assert.match(text, /image ubuntu not found/);
    assert.match(text, /keypair kp not found/);
    assert.match(text, /availability zone mars not found or not available; available: nova, az2/);
    assert.match(text, /not ours; pass the right --kubeconfig\/--context/);
    assert.throws(() => assertNoBlockers(p), (e: unknown) => e instanceof PreflightError && e.exitCode === 2 && e.details.length === 5);
  });
  it('quota for the whole batch: refuses when the batch does not fit', () => {
    const p = plan(req({ amount: 8 }), observed());
    const inst = p.quota.find((q) => q.resource === 'instances')!;
    assert.deepEqual(inst, { resource: 'instances', need: 8, free: 7, ok: false });
    assert.ok(p.blockers.some((b) => b === 'quota: instances needs 8, only 7 free'));
    assert.ok(p.quota.find((q) => q.resource === 'gigabytes')!.ok);
  });
  it('unlimited quota (-1) never blocks', () => {
    const p = plan(req({ amount: 50 }), observed({ novaLimits: { maxTotalCores: -1, totalCoresUsed: 10, maxTotalRAMSize: -1, totalRAMUsed: 0, maxTotalInstances: -1, totalInstancesUsed: 3 }, cinderLimits: null, neutronQuota: { port: { used: 1, limit: -1, reserved: 0 } } }));
    assert.deepEqual(p.blockers, []);
    assert.equal(p.quota[0].free, 'unlimited');
  });
  it('adopts existing resources by exact name instead of duplicating them (resume)', () => {
    const p = plan(req({ amount: 2, resumeNames: ['k-node-11', 'k-node-12'], journaledIds: ['s11', 'v12', 'p11', 'p12'] }), observed({
      servers: [{ id: 'a', name: 'k-node-1', status: 'ACTIVE' }, { id: 's11', name: 'k-node-11', status: 'BUILD' }],
      volumes: [{ id: 'v12', name: 'k-node-12-root', status: 'available', size: 25 }],
      ports: [{ id: 'p11', name: 'k-node-11-port-0', network_id: 'n1' }, { id: 'p12', name: 'k-node-12-port-0', network_id: 'n1' }],
    }));
    assert.deepEqual(p.nodes.map((n) => n.adopt), [{ serverId: 's11', volumeId: undefined, portId: 'p11' }, { serverId: undefined, volumeId: 'v12', portId: 'p12' }]);
    assert.deepEqual(p.quota.find((q) => q.resource === 'instances')!.need, 1);
    assert.deepEqual(p.quota.find((q) => q.resource === 'volumes')!.need, 0);
    assert.deepEqual(p.quota.find((q) => q.resource === 'ports')!.need, 0);
  });
  it('adopts by name only with proof: journaled, or kadd\'s metadata/tag/description and not held by another live server (13.9)', () => {
    const o = observed({
      servers: [{ id: 'a', name: 'k-node-1', status: 'ACTIVE' }, { id: 's-other', name: 'k-node-7', status: 'ACTIVE', metadata: {} }],
      volumes: [{ id: 'v2', name: 'k-node-2-root', status: 'available', size: 25, metadata: { 'kadd-cluster': 'k' } }, { id: 'v3', name: 'k-node-3-root', status: 'available', size: 25 }],
      ports: [
        { id: 'p2', name: 'k-node-2-port-0', network_id: 'n1', description: 'kadd: k k-node-2' },
        { id: 'p3', name: 'k-node-3-port-0', network_id: 'n1', tags: ['kadd-cluster=k'], device_id: 's-other' },
      ],
    });
    const p = plan(req({ amount: 2, resumeNames: ['k-node-2', 'k-node-3'] }), o);
    assert.deepEqual(p.nodes.map((n) => n.adopt), [{ serverId: undefined, volumeId: 'v2', portId: 'p2' }, { serverId: undefined, volumeId: undefined, portId: undefined }]);
    assert.ok(p.blockers.some((b) => /volume k-node-3-root exists but is not adopted: it carries no proof/.test(b)), p.blockers.join('\n'));
    assert.ok(p.blockers.some((b) => /port k-node-3-port-0 exists but is not adopted: it is in use by server s-other/.test(b)), p.blockers.join('\n'));
  });
  it('refuses duplicates and oversized user-data', () => {
    const p = plan(req({ amount: 1, resumeNames: ['k-node-11'] }), observed({
      servers: [{ id: 'x', name: 'k-node-11', status: 'ACTIVE' }, { id: 'y', name: 'k-node-11', status: 'ACTIVE' }],
      userDataBytes: 70000,
    }));
    assert.ok(p.blockers.includes('2 servers are named k-node-11; remove the duplicates first'));
    assert.ok(p.blockers.some((b) => b.includes("over Nova's limit of 65535")));
  });
  it('network, subnet, router and security group are created when missing', () => {
    const p = plan(req(), observed({ network: null, subnet: null, router: null, securityGroup: null }));
    assert.equal(p.network.action, 'create');
    assert.equal(p.subnet.action, 'create');
    assert.equal(p.router.action, 'create');
    assert.equal(p.securityGroup.action, 'create');
    assert.deepEqual(p.blockers, []);
  });
});
