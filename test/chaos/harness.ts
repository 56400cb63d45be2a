/**
 * kill -9 chaos harness (issue 13, "Done when"): kadd runs as a child process (bin/kadd.js, KADD_DEV=1)
 * against the embedded simulator (test/helpers/kadd-sim.ts); the harness kills it with SIGKILL either right
 * after the k-th journal line of the run appeared (a journaled step boundary: intent, done, step, kept...)
 * or after a seeded random delay, runs the follow-up kadd itself names (`--resume`, `kadd cleanup`,
 * `add --role master --cleanup`), and checks the simulator's state:
 *
 *   0 orphans     servers without a Ready Node, volumes/ports of kadd's naming held by no live server,
 *                 kadd bootstrap tokens, master-adder Deployments, API pool members of no live server,
 *                 journal leftovers
 *   0 duplicates  server names, Node names
 *   no stale Node (a Node without its server), no learner or unstarted etcd member at the end,
 *   quorum never lost (etcd sampled every few ms during the killed run and the follow-up; the 1 -> 2 window,
 *   2 voters of which 1 started, is etcd's own and allowed), the cluster file's counts equal what exists.
 *
 * Every kill is named by its seed and kill point, so a failure reproduces: `npm run test:chaos -- --seed S`.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { FAST_FLAGS, startKaddSim, type KaddSim, type RunResult } from '../helpers/kadd-sim.js';
import { journalPath } from '../../lib/journal/journal.js';
import { findUnfinished } from '../../lib/journal/index.js';
import { mulberry32 } from '../sim/rng.js';

/** the seeded PRNG (mulberry32, the simulator's own) */
export const prng = mulberry32;

export type ScenarioName = 'add-workers' | 'add-master' | 'remove-worker' | 'remove-master' | 'replace-worker';

interface Scenario {
  name: ScenarioName;
  masters: number;
  nodes: number;
  /** the killed command */
  args: (h: KaddSim) => string[];
}

const REMOVE = ['--yes', '--poll-interval', '25', '--evict-retry', '200'];
const REPLACE = [...FAST_FLAGS, '--soak', '0', '--yes', '--drain-timeout', '30s'];

export function scenarios(r: () => number): Scenario[] {
  const startMasters = r() < 0.5 ? 1 : 2; // masters 1 -> 2, or 2 -> 3
  return [
    { name: 'add-workers', masters: 1, nodes: 1, args: (h) => ['add', ...FAST_FLAGS, '--amount', '2', h.cfgPath] },
    { name: 'add-master', masters: startMasters, nodes: 1, args: (h) => ['add', '--role', 'master', ...FAST_FLAGS, h.cfgPath] },
    { name: 'remove-worker', masters: 1, nodes: 3, args: (h) => ['remove', ...REMOVE, h.cfgPath, 'demo-node-3'] },
    { name: 'remove-master', masters: 3, nodes: 1, args: (h) => ['remove', ...REMOVE, h.cfgPath, 'demo-master-3'] },
    { name: 'replace-worker', masters: 1, nodes: 2, args: (h) => ['replace', h.cfgPath, 'demo-node-1', ...REPLACE] },
  ];
}

/** after the k-th journal line of the run, after the first journal line matching `re`, or `ms` after the k-th line (mid-step) */
export type KillPoint = { kind: 'journal'; line: number } | { kind: 'record'; re: RegExp } | { kind: 'random'; line: number; ms: number };

export interface KillResult {
  seed: number;
  scenario: ScenarioName;
  point: KillPoint;
  /** false: the command finished before the kill point (no kill happened) */
  killed: boolean;
  converged: boolean;
  orphans: string[];
  duplicates: string[];
  violations: string[];
  /** the follow-up commands run, with their exit codes */
  followUp: string[];
  /** journal lines the run had written when it was killed (or in total) */
  journalLines: number;
  ms: number;
}

const SCENARIO_OPTS = { scenario: { kube: { podStartup: 30, podTermination: 30 } } };

function journalLines(path: string): string[] {
  return existsSync(path) ? readFileSync(path, 'utf8').split('\n').slice(0, -1) : [];
}

function journalLineCount(path: string): number {
  if (!existsSync(path)) return 0;
  const text = readFileSync(path, 'utf8');
  let n = 0;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) n++;
  return n;
}

export function describePoint(p: KillPoint): string {
  return p.kind === 'journal' ? `after journal line ${p.line}` : p.kind === 'record' ? `after the journal record ${p.re}` : `${p.ms} ms after journal line ${p.line}`;
}

