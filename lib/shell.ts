/**
 * Running a command on a control-plane node, whatever carries it (kube exec into the adder pod, ssh, local):
 * the Transport contract that lib/etcd drives and lib/ssh and lib/kube implement, and the POSIX shell quoting
 * for argv sent to a remote shell. It sits in the kernel so that those three client directories do not import
 * each other for it.
 *
 * Quoting: every argument that is not made only of safe characters is single-quoted, and embedded single
 * quotes become '\'' — the only escape a single-quoted string needs.
 */
export interface CommandResult { stdout: string; stderr: string; exitCode: number }

/** Runs a command on a control-plane node (kube exec into the adder pod | ssh | local). */
export interface Transport {
  readonly kind: 'kube' | 'ssh' | 'local';
  /** human description, e.g. "ssh root@10.0.0.5 via bastion 1.2.3.4" */
  readonly describe: string;
  /**
   * `stdinEof: false`: send stdin but do not close it (the command reads what it needs line by line):
   * pod exec over the v4 WebSocket protocol can only signal the end of stdin by closing the whole
   * connection, which loses the command's output and exit status
   */
  run(argv: string[], opts?: { env?: Record<string, string>; timeoutMs?: number; stdin?: string; stdinEof?: boolean }): Promise<CommandResult>;
  close(): Promise<void>;
}

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

export function shellQuote(arg: string): string {
  if (arg.includes('\0')) throw new Error('an argument contains a NUL byte; it cannot be passed to a command');
  if (arg !== '' && SAFE.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** argv -> one command line; env vars go in front through `env` so sshd's AcceptEnv does not matter. */
export function shellJoin(argv: string[], env?: Record<string, string>): string {
  if (argv.length === 0) throw new Error('empty command');
  const pre: string[] = [];
  if (env && Object.keys(env).length) {
    pre.push('env');
    for (const [k, v] of Object.entries(env)) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new Error(`invalid environment variable name: ${JSON.stringify(k)}`);
      pre.push(shellQuote(`${k}=${v}`));
    }
  }
  return [...pre, ...argv.map(shellQuote)].join(' ');
}

interface DataSource {
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
}

/**
 * One command's output, collected from its stdout and stderr streams, and settled exactly once: by its end,
 * an error, or the timeout (then `onTimeout` stops the command and rejects). `settle(f)` runs f only if
 * nothing settled the run before, and stops the timer.
 */
export function collectOutput(stdout: DataSource, stderr: DataSource, timeoutMs: number, onTimeout: () => void) {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let done = false;
  const timer = setTimeout(() => {
    if (done) return;
    done = true;
    onTimeout();
  }, timeoutMs);
  stdout.on('data', (d) => out.push(d));
  stderr.on('data', (d) => err.push(d));
  return {
    settle(f: () => void): void {
      if (done) return;
      done = true;
      clearTimeout(timer);
      f();
    },
    result(exitCode: number): CommandResult {
      return { stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), exitCode };
    },
  };
}
