/**
 * kadd replace: the old nodes (pure). Why one is unhealthy or dead, the victim order (annotated
 * kadd.io/replace-first, then unhealthy, then oldest), and "a node like the old one": flavor, AZ, image, server
 * group, and the labels and taints an operator put on it (not those the kubelet, kubeadm or a controller sets).
 */
import type { Flavor } from '../openstack/types.js';
import type { Machine, NodeSpec, ReplaceObserved, ReplaceRequest } from './replace-types.js';
import { compareVersions, parseVersion } from './replace-version.js';

export const REPLACE_FIRST_ANNOTATION = 'kadd.io/replace-first';

// ------------------------------------------------------------------------------------------------
// health, death, order

/** Why a node is unhealthy (empty: healthy). */
export function unhealthyReasons(m: Machine): string[] {
  const out: string[] = [];
  if (!m.server) out.push('no server');
  else if (m.server.status !== 'ACTIVE') out.push(`server ${m.server.status}`);
  if (!m.node) out.push('no Node');
  else if (m.node.ready !== 'True') out.push(`Node Ready=${m.node.ready}`);
  if (m.role === 'master') {
    if (!m.member) out.push('no etcd member');
    else if (!m.member.started) out.push('etcd member never started');
    else if (!m.member.healthy) out.push('etcd member unhealthy');
  }
  return out;
}

const DEAD_SERVER = new Set(['ERROR', 'SHUTOFF', 'SUSPENDED', 'PAUSED', 'SHELVED', 'SHELVED_OFFLOADED', 'DELETED', 'SOFT_DELETED']);

/**
 * A dead node: its server is gone or not running, or (masters) its Node is not Ready and its etcd member is not
 * healthy. A dead master is always replaced remove-first; a dead worker is drained as unreachable.
 */
export function isDead(m: Machine): boolean {
  if (!m.server || DEAD_SERVER.has(m.server.status)) return true;
  if (m.role === 'master') return !!m.node && m.node.ready !== 'True' && (!m.member || !m.member.healthy);
  return !!m.node && m.node.ready === 'Unknown';
}

function createdOf(m: Machine): number {
  const t = Date.parse(m.node?.created ?? m.server?.created ?? '');
  return Number.isFinite(t) ? t : 0;
}

/**
 * Victim order: annotated kadd.io/replace-first, then unhealthy, then oldest; ties by name (numeric suffix).
 * Returns the machines in order, each with the reason of its place.
 */
export function orderVictims(ms: Machine[]): { m: Machine; reason: string }[] {
  const rank = (m: Machine) => (m.node?.annotations[REPLACE_FIRST_ANNOTATION] !== undefined && m.node?.annotations[REPLACE_FIRST_ANNOTATION] !== 'false' ? 0 : unhealthyReasons(m).length ? 1 : 2);
  const num = (n: string) => Number(/-(\d+)$/.exec(n)?.[1] ?? Number.MAX_SAFE_INTEGER);
  return [...ms]
    .sort((a, b) => rank(a) - rank(b) || createdOf(a) - createdOf(b) || num(a.name) - num(b.name) || a.name.localeCompare(b.name))
    .map((m) => ({ m, reason: ['annotated kadd.io/replace-first', `unhealthy (${unhealthyReasons(m).join(', ')})`, 'oldest first'][rank(m)]! }));
}

// ------------------------------------------------------------------------------------------------
// "a node like the old one"

/**
 * Labels the kubelet may set with --node-labels and that describe the node's purpose, not its identity:
 * not kubernetes.io/hostname, not the cloud provider's topology/instance-type labels, not node-role (the
 * NodeRestriction admission plugin refuses node-role.kubernetes.io/* from the kubelet; kubeadm sets the
 * control-plane one), not beta.kubernetes.io/*. Allowed kubernetes.io labels: node.kubernetes.io/* and
 * kubelet.kubernetes.io/* (minus the ones the kubelet computes itself).
 */
export function copyableLabels(labels: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) {
    const prefix = k.includes('/') ? k.slice(0, k.indexOf('/')) : '';
    const k8sNs = prefix === 'kubernetes.io' || prefix === 'k8s.io' || prefix.endsWith('.kubernetes.io') || prefix.endsWith('.k8s.io');
    if (k8sNs) {
      const allowed = (prefix === 'node.kubernetes.io' || prefix === 'kubelet.kubernetes.io') && k !== 'node.kubernetes.io/instance-type' && k !== 'node.kubernetes.io/exclude-from-external-load-balancers';
      if (!allowed) continue;
    }
    out[k] = v;
  }
  return out;
}

/** Taints an operator put on the node; not those a controller manages (node.kubernetes.io/*, cloud provider) or kubeadm's control-plane taint. */
export function copyableTaints(taints: { key: string; value?: string; effect: string }[]): { key: string; value?: string; effect: string }[] {
  return taints.filter((t) =>
    !t.key.startsWith('node.kubernetes.io/') &&
    !t.key.startsWith('node.cloudprovider.kubernetes.io/') &&
    t.key !== 'node-role.kubernetes.io/control-plane' &&
    t.key !== 'node-role.kubernetes.io/master' &&
    t.key !== 'ToBeDeletedByClusterAutoscaler');
}

export function likeOld(m: Machine, req: Pick<ReplaceRequest, 'image' | 'flavor' | 'zone'>, o: Pick<ReplaceObserved, 'defaults'>, k8sVersion: string): NodeSpec {
  const d = o.defaults;
  return {
    flavor: req.flavor ?? m.server?.flavor ?? (m.role === 'master' ? d.masterFlavor : d.nodeFlavor),
    zone: req.zone ?? m.server?.zone,
    image: req.image ?? m.server?.image ?? d.image,
    serverGroup: m.server?.serverGroup ?? d.serverGroup,
    labels: copyableLabels(m.node?.labels ?? {}),
    taints: copyableTaints(m.node?.taints ?? []),
    k8sVersion,
  };
}

/** Does the node already match every change asked for (--image, --flavor, --k8s-version)? False when none was asked. */
export function upToDate(m: Machine, req: Pick<ReplaceRequest, 'image' | 'flavor' | 'k8sVersion'>, flavors: Flavor[]): boolean {
  if (!req.image && !req.flavor && !req.k8sVersion) return false;
  if (req.image && m.server?.image !== req.image) return false;
  if (req.flavor) {
    const want = flavors.find((f) => f.name === req.flavor || f.id === req.flavor);
    const have = m.server?.flavor;
    if (!have || !(have === req.flavor || (want && (have === want.name || have === want.id)))) return false;
  }
  if (req.k8sVersion) {
    const a = parseVersion(m.node?.kubeletVersion);
    const b = parseVersion(req.k8sVersion);
    if (!a || !b || compareVersions(a, b) !== 0) return false;
  }
  return true;
}
