/**
 * Rendering of templates/*.hbs (design.md sections 3-4): worker and control-plane cloud-config, and the
 * master-adder Deployment. Handlebars is imported lazily and runs with noEscape + strict; every value
 * goes through an escaping helper for where it lands (yaml, sh) or a charset check (safe, int), and every
 * input is validated BEFORE rendering. The output is parsed back, checked against the allow-list of
 * top-level keys and the forbidden-content guard, and sized for Nova (gzip when needed).
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { load } from 'js-yaml';
import { ConfigError, KaddError } from '../errors.js';
import { REDACTED, registerSecret } from '../redact.js';
import { shellQuote, yamlQuote } from './escape.js';
import { unknownTopLevelKeys } from './allowlist.js';
import { assertNoForbiddenContent, packUserData, type PackedUserData } from './userdata.js';
import {
  checkCaCertHash, checkCertificateKey, checkDns1123Label, checkDns1123Subdomain, checkEndpoint, checkIp,
  checkKubeletExtraArgs, checkNodeLabels, checkRepoUrl, checkTaints, checkToken, parseK8sVersion,
  type K8sVersion, type Taint,
} from './validate.js';

export type { Taint, TaintEffect } from './validate.js';

export interface JoinInput {
  clusterName: string;
  /** Node and host name, e.g. "demo-node-4" */
  nodeName: string;
  /** API server (load balancer) "host:port" */
  apiEndpoint: string;
  token: { id: string; secret: string };
  /** "sha256:<hex>" of the cluster CA's SubjectPublicKeyInfo */
  caCertHash: string;
  /** version.k8s, e.g. "1.29.3" */
  k8sVersion: string;
  labels?: Record<string, string>;
  /** workers: undefined = no taints; masters: undefined = kubeadm's control-plane taint */
  taints?: Taint[];
  /** extra kubelet flags without dashes, e.g. { "cloud-provider": "external" } */
  kubeletExtraArgs?: Record<string, string>;
  /** default unix:///run/containerd/containerd.sock */
  criSocket?: string;
  /** kubeadm discovery timeout (default 900 s) */
  discoveryTimeoutSeconds?: number;
  /** Debian package repository (default https://pkgs.k8s.io/core:/stable:/v<minor>/deb/) */
  packageRepoUrl?: string;
  /** recorded in /etc/kadd/node.yaml on the server */
  operationId?: string;
  requestedBy?: string;
  createdAt?: Date;
  kaddVersion?: string;
}

export interface MasterJoinInput extends JoinInput {
  /** 64 hex characters, from kubeadm init phase upload-certs */
  certificateKey: string;
  /** the new server's fixed IP (known from its port); otherwise detected at boot */
  advertiseAddress?: string;
  /** local API server port (default 6443) */
  bindPort?: number;
  /** featureGates of the cluster's ClusterConfiguration (kubeadm-config ConfigMap) */
  clusterFeatureGates?: Record<string, boolean>;
}

export type KubeadmApiVersion = 'kubeadm.k8s.io/v1beta3' | 'kubeadm.k8s.io/v1beta4';

export interface RenderedUserData extends PackedUserData {
  /** the #cloud-config text (holds the token: never log it) */
  text: string;
  kubeadmApiVersion: KubeadmApiVersion;
  /** control plane only: whether kubeadm joins etcd as a learner first */
  learnerMode?: boolean;
  toJSON(): Record<string, unknown>;
}

/** kubeadm enabled v1beta4 in 1.31 (kubernetes#125029); v1beta3 is deprecated there and gone in 1.37. */
export function kubeadmApiVersionFor(v: K8sVersion): KubeadmApiVersion {
  return v.minor >= 31 ? 'kubeadm.k8s.io/v1beta4' : 'kubeadm.k8s.io/v1beta3';
}

/**
 * Whether `kubeadm join --control-plane` adds the etcd member as a learner. JoinConfiguration has no
 * featureGates: kubeadm reads EtcdLearnerMode from the cluster's ClusterConfiguration. Alpha 1.27 (off),
 * beta 1.29 (on by default), GA and locked on in 1.32.
 */
