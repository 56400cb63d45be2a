/**
 * npm run bench:cloud [-- --json] [--rounds R] [--sizes 1,3,10] [--no-build] [--dev] [--timeline N] [--kadd PATH] [--compare PATH]
 *
 * `kadd add --no-wait --amount N` against the running e2e OpenStack (test/e2e/openstack, Debian Zed on
 * loopback), the Kubernetes side from the simulator, N = 1, 3, 10, R interleaved rounds (default 3), every
 * resource deleted between runs. Per round, before the kadd runs, a referee drives ONE node's chain on the
 * same cloud with plain fetch and tight polls (port and boot volume created at once, volume available,
 * server created, ACTIVE): the cloud's own critical path for a node. kadd's overhead is wall - that path.
 *
 * Per N: median wall seconds, the median critical path of the same rounds, kadd's requests (its own
 * counters through KADD_STATS_FILE, Keystone included; cross-checked against the services' API logs), and
 * the requests by service. Summary: n1OverheadRatio = wall(1) / criticalPath, marginalSecondsPerNode =
 * (wall(max N) - wall(1)) / (max N - 1), requestsByN = N -> median requests.
 *
 * kadd runs from dist/ (built first unless --no-build), as an installed kadd would; --dev runs the sources
 * through tsx instead (slower start). Without a running cloud it prints why and exits 0 (--json: {"skipped"}).
 * The referee uses the same project and user as kadd; the API-log cross-check only counts kadd's run window.
 * --kadd PATH: the bin/kadd.js to measure (default this checkout's), e.g. a copy of an earlier build for a
 * before/after comparison on the same cloud.
 * --compare PATH: also measure that bin/kadd.js in the same rounds (interleaved with this one); its figures go
 * under "compare" in the JSON, same keys.
 * --timeline N: instead of measuring, one `kadd --debug add --no-wait --amount N` after the warm-up, its stderr
 * (request trace, secrets redacted) printed with milliseconds since the start: where the time goes.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from './bench/util.js';
import { ApiLog, USERLESS } from '../test/e2e/openstack/apilog.js';
import { Session, cloudUnavailable, e2eEnv, pollUntil, readCloud } from '../test/e2e/openstack/helpers.js';
import { spawn } from 'node:child_process';
import { kaddEnv, leftovers, purge, purgeNetwork, describeLeftovers, show, type KaddRun } from '../test/e2e/openstack/kadd-helpers.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
const opt = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
let rounds = Number(opt('--rounds') ?? 3);
const sizes = (opt('--sizes') ?? '1,3,10').split(',').map(Number);
const dev = args.includes('--dev');
const kaddBin = opt('--kadd') ?? join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'kadd.js');
const compareBin = opt('--compare');
const timeline = opt('--timeline') === undefined ? undefined : Number(opt('--timeline'));
const log = (m: string) => process.stderr.write(`${m}\n`);
if (!Number.isInteger(rounds) || rounds < 1) {
  log('error: --rounds needs a whole number >= 1');
  process.exit(2);
}
if (!sizes.length || sizes.some((n) => !Number.isInteger(n) || n < 1 || n > 18) || !sizes.includes(1)) {
  log('error: --sizes is a comma-separated list of whole numbers from 1 to 18 and must include 1 (the e2e project allows 20 instances)');
  process.exit(2);
}
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const STATE = process.env.KADD_E2E_STATE ?? process.env.KADD_OS_STATE ?? '/var/tmp/kadd-openstack';
const env = e2eEnv();

const why = await cloudUnavailable(env);
if (why) {
  log(`bench:cloud skipped: ${why}`);
  if (json) process.stdout.write(JSON.stringify({ skipped: why }) + '\n');
  process.exit(0);
}

if (!dev && !args.includes('--no-build')) {
  log('building (tsc -p tsconfig.build.json)...');
  const r = spawnSync(join(root, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.build.json'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) log('warning: the build reported errors; measuring whatever dist/ holds');
}

const user = await Session.password(readCloud(env.clouds, env.cloud));
const apiLog = ApiLog.forState(STATE);
const cluster = `bench${Date.now().toString(36).slice(-6)}`;
const names = { network: `${cluster}-net`, subnet: `${cluster}-subnet`, router: `${cluster}-rt`, securityGroup: `${cluster}-sg` };
const { startSim } = await import('../test/sim/index.js');
const sim = await startSim({
  requireKube: true,
  scenario: { seed: 14, cluster: { name: cluster, masters: 1, nodes: 0, k8sVersion: '1.30.2' } },
});
const dir = mkdtempSync(join(tmpdir(), 'kadd-bench-cloud-'));
writeFileSync(
  join(dir, 'kubeconfig'),
  `apiVersion: v1\nkind: Config\nclusters:\n- name: sim\n  cluster:\n    server: ${sim.baseUrl}\nusers:\n- name: admin\n  user:\n    token: sim-admin-token\ncontexts:\n- name: sim\n  context:\n    cluster: sim\n    user: admin\ncurrent-context: sim\n`,
);
const cfg = join(dir, 'cfg.yml');
// as kadd.e2e.test.ts: loadbalancer.floatingip = the kubeconfig's host proves the cluster is this project's
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
const statsFile = join(dir, 'stats.json');
const childEnv = kaddEnv({ OS_CLIENT_CONFIG_FILE: env.clouds, OS_CLOUD: env.cloud, KUBECONFIG: join(dir, 'kubeconfig'), HOME: dir, KADD_STATS_FILE: statsFile });
if (!dev) childEnv.KADD_DEV = '0';

function startKadd(argv: string[], onStderr?: (d: Buffer) => void, bin = kaddBin): { child: ReturnType<typeof spawn>; done: Promise<KaddRun> } {
  const t0 = performance.now();
  const child = spawn(process.execPath, [bin, ...argv], { cwd: dir, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d;
    onStderr?.(d);
  });
  const done = new Promise<KaddRun>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, ms: performance.now() - t0 }));
  });
  return { child, done };
}

async function runKadd(argv: string[], bin = kaddBin): Promise<KaddRun> {
  const { child, done } = startKadd(argv, undefined, bin);
  const timer = setTimeout(() => child.kill('SIGKILL'), 600_000);
  try {
    return await done;
  } finally {
    clearTimeout(timer);
  }
}

interface KaddSample { bin: string; n: number; round: number; wallSeconds: number; requests: number; requestsLogged: number; byService: Record<string, number> }
const samples: KaddSample[] = [];
const chains: { round: number; seconds: number; parts: Record<string, number> }[] = [];

async function kaddAdd(n: number, round: number, bin: string): Promise<KaddSample> {
  rmSync(statsFile, { force: true });
  apiLog.mark();
  const r = await runKadd(['add', '--no-wait', '--amount', String(n), '--yes', cfg], bin);
  if (r.code !== 0) throw new Error(`${bin} add --amount ${n} failed: ${show(r)}`);
  const stats = JSON.parse(readFileSync(statsFile, 'utf8')) as { total: number; requests: Record<string, number> };
  // Keystone's access log names no user and also holds the services' own token validations (GET
  // /v3/auth/tokens by nova, neutron, ...): only kadd's token POSTs are kadd's
  const logged = (await apiLog.since()).filter((x) => x.service === 'identity'
    ? x.method === 'POST' && x.path.startsWith('/v3/auth/tokens')
    : x.user === user.userId || (USERLESS.has(x.service) && !x.user));
  const byService: Record<string, number> = {};
  for (const [k, v] of Object.entries(stats.requests)) {
    const svc = k.split(' ')[0]!;
    byService[svc] = (byService[svc] ?? 0) + v;
  }
  return { bin, n, round, wallSeconds: r.ms / 1000, requests: stats.total, requestsLogged: logged.length, byService };
}

/** Network, subnet and security group ids (made by kadd's warm-up run). */
async function netIds(): Promise<{ network: string; subnet: string; sg: string; image: string; flavor: string }> {
  const one = async (type: string, path: string, key: string) => {
    const items = (await user.req('GET', type, path)).body[key] as { id: string }[];
    if (items.length !== 1) throw new Error(`expected one ${key} at ${path}, got ${items.length}`);
    return items[0]!.id;
  };
  const [network, subnet, sg, image, flavors] = await Promise.all([
    one('network', `/networks?name=${names.network}`, 'networks'),
    one('network', `/subnets?name=${names.subnet}`, 'subnets'),
    one('network', `/security-groups?name=${names.securityGroup}&project_id=${user.projectId}`, 'security_groups'),
    one('image', `/images?name=${env.image}`, 'images'),
    user.req('GET', 'compute', '/flavors').then((r) => r.body.flavors as { id: string; name: string }[]),
  ]);
  const flavor = flavors.find((f) => f.name === env.flavor)?.id;
  if (!flavor) throw new Error(`flavor ${env.flavor} not found`);
  return { network, subnet, sg, image, flavor };
}

