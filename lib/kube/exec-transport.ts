/**
 * KubeExecTransport: the Transport (lib/shell.ts) etcdctl runs over, on the Kubernetes exec API, into one
 * container of one pod (the master-adder pod, lib/ops/adder.ts). The exec API has no environment: when env is given the
 * command runs as `/bin/sh -c 'K=V ... argv'`, each word shell-quoted (the etcd image has a /bin/sh).
 * Secrets in the command line (certificate keys) never reach a log: the description names the pod only.
 */
import { KaddError } from '../errors.js';
import { shellQuote, type CommandResult, type Transport } from '../shell.js';
import type { KubeApi } from './types.js';

export interface KubeExecTarget {
  namespace: string;
  pod: string;
  container: string;
  /** the Node the pod runs on, for messages */
  nodeName?: string;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** argv (+ env) -> the argv handed to the exec API. Pure, exported for tests. */
export function execArgv(argv: string[], env?: Record<string, string>): string[] {
  if (argv.length === 0) throw new KaddError('E_USAGE', 'empty command', 2);
  const entries = Object.entries(env ?? {});
  if (entries.length === 0) return argv;
  for (const [k] of entries) {
    if (!ENV_NAME.test(k)) throw new KaddError('E_USAGE', `invalid environment variable name ${JSON.stringify(k)}`, 2);
  }
  const line = [...entries.map(([k, v]) => `${k}=${shellQuote(v)}`), ...argv.map(shellQuote)].join(' ');
  return ['/bin/sh', '-c', line];
}

export class KubeExecTransport implements Transport {
  readonly kind = 'kube' as const;
  readonly describe: string;
  private closed = false;

  constructor(
    private readonly kube: KubeApi,
    readonly target: KubeExecTarget,
    private readonly defaults: { timeoutMs?: number } = {},
  ) {
    this.describe = `pod ${target.namespace}/${target.pod}${target.nodeName ? ` on ${target.nodeName}` : ''}`;
  }

  async run(argv: string[], opts: { env?: Record<string, string>; timeoutMs?: number; stdin?: string; stdinEof?: boolean } = {}): Promise<CommandResult> {
    if (this.closed) throw new KaddError('E_TRANSPORT_CLOSED', `${this.describe}: the transport was closed`, 1);
    const cmd = execArgv(argv, opts.env);
    const r = await this.kube.exec(this.target.namespace, this.target.pod, this.target.container, cmd, {
      ...(opts.stdin !== undefined ? { stdin: opts.stdin } : {}),
      ...(opts.stdinEof === false ? { stdinEof: false } : {}),
      timeoutMs: opts.timeoutMs ?? this.defaults.timeoutMs ?? 60_000,
    });
    return { stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode };
  }

  /** The pod is owned by the adder (lib/ops/adder.ts), which deletes it; closing only stops further use. */
  async close(): Promise<void> {
    this.closed = true;
  }
}