export function etcdLearnerMode(v: K8sVersion, clusterFeatureGates?: Record<string, boolean>): { enabled: boolean; why: string } {
  const gate = clusterFeatureGates?.EtcdLearnerMode;
  if (v.minor >= 32) return { enabled: true, why: 'EtcdLearnerMode is GA (always on) since Kubernetes 1.32' };
  if (v.minor >= 29) {
    return gate === false
      ? { enabled: false, why: 'EtcdLearnerMode is disabled in the cluster\'s ClusterConfiguration featureGates' }
      : { enabled: true, why: 'EtcdLearnerMode is on by default since Kubernetes 1.29' };
  }
  if (v.minor >= 27 && gate === true) return { enabled: true, why: 'EtcdLearnerMode is enabled in the cluster\'s ClusterConfiguration featureGates' };
  return { enabled: false, why: `Kubernetes 1.${v.minor} joins etcd members as voting members (EtcdLearnerMode is off)` };
}

// ---------------------------------------------------------------------------------------------------
// Handlebars environment: lazy, one per process, templates compiled once.

type Template = (ctx: unknown) => string;
interface Env { compile(name: string): Template }
let envPromise: Promise<Env> | undefined;

function templatesDir(): string {
  for (const rel of ['../../templates/', '../../../templates/']) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(join(p, 'worker-join.yaml.hbs'))) return p;
  }
  throw new KaddError('E_TEMPLATES_MISSING', 'kadd templates directory not found (expected templates/ next to lib/)', 1);
}

function partialName(file: string): string {
  return file.split('.')[0]!.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}

const SAFE_RE = /^[A-Za-z0-9._:/+-]*$/;

function templateBug(msg: string): never {
  throw new KaddError('E_TEMPLATE', `template error: ${msg}`, 1);
}

async function loadEnv(): Promise<Env> {
  const hbMod = await import('handlebars');
  const hb = (hbMod.default ?? hbMod).create();
  const dir = templatesDir();
  const opts = { noEscape: true, strict: true };
  hb.registerHelper('yaml', (v: unknown) => {
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') templateBug(`yaml helper got ${v === null ? 'null' : typeof v}`);
    return yamlQuote(String(v));
  });
  hb.registerHelper('sh', (v: unknown) => {
    if (typeof v !== 'string' && typeof v !== 'number') templateBug(`sh helper got ${v === null ? 'null' : typeof v}`);
    return shellQuote(String(v));
  });
  hb.registerHelper('safe', (v: unknown) => {
    if ((typeof v !== 'string' && typeof v !== 'number') || !SAFE_RE.test(String(v))) templateBug(`safe helper got ${JSON.stringify(v)}`);
    return String(v);
  });
  hb.registerHelper('int', (v: unknown) => {
    if (typeof v !== 'number' || !Number.isInteger(v)) templateBug(`int helper got ${JSON.stringify(v)}`);
    return String(v);
  });
  const partialsDir = join(dir, 'partials');
  for (const f of readdirSync(partialsDir).filter((x) => x.endsWith('.hbs')).sort()) {
    hb.registerPartial(partialName(f), hb.compile(readFileSync(join(partialsDir, f), 'utf8'), opts));
  }
  const cache = new Map<string, Template>();
  return {
    compile(name: string): Template {
      let t = cache.get(name);
      if (!t) {
        t = hb.compile(readFileSync(join(dir, name), 'utf8'), opts) as Template;
        cache.set(name, t);
      }
      return t;
    },
  };
}

async function template(name: string): Promise<Template> {
  envPromise ??= loadEnv().catch((e) => {
    envPromise = undefined;
    throw e;
  });
  return (await envPromise).compile(name);
}

let kaddVersionCache: string | undefined;
function kaddVersion(): string {
  if (kaddVersionCache) return kaddVersionCache;
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(fileURLToPath(new URL(rel, import.meta.url)), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'kadd' && pkg.version) return (kaddVersionCache = pkg.version);
    } catch {
      /* next */
    }
  }
  return (kaddVersionCache = '0.0.0');
}

