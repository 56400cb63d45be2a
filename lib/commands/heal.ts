/**
 * kadd heal CONFIG [--apply] [--reboot-first] [--unhealthy-for 5m] [--max-unhealthy 40% | --unhealthy-range a-b] ...
 *
 * Thin: options -> request (exit 2 on bad input, no API call) -> lib/ops/heal.ts -> one line per node -> exit
 * code. Without --apply nothing changes (exit 0 healthy, 1 problems found); with --apply the chosen node(s) go
 * through the reboot ladder (--reboot-first) and kadd replace.
 */
import type { Argv } from 'yargs';
import type { KaddCommandModule } from '../cli/command.js';
import { ALLOW_ADDER_FLAG, allowAdderOption, configPositional, withReplacementOptions, type GlobalOptions, type ReplacementOptionArgs } from '../cli/options.js';
import { UsageError } from '../errors.js';
import { parseDuration, parsePercent, parseRange, renderHealPlan, validateHealRequest, type HealRequest } from '../ops/heal-plan.js';
import type { HealRun } from '../ops/heal.js';

export interface HealArgs extends ReplacementOptionArgs {
  config: string;
  apply: boolean;
  'reboot-first': boolean;
  'unhealthy-for': string;
  'startup-timeout': string;
  'grace-after-add': string;
  'max-unhealthy': string;
  'unhealthy-range'?: string;
  'max-in-flight': number;
  'max-retry': number;
  'retry-period': string;
  'min-healthy-period': string;
  'reboot-wait': string;
  'drain-timeout': string;
  'allow-adder': boolean;
  soak: number;
  resume: boolean;
}

/** Pure: argv -> request (UsageError, exit 2, before any API call). */
export function buildHealRequest(a: HealArgs): HealRequest {
  const req: HealRequest = {
    unhealthyForSec: parseDuration('--unhealthy-for', a['unhealthy-for']),
    startupTimeoutSec: parseDuration('--startup-timeout', a['startup-timeout']),
    graceAfterAddSec: parseDuration('--grace-after-add', a['grace-after-add']),
    maxUnhealthyPercent: parsePercent('--max-unhealthy', a['max-unhealthy']),
    ...(a['unhealthy-range'] !== undefined ? { unhealthyRange: parseRange('--unhealthy-range', a['unhealthy-range']) } : {}),
    maxInFlight: a['max-in-flight'],
    maxRetry: a['max-retry'],
    retryPeriodSec: parseDuration('--retry-period', a['retry-period']),
    minHealthyPeriodSec: parseDuration('--min-healthy-period', a['min-healthy-period']),
    rebootFirst: !!a['reboot-first'],
  };
  validateHealRequest(req);
  return req;
}

export function formatHeal(run: HealRun, apply: boolean): string {
  const out = renderHealPlan(run.plan, apply);
  for (const e of run.errors) out.push(`warning: ${e}`);
  for (const o of run.outcomes) out.push(`${o.node}: ${o.action}: ${o.outcome}${o.replacement ? ` by ${o.replacement}` : ''}${o.cause ? ` (${o.cause})` : ''}`);
  if (!apply && run.plan.actions.length) out.push(`(nothing changed; --apply acts on ${run.plan.actions.join(', ')})`);
  return out.join('\n') + '\n';
}

/** 0 healthy (or everything chosen was healed); 1 problems found or left */
export function healExitCode(run: HealRun, apply: boolean): 0 | 1 {
  const problems = run.plan.decisions.some((d) => d.state === 'unhealthy');
  if (!apply) return problems ? 1 : 0;
  const handled = new Set(run.outcomes.filter((o) => o.outcome !== 'failed').map((o) => o.node));
  const left = run.plan.decisions.some((d) => d.state === 'unhealthy' && !handled.has(d.name));
  return left || run.outcomes.some((o) => o.outcome === 'failed') ? 1 : 0;
}

