/**
 * kadd's CLI: yargs with a lazy command registry (lib/commands/index.ts).
 *
 * Only yargs and this directory's light modules load for `kadd --help` / `--version`; a command's
 * module (and whatever heavy dependency it needs) is imported only when that command runs.
 * main() never throws: every failure goes through the error mapper (lib/cli/errors.ts) and becomes
 * an exit code (design.md section 8).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../errors.js';
import { commands } from '../commands/index.js';
import { formatError } from './errors.js';
import { GLOBAL_OPTIONS, findCommandWord, type GlobalOptions } from './options.js';
import { COMPLETION_DESCRIBE, USAGE, renderTopHelp } from './help.js';
import type { KaddCommandModule } from './command.js';
import type { Clock } from '../clock.js';
import { setContextDefaults } from './defaults.js';
import { colorEnabled } from './term.js';
import { applyBooleanOverride, booleanFollowedByWord, checkBooleanValues, type BooleanFlagInfo } from './flags.js';

export interface MainDeps {
  stdout?: { write(s: string): unknown; isTTY?: boolean };
  stderr?: { write(s: string): unknown; isTTY?: boolean };
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** the clock commands use (tests and benchmarks pass a scaled one) */
  clock?: Clock;
}

let cachedVersion: string | undefined;
/** package.json's version, found by walking up from this file (works from lib/ and from dist/lib/). */
export function kaddVersion(): string {
  if (cachedVersion) return cachedVersion;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'kadd' && pkg.version) return (cachedVersion = pkg.version);
    } catch {
      /* keep walking */
    }
    dir = dirname(dir);
  }
  return (cachedVersion = 'unknown');
}

function lookup(word: string | undefined) {
  if (!word) return undefined;
  for (const [name, entry] of Object.entries(commands)) {
    if (name === word || entry.aliases?.includes(word)) return { name, entry };
  }
  return undefined;
}

function flagInfo(y: unknown): BooleanFlagInfo {
  const o = (y as { getOptions?: () => { boolean?: string[]; alias?: Record<string, string[]> } }).getOptions?.() ?? {};
  return { booleans: o.boolean ?? [], aliases: o.alias ?? {} };
}

export async function main(argv: string[], deps: MainDeps = {}): Promise<number> {
  const stderr = deps.stderr ?? process.stderr;
  const env = deps.env ?? process.env;
  const debug = argv.includes('--debug');
  const color = colorEnabled(env, argv.includes('--no-color') ? false : undefined, stderr.isTTY);
  const invoked = lookup(findCommandWord(argv));
  let exitCode = 0;
  const stdout = deps.stdout ?? process.stdout;
  // fast paths: no yargs for the two commands people run to see whether the tool works
  const plain = argv.filter((a) => a !== '--no-color' && a !== '--debug');
  if (plain.length === 1 && (plain[0] === '--version' || plain[0] === '-V')) {
    stdout.write(`${kaddVersion()}\n`);
    return 0;
  }
  if (plain.length === 1 && (plain[0] === '--help' || plain[0] === '-h')) {
    stdout.write(renderTopHelp(commands, Math.min(110, (stdout as { columns?: number }).columns || 100)));
    return 0;
  }
  const restoreDefaults = setContextDefaults({
    ...(deps.env ? { env: deps.env } : {}),
    ...(deps.cwd ? { cwd: deps.cwd } : {}),
    ...(deps.clock ? { clock: deps.clock } : {}),
    ...(deps.stdout ? { stdout: deps.stdout } : {}),
    ...(deps.stderr ? { stderr: deps.stderr } : {}),
  });
  try {
    const { default: yargs } = await import('yargs');
    let seenFlags: BooleanFlagInfo | undefined;
    const y = yargs(argv)
      .scriptName('kadd')
      .usage(USAGE)
      .parserConfiguration({ 'camel-case-expansion': true, 'strip-aliased': false })
      .options(GLOBAL_OPTIONS as never)
      .version(kaddVersion())
      .alias('version', 'V')
      .help()
      .alias('help', 'h')
      .completion('completion', COMPLETION_DESCRIBE)
      .demandCommand(1, 'no command given')
      .strict()
      .recommendCommands()
      .showHelpOnFail(false)
      .exitProcess(false)
      .wrap(Math.min(110, (stdout as { columns?: number }).columns || 100))
      .middleware(((args: Record<string, unknown>, yy: unknown) => {
        // on/off flags given a value (--dry-run=client): yargs read anything but "true" as false
        const info = (seenFlags = flagInfo(yy));
        for (const o of checkBooleanValues(argv, info)) applyBooleanOverride(args, o, info);
      }) as never, true)
      .fail((msg, err, yy) => {
        if (err) throw err;
        const cmd = invoked ? `kadd ${invoked.name} --help` : 'kadd --help';
        let text = (msg ?? 'invalid command line').replace(/\s*\n\s*/g, ' ').trim();
        const unknownArgs = /^Unknown arguments?: (.+)$/.exec(text)?.[1]?.split(', ');
        if (unknownArgs) {
          const hint = booleanFollowedByWord(argv, unknownArgs, seenFlags ?? flagInfo(yy));
          if (hint) throw new UsageError(text, { hint });
        }
        const word = findCommandWord(argv);
        if (!invoked && word !== undefined && word !== 'completion') {
          // an unknown command: say so, with yargs' suggestion if it has one
          const guess = /^Did you mean (.+)\?$/.exec(text)?.[1];
          text = `unknown command ${JSON.stringify(word)}${guess ? `; did you mean ${guess}?` : ` (commands: ${Object.keys(commands).join(', ')})`}`;
        }
        throw new UsageError(text, { hint: `see ${cmd}` });
      });

    for (const [name, entry] of Object.entries(commands)) {
      if (invoked?.name === name) {
        const mod = (await entry.load()).default as KaddCommandModule;
        y.command({
          command: mod.command,
          describe: mod.describe,
          aliases: mod.aliases ?? entry.aliases,
          builder: (mod.builder ?? ((b: unknown) => b)) as never,
          handler: async (args: unknown) => {
            const r = await mod.handler(args as never);
            if (typeof r === 'number') exitCode = r;
          },
        });
      } else {
        // described for --help and completion; never imported
        y.command(entry.command, entry.describe, {}, () => undefined);
      }
    }
    await y.parseAsync();
    return exitCode;
  } catch (e) {
    const f = formatError(e, { debug, color });
    stderr.write(f.text);
    return f.exitCode;
  } finally {
    restoreDefaults();
  }
}

export type { GlobalOptions };