interface EtcdSample { voters: number; healthy: number }

function etcdSample(h: KaddSim): EtcdSample {
  const members = (h.sim.kube as any).etcd.members as { isLearner: boolean; started: boolean; up: boolean }[];
  const voters = members.filter((m) => !m.isLearner);
  return { voters: voters.length, healthy: voters.filter((m) => m.started && m.up).length };
}

/** Spawn the command and kill it at the point; resolves with whether it was killed. */
async function killAt(h: KaddSim, args: string[], point: KillPoint, maxMs: number): Promise<{ killed: boolean; lines: number; run: RunResult }> {
  const jpath = journalPath(h.cfgPath);
  const base = journalLineCount(jpath);
  const c = h.spawnKadd(args);
  let killed = false;
  let lines = 0;
  let lastSize = -1;
  const kill = () => {
    if (killed || c.proc.exitCode !== null) return;
    killed = c.proc.kill('SIGKILL');
  };
  // random moments count from a journal line of the run (after the process started and read the cloud),
  // so that the delay falls inside the operation, between two boundaries, on a loaded machine too
  let timer: NodeJS.Timeout | undefined;
  // poll the journal (its size first, cheap) every millisecond
  const watch = setInterval(() => {
      let size = 0;
      try {
        size = statSync(jpath).size;
      } catch {
        return;
      }
      if (size === lastSize) return;
      lastSize = size;
      const all = journalLines(jpath).slice(base);
      lines = all.length;
      if (point.kind === 'random') {
        if (lines >= point.line && !timer) timer = setTimeout(kill, point.ms);
      } else if (point.kind === 'journal' ? lines >= point.line : all.some((l) => point.re.test(l))) kill();
    }, 1);
  const guard = setTimeout(kill, maxMs);
  const run = await c.done;
  if (process.env.CHAOS_VERBOSE) process.stderr.write(`--- killed run (${run.code}), journal +${journalLineCount(jpath) - base} lines\n${run.stderr}`);
  clearTimeout(timer);
  clearInterval(watch);
  clearTimeout(guard);
  return { killed: killed && run.code === 137, lines: journalLineCount(jpath) - base, run };
}

const last = (s: string, n = 600) => (s.length > n ? '…' + s.slice(-n) : s);

