/**
 * Shared pieces of the cluster-lock process tests (cluster-lock-process for add, remove-lock-process for
 * remove): the Lease as the simulator holds it, a holder made remote, and a second copy of the cluster file.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { KaddSim } from './kadd-sim.js';
import { leasesOf } from '../sim/kube/leases.js';

const LEASE = 'kube-system/kadd-lock';

/** the Lease kadd takes, as the simulator's API server stores it (undefined when there is none) */
export const lease = (h: KaddSim) => leasesOf((h.sim.kube as any).cluster).get(LEASE);

/** a MicroTime as the API server stores it */
const micro = (ms: number) => new Date(ms).toISOString().replace(/Z$/, '000Z');

/**
 * Make the (killed) holder a kadd on another machine that renewed just now: pid liveness cannot be judged
 * across machines, so only its renewTime (or --force-unlock) frees the Lease.
 */
export function remoteHolder(h: KaddSim, identity: string): string {
  const l = lease(h)!;
  l.spec.holderIdentity = identity.replace(/@\S+ pid/, '@operator-laptop pid');
  l.spec.renewTime = micro(Date.now());
  return l.spec.holderIdentity;
}

/** a second copy of the cluster file in its own directory (its own journal, local lock and updated file) */
export function secondCopy(h: KaddSim): string {
  const d = join(h.dir, 'other-operator');
  mkdirSync(d, { recursive: true });
  const p = join(d, 'cfg.yml');
  copyFileSync(h.cfgPath, p);
  return p;
}
