/**
 * The ledger: the journal and the in-memory undo list as one thing (design.md section 5).
 *
 *   create(ref, make)  intent -> make() -> done (a definite refusal is journaled as not created)
 *   adopt(ref)         an existing resource becomes this operation's (done, adopted)
 *   observed(ref)      something that appeared on its own (a Node registered, an etcd member kubeadm added)
 *   keep(node)         the node stays (it joined): its resources are no longer undo material
 *   teardown(node)     the reapers delete what the node holds, in the fixed order (lib/ops/engine/reapers.ts)
 *
 * Every method writes the journal before it touches the undo list, so a kill -9 at any instant leaves a
 * journal that `--cleanup` and `--resume` read back into a ledger (Ledger.fromLeftovers). Secrets never
 * enter it: a Ref holds kinds, names, ids and plain details; the journal redacts on top of that.
 */
import type { LeftoverResource, ResourceKind } from '../../journal/index.js';
import { exactNamePattern, escapeRegex } from '../naming.js';

/** One resource kadd created, adopted or may have created. */
export interface Ref {
  kind: ResourceKind;
  /** the exact name (the journal's key): `<server>`, `<server>-root`, `<server>-port-0`, `bootstrap-token`, `ns/name` */
  name: string;
  /** the cloud/cluster id, when known */
  id?: string;
  /** the server this resource belongs to; '' for operation-wide things (bootstrap token, adder Deployment) */
  node: string;
  /**
   * how the id is known, which is what proves ownership:
   *  created  this operation created it (journal intent+done)
   *  journal  an earlier operation of this cluster file recorded it with its id (done)
   *  adopted  found by exact name and proven kadd's (metadata, tag, description) before adoption
   *  maybe    an intent without done (crash mid-create): looked up by exact name, deleted only with kadd's proof
   */
  source: 'created' | 'journal' | 'adopted' | 'maybe';
  details?: Record<string, unknown>;
}

/** What the ledger needs from the journal (lib/journal Journal satisfies it). */
export interface LedgerJournal {
  intent(kind: ResourceKind, name: string, details?: Record<string, unknown>, id?: string): Promise<void>;
  done(kind: ResourceKind, name: string, id?: string, details?: Record<string, unknown>): Promise<void>;
  undone(kind: ResourceKind, name: string, id?: string): Promise<void>;
  kept(kind: ResourceKind, name: string, id?: string): Promise<void>;
  notCreated(kind: ResourceKind, name: string, reason: string): Promise<void>;
}

/** HTTP statuses that mean "the create was refused, nothing exists" (quota, bad request, forbidden). */
export const DEFINITE_REFUSALS: ReadonlySet<number> = new Set([400, 403, 413, 422]);

/** A definite refusal of a create (status 400/403/413/422): nothing was created. Pure. */
export function isDefiniteRefusal(e: unknown): boolean {
  const status = typeof e === 'object' && e !== null ? (e as { status?: unknown }).status : undefined;
  if (typeof status !== 'number' || !DEFINITE_REFUSALS.has(status)) return false;
  // an uncertain answer (5xx on a POST) is never a refusal
  return (e as { code?: unknown }).code !== 'E_OPENSTACK_UNCERTAIN';
}

const PER_NODE: ReadonlySet<ResourceKind> = new Set<ResourceKind>(['server', 'volume', 'port', 'node', 'etcd-member', 'lb-member']);

/**
 * Pure: the server a resource belongs to, from kadd's naming (`<c>-<role>-N`, `-root`, `-port-0`), or ''
 * for operation-wide resources. An etcd-member intent of a `--fix-stale` removal (details.remove) is
 * named after the stale member, not a server of this operation: ''.
 */
export function nodeOf(cluster: string, kind: ResourceKind, name: string, details?: Record<string, unknown>): string {
  if (!PER_NODE.has(kind)) return '';
  if (kind === 'etcd-member' && details && 'remove' in details) return '';
  const m = new RegExp(`^(${escapeRegex(cluster)}-(?:node|master)-[0-9]+)(-root|-port-0)?$`).exec(name);
  if (!m) return '';
  if ((kind === 'volume') !== (m[2] === '-root') || (kind === 'port') !== (m[2] === '-port-0')) return '';
  return m[1]!;
}

/** Pure: is this a control-plane server name of the cluster (its teardown removes the etcd member first)? */
export function isMasterName(cluster: string, node: string): boolean {
  return new RegExp(`^${escapeRegex(cluster)}-master-[0-9]+$`).test(node);
}

