/**
 * kadd status <config> [--etcd] [-f table|json|yaml]: the cluster's machines joining OpenStack and
 * Kubernetes (role, server status, zone, flavor, IP, Node Ready, kubelet version, problems), counts per
 * role against the cluster file, the API pool members, leftovers of unfinished kadd runs, and with --etcd
 * --allow-adder the etcd member table (read through a short-lived master-adder Deployment, deleted
 * afterwards). Read-only by default: --etcd without --allow-adder is refused (exit 2), nothing is created.
 *
 * Exit codes: 0 healthy (warnings allowed); 1 problems were found (listed); 2 bad input.
 */
import type { Argv } from 'yargs';
import type { KaddCommandModule, CommandArgs } from '../cli/command.js';
import { allowAdderOption, configPositional, type GlobalOptions, type OutputFormat } from '../cli/options.js';
import type { Context } from '../context.js';
import type { ClusterConfig } from '../config/types.js';
import { assertReadOnlyEtcd, classifyStatus, gatherStatus, type GatherOptions, type StatusReport } from '../ops/status.js';
import { withClusterFile, type CliContextDeps } from '../cli/context.js';
import { columnsOf, formatTable, renderResult } from '../cli/output.js';

export interface StatusArgs {
  config: string;
  etcd: boolean;
  'allow-adder'?: boolean;
  format?: OutputFormat;
}

/** Human rendering: machines table, counts, etcd, pool, leftovers, then problems / warnings / notes. */
export function formatStatusTable(r: StatusReport): string {
  const out: string[] = [];
  const nodeCell = (m: StatusReport['machines'][number]) =>
    `${m.node}${m.cordoned ? ',SchedulingDisabled' : ''}${m.nodeName ? ` (${m.nodeName})` : ''}`;
  out.push(
    formatTable(
      ['NAME', 'ROLE', 'SERVER', 'ZONE', 'FLAVOR', 'IP', 'NODE', 'KUBELET', 'PROBLEMS'],
      r.machines.map((m) => [m.name, m.role, m.server, m.zone, m.flavor, m.ip, nodeCell(m), m.kubelet, m.problems.join('; ')]),
    ).trimEnd(),
  );
  if (!r.machines.length) out.push(`(no servers or Nodes found for cluster ${r.cluster})`);
  out.push('');
  out.push(r.counts.map((c) => `${c.role === 'master' ? 'masters' : 'workers'}: ${c.servers} server${c.servers === 1 ? '' : 's'}, ${c.ready}/${c.nodes} Nodes Ready (config: ${c.expected})`).join('; '));
  if (r.etcd) {
    out.push('', `etcd (read via ${r.etcd.via}): ${r.etcd.voters} voting member${r.etcd.voters === 1 ? '' : 's'}, quorum ${r.etcd.quorum}, tolerates ${r.etcd.tolerates} failure${r.etcd.tolerates === 1 ? '' : 's'}`);
    out.push(
      formatTable(['NAME', 'ID', 'LEARNER', 'STARTED', 'HEALTHY', 'LEADER'], r.etcd.members.map((m) => [m.name, m.id, String(m.learner), String(m.started), String(m.healthy), m.leader ? '*' : ''])).trimEnd(),
    );
  }
  if (r.loadBalancer?.state === 'found') {
    for (const p of r.loadBalancer.pools) {
      out.push('', `load balancer ${r.loadBalancer.name}, pool ${p.name || p.id}: ${p.members.length} member${p.members.length === 1 ? '' : 's'}`);
      if (p.members.length) out.push(formatTable(['MEMBER', 'ADDRESS', 'PORT', 'STATUS', 'SERVER'], p.members.map((m) => [m.name, m.address, String(m.port), m.status, m.server || '(none)'])).trimEnd());
    }
  }
  if (r.leftovers.length) {
    out.push('', 'unfinished kadd operations (journal):');
    for (const l of r.leftovers) {
      out.push(`  ${l.op} ${l.command} (${l.status}): ${l.resources.map((x) => `${x.kind} ${x.name}${x.state === 'maybe' ? ' (maybe)' : ''}`).join(', ') || 'nothing left'}`);
    }
  }
  if (r.problems.length) {
    out.push('', `${r.problems.length} problem${r.problems.length === 1 ? '' : 's'}:`);
    for (const p of r.problems) {
      out.push(`  ${p.subject}: ${p.message}`);
      if (p.hint) out.push(`    fix: ${p.hint}`);
    }
  }
  return out.join('\n') + '\n';
}

