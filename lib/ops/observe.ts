/**
 * The read-only cloud lookups every add preflight makes, in one parallel batch, and the blockers that
 * follow from them (flavor, image, keypair, volume type, zones). Shared by workers and masters.
 */
import type { ClusterConfig } from '../config/types.js';
import type {
  AvailabilityZone, CinderLimits, Flavor, Image, Keypair, LoadBalancer, Network, NeutronQuotaDetails, NovaLimits,
  OpenStackClient, Port, Router, SecurityGroup, Server, Subnet, Volume,
} from '../openstack/types.js';
import { roleNamePattern, type Role } from './naming.js';

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
  /** ports on the cluster network */
  ports: Port[];
  lb: LoadBalancer | null;
}

export async function observeCloud(
  os: OpenStackClient,
  c: ClusterConfig,
  role: Role,
  errors: string[],
  opts: { lbRequired: boolean },
): Promise<CloudLookups> {
  const projectId = await os.projectId(); // auth errors surface here, before anything else
  const [flavors, image, keypair, zones, volumeTypes, novaLimits, cinderLimits, neutronQuota, network, router, securityGroup, servers, volumes, lb] =
    await Promise.all([
      settle(os.compute.listFlavors(), errors, 'listing flavors'),
      settle(os.image.findImage(c.image), errors, 'looking up the image'),
      settle(os.compute.getKeypair(c.keypair), errors, 'looking up the keypair'),
      settle(os.compute.listAvailabilityZones(), errors, 'listing availability zones'),
      c.storageClass ? settle(os.volume.listVolumeTypes().then((t) => t.map((x) => x.name)), errors, 'listing volume types') : Promise.resolve(null),
      settle(os.compute.getLimits(), errors, 'reading Nova limits'),
      settle(os.volume.getLimits(), errors, 'reading Cinder limits'),
      settle(os.network.getQuotaDetails(projectId), errors, 'reading Neutron quota'),
      settle(os.network.findNetwork(c.privateNet.name), errors, 'looking up the network'),
      settle(os.network.findRouter(c.privateNet.subnet.router.name), errors, 'looking up the router'),
      settle(os.network.findSecurityGroup(c.securityGroup), errors, 'looking up the security group'),
      settle(os.compute.listServers({ name: roleNamePattern(c.clusterName, role) }), errors, `listing ${role === 'master' ? 'masters' : 'servers'}`),
      settle(os.volume.listVolumes({ metadata: { 'kadd-cluster': c.clusterName } }), errors, 'listing volumes'),
      // workers only use the load balancer for the ownership check; its absence is not a problem there
      settle(os.loadbalancer.findLoadBalancer(c.loadbalancer.name), opts.lbRequired ? errors : [], 'looking up the load balancer'),
    ]);
  const [subnet, ports] = await Promise.all([
    network ? settle(os.network.findSubnet(c.privateNet.subnet.name, network.id), errors, 'looking up the subnet') : Promise.resolve(null),
    network ? settle(os.network.listPorts({ network_id: network.id }), errors, 'listing ports') : Promise.resolve(null),
  ]);
  return {
    projectId, flavors: flavors ?? [], image, keypair, zones: zones ?? [], volumeTypes, novaLimits, cinderLimits, neutronQuota,
    network, subnet, router, securityGroup, servers: servers ?? [], volumes: volumes ?? [], ports: ports ?? [], lb,
  };
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
