/**
 * A stale cluster file (issue 12 point 5): the `*.updated.yml` an earlier add wrote was not copied back, so
 * the file says 2 workers while the cluster has 6, and the next add would write 3. `add` compares the
 * file's count of the role it adds with the cluster before it changes anything and refuses (exit 2) with
 * both counts and the fix; `--accept-drift` goes on and counts from the cluster (the updated file then
 * says what exists + what this run added).
 *
 * The cluster's count: the role's servers by kadd's naming (`<cluster>-<role>-N`), for masters united with
 * the control-plane Nodes of that name, minus what the journal records as left over by an unfinished run
 * (those are resumed or cleaned up, never counted). Workers: from the preflight's own server list (no extra
 * request); masters: from the read-only look that also decides the 1 -> 2 question (lib/ops/availability.ts).
 * The check runs after the cluster lock, so that a concurrent kadd is reported as such, not as drift.
 */
import type { ClusterConfig } from '../config/types.js';
import type { Io } from '../io.js';
import { KaddError } from '../errors.js';
import { updatedConfigPath } from '../config/write.js';
import { indexOf, type Role } from './naming.js';

export interface DriftOptions {
  /** --accept-drift */
  accept: boolean;
  /** the cluster file as given (messages) */
  configArg: string;
}

const KEY: Record<Role, 'n-masters' | 'n-nodes'> = { master: 'n-masters', node: 'n-nodes' };
const WORD: Record<Role, string> = { master: 'master', node: 'worker' };

/** Pure: the machines of `role` in the cluster, by kadd's naming: servers ∪ Nodes, minus `exclude`. */
export function clusterCount(cluster: string, role: Role, serverNames: string[], nodeNames: string[] = [], exclude: Iterable<string> = []): number {
  const ex = new Set(exclude);
  const names = new Set([...serverNames, ...nodeNames].filter((n) => indexOf(cluster, role, n) !== null && !ex.has(n)));
  return names.size;
}

/** Pure: the one-line error for a file whose count disagrees with the cluster. */
export function driftError(configArg: string, role: Role, file: number, cluster: number): KaddError {
  const key = KEY[role];
  return new KaddError(
    'E_CONFIG_DRIFT',
    `${configArg} says ${key}: ${file}, the cluster has ${cluster} ${WORD[role]}${cluster === 1 ? '' : 's'}: the cluster file is stale; nothing was changed`,
    2,
    {
      hint: `copy the updated file an earlier run wrote back (\`cp ${updatedConfigPath(configArg)} ${configArg}\`), or pass --accept-drift to count from the cluster (${key}: ${cluster} + what this run adds)`,
    },
  );
}

/**
 * Compare the file's count of `role` with the cluster's. Equal: the config unchanged. Different: refused
 * (exit 2), or with --accept-drift a warning and the config counting from the cluster.
 */
export function reconcileCount(io: Io, config: ClusterConfig, role: Role, counted: number, o: DriftOptions): ClusterConfig {
  const file = role === 'master' ? config.nMasters : config.nNodes;
  if (file === counted) return config;
  const err = driftError(o.configArg, role, file, counted);
  if (!o.accept) throw err;
  io.log('warn', `${err.message.replace(/; nothing was changed$/, '')}; --accept-drift: counting from the cluster (${KEY[role]}: ${counted})`);
  return role === 'master' ? { ...config, nMasters: counted } : { ...config, nNodes: counted };
}
