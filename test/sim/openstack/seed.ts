/**
 * Default contents of the simulated cloud, and the OpenStack side of an existing cluster (scenario.cluster).
 *
 * Defaults (documented in test/sim/README.md):
 *   domain Default (id "default"); project "kadd"; user "kadd" / password "kadd-secret" (roles member, reader);
 *   application credential name "kadd-appcred", secret "kadd-appcred-secret" (id in GET /_sim/state .openstack.identity);
 *   a second project "other" with user "other" / "other-secret" (isolation tests);
 *   regions RegionOne and RegionTwo (RegionTwo endpoints live under /regiontwo and share the state);
 *   AZs nova and az2; flavors m1.nano..m1.xlarge; images ubuntu-22.04 (min_disk 10) and cirros (min_disk 0);
 *   volume types __DEFAULT__ and ssd; keypair "kadd"; external network "public" 172.24.4.0/24.
 */
import { createHash } from 'node:crypto';
import type { Store, Server, Flavor } from './store.js';
import type { Cinder } from './cinder.js';

export const DEFAULTS = {
  domain: 'Default',
  user: 'kadd',
  password: 'kadd-secret',
  project: 'kadd',
  appCredName: 'kadd-appcred',
  appCredSecret: 'kadd-appcred-secret',
  region: 'RegionOne',
  regions: ['RegionOne', 'RegionTwo'],
  image: 'ubuntu-22.04',
  keypair: 'kadd',
  publicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl kadd@sim',
} as const;

function stable(s: string): string {
  return createHash('sha256').update(s).digest('hex').slice(0, 32);
}

export function seedDefaults(store: Store, extraFlavors?: { name: string; vcpus: number; ram: number; disk: number; extraSpecs?: Record<string, string> }[]): void {
  const now = store.now();
  store.domains.set('default', { id: 'default', name: 'Default' });
  const projectId = stable('project/kadd');
  const otherProject = stable('project/other');
  store.projects.set(projectId, { id: projectId, name: 'kadd', domainId: 'default' });
  store.projects.set(otherProject, { id: otherProject, name: 'other', domainId: 'default' });
  const userId = stable('user/kadd');
  store.users.set(userId, { id: userId, name: 'kadd', domainId: 'default', password: DEFAULTS.password, defaultProjectId: projectId, roles: ['member', 'reader'] });
  const otherUser = stable('user/other');
  store.users.set(otherUser, { id: otherUser, name: 'other', domainId: 'default', password: 'other-secret', defaultProjectId: otherProject, roles: ['member', 'reader'] });
  const acId = stable('appcred/kadd');
  store.appCreds.set(acId, { id: acId, name: DEFAULTS.appCredName, secret: DEFAULTS.appCredSecret, userId, projectId, description: 'seeded by the simulator', expiresAt: null, unrestricted: false, roles: ['member', 'reader'] });

  const flavors: [string, string, number, number, number][] = [
    ['0', 'm1.nano', 1, 128, 1], ['1', 'm1.tiny', 1, 512, 1], ['2', 'm1.small', 1, 2048, 20], ['3', 'm1.medium', 2, 4096, 40], ['4', 'm1.large', 4, 8192, 80], ['5', 'm1.xlarge', 8, 16384, 160],
  ];
  for (const [id, name, vcpus, ram, disk] of flavors)
    store.flavors.set(id, { id, name, vcpus, ram, disk, ephemeral: 0, swap: 0, isPublic: true, extraSpecs: {}, description: null } satisfies Flavor);
  for (const f of extraFlavors ?? []) {
    const id = store.uuid();
    store.flavors.set(id, { id, name: f.name, vcpus: f.vcpus, ram: f.ram, disk: f.disk, ephemeral: 0, swap: 0, isPublic: true, extraSpecs: { ...(f.extraSpecs ?? {}) }, description: null } satisfies Flavor);
  }

  for (const [name, minDisk, size] of [['ubuntu-22.04', 10, 694157312], ['cirros', 0, 21430272]] as const) {
    const id = store.uuid();
    store.images.set(id, {
      id, name, status: 'active', minDisk, minRam: 0, size, visibility: 'public', diskFormat: 'qcow2', containerFormat: 'bare', owner: stable('project/admin'),
      created: now, updated: now, checksum: createHash('md5').update(name).digest('hex'), tags: [], properties: { os_distro: name.startsWith('ubuntu') ? 'ubuntu' : 'cirros', hw_disk_bus: 'virtio' },
    });
  }
  for (const [name, desc] of [['__DEFAULT__', 'Default Volume Type'], ['ssd', 'SSD-backed volumes']] as const) {
    const id = store.uuid();
    store.volumeTypes.set(id, { id, name, description: desc, isPublic: true, extraSpecs: { volume_backend_name: 'fake' } });
  }
  store.keypairs.set(DEFAULTS.keypair, { name: DEFAULTS.keypair, publicKey: DEFAULTS.publicKey, fingerprint: fp(DEFAULTS.publicKey), type: 'ssh', userId, created: now, id: store.nextKeypairId() });

  const pub = { id: store.uuid(), name: 'public', projectId: stable('project/admin'), external: true, shared: false, status: 'ACTIVE', adminStateUp: true, subnets: [] as string[], mtu: 1500, tags: [], created: now, updated: now, revision: 1, description: '' };
  store.networks.set(pub.id, pub);
  store.addSubnet({ id: store.uuid(), name: 'public-subnet', networkId: pub.id, projectId: pub.projectId, cidr: '172.24.4.0/24', gatewayIp: '172.24.4.1', ipVersion: 4, pools: [{ start: '172.24.4.2', end: '172.24.4.254' }], enableDhcp: false, dnsNameservers: [], created: now, updated: now, tags: [], revision: 0, description: '' });
  store.defaultSecGroup(projectId);
}

