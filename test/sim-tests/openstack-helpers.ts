/** Helpers for the simulator's own tests: plain fetch against a started sim. */
import nock from 'nock';
import { startSim, type Sim, type StartSimOptions } from '../sim/index.js';
import type { Scenario } from '../sim/contract.js';

export interface Api {
  sim: Sim;
  token: string;
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any; headers: Headers; text: string }>;
}

export async function startApi(scenario: Scenario = {}, extra: Omit<StartSimOptions, 'scenario'> = {}): Promise<Api> {
  // other suites disable real network with nock; the simulator lives on loopback
  nock.enableNetConnect('127.0.0.1');
  const sim = await startSim({ scenario: { seed: 42, timeScale: 0.001, identity: { tokenTtl: 1e7 }, ...scenario }, ...extra });
  const token = await sim.token();
  const api: Api = {
    sim,
    token,
    async call(method, path, body, headers = {}) {
      const r = await fetch(sim.baseUrl + path, {
        method,
        headers: { 'x-auth-token': api.token, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await r.text();
      let parsed: unknown = text;
      try { parsed = text ? JSON.parse(text) : undefined; } catch { /* text body */ }
      return { status: r.status, body: parsed, headers: r.headers, text };
    },
  };
  return api;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** poll fn until it returns a truthy value (real ms) */
export async function until<T>(fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 5000, stepMs = 5): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(stepMs);
  }
}

export async function ids(api: Api): Promise<{ net: string; subnet: string; image: string; cirros: string; project: string }> {
  const nets = (await api.call('GET', '/network/v2.0/networks?name=kadd-net')).body.networks;
  let net = nets[0]?.id as string | undefined;
  let subnet: string;
  if (!net) {
    net = (await api.call('POST', '/network/v2.0/networks', { network: { name: 'kadd-net' } })).body.network.id as string;
    subnet = (await api.call('POST', '/network/v2.0/subnets', { subnet: { network_id: net, cidr: '10.0.0.0/16', ip_version: 4, name: 'kadd-subnet' } })).body.subnet.id;
  } else subnet = nets[0].subnets[0];
  const imgs = (await api.call('GET', '/image/v2/images')).body.images as { id: string; name: string }[];
  return { net, subnet, image: imgs.find((i) => i.name === 'ubuntu-22.04')!.id, cirros: imgs.find((i) => i.name === 'cirros')!.id, project: api.sim.projectId };
}
