/**
 * Command-line mistakes in kadd's words, for every command (main.ts applies these; a new verb inherits
 * them). None of yargs' raw messages ("Not enough non-option arguments", "Invalid values: Argument: role",
 * "Unknown argument: amout") reaches the user; numbers echo what was typed instead of "NaN"; a misspelt
 * flag gets a did-you-mean like a misspelt command. Dependency-free.
 */
import { UsageError } from '../errors.js';
import { editDistance } from '../text.js';

export interface OptionsInfo {
  /** every option key yargs knows for this command (global and the command's own), camelCase included */
  keys: readonly string[];
  /** keys of type number */
  numbers: readonly string[];
  aliases: Record<string, readonly string[]>;
  /** choices per key, when known */
  choices?: Record<string, readonly string[]>;
}

/** The closest candidate within a distance that still reads as a typo (or a prefix), else undefined. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const dd = c.startsWith(word) && word.length >= 3 ? 0.5 : editDistance(word, c);
    if (dd < bestD) {
      best = c;
      bestD = dd;
    }
  }
  const limit = Math.max(1, Math.min(3, Math.floor(word.length / 3)));
  return bestD <= limit ? best : undefined;
}

const dashed = (k: string) => (k.length === 1 ? `-${k}` : `--${k}`);

/** The option names as a user types them: no camelCase duplicates. */
function flagNames(info: OptionsInfo): string[] {
  const all = new Set<string>();
  for (const k of info.keys) if (!/[A-Z]/.test(k)) all.add(k);
  for (const [k, v] of Object.entries(info.aliases)) for (const x of [k, ...v]) if (!/[A-Z]/.test(x)) all.add(x);
  return [...all].filter((k) => k !== '$0' && k !== '_');
}

/** The raw text typed for option `key` (any of its names), for messages that echo it. */
export function rawValue(argv: readonly string[], key: string, info: OptionsInfo): string | undefined {
  const names = new Set([key, ...(info.aliases[key] ?? [])]);
  for (const [k, v] of Object.entries(info.aliases)) if (v.includes(key)) names.add(k);
  let found: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') break;
    const m = /^--?([^=]+)(?:=(.*))?$/s.exec(a);
    if (!m || !names.has(m[1]!)) continue;
    found = m[2] ?? argv[i + 1];
  }
  return found;
}

/** `--amount abc` reached the handler as NaN: refuse it, echoing what was typed. */
export function checkNumbers(argv: readonly string[], args: Record<string, unknown>, info: OptionsInfo): void {
  for (const k of info.numbers) {
    if (/[A-Z]/.test(k)) continue;
    const v = args[k];
    const vals = Array.isArray(v) ? v : [v];
    if (vals.some((x) => typeof x === 'number' && !Number.isFinite(x))) {
      const raw = rawValue(argv, k, info);
      throw new UsageError(`${dashed(k)} must be a number, got ${raw === undefined ? 'nothing' : JSON.stringify(raw)}`, { hint: `for example ${dashed(k)} 3` });
    }
  }
}

export interface Translated {
  message: string;
  hint: string;
}

/**
 * yargs' failure message -> kadd's. `usage` is the command's usage line ("kadd add <config>"), `help`
 * the help command to point to.
 */
