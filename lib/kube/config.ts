/**
 * kadd's own kubeconfig loader with kubectl's rules (client-go tools/clientcmd/loader.go;
 * research/style-and-conventions.md 2.2). @kubernetes/client-node's loadFromDefault() differs from kubectl
 * (last current-context wins, duplicate names throw, a missing file throws, no dedupe), so kadd merges
 * the files itself and hands client-node one resolved context.
 *
 *   --kubeconfig FILE   only that file; missing = error
 *   $KUBECONFIG         split on ':', duplicates removed, empty entries ignored, missing files skipped
 *                       (all missing = error); the first file to set a map key wins, never changed later;
 *                       current-context from the first file that sets it
 *   else                ~/.kube/config
 * Relative paths inside a file resolve against that file's directory.
 */
import { readFile, stat } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError } from '../errors.js';
import { registerSecret } from '../redact.js';
import type { KubeConfig } from '@kubernetes/client-node';

export interface KubeCluster {
  server: string;
  'certificate-authority'?: string;
  'certificate-authority-data'?: string;
  'insecure-skip-tls-verify'?: boolean;
  'tls-server-name'?: string;
  'proxy-url'?: string;
  [k: string]: unknown;
}

export interface KubeExecConfig {
  command: string;
  args?: string[];
  env?: { name: string; value: string }[] | null;
  apiVersion?: string;
  [k: string]: unknown;
}

export interface KubeUser {
  'client-certificate'?: string;
  'client-certificate-data'?: string;
  'client-key'?: string;
  'client-key-data'?: string;
  token?: string;
  tokenFile?: string;
  username?: string;
  password?: string;
  exec?: KubeExecConfig;
  'auth-provider'?: Record<string, unknown>;
  as?: string;
  [k: string]: unknown;
}

export interface KubeContext {
  cluster: string;
  user?: string;
  namespace?: string;
  [k: string]: unknown;
}

/** A kubeconfig restricted to one context, as kubectl would see it (paths already absolute). */
export interface KubeconfigDoc {
  apiVersion: 'v1';
  kind: 'Config';
  clusters: { name: string; cluster: KubeCluster }[];
  users: { name: string; user: KubeUser }[];
  contexts: { name: string; context: KubeContext }[];
  'current-context': string;
}

export interface LoadedKubeconfig {
  /** files that were read, in merge order (absolute) */
  files: string[];
  contextName: string;
  clusterName: string;
  userName: string;
  cluster: KubeCluster;
  user: KubeUser;
  /** the context's namespace or 'default' */
  namespace: string;
  server: string;
  /** the merged config restricted to the chosen context */
  config: KubeconfigDoc;
  /** the cluster CA (PEM) from certificate-authority-data or certificate-authority, if the kubeconfig has one */
  caPem(): Promise<string | undefined>;
  /** a @kubernetes/client-node KubeConfig for this context (client-node is imported lazily here) */
  toClientNode(): Promise<KubeConfig>;
}

export interface LoadKubeconfigOptions {
  /** --kubeconfig */
  kubeconfig?: string;
  /** --context */
  context?: string;
  env: NodeJS.ProcessEnv;
  cwd: string;
  home?: string;
}

