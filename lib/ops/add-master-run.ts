/**
 * kadd add --role master, the read-only preflight: what the cloud, the cluster and etcd look like before
 * the plan (lib/ops/add-master-plan.ts). The operation around it is the runner verb
 * (lib/ops/add-master-verb.ts); replace's master half calls it too.
 */
import type { Context } from '../context.js';
import type { OpenStackClient } from '../openstack/types.js';
import type { KNode, KubeApi } from '../kube/types.js';
import { checkOwnership } from './add-workers-preflight.js';
import { observeCloud, settle } from './observe.js';
import type { EtcdAccess } from './master-etcd.js';
import type { AddMasterRequest, MasterObserved } from './add-master-plan.js';

// ------------------------------------------------------------------------------------------------
// preflight (read-only)

export async function preflight(ctx: Context, req: AddMasterRequest, os: OpenStackClient, kube: KubeApi, etcd: Pick<EtcdAccess, 'etcdctl' | 'nodeName'> | { error: string } | { skipped: string }): Promise<MasterObserved> {
  const c = req.config;
  const errors: string[] = [];
  const cl = await observeCloud(os, c, 'master', errors, { lbRequired: true });
  const lb = cl.lb;
  const [listeners, pools] = await Promise.all([
    lb ? settle(os.loadbalancer.listListeners({ loadbalancer_id: lb.id }), errors, 'listing listeners') : Promise.resolve(null),
    lb ? settle(os.loadbalancer.listPools({ loadbalancer_id: lb.id }), errors, 'listing pools') : Promise.resolve(null),
  ]);


  const kubeInfo: MasterObserved['kube'] = { ok: false, server: kube.server() };
  let nodes: KNode[] = [];
  let featureGates: Record<string, boolean> | undefined;
  try {
    kubeInfo.version = (await kube.serverVersion()).gitVersion;
    kubeInfo.ok = true;
    nodes = await kube.listNodes();
    const cc = await kube.getClusterConfiguration();
    const fg = (cc as { featureGates?: Record<string, unknown> } | null)?.featureGates;
    if (fg && typeof fg === 'object') featureGates = Object.fromEntries(Object.entries(fg).filter(([, v]) => typeof v === 'boolean')) as Record<string, boolean>;
  } catch (e) {
    kubeInfo.error = e instanceof Error ? e.message : String(e);
  }
  const ownership = kubeInfo.ok ? await checkOwnership(c, kube, lb, os) : { ok: false, reason: 'the Kubernetes API did not answer' };

  let etcdObs: MasterObserved['etcd'];
  let formatCommand: ((args: string[]) => string) | undefined;
  if ('error' in etcd) etcdObs = { error: etcd.error };
  else if ('skipped' in etcd) etcdObs = { skipped: etcd.skipped };
  else {
    formatCommand = etcd.etcdctl.formatCommand;
    try {
      etcdObs = { view: await etcd.etcdctl.view(), transport: etcd.etcdctl.transport.describe, nodeName: etcd.nodeName, adder: 'adder' in etcd && !!etcd.adder };
    } catch (e) {
      etcdObs = { error: e instanceof Error ? e.message : String(e) };
    }
  }
  return {
    flavors: cl.flavors, image: cl.image, keypair: cl.keypair, zones: cl.zones, volumeTypes: cl.volumeTypes, network: cl.network,
    subnet: cl.subnet, securityGroup: cl.securityGroup, novaLimits: cl.novaLimits, cinderLimits: cl.cinderLimits,
    neutronQuota: cl.neutronQuota, masters: cl.servers, volumes: cl.volumes, ports: cl.ports, lb, listeners: listeners ?? [], pools: pools ?? [],
    serverGroup: cl.serverGroup, serverGroupFailed: cl.serverGroupFailed,
    kube: kubeInfo, ownership, nodes, featureGates, etcd: etcdObs, formatCommand, errors,
  };
}