function fp(pub: string): string {
  const b = pub.trim().split(/\s+/)[1] ?? pub;
  return createHash('md5').update(Buffer.from(b, 'base64')).digest('hex').match(/../g)!.join(':');
}

/** the OpenStack side of an existing cluster of M masters and N nodes, all ACTIVE */
export function seedCluster(store: Store, cinder: Cinder, cluster: { name?: string; masters?: number; nodes?: number }): void {
  const cn = cluster.name ?? 'kadd';
  const masters = cluster.masters ?? 1;
  const nodes = cluster.nodes ?? 0;
  const now = store.now();
  const projectId = [...store.projects.values()].find((p) => p.name === 'kadd')!.id;
  const userId = [...store.users.values()].find((u) => u.name === 'kadd')!.id;
  const net = { id: store.uuid(), name: `${cn}-net`, projectId, external: false, shared: false, status: 'ACTIVE', adminStateUp: true, subnets: [] as string[], mtu: 1450, tags: [], created: now, updated: now, revision: 1, description: '' };
  store.networks.set(net.id, net);
  const sub = store.addSubnet({ id: store.uuid(), name: `${cn}-subnet`, networkId: net.id, projectId, cidr: '192.168.0.0/16', gatewayIp: '192.168.0.1', ipVersion: 4, pools: [{ start: '192.168.0.2', end: '192.168.255.254' }], enableDhcp: true, dnsNameservers: [], created: now, updated: now, tags: [], revision: 0, description: '' });
  const ext = [...store.networks.values()].find((n) => n.external)!;
  const gwPort = store.createPort({ networkId: ext.id, projectId: '', deviceOwner: 'network:router_gateway' });
  const router = { id: store.uuid(), name: `${cn}-rt`, projectId, status: 'ACTIVE', adminStateUp: true, gateway: { network_id: ext.id, enable_snat: true, external_fixed_ips: 'port' in gwPort ? gwPort.port.fixedIps : [] }, interfaces: [] as string[], created: now, updated: now, revision: 1, tags: [], description: '' };
  store.routers.set(router.id, router);
  sub.used.delete(ipInt('192.168.0.1'));
  const rif = store.createPort({ networkId: net.id, projectId, deviceId: router.id, deviceOwner: 'network:router_interface', fixedIps: [{ subnet_id: sub.id, ip_address: '192.168.0.1' }] });
  if ('port' in rif) { rif.port.status = 'ACTIVE'; router.interfaces.push(rif.port.id); }
  const sg = store.addSecGroup(projectId, `${cn}-sec-group`, `security group of cluster ${cn}`, false);
  for (const [min, max] of [[22, 22], [6443, 6443], [2379, 2380], [10250, 10250]]) sg.rules.push(store.makeRule(sg, { direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', port_range_min: min, port_range_max: max, remote_ip_prefix: '192.168.0.0/16' }));
  if (!store.keypairs.has(cn)) store.keypairs.set(cn, { name: cn, publicKey: DEFAULTS.publicKey, fingerprint: fp(DEFAULTS.publicKey), type: 'ssh', userId, created: now, id: store.nextKeypairId() });
  const image = [...store.images.values()].find((i) => i.name === DEFAULTS.image)!;
  const ssd = [...store.volumeTypes.values()].find((t) => t.name === 'ssd')!;
  const mkServer = (name: string, flavorId: string, i: number): Server => {
    const az = store.azs[i % store.azs.length]!;
    const id = store.uuid();
    const port = store.createPort({ networkId: net.id, projectId, deviceId: id, deviceOwner: `compute:${az}`, securityGroups: [sg.id] });
    if (!('port' in port)) throw new Error(`seed: ${port.error.message}`);
    port.port.status = 'ACTIVE';
    port.port.hostId = 'sim-compute';
    const vol = cinder.createInternal({ projectId, userId, size: 25, imageId: image.id, az, name, volumeType: ssd.id });
    vol.status = 'in-use';
    vol.updated = now;
    store.attachVolume(vol, id, '/dev/vda', 'in-use');
    const s: Server = {
      id, name, status: 'ACTIVE', vmState: 'active', taskState: null, powerState: 1, flavorId, imageId: '', keyName: cn, az, metadata: {}, tags: [], userData: null,
      created: now - 86400000, updated: now - 86400000, launchedAt: now - 86400000, projectId, userId, hostId: createHash('sha224').update(projectId + 'sim-compute-' + az).digest('hex'),
      ports: [port.port.id], createdPorts: [port.port.id], volumes: [{ id: vol.id, deleteOnTermination: true }], securityGroups: [sg.name], description: null, configDrive: '',
      reservationId: 'r-' + store.core.idRng.hex(8), bootAt: now - 86400000, bootStageMs: 2000, hostAssignedAt: now - 86400000,
    };
    store.servers.set(id, s);
    return s;
  };
  const masterServers: Server[] = [];
  for (let i = 1; i <= masters; i++) masterServers.push(mkServer(`${cn}-master-${i}`, '3', i - 1));
  for (let i = 1; i <= nodes; i++) mkServer(`${cn}-node-${i}`, '3', i - 1);
  // load balancer <cn>-lb, listener master-listener-<cn>, pool master-pool-<cn> with the masters on 6443
  const vip = store.createPort({ networkId: net.id, projectId, deviceOwner: 'Octavia', fixedIps: [{ subnet_id: sub.id }] });
  if (!('port' in vip)) throw new Error('seed: no VIP address');
  const lbId = store.uuid();
  vip.port.name = `octavia-lb-${lbId}`;
  vip.port.deviceId = `lb-${lbId}`;
  const listenerId = store.uuid();
  const poolId = store.uuid();
  const memberIds: string[] = [];
  for (const m of masterServers) {
    const mid = store.uuid();
    memberIds.push(mid);
    const ip = store.ports.get(m.ports[0]!)!.fixedIps[0]!.ip_address;
    store.members.set(mid, { id: mid, name: m.name, projectId, poolId, address: ip, protocolPort: 6443, subnetId: sub.id, weight: 1, provisioning: 'ACTIVE', operating: 'NO_MONITOR', adminStateUp: true, monitorAddress: null, monitorPort: null, backup: false, created: now, updated: now, tags: [] });
  }
  store.lbs.set(lbId, { id: lbId, name: `${cn}-lb`, description: '', projectId, vipSubnetId: sub.id, vipNetworkId: net.id, vipPortId: vip.port.id, vipAddress: vip.port.fixedIps[0]!.ip_address, provisioning: 'ACTIVE', operating: 'ONLINE', adminStateUp: true, provider: 'amphora', created: now, updated: now, listeners: [listenerId], pools: [poolId], tags: [], flavorId: null, az: null });
  store.listeners.set(listenerId, { id: listenerId, name: `master-listener-${cn}`, description: '', projectId, lbId, protocol: 'TCP', protocolPort: 6443, defaultPoolId: poolId, provisioning: 'ACTIVE', operating: 'ONLINE', adminStateUp: true, connectionLimit: -1, created: now, updated: now, tags: [] });
  store.pools.set(poolId, { id: poolId, name: `master-pool-${cn}`, description: '', projectId, lbId, listenerId, protocol: 'TCP', lbAlgorithm: 'ROUND_ROBIN', provisioning: 'ACTIVE', operating: 'ONLINE', adminStateUp: true, members: memberIds, created: now, updated: now, tags: [] });
}

function ipInt(ip: string): number {
  return ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
}
