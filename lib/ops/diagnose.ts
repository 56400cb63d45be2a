/**
 * Diagnosis of a failed or slow boot (design.md section 7): Nova fault, console-log tail,
 * cloud-init / kubeadm markers -> a named likely cause and the next step. Pure.
 */
import { redactText } from '../redact.js';

export type Cause =
  | 'no-valid-host'
  | 'quota'
  | 'image'
  | 'volume'
  | 'nova-fault'
  | 'token-expired'
  | 'ca-hash-mismatch'
  | 'api-unreachable'
  | 'kubeadm-preflight'
  | 'certificate-key'
  | 'etcd-join'
  | 'packages'
  | 'join-failed'
  | 'join-still-running'
  | 'cloud-init-failed'
  | 'no-boot-output'
  | 'unknown';

export interface Diagnosis {
  cause: Cause;
  summary: string;
  nextStep: string;
  /** the console lines or fault text that support the verdict */
  evidence: string[];
  /** last lines of the console log (redacted) */
  consoleTail: string[];
  /** the last KADD-MARK stage seen */
  lastStage?: string;
}

interface Rule {
  cause: Cause;
  re: RegExp;
  summary: string;
  next: string;
}

const FAULT_RULES: Rule[] = [
  { cause: 'no-valid-host', re: /No valid host was found/i, summary: 'Nova found no hypervisor that fits the flavor in this zone', next: 'try another --zone or a smaller --flavor, or ask the cloud operator about capacity' },
  { cause: 'quota', re: /quota exceeded|exceeds.*quota|Quota exceeded/i, summary: 'the project quota was exceeded while building', next: 'free resources or raise the quota (see the quota table of `kadd add --dry-run`)' },
  { cause: 'image', re: /image .*(could not be found|is not active|not found)|Image .* is unacceptable/i, summary: 'the image could not be used', next: 'check the `image` key of the cluster file against `openstack image list`' },
  { cause: 'volume', re: /volume .*(error|did not finish being created|could not be found)|Block Device Mapping is Invalid|BuildAbortException/i, summary: 'the boot volume could not be created or attached', next: 'check Cinder (`openstack volume show`) and the storage_class / availability zone of the volume' },
];

