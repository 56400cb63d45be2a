/**
 * npm run demo: kadd against the simulator, as a user would run it.
 *
 * Starts the simulator (fixtures/sim/cluster-1m1n.yml: cluster "demo", 1 master + 1 node, time sped up),
 * writes clouds.yaml, a kubeconfig and a commented cluster file into a temporary directory, then runs
 * `node bin/kadd.js ...` in that directory, printing each command line first:
 *   kadd validate cfg.yml; kadd add --dry-run cfg.yml; kadd add --role node --amount 2 cfg.yml;
 *   kadd add --role master cfg.yml twice (1 -> 2 -> 3 masters) with the etcd member table after each;
 *   kadd remove of one worker and one master (dry run first; the member table before and after)
 * and shows what changed in the cluster file. Cleans up the temp dir and the simulator at the end.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync, existsSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSim, type Sim } from '../test/sim/index.js';
import { clusterFile, kubeconfigFor, ROOT, BIN } from '../test/helpers/kadd-sim.js';

const out = (s: string) => process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
const bold = (s: string) => (process.stdout.isTTY && !process.env.NO_COLOR ? `\x1b[1m${s}\x1b[0m` : s);

interface DemoEnv {
  sim: Sim;
  dir: string;
  env: NodeJS.ProcessEnv;
  cfg: string;
}

/** Run `kadd ...args` in the demo dir as a child process (bin/kadd.js), streaming its output. */
function kadd(d: DemoEnv, args: string[]): Promise<number> {
  out(`\n${bold(`$ kadd ${args.join(' ')}`)}`);
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [BIN, ...args], { cwd: d.dir, env: d.env, stdio: ['ignore', 'inherit', 'inherit'] });
    p.on('error', reject);
    p.on('close', (code) => resolve(code ?? 1));
  });
}

/** true when dist/ is missing or older than a source file (then bin/kadd.js runs the sources through tsx) */
function distIsStale(): boolean {
  const built = join(ROOT, 'dist', 'lib', 'cli', 'main.js');
  if (!existsSync(built)) return true;
  const t = statSync(built).mtimeMs;
  const walk = (d: string): boolean =>
    readdirSync(d, { withFileTypes: true }).some((e) => (e.isDirectory() ? walk(join(d, e.name)) : e.name.endsWith('.ts') && statSync(join(d, e.name)).mtimeMs > t));
  return walk(join(ROOT, 'lib'));
}

/** A line diff of the cluster file and cfg.updated.yml (the files differ in a few lines). */
function showDiff(before: string, after: string): void {
  const a = before.split('\n');
  const b = after.split('\n');
  const n = Math.max(a.length, b.length);
  let changed = 0;
  for (let i = 0; i < n; i++) {
    if (a[i] === b[i]) continue;
    changed++;
    if (a[i] !== undefined) out(`  - ${a[i]}`);
    if (b[i] !== undefined) out(`  + ${b[i]}`);
  }
  if (!changed) out('  (no change)');
}

/**
 * The master steps: `kadd add --role master` twice (1 -> 2 -> 3 control-plane nodes), printing the etcd
 * member table after each step, read the way kadd reads it (a short-lived master-adder pod running
 * etcdctl through the exec API; lib/ops/master-etcd.ts readEtcdMembers).
 */
async function masterSteps(d: DemoEnv): Promise<number> {
  const [{ nullIo }, { realClock }, { loadKubeconfig }, { createKubeApi }, { loadClusterConfig }, { readEtcdMembers, formatMemberTable }] = await Promise.all([
    import('../lib/io.js'), import('../lib/clock.js'), import('../lib/kube/config.js'), import('../lib/kube/client.js'), import('../lib/config/load.js'), import('../lib/ops/master-etcd.js'),
  ]);
  // as an operator does after each change: the updated file becomes the cluster file
  const updated = join(d.dir, 'demo.updated.yml');
  if (existsSync(updated)) {
    out(`\n${bold('$ mv demo.updated.yml demo.yml')}`);
    renameSync(updated, d.cfg);
  }
  const kube = createKubeApi(await loadKubeconfig({ env: d.env, cwd: d.dir }), { io: nullIo });
  const { config } = await loadClusterConfig(d.cfg);
  const ctx = {
    io: nullIo, clock: realClock, env: d.env, cwd: d.dir, signal: new AbortController().signal,
    openstack: () => Promise.reject(new Error('not used')), kube: async () => kube,
  };
  const table = async (title: string) => {
    const t = await readEtcdMembers(ctx, kube, config, { pollIntervalMs: 100 });
    out(`\n${bold(title)} (read through a short-lived master-adder on ${t.nodeName}):`);
    out(formatMemberTable(t.rows).replace(/^/gm, '  '));
  };
  await table('etcd members before');
  for (const n of [2, 3]) {
    if (existsSync(updated)) {
      // kadd refuses a stale cluster file (n-masters would be counted wrong): the updated file becomes the cluster file
      out(`\n${bold('$ mv demo.updated.yml demo.yml')}`);
      renameSync(updated, d.cfg);
    }
    // 1 -> 2 masters reduces availability while the member starts: kadd asks, --yes answers (2 -> 3 asks nothing)
    const args = ['add', '--role', 'master', ...(n === 2 ? ['--yes'] : []), 'demo.yml'];
    const code = await kadd(d, args);
    if (code !== 0) {
      out(`\nkadd ${args.join(' ')} exited ${code}; the demo stops here`);
      return 1;
    }
    await table(`etcd members with ${n} masters`);
  }
  if (existsSync(updated)) {
    out(`\n${bold('demo.updated.yml')} (changes against demo.yml):`);
    showDiff(readFileSync(d.cfg, 'utf8'), readFileSync(updated, 'utf8'));
  }
  return 0;
}

