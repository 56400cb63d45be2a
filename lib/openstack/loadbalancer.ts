/** Octavia v2 calls. Mutations retry 409 (the load balancer is PENDING_UPDATE; Octavia refused the request). */
import { OpenStackError } from '../errors.js';
import type { Listener, LoadBalancer, LoadBalancerApi, Member, Pool } from './types.js';
import type { ServiceCaller } from './client.js';

export function createLoadBalancerApi(c: ServiceCaller): LoadBalancerApi {
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
      const r = await c.call<{ member: Member }>('load-balancer', 'POST', `/lbaas/pools/${encodeURIComponent(poolId)}/members`, {
        body: { member },
        ok: [201, 200],
        retryOn409: true,
      });
      return r!.member;
    },
    async deleteMember(poolId: string, memberId: string): Promise<void> {
      await c.call('load-balancer', 'DELETE', `/lbaas/pools/${encodeURIComponent(poolId)}/members/${encodeURIComponent(memberId)}`, {
        notFoundNull: true,
        ok: [204, 202, 200],
        retryOn409: true,
      });
    },
  };
}