// ---------------------------------------------------------------------------------------------------
// cloud-config

const DEFAULT_CRI_SOCKET = 'unix:///run/containerd/containerd.sock';
const ADVERTISE_PLACEHOLDER = '__KADD_ADVERTISE_ADDRESS__';

function freeText(field: string, v: string | undefined, fallback: string): string {
  const s = v ?? fallback;
  if (typeof s !== 'string' || s.length > 256) throw new ConfigError(`invalid ${field}: must be a string of at most 256 characters`, { code: 'E_INVALID_VALUE' });
  return s;
}

function joinView(input: JoinInput, role: 'node' | 'master') {
  if (!input || typeof input !== 'object') throw new ConfigError('missing join input');
  const clusterName = checkDns1123Label('cluster name', input.clusterName);
  const nodeName = checkDns1123Label('node name', input.nodeName);
  const endpoint = checkEndpoint('API server endpoint', input.apiEndpoint);
  const token = checkToken(input.token);
  const caCertHash = checkCaCertHash(input.caCertHash);
  const v = parseK8sVersion(input.k8sVersion);
  const labels = checkNodeLabels(input.labels);
  const taints = input.taints === undefined ? undefined : checkTaints(input.taints);
  const extra = checkKubeletExtraArgs(input.kubeletExtraArgs);
  const criSocket = input.criSocket ?? DEFAULT_CRI_SOCKET;
  if (!/^unix:\/\/\/[A-Za-z0-9/._-]+$/.test(criSocket)) {
    throw new ConfigError(`invalid CRI socket ${JSON.stringify(criSocket)}: must be unix:///path`, { code: 'E_INVALID_VALUE', hint: `e.g. ${DEFAULT_CRI_SOCKET}` });
  }
  const timeout = input.discoveryTimeoutSeconds ?? 900;
  if (!Number.isInteger(timeout) || timeout < 60 || timeout > 3600) {
    throw new ConfigError(`invalid discovery timeout ${String(timeout)}: must be 60-3600 seconds`, { code: 'E_INVALID_VALUE' });
  }
  const repoUrl = checkRepoUrl('package repository', input.packageRepoUrl ?? `https://pkgs.k8s.io/core:/stable:/v1.${v.minor}/deb/`);
  const createdAt = input.createdAt ?? new Date();
  if (!(createdAt instanceof Date) || Number.isNaN(createdAt.getTime())) throw new ConfigError('invalid createdAt date');
  const apiVersion = kubeadmApiVersionFor(v);
  const kubeletArgs: { name: string; value: string }[] = [];
  const labelText = Object.entries(labels).map(([k, val]) => `${k}=${val}`).join(',');
  if (labelText) kubeletArgs.push({ name: 'node-labels', value: labelText });
  for (const [name, value] of extra) kubeletArgs.push({ name, value });
  registerSecret(token.secret);
  return {
    v,
    view: {
      role,
      clusterName,
      nodeName,
      apiEndpoint: endpoint.text,
      tokenString: `${token.id}.${token.secret}`,
      caCertHash,
      k8sVersion: v.text,
      kubeadmApiVersion: apiVersion,
      v1beta3: apiVersion === 'kubeadm.k8s.io/v1beta3',
      discoveryTimeout: `${timeout}s`,
      criSocket,
      repoUrl: repoUrl.endsWith('/') ? repoUrl : `${repoUrl}/`,
      hasKubeletArgs: kubeletArgs.length > 0,
      kubeletArgs,
      // workers always get an explicit list (kubeadm: nil means "no taints" for workers anyway)
      taintsGiven: role === 'node' || taints !== undefined,
      taints: taints ?? [],
      controlPlane: null as null | { advertiseAddress: string; bindPort: number; certificateKey: string },
      detectAdvertiseAddress: false,
      learnerMode: false,
      kaddVersion: input.kaddVersion ?? kaddVersion(),
      createdAt: createdAt.toISOString(),
      operationId: freeText('operation id', input.operationId, ''),
      requestedBy: freeText('requestedBy', input.requestedBy, ''),
    },
  };
}

