/**
 * `kadd replace` on the simulator with fixed build, join, drain and delete times:
 *
 *   rollingReplace20Ratio   wall time of `replace --all --role node --max-surge 5` over 20 workers
 *                           / wall time of replacing one worker                     (goal <= 4.5)
 *   rollingMaxExtraServers  the most servers beyond the starting count that existed at any moment of the
 *                           20-worker roll, read from the simulator's Nova state      (goal <= max-surge, 5)
 *
 * 20 workers at 5 at a time are 4 rounds of one replacement each, so the ideal ratio is 4; what is above
 * it is kadd's overhead (gates between steps, preflights of the adds, journal fsyncs) and the drain of
 * nodes that hold pods under a PodDisruptionBudget (evictions retried every 5 s, as kubectl does).
 * --soak 0: the soak is a fixed wait per step and would only dilute the ratio. Time-scaled: S = 1 by default,
 * 0.3 with --quick (KADD_BENCH_TIMESCALE overrides); kadd runs on the simulator's clock, so its intervals and
 * token lifetimes scale with it.
 */
import type { Benchmark } from './types.js';

export const MAX_SURGE = 5;

export const replaceRoll: Benchmark = {
  name: 'replace',
  describe: 'kadd replace on the simulator: 20 workers with --max-surge 5 vs one, and the most extra servers at once',
  async run({ log, quick }) {
    const { startKaddSim, simClock } = await import('../../test/helpers/kadd-sim.js');
    // --quick: 0.3, not add-workers' 0.1: five replacements in flight spend CPU (preflights, drains, journal) that
    // a 10x clock multiplies into simulated minutes (measured: ratio 5.8 at 0.1, 4.1 at 0.3, same code)
    const S = Number(process.env.KADD_BENCH_TIMESCALE) || (quick ? 0.3 : 1);
    const h = await startKaddSim({
      masters: 1,
      nodes: 20,
      scenario: {
        seed: 5,
        timeScale: S,
        latency: {
          serverBuild: { fixed: 20_000 }, volumeCreate: { fixed: 3000 }, nodeRegister: { fixed: 3000 }, nodeReady: { fixed: 5000 },
          serverDelete: { fixed: 2000 }, volumeDelete: { fixed: 500 }, bootStage: { fixed: 2000 },
        },
        faults: { quota: { instances: 200, cores: 400, ram: 1_000_000, volumes: 200, gigabytes: 20_000, ports: 500 } },
      },
    });
    // kadd runs on the simulator's clock (simClock): every wait, poll interval, token expiry and the 5 s between
    // eviction retries are simulated time, as a real client shares the apiserver's wall time
    const clock = simClock(h);
    const flags = ['--poll-interval', '2000', '--evict-retry', '5000', '--timeout', '600', '--boot-timeout', '600', '--soak', '0', '--yes', '--drain-timeout', '15m'];
    const live = () => h.servers().filter((s) => s.status !== 'DELETED' && s.status !== 'SOFT_DELETED').length;
    const run = async (args: string[]) => {
      const base = live();
      let max = base;
      const t = setInterval(() => {
        max = Math.max(max, live());
      }, 5);
      const t0 = performance.now();
      try {
        const r = await h.kadd(['replace', ...flags, h.cfgPath, ...args], { clock });
        if (r.code !== 0) throw new Error(`kadd replace ${args.join(' ')} exited ${r.code}: ${r.stderr.slice(-1500)}`);
      } finally {
        clearInterval(t);
      }
      return { ms: performance.now() - t0, extra: max - base };
    };
    try {
      await h.kadd(['replace', '--dry-run', ...flags, '--all', '--role', 'node', h.cfgPath], { clock }); // loads every module once
      const one = await run(['demo-node-1']);
      log(`1 worker: ${(one.ms / 1000).toFixed(2)} s wall (${(one.ms / 1000 / S).toFixed(1)} s simulated), ${one.extra} extra server(s)`);
      const all = await run(['--all', '--role', 'node', '--max-surge', String(MAX_SURGE)]);
      log(`20 workers, --max-surge ${MAX_SURGE}: ${(all.ms / 1000).toFixed(2)} s wall (${(all.ms / 1000 / S).toFixed(1)} s simulated), at most ${all.extra} extra server(s)`);
      return {
        rollingReplace20Ratio: Number((all.ms / one.ms).toFixed(3)),
        rollingMaxExtraServers: all.extra,
        replace1Ms: Math.round(one.ms),
        replace20Ms: Math.round(all.ms),
        replaceTimeScale: S,
      };
    } finally {
      await h.stop();
    }
  },
};