interface FileDoc {
  path: string;
  clusters: Map<string, KubeCluster>;
  users: Map<string, KubeUser>;
  contexts: Map<string, KubeContext>;
  currentContext?: string;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

function resolveIn(dir: string, p: unknown): unknown {
  if (typeof p !== 'string' || p === '' || path.isAbsolute(p)) return p;
  return path.join(dir, p);
}

/** client-go ResolveLocalPaths: file references relative to the kubeconfig's directory. */
function resolvePaths(dir: string, clusters: Map<string, KubeCluster>, users: Map<string, KubeUser>): void {
  for (const c of clusters.values()) {
    if (c['certificate-authority'] !== undefined) c['certificate-authority'] = resolveIn(dir, c['certificate-authority']) as string;
  }
  for (const u of users.values()) {
    for (const k of ['client-certificate', 'client-key', 'tokenFile'] as const) {
      if (u[k] !== undefined) u[k] = resolveIn(dir, u[k]) as string;
    }
    // an exec command is resolved only when it is a relative path with a separator (bare names go through $PATH)
    if (u.exec && typeof u.exec.command === 'string' && u.exec.command.includes('/') && !path.isAbsolute(u.exec.command)) {
      u.exec = { ...u.exec, command: path.join(dir, u.exec.command) };
    }
  }
}

function namedList<T>(file: string, data: Record<string, unknown>, list: string, inner: string): Map<string, T> {
  const out = new Map<string, T>();
  const v = data[list];
  if (v === undefined || v === null) return out;
  if (!Array.isArray(v)) throw new ConfigError(`${file}: '${list}' must be a list`, { code: 'E_KUBECONFIG' });
  v.forEach((e, i) => {
    if (!isObj(e) || typeof e.name !== 'string' || e.name === '') {
      throw new ConfigError(`${file}: ${list}[${i}] has no name`, { code: 'E_KUBECONFIG' });
    }
    // within one file the first entry of a name wins too
    if (!out.has(e.name)) out.set(e.name, structuredClone((isObj(e[inner]) ? e[inner] : {}) as T));
  });
  return out;
}

async function parseFile(file: string): Promise<FileDoc> {
  const text = await readFile(file, 'utf8');
  const { load } = await import('js-yaml');
  let data: unknown;
  try {
    data = load(text);
  } catch (e) {
    const m = e as { mark?: { line: number; column: number }; reason?: string; message?: string };
    const where = m.mark ? `:${m.mark.line + 1}:${m.mark.column + 1}` : '';
    throw new ConfigError(`${file}${where}: cannot parse kubeconfig: ${m.reason ?? m.message}`, { code: 'E_KUBECONFIG' });
  }
  if (data === null || data === undefined) data = {};
  if (!isObj(data)) throw new ConfigError(`${file}: not a kubeconfig (expected a mapping)`, { code: 'E_KUBECONFIG' });
  const doc: FileDoc = {
    path: file,
    clusters: namedList<KubeCluster>(file, data, 'clusters', 'cluster'),
    users: namedList<KubeUser>(file, data, 'users', 'user'),
    contexts: namedList<KubeContext>(file, data, 'contexts', 'context'),
  };
  const cc = data['current-context'];
  if (typeof cc === 'string' && cc !== '') doc.currentContext = cc;
  resolvePaths(path.dirname(file), doc.clusters, doc.users);
  return doc;
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

/** The files kubectl would read, in order; throws when none can be read. */
export async function kubeconfigFiles(opts: LoadKubeconfigOptions): Promise<string[]> {
  const home = opts.home ?? os.homedir();
  if (opts.kubeconfig) {
    const p = path.resolve(opts.cwd, opts.kubeconfig);
    if (!(await isFile(p))) {
      throw new ConfigError(`--kubeconfig ${opts.kubeconfig}: no such file`, { code: 'E_KUBECONFIG', hint: 'pass the path of the cluster admin kubeconfig' });
    }
    return [p];
  }
  const envList = opts.env.KUBECONFIG;
  if (envList !== undefined && envList.split(path.delimiter).some((s) => s !== '')) {
    const entries = envList.split(path.delimiter).filter((s) => s !== '').map((s) => path.resolve(opts.cwd, s));
    const unique = entries.filter((p, i) => entries.indexOf(p) === i);
    const present: string[] = [];
    for (const p of unique) if (await isFile(p)) present.push(p);
    if (present.length === 0) {
      throw new ConfigError(`KUBECONFIG: none of its files exist: ${unique.join(', ')}`, { code: 'E_KUBECONFIG', hint: 'fix KUBECONFIG or pass --kubeconfig' });
    }
    return present;
  }
  const def = path.join(home, '.kube', 'config');
  if (!(await isFile(def))) {
    throw new ConfigError(`no kubeconfig: ${def} does not exist and KUBECONFIG is not set`, {
      code: 'E_KUBECONFIG',
      hint: 'pass --kubeconfig with the cluster admin kubeconfig',
    });
  }
  return [def];
}

/** Merge per kubectl: the first file to set a map key wins; current-context from the first file that sets it. */
export function mergeKubeconfigs(docs: FileDoc[]): Omit<FileDoc, 'path'> {
  const out: Omit<FileDoc, 'path'> = { clusters: new Map(), users: new Map(), contexts: new Map() };
  for (const d of docs) {
    for (const [n, v] of d.clusters) if (!out.clusters.has(n)) out.clusters.set(n, v);
    for (const [n, v] of d.users) if (!out.users.has(n)) out.users.set(n, v);
    for (const [n, v] of d.contexts) if (!out.contexts.has(n)) out.contexts.set(n, v);
    if (out.currentContext === undefined && d.currentContext) out.currentContext = d.currentContext;
  }
  return out;
}

export async function loadKubeconfig(opts: LoadKubeconfigOptions): Promise<LoadedKubeconfig> {
  const files = await kubeconfigFiles(opts);
  const docs = await Promise.all(files.map((f) => parseFile(f)));
  const merged = mergeKubeconfigs(docs);
  const fileList = files.join(', ');
  const knownContexts = [...merged.contexts.keys()].sort();
  const known = knownContexts.length ? knownContexts.join(', ') : '(none)';

  const contextName = opts.context || merged.currentContext;
  if (!contextName) {
    throw new ConfigError(`no current-context in ${fileList}; known contexts: ${known}`, { code: 'E_KUBECONFIG', hint: 'pass --context NAME' });
  }
  const context = merged.contexts.get(contextName);
  if (!context) {
    const origin = opts.context ? '--context' : 'current-context';
    throw new ConfigError(`context '${contextName}' (${origin}) not found in ${fileList}; known: ${known}`, { code: 'E_KUBECONFIG' });
  }
  const clusterName = typeof context.cluster === 'string' ? context.cluster : '';
  const cluster = merged.clusters.get(clusterName);
  if (!cluster) {
    throw new ConfigError(`context '${contextName}' refers to cluster '${clusterName}', which is not defined in ${fileList}`, { code: 'E_KUBECONFIG' });
  }
  if (typeof cluster.server !== 'string' || cluster.server === '') {
    throw new ConfigError(`cluster '${clusterName}' in ${fileList} has no server`, { code: 'E_KUBECONFIG' });
  }
  const userName = typeof context.user === 'string' ? context.user : '';
  let user: KubeUser = {};
  if (userName) {
    const u = merged.users.get(userName);
    if (!u) throw new ConfigError(`context '${contextName}' refers to user '${userName}', which is not defined in ${fileList}`, { code: 'E_KUBECONFIG' });
    user = u;
  }
  // the user's static credentials are scrubbed from every message, trace and log from now on
  for (const k of ['token', 'password', 'client-key-data'] as const) registerSecret(typeof user[k] === 'string' ? user[k] : undefined);
  for (const [k, p] of [
    ['certificate-authority', cluster['certificate-authority']],
    ['client-certificate', user['client-certificate']],
    ['client-key', user['client-key']],
    ['tokenFile', user.tokenFile],
  ] as const) {
    if (typeof p === 'string' && p && !(await isFile(p))) {
      throw new ConfigError(`${k} ${p} (context '${contextName}') does not exist`, { code: 'E_KUBECONFIG' });
    }
  }

  await checkCa(cluster, clusterName, contextName, fileList);

  const config: KubeconfigDoc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: clusterName, cluster }],
    users: [{ name: userName, user }],
    contexts: [{ name: contextName, context }],
    'current-context': contextName,
  };

  const caPem = async (): Promise<string | undefined> => {
    const data = cluster['certificate-authority-data'];
    if (typeof data === 'string' && data) return Buffer.from(data, 'base64').toString('utf8');
    const file = cluster['certificate-authority'];
    if (typeof file === 'string' && file) return readFile(file, 'utf8');
    return undefined;
  };

  let kcPromise: Promise<KubeConfig> | undefined;
  const toClientNode = (): Promise<KubeConfig> => (kcPromise ??= buildClientNode(config));

  return {
    files,
    contextName,
    clusterName,
    userName,
    cluster,
    user,
    namespace: context.namespace || 'default',
    server: cluster.server,
    config,
    caPem,
    toClientNode,
  };
}

