/**
 * Octavia v2 calls. Mutations answer 409 while the load balancer is PENDING_* (Octavia refused the request,
 * nothing happened): the HTTP layer retries a few times with backoff, and beyond that kadd waits for the pool
 * to leave PENDING_* (a real amphora often stays pending 5-10 s or more) and tries again, up to a deadline.
 */
import { OpenStackError } from '../errors.js';
import type { Clock } from '../clock.js';
import { realClock } from '../clock.js';
import type { Listener, LoadBalancer, LoadBalancerApi, Member, Pool, ServiceCaller } from './types.js';

export interface LoadBalancerApiOptions {
  clock?: Clock;
  /** how long a mutation waits for a busy load balancer, in total (default 300 s) */
  busyDeadlineMs?: number;
  /** poll interval while waiting (default 2 s) */
  busyPollMs?: number;
}

const is409 = (e: unknown) => e instanceof OpenStackError && e.status === 409;

export function createLoadBalancerApi(c: ServiceCaller, o: LoadBalancerApiOptions = {}): LoadBalancerApi {
  const clock = o.clock ?? realClock;
  const deadlineMs = o.busyDeadlineMs ?? 300_000;
  const pollMs = o.busyPollMs ?? 2000;

  /** run a pool mutation; on a lasting 409, wait until the pool is no longer PENDING_* and try again */
  async function whenPoolIdle<T>(poolId: string, what: string, fn: () => Promise<T>): Promise<T> {
    const deadline = clock.now() + deadlineMs;
    for (;;) {
      try {
        return await fn();
      } catch (e) {
        if (!is409(e) || clock.now() >= deadline) {
          if (is409(e)) {
            throw new OpenStackError(`${what}: the load balancer stayed busy (409) for ${Math.round(deadlineMs / 1000)} s`, { status: 409, service: 'load-balancer' }, {
              hint: 'check the load balancer\'s provisioning status (openstack loadbalancer show); an amphora stuck in PENDING_* needs the cloud operator',
              cause: e,
            });
          }
          throw e;
        }
      }
      // wait for the pool (and so its load balancer) to finish the change in progress
      while (clock.now() < deadline) {
        const r = await c.call<{ pool: Pool }>('load-balancer', 'GET', `/lbaas/pools/${encodeURIComponent(poolId)}`, { notFoundNull: true });
        const st = r?.pool.provisioning_status;
        if (!r) throw new OpenStackError(`${what}: pool ${poolId} not found`, { status: 404, service: 'load-balancer' });
        if (st === 'ERROR') throw new OpenStackError(`${what}: pool ${poolId} is in provisioning status ERROR`, { service: 'load-balancer' });
        if (!st || !st.startsWith('PENDING_')) break;
        await clock.sleep(pollMs);
      }
    }
  }

  return {
    async findLoadBalancer(name: string): Promise<LoadBalancer | null> {
      const all = await c.list<LoadBalancer>('load-balancer', '/lbaas/loadbalancers', 'loadbalancers', { name });
      const exact = all.filter((l) => l.name === name);
      if (exact.length > 1) {
        throw new OpenStackError(`${exact.length} load balancers are named '${name}' (${exact.map((l) => l.id).join(', ')})`, {
          service: 'load-balancer',
          code: 'E_OPENSTACK_AMBIGUOUS',
        });
      }
      return exact[0] ?? null;
    },
    async listListeners(q: { loadbalancer_id?: string } = {}): Promise<Listener[]> {
      return c.list<Listener>('load-balancer', '/lbaas/listeners', 'listeners', { loadbalancer_id: q.loadbalancer_id });
    },
    async listPools(q: { loadbalancer_id?: string } = {}): Promise<Pool[]> {
      return c.list<Pool>('load-balancer', '/lbaas/pools', 'pools', { loadbalancer_id: q.loadbalancer_id });
    },
    async listMembers(poolId: string): Promise<Member[]> {
      return c.list<Member>('load-balancer', `/lbaas/pools/${encodeURIComponent(poolId)}/members`, 'members');
    },
    async createMember(poolId: string, m: { name?: string; address: string; protocol_port: number; subnet_id?: string }): Promise<Member> {
      const member: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(m)) if (v !== undefined) member[k] = v;
      const r = await whenPoolIdle(poolId, `adding member ${m.address}:${m.protocol_port}`, () =>
        c.call<{ member: Member }>('load-balancer', 'POST', `/lbaas/pools/${encodeURIComponent(poolId)}/members`, {
          body: { member },
          ok: [201, 200],
          retryOn409: true,
        }),
      );
      return r!.member;
    },
    async deleteMember(poolId: string, memberId: string): Promise<void> {
      await whenPoolIdle(poolId, `removing member ${memberId}`, () =>
        c.call('load-balancer', 'DELETE', `/lbaas/pools/${encodeURIComponent(poolId)}/members/${encodeURIComponent(memberId)}`, {
          notFoundNull: true,
          ok: [204, 202, 200],
          retryOn409: true,
        }),
      );
    },
  };
}
