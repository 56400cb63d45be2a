/**
 * Kubernetes schema checks for tests: what the simulator returns and what kadd sends, against the Kubernetes
 * OpenAPI schema. Two layers, both generated from the Kubernetes OpenAPI spec:
 * - `kubernetes-models` (devDependency, lazy-loaded here only): JSON-schema validators per kind (types,
 *   required fields, enums, date-time formats);
 * - unknown fields (which the JSON schemas allow): every key must be a field of its type in
 *   @kubernetes/client-node's generated models (attributeTypeMap), so that an invented or misspelt field fails.
 *
 *   const errs = await validateK8s(obj);                      // [] when valid
 *   await assertK8sValid(obj, 'GET /api/v1/nodes/x');          // throws with every problem
 *   const bad = await validateRequests(kube.requests());      // bodies a client sent to the simulator
 */
import type { RecordedRequest } from '../sim/kube/index.js';

type Obj = Record<string, any>;

const STATUS_KINDS = new Set(['Status', 'DeleteOptions', 'APIResourceList', 'APIGroupList', 'APIVersions']);

/** module path of kubernetes-models for an apiVersion + kind */
function modelPath(apiVersion: string, kind: string): string {
  if (kind === 'Status' || kind === 'DeleteOptions') return `@kubernetes-models/apimachinery/apis/meta/v1/${kind}`;
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  return group ? `kubernetes-models/${group}/${version}/${kind}` : `kubernetes-models/${version}/${kind}`;
}

const cache = new Map<string, any>();
async function modelClass(apiVersion: string, kind: string): Promise<any> {
  const p = modelPath(apiVersion, kind);
  if (!cache.has(p)) {
    const mod = await import(p);
    cache.set(p, mod[kind]);
  }
  return cache.get(p);
}

let clientModels: Obj | undefined;
async function models(): Promise<Obj> {
  clientModels ??= (await import('@kubernetes/client-node')) as Obj;
  return clientModels;
}

/** the client-node model name of a kind (every kind the simulator serves is in a v1 group version) */
function modelName(apiVersion: string, kind: string): string {
  const version = apiVersion.split('/').pop()!;
  return `${version[0]!.toUpperCase()}${version.slice(1)}${kind}`;
}

/** keys that are not fields of their type, recursively (client-node attributeTypeMap) */
export async function unknownFields(obj: unknown, typeName: string, path = ''): Promise<string[]> {
  const m = await models();
  const out: string[] = [];
  const walk = (v: unknown, t: string, p: string): void => {
    if (v === null || v === undefined) return;
    const arr = t.match(/^Array<(.+)>$/);
    if (arr) {
      if (Array.isArray(v)) v.forEach((x, i) => walk(x, arr[1]!, `${p}[${i}]`));
      return;
    }
    const map = t.match(/^\{ \[key: string\]: (.+); \}$/);
    if (map) {
      if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, map[1]!, `${p}.${k}`);
      return;
    }
    const cls = m[t];
    const attrs = cls?.attributeTypeMap as { baseName: string; type: string }[] | undefined;
    if (!attrs || typeof v !== 'object' || Array.isArray(v)) return;
    for (const [k, x] of Object.entries(v as Obj)) {
      if (k.startsWith('$')) continue; // strategic-merge-patch directives
      const a = attrs.find((y) => y.baseName === k);
      if (!a) out.push(`${p ? p + '.' : ''}${k}: unknown field of ${t}`);
      else walk(x, a.type, `${p ? p + '.' : ''}${k}`);
    }
  };
  walk(obj, typeName, path);
  return out;
}

/**
 * Problems of one Kubernetes object (or XList of them) against the schema of its apiVersion/kind ([] when valid).
 * `as` gives apiVersion/kind for bodies that carry none (list items, request bodies).
 */
export async function validateK8s(obj: Obj, as?: { apiVersion: string; kind: string }): Promise<string[]> {
  if (!obj || typeof obj !== 'object') return ['not an object'];
  const apiVersion = obj.apiVersion ?? as?.apiVersion;
  const kind = obj.kind ?? as?.kind;
  if (!apiVersion || !kind) return ['no apiVersion/kind'];
  if (kind.endsWith('List') && Array.isArray(obj.items)) {
    const itemKind = kind.slice(0, -4);
    const out: string[] = [];
    for (const [i, it] of (obj.items as Obj[]).entries()) for (const e of await validateK8s({ apiVersion, kind: itemKind, ...it })) out.push(`items[${i}] (${it.metadata?.name ?? '?'}): ${e}`);
    out.push(...(await unknownFields({ ...obj, items: undefined }, modelName(apiVersion, kind))).filter((e) => !e.startsWith('items')));
    return out;
  }
  const out: string[] = [];
  if (!STATUS_KINDS.has(kind) || kind === 'Status' || kind === 'DeleteOptions') {
    const Cls = await modelClass(apiVersion, kind);
    try {
      new Cls({ ...obj, apiVersion, kind }).validate();
    } catch (e) {
      const errs = (e as { errors?: { instancePath: string; message: string }[] }).errors;
      if (errs?.length) for (const x of errs) out.push(`${x.instancePath || '/'} ${x.message}`);
      else out.push((e as Error).message);
    }
  }
  out.push(...(await unknownFields(obj, modelName(apiVersion, kind))));
  return out;
}

