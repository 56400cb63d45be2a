/**
 * Build the Context (lib/context.ts) for a command from the parsed global options.
 *
 * - io: TerminalIo; clock: realClock; env, cwd
 * - signal: aborted by the first Ctrl-C or SIGTERM (an InterruptedError as the reason): the command stops
 *   in order and rolls back; a second one exits at once (130 after Ctrl-C, 143 after SIGTERM)
 * - openstack() / kube(): created on first use, with dynamic imports so commands that never talk to
 *   a service never load its code
 */
import type { Context } from '../context.js';
import type { OpenStackClient } from '../openstack/types.js';
import type { KubeApi } from '../kube/types.js';
import { realClock, type Clock } from '../clock.js';
import { contextDefaults } from './defaults.js';
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
  /** process-like object for signals and the hard exit (tests) */
  proc?: Pick<NodeJS.Process, 'on' | 'off'> & { exit(code: number): never | void };
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
  const defaults = contextDefaults();
  const env = deps.env ?? defaults.env ?? process.env;
  const cwd = deps.cwd ?? defaults.cwd ?? process.cwd();
  const clock = deps.clock ?? defaults.clock ?? realClock;
  const proc = deps.proc ?? process;
  registerSecret(opts['os-password']);
  registerSecret(opts['os-application-credential-secret']);
  const io = new TerminalIo({
    env,
    verbosity: opts.quiet ? -1 : (opts.verbose ?? 0),
    debug: !!opts.debug,
    color: opts.color,
    yes: !!opts.yes,
    ...(defaults.stdout ? { stdout: defaults.stdout } : {}),
    ...(defaults.stderr ? { stderr: defaults.stderr } : {}),
    ...deps.io,
  });

  const controller = new AbortController();
  let interrupts = 0;
  const what = deps.onInterrupt ?? 'stopping and cleaning up';
  const onSignal = (sig: 'SIGINT' | 'SIGTERM') => {
    interrupts++;
    if (interrupts === 1) {
      io.log('warn', sig === 'SIGINT' ? `interrupted: ${what} (press Ctrl-C again to exit immediately)` : `terminated (SIGTERM): ${what} (send it again to exit immediately)`);
      controller.abort(new InterruptedError());
    } else {
      io.stop();
      proc.exit(sig === 'SIGINT' ? 130 : 143);
    }
  };
  const onSigint = () => onSignal('SIGINT');
  const onSigterm = () => onSignal('SIGTERM');
  proc.on('SIGINT', onSigint);
  proc.on('SIGTERM', onSigterm);

  let os: Promise<OpenStackClient> | undefined;
  let kube: Promise<KubeApi> | undefined;

  return {
    io,
    clock,
    env,
    cwd,
    signal: controller.signal,
    options: opts,
    openstack() {
      os ??= (async () => {
        const { resolveCloud } = await import('../openstack/config.js');
        const cloud = await resolveCloud({ cli: openstackCliOptions(opts), env, cwd, io });
        const { createOpenStackClient } = await import('../openstack/client.js');
        // no Ctrl-C signal here on purpose: after an interrupt the op still has to delete what it
        // created; every request has its own timeout, and ops check ctx.signal between steps
        return createOpenStackClient(cloud, { io, clock });
      })();
      return os;
    },
    kube() {
      kube ??= (async () => {
        const { loadKubeconfig } = await import('../kube/config.js');
        const loaded = await loadKubeconfig({ kubeconfig: opts.kubeconfig, context: opts.context, env, cwd });
        const { createKubeApi } = await import('../kube/client.js');
        return createKubeApi(loaded, { io, clock });
      })();
      return kube;
    },
    dispose() {
      proc.off('SIGINT', onSigint);
      proc.off('SIGTERM', onSigterm);
      io.stop();
    },
  };
}
