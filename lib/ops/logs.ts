/**
 * `kadd logs`: a cluster server's console log, its Nova fault and the diagnosis (design.md section 7),
 * once or followed. Pure helpers (name checks, new-line detection, verdict wording) plus the I/O through
 * the OpenStack client only: logs must work while the Kubernetes API is down, which is when it is needed.
 */
import type { Context } from '../context.js';
import type { ClusterConfig } from '../config/types.js';
import type { OpenStackClient, Server } from '../openstack/types.js';
import { InterruptedError, KaddError, UsageError } from '../errors.js';
import { pollUntil, type Verdict } from '../poll.js';
import { diagnose, type Diagnosis } from './diagnose.js';
import { escapeRegex } from './naming.js';
import { editDistance } from '../text.js';

/** Regex (client side) matching exactly the cluster's servers: `<cluster>-(master|node)-N`. */
export function clusterServerPattern(cluster: string): string {
  return `^${escapeRegex(cluster)}-(master|node)-[0-9]+$`;
}

/**
 * The Nova name filter for the cluster's servers: no alternation, because Nova on MySQL/MariaDB escapes
 * `|` (nova/db/main/api.py _safe_regex_mysql), so `(master|node)` would match nothing there. The exact
 * pattern is applied to the result.
 */
export function novaClusterFilter(cluster: string): string {
  return `^${escapeRegex(cluster)}-[a-z]+-[0-9]+$`;
}

/** Is `name` of the form `<cluster>-(master|node)-N` (case-insensitive: Node names are lower-case)? */
export function isClusterServerName(cluster: string, name: string): boolean {
  return new RegExp(clusterServerPattern(cluster), 'i').test(name);
}

/** Names the operator probably meant, derived offline from what was typed ("node-3", "prod-node-3", "3"?). */
export function suggestServerNames(cluster: string, typed: string): string[] {
  const m = /(?:^|[-_.])(master|node|worker)[-_]?([0-9]+)$/i.exec(typed.trim());
  if (!m) return [];
  const role = m[1]!.toLowerCase() === 'master' ? 'master' : 'node';
  return [`${cluster}-${role}-${Number(m[2])}`];
}

/** Close names among the servers that exist (edit distance <= 3, or same index), best first. */
export function closeNames(typed: string, names: string[]): string[] {
  const t = typed.toLowerCase();
  const scored = names.map((n) => ({ n, d: editDistance(t, n.toLowerCase()) })).filter((x) => x.d <= 3);
  scored.sort((a, b) => a.d - b.d || a.n.localeCompare(b.n, 'en', { numeric: true }));
  return scored.map((x) => x.n);
}

export const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name, 'en', { numeric: true });

/** Offline check of the NODE argument (UsageError, exit 2, before any API call). */
export function checkNodeArg(config: ClusterConfig, name: string): void {
  if (!name || !name.trim()) throw new UsageError('the server name is missing: kadd logs <config> <node>');
  if (isClusterServerName(config.clusterName, name)) return;
  const guess = suggestServerNames(config.clusterName, name);
  throw new UsageError(
    `"${name}" is not a server of cluster ${config.clusterName} (its servers are named ${config.clusterName}-master-N and ${config.clusterName}-node-N)`,
    { hint: guess.length ? `did you mean ${guess.join(' or ')}? (\`kadd status ${config.file}\` lists the servers)` : `\`kadd status ${config.file}\` lists the cluster's servers` },
  );
}

/** The cluster's servers (one list call), without DELETED ones, sorted by name. */
export async function listClusterServers(os: OpenStackClient, cluster: string): Promise<Server[]> {
  const all = await os.compute.listServers({ name: novaClusterFilter(cluster) });
  const re = new RegExp(clusterServerPattern(cluster));
  return all.filter((s) => re.test(s.name) && s.status !== 'DELETED').sort(byName);
}