/**
 * The cloud's critical path for one node, as fast as a client can drive it: port and volume POSTed at once,
 * the volume polled every 100 ms until available, the server POSTed, polled every 100 ms until ACTIVE.
 */
async function referee(ids: Awaited<ReturnType<typeof netIds>>, round: number): Promise<number> {
  const name = `${cluster}-ref-${round}`;
  const poll = async <T>(what: string, fn: () => Promise<T | undefined>) => pollUntil(what, fn, 180_000, 100);
  const t0 = performance.now();
  const [port, volume] = await Promise.all([
    user.req('POST', 'network', '/ports', { port: { name: `${name}-port`, network_id: ids.network, fixed_ips: [{ subnet_id: ids.subnet }], security_groups: [ids.sg] } }).then((r) => {
      parts.port = performance.now() - t0;
      return r.body.port as { id: string };
    }),
    user.req('POST', 'volumev3', '/volumes', { volume: { name: `${name}-root`, size: 1, imageRef: ids.image, availability_zone: env.az } }).then(async (r) => {
      parts.volumePost = performance.now() - t0;
      const v = r.body.volume as { id: string };
      await poll('referee volume available', async () => {
        const s = (await user.req('GET', 'volumev3', `/volumes/${v.id}`)).body.volume.status as string;
        if (s === 'error') throw new Error('referee volume went to error');
        return s === 'available' ? true : undefined;
      });
      parts.volumeAvailable = performance.now() - t0;
      return v;
    }),
  ]);
  const srv = (await user.req('POST', 'compute', '/servers', {
    server: {
      name, flavorRef: ids.flavor, availability_zone: env.az, key_name: env.keypair, networks: [{ port: port.id }],
      block_device_mapping_v2: [{ boot_index: 0, uuid: volume.id, source_type: 'volume', destination_type: 'volume', delete_on_termination: true }],
    },
  })).body.server as { id: string };
  parts.serverPost = performance.now() - t0;
  await poll('referee server ACTIVE', async () => {
    const s = (await user.req('GET', 'compute', `/servers/${srv.id}`)).body.server.status as string;
    if (s === 'ERROR') throw new Error('referee server went to ERROR');
    return s === 'ACTIVE' ? true : undefined;
  });
  const ms = performance.now() - t0;
  parts.active = ms;
  return ms / 1000;
}
let parts: Record<string, number> = {};

