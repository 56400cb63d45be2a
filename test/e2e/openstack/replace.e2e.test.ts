/**
 * `kadd replace` (node bin/kadd.js, a child process) against the real Zed services (servers, volumes, ports,
 * Octavia with the kadd_noop provider), the Kubernetes side served by the simulator (test/sim) with the
 * NovaBridge telling its kubelets when a real server turns ACTIVE (set-up shared with kadd/remove:
 * kadd-helpers.ts setUpE2e).
 *
 *   1. kadd add --amount 2 (two real workers)
 *   2. kadd replace NODE (surge): the replacement joins before the old server goes; nothing of the old left
 *   3. kadd replace --no-surge NODE: the old server goes before the replacement is created
 *   4. kadd replace --all --role node --max-surge 2: every worker replaced; never more than 2 extra servers
 *   5. a real master (kadd add --role master next to the simulated master 1, the API load balancer on the real
 *      Octavia), then kadd replace of it (surge, 2 -> 3 -> 2 etcd members): the old pool member is gone from
 *      the real Octavia API and the new one is in; nothing named for the old master is left; etcd back to 2
 *   6. everything kadd created is gone after the cleanup by name; the journal records nothing left over
 *
 * Skips when the cloud is not up (start it with `sudo bash test/e2e/openstack/start.sh`); step 5 skips
 * without Octavia.
 */
import assert from 'node:assert/strict';
import { pollUntil } from './helpers.js';
import {
  createApiLb, describeLeftovers, e2eClusterNames, leftovers, promoteUpdated, purge, runKadd, setUpE2e, show, tearDownE2e, waitNothingLeft,
  type ApiLb, type E2eSetUp, type KaddRun,
} from './kadd-helpers.js';

const POLL_MS = 1000;

describe('e2e: kadd replace against the real OpenStack (Kubernetes side simulated)', function () {
  this.timeout(900_000);
  const { cluster, names } = e2eClusterNames('e2r');
  let s: E2eSetUp | undefined;
  let lb: ApiLb | undefined;
  let cfg = '';
  const common = ['--poll-interval', String(POLL_MS), '--boot-timeout', '300', '--timeout', '180'];
  const replaceFlags = [...common, '--yes', '--soak', '5', '--drain-timeout', '3m'];

  const kadd = (args: string[], timeoutMs = 600_000): Promise<KaddRun> => runKadd(args, s!.childEnv, s!.dir, timeoutMs);
  const servers = async (role = 'node') => (await s!.user.req('GET', 'compute', `/servers/detail?name=${encodeURIComponent(`^${cluster}-${role}-`)}`)).body.servers as { id: string; name: string; status: string }[];
  const live = async (role = 'node') => (await servers(role)).filter((x) => x.status !== 'DELETED' && x.status !== 'SOFT_DELETED').map((x) => x.name).sort();

  before(async function () {
    const r = await setUpE2e({ cluster, names, seed: 8, cidr: '10.79.0.0/24', bridge: '', tmpPrefix: 'kadd-e2e-replace-' });
    if ('skip' in r) {
      console.log(`      skipped: ${r.skip}`);
      this.skip();
    }
    s = r;
    cfg = s.cfg;
    const add = await kadd(['add', '--amount', '2', ...common, cfg]);
    assert.equal(add.code, 0, show(add));
    assert.deepEqual(await live(), [`${cluster}-node-1`, `${cluster}-node-2`]);
  });

  after(async function () {
    await tearDownE2e(s, cluster, [names], async () => lb?.remove());
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
    assert.ok(seen.some((x) => x.length === 3), 'three workers existed at once (surge)');
    assert.ok(seen.every((x) => x.length <= 3), 'never more than one extra');
    const l = await leftovers(s!.user, `${cluster}-node-1`);
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
    assert.equal(describeLeftovers(await leftovers(s!.user, `${cluster}-node-2`)), 'nothing');
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
  });

  it('one master, surge (2 -> 3 -> 2 etcd members): the old pool member gone from the real Octavia, the new one in, nothing named for the old master left', async function () {
    if (!s!.user.catalog.some((c) => c.type === 'load-balancer')) {
      console.log('      skipped: no load-balancer service in the catalog (start.sh adds Octavia)');
      this.skip();
    }
    // a real master next to the simulated master 1, in the API pool of the real Octavia
    lb = await createApiLb(s!.user, cluster, names.subnet, 'kadd e2e replace');
    const add = await kadd(['add', '--role', 'master', '--yes', ...common, cfg]);
    assert.equal(add.code, 0, show(add));
    promoteUpdated(s!.dir, cfg);
    const old = `${cluster}-master-2`;
    const neu = `${cluster}-master-3`;
    assert.deepEqual(await live('master'), [old]);
    assert.ok((await lb.members()).some((x) => x.name === old), 'the added master is in the pool');
    const etcd = () => ((s!.sim.kube as any).etcd.dump() as { members: { name: string; isLearner: boolean }[] }).members;
    const start = etcd().length;
    assert.equal(start, 2);

    const counts: number[] = [];
    const t = setInterval(() => counts.push(etcd().length), 100);
    let r: KaddRun;
    try {
      r = await kadd(['replace', ...replaceFlags, cfg, old]);
    } finally {
      clearInterval(t);
    }
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, new RegExp(`${old}\\s+${neu}\\s+replaced\\s+surge`));
    assert.deepEqual(await live('master'), [neu]);
    // the pool, as the real Octavia lists it
    const members = await lb.members();
    assert.ok(!members.some((x) => x.name === old), `pool member of ${old} still there: ${JSON.stringify(members)}`);
    assert.ok(members.some((x) => x.name === neu), `no pool member for ${neu}: ${JSON.stringify(members)}`);
    assert.equal(await lb.status(), 'ACTIVE');
    // etcd: one more member during the surge, back to the start after
    const after = etcd();
    assert.equal(after.length, start, JSON.stringify(after));
    assert.ok(!after.some((m) => m.name === old) && after.some((m) => m.name === neu && !m.isLearner), JSON.stringify(after));
    assert.equal(Math.max(...counts), start + 1, `members seen: ${[...new Set(counts)]}`);
    // nothing named for the old master left; the journal records nothing left over
    const left = await pollUntil(`nothing named ${old} left`, async () => {
      const l = await leftovers(s!.user, old);
      return l.servers.length + l.volumes.length + l.ports.length === 0 ? true : undefined;
    }, 120_000).catch(() => false);
    assert.equal(left, true, describeLeftovers(await leftovers(s!.user, old)));
    const { findUnfinished } = await import('../../../lib/journal/index.js');
    assert.deepEqual((await findUnfinished(cfg)).leftovers, []);
  });

  it('nothing is left once the servers are deleted by name', async () => {
    await purge(s!.user, cluster);
    const l = await waitNothingLeft(s!.user, cluster);
    assert.equal(describeLeftovers(l), 'nothing');
  });
});
