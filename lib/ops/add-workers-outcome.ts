/**
 * kadd add --role node, each node's lifecycle: the stages it goes through (lib/ops/engine/events.ts
 * NodeStages, emitted by add-workers-execute.ts) and the outcome they end in (`-f json` `outcomes`).
 *
 *   add (root: spans the node; the TTY line closes on it)
 *     port, volume (created and available), server (the create request), active (until ACTIVE),
 *     join (until the Node is Ready; skipped with --no-wait), rollback (after a failure, or before the retry
 *     of a server that went to ERROR)
 */
import type { NodeOutcome, NodeStages } from './engine/events.js';

/** The stage that spans a node's whole add. */
export const ROOT = 'add';

/**
 * The lifecycle outcome of one node: `added` (joined, or ACTIVE with --no-wait), `kept` (--keep-failed),
 * `rolled-back` (failed, everything it had deleted), `failed` (the rollback left something, named in the
 * error), `skipped` (Ctrl-C before it started). `n` is add-workers-execute.ts' NodeResult (structural: no import cycle).
 */
export function workerOutcome(n: { name: string; outcome: string; cause?: string }, st: NodeStages): NodeOutcome {
  const node = n.name;
  const stages = st.through(ROOT);
  const error = n.cause ?? (n.outcome === 'interrupted' ? 'interrupted' : 'failed');
  if (n.outcome === 'joined' || n.outcome === 'active') return { node, outcome: 'added', stages };
  if (n.outcome === 'kept') return { node, outcome: 'kept', stages, reason: `--keep-failed: ${error}` };
  if (n.outcome === 'interrupted' && !stages.length) return { node, outcome: 'skipped', stages, reason: 'interrupted before it started' };
  const rollback = stages.filter((s) => s.stage === 'rollback').at(-1);
  if (n.outcome === 'failed' || rollback?.state === 'failed') {
    const stage = [...stages].reverse().find((s) => s.state === 'failed')?.stage;
    return { node, outcome: 'failed', stages, error, ...(stage ? { stage } : {}) };
  }
  return { node, outcome: 'rolled-back', stages, error };
}