async function clean(): Promise<void> {
  await purge(user, cluster);
  const l = await leftovers(user, cluster);
  if (l.servers.length + l.volumes.length + l.ports.length) throw new Error(`could not clean up between runs: ${describeLeftovers(l)}`);
}

let failed = false;
try {
  log(`bench:cloud: cluster ${cluster}, sizes ${sizes.join(',')}, ${rounds} round(s), ${kaddBin} from ${dev ? 'sources (tsx)' : 'dist/'}`);
  // warm-up (not measured): creates the cluster network, fills the page cache
  const w = await runKadd(['add', '--no-wait', '--amount', '1', '--yes', cfg]);
  if (w.code !== 0) throw new Error(`warm-up kadd add failed: ${show(w)}`);
  await clean();
  if (timeline !== undefined) {
    const t0 = performance.now();
    let buf = '';
    const { done } = startKadd(['--debug', 'add', '--no-wait', '--amount', String(timeline), '--yes', cfg], (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const l of lines) log(`${String(Math.round(performance.now() - t0)).padStart(6)} ${l.slice(0, 220)}`);
    });
    const r = await done;
    log(`exit ${r.code} after ${r.ms} ms`);
    rounds = 0;
  }
  const ids = await netIds();
  for (let round = 1; round <= rounds; round++) {
    parts = {};
    const seconds = await referee(ids, round);
    chains.push({ round, seconds, parts: Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, Math.round(v) / 1000])) });
    log(`round ${round}: critical path ${seconds.toFixed(2)} s (${Object.entries(chains.at(-1)!.parts).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')})`);
    await clean();
    for (const n of sizes) for (const bin of compareBin ? (round % 2 ? [kaddBin, compareBin] : [compareBin, kaddBin]) : [kaddBin]) {
      const s = await kaddAdd(n, round, bin);
      samples.push(s);
      log(`round ${round}: ${bin === kaddBin ? '' : 'compare '}N=${n} wall ${s.wallSeconds.toFixed(2)} s, ${s.requests} requests (${s.requestsLogged} in the API logs): ${JSON.stringify(s.byService)}`);
      await clean();
    }
  }
} catch (e) {
  failed = true;
  log(`error: ${(e as Error).message}`);
} finally {
  await purge(user, cluster).catch(() => undefined);
  await purgeNetwork(user, names).catch(() => undefined);
  await sim.stop();
  rmSync(dir, { recursive: true, force: true });
}
if (timeline !== undefined) process.exit(failed ? 1 : 0);
if (failed || samples.length === 0) process.exit(1);

