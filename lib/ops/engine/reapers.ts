/**
 * Reapers: one idempotent, ownership-proving, bounded delete per resource kind, always run in one order
 * (design.md section 5):
 *
 *   LB pool member -> etcd member (quorum re-checked) -> Node -> server (waited until gone) ->
 *   Cinder attachments and volume (waited until gone) -> port -> bootstrap token -> adder Deployment
 *
 * Ownership is proven the same way for every kind: the id comes from a journal record (this operation's
 * or an earlier one of this cluster file), or the resource found by its exact name carries kadd's proof
 * (volume/server metadata `kadd-cluster`, port tag `kadd-cluster=` or the description written at create).
 * Already gone counts as done. A volume or port held by a live server that is not being torn down is
 * never touched. Every wait has its own deadline and stops on `signal` (the second Ctrl-C: the first one
 * starts the rollback and must not stop it). Only `deleted` means a DELETE was sent and the thing is gone.
 */
import type { Clock } from '../../clock.js';
import type { Io } from '../../io.js';
import type { ResourceKind } from '../../journal/index.js';
import type { KubeApi } from '../../kube/types.js';
import type { OpenStackClient, Port, Server, VolumeAttachment } from '../../openstack/types.js';
import type { Etcdctl } from '../../etcd/etcdctl.js';
import { exactNamePattern, portName, volumeName } from '../naming.js';
import { memberMatches, removeServerMembers, type MemberRemovalOutcome } from '../master-etcd.js';
import { KaddError } from '../../errors.js';
import { pollUntil, type Verdict } from '../../poll.js';
import { isMasterName, ownedBy, type NodeReaper, type Reaped, type Ref, type TeardownOptions } from './ledger.js';

/** The fixed order; lib/ops/engine/README.md explains why each step comes where it does. */
export const REAP_ORDER: readonly ResourceKind[] = ['lb-member', 'etcd-member', 'node', 'server', 'volume', 'port', 'token', 'deployment'];

export interface ReapContext {
  io: Io;
  clock: Clock;
  /** stops every wait (the second Ctrl-C); never the op's first-Ctrl-C signal, which starts the rollback */
  signal?: AbortSignal;
  os: OpenStackClient;
  kube: KubeApi;
  /** etcd access for control-plane teardowns; null or absent: a master server is not touched at all */
  etcdctl?: Etcdctl | null;
  cluster: string;
  /** first interval of the waits (backs off to 5 s) */
  pollIntervalMs: number;
  /** the API pool, for pool-member refs recorded without one */
  poolId?: string;
  /** per-kind deadlines in ms (defaults: server 180 s, volume 120 s) */
  deadlines?: Partial<Record<'server' | 'volume', number>>;
  /**
   * waits for a deleted server to go; default: poll it alone. `kadd remove` passes a batched waiter so that
   * the servers of every node being removed are covered by one list call per tick.
   */
  waitServerGone?: (id: string, timeoutMs: number) => Promise<void>;
}

const GONE = new Set(['DELETED', 'SOFT_DELETED']);
/** Nova usually removes a deleted server's attachment itself shortly after: give it this long first */
const ATTACHMENT_GRACE_MS = 10_000;

class Interrupted extends Error {
  constructor() { super('interrupted (second Ctrl-C); run `kadd cleanup` (or `kadd add --cleanup`) to finish'); }
}

const msg = (e: unknown) => (e instanceof Error ? e.message : String(e));

export class Reapers implements NodeReaper {
  constructor(private readonly rc: ReapContext) {}

  /** Poll `get` (through the one poller) until it answers gone (null, DELETED, SOFT_DELETED) or the deadline passes. */
  private async untilGone(get: () => Promise<{ status?: string } | null>, what: string, timeoutMs: number): Promise<void> {
    await this.poll<void>(what, timeoutMs, async () => {
      const x = await get();
      return !x || GONE.has(x.status ?? '') ? { state: 'done', value: undefined } : { state: 'pending', note: x.status };
    }, (last) => new Error(`${what} still present after ${Math.round(timeoutMs / 1000)}s (status ${last ?? '?'})`));
  }

