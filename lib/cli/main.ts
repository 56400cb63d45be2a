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
import { GLOBAL_OPTIONS, findCommandWord, type GlobalOptions, type OutputFormat } from './options.js';
import { COMPLETION_DESCRIBE, USAGE, renderTopHelp } from './help.js';
import type { KaddCommandModule } from './command.js';
import type { Argv } from 'yargs';
import type { Clock } from '../clock.js';
import type { CliContextDeps } from './context.js';
import { changesSent, resetChanges } from '../effects.js';
import { colorEnabled } from './term.js';
import { applyBooleanOverride, booleanFollowedByWord, checkBooleanValues, type BooleanFlagInfo } from './flags.js';
import { takeCoerceRefusal } from '../duration.js';
import { checkNumbers, translateYargsMessage, type OptionsInfo } from './usage.js';

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

/** the -f/-o/--format value as typed (the last one wins), before or without yargs */
export function requestedFormat(argv: readonly string[]): string | undefined {
  let f: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') break;
    const m = /^(?:-f|-o|--format)(?:=(.*))?$/.exec(a);
    if (m) f = m[1] ?? argv[i + 1];
  }
  return f;
}

/** The exit codes, for the help of every command that changes the cluster (README's table, shortened). */
export const EXIT_CODES_HELP = [
  'Exit codes:',
  '  0    success',
  '  1    failed after changing something; what was rolled back is listed',
  '  2    nothing changed: bad input, preflight refusal, unreachable or silent API, refused login',
  '  3    partial success (k of n added, the rest rolled back)',
  '  130  interrupted (Ctrl-C or SIGTERM); what the run created is rolled back',
].join('\n');

/**
 * Help layout of a command: its own options first ("Options:"), then the global groups, then help and
 * version; the exit codes at the end of every mutating command's help.
 */
function layoutHelp(name: string, mod: KaddCommandModule, y: unknown): unknown {
  const b = y as Argv<GlobalOptions> & { getOptions(): { key: Record<string, unknown>; alias: Record<string, string[]> } };
  const opts = b.getOptions();
  const skip = new Set([...Object.keys(GLOBAL_OPTIONS), 'help', 'version', '$0', ...[...mod.command.matchAll(/[<[]([^\]>.]+)/g)].map((m) => m[1]!)]);
  // an alias group is listed once, under its longest name
  for (const [k, others] of Object.entries(opts.alias ?? {})) {
    const group = [k, ...others];
    const longest = group.reduce((a, c) => (c.length > a.length ? c : a));
    for (const g of group) if (g !== longest || group.some((x) => skip.has(x))) skip.add(g);
  }
  const own = Object.keys(opts.key).filter((k) => !skip.has(k) && !/[A-Z]/.test(k));
  if (own.length) b.group(own, 'Options:');
  const byGroup = new Map<string, string[]>();
  for (const [k, o] of Object.entries(GLOBAL_OPTIONS)) byGroup.set(o.group, [...(byGroup.get(o.group) ?? []), k]);
  for (const [g, keys] of byGroup) b.group(keys, `Global, ${g}`);
  b.group(['help', 'version'], 'General:');
  if (mod.mutating) b.epilogue(EXIT_CODES_HELP);
  void name;
  return b;
}

function lookup(word: string | undefined) {
  if (!word) return undefined;
  for (const [name, entry] of Object.entries(commands)) {
    if (name === word || entry.aliases?.includes(word)) return { name, entry };
  }
  return undefined;
}

type YargsOptions = { boolean?: string[]; number?: string[]; alias?: Record<string, string[]>; key?: Record<string, unknown>; choices?: Record<string, string[]> };

