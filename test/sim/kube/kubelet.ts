/**
 * Simulated kubelet + kubeadm join: parses the join out of a server's user-data, validates it the way
 * kubeadm does (token discovery with the cluster-info JWS, CA pinning, API endpoint, kubeadm-config
 * access by group, kubeadm-certs download for control-plane joins), then registers the Node and, for
 * control-plane joins, adds/starts/promotes an etcd learner. The console shows kubeadm's own lines.
 */
import { gunzipSync } from 'node:zlib';
import { loadAll } from 'js-yaml';
import type { SimRng, SimServerInfo } from '../contract.js';
import { BOOTSTRAP_GROUP, CP_LABEL, type KubeCluster, secretField } from './cluster.js';
import { EtcdError } from './etcd.js';
import { decryptBytes, goHexDecode, jwsValid, pki } from './pki.js';
import type { Obj } from './util.js';

export interface JoinSpec {
  endpoint?: string;
  token?: string;
  caHashes: string[];
  unsafeSkipCA?: boolean;
  controlPlane: boolean;
  certificateKey?: string;
  nodeName?: string;
  labels: Record<string, string>;
  /** undefined: kubeadm defaults */
  taints?: Obj[];
  advertiseAddress?: string;
  /** the Kubernetes version the join installs (kubelet=<v>-*: /etc/kadd/node.yaml or K8S_VERSION= of the join script) */
  k8sVersion?: string;
}

/** All text blobs of a user-data: MIME parts, write_files contents, runcmd, the raw text */
function blobs(userData: string): string[] {
  const out: string[] = [userData];
  // MIME multipart
  const bm = userData.match(/boundary="?([^"\r\n;]+)"?/i);
  if (bm) {
    for (const part of userData.split('--' + bm[1])) {
      const idx = part.search(/\r?\n\r?\n/);
      if (idx < 0) continue;
      const headers = part.slice(0, idx);
      let body = part.slice(idx).trim();
      if (/content-transfer-encoding:\s*base64/i.test(headers)) body = Buffer.from(body, 'base64').toString('utf8');
      out.push(body);
    }
  }
  for (const text of [...out]) {
    if (!/^#cloud-config/m.test(text)) continue;
    try {
      const docs = loadAll(text) as Obj[];
      for (const d of docs) {
        if (!d || typeof d !== 'object') continue;
        for (const wf of (d.write_files ?? []) as Obj[]) {
          let content = String(wf.content ?? '');
          const enc = String(wf.encoding ?? '');
          if (/^(b64|base64)$/.test(enc)) content = Buffer.from(content, 'base64').toString('utf8');
          else if (/^(gz\+b64|gzip\+base64|gz\+base64|gzip\+b64)$/.test(enc)) content = gunzipSync(Buffer.from(content, 'base64')).toString('utf8');
          out.push(content);
        }
        for (const rc of (d.runcmd ?? []) as unknown[]) out.push(Array.isArray(rc) ? rc.join(' ') : String(rc));
      }
    } catch {
      /* not YAML: scanned as text below */
    }
  }
  return out;
}