const CONSOLE_RULES: Rule[] = [
  { cause: 'token-expired', re: /token id "[a-z0-9]+" is invalid for this cluster or it has expired|bootstrap token .* (expired|not found)|could not find a JWS signature in the cluster-info ConfigMap for token ID/i, summary: 'kubeadm rejected the bootstrap token (expired or deleted)', next: 're-run `kadd add` (it creates a fresh token); if boots are slow, raise --token-ttl' },
  { cause: 'ca-hash-mismatch', re: /none of the public keys .* are pinned|cluster CA found in cluster-info ConfigMap is invalid|public key pin/i, summary: 'the CA hash in the join configuration does not match the cluster CA', next: 'check that --kubeconfig points at this cluster (its CA is the one kadd pinned)' },
  { cause: 'certificate-key', re: /error downloading certs|kubeadm-certs.*not found|error decoding certificate key|certificate key .* (invalid|expired)/i, summary: 'the control-plane certificate key was rejected (expired after 2 h or never uploaded)', next: 're-run `kadd add --role master`, which uploads a fresh certificate key' },
  { cause: 'etcd-join', re: /etcdserver: |error execution phase control-plane-join\/etcd|can only promote a learner member|etcd cluster is not healthy/i, summary: 'the new member could not join etcd', next: 'run `kadd status` to see the etcd members; a stale learner is removed with `kadd add --role master --fix-stale`' },
  { cause: 'api-unreachable', re: /dial tcp [^ ]+: (connect: connection refused|i\/o timeout)|couldn't validate the identity of the API Server: .*(timeout|refused)|unable to fetch the kubeadm-config ConfigMap: .*(timeout|refused)/i, summary: 'the new server cannot reach the Kubernetes API endpoint', next: 'check the security group, the router and the load balancer between the node subnet and the API endpoint' },
  { cause: 'kubeadm-preflight', re: /error execution phase preflight|\[ERROR [A-Za-z]+\]/i, summary: 'kubeadm preflight checks failed on the new server', next: 'read the [ERROR ...] lines above; usually the image lacks a prerequisite (swap on, container runtime missing)' },
  { cause: 'packages', re: /Unable to locate package (kubeadm|kubelet)|E: Failed to fetch|Could not resolve '.*'|E: Version '.*' for '(kubeadm|kubelet)' was not found/i, summary: 'installing kubeadm/kubelet failed', next: 'check the server can reach the package repository (router/NAT, DNS) and that version.k8s exists upstream' },
  { cause: 'cloud-init-failed', re: /Failed to run module [a-z_-]+|cloud-init.*(Traceback|FAILED)|Unhandled non-multipart \(text\/x-not-multipart\)|failed to render/i, summary: 'cloud-init failed while processing the user-data', next: 'run `kadd logs NODE` to see the whole console log' },
];

const MARK = /KADD-MARK stage=([a-z0-9-]+)(?: rc=(\d+))?/g;

/**
 * Extra specs of a flavor that can narrow where Nova may place it (placement resources/traits, aggregate and
 * host-capability filters, CPU/NUMA/PCI/hugepage needs). `quota:*` specs only tune the hypervisor: not named.
 */
export function schedulingExtraSpecs(extraSpecs: Record<string, string> | undefined): [string, string][] {
  return Object.entries(extraSpecs ?? {}).filter(([k]) => !/^quota:/i.test(k)).sort(([a], [b]) => a.localeCompare(b));
}

export function diagnose(input: {
  fault?: { message?: string; details?: string } | null;
  console?: string | null;
  status?: string;
  tailLines?: number;
  /** the server's flavor: a NoValidHost is blamed on its extra specs when it has any */
  flavor?: { name: string; extraSpecs?: Record<string, string> };
}): Diagnosis {
  const consoleText = redactText(input.console ?? '');
  const lines = consoleText.split(/\r?\n/).filter((l) => l.length > 0);
  const consoleTail = lines.slice(-(input.tailLines ?? 25));
  let lastStage: string | undefined;
  let lastRc: string | undefined;
  for (const m of consoleText.matchAll(MARK)) {
    lastStage = m[1];
    lastRc = m[2];
  }

  const faultText = [input.fault?.message, input.fault?.details].filter(Boolean).join(' ');
  if (faultText) {
    for (const r of FAULT_RULES) {
      if (!r.re.test(faultText)) continue;
      const specs = r.cause === 'no-valid-host' ? schedulingExtraSpecs(input.flavor?.extraSpecs) : [];
      if (specs.length) {
        const list = specs.map(([k, v]) => `${k}=${v}`).join(', ');
        return {
          cause: r.cause,
          summary: `Nova found no host that satisfies the extra specs of flavor ${input.flavor!.name} (${list})`,
          nextStep: `check which hosts or aggregates offer ${specs.length === 1 ? 'that spec' : 'those specs'} (\`openstack flavor show ${input.flavor!.name}\`, ask the cloud operator), or use a flavor without them (--flavor)`,
          evidence: [redactText(faultText), `flavor ${input.flavor!.name} extra specs: ${list}`],
          consoleTail,
          lastStage,
        };
      }
      return { cause: r.cause, summary: r.summary, nextStep: r.next, evidence: [redactText(faultText)], consoleTail, lastStage };
    }
    return { cause: 'nova-fault', summary: `Nova reported a fault: ${redactText(input.fault?.message ?? '')}`, nextStep: 'see the fault details; `openstack server show` gives the same text', evidence: [redactText(faultText)], consoleTail, lastStage };
  }

  // the last matching console line decides (a later error supersedes an earlier retry)
  let best: { rule: Rule; line: number } | undefined;
  for (const r of CONSOLE_RULES) {
    for (let i = lines.length - 1; i >= 0; i--) {
      if (r.re.test(lines[i])) {
        if (!best || i > best.line) best = { rule: r, line: i };
        break;
      }
    }
  }
  if (best) {
    const evidence = lines.filter((l) => best!.rule.re.test(l)).slice(-3);
    return { cause: best.rule.cause, summary: best.rule.summary, nextStep: best.rule.next, evidence, consoleTail, lastStage };
  }
  if (lastStage === 'join-failed') {
    return { cause: 'join-failed', summary: `kubeadm join failed (exit code ${lastRc ?? '?'})`, nextStep: 'run `kadd logs NODE` for the whole console log', evidence: lines.filter((l) => l.includes('KADD-MARK')).slice(-3), consoleTail, lastStage };
  }
  if (lines.length === 0) {
    return { cause: 'no-boot-output', summary: 'the server printed nothing on its console', nextStep: 'check that the image boots (`openstack console log show`) and that the flavor has enough RAM', evidence: [], consoleTail, lastStage };
  }
  if (lastStage) {
    return { cause: 'join-still-running', summary: `the node did not finish joining in time (last stage: ${lastStage})`, nextStep: 'raise --timeout, or run `kadd logs NODE --follow` to watch it', evidence: lines.filter((l) => l.includes('KADD-MARK')).slice(-3), consoleTail, lastStage };
  }
  return { cause: 'unknown', summary: 'no known failure marker in the console log', nextStep: 'run `kadd logs NODE` to read the whole console log', evidence: [], consoleTail, lastStage };
}

/**
 * A boot volume in `error`, from Cinder's user messages about it (GET /v3/{project}/messages): the
 * scheduler's "Could not find any available weighted backend" is a volume type / zone without a backend
 * that has room, not a kadd problem. Pure.
 */
export function diagnoseVolume(volume: { name: string; id: string; zone?: string; type?: string }, messages: { user_message: string; event_id?: string }[]): Diagnosis {
  const last = messages.at(-1);
  const where = [volume.type ? `volume type ${volume.type}` : 'the default volume type', volume.zone ? `zone ${volume.zone}` : undefined].filter(Boolean).join(' in ');
  const evidence = messages.slice(-3).map((m) => `cinder: ${redactText(m.user_message)}${m.event_id ? ` (${m.event_id})` : ''}`);
  if (!last) {
    return {
      cause: 'volume', summary: `boot volume ${volume.name} went to error and Cinder left no message about it`,
      nextStep: `ask the cloud operator to check the cinder-scheduler and cinder-volume logs for volume ${volume.id}`, evidence, consoleTail: [],
    };
  }
  const noBackend = /no (valid|available|weighted) (host|backend)|Could not find any available weighted backend/i.test(last.user_message);
  return {
    cause: 'volume',
    summary: `Cinder could not create boot volume ${volume.name}: ${redactText(last.user_message)}`,
    nextStep: noBackend
      ? `no storage backend can hold it: check ${where} (storage_class, availability-zones, volume_size) against \`openstack volume type show\`, or ask the cloud operator for capacity`
      : `see \`openstack volume message list\`; volume ${volume.id}`,
    evidence,
    consoleTail: [],
  };
}

/** One-paragraph rendering for stderr. */
export function formatDiagnosis(name: string, d: Diagnosis): string {
  const out = [`${name}: ${d.summary}`, `  next step: ${d.nextStep}`];
  for (const e of d.evidence) out.push(`  evidence: ${e}`);
  if (d.consoleTail.length) {
    out.push('  console (last lines):');
    for (const l of d.consoleTail.slice(-10)) out.push(`    ${l}`);
  }
  return out.join('\n');
}