const critical = median(chains.map((c) => c.seconds));
const r3 = (x: number) => Math.round(x * 1000) / 1000;
function figures(bin: string) {
const runs = sizes.map((n) => {
  const mine = samples.filter((s) => s.n === n && s.bin === bin);
  const byService: Record<string, number> = {};
  for (const svc of new Set(mine.flatMap((s) => Object.keys(s.byService)))) byService[svc] = median(mine.map((s) => s.byService[svc] ?? 0));
  return {
    n,
    wallSeconds: r3(median(mine.map((s) => s.wallSeconds))),
    criticalPathSeconds: r3(critical),
    overheadSeconds: r3(median(mine.map((s) => s.wallSeconds)) - critical),
    requests: median(mine.map((s) => s.requests)),
    requestsLogged: median(mine.map((s) => s.requestsLogged)),
    requestsBudget: 12 + 4 * n,
    requestsByService: byService,
    samples: mine.map((s) => r3(s.wallSeconds)),
  };
});
const one = runs.find((r) => r.n === 1)!;
const big = runs.reduce((a, b) => (b.n > a.n ? b : a));
return {
  runs,
  criticalPath: { seconds: r3(critical), samples: chains.map((c) => ({ seconds: r3(c.seconds), ...c.parts })) },
  n1OverheadRatio: r3(one.wallSeconds / critical),
  marginalSecondsPerNode: big.n > 1 ? r3((big.wallSeconds - one.wallSeconds) / (big.n - 1)) : null,
  requestsByN: Object.fromEntries(runs.map((r) => [String(r.n), r.requests])),
  rounds,
};
}
const summary: ReturnType<typeof figures> & { compare?: ReturnType<typeof figures> & { kadd: string } } = figures(kaddBin);
if (compareBin) summary.compare = { kadd: compareBin, ...figures(compareBin) };
for (const f of compareBin ? [summary, summary.compare!] : [summary]) {
const runs = f.runs;
log('');
if (compareBin) log(f === summary ? kaddBin : `compare: ${compareBin}`);
log('  N   wall s   critical s   overhead s   requests (budget 12+4N)');
for (const r of runs) log(`${String(r.n).padStart(3)}   ${r.wallSeconds.toFixed(2).padStart(6)}   ${r.criticalPathSeconds.toFixed(2).padStart(10)}   ${r.overheadSeconds.toFixed(2).padStart(10)}   ${String(r.requests).padStart(8)} (${r.requestsBudget})`);
log(`n1OverheadRatio ${f.n1OverheadRatio} (goal <= 1.3), marginalSecondsPerNode ${f.marginalSecondsPerNode} (goal <= 2.8)`);
}
if (json) process.stdout.write(JSON.stringify(summary) + '\n');
