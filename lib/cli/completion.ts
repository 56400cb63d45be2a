/**
 * Shell completion (issue 12 point 10): `kadd completion [bash|zsh]` prints a script that asks
 * `kadd __complete <words...>` for candidates. kadd completes commands, each command's flags (from its
 * own yargs builder, so a new verb is covered without a line here), the values of flags with choices
 * (--role, --format, --via...), --amount, --zone and --flavor from the cluster file on the line, and node
 * names for `kadd logs`. Nothing printed means "complete file names" (the scripts fall back to it).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Argv } from 'yargs';
import type { CommandEntry } from '../commands/index.js';
import type { KaddCommandModule } from './command.js';
import { GLOBAL_OPTIONS, type GlobalOptions } from './options.js';

export function completionScript(shell: 'bash' | 'zsh'): string {
  if (shell === 'zsh') {
    return `#compdef kadd
# kadd completion for zsh: kadd completion zsh > "\${fpath[1]}/_kadd" (or: source <(kadd completion zsh))
_kadd() {
  local -a candidates
  candidates=("\${(@f)$(kadd __complete "\${(@)words[2,CURRENT]}" 2>/dev/null)}")
  if [[ -n "\${candidates[1]}" ]]; then
    compadd -- "\${candidates[@]}"
  else
    _files
  fi
}
if [[ "\${zsh_eval_context[-1]}" == loadautofunc ]]; then _kadd "$@"; else compdef _kadd kadd; fi
`;
  }
  return `# kadd completion for bash: kadd completion >> ~/.bashrc (or: source <(kadd completion bash))
_kadd_completions() {
  local cur="\${COMP_WORDS[COMP_CWORD]}"
  local IFS=$'\\n'
  local out
  out=$(kadd __complete "\${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null)
  if [ -n "$out" ]; then
    COMPREPLY=( $(compgen -W "$out" -- "$cur") )
  else
    COMPREPLY=( $(compgen -f -- "$cur") )
  fi
}
complete -o default -F _kadd_completions kadd
`;
}

type YOpts = { key: Record<string, unknown>; alias: Record<string, string[]>; choices?: Record<string, string[]>; boolean: string[]; count?: string[]; hiddenOptions?: string[] };

/** Candidates for the last word of `words` (the words after `kadd`, the last one possibly empty). */
export async function complete(words: string[], commands: Record<string, CommandEntry>, cwd = process.cwd()): Promise<string[]> {
  const cur = words.length ? words[words.length - 1]! : '';
  const before = words.slice(0, -1);
  const globalValueFlags = new Set(Object.entries(GLOBAL_OPTIONS).flatMap(([k, o]) => (o.type === 'string' ? [`--${k}`, ...(o.alias ? [o.alias].flat().map((a) => `-${a}`) : [])] : [])));
  // the command word: the first word that is not an option or an option's value
  let cmdName: string | undefined;
  for (let i = 0; i < before.length; i++) {
    const w = before[i]!;
    if (w.startsWith('-')) {
      if (!w.includes('=') && globalValueFlags.has(w)) i++;
      continue;
    }
    cmdName = w;
    break;
  }
  const names = [...Object.keys(commands), 'completion', 'help'];
  if (!cmdName) {
    if (cur.startsWith('-')) return prefixed(cur, globalFlags());
    return prefixed(cur, names);
  }
  if (cmdName === 'completion') return before.length === 1 ? prefixed(cur, ['bash', 'zsh']) : [];
  if (cmdName === 'help') return before.length === 1 ? prefixed(cur, Object.keys(commands)) : [];
  const entry = commands[cmdName];
  if (!entry) return [];

  const mod = (await entry.load()).default as KaddCommandModule;
  const { default: yargs } = await import('yargs');
  const y = yargs([]).options(GLOBAL_OPTIONS as never) as unknown as Argv<GlobalOptions>;
  const built = (mod.builder ? mod.builder(y) : y) as unknown as { getOptions(): YOpts };
  const o = built.getOptions();
  const bools = new Set([...o.boolean, ...(o.count ?? [])]);
  const hidden = new Set(o.hiddenOptions ?? []);
  const aliasOf = (name: string): string => {
    if (o.key[name] !== undefined && !Object.values(o.alias).some((v) => v.includes(name) && v.length && name.length === 1)) return name;
    for (const [k, v] of Object.entries(o.alias)) if (v.includes(name)) return [k, ...v].reduce((a, c) => (c.length > a.length ? c : a));
    return name;
  };
  const positionalNames = [...mod.command.matchAll(/[<[]([^\]>.]+)/g)].map((m) => m[1]!);

  // the value of the flag before the cursor
  const prev = before[before.length - 1];
  if (prev && prev.startsWith('-') && !prev.includes('=') && before.length > 1) {
    const key = aliasOf(prev.replace(/^-+/, ''));
    if (o.key[key] !== undefined && !bools.has(key)) return prefixed(cur, await valuesFor(key, o, words, cwd));
  }
  if (cur.startsWith('-')) {
    const used = new Set(before.filter((w) => w.startsWith('--')).map((w) => w.replace(/=.*$/s, '')));
    const flags = Object.keys(o.key)
      .filter((k) => k.length > 1 && !/[A-Z]/.test(k) && !positionalNames.includes(k) && !hidden.has(k) && k !== '$0')
      .map((k) => `--${k}`)
      .filter((f) => !used.has(f) || f === '--column' || f === '--verbose');
    const neg = Object.keys(o.key).filter((k) => bools.has(k) && k.length > 1 && !/[A-Z]/.test(k) && (o as { default?: Record<string, unknown> }).default?.[k] === true).map((k) => `--no-${k}`);
    return prefixed(cur, [...flags, ...neg, '--help']);
  }
  // positionals: the n-th non-option word after the command
  const after = before.slice(before.indexOf(cmdName) + 1);
  const positionals: string[] = [];
  for (let i = 0; i < after.length; i++) {
    const w = after[i]!;
    if (w.startsWith('-')) {
      const key = aliasOf(w.replace(/^-+/, '').replace(/=.*$/s, ''));
      if (!w.includes('=') && o.key[key] !== undefined && !bools.has(key)) i++;
      continue;
    }
    positionals.push(w);
  }
  const slot = positionalNames[positionals.length];
  if (slot === 'node') {
    const cfg = positionals[0];
    return prefixed(cur, cfg ? await nodeNames(cfg, cwd) : []);
  }
  return []; // a file (the cluster file): the shell completes file names
}