  /** pollUntil with the reapers' cadence (first probe at once, backoff to 5 s) and the second-Ctrl-C signal */
  private async poll<T>(what: string, timeoutMs: number, probe: () => Promise<Verdict<T>>, onTimeout: (lastNote?: string) => Error): Promise<T> {
    let last: string | undefined;
    try {
      return await pollUntil<T>({
        what, timeoutMs, probe, immediate: true, clock: this.rc.clock, signal: this.rc.signal, intervalMs: this.rc.pollIntervalMs, maxIntervalMs: 5000, jitter: 0,
        onNote: (n) => (last = n), onTimeout: () => onTimeout(last),
      });
    } catch (e) {
      if (KaddError.is(e) && e.code === 'E_INTERRUPTED') throw new Interrupted();
      throw e;
    }
  }

  /** Delete what one node holds, in REAP_ORDER. Never throws: every ref comes back with its state. */
  async reapNode(node: string, refs: Ref[], o: TeardownOptions = {}): Promise<Reaped[]> {
    if (!node) return this.reapShared(refs);
    const rc = this.rc;
    const out: Reaped[] = [];
    const of = (k: ResourceKind) => refs.filter((r) => r.kind === k);
    const all = (state: Reaped['state'], reason: string, kinds?: ResourceKind[]) => {
      for (const r of refs) if (!kinds || kinds.includes(r.kind)) if (!out.some((x) => x.ref === r)) out.push({ ref: r, state, reason });
    };
    const keep = new Set(o.keep ?? []);
    const master = isMasterName(rc.cluster, node) || of('etcd-member').length > 0;
    const hasHost = of('server').length > 0 || of('node').length > 0;
    // a cleanup knows no IP: its port's address matches an unstarted, unnamed learner kubeadm added
    const ip = o.ip ?? (master ? await this.portAddress(node, of('port')) : undefined);

    // a joined, Ready Node is a working member of the cluster: cleanup never deletes it without a drain
    if ((hasHost || master) && (o.readyNode ?? 'refuse') === 'refuse') {
      let ready: boolean;
      try {
        ready = !!(await rc.kube.getNode(node))?.ready;
      } catch (e) {
        all('failed', `looking up Node ${node} failed (${msg(e)}); nothing of ${node} was touched`);
        return out;
      }
      if (ready && master && (await this.notJoinedMaster(node, ip))) ready = false;
      if (ready) {
        all('refused', `Node ${node} joined and is Ready; \`kadd remove ${node}\` drains and removes it${master ? ', and finishes the interrupted kadd add' : ' (or \`kadd add --resume\` keeps it)'}`);
        return out;
      }
    }
    if (master && !rc.etcdctl) {
      all('refused', `etcd is not reachable to remove the member of ${node} first; nothing of ${node} was touched (use --via ssh, or fix the master-adder)`);
      return out;
    }

    // 1. pool member
    for (const r of of('lb-member')) out.push(await this.reapPoolMember(r, node));

    // 2. etcd member(s), each behind a fresh quorum check; a started voter that cannot go keeps its server
    let protect = false;
    let etcdBroken = false;
    const etcdPass = async () => {
      const r = await removeServerMembers(rc.etcdctl!, { name: node, ip, ids: of('etcd-member').map((x) => x.id).filter(Boolean) as string[] });
      this.etcdOutcome(r, node, of('etcd-member'), out);
      if (r.refused.length || r.failed.length) etcdBroken = true;
      if ([...r.refused, ...r.failed].some((x) => x.startedVoter)) protect = true;
    };
    if (master) await etcdPass();
    if (protect) {
      all('refused', `kept running: the etcd member of ${node} is a voting member that could not be removed safely`, ['node', 'server', 'volume', 'port']);
      return out;
    }
    if (master && !etcdBroken) for (const r of of('etcd-member')) if (!out.some((x) => x.ref === r)) out.push({ ref: r, state: 'absent' });

    // 3. the Node object of the server (13.12: every server kadd deletes loses its Node too)
    if ((hasHost || master) && !keep.has('node')) out.push(...(await this.reapNodeObject(node, of('node'))));
    else for (const r of of('node')) out.push({ ref: r, state: 'kept' });

    // 4. server, waited until gone
    const keptHost = keep.has('server');
    const tornDown: string[] = [];
    let serverLeft = false;
    if (keptHost) for (const r of of('server')) out.push({ ref: r, state: 'kept' });
    else {
      for (const x of await this.reapServers(node, of('server'))) {
        out.push(x);
        if (x.state === 'refused' || x.state === 'failed') serverLeft = true;
        if (x.ref.id && (x.state === 'deleted' || x.state === 'absent')) tornDown.push(x.ref.id);
      }
      // kubeadm may have added its member between the first pass and the server's end
      if (master && !etcdBroken && tornDown.length) await etcdPass();
      // and a kubelet still running re-registers its Node after the first delete: look again once it is gone
      if ((hasHost || master) && !keep.has('node') && tornDown.length) {
        for (const x of await this.reapNodeObject(node, [])) {
          if (x.state === 'failed' || !out.some((y) => y.ref.kind === 'node' && y.state === 'deleted')) out.push(x);
        }
      }
    }

    // 5. volume and 6. port: never while their server is still there
    const held = keptHost ? 'kept' : serverLeft ? 'failed' : undefined;
    for (const kind of ['volume', 'port'] as const) {
      if (keep.has(kind) || held === 'kept') for (const r of of(kind)) out.push({ ref: r, state: 'kept' });
      else if (held) for (const r of of(kind)) out.push({ ref: r, state: 'failed', reason: `not deleted: its server ${node} is still there` });
      else out.push(...(kind === 'volume' ? await this.reapVolumes(node, of('volume'), tornDown, hasHost) : await this.reapPorts(node, of('port'), tornDown, hasHost)));
    }
    // every ref comes back with a state (an etcd member the quorum check kept, matched by nothing else)
    for (const r of refs) if (!out.some((x) => x.ref === r || (x.ref.kind === r.kind && x.ref.name === r.name))) out.push({ ref: r, state: 'failed', reason: 'not reached' });
    return out;
  }