/** The follow-up kadd names for the killed command; returns the lines `cmd -> code`. */
async function followUp(h: KaddSim, s: Scenario, r: () => number, violations: string[]): Promise<string[]> {
  const log: string[] = [];
  const run = async (args: string[]) => {
    const x = await h.kadd(args);
    if (process.env.CHAOS_VERBOSE) process.stderr.write(`--- kadd ${args.join(' ')} -> ${x.code}\n${x.stderr}${x.stdout}`);
    log.push(`kadd ${args.filter((a) => a !== h.cfgPath && !FAST_FLAGS.includes(a)).join(' ')} -> ${x.code}`);
    return x;
  };
  const cleanup = () => run(['cleanup', '--poll-interval', '25', h.cfgPath]);
  switch (s.name) {
    case 'add-workers': {
      // either is a documented follow-up; each names the other when it cannot finish alone
      if (r() < 0.5) {
        const x = await run(['add', ...FAST_FLAGS, '--amount', '2', '--resume', h.cfgPath]);
        if (x.code === 2 && /nothing to resume|no unfinished|did not find/i.test(x.stderr)) {
          const y = await cleanup();
          if (y.code !== 0) violations.push(`kadd cleanup after an empty --resume exited ${y.code}: ${last(y.stderr + y.stdout)}`);
        } else if (x.code !== 0) violations.push(`add --resume exited ${x.code}: ${last(x.stderr)}`);
      } else {
        const y = await cleanup();
        if (y.code === 1 && /joined and is Ready/.test(y.stdout + y.stderr)) {
          const x = await run(['add', ...FAST_FLAGS, '--amount', '2', '--resume', h.cfgPath]);
          if (x.code !== 0) violations.push(`add --resume after cleanup exited ${x.code}: ${last(x.stderr)}`);
        } else if (y.code !== 0) violations.push(`kadd cleanup exited ${y.code}: ${last(y.stderr + y.stdout)}`);
      }
      break;
    }
    case 'add-master': {
      // a master add is never resumed: --cleanup removes the learner/member first, then adds again
      const x = await run(['add', '--role', 'master', '--cleanup', ...FAST_FLAGS, h.cfgPath]);
      if (x.code === 2 && /nothing to clean|no unfinished|did not find/i.test(x.stderr)) break;
      // killed after its server: the master joined on its own; the refusal names `kadd remove <node>`, which finishes the add
      const names = /joined and is Ready; `kadd remove (\S+)` drains and removes it, and finishes/;
      let joined = names.exec(x.stdout + x.stderr);
      // the master that joined makes the cluster file stale for an add: kadd cleanup (adds nothing) names the remove
      if (x.code === 2 && /the cluster file is stale/.test(x.stderr)) {
        const y = await cleanup();
        joined = names.exec(y.stdout + y.stderr);
        if (!joined && y.code !== 0) violations.push(`kadd cleanup after a stale-file refusal exited ${y.code}: ${last(y.stderr + y.stdout)}`);
        if (!joined) break;
      }
      if (x.code !== 0 && joined) {
        const y = await run(['remove', '--yes', '--poll-interval', '25', '--evict-retry', '200', h.cfgPath, joined[1]!]);
        if (y.code !== 0) violations.push(`remove ${joined[1]} after add --role master --cleanup exited ${y.code}: ${last(y.stderr + y.stdout)}`);
      } else if (x.code !== 0) violations.push(`add --role master --cleanup exited ${x.code}: ${last(x.stderr)}`);
      break;
    }
    case 'remove-worker':
    case 'remove-master': {
      const x = await run(['remove', '--yes', '--poll-interval', '25', '--resume', h.cfgPath]);
      if (x.code === 2 && /nothing to resume|no unfinished|no interrupted/i.test(x.stderr)) {
        const y = await cleanup();
        if (y.code !== 0) violations.push(`kadd cleanup after an empty remove --resume exited ${y.code}: ${last(y.stderr + y.stdout)}`);
      } else if (x.code !== 0) violations.push(`remove --resume exited ${x.code}: ${last(x.stderr + x.stdout)}`);
      break;
    }
    case 'replace-worker': {
      const x = await run(['replace', '--resume', h.cfgPath, ...REPLACE]);
      if (x.code === 2 && /nothing to resume|no unfinished|no interrupted|no paused/i.test(x.stderr)) {
        const y = await cleanup();
        if (y.code !== 0) violations.push(`kadd cleanup after an empty replace --resume exited ${y.code}: ${last(y.stderr + y.stdout)}`);
      } else if (x.code !== 0) violations.push(`replace --resume exited ${x.code}: ${last(x.stderr + x.stdout)}`);
      break;
    }
  }
  return log;
}