export function translateYargsMessage(msg: string, argv: readonly string[], info: OptionsInfo | undefined, usage: string | undefined, help: string): Translated {
  const text = msg.replace(/\s*\n\s*/g, ' ').trim();
  const seeHelp = `see ${help}`;

  let m = /^Not enough non-option arguments: got (\d+), need at least (\d+)$/.exec(text);
  if (m) {
    const missing = usage ? [...usage.matchAll(/<([^>]+)>/g)].map((x) => x[1]!).slice(Number(m[1])) : [];
    const what = missing.length ? missing.map((x) => `<${x}>`).join(' ') : 'an argument';
    // `kadd add -f cfg.yml`: -f is the output format, the cluster file is positional
    const f = formatGivenAFile(argv);
    if (f) return { message: `missing ${what}: ${f.flag} is the output format (table, json, yaml, value), not the cluster file`, hint: `the cluster file is positional: ${usage?.replace(/<config>/, f.file) ?? `kadd <command> ${f.file}`}` };
    return { message: `missing ${what}${usage ? ` (usage: ${usage})` : ''}`, hint: seeHelp };
  }
  m = /^Too many non-option arguments: got (\d+), maximum of (\d+)$/.exec(text);
  if (m) return { message: `too many arguments (usage: ${usage ?? 'kadd <command>'})`, hint: seeHelp };

  m = /^Invalid values?: Argument: ([^,]+), Given: (.+?), Choices: (.+)$/.exec(text);
  if (m) {
    const key = m[1]!;
    const choices = m[3]!.replace(/"/g, '').split(/,\s*/);
    const given = m[2]!.replace(/^"|"$/g, '');
    const f = (key === 'format' || key === 'f') && /\.(ya?ml|json)$/i.test(given);
    if (f) return { message: `${flagFor(argv, key)} is the output format (${choices.join(', ')}), got ${JSON.stringify(given)}`, hint: `the cluster file is positional: ${usage?.replace(/<config>/, given) ?? `kadd <command> ${given}`}` };
    const guess = closest(given, choices);
    return { message: `${dashed(key)} must be one of ${choices.join(', ')}; got ${JSON.stringify(given)}`, hint: guess ? `did you mean ${dashed(key)} ${guess}?` : seeHelp };
  }

  m = /^Unknown arguments?: (.+)$/.exec(text);
  if (m) {
    const words = m[1]!.split(/,\s*/);
    const flags = info ? flagNames(info) : [];
    for (const w of words) {
      const asTyped = argv.find((a) => a.replace(/^-+/, '').replace(/=.*$/s, '') === w || a === w);
      const isFlag = asTyped?.startsWith('-') ?? false;
      if (isFlag) {
        const guess = closest(w, flags.filter((x) => x.length > 1));
        return { message: `unknown option ${asTyped!.replace(/=.*$/s, '')}`, hint: guess ? `did you mean --${guess}? (${help})` : seeHelp };
      }
    }
    return { message: `unexpected argument${words.length > 1 ? 's' : ''} ${words.map((w) => JSON.stringify(w)).join(', ')}${usage ? ` (usage: ${usage})` : ''}`, hint: seeHelp };
  }

  m = /^Missing required arguments?: (.+)$/.exec(text);
  if (m) return { message: `missing ${m[1]!.split(/,\s*/).map((x) => (usage?.includes(`<${x}>`) ? `<${x}>` : dashed(x))).join(', ')}${usage ? ` (usage: ${usage})` : ''}`, hint: seeHelp };

  m = /^Arguments (.+) and (.+) are mutually exclusive$/.exec(text);
  if (m) return { message: `${dashed(m[1]!)} and ${dashed(m[2]!)} cannot be used together`, hint: seeHelp };

  m = /^Not enough arguments following: (.+)$/.exec(text);
  if (m) return { message: `${flagFor(argv, m[1]!)} needs a value`, hint: seeHelp };

  return { message: text || 'invalid command line', hint: seeHelp };
}

/** how the user typed option `key` (e.g. -f rather than --format) */
function flagFor(argv: readonly string[], key: string): string {
  const typed = argv.find((a) => a === `-${key}` || a === `--${key}` || a.startsWith(`--${key}=`));
  return typed?.replace(/=.*$/s, '') ?? dashed(key);
}

/** `-f cfg.yml` / `-o cfg.yml` / `--format cfg.yml`: the file the user meant as the positional */
function formatGivenAFile(argv: readonly string[]): { flag: string; file: string } | undefined {
  for (let i = 0; i < argv.length - 1; i++) {
    const a = argv[i]!;
    if ((a === '-f' || a === '-o' || a === '--format') && /\.(ya?ml|json)$/i.test(argv[i + 1]!)) return { flag: a, file: argv[i + 1]! };
  }
  return undefined;
}
