/**
 * The `kadd` CLI (node bin/kadd.js, a child process) against the real Zed services, with the simulator
 * (test/sim startSim) serving ONLY the Kubernetes side. A bridge polls the real Nova as admin and tells the
 * simulated kubelets when a server turns ACTIVE, with the user-data Nova stored, so Nodes join for real.
 *
 * Mutations are counted from the services' own API logs in the state dir (apilog.ts), filtered on kadd's
 * Keystone user. Skips when the cloud is not up (start it with `sudo bash test/e2e/openstack/start.sh`).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { ApiLog, isMutating, summarize, USERLESS, type LoggedRequest } from './apilog.js';
import { e2eEnv, pollUntil, type Session } from './helpers.js';
import {
  NovaBridge, describeLeftovers, e2eClusterNames, leftovers, purge, runKadd, setUpE2e, show, startKadd, tearDownE2e, waitNothingLeft,
  type E2eSetUp, type KaddRun,
} from './kadd-helpers.js';
import type { Sim } from '../../sim/index.js';
import { kubeSim } from '../../helpers/kadd-sim.js';

const STATE = process.env.KADD_E2E_STATE ?? process.env.KADD_OS_STATE ?? '/var/tmp/kadd-openstack';
const POLL_MS = 1000;

describe('e2e: kadd CLI against the real OpenStack (Kubernetes side simulated)', function () {
  this.timeout(300_000);
  const env = e2eEnv();
  const { cluster, names } = e2eClusterNames('e2e');
  let setUp: E2eSetUp | undefined;
  let user: Session;
  let admin: Session;
  let sim: Sim;
  let bridge: NovaBridge | undefined;
  let dir = '';
  let cfg = '';
  let childEnv: NodeJS.ProcessEnv;
  const apiLog = ApiLog.forState(STATE);
  const extraNetworks: (typeof names)[] = [];

  /** kadd's own requests since mark(): lines with kadd's user id, plus Keystone's and Octavia's (whose logs name no user) */
  async function kaddRequests(): Promise<LoggedRequest[]> {
    return (await apiLog.since()).filter((r) => r.user === user.userId || (USERLESS.has(r.service) && !r.user));
  }

  function kadd(args: string[], timeoutMs?: number): Promise<KaddRun> {
    return runKadd(args, childEnv, dir, timeoutMs);
  }

  before(async function () {
    if (!apiLog.available()) {
      console.log(`      skipped: the services' API logs are not in ${STATE}/log (needed to count requests)`);
      this.skip();
    }
    // no bridge yet: the first tests create nothing (the add test starts one)
    const r = await setUpE2e({ cluster, names, seed: 6, cidr: '10.78.0.0/24', nodes: 0, tmpPrefix: 'kadd-e2e-cli-' });
    if ('skip' in r) {
      console.log(`      skipped: ${r.skip}`);
      this.skip();
    }
    setUp = r;
    ({ user, admin, sim, dir, cfg, childEnv } = r);
  });

  after(async function () {
    await tearDownE2e(setUp ? { ...setUp, bridge } : undefined, cluster, [names, ...extraNetworks]);
  });

  it('kadd validate makes no request at all', async function () {
    apiLog.mark();
    const r = await kadd(['validate', cfg]);
    assert.equal(r.code, 0, show(r));
    const reqs = await apiLog.since();
    assert.deepEqual(reqs, [], `validate talked to OpenStack: ${summarize(reqs)}`);
  });

  it('add --dry-run: real lookups and limits, network "create" planned, no mutating request, nothing created', async function () {
    apiLog.mark();
    const r = await kadd(['add', '--dry-run', '--amount', '3', '--format', 'json', cfg]);
    assert.equal(r.code, 0, show(r));
    const plan = JSON.parse(r.stdout);
    assert.deepEqual(plan.blockers, []);
    assert.equal(plan.image.name, env.image);
    assert.equal(plan.keypair, env.keypair);
    assert.deepEqual(plan.nodes.map((n: any) => [n.name, n.zone, n.flavor]), [1, 2, 3].map((i) => [`${cluster}-node-${i}`, env.az, env.flavor]));
    assert.equal(plan.network.action, 'create');
    assert.deepEqual([plan.subnet.cidr, plan.subnet.action], ['10.78.0.0/24', 'create']);
    assert.equal(plan.router.action, 'create');
    assert.equal(plan.securityGroup.action, 'create');
    assert.equal(plan.apiEndpoint, new URL(sim.baseUrl).host, 'the join endpoint is the kubeconfig server');

    // quota rows are the real limits
    const nova = (await user.req('GET', 'compute', '/limits')).body.limits.absolute;
    const cinder = (await user.req('GET', 'volumev3', '/limits')).body.limits.absolute;
    const row = (k: string) => plan.quota.find((q: any) => q.resource === k);
    assert.deepEqual(row('instances'), { resource: 'instances', need: 3, free: nova.maxTotalInstances - nova.totalInstancesUsed, ok: true });
    assert.equal(row('cores').free, nova.maxTotalCores - nova.totalCoresUsed);
    assert.equal(row('ram (MiB)').free, nova.maxTotalRAMSize - nova.totalRAMUsed);
    assert.deepEqual(row('volumes'), { resource: 'volumes', need: 3, free: cinder.maxTotalVolumes - cinder.totalVolumesUsed, ok: true });
    assert.deepEqual(row('gigabytes'), { resource: 'gigabytes', need: 3, free: cinder.maxTotalVolumeGigabytes - cinder.totalGigabytesUsed, ok: true });
    assert.ok(row('ports'), JSON.stringify(plan.quota));

    const reqs = await kaddRequests();
    const mut = reqs.filter(isMutating);
    assert.deepEqual(mut, [], `--dry-run mutated: ${summarize(mut)}`);
    const seen = (svc: string, re: RegExp) => reqs.some((x) => x.service === svc && x.method === 'GET' && re.test(x.path));
    assert.ok(seen('compute', /^\/v2\.1\/flavors\/detail/), summarize(reqs));
    assert.ok(seen('compute', new RegExp(`^/v2\\.1/os-keypairs/${env.keypair}$`)), summarize(reqs));
    assert.ok(seen('compute', /^\/v2\.1\/os-availability-zone/), summarize(reqs));
    assert.ok(seen('compute', /^\/v2\.1\/limits/), 'Nova limits read');
    assert.ok(seen('volume', /^\/v3\/[0-9a-f]+\/limits/), 'Cinder limits read');
    assert.ok(seen('image', /^\/v2\/images/), 'image looked up');
    assert.ok(seen('network', /^\/v2\.0\/quotas\/[0-9a-f]+\/details/), 'Neutron quota read');
    assert.ok(seen('network', new RegExp(`^/v2\\.0/networks\\?.*name=${names.network}`)), 'network looked up');
    // the kubeconfig's API host is the cluster file's floating IP: that proves ownership, so the worker preflight
    // no longer asks Octavia (issue 14: one request fewer); the master path still reads the pool
    assert.ok(!seen('load-balancer', /^\/v2\/lbaas\/loadbalancers/), `Octavia not needed for workers; ${summarize(reqs)}`);
    const l = await leftovers(user, cluster);
    assert.equal(describeLeftovers(l), 'nothing');
  });

  it('add with the Nova instance quota set too low (admin API): exit 2, no mutating request, nothing created', async function () {
    const qpath = `/os-quota-sets/${user.projectId}`;
    const before = (await admin.req('GET', 'compute', qpath)).body.quota_set.instances as number;
    const used = (await user.req('GET', 'compute', '/limits')).body.limits.absolute.totalInstancesUsed as number;
    await admin.req('PUT', 'compute', qpath, { quota_set: { instances: used + 2 } });
    try {
      apiLog.mark();
      const r = await kadd(['add', '--amount', '3', cfg]);
      assert.equal(r.code, 2, show(r));
      assert.match(r.stderr, /quota: instances needs 3, only 2 free/, show(r));
      assert.match(r.stderr, /nothing was created/, show(r));
      const mut = (await kaddRequests()).filter(isMutating);
      assert.deepEqual(mut, [], `a refused add mutated: ${summarize(mut)}`);
    } finally {
      await admin.req('PUT', 'compute', qpath, { quota_set: { instances: before } });
    }
    assert.equal((await admin.req('GET', 'compute', qpath)).body.quota_set.instances, before, 'quota restored');
    assert.equal(describeLeftovers(await leftovers(user, cluster)), 'nothing');
  });

  describe('add --role node --amount 3, end to end', function () {
    let run: KaddRun;
    let reqs: LoggedRequest[] = [];
    // server_group: a soft-anti-affinity group made through the API (the fake driver is one compute host:
    // a hard anti-affinity group could hold one member only)
    const groupName = `${cluster}-workers`;
    let groupId = '';
    let cfgText = '';

    before(async function () {
      groupId = (await user.req('POST', 'compute', '/os-server-groups', { server_group: { name: groupName, policy: 'soft-anti-affinity' } }, [200])).body.server_group.id;
      cfgText = readFileSync(cfg, 'utf8');
      writeFileSync(cfg, `${cfgText}server_group: ${groupName}\n`);
      bridge = new NovaBridge(admin, sim.core.events, `${cluster}-node-`);
      bridge.start();
      apiLog.mark();
      run = await kadd(['add', '--role', 'node', '--amount', '3', '--poll-interval', String(POLL_MS), '--boot-timeout', '180', '--timeout', '120', cfg]);
      reqs = await kaddRequests();
    });

    it('exits 0 with three Nodes joined and Ready in the (simulated) cluster', function () {
      const simConsole = () => (bridge?.emitted ?? []).map((e) => `${e.name}: ${(sim.core.consoleAppends?.get(e.id) ?? []).map((x: any) => x.text).join('').slice(-600)}`).join('\n');
      assert.equal(run.code, 0, show(run) + `\nbridge: ${bridge?.lastError ?? 'ok'}, emitted ${bridge?.emitted.map((e) => e.name)}\nsim kubelet consoles:\n${simConsole()}`);
      const nodes = kubeSim(sim).nodes();
      for (let i = 1; i <= 3; i++) {
        const n = nodes.find((x) => x.metadata.name === `${cluster}-node-${i}`);
        assert.ok(n, `Node ${cluster}-node-${i} registered: ${nodes.map((x) => x.metadata.name)}`);
        assert.equal((n.status.conditions as { type: string; status: string }[]).find((c) => c.type === 'Ready')?.status, 'True');
        assert.equal(n.metadata.labels['kadd.io/cluster'], cluster);
      }
      assert.equal(bridge!.emitted.length, 3, 'the bridge saw three servers turn ACTIVE');
      for (const ev of bridge!.emitted) {
        assert.match(ev.userData ?? '', /JoinConfiguration|kubeadm join/, 'real Nova returned the user-data kadd sent');
        assert.ok(ev.userData!.includes(new URL(sim.baseUrl).host), 'user-data names the kubeconfig API endpoint');
      }
    });

    it('created the network, subnet, router and security group (fresh names)', function () {
      for (const what of [`network [${names.network}] created`, `subnet [${names.subnet}] created`, `router [${names.router}] created`, `security group [${names.securityGroup}] created`]) {
        assert.ok(run.stderr.includes(what), `stderr lacks "${what}"\n${run.stderr}`);
      }
    });

    it('booted each server from a volume made from the image, on the network, in the AZ', async function () {
      const image = (await user.req('GET', 'image', `/images?name=${env.image}`)).body.images[0];
      for (let i = 1; i <= 3; i++) {
        const name = `${cluster}-node-${i}`;
        const [s] = (await user.req('GET', 'compute', `/servers/detail?name=${encodeURIComponent(`^${name}$`)}`)).body.servers;
        assert.ok(s, `server ${name}`);
        assert.equal(s.status, 'ACTIVE');
        assert.equal(s['OS-EXT-AZ:availability_zone'], env.az);
        assert.equal(s.image, '', 'boots from volume, not from an image');
        assert.equal(s.key_name, env.keypair);
        assert.ok(s.addresses[names.network]?.[0]?.addr.startsWith('10.78.0.'), JSON.stringify(s.addresses));
        assert.equal(s.metadata['kadd-cluster'], cluster);
        const att = s['os-extended-volumes:volumes_attached'];
        assert.equal(att.length, 1);
        assert.equal(att[0].delete_on_termination, true);
        const v = (await user.req('GET', 'volumev3', `/volumes/${att[0].id}`)).body.volume;
        assert.equal(v.name, `${name}-root`);
        assert.equal(v.bootable, 'true');
        assert.equal(v.availability_zone, env.az);
        assert.equal(v.volume_image_metadata?.image_id, image.id, 'volume made from the image');
        assert.equal(v.status, 'in-use');
        const ports = (await user.req('GET', 'network', `/ports?name=${name}-port-0`)).body.ports;
        assert.equal(ports.length, 1);
        assert.equal(ports[0].device_id, s.id);
      }
    });

    it('put the three servers in the server_group (GET /os-server-groups/{id} lists them as members)', async function () {
      const g = (await user.req('GET', 'compute', `/os-server-groups/${groupId}`)).body.server_group;
      assert.equal(g.policy, 'soft-anti-affinity');
      const ids: string[] = [];
      for (let i = 1; i <= 3; i++) {
        const [srv] = (await user.req('GET', 'compute', `/servers/detail?name=${encodeURIComponent(`^${cluster}-node-${i}$`)}`)).body.servers;
        ids.push(srv.id);
        assert.deepEqual((await user.req('GET', 'compute', `/servers/${srv.id}`)).body.server.server_groups, [groupId], 'server_groups (2.71+) of the server');
      }
      assert.deepEqual([...g.members].sort(), ids.sort());
      const lookups = reqs.filter((r) => r.service === 'compute' && r.method === 'GET' && r.path.startsWith('/v2.1/os-server-groups'));
      assert.ok(lookups.length >= 1, `the preflight looked the group up: ${summarize(reqs)}`);
    });

    it('polled all pending servers with one list call per tick, never per server', function () {
      // the batch is covered by the role's name pattern ^<cluster>-node-[0-9]+$ (Nova on MySQL escapes "|",
      // so an alternation of the pending names would match nothing); the first such call is the preflight's
      const polls = reqs.filter((r) => r.service === 'compute' && r.method === 'GET' && /^\/v2\.1\/servers\/detail\?.*name=%5E[^&]*-node-%5B0-9%5D%2B%24/i.test(r.path));
      const perServer = reqs.filter((r) => r.service === 'compute' && r.method === 'GET' && /^\/v2\.1\/servers\/[0-9a-f-]{36}$/.test(r.path));
      assert.ok(polls.length >= 1, `no batched server poll seen: ${summarize(reqs)}`);
      assert.deepEqual(perServer.map((r) => r.path), [], 'GET /servers/{id} while waiting for ACTIVE');
      const times = polls.map((p) => p.time!).sort((a, b) => a - b);
      const gaps = times.slice(1).map((t, i) => t - times[i]!);
      // jitter is +-20% of the interval: two polls closer than half an interval are two polls in one tick
      assert.ok(gaps.every((g) => g >= POLL_MS / 2), `server polls closer than one tick: gaps ${gaps} ms`);
      // every poll's filter covers all three servers of the batch at once
      for (const p of polls) {
        const q = new URLSearchParams(p.path.split('?')[1]).get('name')!;
        for (let i = 1; i <= 3; i++) assert.match(`${cluster}-node-${i}`, new RegExp(q), `poll ${q} does not cover node ${i}`);
      }
      const volPolls = reqs.filter((r) => r.service === 'volume' && r.method === 'GET' && /\/volumes\/detail\?.*metadata=/.test(r.path));
      const vt = volPolls.map((p) => p.time!).sort((a, b) => a - b);
      const vgaps = vt.slice(1).map((t, i) => t - vt[i]!);
      assert.ok(vgaps.every((g) => g >= POLL_MS / 2), `volume polls closer than one tick: gaps ${vgaps} ms`);
      const creates = (re: RegExp, svc: string) => reqs.filter((r) => r.service === svc && r.method === 'POST' && re.test(r.path)).length;
      assert.equal(creates(/^\/v2\.1\/servers$/, 'compute'), 3);
      assert.equal(creates(/^\/v3\/[0-9a-f]+\/volumes$/, 'volume'), 3);
      assert.equal(creates(/^\/v2\.0\/ports$/, 'network'), 3);
      console.log(`      ${polls.length} server polls, ${volPolls.length} volume polls in ${run.ms} ms; kadd made ${reqs.length} requests`);
    });

    it('wrote cfg.updated.yml with n-nodes 0 -> 3 and left cfg.yml alone', function () {
      const updated = join(dir, 'cfg.updated.yml');
      assert.ok(existsSync(updated), run.stderr);
      assert.equal((load(readFileSync(updated, 'utf8')) as any)['n-nodes'], 3);
      assert.equal((load(readFileSync(cfg, 'utf8')) as any)['n-nodes'], 0);
    });

    it('a second --dry-run on the stale file is refused (issue 12 pt 5); with --accept-drift it says the network, subnet, router and security group exist', async function () {
      const stale = await kadd(['add', '--dry-run', '--amount', '1', '--format', 'json', cfg]);
      assert.equal(stale.code, 2, show(stale));
      assert.match(stale.stderr, /says n-nodes: 0, the cluster has 3 workers: the cluster file is stale/, show(stale));
      const r = await kadd(['add', '--dry-run', '--accept-drift', '--amount', '1', '--format', 'json', cfg]);
      assert.equal(r.code, 0, show(r));
      const plan = JSON.parse(r.stdout);
      for (const k of ['network', 'subnet', 'router', 'securityGroup']) assert.equal(plan[k].action, 'exists', JSON.stringify(plan[k]));
      assert.equal(plan.nodes[0].name, `${cluster}-node-4`, 'numbering continues after the existing servers');
      assert.deepEqual(plan.serverGroup, { name: groupName, id: groupId, policy: 'soft-anti-affinity', members: 3 });
    });

    it('cleaning up by name (servers, then volumes and ports) leaves nothing', async function () {
      await purge(user, `${cluster}-node-`);
      const l = await waitNothingLeft(user, `${cluster}-node-`);
      assert.equal(describeLeftovers(l), 'nothing');
      rmSync(join(dir, 'cfg.updated.yml'), { force: true });
      // deleted servers leave the group
      assert.deepEqual((await user.req('GET', 'compute', `/os-server-groups/${groupId}`)).body.server_group.members, []);
    });

    after(async function () {
      if (cfgText) writeFileSync(cfg, cfgText);
      if (groupId && user) await user.req('DELETE', 'compute', `/os-server-groups/${groupId}`, undefined, [204, 404]);
    });
  });

  it('server_group that does not exist: exit 2 at preflight with how to create it, no mutating request', async function () {
    const cfg3 = join(dir, 'cfg-nogroup.yml');
    writeFileSync(cfg3, `${readFileSync(cfg, 'utf8')}server_group: ${cluster}-no-such-group\n`);
    apiLog.mark();
    const r = await kadd(['add', '--amount', '1', cfg3]);
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, new RegExp(`server group ${cluster}-no-such-group \\(server_group\\) not found; create it with \`openstack server group create --policy anti-affinity ${cluster}-no-such-group\``), show(r));
    const mut = (await kaddRequests()).filter(isMutating);
    assert.deepEqual(mut, [], `a refused add mutated: ${summarize(mut)}`);
  });


  describe('failure paths on the real cloud', function () {
    it('a server forced to ERROR (flavor too big): fault on stderr, retried once, volume and port cleaned up', async function () {
      apiLog.mark();
      const r = await kadd(['add', '--amount', '1', '--flavor', env.flavorTooBig, '--poll-interval', String(POLL_MS), '--boot-timeout', '120', cfg]);
      assert.equal(r.code, 1, show(r));
      assert.match(r.stderr, /No valid host was found/, show(r));
      assert.match(r.stderr, /0 of 1 nodes added/, show(r));
      for (const what of [`network [${names.network}] already exists, skipping`, `subnet [${names.subnet}] already exists, skipping`, `router [${names.router}] already exists, skipping`]) {
        assert.ok(r.stderr.includes(what), `stderr lacks "${what}"`);
      }
      const reqs = await kaddRequests();
      assert.equal(reqs.filter((x) => x.service === 'compute' && x.method === 'POST' && x.path === '/v2.1/servers').length, 2, `one retry: ${summarize(reqs)}`);
      const l = await waitNothingLeft(user, cluster);
      assert.equal(describeLeftovers(l), 'nothing', 'servers, volumes and ports after the ERROR path');
      assert.ok(!existsSync(join(dir, 'cfg.updated.yml')), 'no cfg.updated.yml when nothing was added');
    });

    it('Ctrl-C after the first server exists: exit 130, nothing left behind', async function () {
      const { child, done, stderrSoFar } = startKadd(['add', '--amount', '2', '--poll-interval', String(POLL_MS), cfg], childEnv, dir);
      let sent = false;
      try {
        await pollUntil('first server created', async () => {
          if (child.exitCode !== null) throw new Error(`kadd ended before a server existed:\n${stderrSoFar()}`);
          const s = (await admin.req('GET', 'compute', `/servers?all_tenants=1&name=${encodeURIComponent(`^${cluster}-node-`)}`)).body.servers;
          return s.length > 0 ? true : undefined;
        }, 120_000, 200);
        child.kill('SIGINT');
        sent = true;
      } finally {
        if (!sent) child.kill('SIGKILL');
      }
      const r = await done;
      assert.equal(r.code, 130, show(r));
      assert.match(r.stderr, /interrupted/i, show(r));
      const l = await waitNothingLeft(user, cluster);
      assert.equal(describeLeftovers(l), 'nothing', `after Ctrl-C\n${r.stderr}`);
    });

    it('a failed run that created the network does not block the next run (the network is kept on purpose)', async function () {
      // second cluster file: same cluster, fresh network names, so the failing run creates them
      const cfg2 = join(dir, 'cfg2.yml');
      const n2 = { network: `${cluster}-net2`, subnet: `${cluster}-subnet2`, router: `${cluster}-rt2`, securityGroup: `${cluster}-sg2` };
      extraNetworks.push(n2);
      writeFileSync(cfg2, readFileSync(cfg, 'utf8').replace(names.network, n2.network).replace(names.subnet, n2.subnet).replace(names.router, n2.router).replace(names.securityGroup, n2.securityGroup).replace('10.78.0.0/24', '10.79.0.0/24'));
      const r1 = await kadd(['add', '--amount', '1', '--flavor', env.flavorTooBig, '--poll-interval', String(POLL_MS), '--boot-timeout', '120', cfg2]);
      assert.equal(r1.code, 1, show(r1));
      assert.ok(r1.stderr.includes(`network [${n2.network}] created`), show(r1));
      assert.equal(describeLeftovers(await waitNothingLeft(user, cluster)), 'nothing');
      // the next run must get to the preflight (here: an unknown flavor), not stop at "an earlier run did not finish"
      const r2 = await kadd(['add', '--amount', '1', '--flavor', 'no-such-flavor', cfg2]);
      assert.equal(r2.code, 2, show(r2));
      assert.doesNotMatch(r2.stderr, /did not finish/, `the kept network is taken for a leftover:\n${r2.stderr}`);
      assert.match(r2.stderr, /flavor no-such-flavor not found/, show(r2));
    });
  });
});
