/** How long a simulated operation takes (its own file: the contract and the workload controllers both use it). */
export type LatencySpec =
  | number
  | { fixed: number }
  | { uniform: [number, number] }
  | { normal: { mean: number; stddev: number; min?: number } };
