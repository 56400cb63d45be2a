/** Scenario loading: a Scenario object, a YAML file path, or YAML text. Validated with one-line errors. */
import { readFileSync, existsSync } from 'node:fs';
import { load } from 'js-yaml';
import type { LatencySpec, Scenario } from './contract.js';

export class ScenarioError extends Error {}

export function loadScenario(input: Scenario | string | undefined): Scenario {
  let sc: unknown;
  if (input === undefined) sc = {};
  else if (typeof input === 'string') {
    const looksLikePath = !input.includes('\n') && /\.(ya?ml|json)$/i.test(input.trim());
    let text = input;
    if (looksLikePath) {
      if (!existsSync(input)) throw new ScenarioError(`scenario file ${input} does not exist; give a YAML path or YAML text`);
      text = readFileSync(input, 'utf8');
    }
    try {
      sc = load(text) ?? {};
    } catch (e) {
      throw new ScenarioError(`scenario is not valid YAML: ${(e as Error).message.split('\n')[0]}`);
    }
  } else sc = structuredClone(input);
  if (typeof sc !== 'object' || sc === null || Array.isArray(sc)) throw new ScenarioError('scenario must be a YAML mapping');
  validate(sc as Scenario);
  return sc as Scenario;
}

function checkLatency(where: string, spec: unknown): void {
  if (spec === undefined) return;
  const ok =
    (typeof spec === 'number' && spec >= 0) ||
    (typeof spec === 'object' && spec !== null &&
      (('fixed' in spec && typeof (spec as { fixed: unknown }).fixed === 'number') ||
        ('uniform' in spec && Array.isArray((spec as { uniform: unknown }).uniform) && (spec as { uniform: unknown[] }).uniform.length === 2 &&
          (spec as { uniform: unknown[] }).uniform.every((x) => typeof x === 'number')) ||
        ('normal' in spec && typeof (spec as { normal: { mean?: unknown } }).normal?.mean === 'number' &&
          typeof (spec as { normal: { stddev?: unknown } }).normal?.stddev === 'number')));
  if (!ok) throw new ScenarioError(`scenario ${where}: latency must be a number of ms, {fixed: ms}, {uniform: [lo, hi]} or {normal: {mean, stddev}}`);
}

