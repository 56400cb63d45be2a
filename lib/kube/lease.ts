/**
 * A lock held in a coordination.k8s.io/v1 Lease, the way client-go's leader election holds one: the holder
 * writes its identity, acquire and renew times and a duration; a Lease whose renewTime is older than its
 * duration belongs to nobody. Every write carries the resourceVersion kadd last read, so two writers
 * racing for the same Lease cannot both win: the API server answers the slower one 409 Conflict.
 *
 * This is the client half (no policy, no timers, no printing); lib/ops/engine/lock.ts decides when to
 * take, renew, give up and what to tell the user.
 */
import { KubeError } from '../errors.js';
import { httpStatusOf } from './client.js';
import type { KubeApi, LeaseObject, LeaseWrite } from './types.js';

export const LOCK_NAMESPACE = 'kube-system';
export const LOCK_NAME = 'kadd-lock';
/** annotations kadd writes next to holderIdentity */
export const ANN_OPERATION = 'kadd.io/operation';
export const ANN_CLUSTER_FILE = 'kadd.io/cluster-file';

/** Who holds a Lease, read back from it. */
export interface LeaseHolder {
  identity: string;
  operation?: string;
  clusterFile?: string;
  /** ISO time the holder took it (acquireTime) */
  since?: string;
  /** ISO time of its last renewal */
  renewedAt?: string;
  durationSeconds: number;
  /** ms until the Lease is free unless renewed (<= 0: expired) */
  expiresInMs: number;
}

export type AcquireOutcome =
  | { acquired: true; lease: LeaseObject; previous?: LeaseHolder & { live: boolean } }
  | { acquired: false; holder: LeaseHolder };

export type RenewOutcome = { renewed: true } | { renewed: false; holder: LeaseHolder | null };

export interface LeaseLockOptions {
  namespace?: string;
  name?: string;
  /** `user@host pid N` */
  identity: string;
  durationSeconds: number;
  annotations: Record<string, string>;
  now(): number;
}

export function holderOf(l: LeaseObject, now: number): LeaseHolder | null {
  if (!l.holderIdentity) return null;
  const durationSeconds = l.leaseDurationSeconds ?? 0;
  const renewed = Date.parse(l.renewTime ?? l.acquireTime ?? '');
  const expiresInMs = Number.isNaN(renewed) ? 0 : renewed + durationSeconds * 1000 - now;
  return {
    identity: l.holderIdentity,
    ...(l.annotations[ANN_OPERATION] ? { operation: l.annotations[ANN_OPERATION] } : {}),
    ...(l.annotations[ANN_CLUSTER_FILE] ? { clusterFile: l.annotations[ANN_CLUSTER_FILE] } : {}),
    ...(l.acquireTime ? { since: l.acquireTime } : {}),
    ...(l.renewTime ? { renewedAt: l.renewTime } : {}),
    durationSeconds,
    expiresInMs,
  };
}

const isConflict = (e: unknown) => httpStatusOf(e) === 409;

export class LeaseLock {
  readonly namespace: string;
  readonly name: string;
  private current: LeaseObject | undefined;

  constructor(private readonly kube: KubeApi, private readonly o: LeaseLockOptions) {
    this.namespace = o.namespace ?? LOCK_NAMESPACE;
    this.name = o.name ?? LOCK_NAME;
  }

  get identity(): string {
    return this.o.identity;
  }

  /** the Lease as kadd last wrote it (undefined before acquire and after release) */
  get lease(): LeaseObject | undefined {
    return this.current;
  }

  private write(now: number, acquireTime: number, transitions: number): LeaseWrite {
    return { holderIdentity: this.o.identity, leaseDurationSeconds: this.o.durationSeconds, acquireTime, renewTime: now, leaseTransitions: transitions, annotations: this.o.annotations };
  }

