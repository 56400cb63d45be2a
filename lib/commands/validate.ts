/**
 * kadd validate CONFIG [--strict]: check a cluster file offline and print what kadd understood
 * (the effective configuration, defaults filled in, in the file's own key names).
 * Warnings go to stderr; exit 0 when valid, 2 when not. No network access.
 */
import type { Argv } from 'yargs';
import type { KaddCommandModule, CommandArgs } from '../cli/command.js';
import { configPositional, strictOption, type GlobalOptions } from '../cli/options.js';
import { withClusterFile, type CliContextDeps } from '../cli/context.js';
import { renderFor } from '../cli/output.js';
import type { ClusterConfig } from '../config/types.js';
import { redactValue } from '../redact.js';

interface ValidateArgs {
  config: string;
  strict: boolean;
}

/** The effective configuration in the cluster file's vocabulary (can be saved and read back). */
export function effectiveConfig(c: ClusterConfig): Record<string, unknown> {
  const ssh: Record<string, unknown> = { user: c.ssh.user, port: c.ssh.port };
  if (c.ssh.privateKey) ssh.private_key = c.ssh.privateKey; // a path, not the key
  if (c.ssh.bastion) ssh.bastion = { ...c.ssh.bastion };
  if (c.ssh.knownHosts) ssh.known_hosts = c.ssh.knownHosts;
  if (Object.keys(c.ssh.hostKeys).length) ssh.host_keys = c.ssh.hostKeys;
  return {
    'cluster-name': c.clusterName,
    'n-masters': c.nMasters,
    'n-nodes': c.nNodes,
    keypair: c.keypair,
    master_flavor: c.masterFlavor,
    node_flavor: c.nodeFlavor,
    'availability-zones': c.availabilityZones,
    image: c.image,
    ...(c.storageClass !== undefined ? { storage_class: c.storageClass } : {}),
    private_net: {
      name: c.privateNet.name,
      subnet: { name: c.privateNet.subnet.name, cidr: c.privateNet.subnet.cidr, router: { name: c.privateNet.subnet.router.name } },
    },
    loadbalancer: { ...c.loadbalancer },
    version: { k8s: c.version.k8s || null },
    pod_subnet: c.podSubnet,
    pod_network: c.podNetwork,
    ...(c.addons !== undefined ? { addons: redactValue(c.addons) } : {}),
    volume_size: c.volumeSize,
    security_group: c.securityGroup,
    ...(c.serverGroup !== undefined ? { server_group: c.serverGroup } : {}),
    ssh,
    node_labels: c.nodeLabels,
    node_taints: c.nodeTaints.map((t) => `${t.key}${t.value !== undefined ? `=${t.value}` : ''}:${t.effect}`),
  };
}

const validate: KaddCommandModule<ValidateArgs> = {
  command: 'validate <config>',
  describe: 'check a cluster file offline and print what kadd understood',
  builder: (y: Argv<GlobalOptions>) =>
    strictOption(configPositional(y), 'treat unknown keys as errors')
      .example('kadd validate cfg.yml', 'check cfg.yml and show the effective settings')
      .example('kadd validate cfg.yml -f yaml', 'print the effective config with defaults filled in') as unknown as Argv<GlobalOptions & ValidateArgs>,
  handler: (argv: CommandArgs<ValidateArgs>, deps?: CliContextDeps) =>
    withClusterFile(argv, deps, async (ctx, config, warnings) => {
      const data = effectiveConfig(config);
      // the effective config holds no secrets (user_data is not carried; addons are redacted above);
      // key-based redaction would hide the ssh.private_key *path*, which the operator needs to see
      ctx.io.result(renderFor(argv, data, undefined, { redactKeys: false }));
      ctx.io.log(
        'info',
        `${argv.config}: valid (cluster ${config.clusterName}: ${config.nMasters} master${config.nMasters === 1 ? '' : 's'}, ${config.nNodes} worker${config.nNodes === 1 ? '' : 's'}${warnings ? `; ${warnings} warning${warnings === 1 ? '' : 's'}` : ''})`,
      );
      return 0;
    }, { plainWarnings: true }),
};

export default validate;
