/**
 * kadd replace CONFIG NODE | --all [--role node|master] [--image I] [--flavor F] [--k8s-version V] | --resume
 *
 * Thin: options -> request (exit 2 on bad input, no API call) -> lib/ops/replace-run.ts -> render -> exit code.
 * Surge by default (add like the old one, wait healthy, soak, gated remove); remove-first with --no-surge or
 * for a dead master; --all rolls the control plane first, then workers with --max-surge/--max-unavailable.
 */
import type { Argv } from 'yargs';
import type { KaddCommandModule, CommandArgs } from '../cli/command.js';
import { configPositional, forceUnlockOption, withReplacementOptions, type GlobalOptions, type ReplacementOptionArgs } from '../cli/options.js';
import { OperationError, PartialSuccessError, UsageError } from '../errors.js';
import type { ReplacePlan, ReplaceRequest } from '../ops/replace-plan.js';
import type { RollResult } from '../ops/replace.js';

export interface ReplaceArgs extends ReplacementOptionArgs {
  config: string;
  node?: string;
  all: boolean;
  role?: 'node' | 'master';
  surge: boolean;
  image?: string;
  flavor?: string;
  zone?: string;
  'k8s-version'?: string;
  'max-surge': number;
  'max-unavailable': number;
  'max-failures': number;
  soak: number;
  resume: boolean;
  'dry-run': boolean;
  'drain-timeout': string;
  'delete-emptydir-data': boolean;
  force: boolean;
  'force-unlock': boolean;
}

/** Pure: argv -> request (UsageError, exit 2, before any API call). */
export function buildReplaceRequest(a: ReplaceArgs): ReplaceRequest | undefined {
  if (a.resume) {
    const extra = [a.node && 'a node name', a.all && '--all', a.role && '--role', a.image && '--image', a.flavor && '--flavor', a.zone && '--zone', a['k8s-version'] && '--k8s-version'].filter(Boolean);
    if (extra.length) throw new UsageError(`--resume continues the recorded roll with its own settings; drop ${extra.join(', ')}`);
    return undefined;
  }
  const req: ReplaceRequest = {
    ...(a.node ? { target: a.node } : {}), all: !!a.all, ...(a.role ? { role: a.role } : {}), surge: a.surge !== false,
    ...(a.image !== undefined ? { image: a.image } : {}), ...(a.flavor !== undefined ? { flavor: a.flavor } : {}), ...(a.zone !== undefined ? { zone: a.zone } : {}),
    ...(a['k8s-version'] !== undefined ? { k8sVersion: String(a['k8s-version']).replace(/^v/, '') } : {}),
    maxSurge: a['max-surge'], maxUnavailable: a['max-unavailable'], maxFailures: a['max-failures'], soakSeconds: a.soak,
  };
  return req;
}

export function formatPlan(p: ReplacePlan): string {
  const out: string[] = [];
  const n = p.phases.reduce((a, x) => a + x.steps.length, 0);
  out.push(`plan: replace ${n} node${n === 1 ? '' : 's'} of ${p.cluster}${p.mode === 'all' ? ' (rolling, control plane first)' : ''}`);
  if (p.version) out.push(`Kubernetes ${p.version.from} -> ${p.version.to} (${p.version.kind})${p.version.updateKubeadmConfig ? `; kubeadm-config ClusterConfiguration.kubernetesVersion set to v${p.version.to} before the first new master joins` : ''}`);
  for (const ph of p.phases) {
    out.push('', `${ph.role === 'master' ? 'masters, one at a time' : `workers, max-surge ${ph.maxSurge}, max-unavailable ${ph.maxUnavailable}`}:`);
    for (const s of ph.steps) {
      const changes = [
        s.from.flavor !== s.like.flavor && `flavor ${s.from.flavor ?? '?'} -> ${s.like.flavor}`,
        s.from.image !== s.like.image && `image ${s.from.image ?? '?'} -> ${s.like.image}`,
        s.from.k8sVersion && s.from.k8sVersion !== s.like.k8sVersion && `Kubernetes ${s.from.k8sVersion} -> ${s.like.k8sVersion}`,
      ].filter(Boolean);
      out.push(`  ${s.old} -> ${s.newName || '(new)'}  ${s.strategy.kind}${s.dead ? ' (dead)' : ''}; ${s.orderReason}`);
      out.push(`    why: ${s.strategy.reason}`);
      const add = `add ${s.newName || 'a new node'} like ${s.old}: ${s.like.flavor}${s.like.zone ? `, zone ${s.like.zone}` : ''}, image ${s.like.image}, Kubernetes ${s.like.k8sVersion}${s.like.serverGroup ? `, server group ${s.like.serverGroup}` : ''}${Object.keys(s.like.labels).length ? `, labels ${Object.entries(s.like.labels).map(([k, v]) => `${k}=${v}`).join(',')}` : ''}${s.like.taints.length ? `, taints ${s.like.taints.map((t) => `${t.key}${t.value ? `=${t.value}` : ''}:${t.effect}`).join(',')}` : ''}; wait ${s.role === 'master' ? 'Ready, etcd member promoted, all members healthy, in the API pool, /readyz through the load balancer' : 'Ready'}`;
      const remove = `remove ${s.old} through the gated remove (${s.dead ? 'dead: no drain, ' : 'cordon, drain (PDBs), '}${s.role === 'master' ? 'pool member out, etcd leadership moved, member removed, ' : ''}server, volume, port, Node)`;
      const halves = s.strategy.kind === 'surge' ? [add, `soak ${p.soakSeconds}s (it must stay Ready)`, remove] : [remove, add];
      halves.forEach((h, i) => out.push(`    ${i + 1}. ${h}`));
      if (changes.length) out.push(`    changes: ${changes.join(', ')}`);
      if (s.quorum) out.push(`    etcd: ${s.quorum.text}`);
    }
  }
  if (p.upToDate.length) out.push('', `already up to date (left alone): ${p.upToDate.join(', ')}`);
  out.push('', 'gates before every step:', ...p.gates.map((g) => `  - ${g}`));
  out.push('', `extra servers at once: ${p.extraServers}; --max-failures ${p.maxFailures}`);
  if (p.quota.length) out.push(`quota for them: ${p.quota.map((q) => `${q.resource} ${q.need}/${q.free}${q.ok ? '' : ' (NOT ENOUGH)'}`).join(', ')}`);
  for (const w of p.warnings) out.push(`warning: ${w}`);
  for (const b of p.blockers) out.push(`blocker: ${b}`);
  return out.join('\n') + '\n';
}