  /**
   * One attempt: create the Lease, or take it over when it is free (no holder, or its holder stopped
   * renewing for longer than its duration), or when `force`. A held Lease is reported, not waited for.
   * A 409 means another writer got there between the read and the write: read again (a few times).
   */
  async tryAcquire(opts: { force?: boolean; holderGone?: (identity: string) => boolean } = {}): Promise<AcquireOutcome> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const now = this.o.now();
      const existing = await this.kube.getLease(this.namespace, this.name);
      if (!existing) {
        try {
          this.current = await this.kube.createLease(this.namespace, this.name, this.write(now, now, 0));
          return { acquired: true, lease: this.current };
        } catch (e) {
          if (isConflict(e)) continue; // someone created it first: read who
          throw e;
        }
      }
      const holder = holderOf(existing, now);
      const live = holder && holder.identity !== this.o.identity && holder.expiresInMs > 0 && !opts.holderGone?.(holder.identity);
      if (holder && live && !opts.force) return { acquired: false, holder };
      const transitions = (existing.leaseTransitions ?? 0) + (holder && holder.identity === this.o.identity ? 0 : 1);
      try {
        this.current = await this.kube.replaceLease(this.namespace, this.name, existing.resourceVersion, this.write(now, now, transitions));
        return { acquired: true, lease: this.current, ...(holder && holder.identity !== this.o.identity ? { previous: { ...holder, live: !!live } } : {}) };
      } catch (e) {
        if (isConflict(e)) continue;
        throw e;
      }
    }
    throw new KubeError(`could not take Lease ${this.namespace}/${this.name}: it kept changing under kadd (another kadd taking it at the same time?)`, { status: 409 });
  }

  /**
   * Write a new renewTime at the resourceVersion kadd holds. A 409 means someone else wrote the Lease:
   * read it; if kadd is still the holder (its own write whose answer was lost), renew on that version;
   * otherwise the Lease is lost. Transport errors are thrown: the caller decides how long to keep trying.
   */
  async renew(): Promise<RenewOutcome> {
    const cur = this.current;
    if (!cur) return { renewed: false, holder: null };
    const acquired = Date.parse(cur.acquireTime ?? '') || this.o.now();
    for (let attempt = 0; attempt < 3; attempt++) {
      const now = this.o.now();
      try {
        this.current = await this.kube.replaceLease(this.namespace, this.name, this.current!.resourceVersion, this.write(now, acquired, cur.leaseTransitions ?? 0));
        return { renewed: true };
      } catch (e) {
        if (httpStatusOf(e) === 404) {
          this.current = undefined;
          return { renewed: false, holder: null };
        }
        if (!isConflict(e)) throw e;
      }
      const seen = await this.kube.getLease(this.namespace, this.name);
      const holder = seen ? holderOf(seen, this.o.now()) : null;
      if (!seen || !holder || holder.identity !== this.o.identity) {
        this.current = undefined;
        return { renewed: false, holder };
      }
      this.current = seen;
    }
    throw new KubeError(`could not renew Lease ${this.namespace}/${this.name}: it kept changing`, { status: 409 });
  }

  /**
   * Give the Lease up: delete it if it is still the one kadd wrote (uid and resourceVersion preconditions).
   * Returns false when someone else holds it now (kadd leaves it alone).
   */
  async release(): Promise<boolean> {
    const cur = this.current;
    if (!cur) return false;
    try {
      await this.kube.deleteLease(this.namespace, this.name, { uid: cur.uid, resourceVersion: cur.resourceVersion });
      this.current = undefined;
      return true;
    } catch (e) {
      if (!isConflict(e)) throw e;
      const seen = await this.kube.getLease(this.namespace, this.name);
      if (seen && seen.holderIdentity === this.o.identity) {
        await this.kube.deleteLease(this.namespace, this.name, { uid: seen.uid, resourceVersion: seen.resourceVersion });
        this.current = undefined;
        return true;
      }
      this.current = undefined;
      return false;
    }
  }
}
