/**
 * kadd cleanup CONFIG [--dry-run] [--servers]
 *
 * Deletes what unfinished kadd runs recorded in the journal (the same ledger + reapers path as
 * `kadd add --cleanup`), then sweeps orphans that carry kadd's ownership proof for this cluster:
 *  - a port named `<cluster>-(node|master)-N-port-0` with kadd's tag/description, held by no existing server
 *  - a volume named `<cluster>-(node|master)-N-root` with `kadd-cluster` metadata, attached to no existing server
 *  - a worker server with `kadd-cluster` metadata and no Node: reported; deleted only with --servers
 *  - a bootstrap token kadd made (description `kadd ...`) or a master-adder Deployment that no unfinished
 *    journal operation owns: under the cluster Lease no other kadd operation runs, so nothing uses it
 * Anything of a matching name without the proof is refused and reported. A Node that joined is never
 * touched (that is `kadd remove`). Orphans are adopted into this run's journal before they are deleted,
 * so a kill -9 mid-sweep leaves a journal the next `kadd cleanup` finishes.
 * Exit 0: everything found is gone; 1: something was refused or left; 2: bad input.
 */
import type { Argv } from 'yargs';
import type { KaddCommandModule, CommandArgs } from '../cli/command.js';
import { configPositional, forceUnlockOption, type GlobalOptions } from '../cli/options.js';
import type { Context } from '../context.js';
import type { ClusterConfig } from '../config/types.js';
import type { Ref } from '../ops/engine/ledger.js';
import { UsageError } from '../errors.js';
import { escapeRegex } from '../ops/naming.js';

export interface CleanupArgs {
  config: string;
  'dry-run': boolean;
  servers: boolean;
  'force-unlock': boolean;
  'poll-interval': number;
  strict: boolean;
}

export interface CleanupOutcome {
  cluster: string;
  dryRun: boolean;
  /** deleted (or, with --dry-run, would be deleted) */
  deleted: string[];
  /** found and not deleted, with the reason */
  refused: string[];
  /** per node torn down: removed / kept (something refused) / failed, with its stage (docs/schemas/cleanup-result.json); [] on a dry run */
  outcomes: import('../ops/engine/events.js').NodeOutcome[];
}

/** `deleted server X (id)` (describeReaped) -> `server X (id)`: the table and JSON say the verb once */
const noun = (line: string) => line.replace(/^deleted /, '');


/** Pure: the orphans among what exists (ownership proof, not held by an existing server). */
export function findOrphans(
  cluster: string,
  seen: {
    servers: { id: string; name: string; status: string; metadata?: Record<string, string> }[];
    ports: { id: string; name: string; device_id?: string; tags?: string[]; description?: string }[];
    volumes: { id: string; name: string | null; status: string; metadata?: Record<string, string>; attachments?: { server_id: string }[] }[];
    nodeNames: Set<string>;
    /** ids already covered by the journal's cleanup (token ids and adder names included) */
    journaled: Set<string>;
    /** bootstrap tokens in kube-system (id, description) */
    tokens?: { id: string; description?: string }[];
    /** kadd master-adder Deployments in kube-system (ADDER_LABEL_SELECTOR) */
    adders?: { name: string }[];
    /** another kadd run holds the cluster Lease (a dry run does not take it): its token and adder are its own */
    lockedBy?: string;
  },
  o: { servers: boolean },
  ownedBy: (cluster: string, node: string, r: { metadata?: Record<string, string>; tags?: string[]; description?: string }) => boolean,
): { adopt: (Omit<Ref, 'source'> & { id: string })[]; refused: string[] } {
  const c = escapeRegex(cluster);
  const live = new Set(seen.servers.filter((s) => s.status !== 'DELETED' && s.status !== 'SOFT_DELETED').map((s) => s.id));
  const adopt: (Omit<Ref, 'source'> & { id: string })[] = [];
  const refused: string[] = [];
  const portRe = new RegExp(`^(${c}-(?:node|master)-[0-9]+)-port-0$`);
  for (const p of seen.ports) {
    const m = portRe.exec(p.name);
    if (!m || seen.journaled.has(p.id)) continue;
    const node = m[1];
    if (!ownedBy(cluster, node, p)) { refused.push(`port ${p.name} (${p.id}): it carries no proof that kadd created it for cluster ${cluster}`); continue; }
    if (p.device_id && live.has(p.device_id)) continue; // in use: not an orphan
    adopt.push({ kind: 'port', name: p.name, id: p.id, node });
  }
  const volRe = new RegExp(`^(${c}-(?:node|master)-[0-9]+)-root$`);
  for (const v of seen.volumes) {
    const m = v.name ? volRe.exec(v.name) : null;
    if (!m || seen.journaled.has(v.id)) continue;
    const node = m[1];
    if (!ownedBy(cluster, node, v)) { refused.push(`volume ${v.name} (${v.id}): it carries no proof that kadd created it for cluster ${cluster}`); continue; }
    if ((v.attachments ?? []).some((a) => live.has(a.server_id))) continue;
    if (!['available', 'error'].includes(v.status)) { refused.push(`volume ${v.name} (${v.id}): it is ${v.status}; run kadd cleanup again once it settles`); continue; }
    adopt.push({ kind: 'volume', name: v.name!, id: v.id, node });
  }
  const srvRe = new RegExp(`^${c}-(node|master)-[0-9]+$`);
  for (const s of seen.servers) {
    const m = srvRe.exec(s.name);
    if (!m || !live.has(s.id) || seen.journaled.has(s.id) || seen.nodeNames.has(s.name)) continue;
    if (!ownedBy(cluster, s.name, s)) { refused.push(`server ${s.name} (${s.id}): no Node, and it carries no proof that kadd created it for cluster ${cluster}`); continue; }
    if (m[1] === 'master') { refused.push(`server ${s.name} (${s.id}): a master without a Node; its etcd member must go first: \`kadd add --role master --cleanup\` or \`kadd remove --dead\``); continue; }
    if (!o.servers) { refused.push(`server ${s.name} (${s.id}): kadd's, ${s.status}, no Node; give --servers to delete it`); continue; }
    adopt.push({ kind: 'server', name: s.name, id: s.id, node: s.name });
  }
  // operation-wide things: with the cluster Lease held no other kadd operation runs, so a kadd token or
  // adder that no unfinished journal operation owns (those went through the journal cleanup) is an orphan
  for (const t of seen.tokens ?? []) {
    if (!/^kadd /.test(t.description ?? '') || seen.journaled.has(t.id)) continue;
    if (seen.lockedBy) { refused.push(`bootstrap token ${t.id}: ${seen.lockedBy} holds the cluster lock; it may be that run's`); continue; }
    adopt.push({ kind: 'token', name: 'bootstrap-token', id: t.id, node: '' });
  }
  for (const d of seen.adders ?? []) {
    const name = `kube-system/${d.name}`;
    if (seen.journaled.has(name) || seen.journaled.has(d.name)) continue;
    if (seen.lockedBy) { refused.push(`deployment ${name}: ${seen.lockedBy} holds the cluster lock; it may be that run's`); continue; }
    adopt.push({ kind: 'deployment', name, id: d.name, node: '' });
  }
  return { adopt, refused };
}

