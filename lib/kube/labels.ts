/** The labels kubeadm puts on a control-plane Node: the current one, and the one clusters before v1.24 carry. */
import type { KNode } from './types.js';

export const CONTROL_PLANE_LABEL = 'node-role.kubernetes.io/control-plane';
export const LEGACY_MASTER_LABEL = 'node-role.kubernetes.io/master';
export const CONTROL_PLANE_LABELS: readonly string[] = [CONTROL_PLANE_LABEL, LEGACY_MASTER_LABEL];

/** A control-plane Node, by its role label (current or legacy). */
export function isControlPlane(n: Pick<KNode, 'labels'>): boolean {
  return CONTROL_PLANE_LABELS.some((l) => l in n.labels);
}
