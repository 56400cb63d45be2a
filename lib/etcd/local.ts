/** LocalTransport: runs argv on this machine with child_process.spawn (no shell). Used by tests and the simulator. */
import { spawn } from 'node:child_process';
import { KaddError } from '../errors.js';
import type { CommandResult, Transport } from './types.js';
import { collectOutput } from '../shell.js';

export class LocalTransport implements Transport {
  readonly kind = 'local' as const;
  readonly describe = 'local';
  private readonly defaultTimeoutMs: number;

  constructor(opts: { timeoutMs?: number } = {}) {
    this.defaultTimeoutMs = opts.timeoutMs ?? 60_000;
  }

  run(argv: string[], opts: { env?: Record<string, string>; timeoutMs?: number; stdin?: string } = {}): Promise<CommandResult> {
    if (argv.length === 0) return Promise.reject(new KaddError('E_USAGE', 'empty command', 2));
    const timeoutMs = opts.timeoutMs ?? this.defaultTimeoutMs;
    return new Promise((resolve, reject) => {
      const child = spawn(argv[0], argv.slice(1), {
        env: { ...process.env, ...(opts.env ?? {}) },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      const run = collectOutput(child.stdout, child.stderr, timeoutMs, () => {
        child.kill('SIGKILL');
        reject(new KaddError('E_TIMEOUT', `${argv[0]} did not finish within ${Math.round(timeoutMs / 1000)} s (killed)`));
      });
      child.on('error', (e: NodeJS.ErrnoException) => run.settle(() => {
        if (e.code === 'ENOENT') resolve({ stdout: '', stderr: `${argv[0]}: command not found`, exitCode: 127 });
        else reject(new KaddError('E_EXEC', `cannot run ${argv[0]}: ${e.message}`, 1, { cause: e }));
      }));
      child.on('close', (code, signal) => run.settle(() => resolve(run.result(code ?? (signal ? 128 + (signalNumber(signal) ?? 0) : 1)))));
      child.stdin.on('error', () => {});
      child.stdin.end(opts.stdin ?? '');
    });
  }

  async close(): Promise<void> {}
}

function signalNumber(sig: NodeJS.Signals): number | undefined {
  return ({ SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 } as Record<string, number>)[sig];
}