const heal: KaddCommandModule<HealArgs> = {
  command: 'heal <config>',
  describe: 'find unhealthy nodes and say why; --apply reboots (--reboot-first) or replaces them, within storm and quorum limits',
  builder: (y: Argv<GlobalOptions>) =>
    configPositional(withReplacementOptions(y), 'cluster file (koris format)')
      .option('apply', { type: 'boolean', default: false, describe: 'act on what is found (default: report only, change nothing)' })
      .option('reboot-first', { type: 'boolean', default: false, describe: 'before replacing: Nova soft reboot, then hard reboot, each followed by a wait for Ready' })
      .option('unhealthy-for', { type: 'string', default: '5m', describe: 'how long a condition must hold before the node counts as unhealthy' })
      .option('startup-timeout', { type: 'string', default: '10m', describe: 'a server without a Node this long after creation never joined' })
      .option('grace-after-add', { type: 'string', default: '20m', describe: 'Nodes younger than this are never touched' })
      .option('max-unhealthy', { type: 'string', default: '40%', describe: 'more unhealthy than this share of the nodes: do nothing (TooManyUnhealthy)' })
      .option('unhealthy-range', { type: 'string', describe: 'act only when the unhealthy count is within a-b (instead of --max-unhealthy)' })
      .option('max-in-flight', { type: 'number', default: 1, describe: 'nodes healed per run (masters: always one)' })
      .option('max-retry', { type: 'number', default: 0, describe: 'remediations of a node that fails again within --min-healthy-period' })
      .option('retry-period', { type: 'string', default: '0s', describe: 'least time between two remediations of a node that keeps failing' })
      .option('min-healthy-period', { type: 'string', default: '1h', describe: 'a node failing again sooner after its remediation counts as a retry' })
      .option('reboot-wait', { type: 'string', default: '5m', describe: 'bound of the wait for Ready after each reboot' })
      .option(ALLOW_ADDER_FLAG, allowAdderOption('a report may create the short-lived master-adder pod on a master to read etcd (members, health, alarms); without it etcd is not checked'))
      .option('resume', { type: 'boolean', default: false, describe: 'with --apply: first finish any unfinished kadd replace (one an earlier heal started and that died is finished without it)' })
      .option('soak', { type: 'number', default: 60, describe: 'seconds a surged replacement must stay Ready before the old node goes (as kadd replace)' })
      .option('drain-timeout', { type: 'string', default: '15m', describe: 'bound of the drain of a replaced node' })
      .example('kadd heal cfg.yml', 'what is unhealthy, why, and what --apply would do (exit 1 when something is)')
      .example('kadd heal --apply --reboot-first cfg.yml', 'from cron: reboot, then replace, one node per run')
      .example('kadd heal -f json cfg.yml', 'the same for scripts and monitoring') as never,
  handler: async (argv, deps) => {
    const req = buildHealRequest(argv);
    const rebootWaitSec = parseDuration('--reboot-wait', argv['reboot-wait']);
    const drainSec = parseDuration('--drain-timeout', argv['drain-timeout']);
    if (drainSec <= 0) throw new UsageError(`--drain-timeout must be a duration such as 15m, got "${argv['drain-timeout']}"`);
    // --timeout and --boot-timeout: the shared duration coerce (withReplacementOptions) has validated them
    if (argv.resume && !argv.apply) throw new UsageError('--resume finishes an unfinished kadd replace: give --apply too');
    if (!Number.isFinite(argv.soak) || argv.soak < 0) throw new UsageError(`--soak must be a number of seconds >= 0, got ${argv.soak}`);
    if (!Number.isFinite(argv['poll-interval']) || argv['poll-interval'] < 1) throw new UsageError('--poll-interval must be >= 1 ms');
    const { withClusterFile } = await import('../cli/context.js');
    const { renderResult } = await import('../cli/output.js');
    return withClusterFile(argv, deps, async (ctx, config) => {
      const { runHeal, healNodeOutcomes } = await import('../ops/heal.js');
      const poll = argv['poll-interval'];
      const run = await runHeal(ctx, config, req, {
        apply: argv.apply, rebootWaitMs: rebootWaitSec * 1000, pollIntervalMs: poll, adderImage: argv['adder-image'], allowAdder: argv['allow-adder'], soakSeconds: argv.soak, resume: argv.resume,
        replace: {
          configArg: argv.config, adderImage: argv['adder-image'],
          timings: { pollIntervalMs: poll, bootTimeoutMs: argv['boot-timeout'] * 1000, joinTimeoutMs: argv.timeout * 1000 },
          drain: { timeoutMs: drainSec * 1000, deleteEmptyDirData: false, force: false, evictRetryMs: argv['evict-retry'] },
        },
    });
    const format = argv.format ?? 'table';
    ctx.io.result(format === 'table' ? formatHeal(run, argv.apply) : renderResult({ ...run.plan, outcomes: healNodeOutcomes(run.outcomes), errors: run.errors }, format));
    return healExitCode(run, argv.apply);
    });
  },
};

export default heal;
