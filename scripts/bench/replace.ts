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
 * --soak 0: the soak is a fixed wait per step and would only dilute the ratio. Time-scaled like add-workers:
 * S = 1 by default, 0.1 with --quick (kadd's poll interval scaled by S too).
 */
import type { Benchmark } from './index.js';

export const MAX_SURGE = 5;

export const replaceRoll: Benchmark = {
  name: 'replace',
  describe: 'kadd replace on the simulator: 20 workers with --max-surge 5 vs one, and the most extra servers at once',
  async run({ log, quick }) {
    const { startKaddSim } = await import('../../test/helpers/kadd-sim.js');
    const S = quick ? 0.1 : 1;
    const pollMs = Math.max(25, Math.round(2000 * S));
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
    const flags = ['--poll-interval', String(pollMs), '--timeout', '300', '--boot-timeout', '300', '--soak', '0', '--yes', '--drain-timeout', '10m'];
    const live = () => h.servers().filter((s) => s.status !== 'DELETED' && s.status !== 'SOFT_DELETED').length;
    const run = async (args: string[]) => {
      const base = live();
      let max = base;
      const t = setInterval(() => {
        max = Math.max(max, live());
      }, 5);
      const t0 = performance.now();
      try {
        const r = await h.kadd(['replace', ...flags, ...args, h.cfgPath]);
        if (r.code !== 0) throw new Error(`kadd replace ${args.join(' ')} exited ${r.code}: ${r.stderr.slice(-1500)}`);
      } finally {
        clearInterval(t);
      }
      return { ms: performance.now() - t0, extra: max - base };
    };
    try {
      await h.kadd(['replace', '--dry-run', ...flags, '--all', '--role', 'node', h.cfgPath]); // loads every module once
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