/** Find the named server among the cluster's; not found is exit 2 listing what exists. */
export async function findClusterServer(os: OpenStackClient, config: ClusterConfig, name: string): Promise<Server> {
  const servers = await listClusterServers(os, config.clusterName);
  const exact = servers.filter((s) => s.name === name);
  const found = exact.length ? exact : servers.filter((s) => s.name.toLowerCase() === name.toLowerCase());
  if (found.length > 1) {
    throw new KaddError('E_AMBIGUOUS_SERVER', `${found.length} servers are named ${name} (${found.map((s) => s.id).join(', ')})`, 1, {
      hint: 'delete the duplicate with `openstack server delete <id>` after checking which one is the Node',
    });
  }
  if (found.length === 1) return found[0]!;
  const close = closeNames(name, servers.map((s) => s.name));
  throw new UsageError(`server ${name} not found in cluster ${config.clusterName}${close.length ? `; did you mean ${close.slice(0, 3).join(', ')}?` : ''}`, {
    hint: servers.length ? `the cluster's servers: ${servers.map((s) => `${s.name} (${s.status})`).join(', ')}` : `cluster ${config.clusterName} has no servers in this project (check --os-cloud / the project)`,
  });
}

/** Split console text into complete lines and the trailing partial line (no newline yet). */
export function splitLines(text: string): { lines: string[]; partial: string } {
  const norm = text.replace(/\r\n/g, '\n');
  const parts = norm.split('\n');
  const partial = parts.pop() ?? '';
  return { lines: parts, partial };
}

/**
 * Pure. The lines of `window` (the console's last lines now) that come after `seen` (the last lines
 * printed): the largest overlap of seen's tail with window's head wins. `gap` is true when no overlap
 * exists although both are non-empty (more new lines than the window holds, or the log was rotated).
 */
export function newLines(seen: string[], window: string[]): { lines: string[]; gap: boolean } {
  if (seen.length === 0) return { lines: window, gap: false };
  for (let o = Math.min(seen.length, window.length); o > 0; o--) {
    let eq = true;
    for (let i = 0; i < o; i++) {
      if (window[i] !== seen[seen.length - o + i]) {
        eq = false;
        break;
      }
    }
    if (eq) return { lines: window.slice(o), gap: false };
  }
  return { lines: window, gap: window.length > 0 };
}

const SUCCESS_STAGES = new Set(['join-ok', 'cloud-init-final', 'join-skipped']);

/**
 * Pure. The diagnosis reworded for `kadd logs`: a joined server is not "still joining", and the next
 * step never sends the operator to the command they are running.
 */
export function logsVerdict(d: Diagnosis, ctx: { name: string; configPath: string; follow: boolean; status: string }): Diagnosis {
  const self = `kadd logs ${ctx.configPath} ${ctx.name}`;
  let out: Diagnosis = { ...d, consoleTail: [] };
  if ((d.cause === 'join-still-running' || d.cause === 'unknown') && d.lastStage && SUCCESS_STAGES.has(d.lastStage)) {
    out = { ...out, summary: `the join script finished (last stage: ${d.lastStage})`, nextStep: `\`kadd status ${ctx.configPath}\` shows whether its Node is Ready` };
  } else if (d.cause === 'unknown') {
    out = { ...out, summary: `no known failure marker in the console log (server ${ctx.status})`, nextStep: `\`kadd status ${ctx.configPath}\` shows whether its Node is Ready` };
  } else if (/`kadd logs NODE`/.test(d.nextStep) && !/--follow/.test(d.nextStep)) {
    out = { ...out, nextStep: 'read the console log above for the failing step' };
  } else if (d.cause === 'join-still-running' && ctx.follow) {
    out = { ...out, nextStep: `the join was still running when following stopped; run \`${self} --follow\` again to keep watching` };
  } else {
    out = { ...out, nextStep: d.nextStep.replace(/kadd logs NODE/g, self) };
  }
  return out;
}

export interface LogsRequest {
  config: ClusterConfig;
  /** as typed on the command line, for messages */
  configPath: string;
  name: string;
  /** tail length; undefined = the whole console log */
  lines?: number;
  follow: boolean;
  /** follow poll interval (default 2000 ms) */
  intervalMs?: number;
  /** lines fetched per poll while following (default max(lines, 1000)) */
  followWindow?: number;
}

export interface LogsOutcome {
  server: Server;
  diagnosis: Diagnosis;
  /** why following stopped */
  ended?: 'interrupted' | 'server-gone';
}

function httpStatus(e: unknown): number | undefined {
  const s = (e as { status?: unknown })?.status;
  return typeof s === 'number' ? s : undefined;
}

/**
 * Print the console log (stdout, redacted by Io), the Nova fault and the diagnosis (stderr). With
 * `follow`, poll every intervalMs and print only new lines until ctx.signal aborts or the server is gone.
 */
