/**
 * The simulator's footprint, measured in a fresh process (spawned by scale.test.ts; not a test file itself):
 * `node --import tsx test/sim-tests/footprint-child.ts [--servers N]`.
 *
 * Starts the whole simulator (OpenStack + Kubernetes halves) with an existing 3-master cluster, then, through
 * the HTTP APIs only, creates N worker servers (default 500) that boot from a volume made from the image and
 * carry a kubeadm JoinConfiguration in their user-data, polls them until ACTIVE (list + one GET each, as a
 * client would), and waits until their kubelets have joined and every Node is Ready (GET /api/v1/nodes).
 * Prints ONE line of JSON on stdout: counts, timings and the process RSS at the end.
 */
import { startSim } from '../sim/index.js';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const N = arg('servers', 500);
const MASTERS = 3;
const t0 = Date.now();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<Record<string, unknown>> {
  const sim = await startSim({
    requireKube: true,
    scenario: {
      seed: 5,
      timeScale: 0.001,
      identity: { tokenTtl: 1e7 },
      cluster: { name: 'big', masters: MASTERS, nodes: 0 },
      faults: { quota: { instances: N + 100, cores: 4 * (N + 100), ram: 8192 * (N + 100), volumes: N + 100, gigabytes: 30 * (N + 100), ports: 2 * N + 100 } },
    },
  });
  try {
    const token = await sim.token();
    const call = async (method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> => {
      const r = await fetch(sim.baseUrl + path, {
        method,
        headers: { 'x-auth-token': token, 'openstack-api-version': 'compute 2.67', ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await r.text();
      return { status: r.status, body: text ? JSON.parse(text) : undefined };
    };
    const kube = sim.kube as unknown as { createToken(): string; caHash: string; endpoint(): string };
    const joinToken = kube.createToken();
    const userData = Buffer.from(`#cloud-config
write_files:
- path: /etc/kubernetes/kadd-join.yaml
  permissions: '0600'
  content: |
    apiVersion: kubeadm.k8s.io/v1beta3
    kind: JoinConfiguration
    discovery:
      bootstrapToken:
        apiServerEndpoint: ${kube.endpoint()}
        token: ${joinToken}
        caCertHashes: [${kube.caHash}]
    nodeRegistration:
      kubeletExtraArgs:
        node-labels: "kadd-role=node"
runcmd:
- kubeadm join --config /etc/kubernetes/kadd-join.yaml
# ${'padding of a real cloud-config (packages, files, scripts) '.repeat(30)}
`).toString('base64');

    const net = (await call('GET', '/network/v2.0/networks?name=big-net')).body.networks[0].id as string;
    const image = (await call('GET', '/image/v2/images?name=ubuntu-22.04')).body.images[0].id as string;
    const flavor = ((await call('GET', '/compute/v2.1/flavors')).body.flavors as { id: string; name: string }[]).find((f) => f.name === 'm1.small')!.id;

    const tCreate = Date.now();
    const ids: string[] = [];
    for (let i = 0; i < N; i += 25) {
      const batch = await Promise.all(Array.from({ length: Math.min(25, N - i) }, (_, j) => call('POST', '/compute/v2.1/servers', {
        server: {
          name: `big-node-${i + j + 1}`, flavorRef: flavor, networks: [{ uuid: net }], key_name: 'big', user_data: userData,
          block_device_mapping_v2: [{ boot_index: 0, uuid: image, source_type: 'image', destination_type: 'volume', volume_size: 20, delete_on_termination: true }],
        },
      })));
      for (const r of batch) {
        if (r.status !== 202) throw new Error(`server create: HTTP ${r.status} ${JSON.stringify(r.body)}`);
        ids.push(r.body.server.id);
      }
    }
    const createMs = Date.now() - tCreate;

    // poll as a client would: one list per round until all are ACTIVE, then one GET each
    const tActive = Date.now();
    for (;;) {
      const l = (await call('GET', '/compute/v2.1/servers/detail?name=^big-node-')).body.servers as { status: string }[];
      const bad = l.filter((s) => s.status === 'ERROR');
      if (bad.length) throw new Error(`${bad.length} servers went to ERROR`);
      if (l.length === N && l.every((s) => s.status === 'ACTIVE')) break;
      if (Date.now() - tActive > 90_000) throw new Error(`servers not ACTIVE in 90 s: ${l.filter((s) => s.status === 'ACTIVE').length}/${N}`);
      await sleep(50);
    }
    let getsActive = 0;
    for (let i = 0; i < N; i += 50) {
      const rs = await Promise.all(ids.slice(i, i + 50).map((id) => call('GET', `/compute/v2.1/servers/${id}`)));
      getsActive += rs.filter((r) => r.body?.server?.status === 'ACTIVE').length;
    }
    const activeMs = Date.now() - tActive;

    // kubelets join through the kubeadm path; wait until every Node is registered and Ready
    const tJoin = Date.now();
    const ready = (n: any): boolean => n.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True');
    let nodes: any[] = [];
    for (;;) {
      nodes = ((await (await fetch(`${sim.baseUrl}/api/v1/nodes`)).json()) as { items: any[] }).items;
      if (nodes.length >= N + MASTERS && nodes.every(ready)) break;
      if (Date.now() - tJoin > 90_000) throw new Error(`Nodes not Ready in 90 s: ${nodes.filter(ready).length}/${N + MASTERS} Ready`);
      await sleep(100);
    }
    const joinMs = Date.now() - tJoin;

    // the lists a client reads at this size, timed
    let t = Date.now();
    const detail = (await call('GET', '/compute/v2.1/servers/detail')).body.servers as unknown[];
    const serversDetailMs = Date.now() - t;
    t = Date.now();
    const nodeList = ((await (await fetch(`${sim.baseUrl}/api/v1/nodes`)).json()) as { items: unknown[] }).items;
    const nodesListMs = Date.now() - t;
    const ports = ((await call('GET', `/network/v2.0/ports?network_id=${net}`)).body.ports as { device_owner: string }[]).filter((p) => p.device_owner.startsWith('compute:')).length;
    const volumes = (await call('GET', `/volume/v3/${sim.projectId}/volumes/detail?limit=5000`)).body.volumes.length;
    const joinedWorkers = nodeList.filter((n: any) => n.metadata?.labels?.['kadd-role'] === 'node' && /^openstack:\/\/\//.test(n.spec?.providerID ?? '')).length;
    const mem = process.memoryUsage();
    return {
      ok: true, servers: detail.length, getsActive, nodes: nodeList.length, readyNodes: nodes.filter(ready).length, joinedWorkers, ports, volumes,
      rssMB: Math.round(mem.rss / 1048576), heapUsedMB: Math.round(mem.heapUsed / 1048576),
      createMs, activeMs, joinMs, serversDetailMs, nodesListMs, totalMs: Date.now() - t0,
    };
  } finally {
    await sim.stop();
  }
}

main().then(
  (r) => { process.stdout.write(JSON.stringify(r) + '\n'); process.exit(0); },
  (e: unknown) => { process.stdout.write(JSON.stringify({ ok: false, error: (e as Error)?.stack ?? String(e) }) + '\n'); process.exit(1); },
);
