/**
 * Context is built once per command (design.md section 1): everything an op needs to do I/O.
 * Clients are created lazily so that commands which never talk to a service never load its code.
 */
import type { Io } from './io.js';
import type { Clock } from './clock.js';
import type { OpenStackClient } from './openstack/types.js';
import type { KubeApi } from './kube/types.js';

export interface Context {
  io: Io;
  clock: Clock;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** aborted on Ctrl-C */
  signal: AbortSignal;
  openstack(): Promise<OpenStackClient>;
  kube(): Promise<KubeApi>;
  /**
   * The second Ctrl-C stops kadd at once, in the middle of a rollback. An op registers what the user then
   * needs (where the journal is, the command that finishes the cleanup); the CLI prints every registered
   * line before it exits (issue 13.13). Returns the function that unregisters it.
   */
  onHardStop?(describe: () => string): () => void;
}