/**
 * cleanup on the runner (lib/ops/engine/runner.ts): local lock -> the unfinished journal -> Keystone proven
 * -> the cluster Lease -> observe (orphans by kadd's proof) -> dry-run lists / execute: 1. what unfinished
 * runs recorded, 2. the orphans (observed again when step 1 deleted something: a port or volume its
 * server held is free only now) -> journal end.
 */
async function runCleanup(argv: CommandArgs<CleanupArgs>, ctx: Context, config: ClusterConfig): Promise<number> {
  const format = argv.format ?? 'table';
  const dryRun = argv['dry-run'];
  const { runOperation } = await import('../ops/engine/runner.js');
  const { holderOf } = await import('../kube/lease.js');
  const { Ledger, describeLeftover, ownedBy } = await import('../ops/engine/ledger.js');
  const { Reapers } = await import('../ops/engine/reapers.js');
  const { TrackingReaper } = await import('../ops/engine/events.js');
  const { cleanupLeftovers, findOrphanMembers, liveServerAddresses, observeApiPool } = await import('../ops/cleanup.js');
  const { ADDER_NAMESPACE, ADDER_LABEL_SELECTOR } = await import('../cloudinit/render.js');
  type Report = import('../journal/journal.js').JournalReport;
  const prefix = `${config.clusterName}-`;
  const observe = async (c: Context, report: Report) => {
    const [os, kube] = await Promise.all([c.openstack(), c.kube()]);
    // one list of every server: the cluster's (by name) for the orphans, all of them for the pool's live addresses
    const [allServers, ports, volumes, nodes, tokens, adders, lease] = await Promise.all([
      os.compute.listServers(), os.network.listPorts(), os.volume.listVolumes(), kube.listNodes(),
      kube.listBootstrapTokens(), kube.listDeployments(ADDER_NAMESPACE, ADDER_LABEL_SELECTOR),
      dryRun ? kube.getLease('kube-system', 'kadd-lock') : Promise.resolve(null),
    ]);
    const servers = allServers.filter((x) => x.name.startsWith(prefix));
    // the Lock's own rule (lib/kube/lease.ts): held while its holder renews within the duration
    const holder = lease ? holderOf(lease, c.clock.now()) : null;
    const lockedBy = holder && holder.expiresInMs > 0 ? `kadd (${holder.identity})` : undefined;
    const journaled = new Set(report.leftovers.flatMap((l) => [l.id, l.kind === 'deployment' ? l.name : undefined]).filter((x): x is string => !!x));
    // the API pool: members whose address no server has any more (a cloud without Octavia has none)
    const pool = await observeApiPool(os, config.clusterName, config.loadbalancer.name || `${prefix}lb`).catch((e) => void c.io.log('warn', `cleanup: cannot read the API pool: ${e instanceof Error ? e.message : e}`));
    const members = pool ? findOrphanMembers(config.clusterName, pool, liveServerAddresses(allServers, ports), journaled) : { adopt: [], refused: [] };
    const found = findOrphans(config.clusterName, {
      servers, ports: ports.filter((p) => p.name.startsWith(prefix)), volumes: volumes.filter((v) => v.name?.startsWith(prefix)), nodeNames: new Set(nodes.map((n) => n.name)),
      tokens, adders, journaled, ...(lockedBy ? { lockedBy } : {}),
    }, { servers: argv.servers }, ownedBy);
    return { adopt: [...found.adopt, ...members.adopt], refused: [...found.refused, ...members.refused] };
  };
  type Orphans = Awaited<ReturnType<typeof observe>>;
  const run = await runOperation(ctx, {
    command: 'cleanup',
    clusterFile: config.file,
    dryRun,
    clusterLock: { force: argv['force-unlock'] },
    // credentials that do not work are refused before the Lease is taken
    connect: async (c) => {
      await c.kube();
      await (await c.openstack()).projectId();
    },
    observe,
    plan: (found: Orphans) => found,
    journalArgs: (_found, report) => ({ of: report.operations.map((o) => o.op), servers: argv.servers }),
    async execute(c, found, journal, report) {
      const out: CleanupOutcome = { cluster: config.clusterName, dryRun, deleted: [], refused: [], outcomes: [] };
      const [os, kube] = await Promise.all([c.openstack(), c.kube()]);
      // the reapers, with a stage event per node torn down and its outcome
      const reapers = new TrackingReaper(new Reapers({ io: c.io, clock: c.clock, signal: c.signal, os, kube, cluster: config.clusterName, pollIntervalMs: argv['poll-interval'] }), c.io, c.clock);
      // 1. what unfinished runs recorded, exactly as `kadd add --cleanup` does
      if (report.leftovers.length) {
        const r = await cleanupLeftovers(c.io, Ledger.fromLeftovers(journal, config.clusterName, report.leftovers), reapers);
        out.deleted.push(...r.deleted.map(noun));
        out.refused.push(...r.left);
        found = await observe(c, report);
      }
      // 2. orphans by kadd's proof, adopted into this run's journal, then torn down by the same reapers
      out.refused.push(...found.refused);
      if (found.adopt.length) {
        const ledger = new Ledger(journal, config.clusterName);
        for (const a of found.adopt) await ledger.adopt(a);
        const r = await cleanupLeftovers(c.io, ledger, reapers);
        out.deleted.push(...r.deleted.map(noun));
        out.refused.push(...r.left);
      }
      out.outcomes = reapers.outcomes();
      return out;
    },
    status: (out) => (out.refused.length ? 'failed' : 'ok'),
  });
  let out: CleanupOutcome;
  if (run.kind === 'done') out = run.result;
  else {
    out = { cluster: config.clusterName, dryRun, deleted: [], refused: [], outcomes: [] };
    if (run.kind === 'dry-run') {
      for (const l of run.report.leftovers) out.deleted.push(`${describeLeftover(l)} (journal)`);
      for (const a of run.plan.adopt) out.deleted.push(`${a.kind} ${a.name} (${a.id}) (orphan)`);
      out.refused.push(...run.plan.refused);
    }
  }
  if (format === 'table') {
    const lines: string[] = [];
    const verb = dryRun ? 'would delete' : 'deleted';
    for (const d of out.deleted) lines.push(`${verb}: ${d}`);
    for (const r of out.refused) lines.push(`not deleted: ${r}`);
    if (!lines.length) lines.push(`nothing to clean up for cluster ${config.clusterName}`);
    ctx.io.result(lines.join('\n') + '\n');
  } else ctx.io.result((await import('../cli/output.js')).renderResult(out, format));
  return out.refused.length ? 1 : 0;
}

