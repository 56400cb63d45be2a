/**
 * `kadd replace` (node bin/kadd.js, a child process) against the real Zed services, the Kubernetes side served
 * by the simulator (test/sim) with the NovaBridge telling its kubelets when a real server turns ACTIVE.
 * Workers only: the e2e cloud has no Octavia and its one master is simulated (no real master server), so a master
 * replace cannot run here; the simulator and real-etcd suites cover masters (test/commands/replace-sim.test.ts,
 * test/integration/replace-real-etcd.integration.test.ts).
 *
 *   1. kadd add --amount 2 (two real workers)
 *   2. kadd replace NODE (surge): the replacement joins before the old server goes; nothing of the old left
 *   3. kadd replace --no-surge NODE: the old server goes before the replacement is created
 *   4. kadd replace --all --role node --max-surge 2: every worker replaced; never more than 2 extra servers
 *   5. everything kadd created is gone after the cleanup by name; the journal records nothing left over
 *
 * Skips when the cloud is not up (start it with `sudo bash test/e2e/openstack/start.sh`).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session, cloudUnavailable, e2eEnv, readCloud } from './helpers.js';
import { NovaBridge, describeLeftovers, kaddEnv, leftovers, purge, purgeNetwork, runKadd, show, waitNothingLeft, type KaddRun } from './kadd-helpers.js';

const POLL_MS = 1000;

describe('e2e: kadd replace against the real OpenStack (Kubernetes side simulated)', function () {
  this.timeout(900_000);
  const env = e2eEnv();
  const cluster = `e2r${Date.now().toString(36).slice(-6)}`;
  const names = { network: `${cluster}-net`, subnet: `${cluster}-subnet`, router: `${cluster}-rt`, securityGroup: `${cluster}-sg` };
  let user: Session;
  let admin: Session;
  let sim: any;
  let bridge: NovaBridge | undefined;
  let dir = '';
  let cfg = '';
  let childEnv: NodeJS.ProcessEnv;
  const common = ['--poll-interval', String(POLL_MS), '--boot-timeout', '300', '--timeout', '180'];
  const replaceFlags = [...common, '--yes', '--soak', '5', '--drain-timeout', '3m'];

  const kadd = (args: string[], timeoutMs = 600_000): Promise<KaddRun> => runKadd(args, childEnv, dir, timeoutMs);
  const servers = async () => (await user.req('GET', 'compute', `/servers/detail?name=${encodeURIComponent(`^${cluster}-node-`)}`)).body.servers as { id: string; name: string; status: string }[];
  const live = async () => (await servers()).filter((s) => s.status !== 'DELETED' && s.status !== 'SOFT_DELETED').map((s) => s.name).sort();

  before(async function () {
    const why = await cloudUnavailable(env);
    if (why) {
      console.log(`      skipped: ${why}`);
      this.skip();
    }
    user = await Session.password(readCloud(env.clouds, env.cloud));
    admin = await Session.password(readCloud(env.clouds, env.adminCloud));
    const { startSim } = await import('../../sim/index.js');
    sim = await startSim({
      requireKube: true,
      scenario: { seed: 8, cluster: { name: cluster, masters: 1, nodes: 0, k8sVersion: '1.30.2' }, latency: { nodeRegister: { uniform: [300, 800] }, nodeReady: { uniform: [300, 800] } } },
    });
    dir = mkdtempSync(join(tmpdir(), 'kadd-e2e-replace-'));
    writeFileSync(join(dir, 'kubeconfig'), `apiVersion: v1\nkind: Config\nclusters:\n- name: sim\n  cluster:\n    server: ${sim.baseUrl}\nusers:\n- name: admin\n  user:\n    token: sim-admin-token\ncontexts:\n- name: sim\n  context:\n    cluster: sim\n    user: admin\ncurrent-context: sim\n`);
    cfg = join(dir, 'cfg.yml');
    writeFileSync(cfg, [
      `cluster-name: ${cluster}`, 'n-masters: 1', 'n-nodes: 0', `keypair: ${env.keypair}`, `master_flavor: ${env.flavor}`, `node_flavor: ${env.flavor}`,
      'availability-zones:', `  - ${env.az}`, `image: ${env.image}`,
      'private_net:', `  name: ${names.network}`, '  subnet:', `    name: ${names.subnet}`, '    cidr: 10.79.0.0/24', '    router:', `      name: ${names.router}`,
      'loadbalancer:', `  name: ${cluster}-lb`, '  floatingip: 127.0.0.1',
      'version:', '  k8s: 1.30.2', 'volume_size: 1', `security_group: ${names.securityGroup}`, '',
    ].join('\n'));
    childEnv = kaddEnv({ OS_CLIENT_CONFIG_FILE: env.clouds, OS_CLOUD: env.cloud, KUBECONFIG: join(dir, 'kubeconfig'), HOME: dir });
    bridge = new NovaBridge(admin, sim.core.events, `${cluster}-node-`);
    bridge.start();
    const add = await kadd(['add', '--amount', '2', ...common, cfg]);
    assert.equal(add.code, 0, show(add));
    assert.deepEqual(await live(), [`${cluster}-node-1`, `${cluster}-node-2`]);
  });

  after(async function () {
    bridge?.stop();
    if (user) {
      await purge(user, cluster);
      await purgeNetwork(user, names);
    }
    if (sim) await sim.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('surge: the replacement joins before the old server goes; the old server, volume and port are gone', async () => {
    const seen: string[][] = [];
    let stop = false;
    const watch = (async () => {
      while (!stop) {
        seen.push(await live().catch(() => []));
        await new Promise((r) => setTimeout(r, 1000));
      }
    })();
    const r = await kadd(['replace', ...replaceFlags, cfg, `${cluster}-node-1`]);
    stop = true;
    await watch;
    assert.equal(r.code, 0, show(r));
    assert.deepEqual(await live(), [`${cluster}-node-2`, `${cluster}-node-3`]);
    assert.ok(seen.some((s) => s.length === 3), 'three workers existed at once (surge)');
    assert.ok(seen.every((s) => s.length <= 3), 'never more than one extra');
    const l = await leftovers(user, `${cluster}-node-1`);
    assert.equal(describeLeftovers(l), 'nothing');
  });

  it('--no-surge: the old server goes before the replacement is created', async () => {
    const seen: number[] = [];
    let stop = false;
    const watch = (async () => {
      while (!stop) {
        seen.push((await live().catch(() => [])).length);
        await new Promise((r) => setTimeout(r, 1000));
      }
    })();
    const r = await kadd(['replace', '--no-surge', ...replaceFlags, cfg, `${cluster}-node-2`]);
    stop = true;
    await watch;
    assert.equal(r.code, 0, show(r));
    assert.deepEqual(await live(), [`${cluster}-node-3`, `${cluster}-node-4`]);
    assert.ok(seen.every((n) => n <= 2), `never 3 workers: ${seen}`);
    assert.equal(describeLeftovers(await leftovers(user, `${cluster}-node-2`)), 'nothing');
  });

  it('--all --role node --max-surge 2: every worker replaced, at most 2 extra servers, cfg.updated.yml left alone (no change requested)', async () => {
    const seen: number[] = [];
    let stop = false;
    const watch = (async () => {
      while (!stop) {
        seen.push((await live().catch(() => [])).length);
        await new Promise((r) => setTimeout(r, 500));
      }
    })();
    const r = await kadd(['replace', '--all', '--role', 'node', '--max-surge', '2', ...replaceFlags, cfg]);
    stop = true;
    await watch;
    assert.equal(r.code, 0, show(r));
    assert.deepEqual(await live(), [`${cluster}-node-5`, `${cluster}-node-6`]);
    assert.ok(Math.max(...seen) <= 4, `at most 2 extra: ${seen}`);
    const { findUnfinished } = await import('../../../lib/journal/index.js');
    assert.deepEqual((await findUnfinished(cfg)).leftovers, []);
    void readFileSync;
  });

  it('nothing is left once the workers are deleted by name', async () => {
    await purge(user, cluster);
    const l = await waitNothingLeft(user, cluster);
    assert.equal(describeLeftovers(l), 'nothing');
  });
});