function finish(text: string, what: string, apiVersion: KubeadmApiVersion, learnerMode?: boolean): RenderedUserData {
  if (!text.startsWith('#cloud-config\n')) templateBug(`${what}: output does not start with #cloud-config`);
  let doc: unknown;
  try {
    doc = load(text);
  } catch (e) {
    templateBug(`${what}: rendered cloud-config is not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  const unknown = unknownTopLevelKeys(doc);
  if (unknown.length) templateBug(`${what}: top-level keys not on kadd's allow-list: ${unknown.join(', ')}`);
  assertNoForbiddenContent(text, what);
  const packed = packUserData(text, what);
  return {
    ...packed,
    text,
    kubeadmApiVersion: apiVersion,
    ...(learnerMode === undefined ? {} : { learnerMode }),
    toJSON() {
      return { encoding: packed.encoding, plainBytes: packed.plainBytes, base64Length: packed.base64Length, kubeadmApiVersion: apiVersion, text: REDACTED };
    },
  };
}

/** #cloud-config that installs kubelet/kubeadm/kubectl/containerd and runs `kubeadm join` as a worker. */
export async function renderWorkerUserData(input: JoinInput): Promise<RenderedUserData> {
  const { view } = joinView(input, 'node');
  const text = (await template('worker-join.yaml.hbs'))(view);
  return finish(text, `worker ${view.nodeName}`, view.kubeadmApiVersion);
}

/** #cloud-config for `kubeadm join --control-plane` (certificate key download, learner mode on 1.29+). */
export async function renderMasterUserData(input: MasterJoinInput): Promise<RenderedUserData> {
  const { v, view } = joinView(input, 'master');
  const certificateKey = checkCertificateKey(input.certificateKey);
  registerSecret(certificateKey);
  const bindPort = input.bindPort ?? 6443;
  if (!Number.isInteger(bindPort) || bindPort < 1 || bindPort > 65535) {
    throw new ConfigError(`invalid API server bind port ${String(bindPort)}: must be 1-65535`, { code: 'E_INVALID_VALUE' });
  }
  const addr = input.advertiseAddress === undefined ? undefined : checkIp('advertise address', input.advertiseAddress);
  const learner = etcdLearnerMode(v, input.clusterFeatureGates);
  view.controlPlane = { advertiseAddress: addr ?? ADVERTISE_PLACEHOLDER, bindPort, certificateKey };
  view.detectAdvertiseAddress = addr === undefined;
  view.learnerMode = learner.enabled;
  const text = (await template('master-join.yaml.hbs'))(view);
  return finish(text, `control-plane node ${view.nodeName}`, view.kubeadmApiVersion, learner.enabled);
}

// ---------------------------------------------------------------------------------------------------
// master-adder Deployment

export const ADDER_NAME = 'kadd-master-adder';
export const ADDER_NAMESPACE = 'kube-system';
export const ADDER_LABEL_SELECTOR = 'app.kubernetes.io/name=kadd-master-adder,app.kubernetes.io/managed-by=kadd';
export const ADDER_OPERATION_LABEL = 'kadd.io/operation-id';

/**
 * Pure: the adder of one operation (13.10): `kadd-master-adder-<operation id>`, labelled with the id, so
 * that a run finds and deletes only its own adder, never another run's. Without an id: the shared name.
 */
export function adderIdentity(operationId?: string): { name: string; label?: string } {
  const label = (operationId ?? '').replace(/[^A-Za-z0-9._-]/g, '').replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '').slice(0, 63);
  if (!label) return { name: ADDER_NAME };
  const suffix = label.toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/-+$/, '');
  return { name: `${ADDER_NAME}-${suffix}`.slice(0, 63).replace(/-+$/, ''), label };
}