/** One line per ref, for messages. */
export function describeRef(r: Pick<Ref, 'kind' | 'name' | 'id' | 'source'>): string {
  return `${r.kind} ${r.name}${r.id ? ` (${r.id})` : ''}${r.source === 'maybe' ? ' (may exist: the run died while creating it)' : ''}`;
}

/**
 * Pure adoption rule (issue 13.9). A resource found by exact name may be adopted only when this
 * operation's journal created it, or it carries kadd's ownership proof for this cluster and is not held by
 * a live server that is not the node's own server being adopted or torn down.
 */
export function canAdopt(o: {
  kind: 'port' | 'volume' | 'server';
  cluster: string;
  node: string;
  /** the journal of this cluster file records it (by id) */
  journaled: boolean;
  metadata?: Record<string, string>;
  tags?: string[];
  description?: string;
  /** servers holding it: port device_id, volume attachments */
  heldBy?: string[];
  /** server ids that may hold it (the node's own server) */
  mayHold?: string[];
  status?: string;
}): { ok: true } | { ok: false; reason: string } {
  if (o.kind === 'volume' && o.status && !['available', 'reserved', 'in-use', 'attaching', 'creating', 'downloading'].includes(o.status)) {
    return { ok: false, reason: `it is ${o.status}` };
  }
  const proven = o.journaled || ownedBy(o.cluster, o.node, o);
  if (!proven) return { ok: false, reason: `it carries no proof that kadd created it for cluster ${o.cluster}` };
  const foreign = (o.heldBy ?? []).filter((id) => id && !(o.mayHold ?? []).includes(id));
  if (foreign.length) return { ok: false, reason: `it is in use by server ${foreign.join(', ')}` };
  return { ok: true };
}

/** Pure: kadd's ownership proof on a resource found by name (metadata, tag, or the description written at create). */
export function ownedBy(cluster: string, node: string, r: { metadata?: Record<string, string>; tags?: string[]; description?: string }): boolean {
  return r.metadata?.['kadd-cluster'] === cluster || !!r.tags?.includes(`kadd-cluster=${cluster}`) || r.description === portDescription(cluster, node);
}

/** The description kadd writes into a port's create request (provable even before the tags are set, 13.1). */
export function portDescription(cluster: string, node: string): string {
  return `kadd: ${cluster} ${node}`;
}

/** What a reaper did with one ref. Only `deleted` means a DELETE was sent and the thing is gone now. */
export type ReapState =
  | 'deleted' // kadd deleted it and saw it gone
  | 'absent' // already gone (or went with its server): nothing to do
  | 'kept' // stays on purpose (--keep-failed): still a leftover for a later cleanup
  | 'refused' // not proven kadd's, in use by a live server, a Ready Node, a quorum refusal: untouched
  | 'failed'; // the delete or the wait failed (timeout, API error, second Ctrl-C)
export interface Reaped { ref: Ref; state: ReapState; reason?: string; fix?: string }

export interface TeardownOptions {
  /** kinds that stay (--keep-failed keeps the server, its volume and port for inspection) */
  keep?: ResourceKind[];
  /**
   * a Node that joined and is Ready: 'delete' when rolling back this operation's own node, 'refuse' for a
   * cleanup (a working node is removed with `kadd remove`, which drains it first); default 'refuse'
   */
  readyNode?: 'delete' | 'refuse';
  /** the node's IP (matches its etcd member by peer address) */
  ip?: string;
}

/** Does the deleting (reapers.ts implements it; injected so the ledger does not import the reapers). */
export interface NodeReaper {
  reapNode(node: string, refs: Ref[], o: TeardownOptions): Promise<Reaped[]>;
}

export interface TeardownResult {
  node: string;
  reaped: Reaped[];
  /** deletions that happened (what cleanup and rollback may report as deleted) */
  deleted: Reaped[];
  /** refused or failed: still there, with the reason */
  left: Reaped[];
  kept: Reaped[];
}

export { exactNamePattern };

export class Ledger {
  private readonly refs: Ref[] = [];

  constructor(private readonly journal: LedgerJournal, readonly cluster: string) {}

  /** Rebuild the undo list from what earlier runs left (findUnfinished().leftovers). */
  static fromLeftovers(journal: LedgerJournal, cluster: string, leftovers: LeftoverResource[]): Ledger {
    const l = new Ledger(journal, cluster);
    for (const x of leftovers) {
      l.refs.push({
        kind: x.kind, name: x.name, ...(x.id ? { id: x.id } : {}), node: nodeOf(cluster, x.kind, x.name, x.details),
        source: x.state === 'created' ? 'journal' : 'maybe', ...(x.details ? { details: x.details } : {}),
      });
    }
    return l;
  }

