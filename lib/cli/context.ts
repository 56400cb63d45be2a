/**
 * Build the Context (lib/context.ts) for a command from the parsed global options.
 *
 * - io: TerminalIo; clock: realClock; env, cwd
 * - signal: aborted by the first Ctrl-C or SIGTERM (an InterruptedError as the reason): the command stops
 *   in order and rolls back; a second one exits at once (130 after Ctrl-C, 143 after SIGTERM)
 * - openstack() / kube(): created on first use, with dynamic imports so commands that never talk to
 *   a service never load its code
 */
import { writeFileSync } from 'node:fs';
import type { Context } from '../context.js';
import type { OpenStackClient } from '../openstack/types.js';
import type { KubeApi } from '../kube/types.js';
import { realClock, type Clock } from '../clock.js';
import { logNotices } from '../io.js';
import { InterruptedError } from '../errors.js';
import { registerSecret } from '../redact.js';
import { TerminalIo, type TerminalIoOptions } from './output.js';
import { OPENSTACK_FLAGS, type GlobalOptions } from './options.js';

export interface CliContext extends Context {
  io: TerminalIo;
  options: Partial<GlobalOptions>;
  /** remove signal handlers, stop spinners; call when the command ends */
  dispose(): void;
}

export interface CliContextDeps {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  clock?: Clock;
  io?: Partial<TerminalIoOptions>;
  /** what the first Ctrl-C says the command does, after "interrupted: " (default "stopping and cleaning up") */
  onInterrupt?: string;
  /** starts loading the Kubernetes client in the background (tests observe when; default: prefetchClientNode) */
  prefetchKube?: () => void;
  /** process-like object for signals and the hard exit (tests) */
  proc?: {
    on(event: 'SIGINT' | 'SIGTERM', listener: () => void): unknown;
    off(event: 'SIGINT' | 'SIGTERM', listener: () => void): unknown;
    exit(code: number): never | void;
  };
}

/**
 * KADD_STATS_FILE=path: when the command ends, write its OpenStack request counts (every request sent,
 * retries and Keystone included, keyed `service METHOD`) as JSON, for benchmarks (scripts/bench-cloud.ts).
 * Counts only, never URLs or bodies.
 */
export function writeStats(path: string | undefined, os: OpenStackClient | undefined, ms: number, io: { log(level: 'debug', m: string): void }): void {
  if (!path) return;
  const requests = os ? os.counts() : {};
  const total = Object.values(requests).reduce((a, b) => a + b, 0);
  try {
    writeFileSync(path, JSON.stringify({ ms, total, requests }) + '\n', { mode: 0o600 });
  } catch (e) {
    io.log('debug', `could not write KADD_STATS_FILE ${path}: ${e instanceof Error ? e.message : e}`);
  }
}

/** The `cli` object for resolveCloud(): the --os-* flags as given, keyed by flag name. */
export function openstackCliOptions(opts: Partial<GlobalOptions>): Record<string, string | boolean | undefined> {
  const out: Record<string, string | boolean | undefined> = {};
  for (const k of OPENSTACK_FLAGS) {
    const v = (opts as Record<string, unknown>)[k];
    if (typeof v === 'string' || typeof v === 'boolean') out[k] = v;
  }
  return out;
}

