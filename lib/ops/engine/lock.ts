/**
 * The cluster-wide lock (issue 9): a coordination.k8s.io/v1 Lease `kadd-lock` in kube-system, taken before
 * any change and renewed while kadd runs, so that two kadd runs against one cluster (two copies of the
 * cluster file, two machines) never change it at the same time. The local journal lock only covers one
 * cluster file on one machine.
 *
 *  - held by a live holder: refused, exit 2, naming the holder (`user@host pid N`), its operation and since when
 *  - its holder stopped renewing (kill -9, a lost machine): free once its duration has passed since the
 *    last renewal, and taken over then
 *  - `--force-unlock`: taken at once, with a warning naming whom it was taken from
 *  - renewed every duration/3; a renewal that finds someone else's name in the Lease, or that cannot reach
 *    the API before the Lease would expire, aborts the operation through `signal` (its reason is the error)
 *
 * Times come from the holders' clocks (renewTime): machines whose clocks disagree by more than a few
 * seconds shorten or lengthen the takeover delay by that much (see docs/decisions.md).
 */
import { hostname, userInfo } from 'node:os';
import type { Clock } from '../../clock.js';
import type { Io } from '../../io.js';
import { KaddError, OperationError, PreflightError } from '../../errors.js';
import { httpStatusOf } from '../../kube/client.js';
import { pidAlive } from '../../journal/journal.js';
import { ANN_CLUSTER_FILE, ANN_OPERATION, LOCK_NAME, LOCK_NAMESPACE, LeaseLock, type LeaseHolder } from '../../kube/lease.js';
import type { KubeApi } from '../../kube/types.js';

/** Lease duration: a killed holder's lock is free this long after its last renewal (<= 30 s by the issue). */
export const LEASE_SECONDS = 15;

export interface ClusterLock {
  identity: string;
  /** aborted (reason: an OperationError E_LOCK_LOST) when the Lease is lost while the operation runs */
  readonly signal: AbortSignal;
  /** the loss, once it happened */
  lost(): KaddError | undefined;
  /** stop renewing and delete the Lease if it is still ours; never throws (warns instead) */
  release(): Promise<void>;
}

export interface ClusterLockOptions {
  /** what kadd is doing, e.g. `add --role node` (written as an annotation, shown to the next one) */
  operation: string;
  force?: boolean;
  clusterFile?: string;
  durationSeconds?: number;
  /** default duration/3 */
  renewEveryMs?: number;
  /** default `user@host pid N` */
  identity?: string;
}

export function lockIdentity(): string {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    user = process.env.USER ?? process.env.LOGNAME ?? 'unknown';
  }
  return `${user}@${hostname()} pid ${process.pid}`;
}

/**
 * Is the holder a kadd process on this host that no longer runs? (kill -9, a crash: its Lease is taken over
 * at once, as the local lock file is; a holder on another host is only ever judged by its renewTime)
 */
export function holderGoneHere(identity: string, me: string = lockIdentity()): boolean {
  const theirs = /^(.*)@(.+) pid (\d+)$/.exec(identity);
  const mine = /^(.*)@(.+) pid (\d+)$/.exec(me);
  if (!theirs || !mine || theirs[2] !== mine[2]) return false;
  return !pidAlive(Number(theirs[3]));
}

const secs = (ms: number) => Math.max(0, Math.round(ms / 1000));

export function describeHolder(h: LeaseHolder, now: number): string {
  const renewed = h.renewedAt ? `, last renewed ${secs(now - Date.parse(h.renewedAt))}s ago` : '';
  return `${h.identity}${h.operation ? ` (kadd ${h.operation}${h.clusterFile ? ` on ${h.clusterFile}` : ''})` : ''}${h.since ? ` since ${h.since}` : ''}${renewed}`;
}

function apiProblem(e: unknown, kube: KubeApi): PreflightError {
  const status = httpStatusOf(e);
  const msg = e instanceof Error ? e.message : String(e);
  if (status === 403) {
    return new PreflightError(`cannot take the cluster lock (Lease ${LOCK_NAMESPACE}/${LOCK_NAME}): the Kubernetes API refused it (${msg}); nothing was changed`, {
      code: 'E_CLUSTER_LOCK_FORBIDDEN',
      hint: 'the kubeconfig user needs get, create, update and delete on leases.coordination.k8s.io in kube-system (cluster-admin has them)',
    });
  }
  return new PreflightError(`cannot take the cluster lock (Lease ${LOCK_NAMESPACE}/${LOCK_NAME}) at ${kube.server()}: ${msg}; nothing was changed`, {
    code: 'E_CLUSTER_LOCK_API',
    cause: e,
    hint: 'check that the Kubernetes API answers (--kubeconfig/--context, the API load balancer) and run again',
  });
}

/**
 * Take the cluster lock or throw PreflightError (exit 2). The returned lock renews itself until released.
 */
