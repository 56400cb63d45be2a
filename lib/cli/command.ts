/** The shape of a command module (lib/commands/<verb>.ts). Types only: nothing is loaded at run time. */
import type { Argv, ArgumentsCamelCase } from 'yargs';
import type { GlobalOptions } from './options.js';
import type { CliContextDeps } from './context.js';

export type CommandArgs<T = Record<string, unknown>> = ArgumentsCamelCase<GlobalOptions & T>;

export interface KaddCommandModule<T = Record<string, unknown>> {
  /** yargs usage, e.g. 'validate <config>' (must match the registry entry) */
  command: string;
  describe: string;
  aliases?: string[];
  builder?: (y: Argv<GlobalOptions>) => Argv<GlobalOptions & T>;
  /**
   * returns the exit code (0 when nothing is returned); failures are thrown as KaddError. `deps` carries
   * what main(argv, deps) was handed (env, cwd, clock, streams): pass it to createCliContext.
   */
  handler: (argv: CommandArgs<T>, deps?: CliContextDeps) => Promise<number | void> | number | void;
}
