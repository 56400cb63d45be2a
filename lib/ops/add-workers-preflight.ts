/**
 * kadd add --role node, the preflight: a read-only look at the cloud and the cluster that collects every
 * problem instead of stopping at the first (the plan is made of it in lib/ops/add-workers-plan.ts).
 */
import type { Context } from '../context.js';
import type { ClusterConfig } from '../config/types.js';
import type { LoadBalancer, OpenStackClient } from '../openstack/types.js';
import type { KubeApi } from '../kube/types.js';
import { InterruptedError, KaddError } from '../errors.js';
import { portName, roleNamePattern, volumeName } from './naming.js';
import { observeCloud } from './observe.js';
import { apiEndpointOf, hostOf, plannedNames, workerLabels, type AddWorkersRequest, type Observed, type UserDataRenderer } from './add-workers-plan.js';

/** What the preflight needs besides the clients: the user-data renderer (size check) and the CA pin. */
export interface PreflightDeps {
  renderUserData: UserDataRenderer;
  caCertHash: (pem: string) => string;
}

/** Read-only look at the cloud and the cluster. Collects every problem instead of stopping at the first. */
export async function preflight(
  ctx: Context,
  req: AddWorkersRequest,
  os: OpenStackClient,
  kube: KubeApi,
  deps: PreflightDeps,
): Promise<Observed> {
  const c = req.config;
  const errors: string[] = [];
  ctx.io.log('info', `preflight for ${c.clusterName}: reading the cloud and the cluster (changes nothing)`);

  // Three things at once, none waiting for another: the Kubernetes side (client-node's import, version,
  // CA: reachable, and the cluster is this project's), the OpenStack burst, the user-data size check
  const kubeInfo: Observed['kube'] = { ok: false, server: kube.server() };
  let caHash = '';
  const kubeSide = (async () => {
    try {
      const [v, pem] = await Promise.all([kube.serverVersion(), kube.clusterCaPem()]);
      kubeInfo.ok = true;
      kubeInfo.version = v.gitVersion;
      caHash = deps.caCertHash(pem);
    } catch (e) {
      kubeInfo.ok = false;
      kubeInfo.error = e instanceof Error ? e.message : String(e);
    }
  })();

  // size of the largest user-data (names differ per node; a placeholder token and CA hash of the real length)
  const rendered = (async () => {
    try {
      const probeName = `${c.clusterName}-node-${'9'.repeat(6)}`;
      const ud = await deps.renderUserData({
        nodeName: probeName, clusterName: c.clusterName, apiEndpoint: apiEndpointOf(kube.server()),
        token: { id: 'abcdef', secret: '0123456789abcdef' }, caCertHash: `sha256:${'0'.repeat(64)}`,
        k8sVersion: c.version.k8s, labels: workerLabels(c), taints: c.nodeTaints,
      });
      return { bytes: Buffer.byteLength(Buffer.from(ud, 'utf8').toString('base64')) };
    } catch (e) {
      return { error: e };
    }
  })();

  // the load balancer only serves the ownership check: not looked up when the config's floating IP or DNS
  // name is the kubeconfig's API host already
  const lbNeeded = !ownershipByAddress(c, kube.server());
  const cl = await observeCloud(os, c, 'node', errors, {
    lbRequired: false, lookupLb: lbNeeded, zones: req.zone ? [req.zone] : c.availabilityZones,
    portNames: (servers, volumes) => portsToAdopt(req, servers.map((s) => s.name), volumes.map((v) => v.name ?? '')),
  });
  await kubeSide;
  // Ctrl-C while waiting for the API is an interruption (exit 130), not a preflight finding
  if (!kubeInfo.ok && ctx.signal.aborted) throw KaddError.is(ctx.signal.reason) ? ctx.signal.reason : new InterruptedError();
  const ownership = kubeInfo.ok ? await checkOwnership(c, kube, cl.lb, os) : { ok: false, reason: 'the Kubernetes API did not answer' };

  let userDataBytes = 0;
  const r = await rendered;
  if ('error' in r) {
    const e = r.error;
    if (e instanceof KaddError && e.exitCode === 2) throw e;
    errors.push(`rendering the user-data: ${e instanceof Error ? e.message : String(e)}`);
  } else userDataBytes = r.bytes;

  return {
    flavors: cl.flavors, image: cl.image, keypair: cl.keypair, zones: cl.zones, volumeTypes: cl.volumeTypes, network: cl.network,
    subnet: cl.subnet, router: cl.router, securityGroup: cl.securityGroup, novaLimits: cl.novaLimits, cinderLimits: cl.cinderLimits,
    neutronQuota: cl.neutronQuota, servers: cl.servers, volumes: cl.volumes, ports: cl.ports,
    serverGroup: cl.serverGroup, serverGroupFailed: cl.serverGroupFailed,
    kube: kubeInfo, ownership, userDataBytes, errors, ...(caHash ? { caCertHash: caHash } : {}),
  };
}