/**
 * The remove steps: a dry run and the removal of one worker, then one master (kadd picks the newest of each),
 * with the etcd member table before and after (kadd remove prints both for a master).
 */
async function removeSteps(d: DemoEnv): Promise<number> {
  const updated = join(d.dir, 'demo.updated.yml');
  if (existsSync(updated)) {
    out(`\n${bold('$ mv demo.updated.yml demo.yml')}`);
    renameSync(updated, d.cfg);
  }
  const steps: [string[], number[]][] = [
    [['remove', '--dry-run', '--role', 'node', '--amount', '1', 'demo.yml'], [0]],
    [['remove', '--yes', '--role', 'node', '--amount', '1', 'demo.yml'], [0]],
    [['remove', '--dry-run', '--role', 'master', '--amount', '1', 'demo.yml'], [0]],
    [['remove', '--yes', '--role', 'master', '--amount', '1', 'demo.yml'], [0]],
  ];
  for (const [args, ok] of steps) {
    const before = readFileSync(d.cfg, 'utf8');
    const code = await kadd(d, args);
    if (!ok.includes(code)) {
      out(`\nkadd ${args.join(' ')} exited ${code}; the demo stops here`);
      return 1;
    }
    if (existsSync(updated) && !args.includes('--dry-run')) {
      out(`\n${bold('demo.updated.yml')} (changes against demo.yml):`);
      showDiff(before, readFileSync(updated, 'utf8'));
      out(`\n${bold('$ mv demo.updated.yml demo.yml')}`);
      renameSync(updated, d.cfg);
    }
  }
  return 0;
}

async function main(): Promise<number> {
  const t0 = Date.now();
  const sim = await startSim({ scenario: join(ROOT, 'fixtures', 'sim', 'cluster-1m1n.yml'), requireKube: true });
  const dir = mkdtempSync(join(tmpdir(), 'kadd-demo-'));
  try {
    writeFileSync(join(dir, 'clouds.yaml'), sim.cloudsYaml().text);
    writeFileSync(join(dir, 'kubeconfig'), kubeconfigFor(sim.baseUrl));
    const cfg = join(dir, 'demo.yml');
    const k8s = String(sim.core.scenario.cluster?.k8sVersion ?? '1.28.4');
    writeFileSync(cfg, clusterFile({ cluster: 'demo', masters: 1, nodes: 1, k8s, zones: ['nova', 'az2'] }));
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      OS_CLIENT_CONFIG_FILE: join(dir, 'clouds.yaml'),
      OS_CLOUD: 'sim',
      KUBECONFIG: join(dir, 'kubeconfig'),
    };
    delete env.NODE_OPTIONS;
    if (distIsStale()) env.KADD_DEV = '1';
    for (const k of Object.keys(env)) if (k.startsWith('OS_') && !['OS_CLIENT_CONFIG_FILE', 'OS_CLOUD'].includes(k)) delete env[k];
    const d: DemoEnv = { sim, dir, env, cfg };

    out(bold('kadd demo: a simulated OpenStack cloud with the Kubernetes cluster "demo" (1 master, 1 worker)'));
    out(`simulator at ${sim.baseUrl} (time runs ${Math.round(1 / (sim.core.timeScale || 1))}x faster); working directory ${dir}`);
    out(`files: clouds.yaml (cloud "sim"), kubeconfig, demo.yml:\n`);
    out(readFileSync(cfg, 'utf8').replace(/^/gm, '  '));

    const steps: [string[], number[]][] = [
      [['validate', 'demo.yml'], [0]],
      [['add', '--dry-run', 'demo.yml'], [0]],
      [['add', '--role', 'node', '--amount', '2', 'demo.yml'], [0]],
    ];
    for (const [args, ok] of steps) {
      const code = await kadd(d, args);
      if (!ok.includes(code)) {
        out(`\nkadd ${args.join(' ')} exited ${code}; the demo stops here`);
        return 1;
      }
    }
    const updated = join(dir, 'demo.updated.yml');
    if (!existsSync(updated)) {
      out('\nkadd did not write demo.updated.yml');
      return 1;
    }
    out(`\n${bold('demo.updated.yml')} (changes against demo.yml; comments and layout kept):`);
    showDiff(readFileSync(cfg, 'utf8'), readFileSync(updated, 'utf8'));
    const nodes = (sim.kube as unknown as { nodes(): { metadata: { name: string }; status?: { conditions?: { type: string; status: string }[] } }[] }).nodes();
    out(`\nNodes in the cluster now: ${nodes.map((n) => `${n.metadata.name}${n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? ' (Ready)' : ''}`).join(', ')}`);

    if ((await masterSteps(d)) !== 0) return 1;
    if ((await removeSteps(d)) !== 0) return 1;
    out(`\ndone in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return 0;
  } finally {
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

process.exitCode = await main();