export async function assertK8sValid(obj: Obj, what: string, as?: { apiVersion: string; kind: string }): Promise<void> {
  const errs = await validateK8s(obj, as);
  if (errs.length) throw new Error(`${what}: not valid against the Kubernetes schema:\n  ${errs.join('\n  ')}`);
}

const PLURALS: Record<string, { apiVersion: string; kind: string }> = {
  namespaces: { apiVersion: 'v1', kind: 'Namespace' },
  nodes: { apiVersion: 'v1', kind: 'Node' },
  pods: { apiVersion: 'v1', kind: 'Pod' },
  secrets: { apiVersion: 'v1', kind: 'Secret' },
  configmaps: { apiVersion: 'v1', kind: 'ConfigMap' },
  persistentvolumeclaims: { apiVersion: 'v1', kind: 'PersistentVolumeClaim' },
  persistentvolumes: { apiVersion: 'v1', kind: 'PersistentVolume' },
  deployments: { apiVersion: 'apps/v1', kind: 'Deployment' },
  replicasets: { apiVersion: 'apps/v1', kind: 'ReplicaSet' },
  daemonsets: { apiVersion: 'apps/v1', kind: 'DaemonSet' },
  poddisruptionbudgets: { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget' },
  leases: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease' },
  volumeattachments: { apiVersion: 'storage.k8s.io/v1', kind: 'VolumeAttachment' },
};

/** what a request body should be, from its method and path */
export function bodyTypeOf(r: Pick<RecordedRequest, 'method' | 'path'>): { apiVersion: string; kind: string } | undefined {
  if (/\/pods\/[^/]+\/eviction$/.test(r.path)) return { apiVersion: 'policy/v1', kind: 'Eviction' };
  if (r.method === 'DELETE') return { apiVersion: 'v1', kind: 'DeleteOptions' };
  const m = r.path.match(/^\/(?:api\/v1|apis\/[^/]+\/[^/]+)(?:\/namespaces\/[^/]+)?\/([^/]+)(?:\/[^/]+)?(?:\/(status))?$/);
  const plural = r.path === '/api/v1/namespaces' || /^\/api\/v1\/namespaces\/[^/]+$/.test(r.path) ? 'namespaces' : m?.[1];
  return plural ? PLURALS[plural] : undefined;
}

/**
 * Check the bodies a client sent (KubeSim.requests()): POST/PUT bodies fully (an Eviction, a Node, ...), DELETE
 * bodies as DeleteOptions, merge and strategic-merge patches for unknown fields, JSON patches for their form.
 * Returns the requests with problems ([] when every body is valid).
 */
export async function validateRequests(reqs: RecordedRequest[]): Promise<{ request: string; errors: string[] }[]> {
  const out: { request: string; errors: string[] }[] = [];
  for (const r of reqs) {
    if (r.body === undefined || r.path.endsWith('/exec')) continue;
    const t = bodyTypeOf(r);
    const label = `${r.method} ${r.path}${r.query}`;
    if (!t) {
      out.push({ request: label, errors: ['unknown resource path'] });
      continue;
    }
    let errors: string[] = [];
    if (typeof r.body !== 'object' || r.body === null) errors = ['body is not JSON'];
    else if (r.method === 'PATCH') {
      if (r.contentType === 'application/json-patch+json') {
        if (!Array.isArray(r.body)) errors = ['a JSON patch must be an array of operations'];
        else
          for (const [i, op] of (r.body as Obj[]).entries()) {
            if (!['add', 'remove', 'replace', 'move', 'copy', 'test'].includes(op?.op)) errors.push(`[${i}].op ${JSON.stringify(op?.op)} is not a JSON patch operation`);
            if (typeof op?.path !== 'string' || !op.path.startsWith('/')) errors.push(`[${i}].path must be a JSON pointer`);
          }
      } else errors = await unknownFields(r.body, modelName(t.apiVersion, t.kind));
    } else errors = await validateK8s(r.body as Obj, t);
    if (errors.length) out.push({ request: label, errors });
  }
  return out;
}