/** What the simulator holds, checked against the invariants. */
export async function audit(h: KaddSim): Promise<{ orphans: string[]; duplicates: string[]; violations: string[] }> {
  const orphans: string[] = [];
  const duplicates: string[] = [];
  const violations: string[] = [];
  const store = h.sim.openstack.store;
  const c = h.cluster;
  const servers = [...store.servers.values()].filter((s) => s.status !== 'DELETED' && s.status !== 'SOFT_DELETED' && !s.deleting);
  const live = new Set(servers.map((s) => s.id));
  const nodes = h.nodes();
  const nodeRe = new RegExp(`^${c}-(node|master)-\\d+$`);
  // servers: each of kadd's naming has its Ready Node
  for (const s of servers) if (nodeRe.test(s.name) && !nodes.get(s.name)) orphans.push(`server ${s.name} (${s.id}, ${s.status}) without a Ready Node`);
  const names = servers.map((s) => s.name);
  for (const n of new Set(names)) if (names.filter((x) => x === n).length > 1) duplicates.push(`server name ${n} x${names.filter((x) => x === n).length}`);
  // stale Nodes
  for (const n of nodes.keys()) if (!names.includes(n)) violations.push(`stale Node ${n} (no server)`);
  // volumes and ports of kadd's naming held by no live server
  for (const v of store.volumes.values()) {
    if (!v.name || !new RegExp(`^${c}-(node|master)-\\d+-root$`).test(v.name) || v.status === 'deleting') continue;
    if (!v.attachments.some((a) => live.has(a.serverId)) && !servers.some((s) => s.volumes.some((x) => x.id === v.id))) orphans.push(`volume ${v.name} (${v.id}, ${v.status})`);
  }
  const vnames = [...store.volumes.values()].filter((v) => v.status !== 'deleting').map((v) => v.name);
  for (const n of new Set(vnames)) if (n && vnames.filter((x) => x === n).length > 1) duplicates.push(`volume name ${n}`);
  for (const p of store.ports.values()) {
    if (!new RegExp(`^${c}-(node|master)-\\d+-port-0$`).test(p.name)) continue;
    if (!live.has(p.deviceId)) orphans.push(`port ${p.name} (${p.id})`);
  }
  const pnames = [...store.ports.values()].map((p) => p.name).filter((n) => n.startsWith(`${c}-`));
  for (const n of new Set(pnames)) if (pnames.filter((x) => x === n).length > 1) duplicates.push(`port name ${n}`);
  // API pool members of no live server
  const ips = new Set<string>();
  for (const p of store.ports.values()) if (live.has(p.deviceId)) for (const f of p.fixedIps) ips.add(f.ip_address);
  for (const m of store.members.values()) if (!ips.has(m.address)) orphans.push(`pool member ${m.name || m.id} (${m.address})`);
  // kadd's bootstrap tokens and adder Deployments
  const kube = h.sim.kube as any;
  for (const t of kube.tokens() as { data?: Record<string, string> }[]) {
    const d = Buffer.from(t.data?.description ?? '', 'base64').toString();
    if (d.startsWith('kadd')) orphans.push(`bootstrap token (${d})`);
  }
  for (const d of kube.deployments('kube-system') as { metadata: { name: string } }[]) if (d.metadata.name.startsWith('kadd-master-adder')) orphans.push(`adder Deployment ${d.metadata.name}`);
  // etcd: no learner, no unstarted member, a member per master server
  const members = kube.etcd.members as { name: string; id: bigint; isLearner: boolean; started: boolean }[];
  for (const m of members) {
    if (m.isLearner || !m.started) violations.push(`etcd member ${m.id.toString(16)} (${m.name || 'unstarted'}) is ${m.isLearner ? 'a learner' : 'not started'}`);
    else if (!names.includes(m.name)) violations.push(`etcd member ${m.name} has no server`);
  }
  const masters = servers.filter((s) => new RegExp(`^${c}-master-\\d+$`).test(s.name));
  const workers = servers.filter((s) => new RegExp(`^${c}-node-\\d+$`).test(s.name));
  if (members.length !== masters.length) violations.push(`${members.length} etcd members for ${masters.length} master servers`);
  // the cluster file counts what exists
  const file = existsSync(h.updatedPath) ? h.updatedPath : h.cfgPath;
  const text = readFileSync(file, 'utf8');
  const count = (k: string) => Number(new RegExp(`^${k}:\\s*(\\d+)`, 'm').exec(text)?.[1]);
  if (count('n-masters') !== masters.length) violations.push(`${file.endsWith('updated.yml') ? 'cfg.updated.yml' : 'cfg.yml'} says n-masters ${count('n-masters')}, ${masters.length} exist`);
  if (count('n-nodes') !== workers.length) violations.push(`${file.endsWith('updated.yml') ? 'cfg.updated.yml' : 'cfg.yml'} says n-nodes ${count('n-nodes')}, ${workers.length} exist`);
  // the journal has nothing left over
  const left = (await findUnfinished(h.cfgPath)).leftovers;
  for (const l of left) orphans.push(`journal leftover ${l.kind} ${l.name}${l.id ? ` (${l.id})` : ''} (${l.state})`);
  return { orphans, duplicates, violations };
}

/** One kill: fresh simulator, the command killed at the point, the follow-up, the audit. */
export async function oneKill(seed: number, s: Scenario, point: KillPoint, o: { maxMs?: number } = {}): Promise<KillResult> {
  const t0 = Date.now();
  const r = prng(seed ^ 0x5bd1e995);
  const h = await startKaddSim({ masters: s.masters, nodes: s.nodes, ...SCENARIO_OPTS });
  const samples: EtcdSample[] = [];
  const sampler = setInterval(() => samples.push(etcdSample(h)), 5);
  const violations: string[] = [];
  try {
    const k = await killAt(h, s.args(h), point, o.maxMs ?? 120_000);
    if (!k.killed && k.run.code !== 0) violations.push(`the unkilled run exited ${k.run.code}: ${last(k.run.stderr)}`);
    const fu = k.killed ? await followUp(h, s, r, violations) : [];
    clearInterval(sampler);
    samples.push(etcdSample(h));
    const lost = samples.filter((x) => x.voters > 0 && x.healthy < Math.floor(x.voters / 2) + 1 && !(x.voters === 2 && x.healthy === 1));
    if (lost.length) violations.push(`quorum lost in ${lost.length} samples, e.g. ${JSON.stringify(lost[0])}`);
    const a = await audit(h);
    violations.push(...a.violations);
    const converged = k.killed && violations.length === 0 && a.orphans.length === 0 && a.duplicates.length === 0;
    return { seed, scenario: s.name, point, killed: k.killed, converged, orphans: a.orphans, duplicates: a.duplicates, violations, followUp: fu, journalLines: k.lines, ms: Date.now() - t0 };
  } finally {
    clearInterval(sampler);
    await h.stop();
  }
}