/**
 * The adder's command. The etcd image (registry.k8s.io/etcd) has bash-static as /bin/sh but no `sleep`
 * binary, so it falls back to bash's `read -t` on a pipe that never delivers. It waits until
 * KADD_DEADLINE (epoch seconds) and exits; after the deadline every restart exits at once, so a pod
 * left behind by a crashed kadd stops being usable.
 */
export const ADDER_SLEEP_SCRIPT =
  'now=${EPOCHSECONDS:-$(date +%s)}; left=$((KADD_DEADLINE - now)); ' +
  'if [ "$left" -le 0 ]; then echo "kadd-master-adder: expired (deadline $KADD_DEADLINE), exiting"; exit 0; fi; ' +
  'echo "kadd-master-adder: ready for ${left}s"; ' +
  'if command -v sleep >/dev/null 2>&1; then exec sleep "$left"; fi; ' +
  `eval 'read -t "$left" _ <> <(:)'; exit 0`;

export interface AdderInput {
  clusterName: string;
  /** the healthy control-plane Node to pin the pod to (its kubernetes.io/hostname label) */
  nodeName: string;
  /** container image; use etcdImageFor() for the cluster's own etcd image */
  image: string;
  /** lifetime of the pod's command (default 3600 s, 300-21600) */
  ttlSeconds?: number;
  /** epoch ms (default Date.now(); pass ctx.clock.now()) */
  now?: number;
  /** mount /etc/kubernetes and the host's kubeadm for `kubeadm init phase upload-certs` */
  uploadCerts?: boolean;
  /** host path of kubeadm (default /usr/bin/kubeadm) */
  kubeadmPath?: string;
  /** host directory for etcd snapshots (default /var/lib/kadd/snapshots) */
  snapshotDir?: string;
  /** default https://127.0.0.1:2379 (host network: the node's own etcd) */
  etcdEndpoint?: string;
  operationId?: string;
  requestedBy?: string;
  kaddVersion?: string;
}

export interface RenderedManifest {
  text: string;
  object: Record<string, unknown>;
  name: string;
  namespace: string;
  labelSelector: string;
  /** every kadd adder, whatever its operation (to tell of others, never to delete them) */
  familySelector?: string;
  /** ISO UTC */
  expiresAt: string;
}

