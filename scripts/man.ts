/**
 * Generate man/kadd.1 from kadd's own help (the top-level help and each command's --help), so the man
 * page cannot drift from the CLI: `npm run man` writes it, test/cli/man.test.ts checks it is current.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { commands } from '../lib/commands/index.js';
import { renderTopHelp } from '../lib/cli/help.js';
import { kaddVersion, main } from '../lib/cli/main.js';

const ROOT = join(import.meta.dirname, '..');

/** roff-escape one line of plain text */
function esc(line: string): string {
  const s = line.replace(/\\/g, '\\e').replace(/-/g, '\\-');
  return /^[.']/.test(s) ? `\\&${s}` : s;
}

async function commandHelp(name: string): Promise<string> {
  let out = '';
  const ow = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((c: string | Uint8Array) => ((out += String(c)), true)) as typeof process.stdout.write;
  try {
    // width 80 whatever the terminal: the page is the same wherever it is generated
    await main([name, '--help'], { env: { NO_COLOR: '1' }, stdout: { write: (c: string) => ((out += c), true), columns: 80 } as never });
  } finally {
    process.stdout.write = ow;
  }
  return out;
}

export async function renderMan(): Promise<string> {
  const top = renderTopHelp(commands, 80).split('\n');
  const lines: string[] = [
    `.TH KADD 1 "" "kadd ${kaddVersion()}" "User Commands"`,
    '.SH NAME',
    'kadd \\- add, remove and replace nodes of kubeadm Kubernetes clusters on OpenStack, etcd\\-aware',
    '.SH SYNOPSIS',
    '.B kadd',
    '.I command',
    '[options]',
    '.SH DESCRIPTION',
    '.nf',
    ...top.slice(3).map(esc),
    '.fi',
    '.SH COMMANDS',
  ];
  for (const name of Object.keys(commands)) {
    lines.push(`.SS kadd ${esc(commands[name]!.command)}`, '.nf', ...(await commandHelp(name)).trimEnd().split('\n').map(esc), '.fi');
  }
  lines.push(
    '.SH ENVIRONMENT',
    'OS_CLOUD, OS_CLIENT_CONFIG_FILE and the OS_* variables of an openrc; KUBECONFIG; NO_COLOR; FORCE_COLOR.',
    '.SH FILES',
    'clouds.yaml and secure.yaml (./, ~/.config/openstack/, /etc/openstack/); ~/.kube/config; the cluster file and its journal next to it.',
    '.SH SEE ALSO',
    'openstack(1), kubectl(1), kubeadm(1), etcdctl(1)',
  );
  return lines.join('\n') + '\n';
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  mkdirSync(join(ROOT, 'man'), { recursive: true });
  writeFileSync(join(ROOT, 'man', 'kadd.1'), await renderMan());
  process.stdout.write('wrote man/kadd.1\n');
}
