/**
 * The top-level `kadd --help` text, rendered without yargs so that `kadd --help` and `kadd --version`
 * start in about the time of `node -e 0` plus a few small modules (yargs alone costs ~2x node's start;
 * see scripts/bench). Command help (`kadd validate --help`) still comes from yargs.
 * The content comes from the same sources yargs uses: GLOBAL_OPTIONS and the command registry.
 */
import type { CommandEntry } from '../commands/index.js';
import { GLOBAL_OPTIONS, aliasesOf } from './options.js';

export const USAGE = 'kadd <command> [options]\n\nAdd, remove and replace nodes of kubeadm Kubernetes clusters on OpenStack.';
export const COMPLETION_DESCRIBE = 'print a bash or zsh completion script (kadd completion >> ~/.bashrc)';

function wrap(text: string, width: number, indent: number): string[] {
  const words = text.split(/\s+/);
  const lines: string[] = [];
  let cur = '';
  for (const w of words) {
    if (cur && cur.length + 1 + w.length > width) {
      lines.push(cur);
      cur = w;
    } else cur = cur ? `${cur} ${w}` : w;
  }
  if (cur) lines.push(cur);
  return lines.map((l, i) => (i ? ' '.repeat(indent) + l : l));
}

function table(rows: [string, string][], width: number): string[] {
  const left = Math.max(...rows.map(([l]) => l.length)) + 2;
  const out: string[] = [];
  for (const [l, r] of rows) {
    const body = wrap(r, Math.max(20, width - left - 2), left + 2);
    out.push(`  ${l.padEnd(left)}${body.join('\n')}`.replace(/\s+$/, ''));
  }
  return out;
}

export const EXAMPLES: [string, string][] = [
  ['kadd validate cfg.yml', 'check the cluster file offline'],
  ['kadd add --dry-run --amount 3 cfg.yml', 'preflight and plan for three workers; nothing is changed'],
  ['kadd add --amount 3 cfg.yml', 'add three workers, spread over the configured zones'],
  ['kadd add --role master cfg.yml', 'add one master, etcd-aware'],
  ['kadd status cfg.yml -o json', 'servers x Nodes x pool members, as JSON'],
  ['kadd logs cfg.yml demo-node-3 --follow', 'a node\'s console log and boot diagnosis'],
];

export function renderTopHelp(commands: Record<string, CommandEntry>, width = 100): string {
  const out: string[] = [USAGE, '', 'Commands:'];
  out.push(
    ...table(
      [
        ...Object.values(commands).map((c): [string, string] => [`kadd ${c.command}`, c.describe]),
        ['kadd completion [bash|zsh]', COMPLETION_DESCRIBE],
      ],
      width,
    ),
  );
  const groups = new Map<string, [string, string][]>();
  for (const [name, o] of Object.entries(GLOBAL_OPTIONS)) {
    const flag = o.type === 'boolean' && o.default === true ? `--${name}, --no-${name}` : `--${name}`;
    const al = aliasesOf(o);
    const left = `${al.length ? `${al.map((a) => `-${a}`).join(', ')}, ` : '    '}${flag}${o.type === 'string' ? (o.choices ? ` <${o.choices.join('|')}>` : ` <${o.value ?? 'value'}>`) : ''}`;
    const extra = o.default !== undefined && o.type === 'string' ? ` (default: ${String(o.default)})` : '';
    const rows = groups.get(o.group) ?? [];
    rows.push([left, `${o.describe}${extra}`]);
    groups.set(o.group, rows);
  }
  groups.set('General:', [
    ['-h, --help', 'show help (kadd <command> --help, or kadd help <command>, for a command)'],
    ['-V, --version', 'show the version number'],
  ]);
  for (const [g, rows] of groups) out.push('', g, ...table(rows, width));
  out.push('', 'Examples:', ...table(EXAMPLES, width));
  out.push('', ...wrap('Exit codes: 0 success, 1 failed after a change (rolled back), 2 nothing changed, 3 partial success, 130 interrupted.', width, 0));
  return out.join('\n') + '\n';
}
