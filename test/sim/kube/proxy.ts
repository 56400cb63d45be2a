/**
 * The node proxy subresource, `/api/v1/nodes/{[scheme:]name[:port]}/proxy/{path}`, as kube-apiserver serves it
 * (pkg/registry/core/node/rest/proxy.go): the request goes to the Node's InternalIP at that port (no port: the
 * kubelet's 10250), and the upstream's status and body come back as they are; an upstream that cannot be reached
 * is 503 "error trying to reach service: ...".
 *
 * Upstreams modelled: a control-plane node's own kube-apiserver on 6443 (`/readyz`, `/livez`, `/healthz`), whose
 * etcd is the member on the same host (kubeadm: --etcd-servers=https://127.0.0.1:2379): ready when that member is
 * up and started and etcd has quorum, `[-]etcd failed` otherwise; a kube-apiserver taken down with
 * `KubeSim.setApiserverUp(node, false)` refuses connections (its mirror pod crash-loops); the kubelet's
 * `/healthz` on 10250. A host that is unreachable (Node Unreachable, server stopped) times out.
 */
import type { KubeCluster } from './cluster.js';
import type { Obj } from './util.js';

type Result = { code: number; body: Obj };

const text = (code: number, s: string): Result => ({ code, body: { __text: s } });

export function nodeProxy(c: KubeCluster, method: string, target: string, path: string): Result {
  const m = /^(?:(https?):)?([^:]+)(?::(\d+))?$/.exec(target);
  if (!m) return { code: 400, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `invalid node request "${target}"`, reason: 'BadRequest', code: 400 } };
  const [, scheme = 'https', name = '', portText] = m;
  const node = c.get('nodes', undefined, name);
  if (!node) return { code: 404, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `nodes "${name}" not found`, reason: 'NotFound', details: { name, kind: 'nodes' }, code: 404 } };
  const port = Number(portText ?? 10250);
  const ip = (node.status.addresses as Obj[] | undefined)?.find((a) => a.type === 'InternalIP')?.address ?? c.nodeMeta.get(name)?.ip ?? '';
  const unreachable = (why: string) => text(503, `error trying to reach service: dial tcp ${ip}:${port}: ${why}`);
  if (c.nodeMeta.get(name)?.gone) return unreachable('i/o timeout');
  if (method !== 'GET') return text(405, 'method not allowed');
  if (port === 10250) return path === '/healthz' ? text(200, 'ok') : text(404, '404 page not found\n');
  const apiserver = c.fs(name).has('/etc/kubernetes/manifests/kube-apiserver.yaml');
  if (port !== 6443 || !apiserver || c.apiserverDown.has(name)) return unreachable('connect: connection refused');
  if (scheme !== 'https') return text(400, 'Client sent an HTTP request to an HTTPS server.\n');
  const check = /^\/(readyz|livez|healthz)$/.exec(path)?.[1];
  if (!check) return text(403, JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `forbidden: User "system:anonymous" cannot get path "${path}"`, reason: 'Forbidden', code: 403 }));
  const local = c.etcd.real ? undefined : c.etcd.members.find((x) => x.node === name);
  const etcdOk = c.etcd.real ? true : !!local && local.up && local.started && c.etcd.hasQuorum();
  if (etcdOk) return text(200, 'ok');
  return text(500, `[+]ping ok\n[+]log ok\n[-]etcd failed: reason withheld\n${check} check failed\n`);
}