export function createCliContext(opts: Partial<GlobalOptions>, deps: CliContextDeps = {}): CliContext {
  // what main(argv, deps) was handed arrives here as `deps` (no module-global defaults)
  const env = deps.env ?? process.env;
  const cwd = deps.cwd ?? process.cwd();
  const clock = deps.clock ?? realClock;
  const proc = deps.proc ?? process;
  registerSecret(opts['os-password']);
  registerSecret(opts['os-application-credential-secret']);
  const io = new TerminalIo({
    env,
    verbosity: opts.quiet ? -1 : (opts.verbose ?? 0),
    debug: !!opts.debug,
    color: opts.color,
    yes: !!opts.yes,
    ...deps.io,
  });

  const controller = new AbortController();
  let interrupts = 0;
  const hardStop = new Set<() => string>();
  const what = deps.onInterrupt ?? 'stopping and cleaning up';
  const onSignal = (sig: 'SIGINT' | 'SIGTERM') => {
    interrupts++;
    if (interrupts === 1) {
      io.log('warn', sig === 'SIGINT' ? `interrupted: ${what} (press Ctrl-C again to exit immediately)` : `terminated (SIGTERM): ${what} (send it again to exit immediately)`);
      controller.abort(new InterruptedError());
    } else {
      for (const d of hardStop) {
        try {
          io.log('error', d());
        } catch {
          // a describe that fails must not keep kadd from stopping
        }
      }
      io.stop();
      proc.exit(sig === 'SIGINT' ? 130 : 143);
    }
  };
  const onSigint = () => onSignal('SIGINT');
  const onSigterm = () => onSignal('SIGTERM');
  proc.on('SIGINT', onSigint);
  proc.on('SIGTERM', onSigterm);

  let os: Promise<OpenStackClient> | undefined;
  let osClient: OpenStackClient | undefined;
  let kube: Promise<KubeApi> | undefined;
  const started = Date.now();
  // @kubernetes/client-node takes 0.5-2 s of CPU to import. Started at once it delayed the Keystone POST
  // by as much (the OpenStack modules waited behind it): it starts once the first OpenStack request (the
  // authentication) has left, to run while Keystone answers, or at once when no OpenStack client is wanted.
  let prefetch: (() => void) | undefined;
  let osSent = false;
  const warmKube = () => {
    const p = prefetch;
    prefetch = undefined;
    p?.();
  };

  return {
    io,
    clock,
    env,
    cwd,
    signal: controller.signal,
    options: opts,
    onHardStop(d) {
      hardStop.add(d);
      return () => void hardStop.delete(d);
    },
    openstack() {
      os ??= (async () => {
        const { resolveCloud } = await import('../openstack/config.js');
        const cloud = await resolveCloud({ cli: openstackCliOptions(opts), env, cwd });
        for (const n of cloud.notices ?? []) io.log(n.level, n.message);
        const { createOpenStackClient } = await import('../openstack/client.js');
        // no Ctrl-C signal here on purpose: after an interrupt the op still has to delete what it
        // created; every request has its own timeout, and ops check ctx.signal between steps
        const timeoutS = opts['request-timeout'];
        const onSend = () => {
          if (osSent) return;
          osSent = true;
          warmKube();
        };
        osClient = createOpenStackClient(cloud, { io, notify: logNotices(io), onSend, clock, ...(timeoutS ? { timeoutMs: timeoutS * 1000 } : {}) });
        return osClient;
      })();
      return os;
    },
    kube() {
      kube ??= (async () => {
        const { loadKubeconfig } = await import('../kube/config.js');
        const loaded = await loadKubeconfig({ kubeconfig: opts.kubeconfig, context: opts.context, env, cwd });
        const { createKubeApi, prefetchClientNode } = await import('../kube/client.js');
        prefetch = deps.prefetchKube ?? prefetchClientNode;
        // after the caller's next steps (connect asks for the OpenStack client right after this one)
        setImmediate(() => {
          if (!os || osSent) warmKube();
        });
        // Ctrl-C aborts the reads in flight at once; every request has its deadlines (lib/kube/client.ts)
        const timeoutS = opts['request-timeout'];
        return createKubeApi(loaded, { io, notify: logNotices(io), clock, signal: controller.signal, ...(timeoutS ? { requestTimeoutMs: timeoutS * 1000 } : {}) });
      })();
      return kube;
    },
    dispose() {
      proc.off('SIGINT', onSigint);
      proc.off('SIGTERM', onSigterm);
      io.stop();
      writeStats(env.KADD_STATS_FILE, osClient, Date.now() - started, io);
    },
  };
}

export interface ClusterFileOptions {
  /** how the cluster file's warnings are shown: 'warn' (default), or 'debug' for commands that only read the cluster */
  warnings?: 'warn' | 'debug';
  /** the warning as the loader words it, without the `<file>: <key>:` prefix (`validate`) */
  plainWarnings?: boolean;
}

/**
 * The frame of a command that works on a cluster file: build the Context, load the file (relative to the
 * cwd/env handed to main), print its warnings, run, and always dispose of the Context.
 */
export async function withClusterFile<R>(
  argv: Partial<GlobalOptions> & { config: string; strict?: boolean },
  deps: CliContextDeps | undefined,
  run: (ctx: CliContext, config: import('../config/types.js').ClusterConfig, warnings: number) => Promise<R>,
  opts: ClusterFileOptions = {},
): Promise<R> {
  const ctx = createCliContext(argv, deps);
  try {
    const { loadClusterConfig } = await import('../config/load.js');
    const { config, warnings } = await loadClusterConfig(argv.config, { strict: argv.strict, cwd: ctx.cwd, env: ctx.env });
    for (const w of warnings) ctx.io.log(opts.warnings ?? 'warn', opts.plainWarnings ? w.message : `${argv.config}: ${w.path}: ${w.message}`);
    return await run(ctx, config, warnings.length);
  } finally {
    ctx.dispose();
  }
}
