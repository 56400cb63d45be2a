/**
 * kadd add --role node (design.md section 3), one import for the whole op:
 *
 *   preflight(ctx, req)      -> Observed      (read-only I/O, all problems at once)   add-workers-preflight.ts
 *   plan(req, observed)      -> Plan          (pure)                                  add-workers-plan.ts
 *   execute(plan, ctx, deps) -> Result        (side effects, journaled, rolled back)  add-workers-execute.ts
 *                                                (its waiters: add-workers-watch.ts)
 * The run around it (lock, journal, leftovers, dry run) is lib/ops/add-workers-run.ts.
 */
export * from './add-workers-plan.js';
export * from './add-workers-preflight.js';
export * from './add-workers-execute.js';
export { ServerErrorState, VolumeErrorState } from './add-workers-watch.js';
