/**
 * The JSON shapes of kadd's results (issue 12 point 8): ONE shape per concept, whatever the role, with
 * structured objects (no display strings such as "prod-net (exists)") and null where there is nothing
 * (never ""). Documented as JSON Schemas in docs/schemas/ (test/cli/schemas.test.ts checks both the
 * schemas and real outputs against them). Types only from lib/ops: no run-time import.
 */
import type { AddWorkersPlan, QuotaRow } from '../ops/add-workers.js';
import type { AddMasterPlan } from '../ops/add-master.js';

export const PLAN_SCHEMA_ID = 'https://kadd.dev/schemas/add-plan.json';

export interface PlanView {
  kind: 'add-plan';
  cluster: string;
  role: 'node' | 'master';
  apiEndpoint: string;
  k8sVersion: string;
  image: { name: string; id: string | null };
  keypair: string;
  volume: { size: number; type: string | null };
  network: { name: string; action: string };
  subnet: { name: string; cidr: string | null; action: string };
  router: { name: string; action: string } | null;
  securityGroup: { name: string; action: string };
  serverGroup: { name: string; id: string; policy: string; members: number } | null;
  loadBalancer: { name: string; pool: string } | null;
  nodes: { name: string; zone: string | null; flavor: string; adopts: string[] }[];
  quota: { resource: string; need: number; free: number | 'unlimited'; ok: boolean }[];
  /** `adder`: read through a master-adder this run deployed (and deleted); false when not (SSH, or not read) */
  etcd: { via: string | null; through: string | null; members: unknown[]; projection: unknown; adder: boolean } | null;
  /** what the plan did not check and why (a master dry run without --allow-adder: etcd); [] when all was checked */
  unchecked: { check: string; reason: string }[];
  userDataBytes: number | null;
  warnings: string[];
  blockers: string[];
}

const adopts = (a: Record<string, unknown>) => Object.entries(a).filter(([, v]) => v).map(([k]) => k.replace(/Id$/, ''));
const quota = (q: QuotaRow[]) => q.map((r) => ({ resource: r.resource, need: r.need, free: r.free, ok: r.ok }));
const group = (g: { id: string; name: string; policy: string; members: number } | undefined) =>
  g ? { name: g.name, id: g.id, policy: g.policy, members: g.members } : null;

/** The fields both roles fill the same way, in the schema's order; `parts` are the role's own. */
function planView(
  p: AddWorkersPlan | AddMasterPlan,
  role: PlanView['role'],
  parts: Pick<PlanView, 'network' | 'subnet' | 'router' | 'securityGroup' | 'loadBalancer' | 'nodes' | 'etcd' | 'unchecked' | 'userDataBytes'>,
): PlanView {
  const { network, subnet, router, securityGroup, loadBalancer, nodes, etcd, unchecked, userDataBytes } = parts;
  return {
    kind: 'add-plan', cluster: p.cluster, role, apiEndpoint: p.apiEndpoint, k8sVersion: p.k8sVersion,
    image: { name: p.image.name, id: p.image.id || null }, keypair: p.keypair, volume: { size: p.volumeSize, type: p.volumeType ?? null },
    network, subnet, router, securityGroup, serverGroup: group(p.serverGroup), loadBalancer, nodes, quota: quota(p.quota),
    etcd, unchecked, userDataBytes, warnings: p.warnings, blockers: p.blockers,
  };
}

export function workerPlanView(p: AddWorkersPlan): PlanView {
  return planView(p, 'node', {
    network: { name: p.network.name, action: p.network.action },
    subnet: { name: p.subnet.name, cidr: p.subnet.cidr || null, action: p.subnet.action },
    router: { name: p.router.name, action: p.router.action },
    securityGroup: { name: p.securityGroup.name, action: p.securityGroup.action },
    loadBalancer: null,
    nodes: p.nodes.map((n) => ({ name: n.name, zone: n.zone ?? null, flavor: n.flavor.name, adopts: adopts(n.adopt as Record<string, unknown>) })),
    etcd: null,
    unchecked: [],
    userDataBytes: p.userDataBytes,
  });
}

export function masterPlanView(p: AddMasterPlan): PlanView {
  // a master joins the network, subnet and security group the cluster has; it makes none of them
  return planView(p, 'master', {
    network: { name: p.network.name, action: 'exists' }, subnet: { name: p.subnet.name, cidr: null, action: 'exists' }, router: null,
    securityGroup: { name: p.securityGroup.name, action: 'exists' },
    loadBalancer: p.lb ? { name: p.lb.name, pool: p.lb.poolName } : null,
    nodes: [{ name: p.name, zone: p.zone ?? null, flavor: p.flavor.name, adopts: adopts(p.adopt as Record<string, unknown>) }],
    etcd: { via: p.etcd.via || null, through: p.etcd.nodeName || null, members: p.etcd.members as unknown[], projection: p.etcd.projection ?? null, adder: p.etcd.adder },
    unchecked: p.unchecked.map((u) => ({ check: u.check, reason: u.reason })),
    userDataBytes: null,
  });
}