export function resultRows(r: RollResult) {
  return r.steps.map((s) => ({
    old: s.old, new: s.new ?? '', outcome: s.outcome, strategy: s.strategy,
    image: s.from.image && s.from.image !== s.to.image ? `${s.from.image} -> ${s.to.image}` : (s.to.image ?? ''),
    flavor: s.from.flavor && s.from.flavor !== s.to.flavor ? `${s.from.flavor} -> ${s.to.flavor}` : (s.to.flavor ?? ''),
    version: s.from.k8sVersion && s.from.k8sVersion !== s.to.k8sVersion ? `${s.from.k8sVersion} -> ${s.to.k8sVersion}` : (s.to.k8sVersion ?? ''),
    seconds: Math.round(s.durationMs / 100) / 10,
    cause: s.cause ?? '',
  }));
}

const replace: KaddCommandModule<ReplaceArgs> = {
  command: 'replace <config> [node]',
  describe: 'replace a node (surge by default, remove-first for a dead master) or roll every node to a new image, flavor or Kubernetes version',
  builder: (y: Argv<GlobalOptions>) =>
    configPositional(withReplacementOptions(y), 'cluster file (koris format); writes <name>.updated.<ext> when every node was replaced')
      .positional('node', { type: 'string', describe: 'the server/Node to replace (or --all)' })
      .option('all', { type: 'boolean', default: false, describe: 'replace every node: control plane first, then workers' })
      .option('role', { choices: ['node', 'master'] as const, describe: 'with --all: only workers or only masters' })
      .option('surge', { type: 'boolean', default: true, describe: 'add the replacement before removing the old node (--no-surge: remove first, no extra quota)' })
      .option('image', { type: 'string', describe: 'image of the replacements (default: the old node\'s)' })
      .option('flavor', { type: 'string', describe: 'flavor of the replacements (default: the old node\'s)' })
      .option('zone', { type: 'string', describe: 'availability zone of the replacements (default: the old node\'s)' })
      .option('k8s-version', { type: 'string', describe: 'Kubernetes version of the replacements: a patch or the next minor (control plane first)' })
      .option('max-surge', { type: 'number', default: 1, describe: 'workers: replacements built at once beyond the current count' })
      .option('max-unavailable', { type: 'number', default: 0, describe: 'workers: old nodes removed before their replacement is built, at once' })
      .option('max-failures', { type: 'number', default: 0, describe: 'failed node replacements tolerated before the roll aborts' })
      .option('soak', { type: 'number', default: 60, describe: 'seconds a surged replacement must stay Ready before the old node goes' })
      .option('resume', { type: 'boolean', default: false, describe: 'continue the paused or interrupted roll recorded in the journal' })
      .option('dry-run', { type: 'boolean', default: false, describe: 'show both halves of every step, the gates, quorum and quota; change nothing' })
      .option('drain-timeout', { type: 'string', default: '15m', describe: 'bound of each drain (the old node stays if it runs out)' })
      .option('delete-emptydir-data', { type: 'boolean', default: false, describe: 'drain pods with emptyDir volumes (their data is lost)' })
      .option('force', { type: 'boolean', default: false, describe: 'drain pods without a controller' })
      .option('force-unlock', forceUnlockOption())
      .example('kadd replace cfg.yml demo-node-3', 'surge: a new worker like demo-node-3 joins and soaks, then demo-node-3 is drained and removed')
      .example('kadd replace --no-surge cfg.yml demo-master-2', 'remove demo-master-2 first (needs 3 masters), then add its replacement')
      .example('kadd replace --all --image ubuntu-24.04 --max-surge 3 cfg.yml', 'roll every node to a new image, masters first')
      .example('kadd replace --all --k8s-version 1.30.4 cfg.yml', 'upgrade by replacement (patch or next minor)')
      .example('kadd replace --resume cfg.yml', 'continue a paused roll') as never,
  handler: async (argv, deps) => {
    const req = buildReplaceRequest(argv);
    if (req) {
      const { validateReplaceRequest } = await import('../ops/replace-plan.js');
      validateReplaceRequest(req);
    }
    const { parseDuration } = await import('./remove.js');
    const drainMs = parseDuration(argv['drain-timeout']);
    if (!Number.isFinite(drainMs) || drainMs <= 0) throw new UsageError(`--drain-timeout must be a duration such as 15m, 90s or 1h, got "${argv['drain-timeout']}"`);
    for (const k of ['timeout', 'boot-timeout'] as const) {
      if (!Number.isFinite(argv[k]) || argv[k] <= 0) throw new UsageError(`--${k} must be a positive number of seconds, got ${argv[k]}`);
    }
    if (!Number.isFinite(argv['poll-interval']) || argv['poll-interval'] < 1) throw new UsageError('--poll-interval must be >= 1 ms');
    if (!Number.isFinite(argv['evict-retry']) || argv['evict-retry'] < 1) throw new UsageError('--evict-retry must be >= 1 ms');
    const { withClusterFile } = await import('../cli/context.js');
    const { renderResult } = await import('../cli/output.js');
    return withClusterFile(argv, deps, async (ctx, config) => {
      const { runReplace, ReplacePaused } = await import('../ops/replace-run.js');
      const format = argv.format ?? 'table';
      const poll = argv['poll-interval'];
      const run = await runReplace(ctx, config, req, {
        dryRun: argv['dry-run'], resume: argv.resume, yes: argv.yes, interactive: !!process.stdin.isTTY, configArg: argv.config,
        adderImage: argv['adder-image'], forceUnlock: argv['force-unlock'],
        timings: { pollIntervalMs: poll, bootTimeoutMs: argv['boot-timeout'] * 1000, joinTimeoutMs: argv.timeout * 1000 },
        drain: { timeoutMs: drainMs, deleteEmptyDirData: argv['delete-emptydir-data'], force: argv.force, evictRetryMs: argv['evict-retry'] },
    });
    if (argv['dry-run']) {
      ctx.io.result(format === 'table' ? formatPlan(run.plan) : renderResult(run.plan, format));
      return run.plan.blockers.length ? 2 : 0;
    }
    const r = run.roll;
    if (!r) {
      ctx.io.log('info', 'nothing to replace');
      return 0;
    }
    const rows = resultRows(r);
    ctx.io.result(format === 'table'
      ? renderResult(rows, 'table', { columns: [{ key: 'old' }, { key: 'new' }, { key: 'outcome' }, { key: 'strategy' }, { key: 'image' }, { key: 'flavor' }, { key: 'version' }, { key: 'seconds', header: 'time (s)' }, { key: 'cause' }] })
      : renderResult({ ...r, updatedConfig: run.updatedConfig ?? null }, format));
    if (run.updatedConfig) ctx.io.log('info', `wrote ${run.updatedConfig}`);
    const replaced = r.steps.filter((s) => s.outcome === 'replaced').length;
    const failed = r.steps.filter((s) => s.outcome === 'failed');
    const details = failed.map((s) => `${s.old}: ${s.cause ?? 'failed'}`);
    if (r.paused) {
      throw new ReplacePaused(`the roll paused after ${replaced} of ${r.steps.length} node(s): ${r.paused.gates.map((g) => g.detail).join('; ') || 'a step could not finish'}`, {
        details: [...r.paused.gates.map((g) => `gate ${g.gate}: ${g.detail}`), ...details],
        hint: `fix the cause, then \`kadd replace --resume ${argv.config}\` continues where it stopped (the journal keeps every step)`,
      });
    }
    if (r.aborted) throw new OperationError('E_REPLACE_ABORTED', `the roll aborted: ${r.aborted}; ${replaced} node(s) replaced`, { details, hint: `\`kadd replace --resume ${argv.config}\` retries the rest` });
    if (failed.length) throw new PartialSuccessError(`${replaced} of ${r.steps.length} node(s) replaced; ${failed.length} failed and kept their old node`, { details, hint: `\`kadd replace --resume ${argv.config}\` retries them` });
    return 0;
    });
  },
};

export default replace;
