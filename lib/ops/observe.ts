/**
 * The read-only cloud lookups every add preflight makes, in one parallel batch, and the blockers that
 * follow from them (flavor, image, keypair, volume type, zones). Shared by workers and masters.
 */
import type { ClusterConfig } from '../config/types.js';
import type {
  AvailabilityZone, CinderLimits, Flavor, Image, Keypair, LoadBalancer, Network, NeutronQuotaDetails, NovaLimits,
  OpenStackClient, Port, Router, SecurityGroup, Server, ServerGroup, Subnet, Volume,
} from '../openstack/types.js';
import { one } from '../openstack/network.js';
import { roleNamePattern, type Role } from './naming.js';
import type { Diagnosis } from './diagnose.js';

/** Turn a failed lookup into a collected problem (preflight reports every problem at once). */
export function settle<T>(p: Promise<T>, errors: string[], what: string): Promise<T | null> {
  return p.catch((e: unknown) => {
    errors.push(`${what}: ${e instanceof Error ? e.message : String(e)}`);
    return null;
  });
}

export interface CloudLookups {
  projectId: string;
  flavors: Flavor[];
  image: Image | null;
  keypair: Keypair | null;
  zones: AvailabilityZone[];
  /** null when no storage_class is configured (nothing to check) */
  volumeTypes: string[] | null;
  novaLimits: NovaLimits | null;
  cinderLimits: CinderLimits | null;
  neutronQuota: NeutronQuotaDetails | null;
  network: Network | null;
  subnet: Subnet | null;
  router: Router | null;
  securityGroup: SecurityGroup | null;
  /** the role's servers, by the exact name pattern `^<cluster>-<role>-[0-9]+$` */
  servers: Server[];
  /** volumes carrying kadd's ownership metadata for this cluster */
  volumes: Volume[];
  /** ports on the cluster network (with opts.portNames: only those with the planned names) */
  ports: Port[];
  lb: LoadBalancer | null;
  /** the `server_group` of the cluster file; null when none is configured (no request made) or not found */
  serverGroup: ServerGroup | null;
  /** the server group lookup itself failed (its error is in `errors`) */
  serverGroupFailed: boolean;
}