/** Options for client-node's KubeConfig.loadFromOptions (exported for tests). */
export async function clientNodeOptions(config: KubeconfigDoc): Promise<{
  clusters: Record<string, unknown>[];
  users: Record<string, unknown>[];
  contexts: Record<string, unknown>[];
  currentContext: string;
}> {
  const c = config.clusters[0]!;
  const u = config.users[0]!;
  const x = config.contexts[0]!;
  let token = u.user.token;
  // client-node reads 'token-file', kubectl 'tokenFile': kadd reads it (trimmed, like client-go)
  if (!token && u.user.tokenFile) {
    token = (await readFile(u.user.tokenFile, 'utf8')).trim();
    registerSecret(token);
  }
  const server = c.cluster.server;
  const cluster: Record<string, unknown> = {
    name: c.name,
    server,
    caData: c.cluster['certificate-authority-data'],
    caFile: c.cluster['certificate-authority'],
    // client-node gotcha: a plain http:// server throws "HTTP protocol is not allowed when skipTLSVerify is
    // not set or false"; TLS settings are meaningless for http, so mark it skip-verify.
    skipTLSVerify: c.cluster['insecure-skip-tls-verify'] === true || server.startsWith('http://'),
    tlsServerName: c.cluster['tls-server-name'],
    proxyUrl: c.cluster['proxy-url'],
  };
  const user: Record<string, unknown> = {
    name: u.name || 'kadd-anonymous',
    certData: u.user['client-certificate-data'],
    certFile: u.user['client-certificate'],
    keyData: u.user['client-key-data'],
    keyFile: u.user['client-key'],
    token,
    username: u.user.username,
    password: u.user.password,
    exec: u.user.exec,
    authProvider: u.user['auth-provider'],
    impersonateUser: u.user.as,
  };
  for (const o of [cluster, user]) for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return {
    clusters: [cluster],
    users: [user],
    contexts: [{ name: x.name, cluster: c.name, user: user.name, namespace: x.context.namespace }],
    currentContext: x.name,
  };
}