export async function runLogs(ctx: Context, os: OpenStackClient, req: LogsRequest): Promise<LogsOutcome> {
  const io = ctx.io;
  let server = await findClusterServer(os, req.config, req.name);
  const name = server.name;

  const readConsole = async (length: number | undefined): Promise<string | null> => {
    try {
      return await os.compute.getConsoleOutput(server.id, length);
    } catch (e) {
      const st = httpStatus(e);
      if (st === 404) return null; // gone
      if (st === 409) return ''; // not scheduled / no console yet
      throw e;
    }
  };

  const windowSize = Math.max(req.lines ?? 0, req.followWindow ?? 1000);
  // following: read as much as each poll will (the window), print only the asked-for tail; the first poll
  // then finds what was read in its window and prints only what is new (no reprint, no "skipped" warning)
  let text = await readConsole(req.follow && req.lines !== undefined ? windowSize : req.lines);
  if (text === null) throw new KaddError('E_SERVER_GONE', `server ${name} was deleted while reading its console`, 1);
  if (text === '' && server.status !== 'ACTIVE') io.log('info', `${name}: no console output yet (server ${server.status})`);
  let { lines: seen, partial } = splitLines(text);
  const shown = req.follow && req.lines !== undefined ? seen.slice(-req.lines) : seen;
  // following: a line still being written (e.g. the "login:" prompt) is held back until it is complete
  // or following stops, so it is never printed twice
  const head = shown.join('\n') + (shown.length ? '\n' : '') + (req.follow ? '' : partial);
  if (head) io.result(head);
  let fullText = text;
  let ended: LogsOutcome['ended'];

  if (req.follow) {
    const interval = req.intervalMs ?? 2000;
    const keep = windowSize;
    seen = seen.slice(-keep);
    io.log('info', `following ${name} (every ${Math.round(interval / 100) / 10} s; Ctrl-C to stop)`);
    let lastStatus = server.status;
    const gone = (): Verdict<void> => {
      io.log('warn', `${name} was deleted; stopped following`);
      return { state: 'done', value: undefined };
    };
    // the one poller (lib/poll.ts): a fixed cadence, no deadline, until Ctrl-C or the server is gone
    try {
      await pollUntil<void>({
        what: `following ${name}`, timeoutMs: Infinity, clock: ctx.clock, signal: ctx.signal, intervalMs: interval, factor: 1, jitter: 0,
        probe: async () => {
          const s = await os.compute.getServer(server.id);
          if (!s || s.status === 'DELETED') return gone();
          server = s;
          if (s.status !== lastStatus) {
            io.log('info', `${name}: server ${lastStatus} -> ${s.status}${s.fault?.message ? ` (${s.fault.message})` : ''}`);
            lastStatus = s.status;
          }
          const now = await readConsole(windowSize);
          if (now === null) return gone();
          const w = splitLines(now);
          const fresh = newLines(seen, w.lines);
          if (fresh.gap) io.log('warn', `${name}: more than ${windowSize} new console lines since the last poll (or the log was rotated); some lines were skipped`);
          if (fresh.lines.length) {
            io.result(fresh.lines.join('\n') + '\n');
            seen = [...seen, ...fresh.lines].slice(-keep);
          }
          partial = w.partial;
          fullText = now;
          return { state: 'pending' };
        },
      });
      ended = 'server-gone';
    } catch (e) {
      if (!(e instanceof InterruptedError)) throw e;
      ended = 'interrupted';
    }
    if (ctx.signal.aborted && !ended) ended = 'interrupted';
    if (partial) io.result(partial);
  }

  // the fault: only GET /servers/{id} carries it (not the list); fetch it once when missing
  let fault = server.fault;
  if (server.status === 'ERROR' && !fault && ended !== 'server-gone') fault = (await os.compute.getServer(server.id))?.fault;
  if (server.status === 'ERROR') io.log('error', `${name}: server is ERROR${fault?.message ? `: ${fault.message}` : ' (Nova gave no fault message)'}${fault?.details ? `\n  ${fault.details.split('\n')[0]}` : ''}`);

  const d = logsVerdict(diagnose({ fault: server.status === 'ERROR' ? fault : undefined, console: fullText, status: server.status }), {
    name, configPath: req.configPath, follow: req.follow, status: server.status,
  });
  return { server, diagnosis: d, ended };
}