  /** intent -> make() -> done. A definite refusal (400/403/413/422) is journaled as not created and rethrown. */
  async create<T extends { id: string }>(
    ref: { kind: ResourceKind; name: string; node: string; id?: string; details?: Record<string, unknown> },
    make: () => Promise<T>,
  ): Promise<T> {
    await this.journal.intent(ref.kind, ref.name, ref.details, ref.id);
    const entry: Ref = { ...ref, source: 'maybe' };
    this.refs.push(entry);
    let made: T;
    try {
      made = await make();
    } catch (e) {
      if (isDefiniteRefusal(e)) {
        this.drop(entry);
        await this.journal.notCreated(ref.kind, ref.name, e instanceof Error ? e.message.slice(0, 200) : String(e));
      }
      throw e;
    }
    entry.id = made.id;
    entry.source = 'created';
    await this.journal.done(ref.kind, ref.name, made.id, ref.details);
    return made;
  }

  /** An existing resource, proven kadd's (canAdopt), becomes this operation's. */
  async adopt(ref: Omit<Ref, 'source'> & { id: string }): Promise<void> {
    this.replace({ ...ref, source: 'adopted' });
    await this.journal.done(ref.kind, ref.name, ref.id, { ...ref.details, adopted: true });
  }

  /** Something that appeared on its own and belongs to this operation (a registered Node, an etcd member). */
  async observed(ref: Omit<Ref, 'source'>): Promise<void> {
    if (this.refs.some((r) => r.kind === ref.kind && r.name === ref.name && r.id === ref.id)) return;
    this.replace({ ...ref, source: 'created' });
    await this.journal.done(ref.kind, ref.name, ref.id, ref.details);
  }

  /** The node stays (it joined): journaled as kept, no longer undo material. */
  async keep(node: string): Promise<Ref[]> {
    const mine = this.of(node);
    for (const r of mine) {
      await this.journal.kept(r.kind, r.name, r.id);
      this.drop(r);
    }
    return mine;
  }

  /** A reaper deleted it, or found it gone: journaled as undone. */
  async gone(ref: Ref): Promise<void> {
    await this.journal.undone(ref.kind, ref.name, ref.id);
    this.drop(ref);
  }

  /**
   * Delete what one node holds through the reapers, in their fixed order. Deleted and absent refs are
   * journaled undone; refused, failed and kept ones stay leftovers (a later cleanup finds them).
   */
  async teardown(node: string, reaper: NodeReaper, o: TeardownOptions = {}): Promise<TeardownResult> {
    const reaped = await reaper.reapNode(node, this.of(node), o);
    for (const x of reaped) if (x.state === 'deleted' || x.state === 'absent') await this.gone(x.ref);
    return {
      node, reaped,
      deleted: reaped.filter((x) => x.state === 'deleted'),
      left: reaped.filter((x) => x.state === 'refused' || x.state === 'failed'),
      kept: reaped.filter((x) => x.state === 'kept'),
    };
  }

  /** the refs of one node ('' = operation-wide), in creation order */
  of(node: string): Ref[] {
    return this.refs.filter((r) => r.node === node);
  }

  /** the id of the node's resource of one kind, if known */
  idOf(node: string, kind: ResourceKind): string | undefined {
    return this.refs.find((r) => r.node === node && r.kind === kind && r.id)?.id;
  }

  /** every node with something to undo ('' excluded) */
  nodes(): string[] {
    return [...new Set(this.refs.map((r) => r.node).filter(Boolean))];
  }

  all(): Ref[] {
    return [...this.refs];
  }

  private replace(ref: Ref): void {
    const i = this.refs.findIndex((r) => r.kind === ref.kind && r.name === ref.name);
    if (i >= 0) this.refs.splice(i, 1);
    this.refs.push(ref);
  }

  /** by identity, or the same resource found again by name (a reaper's copy with the id filled in) */
  private drop(ref: Ref): void {
    for (let i = this.refs.length - 1; i >= 0; i--) {
      const r = this.refs[i]!;
      if (r === ref || (r.kind === ref.kind && r.name === ref.name && (r.id === ref.id || !r.id))) this.refs.splice(i, 1);
    }
  }
}