async function buildClientNode(config: KubeconfigDoc): Promise<KubeConfig> {
  const k8s = await import('@kubernetes/client-node');
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions(await clientNodeOptions(config));
  return kc;
}

/**
 * A CA that cannot be a certificate is bad input, found before anything is created (13.14): the cluster's
 * certificate-authority-data must be base64 of a PEM certificate, a certificate-authority file a PEM
 * certificate. Without this, the first TLS handshake fails deep inside an operation.
 */
async function checkCa(cluster: KubeCluster, clusterName: string, contextName: string, fileList: string): Promise<void> {
  const data = cluster['certificate-authority-data'];
  const file = cluster['certificate-authority'];
  const fix = 'copy the cluster entry again from /etc/kubernetes/admin.conf on a master (certificate-authority-data is the base64 of ca.crt)';
  let pem: string | undefined;
  let what = '';
  if (typeof data === 'string' && data) {
    what = `certificate-authority-data of cluster '${clusterName}' (context '${contextName}', ${fileList})`;
    const compact = data.replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(compact) || compact.length % 4 !== 0) {
      throw new ConfigError(`${what} is not valid base64`, { code: 'E_KUBECONFIG_CA', hint: fix });
    }
    pem = Buffer.from(compact, 'base64').toString('utf8');
  } else if (typeof file === 'string' && file) {
    what = `certificate-authority ${file} (context '${contextName}')`;
    pem = await readFile(file, 'utf8');
  }
  if (pem === undefined) return;
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
  if (!blocks) throw new ConfigError(`${what} is not a PEM certificate (no BEGIN CERTIFICATE block)`, { code: 'E_KUBECONFIG_CA', hint: fix });
  const { X509Certificate } = await import('node:crypto');
  for (const b of blocks) {
    try {
      new X509Certificate(b);
    } catch (e) {
      throw new ConfigError(`${what} holds a PEM block that is not a certificate: ${(e as Error).message}`, { code: 'E_KUBECONFIG_CA', hint: fix });
    }
  }
}