const cleanup: KaddCommandModule<CleanupArgs> = {
  command: 'cleanup <config>',
  describe: "delete what interrupted kadd runs left and kadd's orphaned ports, volumes (and with --servers, servers without a Node)",
  builder: (y: Argv<GlobalOptions>) =>
    configPositional(y, 'cluster file (koris format)')
      .option('dry-run', { type: 'boolean', default: false, describe: 'list what would be deleted; change nothing' })
      .option('servers', { type: 'boolean', default: false, describe: 'also delete kadd-owned worker servers that have no Node' })
      .option('force-unlock', forceUnlockOption())
      .option('poll-interval', { type: 'number', default: 2000, describe: 'first poll interval in ms', hidden: true })
      .option('strict', { type: 'boolean', default: false, describe: 'unknown keys in the cluster file are errors' })
      .example('kadd cleanup --dry-run cfg.yml', 'list what an interrupted run left and the orphans kadd can prove are its own')
      .example('kadd cleanup cfg.yml', 'delete them') as never,
  handler: async (argv, deps) => {
    if (!Number.isFinite(argv['poll-interval']) || argv['poll-interval'] < 1) throw new UsageError('--poll-interval must be >= 1 ms');
    const { withClusterFile } = await import('../cli/context.js');
    return withClusterFile(argv, deps, async (ctx, config) => {
      return await runCleanup(argv, ctx, config);
    });
  },
};

export default cleanup;
