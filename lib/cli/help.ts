/**
 * The top-level `kadd --help` text, rendered without yargs so that `kadd --help` and `kadd --version`
 * start in about the time of `node -e 0` plus a few small modules (yargs alone costs ~2x node's start;
 * see scripts/bench). Command help (`kadd validate --help`) still comes from yargs.
 * The content comes from the same sources yargs uses: GLOBAL_OPTIONS and the command registry.
 */
import type { CommandEntry } from '../commands/index.js';
import { GLOBAL_OPTIONS } from './options.js';

export const USAGE = 'kadd <command> [options]\n\nAdd, remove and replace nodes of kubeadm Kubernetes clusters on OpenStack.';
export const COMPLETION_DESCRIBE = 'print a bash/zsh completion script (kadd completion >> ~/.bashrc)';

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

export function renderTopHelp(commands: Record<string, CommandEntry>, width = 100): string {
  const out: string[] = [USAGE, '', 'Commands:'];
  out.push(
    ...table(
      [
        ...Object.values(commands).map((c): [string, string] => [`kadd ${c.command}`, c.describe]),
        ['kadd completion', COMPLETION_DESCRIBE],
      ],
      width,
    ),
  );
  const groups = new Map<string, [string, string][]>();
  for (const [name, o] of Object.entries(GLOBAL_OPTIONS)) {
    const flag = o.type === 'boolean' && o.default === true ? `--no-${name}` : `--${name}`;
    const left = `${o.alias ? `-${o.alias}, ` : '    '}${flag}${o.type === 'string' ? (o.choices ? ` <${o.choices.join('|')}>` : ` <${o.value ?? 'value'}>`) : ''}`;
    const extra = o.default !== undefined && o.type === 'string' ? ` (default: ${String(o.default)})` : '';
    const rows = groups.get(o.group) ?? [];
    rows.push([left, `${o.type === 'boolean' && o.default === true ? o.describe.replace(/^colour output \(--no-color or NO_COLOR to disable\)$/, 'no colours (also NO_COLOR=1)') : o.describe}${extra}`]);
    groups.set(o.group, rows);
  }
  groups.set('Options:', [
    ['    --version', 'show the version'],
    ['-h, --help', 'show help (kadd <command> --help for a command)'],
  ]);
  for (const [g, rows] of groups) out.push('', g, ...table(rows, width));
  return out.join('\n') + '\n';
}
