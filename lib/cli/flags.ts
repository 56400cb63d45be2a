/**
 * Guards on the raw command line that yargs cannot express, applied by main.ts to every command (so a
 * new verb inherits them). Dependency-free: main.ts loads this on every invocation.
 *
 * Boolean flags: yargs reads `--flag=<anything but "true">` as false. `--dry-run=client` (kubectl's habit)
 * therefore ran a real add. Here a boolean flag given a value accepts exactly true/false (and yes/no, 1/0);
 * `--dry-run=client` and `--dry-run=server` mean dry run; anything else is refused (exit 2, no API call).
 */
import { UsageError } from '../errors.js';

/** Values kubectl accepts for --dry-run that mean "do not change anything". */
const DRY_RUN_WORDS = new Set(['client', 'server']);
const TRUE_WORDS = new Set(['true', 'yes', '1']);
const FALSE_WORDS = new Set(['false', 'no', '0']);

export interface BooleanFlagInfo {
  /** every boolean option key yargs knows for this command (global and the command's own) */
  booleans: readonly string[];
  /** yargs' alias table: key -> other names */
  aliases: Record<string, readonly string[]>;
}

/** name (as typed, without dashes) -> canonical boolean key, aliases and camel-case included */
function booleanNames(info: BooleanFlagInfo): Map<string, string> {
  const names = new Map<string, string>();
  const bools = new Set(info.booleans);
  for (const b of bools) names.set(b, b);
  for (const [k, others] of Object.entries(info.aliases)) {
    const group = [k, ...others];
    const canon = group.filter((g) => bools.has(g) && !/[A-Z]/.test(g)).sort((a, b) => b.length - a.length)[0];
    if (!canon) continue;
    for (const g of group) names.set(g, canon);
  }
  return names;
}

export interface BooleanOverride {
  key: string;
  value: boolean;
}

/**
 * Check `--flag=value` / `--no-flag=value` / `-f=value` for boolean flags in the raw argv. Returns the
 * values to set (yargs already parsed them, wrongly, as false); throws UsageError for a refused value.
 */
export function checkBooleanValues(argv: readonly string[], info: BooleanFlagInfo): BooleanOverride[] {
  const names = booleanNames(info);
  const out: BooleanOverride[] = [];
  for (const a of argv) {
    if (a === '--') break;
    const m = /^(--?)(no-)?([^=]+)=(.*)$/s.exec(a);
    if (!m) continue;
    const dashes = m[1]!;
    const neg = m[2];
    const name = m[3]!;
    const raw = m[4]!;
    const key = names.get(name);
    if (!key) continue;
    const flag = `${dashes}${neg ?? ''}${name}`;
    const v = raw.trim().toLowerCase();
    if (neg) {
      throw new UsageError(`${flag} takes no value, got ${JSON.stringify(raw)}`, { hint: `write ${flag} alone (or --${name}=false)` });
    }
    if (key === 'dry-run' && DRY_RUN_WORDS.has(v)) {
      out.push({ key, value: true });
      continue;
    }
    if (TRUE_WORDS.has(v)) out.push({ key, value: true });
    else if (FALSE_WORDS.has(v)) out.push({ key, value: false });
    else if (key === 'dry-run') {
      throw new UsageError(`--dry-run takes no value or one of client, server, true, false; got ${JSON.stringify(raw)}`, {
        hint: 'write --dry-run (client and server mean the same: nothing is changed); leave it out for a real run',
      });
    } else {
      throw new UsageError(`${flag} is an on/off flag, got ${JSON.stringify(raw)}`, { hint: `write ${flag} or --no-${key} (or ${flag}=true / ${flag}=false)` });
    }
  }
  return out;
}

/** Set a boolean override on the parsed arguments under every name yargs gave it (aliases, camelCase). */
export function applyBooleanOverride(args: Record<string, unknown>, o: BooleanOverride, info: BooleanFlagInfo): void {
  const group = new Set<string>([o.key, ...(info.aliases[o.key] ?? [])]);
  for (const [k, others] of Object.entries(info.aliases)) if (k === o.key || others.includes(o.key)) for (const g of [k, ...others]) group.add(g);
  for (const g of group) {
    args[g] = o.value;
    const camel = g.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    if (camel !== g) args[camel] = o.value;
  }
}

/**
 * For yargs' "Unknown argument: client" after `--dry-run client`: the word that followed an on/off flag.
 * Returns a hint, or undefined when no boolean flag precedes one of the unknown words.
 */
export function booleanFollowedByWord(argv: readonly string[], unknown: readonly string[], info: BooleanFlagInfo): string | undefined {
  const names = booleanNames(info);
  for (let i = 0; i < argv.length - 1; i++) {
    const a = argv[i]!;
    if (a === '--') break;
    const m = /^--?(?:no-)?([^=]+)$/.exec(a);
    if (!m || !names.has(m[1]!)) continue;
    const next = argv[i + 1]!;
    if (next.startsWith('-')) continue;
    if (unknown.includes(next) || names.get(m[1]!) === 'dry-run') {
      return names.get(m[1]!) === 'dry-run'
        ? `--dry-run takes no separate value: write --dry-run or --dry-run=${next} (client and server mean the same)`
        : `${a} is an on/off flag and takes no value: ${JSON.stringify(next)} was read as an argument`;
    }
  }
  return undefined;
}
