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
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pollUntil } from './helpers.js';
import {
  createApiLb, e2eClusterNames, leftovers, promoteUpdated, runKadd, setUpE2e, show, tearDownE2e, type ApiLb, type E2eSetUp, type KaddRun,
} from './kadd-helpers.js';

const POLL_MS = 1000;

describe('e2e: kadd remove against the real OpenStack (Kubernetes side simulated)', function () {
  this.timeout(600_000);
  const { cluster, names } = e2eClusterNames('rm');
  let s: E2eSetUp | undefined;
  let lb: ApiLb | undefined;
  let dir = '';
  let cfg = '';
  const kadd = (args: string[]): Promise<KaddRun> => runKadd(args, s!.childEnv, dir, 480_000);
  const promote = () => promoteUpdated(dir, cfg);

  before(async function () {
    const r = await setUpE2e({ cluster, names, seed: 7, cidr: '10.79.0.0/24', kube: { workloads: [] }, bridge: '', needOctavia: true, tmpPrefix: 'kadd-e2e-remove-' });
    if ('skip' in r) {
      console.log(`      skipped: ${r.skip}`);
      this.skip();
    }
    s = r;
    ({ dir, cfg } = s);
    // workers first: they create the network the load balancer's VIP goes on
    const add = await kadd(['add', '--role', 'node', '--amount', '3', '--poll-interval', String(POLL_MS), '--boot-timeout', '180', '--timeout', '120', cfg]);
    assert.equal(add.code, 0, show(add));
    promote();
    // the API load balancer kadd finds by name: <cluster>-lb, master-listener-<cluster>, master-pool-<cluster>
    lb = await createApiLb(s.user, cluster, names.subnet, 'kadd e2e remove');
    const m = await kadd(['add', '--role', 'master', '--yes', '--poll-interval', String(POLL_MS), '--boot-timeout', '180', '--timeout', '300', cfg]);
    assert.equal(m.code, 0, show(m));
    promote();
  });

  after(async function () {
    await tearDownE2e(s, cluster, [names], async () => lb?.remove());
  });

  it('the added master is a member of the real API pool', async function () {
    const members = await lb!.members();
    assert.ok(members.some((x) => x.name === `${cluster}-master-2`), JSON.stringify(members));
  });

  it('removes 2 workers (newest first): exit 0, nothing named for them remains, n-nodes 3 -> 1', async function () {
    const r = await kadd(['remove', '--yes', '--role', 'node', '--amount', '2', '--poll-interval', String(POLL_MS), cfg]);
    assert.equal(r.code, 0, show(r));
    for (const n of [`${cluster}-node-3`, `${cluster}-node-2`]) {
      const left = await pollUntil(`nothing named ${n} left`, async () => {
        const l = await leftovers(s!.user, n);
        const mine = [...l.servers, ...l.volumes, ...l.ports].filter((x) => x.name === n || x.name.startsWith(`${n}-`));
        return mine.length === 0 ? true : undefined;
      }, 120_000).catch(() => false);
      assert.equal(left, true, `${n}: ${JSON.stringify(await leftovers(s!.user, n))}`);
      assert.ok(!((s!.sim.kube as any).nodes() as any[]).some((x) => x.metadata.name === n), `Node ${n} deleted`);
    }
    assert.ok((await leftovers(s!.user, `${cluster}-node-1`)).servers.length === 1, 'the other worker stays');
    assert.match(readFileSync(join(dir, 'cfg.updated.yml'), 'utf8'), /n-nodes: 1\b/);
    promote();
  });

  it('removes the added master: pool member gone from the real Octavia API, its etcd member gone, nothing named for it remains', async function () {
    const victim = `${cluster}-master-2`;
    const r = await kadd(['remove', '--yes', '--allow-single-master', '--poll-interval', String(POLL_MS), cfg, victim]);
    assert.equal(r.code, 0, show(r));
    const members = await lb!.members();
    assert.ok(!members.some((x) => x.name === victim), `pool member of ${victim} still there: ${JSON.stringify(members)}`);
    assert.equal(await lb!.status(), 'ACTIVE');
    const etcd = ((s!.sim.kube as any).etcd.dump() as any).members as { name: string }[];
    assert.ok(!etcd.some((m) => m.name === victim), JSON.stringify(etcd));
    const left = await pollUntil(`nothing named ${victim} left`, async () => {
      const l = await leftovers(s!.user, victim);
      return l.servers.length + l.volumes.length + l.ports.length === 0 ? true : undefined;
    }, 120_000).catch(() => false);
    assert.equal(left, true, JSON.stringify(await leftovers(s!.user, victim)));
    assert.match(readFileSync(join(dir, 'cfg.updated.yml'), 'utf8'), /n-masters: 1\b/);
  });
});