  /**
   * A Ready control-plane Node has not joined when its etcd member is missing, a learner or unstarted
   * (kubeadm stopped midway): its teardown is a rollback, not a remove. Unreadable etcd: treated as joined.
   */
  private async notJoinedMaster(node: string, ip?: string): Promise<boolean> {
    if (!this.rc.etcdctl) return false;
    try {
      const mine = (await this.rc.etcdctl.memberList()).members.filter((m) => memberMatches(m, node, ip));
      return mine.length === 0 || mine.some((m) => m.isLearner || !m.name);
    } catch {
      return false;
    }
  }

  /** The node's address from its port (by recorded id, else by exact name with kadd's proof). */
  private async portAddress(node: string, refs: Ref[]): Promise<string | undefined> {
    const id = refs.find((r) => r.id)?.id;
    const ports = await this.rc.os.network.listPorts(id ? { id } : { name: portName(node) }).catch(() => [] as Port[]);
    return ports.find((p) => id || ownedBy(this.rc.cluster, node, p))?.fixed_ips?.[0]?.ip_address;
  }

  /** Operation-wide refs: bootstrap tokens, adder Deployments, `--fix-stale` removals that died midway, orphan pool members. */
  async reapShared(refs: Ref[]): Promise<Reaped[]> {
    const rc = this.rc;
    const out: Reaped[] = [];
    const sorted = [...refs].sort((a, b) => REAP_ORDER.indexOf(a.kind) - REAP_ORDER.indexOf(b.kind));
    for (const r of sorted) {
      try {
        if (r.kind === 'token') {
          // the token id is journaled with the intent (chosen before the create), so a crash leaves it findable
          if (!r.id) out.push({ ref: r, state: 'absent', reason: 'no id recorded; an unrecorded token expires on its own' });
          else {
            await rc.kube.deleteBootstrapToken(r.id);
            out.push({ ref: r, state: 'deleted' });
          }
        } else if (r.kind === 'deployment') {
          const [ns, name] = r.name.includes('/') ? r.name.split('/', 2) : ['kube-system', r.name];
          await rc.kube.deleteDeployment(ns!, name!);
          out.push({ ref: r, state: 'deleted' });
        } else if (r.kind === 'lb-member') {
          out.push(await this.reapPoolMember(r, r.name)); // an orphan of the API pool (kadd cleanup's sweep): by id
        } else if (r.kind === 'etcd-member') {
          const id = r.id ?? (r.details?.remove as string | undefined);
          if (!rc.etcdctl || !id) {
            out.push({ ref: r, state: 'refused', reason: `etcd member ${r.name}${id ? ` ${id}` : ''}: check with \`etcdctl member list\`; the next preflight lists it if it is stale` });
            continue;
          }
          const x = await removeServerMembers(rc.etcdctl, { name: r.name, ids: [id], idsOnly: true });
          this.etcdOutcome(x, r.name, [r], out);
          if (!out.some((y) => y.ref === r)) out.push({ ref: r, state: 'absent' });
        } else if (['network', 'subnet', 'router', 'security-group', 'certificate-key', 'snapshot'].includes(r.kind)) {
          out.push({ ref: r, state: 'absent', reason: 'shared infrastructure or a record kept on purpose' }); // never deleted
        } else {
          out.push({ ref: r, state: 'refused', reason: `${r.kind} ${r.name} does not belong to a server kadd knows; remove it by hand if it is not needed` });
        }
      } catch (e) {
        out.push({ ref: r, state: 'failed', reason: msg(e) });
      }
    }
    return out;
  }