export interface ChaosOptions {
  seed: number;
  /** random-moment kills (beyond the step boundaries) */
  runs: number;
  /** quick: a few seeded step boundaries per scenario instead of every one */
  quick: boolean;
  /** scenarios to run (default all) */
  only?: ScenarioName[];
  log?: (line: string) => void;
  /** stop at the first violation */
  failFast?: boolean;
}

export interface ChaosSummary {
  kills: number;
  converged: number;
  orphans: number;
  duplicates: number;
  failures: KillResult[];
  results: KillResult[];
}

/**
 * Every scenario killed at its journal boundaries (all of them: line 1, 2, ... until a run finishes
 * before the boundary; with `quick`, a few seeded ones), then `runs` kills at seeded random moments.
 */
export async function runChaos(o: ChaosOptions): Promise<ChaosSummary> {
  const log = o.log ?? (() => {});
  const r = prng(o.seed);
  const all = scenarios(r).filter((s) => !o.only || o.only.includes(s.name));
  const sum: ChaosSummary = { kills: 0, converged: 0, orphans: 0, duplicates: 0, failures: [], results: [] };
  let n = 0;
  const record = (x: KillResult) => {
    sum.results.push(x);
    if (!x.killed) {
      log(`     seed ${x.seed} ${x.scenario} finished before ${describePoint(x.point)} (${x.journalLines} journal lines): no kill${x.violations.length ? `; ${x.violations.join('; ')}` : ''}`);
      if (x.violations.length) sum.failures.push(x);
      return;
    }
    sum.kills++;
    if (x.converged) sum.converged++;
    sum.orphans += x.orphans.length;
    sum.duplicates += x.duplicates.length;
    const bad = !x.converged;
    if (bad) sum.failures.push(x);
    log(`${bad ? 'FAIL' : 'ok  '} seed ${x.seed} ${x.scenario} killed ${describePoint(x.point)} -> ${x.followUp.join('; ') || '(nothing to follow up)'} (${x.ms} ms)`);
    if (bad) for (const line of [...x.violations, ...x.orphans.map((y) => `orphan: ${y}`), ...x.duplicates.map((y) => `duplicate: ${y}`)]) log(`       ${line}`);
  };
  const stop = () => !!o.failFast && sum.failures.length > 0;
  // step boundaries
  const total = new Map<ScenarioName, number>();
  for (const s of all) {
    if (stop()) break;
    const lines: number[] = [];
    if (o.quick) {
      // a few seeded boundaries among the first 40 lines (a run past its end is not a kill)
      const want = new Set<number>();
      while (want.size < 2) want.add(1 + Math.floor(r() * 24));
      lines.push(...[...want].sort((a, b) => a - b));
    }
    for (let line = 1, i = 0; o.quick ? i < lines.length : true; line++, i++) {
      const at = o.quick ? lines[i]! : line;
      const seed = o.seed * 1000 + ++n;
      const x = await oneKill(seed, s, { kind: 'journal', line: at });
      record(x);
      if (!x.killed) {
        total.set(s.name, x.journalLines);
        if (!o.quick) break;
      }
      if (stop()) break;
    }
  }
  // random moments: a scenario, one of its journal lines (its length as learned above, else 20) and a delay
  // of 0 .. 400 ms after it, i.e. inside a step; a run that finished first is no kill and is not counted
  for (let i = 0; i < o.runs && !stop(); i++) {
    const s = all[Math.floor(r() * all.length)]!;
    const line = 1 + Math.floor(r() * Math.max(1, (total.get(s.name) ?? 21) - 1));
    const ms = Math.floor(r() * 400);
    record(await oneKill(o.seed * 1000 + ++n, s, { kind: 'random', line, ms }));
  }
  return sum;
}

export function summaryLine(s: ChaosSummary): string {
  return `kills ${s.kills}, converged ${s.converged}, orphans ${s.orphans}, duplicates ${s.duplicates}`;
}