export function parseJoin(userData: string | undefined): JoinSpec | undefined {
  if (!userData) return undefined;
  const texts = blobs(userData);
  let spec: JoinSpec | undefined;
  for (const t of texts) {
    if (!/kind:\s*JoinConfiguration/.test(t)) continue;
    let docs: Obj[] = [];
    try {
      docs = loadAll(t) as Obj[];
    } catch {
      continue;
    }
    const jc = docs.find((d) => d && d.kind === 'JoinConfiguration');
    if (!jc) continue;
    const bt = jc.discovery?.bootstrapToken ?? {};
    const nr = jc.nodeRegistration ?? {};
    const extra: Record<string, string> = {};
    if (Array.isArray(nr.kubeletExtraArgs)) for (const a of nr.kubeletExtraArgs) extra[a.name] = String(a.value);
    else Object.assign(extra, nr.kubeletExtraArgs ?? {});
    spec = {
      endpoint: bt.apiServerEndpoint,
      token: bt.token ?? jc.discovery?.tlsBootstrapToken,
      caHashes: bt.caCertHashes ?? [],
      unsafeSkipCA: bt.unsafeSkipCAVerification === true,
      controlPlane: !!jc.controlPlane,
      certificateKey: jc.controlPlane?.certificateKey,
      advertiseAddress: jc.controlPlane?.localAPIEndpoint?.advertiseAddress,
      nodeName: nr.name,
      labels: parseLabels(extra['node-labels']),
      taints: Array.isArray(nr.taints) ? nr.taints : extra['register-with-taints'] ? parseTaints(extra['register-with-taints']) : undefined,
    };
    break;
  }
  if (spec) {
    for (const t of texts) {
      const v = /^\s*kubernetesVersion:\s*"?v?(\d+\.\d+\.\d+)"?\s*$/m.exec(t) ?? /^K8S_VERSION='?v?(\d+\.\d+\.\d+)'?\s*$/m.exec(t);
      if (v) {
        spec.k8sVersion = `v${v[1]}`;
        break;
      }
    }
  }
  // command line: kubeadm join ENDPOINT --token ... (overrides what it names)
  for (const t of texts) {
    const m = t.match(/kubeadm\s+join\b([^\n]*(?:\\\n[^\n]*)*)/);
    if (!m) continue;
    const line = m[1]!.replace(/\\\n/g, ' ');
    const words = line.split(/\s+/).filter(Boolean).map((w) => w.replace(/^["']|["']$/g, ''));
    spec ??= { caHashes: [], controlPlane: false, labels: {} };
    for (let i = 0; i < words.length; i++) {
      const w = words[i]!;
      const [flag, inline] = w.includes('=') && w.startsWith('--') ? [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)] : [w, undefined];
      const val = () => inline ?? words[++i];
      if (flag === '--token' || flag === '--discovery-token') spec.token = val();
      else if (flag === '--discovery-token-ca-cert-hash') spec.caHashes.push(val()!);
      else if (flag === '--discovery-token-unsafe-skip-ca-verification') spec.unsafeSkipCA = true;
      else if (flag === '--control-plane') spec.controlPlane = true;
      else if (flag === '--certificate-key') spec.certificateKey = val();
      else if (flag === '--node-name') spec.nodeName = val();
      else if (flag === '--apiserver-advertise-address') spec.advertiseAddress = val();
      else if (flag === '--config' || flag === '--cri-socket' || flag === '--v' || flag === '--ignore-preflight-errors') val();
      else if (!flag.startsWith('-') && !spec.endpoint && /:\d+$/.test(flag)) spec.endpoint = flag;
      else if (/^[;&|]/.test(flag)) break;
    }
    break;
  }
  return spec;
}

function parseLabels(s: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of (s ?? '').split(',').filter(Boolean)) {
    const [k, ...v] = kv.split('=');
    out[k!.trim()] = v.join('=').trim();
  }
  return out;
}

function parseTaints(s: string): Obj[] {
  return s
    .split(',')
    .filter(Boolean)
    .map((t) => {
      const [kv, effect] = t.split(':');
      const [key, value] = kv!.split('=');
      return { key, ...(value ? { value } : {}), effect };
    });
}

const PRE = '[preflight] Running pre-flight checks\n';
const TRACE = 'To see the stack trace of this error execute with --v=5 or higher\n';

export class Kubelets {
  private joined = new Map<string, string>(); // server id -> node name

  constructor(private c: KubeCluster) {}

  private console(serverId: string, text: string): void {
    this.c.core.appendConsole(serverId, text);
  }

  /** validate as kubeadm does; returns the error line or undefined */
  validate(spec: JoinSpec, serverName: string): { phase: string; error: string } | undefined {
    const c = this.c;
    c.gc();
    const tok = spec.token ?? '';
    const tm = tok.match(/^([a-z0-9]{6})\.([a-z0-9]{16})$/);
    if (!tm) return { phase: 'preflight', error: `couldn't validate the identity of the API Server: the bootstrap token "${tok}" was not of the form "^([a-z0-9]{6})\\.([a-z0-9]{16})$"` };
    const [, id, secret] = tm;
    const ep = spec.endpoint ?? '';
    if (!ep || (ep !== c.controlPlaneEndpoint() && ep !== new URL(c.core.baseUrl).host)) {
      return { phase: 'preflight', error: `couldn't validate the identity of the API Server: Get "https://${ep}/api/v1/namespaces/kube-public/configmaps/cluster-info?timeout=10s": dial tcp ${ep}: connect: connection refused` };
    }
    if (!spec.unsafeSkipCA && spec.caHashes.length === 0) return { phase: 'preflight', error: 'discovery.bootstrapToken: Invalid value: "": using token-based discovery without caCertHashes can be unsafe. Set unsafeSkipCAVerification as true in your kubeadm config file or pass --discovery-token-unsafe-skip-ca-verification flag to continue' };
    const ci = c.get('configmaps', 'kube-public', 'cluster-info')!;
    const jws = ci.data?.[`jws-kubeconfig-${id}`];
    if (!jws) return { phase: 'preflight', error: `couldn't validate the identity of the API Server: could not find a JWS signature in the cluster-info ConfigMap for token ID "${id}"` };
    if (!jwsValid(jws, ci.data.kubeconfig, id!, secret!)) return { phase: 'preflight', error: "couldn't validate the identity of the API Server: failed to verify JWS signature of received cluster info object, can't trust this API Server" };
    if (!spec.unsafeSkipCA) {
      for (const h of spec.caHashes) {
        if (!/^sha256:[0-9a-f]{64}$/i.test(h)) return { phase: 'preflight', error: `couldn't validate the identity of the API Server: invalid hash "${h}", expected a "sha256" hash` };
      }
      if (!spec.caHashes.some((h) => h.toLowerCase() === pki().caHash)) return { phase: 'preflight', error: `couldn't validate the identity of the API Server: cluster CA found in cluster-info ConfigMap is invalid: none of the public keys "${pki().caHash}" are pinned` };
    }
    const s = c.get('secrets', 'kube-system', `bootstrap-token-${id}`);
    const user = `system:bootstrap:${id}`;
    if (!s || secretField(s, 'token-secret') !== secret || secretField(s, 'usage-bootstrap-authentication') !== 'true') {
      return { phase: 'preflight', error: 'unable to fetch the kubeadm-config ConfigMap: failed to get config map: Unauthorized' };
    }
    const groups = (secretField(s, 'auth-extra-groups') ?? '').split(',').map((g) => g.trim());
    if (!groups.includes(BOOTSTRAP_GROUP)) {
      return { phase: 'preflight', error: `unable to fetch the kubeadm-config ConfigMap: failed to get config map: configmaps "kubeadm-config" is forbidden: User "${user}" cannot get resource "configmaps" in API group "" in the namespace "kube-system"` };
    }
    const nodeName = (spec.nodeName ?? serverName).toLowerCase();
    const existing = c.get('nodes', undefined, nodeName);
    if (existing && c.nodeReady(nodeName)) {
      return { phase: 'kubelet-start', error: `a Node with name "${nodeName}" and status "Ready" already exists in the cluster. You must delete the existing Node or change the name of this new joining Node` };
    }
    if (spec.controlPlane) {
      const key = spec.certificateKey;
      if (!key) return { phase: 'control-plane-prepare/download-certs', error: 'error downloading certs: error downloading the secret: Secret "kubeadm-certs" was not found in the "kube-system" Namespace. This Secret might have expired. Please, run `kubeadm init phase upload-certs --upload-certs` on a control plane to generate a new one' };
      let k: Buffer;
      try {
        k = goHexDecode(key);
      } catch (e) {
        return { phase: 'control-plane-prepare/download-certs', error: `error downloading certs: error decoding certificate key: ${(e as Error).message}` };
      }
      const certs = c.get('secrets', 'kube-system', 'kubeadm-certs');
      if (!certs) return { phase: 'control-plane-prepare/download-certs', error: 'error downloading certs: error downloading the secret: Secret "kubeadm-certs" was not found in the "kube-system" Namespace. This Secret might have expired. Please, run `kubeadm init phase upload-certs --upload-certs` on a control plane to generate a new one' };
      try {
        decryptBytes(Buffer.from(certs.data['ca.crt'], 'base64'), k);
      } catch (e) {
        return { phase: 'control-plane-prepare/download-certs', error: `error downloading certs: error decoding secret data with provided key: ${(e as Error).message}` };
      }
    }
    return undefined;
  }

  onServerActive(s: SimServerInfo): void {
    const c = this.c;
    if (this.joined.has(s.id)) return;
    const spec = parseJoin(s.userData);
    if (!spec) return;
    const never = (c.core.scenario.faults?.kubeletNeverJoins ?? []).some((re) => new RegExp(re).test(s.name));
    const id = s.id;
    if (never) {
      // cloud-init keeps retrying, the kubelet never talks to the API
      const retry = (n: number) =>
        c.later(30_000, () => {
          if (n > 20 || this.joined.has(id)) return;
          this.console(id, `[  ${(60 + n * 30).toFixed(6)}] cloud-init[812]: [preflight] Running pre-flight checks\n[  ${(60 + n * 30).toFixed(6)}] cloud-init[812]: [discovery] Trying to connect to API Server "${spec.endpoint ?? ''}" (retry ${n + 1})\n`);
          retry(n + 1);
        });
      this.console(id, PRE);
      retry(0);
      return;
    }
    this.joined.set(id, '');
    // this kubelet's own seeded stream: its timings do not depend on other nodes' joins or controllers
    const rng = c.core.resourceRng?.('kubelet', s.name) ?? c.core.rng;
    const reg = rng.latency(c.core.scenario.latency?.nodeRegister ?? { uniform: [2000, 5000] });
    c.later(reg, () => this.join(s, spec, rng));
  }

  private join(s: SimServerInfo, spec: JoinSpec, rng: SimRng): void {
    const c = this.c;
    const bad = this.validate(spec, s.name);
    if (bad) {
      this.joined.delete(s.id);
      this.console(s.id, PRE + `error execution phase ${bad.phase}: ${bad.error}\n` + TRACE);
      return;
    }
    const nodeName = (spec.nodeName ?? s.name).toLowerCase();
    const ip = spec.advertiseAddress ?? s.ip ?? '10.0.9.9';
    this.joined.set(s.id, nodeName);
    let log = PRE + '[preflight] Reading configuration from the cluster...\n' + "[preflight] FYI: You can look at this config file with 'kubectl -n kube-system get cm kubeadm-config -o yaml'\n";
    if (spec.controlPlane) {
      log += '[preflight] Running pre-flight checks before initializing the new control plane instance\n[download-certs] Downloading the certificates in Secret "kubeadm-certs" in the "kube-system" Namespace\n[download-certs] Saving the certificates to the folder: "/etc/kubernetes/pki"\n';
      log += '[certs] Using certificateDir folder "/etc/kubernetes/pki"\n[kubeconfig] Generating kubeconfig files\n[control-plane] Creating static Pod manifest for "kube-apiserver"\n[check-etcd] Checking that the etcd cluster is healthy\n';
      if (c.etcd.real) {
        void this.realCheckEtcd(s, spec, rng, nodeName, ip, log);
        return;
      }
      if (!c.etcd.hasQuorum()) {
        this.console(s.id, log + `error execution phase check-etcd: etcd cluster is not healthy: failed to dial endpoint ${c.etcd.members[0]?.clientURLs[0] ?? 'https://127.0.0.1:2379'} with maintenance client: context deadline exceeded\n` + TRACE);
        this.joined.delete(s.id);
        return;
      }
    }
    this.kubeletStart(s, spec, rng, nodeName, ip, log);
  }

  /** real-etcd mode: kubeadm's check-etcd against the real members */
  private async realCheckEtcd(s: SimServerInfo, spec: JoinSpec, rng: SimRng, nodeName: string, ip: string, log: string): Promise<void> {
    const c = this.c;
    const h = await c.etcd.real!.healthy();
    if (c.stopped || this.joined.get(s.id) !== nodeName) return;
    if (!h.ok) {
      this.console(s.id, log + `error execution phase check-etcd: etcd cluster is not healthy: ${h.error}\n` + TRACE);
      this.joined.delete(s.id);
      return;
    }
    this.kubeletStart(s, spec, rng, nodeName, ip, log);
  }

  private kubeletStart(s: SimServerInfo, spec: JoinSpec, rng: SimRng, nodeName: string, ip: string, log: string): void {
    const c = this.c;
    log += '[kubelet-start] Writing kubelet configuration to file "/var/lib/kubelet/config.yaml"\n[kubelet-start] Writing kubelet environment file with flags to file "/var/lib/kubelet/kubeadm-flags.env"\n[kubelet-start] Starting the kubelet\n[kubelet-check] Waiting for a healthy kubelet at http://127.0.0.1:10248/healthz. This can take up to 4m0s\n[kubelet-check] The kubelet is healthy after 1.001538175s\n[kubelet-start] Waiting for the kubelet to perform the TLS Bootstrap\n';
    const existing = c.get('nodes', undefined, nodeName);
    if (existing) c.remove('nodes', undefined, nodeName);
    c.registerNode(nodeName, { ip, controlPlane: spec.controlPlane, serverId: s.id }, { labels: spec.labels, taints: spec.controlPlane ? [] : (spec.taints ?? []), ...(spec.k8sVersion ? { kubeletVersion: spec.k8sVersion } : {}) });
    const readyIn = rng.latency(c.core.scenario.latency?.nodeReady ?? { uniform: [3000, 8000] });
    if (!spec.controlPlane) {
      this.console(s.id, log + '\nThis node has joined the cluster:\n* Certificate signing request was sent to apiserver and a response was received.\n* The Kubelet was informed of the new secure connection details.\n\nRun \'kubectl get nodes\' on the control-plane to see this node join the cluster.\n\n');
      c.later(readyIn, () => this.markReady(s.id, nodeName));
      return;
    }
    // control plane: etcd learner, start, promote, then mark-control-plane
    this.console(s.id, log);
    if (c.etcd.real) {
      void this.realEtcdJoin(s, spec, rng, nodeName, ip, readyIn);
      return;
    }
    const peer = `https://${ip}:2380`;
    let member = c.etcd.members.find((m) => m.peerURLs.includes(peer));
    try {
      member ??= c.etcd.add([peer], true, nodeName, nodeName, ip);
    } catch (e) {
      const msg = e instanceof EtcdError ? e.message : String(e);
      this.etcdJoinFailed(s.id, msg);
      c.later(readyIn, () => this.markReady(s.id, nodeName));
      return;
    }
    const memberId = member.id;
    if (this.learnerAdded(s, nodeName, memberId.toString(16), readyIn)) return;
    const startIn = rng.latency(c.core.scenario.latency?.etcdMemberStart ?? { uniform: [2000, 6000] });
    c.later(startIn, () => {
      if (this.joined.get(s.id) !== nodeName || !c.etcd.find(memberId)) return;
      c.etcd.start(memberId);
      c.later(500, () => {
        if (!c.etcd.find(memberId)) return;
        try {
          if (c.etcd.find(memberId)!.isLearner) c.etcd.promote(memberId);
        } catch (e) {
          this.etcdJoinFailed(s.id, (e as Error).message);
          return;
        }
        this.markControlPlane(s, spec, nodeName, ip);
      });
    });
  }

  /** kubeadm's console line when the etcd part of a control-plane join fails */
  private etcdJoinFailed(serverId: string, msg: string): void {
    this.console(serverId, `error execution phase control-plane-join/etcd: error creating local etcd static pod manifest file: ${msg}\n` + TRACE);
  }

  /**
   * After `member add --learner` (simulated or real): print kubeadm's lines, schedule the Node's readiness, and
   * apply the etcdMemberNeverStarts fault (kubeadm retries the promote for a while, then gives up; the unstarted
   * learner stays behind). Returns true when the member will never start (the caller stops there).
   */
  private learnerAdded(s: SimServerInfo, nodeName: string, idHex: string, readyIn: number): boolean {
    const c = this.c;
    this.console(s.id, `[etcd] Announced new etcd member joining to the existing etcd cluster\n[etcd] Creating static Pod manifest for "etcd"\n{"level":"info","msg":"adding etcd member as learner","ID":"${idHex}"}\n`);
    c.later(readyIn, () => this.markReady(s.id, nodeName));
    const neverStarts = (c.core.scenario.faults?.etcdMemberNeverStarts ?? []).some((re) => new RegExp(re).test(s.name));
    if (!neverStarts) return false;
    c.later(120_000, () => {
      if (this.joined.get(s.id) !== nodeName) return;
      this.console(s.id, `{"level":"warn","msg":"[etcd] Promoting the learner ${idHex} failed","error":"etcdserver: can only promote a learner member which is in sync with leader"}\n`);
      this.etcdJoinFailed(s.id, 'etcdserver: can only promote a learner member which is in sync with leader');
    });
    return true;
  }

  /**
   * real-etcd mode, kubeadm's control-plane-join/etcd: member add --learner through a running member, start the
   * etcd process with --initial-cluster-state existing, promote once in sync (retried); a member that never
   * starts stays behind as an unstarted learner.
   */
  private async realEtcdJoin(s: SimServerInfo, spec: JoinSpec, rng: SimRng, nodeName: string, ip: string, readyIn: number): Promise<void> {
    const c = this.c;
    const real = c.etcd.real!;
    const added = await real.addLearner(nodeName, nodeName, ip);
    if (c.stopped || this.joined.get(s.id) !== nodeName) return;
    if ('error' in added) {
      this.etcdJoinFailed(s.id, added.error);
      c.later(readyIn, () => this.markReady(s.id, nodeName));
      return;
    }
    if (this.learnerAdded(s, nodeName, added.id, readyIn)) return;
    const startIn = rng.latency(c.core.scenario.latency?.etcdMemberStart ?? { uniform: [2000, 6000] });
    c.later(startIn, () => {
      if (this.joined.get(s.id) !== nodeName || !real.startMember(added.id, added.initialCluster)) return;
      void real.promote(added.id).then((p) => {
        if (c.stopped || this.joined.get(s.id) !== nodeName) return;
        if (!p.ok) {
          if (!p.gone) this.etcdJoinFailed(s.id, p.error);
          return;
        }
        this.markControlPlane(s, spec, nodeName, ip);
      });
    });
  }

  /** kubeadm's mark-control-plane phase and the success lines */
  private markControlPlane(s: SimServerInfo, spec: JoinSpec, nodeName: string, ip: string): void {
    const c = this.c;
    const node = c.get('nodes', undefined, nodeName);
    if (node) {
      node.metadata.labels[CP_LABEL] = '';
      node.metadata.labels['node.kubernetes.io/exclude-from-external-load-balancers'] = '';
      const taints = spec.taints ?? [{ key: CP_LABEL, effect: 'NoSchedule' }];
      node.spec.taints = [...taints, ...(node.spec.taints ?? []).filter((t: Obj) => t.key.startsWith('node.kubernetes.io/'))];
      if (!node.spec.taints.length) delete node.spec.taints;
      node.metadata.labels = { ...node.metadata.labels, ...spec.labels };
      c.touch(node);
      c.addControlPlanePods(nodeName, ip);
    }
    this.console(
      s.id,
      `[etcd] Waiting for the new etcd member to join the cluster. This can take up to 40s\n[etcd] The learner was promoted to a voting member\n[mark-control-plane] Marking the node ${nodeName} as control-plane by adding the labels: [node-role.kubernetes.io/control-plane node.kubernetes.io/exclude-from-external-load-balancers]\n[mark-control-plane] Marking the node ${nodeName} as control-plane by adding the taints [node-role.kubernetes.io/control-plane:NoSchedule]\n\nThis node has joined the cluster and a new control plane instance was created:\n\n* Certificate signing request was sent to apiserver and approval was received.\n* The Kubelet was informed of the new secure connection details.\n* Control plane label and taint were applied to the new node.\n* The Kubernetes control plane instances scaled up.\n* A new etcd member was added to the local/stacked etcd cluster.\n\nTo start administering your cluster from this node, you need to run the following as a regular user:\n\n\tmkdir -p $HOME/.kube\n\tsudo cp -i /etc/kubernetes/admin.conf $HOME/.kube/config\n\tsudo chown $(id -u):$(id -g) $HOME/.kube/config\n\nRun 'kubectl get nodes' to see this node join the cluster.\n\n`,
    );
  }

  private markReady(serverId: string, nodeName: string): void {
    if (this.joined.get(serverId) !== nodeName) return;
    const meta = this.c.nodeMeta.get(nodeName);
    if (!meta || meta.gone) return;
    this.c.setNodeReady(nodeName, true);
  }

  onServerDeleted(s: SimServerInfo): void {
    const c = this.c;
    let nodeName = this.joined.get(s.id);
    if (!nodeName) {
      // a seeded node: match by providerID or name
      nodeName = c.list('nodes').find((n) => n.spec.providerID === `openstack:///${s.id}` || n.metadata.name === s.name.toLowerCase())?.metadata.name;
    }
    this.joined.delete(s.id);
    if (!nodeName) return;
    const meta = c.nodeMeta.get(nodeName);
    if (meta) meta.gone = true;
    c.setNodeReady(nodeName, 'Unknown');
    for (const m of c.etcd.members) if (m.node === nodeName) c.etcd.setUp(m.id, false);
    c.etcd.real?.nodeGone(nodeName);
  }
}