  private etcdOutcome(r: MemberRemovalOutcome, node: string, refs: Ref[], out: Reaped[]): void {
    for (const label of r.removed) {
      const id = label.split(' ')[0]!;
      const ref = refs.find((x) => x.id === id || x.details?.remove === id) ?? { kind: 'etcd-member', name: node, id, node, source: 'adopted' };
      out.push({ ref, state: 'deleted' });
    }
    for (const x of [...r.refused, ...r.failed]) {
      const ref = refs.find((y) => y.id === x.id) ?? { kind: 'etcd-member', name: node, id: x.id, node, source: 'adopted' };
      out.push({ ref, state: r.refused.includes(x) ? 'refused' : 'failed', reason: x.reason, fix: x.fix });
    }
  }

  /** One pool member (by recorded id, or by kadd's member name = the server's); `kadd remove` calls it alone, before the etcd member goes. */
  async reapPoolMember(r: Ref, node: string): Promise<Reaped> {
    const pool = (r.details?.pool as string | undefined) ?? this.rc.poolId;
    if (!pool) return { ref: r, state: 'refused', reason: `pool member ${r.name}: no pool recorded; remove it by hand if it exists` };
    try {
      const members = await this.rc.os.loadbalancer.listMembers(pool);
      // by id, or (intent without done) by kadd's member name, which is the server's
      const m = members.find((x) => (r.id ? x.id === r.id : x.name === node));
      if (!m) return { ref: r, state: 'absent' };
      await this.rc.os.loadbalancer.deleteMember(pool, m.id);
      return { ref: { ...r, id: m.id }, state: 'deleted' };
    } catch (e) {
      return { ref: r, state: 'failed', reason: msg(e) };
    }
  }

  private async reapNodeObject(node: string, refs: Ref[]): Promise<Reaped[]> {
    const ref = refs[0] ?? { kind: 'node' as const, name: node, node, source: 'adopted' as const };
    try {
      let n: unknown;
      try {
        n = await this.rc.kube.getNode(node);
      } catch (e) {
        // after the first Ctrl-C the Kubernetes client stops reads (not writes): delete without looking
        if (!(KaddError.is(e) && e.code === 'E_INTERRUPTED')) throw e;
        n = undefined;
      }
      if (n === null) return refs.map((r) => ({ ref: r, state: 'absent' as const }));
      await this.rc.kube.deleteNode(node);
      return [{ ref, state: 'deleted' }, ...refs.slice(1).map((r) => ({ ref: r, state: 'absent' as const }))];
    } catch (e) {
      return [{ ref, state: 'failed', reason: `deleting Node ${node}: ${msg(e)}` }];
    }
  }

