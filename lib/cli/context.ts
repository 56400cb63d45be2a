/**
 * Build the Context (lib/context.ts) for a command from the parsed global options.
 *
 * - io: TerminalIo; clock: realClock; env, cwd
 * - signal: aborted by the first Ctrl-C (an InterruptedError as the reason); a second Ctrl-C exits 130 at once
 * - openstack() / kube(): created on first use, with dynamic imports so commands that never talk to
 *   a service never load its code
 */
import type { Context } from '../context.js';
import type { OpenStackClient } from '../openstack/types.js';
import type { KubeApi } from '../kube/types.js';
import { realClock } from '../clock.js';
import { InterruptedError } from '../errors.js';
import { registerSecret } from '../redact.js';
import { TerminalIo, type TerminalIoOptions } from './output.js';
import { OPENSTACK_FLAGS, type GlobalOptions } from './options.js';

// Loosely typed views of modules written elsewhere (lib/openstack/config.ts etc.); a string
// specifier keeps the type checker from requiring them while they are in progress.
interface OpenStackConfigModule {
  resolveCloud(opts: { cli: Record<string, string | boolean | undefined>; env: NodeJS.ProcessEnv; cwd: string }): Promise<unknown>;
}
interface OpenStackClientModule {
  createOpenStackClient(cloud: unknown, opts: { io: TerminalIo; signal: AbortSignal }): OpenStackClient;
}
interface KubeConfigModule {
  loadKubeconfig(opts: { kubeconfig?: string; context?: string; env: NodeJS.ProcessEnv; cwd: string }): Promise<unknown> | unknown;
}
interface KubeClientModule {
  createKubeApi(loaded: unknown, opts: { io: TerminalIo }): KubeApi | Promise<KubeApi>;
}
const MODULES = {
  osConfig: '../openstack/config.js',
  osClient: '../openstack/client.js',
  kubeConfig: '../kube/config.js',
  kubeClient: '../kube/client.js',
};

export interface CliContext extends Context {
  io: TerminalIo;
  options: Partial<GlobalOptions>;
  /** remove signal handlers, stop spinners; call when the command ends */
  dispose(): void;
}

export interface CliContextDeps {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  io?: Partial<TerminalIoOptions>;
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
  const env = deps.env ?? process.env;
  const cwd = deps.cwd ?? process.cwd();
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
  const onSigint = () => {
    interrupts++;
    if (interrupts === 1) {
      io.log('warn', 'interrupted: stopping and cleaning up (press Ctrl-C again to exit immediately)');
      controller.abort(new InterruptedError());
    } else {
      io.stop();
      proc.exit(130);
    }
  };
  proc.on('SIGINT', onSigint);

  let os: Promise<OpenStackClient> | undefined;
  let kube: Promise<KubeApi> | undefined;
  const load = async <T>(spec: string): Promise<T> => (await import(spec)) as T;

  return {
    io,
    clock: realClock,
    env,
    cwd,
    signal: controller.signal,
    options: opts,
    openstack() {
      os ??= (async () => {
        const { resolveCloud } = await load<OpenStackConfigModule>(MODULES.osConfig);
        const cloud = await resolveCloud({ cli: openstackCliOptions(opts), env, cwd });
        const { createOpenStackClient } = await load<OpenStackClientModule>(MODULES.osClient);
        return createOpenStackClient(cloud, { io, signal: controller.signal });
      })();
      return os;
    },
    kube() {
      kube ??= (async () => {
        const { loadKubeconfig } = await load<KubeConfigModule>(MODULES.kubeConfig);
        const loaded = await loadKubeconfig({ kubeconfig: opts.kubeconfig, context: opts.context, env, cwd });
        const { createKubeApi } = await load<KubeClientModule>(MODULES.kubeClient);
        return createKubeApi(loaded, { io });
      })();
      return kube;
    },
    dispose() {
      proc.off('SIGINT', onSigint);
      io.stop();
    },
  };
}