function globalFlags(): string[] {
  return [...Object.keys(GLOBAL_OPTIONS).map((k) => `--${k}`), '--no-color', '--help', '--version'];
}

function prefixed(cur: string, list: string[]): string[] {
  return [...new Set(list)].filter((x) => x.startsWith(cur)).sort();
}

/** the cluster file on the line: the first word ending in .yml/.yaml that exists */
async function clusterFile(words: string[], cwd: string) {
  const f = words.find((w) => /\.ya?ml$/i.test(w) && existsSync(resolve(cwd, w)));
  if (!f) return undefined;
  try {
    const { loadClusterConfig } = await import('../config/load.js');
    return (await loadClusterConfig(resolve(cwd, f))).config;
  } catch {
    return undefined;
  }
}

async function valuesFor(key: string, o: YOpts, words: string[], cwd: string): Promise<string[]> {
  const choices = o.choices?.[key];
  if (choices?.length) return key === 'role' ? [...choices, 'worker'] : choices;
  if (key === 'amount') return ['1', '2', '3', '5', '10'];
  if (key === 'zone' || key === 'flavor') {
    const cfg = await clusterFile(words, cwd);
    if (!cfg) return [];
    if (key === 'zone') return cfg.availabilityZones ?? [];
    return [cfg.nodeFlavor, cfg.masterFlavor].filter((x): x is string => typeof x === 'string' && !!x);
  }
  if (key === 'timeout' || key === 'boot-timeout' || key === 'request-timeout' || key === 'token-ttl') return ['90s', '5m', '10m', '20m', '1h'];
  return [];
}

async function nodeNames(cfgPath: string, cwd: string): Promise<string[]> {
  const cfg = await clusterFile([cfgPath], cwd);
  if (!cfg) return [];
  const out: string[] = [];
  for (let i = 1; i <= cfg.nMasters; i++) out.push(`${cfg.clusterName}-master-${i}`);
  for (let i = 1; i <= cfg.nNodes; i++) out.push(`${cfg.clusterName}-node-${i}`);
  return out;
}
