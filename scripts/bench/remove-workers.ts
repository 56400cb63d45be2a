/**
 * `kadd remove` of workers on the simulator with a fixed drain time (every evicted pod takes 3 s to stop)
 * and a fixed 2 s server delete:
 *
 *   removeScale10Ratio         wall time to remove 10 workers / wall time to remove 1   (goal <= 1.2)
 *   removePollRequestsPerTick  server list requests per poll tick while servers go     (goal 1)
 *
 * Like the add benchmark: real time by default, timeScale 0.1 with --quick (kadd's poll interval scaled by
 * the same factor). Polls are the servers/detail list calls beyond the ones observation makes (a --dry-run
 * of the same removal measures those); ticks are bursts of them separated by a gap.
 */
import type { Benchmark } from './index.js';

const POLL_KEY = 'compute GET /compute/v2.1/servers/detail';

export const removeWorkers: Benchmark = {
  name: 'remove-workers',
  describe: 'kadd remove on the simulator, fixed 3 s pod termination and 2 s server delete: 10 workers vs 1, polls per tick',
  async run({ log, quick }) {
    const { startKaddSim } = await import('../../test/helpers/kadd-sim.js');
    const S = quick ? 0.1 : 1;
    const pollMs = Math.round(2000 * S);
    const h = await startKaddSim({
      nodes: 12,
      scenario: {
        seed: 5,
        timeScale: S,
        latency: { serverDelete: { fixed: 2000 }, volumeDelete: { fixed: 500 } },
        faults: { quota: { instances: 200, cores: 400, ram: 1_000_000, volumes: 200, gigabytes: 20_000, ports: 500 } },
        kube: {
          podStartup: { fixed: 1000 }, podTermination: { fixed: 3000 }, volumeDetach: { fixed: 500 },
          workloads: [{ name: 'bench', replicas: 12, terminationMs: { fixed: 3000 } }],
        },
      },
    });
    const flags = ['--yes', '--poll-interval', String(pollMs), '--evict-retry', String(Math.round(5000 * S)), '--concurrency', '10'];
    const core = h.sim.core as unknown as { count(s: string, m: string, p: string): void };
    const count = core.count.bind(core);
    let stamps: { key: string; at: number }[] = [];
    core.count = (s, m, p) => {
      stamps.push({ key: `${s} ${m} ${p}`, at: performance.now() });
      count(s, m, p);
    };
    const run = async (args: string[]) => {
      h.sim.resetCounters();
      stamps = [];
      const t0 = performance.now();
      const r = await h.kadd(['remove', ...flags, ...args]);
      const ms = performance.now() - t0;
      if (r.code !== 0) throw new Error(`kadd remove ${args.join(' ')} exited ${r.code}: ${r.stderr.slice(-800)}`);
      return { ms, counters: { ...h.counters() }, stamps: [...stamps] };
    };
    const ten = Array.from({ length: 10 }, (_, i) => `demo-node-${i + 2}`);
    try {
      await new Promise((r) => setTimeout(r, 3000 * S)); // the seeded pods start
      const dry = await run(['--dry-run', h.cfgPath, ...ten]); // also loads every module once
      const one = await run([h.cfgPath, 'demo-node-12']);
      log(`1 worker: ${(one.ms / 1000).toFixed(2)} s wall (${(one.ms / 1000 / S).toFixed(1)} s simulated)`);
      const many = await run([h.cfgPath, ...ten]);
      log(`10 workers: ${(many.ms / 1000).toFixed(2)} s wall (${(many.ms / 1000 / S).toFixed(1)} s simulated)`);
      const baseline = dry.counters[POLL_KEY] ?? 0;
      const polls = Math.max(0, (many.counters[POLL_KEY] ?? 0) - baseline);
      const times = many.stamps.filter((s) => s.key === POLL_KEY).map((s) => s.at).slice(baseline);
      let ticks = 0;
      for (let i = 0; i < times.length; i++) if (i === 0 || times[i]! - times[i - 1]! > pollMs / 4) ticks++;
      log(`10-worker run: ${polls} server polls in ${ticks} ticks`);
      return {
        removeScale10Ratio: Number((many.ms / one.ms).toFixed(3)),
        removePollRequestsPerTick: ticks ? Number((polls / ticks).toFixed(2)) : 0,
        removeWorkers1Ms: Math.round(one.ms),
        removeWorkers10Ms: Math.round(many.ms),
        removeWorkersTimeScale: S,
      };
    } finally {
      core.count = count;
      await h.stop();
    }
  },
};
