/** SshTransport: the etcd Transport over an SshRunner (connects on first use). */
import type { CommandResult, Transport } from '../shell.js';
import { SshRunner, type SshRunnerOptions } from './runner.js';

export class SshTransport implements Transport {
  readonly kind = 'ssh' as const;
  readonly runner: SshRunner;

  constructor(optsOrRunner: SshRunnerOptions | SshRunner) {
    this.runner = optsOrRunner instanceof SshRunner ? optsOrRunner : new SshRunner(optsOrRunner);
  }

  get describe(): string {
    return this.runner.describe;
  }

  run(argv: string[], opts: { env?: Record<string, string>; timeoutMs?: number; stdin?: string } = {}): Promise<CommandResult> {
    return this.runner.exec(argv, opts);
  }

  close(): Promise<void> {
    return this.runner.close();
  }
}
