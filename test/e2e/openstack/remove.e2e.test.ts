/**
 * `kadd remove` against the real Zed services (servers, volumes, ports, Octavia with the kadd_noop provider),
 * the Kubernetes side simulated (test/sim, joined through the NovaBridge as in kadd.e2e.test.ts):
 *
 *   kadd add --role node --amount 3, kadd add --role master (the sim seeds master 1 with its etcd member;
 *   the new master joins the real API pool), then kadd remove of 2 workers and of the added master:
 *   the pool member disappears from the real Octavia API, and nothing named for the removed nodes remains
 *   (servers, volumes, ports); the cluster file's counts go down.
 *
 * Written by the remove branch, NOT run there (the lead runs the e2e suite). Skips when the cloud or
 * Octavia is not up (`sudo bash test/e2e/openstack/start.sh`).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session, cloudUnavailable, e2eEnv, pollUntil, readCloud } from './helpers.js';
import { NovaBridge, kaddEnv, leftovers, purge, purgeNetwork, runKadd, show, type KaddRun } from './kadd-helpers.js';

const POLL_MS = 1000;

describe('e2e: kadd remove against the real OpenStack (Kubernetes side simulated)', function () {
  this.timeout(600_000);
  const env = e2eEnv();
  const cluster = `rm${Date.now().toString(36).slice(-6)}`;
  const names = { network: `${cluster}-net`, subnet: `${cluster}-subnet`, router: `${cluster}-rt`, securityGroup: `${cluster}-sg` };
  let user: Session;
  let admin: Session;
  let sim: any;
  let bridge: NovaBridge | undefined;
  let dir = '';
  let cfg = '';
  let childEnv: NodeJS.ProcessEnv;
  let lbId = '';
  let poolId = '';
  const O = (method: string, path: string, body?: unknown, ok?: number[]) => user.req(method, 'load-balancer', path, body, ok);
  const lbActive = (after: string) =>
    pollUntil(`load balancer ACTIVE after ${after}`, async () => {
      const s = (await O('GET', `/lbaas/loadbalancers/${lbId}`)).body.loadbalancer.provisioning_status;
      if (s === 'ERROR') throw new Error(`load balancer went to ERROR after ${after}`);
      return s === 'ACTIVE' ? true : undefined;
    }, 120_000, 500);
  const kadd = (args: string[]): Promise<KaddRun> => runKadd(args, childEnv, dir, 480_000);
  const promote = () => {
    // as an operator does after each change: the updated file becomes the cluster file
    const updated = join(dir, 'cfg.updated.yml');
    writeFileSync(cfg, readFileSync(updated, 'utf8'));
    rmSync(updated);
  };

  before(async function () {
    const why = await cloudUnavailable(env);
    if (why) {
      console.log(`      skipped: ${why}`);
      this.skip();
    }
    user = await Session.password(readCloud(env.clouds, env.cloud));
    admin = await Session.password(readCloud(env.clouds, env.adminCloud));
    if (!user.catalog.some((c) => c.type === 'load-balancer')) {
      console.log('      skipped: no load-balancer service in the catalog (start.sh adds Octavia)');
      this.skip();
    }
    const { startSim } = await import('../../sim/index.js');
    sim = await startSim({
      requireKube: true,
      scenario: {
        seed: 7,
        cluster: { name: cluster, masters: 1, nodes: 0, k8sVersion: '1.30.2' },
        latency: { nodeRegister: { uniform: [300, 800] }, nodeReady: { uniform: [300, 800] } },
        kube: { workloads: [] },
      },
    });
    dir = mkdtempSync(join(tmpdir(), 'kadd-e2e-remove-'));
    writeFileSync(
      join(dir, 'kubeconfig'),
      `apiVersion: v1\nkind: Config\nclusters:\n- name: sim\n  cluster:\n    server: ${sim.baseUrl}\nusers:\n- name: admin\n  user:\n    token: sim-admin-token\ncontexts:\n- name: sim\n  context:\n    cluster: sim\n    user: admin\ncurrent-context: sim\n`,
    );
    cfg = join(dir, 'cfg.yml');
    writeFileSync(
      cfg,
      [
        `cluster-name: ${cluster}`, 'n-masters: 1', 'n-nodes: 0', `keypair: ${env.keypair}`, `master_flavor: ${env.flavor}`, `node_flavor: ${env.flavor}`,
        'availability-zones:', `  - ${env.az}`, `image: ${env.image}`,
        'private_net:', `  name: ${names.network}`, '  subnet:', `    name: ${names.subnet}`, '    cidr: 10.79.0.0/24', '    router:', `      name: ${names.router}`,
        'loadbalancer:', `  name: ${cluster}-lb`, '  floatingip: 127.0.0.1',
        'version:', '  k8s: 1.30.2', 'volume_size: 1', `security_group: ${names.securityGroup}`, '',
      ].join('\n'),
    );
    childEnv = kaddEnv({ OS_CLIENT_CONFIG_FILE: env.clouds, OS_CLOUD: env.cloud, KUBECONFIG: join(dir, 'kubeconfig'), HOME: dir });
    bridge = new NovaBridge(admin, sim.core.events, `${cluster}-`);
    bridge.start();
    // workers first: they create the network the load balancer's VIP goes on
    const add = await kadd(['add', '--role', 'node', '--amount', '3', '--poll-interval', String(POLL_MS), '--boot-timeout', '180', '--timeout', '120', cfg]);
    assert.equal(add.code, 0, show(add));
    promote();
    // the API load balancer kadd finds by name: <cluster>-lb, master-listener-<cluster>, master-pool-<cluster>
    const sn = (await user.req('GET', 'network', `/subnets?name=${names.subnet}`)).body.subnets as { id: string }[];
    const lb = await O('POST', '/lbaas/loadbalancers', { loadbalancer: { name: `${cluster}-lb`, vip_subnet_id: sn[0]!.id, description: 'kadd e2e remove (deleted by the test)' } });
    lbId = lb.body.loadbalancer.id;
    await lbActive('create');
    const lis = await O('POST', '/lbaas/listeners', { listener: { name: `master-listener-${cluster}`, protocol: 'TCP', protocol_port: 6443, loadbalancer_id: lbId } });
    await lbActive('listener create');
    poolId = (await O('POST', '/lbaas/pools', { pool: { name: `master-pool-${cluster}`, protocol: 'TCP', lb_algorithm: 'ROUND_ROBIN', listener_id: lis.body.listener.id } })).body.pool.id;
    await lbActive('pool create');
    const m = await kadd(['add', '--role', 'master', '--yes', '--poll-interval', String(POLL_MS), '--boot-timeout', '180', '--timeout', '300', cfg]);
    assert.equal(m.code, 0, show(m));
    promote();
  });

  after(async function () {
    bridge?.stop();
    if (user) {
      if (lbId) await O('DELETE', `/lbaas/loadbalancers/${lbId}?cascade=true`, undefined, [202, 204, 404]).catch(() => {});
      await purge(user, cluster);
      await purgeNetwork(user, names);
    }
    if (sim) await sim.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the added master is a member of the real API pool', async function () {
    const members = (await O('GET', `/lbaas/pools/${poolId}/members`)).body.members as { name: string }[];
    assert.ok(members.some((x) => x.name === `${cluster}-master-2`), JSON.stringify(members));
  });

  it('removes 2 workers (newest first): exit 0, nothing named for them remains, n-nodes 3 -> 1', async function () {
    const r = await kadd(['remove', '--yes', '--role', 'node', '--amount', '2', '--poll-interval', String(POLL_MS), cfg]);
    assert.equal(r.code, 0, show(r));
    for (const n of [`${cluster}-node-3`, `${cluster}-node-2`]) {
      const left = await pollUntil(`nothing named ${n} left`, async () => {
        const l = await leftovers(user, n);
        const mine = [...l.servers, ...l.volumes, ...l.ports].filter((x) => x.name === n || x.name.startsWith(`${n}-`));
        return mine.length === 0 ? true : undefined;
      }, 120_000).catch(() => false);
      assert.equal(left, true, `${n}: ${JSON.stringify(await leftovers(user, n))}`);
      assert.ok(!(sim.kube.nodes() as any[]).some((x) => x.metadata.name === n), `Node ${n} deleted`);
    }
    assert.ok((await leftovers(user, `${cluster}-node-1`)).servers.length === 1, 'the other worker stays');
    assert.match(readFileSync(join(dir, 'cfg.updated.yml'), 'utf8'), /n-nodes: 1\b/);
    promote();
  });

  it('removes the added master: pool member gone from the real Octavia API, its etcd member gone, nothing named for it remains', async function () {
    const victim = `${cluster}-master-2`;
    const r = await kadd(['remove', '--yes', '--allow-single-master', '--poll-interval', String(POLL_MS), cfg, victim]);
    assert.equal(r.code, 0, show(r));
    const members = (await O('GET', `/lbaas/pools/${poolId}/members`)).body.members as { name: string; address: string }[];
    assert.ok(!members.some((x) => x.name === victim), `pool member of ${victim} still there: ${JSON.stringify(members)}`);
    assert.equal((await O('GET', `/lbaas/loadbalancers/${lbId}`)).body.loadbalancer.provisioning_status, 'ACTIVE');
    const etcd = (sim.kube.etcd.dump() as any).members as { name: string }[];
    assert.ok(!etcd.some((m) => m.name === victim), JSON.stringify(etcd));
    const left = await pollUntil(`nothing named ${victim} left`, async () => {
      const l = await leftovers(user, victim);
      return l.servers.length + l.volumes.length + l.ports.length === 0 ? true : undefined;
    }, 120_000).catch(() => false);
    assert.equal(left, true, JSON.stringify(await leftovers(user, victim)));
    assert.match(readFileSync(join(dir, 'cfg.updated.yml'), 'utf8'), /n-masters: 1\b/);
  });
});