  private async reapServers(node: string, refs: Ref[]): Promise<Reaped[]> {
    const { os, cluster } = this.rc;
    const out: Reaped[] = [];
    const targets: { ref: Ref; server: Server | null }[] = [];
    for (const r of refs) {
      try {
        if (r.id) targets.push({ ref: r, server: await os.compute.getServer(r.id) });
        else {
          // the run died between intent and done: the server must carry this cluster's metadata
          const found = await os.compute.listServers({ name: exactNamePattern(r.name) });
          if (!found.length) out.push({ ref: r, state: 'absent' });
          for (const s of found) {
            if (s.metadata?.['kadd-cluster'] === cluster) targets.push({ ref: { ...r, id: s.id }, server: s });
            else out.push({ ref: r, state: 'refused', reason: `server ${s.id} is named ${r.name} but carries no kadd-cluster=${cluster} metadata` });
          }
        }
      } catch (e) {
        out.push({ ref: r, state: 'failed', reason: `looking up server ${r.name}: ${msg(e)}` });
      }
    }
    await Promise.all(targets.map(async ({ ref, server }) => {
      if (!server || GONE.has(server.status)) return void out.push({ ref, state: 'absent' });
      try {
        await os.compute.deleteServer(server.id);
        const timeoutMs = this.rc.deadlines?.server ?? 180_000;
        if (this.rc.waitServerGone) await this.rc.waitServerGone(server.id, timeoutMs);
        else await this.untilGone(() => os.compute.getServer(server.id), `server ${node} (${server.id})`, timeoutMs);
        out.push({ ref, state: 'deleted' });
      } catch (e) {
        out.push({ ref, state: 'failed', reason: `deleting server ${node}: ${msg(e)}` });
      }
    }));
    return out;
  }

  /** Is any of these servers alive and not one being torn down? (13.9) */
  private async liveHolder(ids: (string | null | undefined)[], tornDown: string[]): Promise<string | undefined> {
    for (const id of ids) {
      if (!id || tornDown.includes(id)) continue;
      const s = await this.rc.os.compute.getServer(id);
      if (s && !GONE.has(s.status)) return id;
    }
    return undefined;
  }

  private async reapVolumes(node: string, refs: Ref[], tornDown: string[], hasHost: boolean): Promise<Reaped[]> {
    const { os, cluster } = this.rc;
    const out: Reaped[] = [];
    const name = volumeName(node);
    const targets: { ref: Ref; byName: boolean }[] = refs.filter((r) => r.id).map((ref) => ({ ref, byName: false }));
    // by exact name when no id is known (crash mid-create), or when a server went whose boot volume survived
    if (!refs.some((r) => r.id) && (refs.length || hasHost)) {
      try {
        const found = await os.volume.listVolumes({ name });
        const base = refs[0] ?? { kind: 'volume' as const, name, node, source: 'adopted' as const };
        for (const v of found) targets.push({ ref: { ...base, id: v.id }, byName: true });
        if (!found.length) for (const r of refs) out.push({ ref: r, state: 'absent' });
      } catch (e) {
        for (const r of refs) out.push({ ref: r, state: 'failed', reason: `looking up volume ${name}: ${msg(e)}` });
        return out;
      }
    }
    for (const { ref, byName } of targets) {
      try {
        const v = await os.volume.getVolume(ref.id!);
        if (!v) { out.push({ ref, state: 'absent' }); continue; }
        const md = v.metadata?.['kadd-cluster'];
        if ((md !== undefined && md !== cluster) || (byName && md !== cluster)) {
          out.push({ ref, state: 'refused', reason: `volume ${v.id} is named ${name} but carries no kadd-cluster=${cluster} metadata; not deleted` });
          continue;
        }
        const holder = await this.liveHolder((v.attachments ?? []).map((a) => a.server_id), tornDown);
        if (holder) {
          out.push({ ref, state: 'refused', reason: `volume ${v.id} is in use by server ${holder}, which is not being torn down` });
          continue;
        }
        const sent = await this.deleteVolumeWhenFree(v.id);
        out.push({ ref, state: sent ? 'deleted' : 'absent' });
      } catch (e) {
        out.push({ ref, state: 'failed', reason: `deleting volume ${name}: ${msg(e)}` });
      }
    }
    return out;
  }