export async function acquireClusterLock(ctx: { io: Io; clock: Clock }, kube: KubeApi, o: ClusterLockOptions): Promise<ClusterLock> {
  const durationSeconds = o.durationSeconds ?? LEASE_SECONDS;
  const renewEveryMs = o.renewEveryMs ?? Math.floor((durationSeconds * 1000) / 3);
  const identity = o.identity ?? lockIdentity();
  const lease = new LeaseLock(kube, {
    identity,
    durationSeconds,
    annotations: { [ANN_OPERATION]: o.operation, ...(o.clusterFile ? { [ANN_CLUSTER_FILE]: o.clusterFile } : {}) },
    now: () => ctx.clock.now(),
  });
  let got;
  try {
    got = await lease.tryAcquire({ force: o.force, holderGone: (id) => holderGoneHere(id, identity) });
  } catch (e) {
    // Ctrl-C while waiting for the API, and bad local input, pass through unchanged
    if (KaddError.is(e) && (e.exitCode === 130 || e.exitCode === 2)) throw e;
    throw apiProblem(e, kube);
  }
  const now = ctx.clock.now();
  if (!got.acquired) {
    const h = got.holder;
    const freeAt = new Date(now + h.expiresInMs).toISOString();
    throw new PreflightError(`another kadd holds the cluster lock (Lease ${LOCK_NAMESPACE}/${LOCK_NAME}): ${describeHolder(h, now)}; nothing was changed`, {
      code: 'E_CLUSTER_LOCKED',
      hint: `wait for it to finish; if that kadd was killed, the lock is free ${Math.ceil(h.expiresInMs / 1000)}s from now (${freeAt}, ${h.durationSeconds}s after its last renewal), or take it at once with --force-unlock when you are sure it is gone`,
    });
  }
  if (got.previous) {
    if (got.previous.live) {
      ctx.io.log('warn', `--force-unlock: took the cluster lock from ${describeHolder(got.previous, now)}; if that kadd is still running, it stops at its next renewal`);
    } else if (got.previous.expiresInMs > 0) {
      ctx.io.log('info', `took over the cluster lock from ${describeHolder(got.previous, now)}: that process no longer runs on this host`);
    } else {
      ctx.io.log('info', `took over the cluster lock from ${describeHolder(got.previous, now)}: it stopped renewing it`);
    }
  }
  ctx.io.trace(`cluster lock: Lease ${LOCK_NAMESPACE}/${LOCK_NAME} held by ${identity} (${durationSeconds}s, renewed every ${Math.round(renewEveryMs / 1000)}s)`);

  const lostCtl = new AbortController();
  const stopCtl = new AbortController();
  let lostError: KaddError | undefined;
  let lastRenew = now;
  const lose = (why: string) => {
    if (lostError) return;
    lostError = new OperationError('E_LOCK_LOST', `lost the cluster lock (Lease ${LOCK_NAMESPACE}/${LOCK_NAME}): ${why}; the operation was stopped`, {
      hint: 'another kadd may be changing the cluster now: check `kadd status` and the other run before running again',
    });
    ctx.io.log('error', lostError.message);
    lostCtl.abort(lostError);
  };
  const loop = (async () => {
    let wait = renewEveryMs;
    while (!stopCtl.signal.aborted && !lostError) {
      try {
        await ctx.clock.sleep(wait, stopCtl.signal);
      } catch {
        break;
      }
      if (stopCtl.signal.aborted) break;
      try {
        const r = await lease.renew();
        if (r.renewed) {
          lastRenew = ctx.clock.now();
          wait = renewEveryMs;
        } else {
          lose(r.holder ? `it is now held by ${describeHolder(r.holder, ctx.clock.now())}` : 'its Lease was deleted');
        }
      } catch (e) {
        const left = lastRenew + durationSeconds * 1000 - ctx.clock.now();
        // give up while the Lease is still ours: past its expiry another kadd may already have it
        if (left <= Math.min(renewEveryMs, 2000)) lose(`could not renew it for ${secs(ctx.clock.now() - lastRenew)}s (${e instanceof Error ? e.message : String(e)})`);
        else wait = Math.min(1000, renewEveryMs);
      }
    }
  })();

  let released = false;
  return {
    identity,
    signal: lostCtl.signal,
    lost: () => lostError,
    async release() {
      if (released) return;
      released = true;
      stopCtl.abort();
      await loop;
      if (lostError) return;
      try {
        const ok = await lease.release();
        if (!ok) ctx.io.log('warn', `the cluster lock (Lease ${LOCK_NAMESPACE}/${LOCK_NAME}) was taken by someone else; left as it is`);
      } catch (e) {
        ctx.io.log('warn', `could not release the cluster lock (Lease ${LOCK_NAMESPACE}/${LOCK_NAME}): ${e instanceof Error ? e.message : String(e)}; it frees itself ${durationSeconds}s after its last renewal`);
      }
    },
  };
}

/** The context an operation runs with while it holds the lock: its signal also fires when the lock is lost. */
export function withLock<C extends { signal: AbortSignal }>(ctx: C, lock: Pick<ClusterLock, 'signal'>): C {
  return { ...ctx, signal: AbortSignal.any([ctx.signal, lock.signal]) };
}