const IMAGE_RE = /^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]{1,5})?(\/[a-z0-9]+([._-]+[a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[0-9a-f]{64})?$/;
const ABS_PATH_RE = /^\/[A-Za-z0-9._/-]*$/;

export async function renderAdderDeployment(input: AdderInput): Promise<RenderedManifest> {
  const clusterName = checkDns1123Label('cluster name', input.clusterName);
  const nodeName = checkDns1123Subdomain('control-plane node name', input.nodeName);
  if (typeof input.image !== 'string' || input.image.length > 255 || !IMAGE_RE.test(input.image)) {
    throw new ConfigError(`invalid adder image ${JSON.stringify(input.image)}: not an image reference`, { code: 'E_INVALID_VALUE', hint: 'e.g. registry.k8s.io/etcd:3.5.12-0' });
  }
  const ttl = input.ttlSeconds ?? 3600;
  if (!Number.isInteger(ttl) || ttl < 300 || ttl > 21600) throw new ConfigError(`invalid adder lifetime ${String(ttl)}: must be 300-21600 seconds`, { code: 'E_INVALID_VALUE' });
  const now = input.now ?? Date.now();
  const deadline = Math.floor(now / 1000) + ttl;
  const kubeadmPath = input.kubeadmPath ?? '/usr/bin/kubeadm';
  const snapshotDir = input.snapshotDir ?? '/var/lib/kadd/snapshots';
  for (const [f, p] of [['kubeadm path', kubeadmPath], ['snapshot directory', snapshotDir]] as const) {
    if (!ABS_PATH_RE.test(p) || p.split('/').includes('..')) throw new ConfigError(`invalid ${f} ${JSON.stringify(p)}: must be an absolute path`, { code: 'E_INVALID_VALUE' });
  }
  if (snapshotDir === '/etc/kubernetes' || snapshotDir.startsWith('/etc/kubernetes/')) {
    throw new ConfigError(`invalid snapshot directory ${snapshotDir}: must be outside /etc/kubernetes (mounted read-only)`, { code: 'E_INVALID_VALUE' });
  }
  const etcdEndpoint = input.etcdEndpoint ?? 'https://127.0.0.1:2379';
  if (!/^https:\/\/[A-Za-z0-9.:[\]-]+$/.test(etcdEndpoint)) throw new ConfigError(`invalid etcd endpoint ${JSON.stringify(etcdEndpoint)}`, { code: 'E_INVALID_VALUE' });
  const expiresAt = new Date(deadline * 1000).toISOString();
  const id = adderIdentity(input.operationId);
  const view = {
    clusterName, nodeName, image: input.image, expiresAt, deadlineEpoch: String(deadline), sleepScript: ADDER_SLEEP_SCRIPT,
    uploadCerts: input.uploadCerts === true, kubeadmPath, snapshotDir, etcdEndpoint,
    operationId: freeText('operation id', input.operationId, ''), requestedBy: freeText('requestedBy', input.requestedBy, ''),
    kaddVersion: input.kaddVersion ?? kaddVersion(),
    name: id.name, operationLabel: id.label ?? '',
  };
  const text = (await template('adder-deployment.yaml.hbs'))(view);
  let object: Record<string, unknown>;
  try {
    object = load(text) as Record<string, unknown>;
  } catch (e) {
    templateBug(`adder deployment is not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  return {
    text, object, name: id.name, namespace: ADDER_NAMESPACE, expiresAt, familySelector: ADDER_LABEL_SELECTOR,
    // without an id: only the unlabelled adders (another operation's labelled adder is not this one's leftover)
    labelSelector: id.label ? `${ADDER_LABEL_SELECTOR},${ADDER_OPERATION_LABEL}=${id.label}` : `${ADDER_LABEL_SELECTOR},!${ADDER_OPERATION_LABEL}`,
  };
}

/** The etcd tag kubeadm x.y.0 deploys; patch releases may bump it, the running etcd pod is authoritative. */
const ETCD_TAG_BY_MINOR: Record<number, string> = {
  24: '3.5.3-0', 25: '3.5.4-0', 26: '3.5.6-0', 27: '3.5.7-0', 28: '3.5.9-0', 29: '3.5.10-0',
  30: '3.5.12-0', 31: '3.5.15-0', 32: '3.5.16-0', 33: '3.5.21-0', 34: '3.6.4-0',
};

/**
 * The cluster's own etcd image, from the kubeadm-config ClusterConfiguration (etcd.local.imageRepository /
 * imageTag, else imageRepository, else registry.k8s.io) and kubeadm's default tag for the minor version.
 * Pass the image of the running etcd static pod instead when it is known.
 */
export function etcdImageFor(clusterConfiguration: Record<string, unknown> | null | undefined, k8sVersion: string): string {
  const v = parseK8sVersion(k8sVersion);
  const cc = (clusterConfiguration ?? {}) as { imageRepository?: unknown; etcd?: { local?: { imageRepository?: unknown; imageTag?: unknown }; external?: unknown } };
  if (cc.etcd?.external) {
    throw new ConfigError('the cluster uses external etcd; kadd adds control-plane nodes only to clusters with stacked (kubeadm-managed) etcd', { code: 'E_EXTERNAL_ETCD' });
  }
  const repo = String(cc.etcd?.local?.imageRepository || cc.imageRepository || 'registry.k8s.io').replace(/\/+$/, '');
  const minors = Object.keys(ETCD_TAG_BY_MINOR).map(Number).sort((a, b) => a - b);
  const nearest = minors.filter((m) => m <= v.minor).pop() ?? minors[0]!;
  const tag = String(cc.etcd?.local?.imageTag || ETCD_TAG_BY_MINOR[nearest]);
  return `${repo}/etcd:${tag}`;
}
