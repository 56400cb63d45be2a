/**
 * kadd replace: Kubernetes versions (pure). Patch or +1 minor only, never down, never across a major (kubeadm's
 * upgrade rule); workers never newer than the oldest control-plane node (the skew gate).
 */

export interface Version { major: number; minor: number; patch: number; text: string }

export function parseVersion(v: string | undefined): Version | null {
  const m = /^v?(\d+)\.(\d+)\.(\d+)(?:[-+].*)?$/.exec((v ?? '').trim());
  if (!m) return null;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), text: `${m[1]}.${m[2]}.${m[3]}` };
}

export function compareVersions(a: Version, b: Version): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch;
}

/** Patch or +1 minor only, never down, never across a major (kubeadm's upgrade rule). */
export function checkVersionChange(from: string, to: string): { kind: 'patch' | 'minor' | 'none' } | { error: string } {
  const f = parseVersion(from);
  const t = parseVersion(to);
  if (!f) return { error: `the control plane's version ${JSON.stringify(from)} could not be read` };
  if (!t) return { error: `--k8s-version ${JSON.stringify(to)} is not a Kubernetes version` };
  if (t.major !== f.major) return { error: `--k8s-version ${t.text}: changing the major version (${f.text} -> ${t.text}) is not supported` };
  if (compareVersions(t, f) < 0) return { error: `--k8s-version ${t.text} is older than the control plane's ${f.text}; kadd never downgrades (restore from a backup instead)` };
  if (t.minor === f.minor) return { kind: t.patch === f.patch ? 'none' : 'patch' };
  if (t.minor === f.minor + 1) return { kind: 'minor' };
  return { error: `--k8s-version ${t.text} skips a minor version (control plane at ${f.text}); upgrade one minor at a time: first to 1.${f.minor + 1}.x` };
}

/**
 * Version-skew gate: a worker may never be newer than the oldest control-plane node (Kubernetes skew policy,
 * CAPI MachineSet preflight KubernetesVersionSkew). Returns the problem, or undefined.
 */
export function skewProblem(workerVersion: string, controlPlaneVersions: (string | undefined)[]): string | undefined {
  const w = parseVersion(workerVersion);
  const cps = controlPlaneVersions.map(parseVersion).filter((v): v is Version => !!v);
  if (!w || cps.length === 0) return undefined;
  const oldest = cps.reduce((a, b) => (compareVersions(a, b) <= 0 ? a : b));
  if (compareVersions(w, oldest) > 0) {
    return `a worker at ${w.text} would be newer than the control plane (oldest master at ${oldest.text}); replace the masters first (kadd replace --all --role master --k8s-version ${w.text})`;
  }
  return undefined;
}
