/**
 * Delete what an interrupted run left behind, as recorded in its journal. Resources are looked up
 * by id, or by their exact name when the run died between intent and done; only resources that
 * carry kadd's ownership metadata or the exact journaled name are touched.
 * Servers first (their boot volumes go with them), then volumes, ports, Nodes and tokens.
 * Networks, subnets, routers and security groups are shared infrastructure and are kept.
 */
import type { Context } from '../context.js';
import type { OpenStackClient, Port } from '../openstack/types.js';
import { portOwnedByKadd } from '../openstack/network.js';
import type { KubeApi } from '../kube/types.js';
import type { LeftoverResource, Journal } from '../journal/index.js';
import { exactNamePattern } from './naming.js';
import { deleteVolumeWhenFree, waitGone } from './add-workers.js';

const ORDER = ['server', 'volume', 'port', 'lb-member', 'node', 'token', 'deployment', 'etcd-member'];

export async function cleanupLeftovers(
  ctx: Context,
  os: OpenStackClient,
  kube: KubeApi,
  leftovers: LeftoverResource[],
  journal: Pick<Journal, 'undone'>,
  cluster: string,
): Promise<string[]> {
  const done: string[] = [];
  const sorted = [...leftovers].sort((a, b) => ORDER.indexOf(a.kind) - ORDER.indexOf(b.kind));
  const serverIds: string[] = [];
  let serversGone: Promise<void> | undefined;
  for (const l of sorted) {
    try {
      switch (l.kind) {
        case 'server': {
          const ids = l.id ? [l.id] : (await os.compute.listServers({ name: exactNamePattern(l.name) })).filter((s) => s.metadata?.['kadd-cluster'] === cluster).map((s) => s.id);
          for (const id of ids) {
            await os.compute.deleteServer(id);
            serverIds.push(id);
          }
          break;
        }
        case 'volume': {
          // wait (once, up to a minute) for the deleted servers to go: a volume in-use cannot be deleted
          serversGone ??= Promise.all(
            serverIds.map((id) => waitGone(() => os.compute.getServer(id), ctx, 60_000, 1000).catch(() => undefined)),
          ).then(() => undefined);
          await serversGone;
          const vols = l.id ? [await os.volume.getVolume(l.id)] : await os.volume.listVolumes({ name: l.name });
          for (const v of vols) {
            if (!v) continue;
            if (v.metadata?.['kadd-cluster'] !== undefined && v.metadata['kadd-cluster'] !== cluster) continue;
            // found by name only (the run died before it recorded the id): kadd's ownership metadata must prove it
            if (!l.id && v.metadata?.['kadd-cluster'] !== cluster) throw new Error(`volume ${v.id} is named ${l.name} but carries no kadd-cluster=${cluster} metadata; not deleted`);
            if (v.status === 'deleting') continue;
            // frees a volume left `reserved` by a server deleted early in its build, then deletes it
            await deleteVolumeWhenFree(os, v.id, ctx, 1000);
          }
          break;
        }
        case 'port': {
          const ports: Pick<Port, 'id' | 'tags' | 'description'>[] = l.id ? [{ id: l.id }] : await os.network.listPorts({ name: l.name });
          for (const p of ports) {
            // found by name only: its tag or the description written in the create itself must prove it is ours
            if (!l.id && !portOwnedByKadd(p, cluster, l.name.replace(/-port-0$/, ''))) {
              throw new Error(`port ${p.id} is named ${l.name} but has no kadd-cluster=${cluster} tag or kadd description; not deleted`);
            }
            await os.network.deletePort(p.id);
          }
          break;
        }
        case 'node':
          await kube.deleteNode(l.name);
          break;
        case 'token':
          if (l.id) await kube.deleteBootstrapToken(l.id);
          break;
        default:
          ctx.io.log('warn', `left over ${l.kind} ${l.name}${l.id ? ` (${l.id})` : ''} is not cleaned up automatically; remove it by hand if it is not needed`);
          continue;
      }
      await journal.undone(l.kind, l.name, l.id);
      done.push(`${l.kind} ${l.name}`);
      ctx.io.log('info', `deleted left over ${l.kind} ${l.name}`);
    } catch (e) {
      ctx.io.log('warn', `could not delete left over ${l.kind} ${l.name}: ${e instanceof Error ? e.message : e}`);
    }
  }
  return done;
}
