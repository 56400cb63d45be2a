/**
 * POSIX shell quoting for argv sent over SSH (the remote side always runs a shell).
 * Every argument that is not made only of safe characters is single-quoted, and embedded single
 * quotes become '\'' — the only escape a single-quoted string needs.
 */
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
