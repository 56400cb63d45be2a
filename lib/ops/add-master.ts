/**
 * kadd add --role master (design.md section 4): one control-plane node per run, etcd-aware. One import for
 * the whole op:
 *
 *   preflight(ctx, req, os, kube, etcd) -> MasterObserved   (read-only I/O)          add-master-run.ts
 *   planMaster(req, observed)           -> AddMasterPlan    (pure)                   add-master-plan.ts
 *   executeMaster(ctx, req, plan, ...)  -> AddMasterResult  (journaled, rolled back) add-master-execute.ts
 *                                                              (its watch: add-master-watch.ts)
 *   addMasterVerb(ctx, options)         the verb the one runner (engine/runner.ts) runs:
 *                                        lock, leftovers/--cleanup, etcd access, the three above  add-master-verb.ts
 */
export * from './add-master-plan.js';
export * from './add-master-run.js';
export * from './add-master-execute.js';
export * from './add-master-verb.js';
export { refineStall } from './add-master-watch.js';
