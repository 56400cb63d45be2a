/**
 * The command registry: name -> usage, description, and a lazy import of the module.
 *
 * `kadd --help` lists these without importing any of them; `kadd <name> ...` imports only <name>'s
 * module (so ssh2, handlebars, @kubernetes/client-node and undici load only for commands that use them).
 *
 * To add a command: write lib/commands/<name>.ts exporting `default` as a KaddCommandModule
 * (lib/cli/command.ts), then add ONE line here, e.g.
 *   add: { command: 'add [config]', describe: 'add workers or a master', load: () => import('./add.js') },
 * `command` and `describe` must match the module's own (test/cli/options.test.ts checks it).
 */
import type { KaddCommandModule } from '../cli/command.js';

export interface CommandEntry {
  command: string;
  describe: string;
  aliases?: string[];
  load: () => Promise<{ default: KaddCommandModule<any> }>;
}

export const commands: Record<string, CommandEntry> = {
  add: { command: 'add <config>', describe: 'add workers (parallel) or one master (etcd-aware) to the cluster', load: () => import('./add.js') },
  remove: { command: 'remove <config> [nodes..]', describe: 'remove workers (drained, PDB-aware) or one master (etcd-safe); nothing leaked', load: () => import('./remove.js') },
  cleanup: { command: 'cleanup <config>', describe: "delete what interrupted kadd runs left and kadd's orphaned ports, volumes (and with --servers, servers without a Node)", load: () => import('./cleanup.js') },
  status: { command: 'status <config>', describe: "show the cluster's servers, Nodes, pool members and problems (exit 1 on problems)", load: () => import('./status.js') },
  logs: { command: 'logs <config> <node>', describe: "show a server's console log and the boot diagnosis (--follow to watch)", load: () => import('./logs.js') },
  replace: { command: 'replace <config> [node]', describe: 'replace a node (surge by default, remove-first for a dead master) or roll every node to a new image, flavor or Kubernetes version', load: () => import('./replace.js') },
  heal: { command: 'heal <config>', describe: 'find unhealthy nodes and say why; --apply reboots (--reboot-first) or replaces them, within storm and quorum limits', load: () => import('./heal.js') },
  validate: { command: 'validate <config>', describe: 'check a cluster file offline and print what kadd understood', load: () => import('./validate.js') },
};