function validate(sc: Scenario): void {
  if (sc.seed !== undefined && !Number.isInteger(sc.seed)) throw new ScenarioError('scenario seed must be an integer');
  if (sc.timeScale !== undefined && !(typeof sc.timeScale === 'number' && sc.timeScale > 0))
    throw new ScenarioError('scenario timeScale must be a number > 0 (e.g. 0.01 for tests)');
  const lat = sc.latency ?? {};
  for (const [k, v] of Object.entries(lat)) {
    if (k === 'request') {
      for (const [svc, spec] of Object.entries((v ?? {}) as Record<string, unknown>)) checkLatency(`latency.request.${svc}`, spec);
    } else checkLatency(`latency.${k}`, v as LatencySpec);
  }
  const f = sc.faults ?? {};
  const rateList = (name: string, list: unknown): void => {
    if (list === undefined) return;
    if (!Array.isArray(list)) throw new ScenarioError(`scenario faults.${name} must be a list`);
    list.forEach((r: { service?: unknown; rate?: unknown; path?: unknown }, i) => {
      if (typeof r?.service !== 'string') throw new ScenarioError(`scenario faults.${name}[${i}].service is required (e.g. compute, network, volume, image, load-balancer, identity, kube)`);
      if (typeof r.rate !== 'number' || r.rate < 0 || r.rate > 1) throw new ScenarioError(`scenario faults.${name}[${i}].rate must be a probability between 0 and 1`);
      if (r.path !== undefined) {
        try { new RegExp(String(r.path)); } catch { throw new ScenarioError(`scenario faults.${name}[${i}].path is not a valid regular expression`); }
      }
    });
  };
  rateList('errorRates', f.errorRates);
  rateList('rateLimit', f.rateLimit);
  for (const [i, e] of (f.serverError ?? []).entries()) {
    if (typeof e?.name !== 'string' || typeof e.message !== 'string') throw new ScenarioError(`scenario faults.serverError[${i}] needs name (regex) and message`);
  }
  for (const [i, e] of (f.volumeError ?? []).entries()) {
    if (typeof e?.name !== 'string') throw new ScenarioError(`scenario faults.volumeError[${i}] needs name (regex)`);
  }
  for (const [i, o] of (f.outages ?? []).entries()) {
    if (typeof o?.service !== 'string' || typeof o.from !== 'number' || typeof o.to !== 'number' || o.to < o.from)
      throw new ScenarioError(`scenario faults.outages[${i}] needs service, from and to (seconds, from <= to)`);
  }
  if (f.quota) for (const [k, v] of Object.entries(f.quota)) {
    if (!Number.isInteger(v)) throw new ScenarioError(`scenario faults.quota.${k} must be an integer (-1 for unlimited)`);
  }
  for (const [i, r] of (f.volumeStaysAttached ?? []).entries()) {
    try { new RegExp(String(r)); } catch { throw new ScenarioError(`scenario faults.volumeStaysAttached[${i}] is not a valid regular expression`); }
  }
  for (const [i, e] of (f.lbHold ?? []).entries()) {
    if (typeof e?.lb !== 'string' || typeof e.at !== 'number' || typeof e.for !== 'number' || e.for < 0 || (e.status !== undefined && !['PENDING_UPDATE', 'ERROR'].includes(e.status)))
      throw new ScenarioError(`scenario faults.lbHold[${i}] needs lb (name regex or id), at and for (seconds), and optionally status PENDING_UPDATE or ERROR`);
  }
  for (const [i, e] of (f.serverState ?? []).entries()) {
    if (typeof e?.name !== 'string' || typeof e.at !== 'number' || !['SHUTOFF', 'ERROR'].includes(e.status)) throw new ScenarioError(`scenario faults.serverState[${i}] needs name (regex), at (seconds) and status SHUTOFF or ERROR`);
  }
  for (const [i, e] of (f.nodes ?? []).entries()) {
    if (typeof e?.node !== 'string' || typeof e.at !== 'number' || !['Unreachable', 'NotReady', 'Ready'].includes(e.state) || (e.for !== undefined && !(typeof e.for === 'number' && e.for >= 0)))
      throw new ScenarioError(`scenario faults.nodes[${i}] needs node (regex), at (seconds), state Unreachable, NotReady or Ready, and optionally for (seconds)`);
  }
  for (const [i, r] of (f.rebootDoesNotHeal ?? []).entries()) {
    try { new RegExp(String(r)); } catch { throw new ScenarioError(`scenario faults.rebootDoesNotHeal[${i}] is not a valid regular expression`); }
  }
  const k = sc.kube;
  if (k) {
    for (const key of ['podStartup', 'podTermination', 'volumeAttach', 'volumeDetach', 'nodeMonitorGrace', 'kubeletRestart'] as const) checkLatency(`kube.${key}`, k[key]);
    if (k.workloads !== undefined && !Array.isArray(k.workloads)) throw new ScenarioError('scenario kube.workloads must be a list');
    for (const [i, w] of (k.workloads ?? []).entries()) {
      if (typeof w?.name !== 'string' || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(w.name)) throw new ScenarioError(`scenario kube.workloads[${i}].name must be a DNS label`);
      if (w.kind !== undefined && !['Deployment', 'DaemonSet', 'Static', 'Bare'].includes(w.kind)) throw new ScenarioError(`scenario kube.workloads[${i}].kind must be Deployment, DaemonSet, Static or Bare`);
    }
  }
  const c = sc.cluster;
  if (c) {
    if (c.name !== undefined && !/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(c.name)) throw new ScenarioError('scenario cluster.name must be a DNS label (lowercase letters, digits, dashes)');
    for (const k of ['masters', 'nodes'] as const) {
      const v = c[k];
      if (v !== undefined && !(Number.isInteger(v) && v >= 0)) throw new ScenarioError(`scenario cluster.${k} must be an integer >= 0`);
    }
  }
  const e = sc.etcd;
  if (e) {
    if (e.memberName !== undefined && !(typeof e.memberName === 'string' && /^[A-Za-z0-9{}._-]+$/.test(e.memberName))) throw new ScenarioError("scenario etcd.memberName must be a name template with {node} and/or {ip} (e.g. '{node}.novalocal')");
    for (const [i, r] of (e.leaderReturns ?? []).entries()) {
      if (typeof r?.member !== 'string') throw new ScenarioError(`scenario etcd.leaderReturns[${i}].member (name regex) is required`);
      try { new RegExp(r.member); } catch { throw new ScenarioError(`scenario etcd.leaderReturns[${i}].member is not a valid regular expression`); }
    }
  }
  const hpz = sc.compute?.hostsPerZone;
  if (hpz !== undefined && !(Number.isInteger(hpz) && hpz >= 1 && hpz <= 1000)) throw new ScenarioError('scenario compute.hostsPerZone must be an integer from 1 to 1000');
  if (sc.identity?.tokenTtl !== undefined && !(typeof sc.identity.tokenTtl === 'number' && sc.identity.tokenTtl > 0))
    throw new ScenarioError('scenario identity.tokenTtl must be a number of seconds > 0');
}

/** Canonical service name for scenario matching: accepts project names too (nova, neutron, cinder, ...). */
export function canonicalService(s: string): string {
  const m: Record<string, string> = {
    keystone: 'identity', nova: 'compute', neutron: 'network', cinder: 'volume', volumev3: 'volume', 'block-storage': 'volume',
    glance: 'image', octavia: 'load-balancer', loadbalancer: 'load-balancer', kubernetes: 'kube', k8s: 'kube',
  };
  const l = s.toLowerCase();
  return m[l] ?? l;
}