  /**
   * Delete a volume once it is free and wait until it is gone (13.11: nothing is re-created on a name that
   * is still being deleted). A server deleted early in its build can leave the boot volume `reserved` with
   * a Cinder attachment nobody removes (real Zed, after a Ctrl-C): after a grace period, attachments whose
   * server is gone are deleted. Returns whether kadd sent the DELETE (false: it went with its server).
   */
  async deleteVolumeWhenFree(id: string): Promise<boolean> {
    const { os, clock } = this.rc;
    const start = clock.now();
    let sent = false;
    let attachmentChecks = 0;
    return this.poll<boolean>(`volume ${id} gone`, this.rc.deadlines?.volume ?? 120_000, async () => {
      const v = await os.volume.getVolume(id);
      if (!v) return { state: 'done', value: sent };
      if (v.status === 'available' || v.status === 'error') { await os.volume.deleteVolume(id); sent = true; }
      else if (['reserved', 'attaching', 'in-use', 'detaching'].includes(v.status) && clock.now() - start >= ATTACHMENT_GRACE_MS && attachmentChecks < 3) {
        attachmentChecks++;
        const stale = await staleAttachments(os, id);
        for (const a of stale) await os.volume.deleteAttachment(a.id);
        if (stale.length) {
          // the volume goes back to available: look again at once
          const again = await os.volume.getVolume(id);
          if (!again) return { state: 'done', value: sent };
          if (again.status === 'available' || again.status === 'error') { await os.volume.deleteVolume(id); sent = true; }
        }
      }
      return { state: 'pending', note: v.status };
    }, (last) => new Error(`volume ${id} stayed ${last ?? '?'}`));
  }

  private async reapPorts(node: string, refs: Ref[], tornDown: string[], hasHost: boolean): Promise<Reaped[]> {
    const { os, cluster } = this.rc;
    const out: Reaped[] = [];
    const name = portName(node);
    const ids = refs.map((r) => r.id).filter(Boolean) as string[];
    let found: Port[];
    try {
      // by recorded id (whatever its name), else by exact name (a crash mid-create, or a server that went)
      found = ids.length ? (await Promise.all(ids.map((id) => os.network.listPorts({ id })))).flat() : refs.length || hasHost ? await os.network.listPorts({ name }) : [];
    } catch (e) {
      return refs.map((r) => ({ ref: r, state: 'failed' as const, reason: `looking up port ${name}: ${msg(e)}` }));
    }
    const targets = ids.length
      ? found.filter((p) => ids.includes(p.id)).map((p) => ({ p, ref: refs.find((r) => r.id === p.id)!, byName: false }))
      : found.map((p) => ({ p, ref: { ...(refs[0] ?? { kind: 'port' as const, name, node, source: 'adopted' as const }), id: p.id }, byName: true }));
    for (const r of refs) if (!targets.some((t) => t.ref.id === r.id || (!r.id && t.byName))) out.push({ ref: r, state: 'absent' });
    for (const { p, ref, byName } of targets) {
      // found by name only: the tag, or the description written in the create itself (13.1), must prove it
      if (byName && !ownedBy(cluster, node, p)) {
        out.push({ ref, state: 'refused', reason: `port ${p.id} is named ${name} but has no kadd-cluster=${cluster} tag or kadd description; not deleted` });
        continue;
      }
      try {
        const holder = await this.liveHolder([p.device_id], tornDown);
        if (holder) {
          out.push({ ref, state: 'refused', reason: `port ${p.id} is in use by server ${holder}, which is not being torn down` });
          continue;
        }
        await os.network.deletePort(p.id);
        out.push({ ref, state: 'deleted' });
      } catch (e) {
        out.push({ ref, state: 'failed', reason: `deleting port ${name}: ${msg(e)}` });
      }
    }
    return out;
  }
}

/** Attachments of a volume whose server is gone (or that never had one). */
export async function staleAttachments(os: OpenStackClient, volumeId: string): Promise<VolumeAttachment[]> {
  const out: VolumeAttachment[] = [];
  for (const a of await os.volume.listAttachments(volumeId)) {
    const server = a.instance ? await os.compute.getServer(a.instance) : null;
    if (!server || GONE.has(server.status)) out.push(a);
  }
  return out;
}