/** The command's body with a prepared context and config; returns the exit code (0 healthy, 1 problems). */
export async function handleStatus(argv: StatusArgs, ctx: Context, config: ClusterConfig, opts: Partial<GatherOptions> = {}): Promise<number> {
  const obs = await gatherStatus(ctx, config, { etcd: !!argv.etcd, allowAdder: !!argv['allow-adder'], ...opts });
  const report = classifyStatus(config, obs, argv.config);
  const format = argv.format ?? 'table';
  const columns = columnsOf((argv as { column?: unknown }).column);
  if (format === 'table' && !columns) {
    ctx.io.result(formatStatusTable(report));
    // results on stdout, warnings and notes on stderr (a script parsing the table never meets them)
    for (const w of report.warnings) ctx.io.log('warn', w);
    for (const n of report.notes) ctx.io.log('info', `note: ${n}`);
  } else if (columns || format === 'value') {
    // -c / -f value pick from the machines (one row per server or Node)
    ctx.io.result(renderResult(report.machines, format, undefined, columns ? { columns } : {}));
  } else ctx.io.result(renderResult(report, format));
  ctx.io.log(
    report.healthy ? 'info' : 'warn',
    report.healthy
      ? `cluster ${report.cluster}: healthy${report.warnings.length ? ` (${report.warnings.length} warning${report.warnings.length === 1 ? '' : 's'})` : ''}`
      : `cluster ${report.cluster}: ${report.problems.length} problem${report.problems.length === 1 ? '' : 's'} (exit code 1)`,
  );
  return report.healthy ? 0 : 1;
}

const status: KaddCommandModule<StatusArgs> = {
  command: 'status <config>',
  describe: "show the cluster's servers, Nodes, pool members and problems (exit 1 on problems)",
  builder: (y: Argv<GlobalOptions>) => configPositional(y)
      .option('etcd', { type: 'boolean', default: false, describe: 'also read the etcd members; needs --allow-adder (with it kadd deploys the master-adder on a control-plane node and deletes it afterwards)' })
      .option('allow-adder', allowAdderOption('with --etcd: read etcd through the master-adder (a privileged Deployment in kube-system, deleted afterwards)'))
      .example('kadd status cfg.yml', 'one table of servers and Nodes, with problems (read-only)')
      .example('kadd status cfg.yml --etcd --allow-adder', 'with the etcd members (deploys the adder, then deletes it)')
      .example('kadd status cfg.yml -f value -c name -c node', 'one line per machine: its name and its Node state')
      .epilog('Without --allow-adder, status only reads. --etcd --allow-adder deploys the master-adder (a privileged host-network Deployment in kube-system) and deletes it afterwards.\n\nExit codes: 0 healthy (warnings such as a count differing from the cluster file allowed); 1 problems found; 2 bad input.') as unknown as Argv<GlobalOptions & StatusArgs>,
  handler: (argv: CommandArgs<StatusArgs>, deps?: CliContextDeps) => {
    assertReadOnlyEtcd({ etcd: argv.etcd, allowAdder: argv['allow-adder'] }); // exit 2 before reading anything
    return withClusterFile(argv, deps, (ctx, config) => handleStatus(argv, ctx, config), { warnings: 'debug' });
  },
};

export default status;