/**
 * The port names worth a lookup (adopt, don't duplicate): all planned ones when a port of them may exist,
 * none otherwise. A port of a planned name is left only by an earlier run that did not finish: the journal
 * says so (the run resumes it: resumeNames) or, where the journal is gone, the boot volume created at the
 * same moment is left too (kadd's volumes are always listed) -- or a server of that name exists.
 */
export function portsToAdopt(req: Pick<AddWorkersRequest, 'config' | 'amount' | 'resumeNames'>, serverNames: string[], volumeNames: string[]): string[] {
  const names = plannedNames(req, serverNames);
  const servers = new Set(serverNames);
  const volumes = new Set(volumeNames);
  const mayExist = !!req.resumeNames?.length || names.some((n) => servers.has(n) || volumes.has(volumeName(n)));
  return mayExist ? names.map(portName) : [];
}

/** The kubeconfig's API host is the config's load balancer floating IP or DNS name (no lookup needed). */
function ownershipByAddress(c: ClusterConfig, server: string): string | undefined {
  const { host } = hostOf(server);
  if (c.loadbalancer.floatingip && c.loadbalancer.floatingip === host) return `API endpoint ${host} is the configured floating IP`;
  if (c.loadbalancer.dnsname && c.loadbalancer.dnsname === host) return `API endpoint ${host} is the configured DNS name`;
  return undefined;
}

/**
 * The kubeconfig's cluster belongs to this project when its API endpoint is the cluster's load balancer
 * (VIP, floating IP or DNS name from the config), or when a control-plane Node is a server of this project
 * (providerID openstack:///<id> or the exact server name `<cluster>-master-N`).
 */
export async function checkOwnership(c: ClusterConfig, kube: KubeApi, lb: LoadBalancer | null, os: OpenStackClient): Promise<{ ok: boolean; reason: string }> {
  const { host } = hostOf(kube.server());
  if (lb && lb.vip_address === host) return { ok: true, reason: `API endpoint ${host} is the VIP of load balancer ${lb.name}` };
  if (c.loadbalancer.floatingip && c.loadbalancer.floatingip === host) return { ok: true, reason: `API endpoint ${host} is the configured floating IP` };
  if (c.loadbalancer.dnsname && c.loadbalancer.dnsname === host) return { ok: true, reason: `API endpoint ${host} is the configured DNS name` };
  try {
    const cps = await kube.listNodes('node-role.kubernetes.io/control-plane');
    const masters = await os.compute.listServers({ name: roleNamePattern(c.clusterName, 'master') });
    const ids = new Set(masters.map((s) => s.id));
    const names = new Set(masters.map((s) => s.name));
    for (const n of cps) {
      const pid = n.providerID?.replace(/^openstack:\/\/\/?(?:[^/]*\/)?/, '');
      if (pid && ids.has(pid)) return { ok: true, reason: `control-plane node ${n.name} is server ${pid} of this project` };
      if (names.has(n.name)) return { ok: true, reason: `control-plane node ${n.name} is a server of this project` };
    }
    return {
      ok: false,
      reason: `the kubeconfig's API server ${host} is neither load balancer ${c.loadbalancer.name}${lb ? ` (VIP ${lb.vip_address})` : ' (not found)'} nor served by a master of cluster ${c.clusterName} in this project`,
    };
  } catch (e) {
    return { ok: false, reason: `could not check ownership: ${e instanceof Error ? e.message : String(e)}` };
  }
}
