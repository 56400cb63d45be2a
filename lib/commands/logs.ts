/**
 * kadd logs <config> <node> [--lines N] [--follow]: a cluster server's console log (stdout, secrets
 * redacted), its Nova fault and the diagnosis (stderr). --follow prints new lines every 2 s until
 * Ctrl-C or the server is deleted. Only OpenStack is used: this works while the Kubernetes API is down.
 *
 * Exit codes: 0 shown (also after Ctrl-C with --follow); 2 bad input (a name that is not one of the
 * cluster's servers, or a server that does not exist: the cluster's servers are listed).
 */
import type { Argv } from 'yargs';
import type { KaddCommandModule, CommandArgs } from '../cli/command.js';
import { configPositional, type GlobalOptions } from '../cli/options.js';
import type { Context } from '../context.js';
import type { ClusterConfig } from '../config/types.js';
import { withClusterFile, type CliContextDeps } from '../cli/context.js';
import { UsageError } from '../errors.js';
import { formatDiagnosis } from '../ops/diagnose.js';
import { checkNodeArg, runLogs } from '../ops/logs.js';

export interface LogsArgs {
  config: string;
  node: string;
  lines?: number;
  follow: boolean;
  'poll-interval'?: number;
}

/** Pure: validate the options (UsageError before any API call). */
export function parseLogsArgs(a: { lines?: unknown; follow?: unknown; 'poll-interval'?: unknown }): { lines?: number; follow: boolean; intervalMs: number } {
  let lines: number | undefined;
  if (a.lines !== undefined && a.lines !== null && a.lines !== '') {
    const n = Number(a.lines);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`--lines must be a whole number >= 1, got ${String(a.lines)}`, { hint: 'omit --lines for the whole console log' });
    lines = n;
  }
  const iv = a['poll-interval'] === undefined ? 2000 : Number(a['poll-interval']);
  if (!Number.isFinite(iv) || iv < 1) throw new UsageError('--poll-interval must be >= 1 ms');
  return { lines, follow: !!a.follow, intervalMs: iv };
}

/** The command's body with a prepared context and config (tests call it with the simulator's clients). */
export async function handleLogs(argv: LogsArgs, ctx: Context, config: ClusterConfig): Promise<number> {
  const { lines, follow, intervalMs } = parseLogsArgs(argv);
  checkNodeArg(config, argv.node);
  const os = await ctx.openstack();
  const r = await runLogs(ctx, os, { config, configPath: argv.config, name: argv.node, lines, follow, intervalMs });
  ctx.io.log(r.server.status === 'ERROR' ? 'error' : 'info', `diagnosis: ${formatDiagnosis(`${r.server.name} (server ${r.server.status})`, r.diagnosis)}`);
  return 0;
}

const logs: KaddCommandModule<LogsArgs> = {
  command: 'logs <config> <node>',
  describe: "show a server's console log and the boot diagnosis (--follow to watch)",
  formats: ['table'],
  formatHint: 'the console log is text; `kadd status CONFIG -f json` is the machine-readable view of a server',
  builder: (y: Argv<GlobalOptions>) => configPositional(y)
      .positional('node', { type: 'string', demandOption: true, describe: 'server name, e.g. mycluster-node-3' })
      .option('lines', { alias: 'n', type: 'number', describe: 'only the last N lines (default: the whole console log)' })
      .option('follow', { type: 'boolean', default: false, describe: 'keep printing new lines every 2 s until Ctrl-C or the server is deleted' })
      .option('poll-interval', { type: 'number', default: 2000, describe: 'follow poll interval in ms', hidden: true })
      .example('kadd logs cfg.yml demo-node-3', 'the whole console log of demo-node-3, then the diagnosis')
      .example('kadd logs cfg.yml demo-node-3 -n 50 --follow', 'the last 50 lines, then new lines as they come')
      .epilog('The console goes to stdout (secrets redacted), the Nova fault and the diagnosis to stderr.\nExit codes: 0 shown; 2 the name is not one of the cluster\'s servers (they are listed).') as unknown as Argv<GlobalOptions & LogsArgs>,
  async handler(argv: CommandArgs<LogsArgs>, deps?: CliContextDeps) {
    parseLogsArgs(argv); // bad options fail before the config is read
    return withClusterFile(argv, { ...deps, onInterrupt: 'stopping' }, (ctx, config) => handleLogs(argv, ctx, config), { warnings: 'debug' });
  },
};

export default logs;