export async function observeCloud(
  os: OpenStackClient,
  c: ClusterConfig,
  role: Role,
  errors: string[],
  opts: {
    lbRequired: boolean;
    /** false: ownership is proven without it (floating IP / DNS name of the config): no load balancer lookup */
    lookupLb?: boolean;
    /**
     * the port names this run may adopt, from the servers and kadd's volumes found: looked up by name instead
     * of every port of the network; no name, no request
     */
    portNames?: (servers: Server[], volumes: Volume[]) => string[];
    /** the zones the new servers may use (default: the config's); none named: the zone list is not read */
    zones?: (string | undefined)[];
  },
): Promise<CloudLookups> {
  const projectId = await os.projectId(); // auth errors surface here, before anything else
  let serverGroupFailed = false;
  // the subnet by name in the same burst (not after the network: one round trip less); its network is
  // matched below, as `findSubnet(name, network.id)` would, and a failed listing only counts when the network exists
  const subnetErrors: string[] = [];
  const zonesNamed = (opts.zones ?? c.availabilityZones).some((z) => !!z);
  const [flavors, image, keypair, zones, volumeTypes, novaLimits, cinderLimits, neutronQuota, network, subnets, router, securityGroup, servers, volumes, lb, serverGroup] =
    await Promise.all([
      settle(os.compute.listFlavors(), errors, 'listing flavors'),
      settle(os.image.findImage(c.image), errors, 'looking up the image'),
      settle(os.compute.getKeypair(c.keypair), errors, 'looking up the keypair'),
      // serverBlockers checks only the zones named: with none, the list would be read for nothing
      zonesNamed ? settle(os.compute.listAvailabilityZones(), errors, 'listing availability zones') : Promise.resolve([]),
      c.storageClass ? settle(os.volume.listVolumeTypes().then((t) => t.map((x) => x.name)), errors, 'listing volume types') : Promise.resolve(null),
      settle(os.compute.getLimits(), errors, 'reading Nova limits'),
      settle(os.volume.getLimits(), errors, 'reading Cinder limits'),
      settle(os.network.getQuotaDetails(projectId), errors, 'reading Neutron quota'),
      settle(os.network.findNetwork(c.privateNet.name), errors, 'looking up the network'),
      settle(os.network.listSubnets({ name: c.privateNet.subnet.name }), subnetErrors, 'looking up the subnet'),
      settle(os.network.findRouter(c.privateNet.subnet.router.name), errors, 'looking up the router'),
      settle(os.network.findSecurityGroup(c.securityGroup), errors, 'looking up the security group'),
      settle(os.compute.listServers({ name: roleNamePattern(c.clusterName, role) }), errors, `listing ${role === 'master' ? 'masters' : 'servers'}`),
      settle(os.volume.listVolumes({ metadata: { 'kadd-cluster': c.clusterName } }), errors, 'listing volumes'),
      // workers only use the load balancer for the ownership check; its absence is not a problem there
      opts.lookupLb === false ? Promise.resolve(null) : settle(os.loadbalancer.findLoadBalancer(c.loadbalancer.name), opts.lbRequired ? errors : [], 'looking up the load balancer'),
      c.serverGroup
        ? os.compute.findServerGroup(c.serverGroup).catch((e: unknown) => {
          serverGroupFailed = true;
          errors.push(`looking up server group ${c.serverGroup} (server_group): ${e instanceof Error ? e.message : String(e)}`);
          return null;
        })
        : Promise.resolve(null),
    ]);
  let subnet: Subnet | null = null;
  if (network) {
    errors.push(...subnetErrors);
    try {
      subnet = subnets ? one('subnet', c.privateNet.subnet.name, subnets.filter((s) => s.network_id === network.id), projectId) : null;
    } catch (e) {
      errors.push(`looking up the subnet: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  const ports = !network ? null
    : opts.portNames ? await portsByName(os, network.id, opts.portNames(servers ?? [], volumes ?? []), errors)
    : await settle(os.network.listPorts({ network_id: network.id }), errors, 'listing ports');
  return {
    projectId, flavors: flavors ?? [], image, keypair, zones: zones ?? [], volumeTypes, novaLimits, cinderLimits, neutronQuota,
    network, subnet, router, securityGroup, servers: servers ?? [], volumes: volumes ?? [], ports: ports ?? [], lb, serverGroup, serverGroupFailed,
  };
}

/** Ports with any of the names (one request; none when there is no name). */
async function portsByName(os: OpenStackClient, networkId: string, names: string[], errors: string[]): Promise<Port[] | null> {
  // 40 names per request keep the URL well under the 8 KiB many proxies allow
  const chunks: string[][] = [];
  for (let i = 0; i < names.length; i += 40) chunks.push(names.slice(i, i + 40));
  const found = await Promise.all(chunks.map((name) => settle(os.network.listPorts({ network_id: networkId, name }), errors, 'looking up the planned ports')));
  return found.some((f) => f === null) ? null : found.flat() as Port[];
}

/** The group's policy whatever the microversion: 2.64+ `policy`, before that the one item of `policies`. */
export function groupPolicy(g: ServerGroup): string {
  return g.policy ?? g.policies?.[0] ?? 'unknown';
}

/**
 * The configured server group: a blocker when it is missing or its member quota would be exceeded, a warning
 * on the hard policies (anti-affinity fails with NoValidHost once the members outnumber the hosts; affinity
 * puts every member on one host). Pure. newServers: servers this run creates (adopted ones are members already).
 */
export function serverGroupCheck(
  c: Pick<ClusterConfig, 'serverGroup'>,
  o: { serverGroup?: ServerGroup | null; serverGroupFailed?: boolean; novaLimits?: NovaLimits | null },
  newServers: number,
): { group?: { id: string; name: string; policy: string; members: number }; blockers: string[]; warnings: string[] } {
  const blockers: string[] = [];
  const warnings: string[] = [];
  if (!c.serverGroup) return { blockers, warnings };
  const g = o.serverGroup;
  if (!g) {
    // a failed lookup (ambiguous name, API error) is already a blocker of its own
    if (!o.serverGroupFailed) blockers.push(`server group ${c.serverGroup} (server_group) not found; create it with \`openstack server group create --policy anti-affinity ${c.serverGroup}\``);
    return { blockers, warnings };
  }
  const policy = groupPolicy(g);
  const after = g.members.length + newServers;
  const max = o.novaLimits?.maxServerGroupMembers;
  if (max !== undefined && max >= 0 && newServers > 0 && after > max) {
    blockers.push(`quota: server group ${g.name} has ${g.members.length} member${g.members.length === 1 ? '' : 's'}; ${newServers} more exceed the server_group_members quota of ${max}`);
  }
  if (policy === 'anti-affinity' && newServers > 0) {
    const per = g.rules?.max_server_per_host ?? 1;
    const hosts = Math.ceil(after / per);
    warnings.push(`server group ${g.name} has the hard anti-affinity policy${per > 1 ? ` (at most ${per} per host)` : ''}: with ${after} member${after === 1 ? '' : 's'} it needs ${hosts} compute host${hosts === 1 ? '' : 's'}, and Nova fails the build with "No valid host" when fewer are free; soft-anti-affinity spreads without failing`);
  } else if (policy === 'affinity' && newServers > 0) {
    warnings.push(`server group ${g.name} has the affinity policy: all its members go to one compute host, which a single host failure takes down`);
  }
  return { group: { id: g.id, name: g.name, policy, members: g.members.length }, blockers, warnings };
}

/**
 * A NoValidHost on a server of a hard-policy group is the group's doing far more often than capacity's:
 * say so, and say what helps. Other diagnoses pass through.
 */
export function groupDiagnosis(d: Diagnosis, group: { name: string; policy: string } | undefined): Diagnosis {
  if (!group || d.cause !== 'no-valid-host') return d;
  if (group.policy === 'anti-affinity') {
    return {
      ...d,
      summary: `Nova found no host for server group ${group.name} (anti-affinity): every compute host it may use already runs a member`,
      nextStep: `use a soft-anti-affinity group (\`openstack server group create --policy soft-anti-affinity NAME\`, then server_group: NAME), or ask the cloud operator for more compute hosts`,
    };
  }
  if (group.policy === 'affinity') {
    return {
      ...d,
      summary: `Nova found no host for server group ${group.name} (affinity): the one host of its members is full or not in this zone`,
      nextStep: 'use a soft-affinity group, or give the servers the zone of the existing members',
    };
  }
  return d;
}

/**
 * Blockers on what every new server needs: the flavor (by name or id), an active image that fits the boot
 * volume, the keypair, the volume type, and available zones. Pure.
 */
export function serverBlockers(
  c: ClusterConfig,
  o: Pick<CloudLookups, 'flavors' | 'image' | 'keypair' | 'volumeTypes' | 'zones'>,
  want: { flavorName: string; flavorKey: 'node_flavor' | 'master_flavor'; explicitFlavor: boolean; zones: (string | undefined)[] },
): { flavor: Flavor | undefined; blockers: string[] } {
  const blockers: string[] = [];
  const flavor = o.flavors.find((f) => f.name === want.flavorName) ?? o.flavors.find((f) => f.id === want.flavorName);
  if (!flavor) {
    blockers.push(`flavor ${want.flavorName} not found${want.explicitFlavor ? '' : ` (${want.flavorKey})`}; available: ${o.flavors.map((f) => f.name).sort().join(', ') || 'none'}`);
  }
  if (!o.image) blockers.push(`image ${c.image} not found (key \`image\` in ${c.file})`);
  else if (o.image.status !== 'active') blockers.push(`image ${c.image} is ${o.image.status}, not active`);
  if (o.image?.min_disk && o.image.min_disk > c.volumeSize) blockers.push(`image ${c.image} needs a ${o.image.min_disk} GB disk but volume_size is ${c.volumeSize}`);
  if (!o.keypair) blockers.push(`keypair ${c.keypair} not found (key \`keypair\` in ${c.file}); create it with \`openstack keypair create\``);
  if (c.storageClass && o.volumeTypes && !o.volumeTypes.includes(c.storageClass)) {
    blockers.push(`volume type ${c.storageClass} (storage_class) not found; available: ${o.volumeTypes.join(', ') || 'none'}`);
  }
  const available = o.zones.filter((z) => z.zoneState.available).map((z) => z.zoneName);
  for (const z of new Set(want.zones)) {
    if (z && o.zones.length && !available.includes(z)) blockers.push(`availability zone ${z} not found or not available; available: ${available.join(', ') || 'none'}`);
  }
  return { flavor, blockers };
}