function flagInfo(y: unknown): BooleanFlagInfo & OptionsInfo {
  const o: YargsOptions = (y as { getOptions?: () => YargsOptions }).getOptions?.() ?? {};
  return { booleans: o.boolean ?? [], aliases: o.alias ?? {}, keys: Object.keys(o.key ?? {}), numbers: o.number ?? [], choices: o.choices ?? {} };
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
  // completion: no yargs (its built-in knows nothing of lazily loaded commands' flags and values)
  if (argv[0] === '__complete') {
    const { complete } = await import('./completion.js');
    const out = await complete(argv.slice(1), commands, deps.cwd ?? process.cwd()).catch(() => []);
    if (out.length) stdout.write(out.join('\n') + '\n');
    return 0;
  }
  if (plain[0] === 'completion') {
    const rest = plain.slice(1);
    if (rest.includes('--help') || rest.includes('-h')) {
      stdout.write(`kadd completion [bash|zsh]\n\n${COMPLETION_DESCRIBE}\n\n  kadd completion >> ~/.bashrc                  bash\n  kadd completion zsh > "\${fpath[1]}/_kadd"      zsh (or: source <(kadd completion zsh))\n\nCompletes commands, each command's flags, flag values (--role, --format, --zone and --flavor from the\ncluster file on the line) and node names for kadd logs.\n`);
      return 0;
    }
    const shell = rest[0] ?? ((deps.env ?? process.env).SHELL?.endsWith('zsh') ? 'zsh' : 'bash');
    if (shell !== 'bash' && shell !== 'zsh' || rest.length > 1) {
      const f = formatError(new UsageError(`completion is available for bash and zsh, got ${JSON.stringify(rest.join(' '))}`, { hint: 'kadd completion bash, or kadd completion zsh' }), { color });
      stderr.write(f.text);
      return f.exitCode;
    }
    const { completionScript } = await import('./completion.js');
    stdout.write(completionScript(shell));
    return 0;
  }
  // `kadd help` = `kadd --help`; `kadd help add` = `kadd add --help`
  if (plain[0] === 'help' && plain.length === 2 && lookup(plain[1])) return main([plain[1]!, '--help', ...argv.filter((a) => a === '--no-color')], deps);
  if (plain.length === 1 && (plain[0] === '--help' || plain[0] === '-h' || plain[0] === 'help')) {
    stdout.write(renderTopHelp(commands, Math.min(110, (stdout as { columns?: number }).columns || 100)));
    return 0;
  }
  resetChanges();
  // handed to the command's handler, which builds its Context from it (no module-global defaults)
  const ctxDeps: CliContextDeps = {
    ...(deps.env ? { env: deps.env } : {}),
    ...(deps.cwd ? { cwd: deps.cwd } : {}),
    ...(deps.clock ? { clock: deps.clock } : {}),
    io: { ...(deps.stdout ? { stdout: deps.stdout } : {}), ...(deps.stderr ? { stderr: deps.stderr } : {}) },
  };
  try {
    const { default: yargs } = await import('yargs');
    let seenFlags: (BooleanFlagInfo & OptionsInfo) | undefined;
    const y = yargs(argv)
      .scriptName('kadd')
      .usage(USAGE)
      .parserConfiguration({ 'camel-case-expansion': true, 'strip-aliased': false })
      // groups are assigned in the command's builder (its own options first, the global ones after)
      .options(Object.fromEntries(Object.entries(GLOBAL_OPTIONS).map(([k, o]) => [k, { ...o, group: undefined }])) as never)
      .version('version', 'show the version number', kaddVersion())
      .alias('version', 'V')
      .help('help', 'show help')
      .alias('help', 'h')
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
        // numbers: echo what was typed instead of letting NaN through
        checkNumbers(argv, args, info);
      }) as never, true)
      .fail((msg, err, yy) => {
        if (err) {
          // an error thrown in an option's coerce arrives as a bare YError: give back kadd's own
          if (err.name === 'YError') throw takeCoerceRefusal(err.message) ?? new UsageError(err.message, { hint: `see ${invoked ? `kadd ${invoked.name} --help` : 'kadd --help'}` });
          throw err;
        }
        const cmd = invoked ? `kadd ${invoked.name} --help` : 'kadd --help';
        const text = (msg ?? 'invalid command line').replace(/\s*\n\s*/g, ' ').trim();
        const word = findCommandWord(argv);
        if (!invoked && word !== undefined && word !== 'completion') {
          // an unknown command: say so, with yargs' suggestion if it has one
          const guess = /^Did you mean (.+)\?$/.exec(text)?.[1];
          throw new UsageError(`unknown command ${JSON.stringify(word)}${guess ? `; did you mean ${guess}?` : ` (commands: ${Object.keys(commands).join(', ')})`}`, { hint: `see ${cmd}` });
        }
        if (!invoked && word === undefined) throw new UsageError('no command given', { hint: 'see kadd --help' });
        const info = seenFlags ?? flagInfo(yy);
        const unknownArgs = /^Unknown arguments?: (.+)$/.exec(text)?.[1]?.split(', ');
        if (unknownArgs) {
          const hint = booleanFollowedByWord(argv, unknownArgs, info);
          if (hint) throw new UsageError(`unexpected argument${unknownArgs.length > 1 ? 's' : ''} ${unknownArgs.map((w) => JSON.stringify(w)).join(', ')}`, { hint });
        }
        const t = translateYargsMessage(text, argv, info, invoked ? `kadd ${invoked.entry.command}` : undefined, cmd);
        throw new UsageError(t.message, { hint: t.hint });
      });

    for (const [name, entry] of Object.entries(commands)) {
      if (invoked?.name === name) {
        const mod = (await entry.load()).default as KaddCommandModule;
        y.command({
          command: mod.command,
          describe: mod.describe,
          aliases: mod.aliases ?? entry.aliases,
          builder: ((b: Argv<GlobalOptions>) => layoutHelp(name, mod, mod.builder ? mod.builder(b) : b)) as never,
          handler: async (args: unknown) => {
            const format = (args as { format?: OutputFormat }).format ?? 'table';
            if (mod.formats && !mod.formats.includes(format)) {
              throw new UsageError(`kadd ${name} does not support -f ${format} (it supports ${mod.formats.join(', ')})`, {
                hint: mod.formatHint ?? `leave out -f ${format}`,
              });
            }
            const r = await mod.handler(args as never, ctxDeps);
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
    const f = formatError(e, { debug, color, nothingChanged: changesSent().count === 0 });
    // -f json / -o json: the error is one JSON object on stderr as well (docs/schemas/error.json)
    stderr.write(requestedFormat(argv) === 'json' && !debug ? `${JSON.stringify(f.json)}\n` : f.text);
    return f.exitCode;
  } finally {
  }
}

export type { GlobalOptions };
