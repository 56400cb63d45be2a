/**
 * The bootstrap-token lease: one owner creates the token, extends it while nodes still boot, and finally
 * deletes it (through the reapers). Its id is chosen before the create and journaled with the intent, so
 * a run killed at any instant leaves a token that resume and cleanup find and delete (issue 13.6). The
 * secret never reaches the journal or any output (registered for redaction the moment it exists).
 */
import type { Clock } from '../../clock.js';
import type { Io } from '../../io.js';
import type { BootstrapToken, KubeApi } from '../../kube/types.js';
import { generateTokenId } from '../../kube/token.js';
import { registerSecret } from '../../redact.js';
import { describeReaped, type Ledger, type NodeReaper } from './ledger.js';

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const msg = (e: unknown) => (e instanceof Error ? e.message : String(e));

export interface TokenLeaseOptions {
  ledger: Ledger;
  kube: KubeApi;
  clock: Clock;
  io: Io;
  /** lifetime in seconds; extended by this much whenever less than min(300 s, ttl/3) is left */
  ttlSeconds: number;
  /** the token's description (who made it, for what) */
  description: string;
}

export class TokenLease {
  private expires: number;
  private extending: Promise<void> | undefined;
  private readonly adopted: string[] = [];

  private constructor(readonly token: BootstrapToken, private readonly o: TokenLeaseOptions) {
    this.expires = Date.parse(token.expiration);
  }

  /** intent (with the id) -> create -> done */
  static async create(o: TokenLeaseOptions): Promise<TokenLease> {
    const id = generateTokenId();
    const token = await o.ledger.create({ kind: 'token', name: 'bootstrap-token', node: '', id }, () =>
      o.kube.createBootstrapToken({ ttlSeconds: o.ttlSeconds, description: o.description, id }));
    registerSecret(token.secret);
    return new TokenLease(token, o);
  }

  /** epoch ms */
  get expiresAt(): number {
    return this.expires;
  }

  /**
   * Tokens of an interrupted run whose servers are adopted: kept alive with ours and deleted with it.
   * One that is gone is said so (those servers cannot join any more).
   */
  async adopt(ids: string[]): Promise<void> {
    const { kube, io, ledger } = this.o;
    for (const id of ids) {
      if (id === this.token.id) continue;
      try {
        await kube.extendBootstrapToken(id, this.token.expiration);
        await ledger.adopt({ kind: 'token', name: `bootstrap-token-${id}`, node: '', id });
        this.adopted.push(id);
        io.log('debug', `bootstrap token ${id} of the interrupted run kept until ${this.token.expiration} for the adopted servers`);
      } catch (e) {
        io.log('warn', `the interrupted run's bootstrap token ${id} is gone (${msg(e)}); adopted servers that have not joined yet cannot join and will be rolled back`);
      }
    }
  }

  /** Call on every poll tick: extends when due; never throws (a failure is said and retried on the next tick). */
  keepAlive(): Promise<void> {
    const { kube, io, clock, ttlSeconds } = this.o;
    if (this.extending) return this.extending;
    if (this.expires - clock.now() >= Math.min(300_000, (ttlSeconds * 1000) / 3)) return Promise.resolve();
    this.extending = (async () => {
      const next = iso(clock.now() + ttlSeconds * 1000);
      try {
        await kube.extendBootstrapToken(this.token.id, next);
      } catch (e) {
        io.log('warn', `extending bootstrap token ${this.token.id} failed, will retry (it expires ${new Date(this.expires).toISOString()}): ${msg(e)}`);
        return;
      }
      for (const id of this.adopted) await kube.extendBootstrapToken(id, next).catch(() => undefined);
      this.expires = Date.parse(next);
      io.log('debug', `bootstrap token ${this.token.id} extended to ${next}`);
    })().finally(() => {
      this.extending = undefined;
    });
    return this.extending;
  }

  /** Delete ours and the adopted ones (the reapers; journaled undone). What could not go is said. */
  async release(reapers: NodeReaper): Promise<void> {
    await this.extending;
    const r = await this.o.ledger.teardown('', reapers, { skip: (ref) => ref.kind !== 'token' });
    for (const x of r.left) this.o.io.log('warn', `could not delete ${describeReaped(x)}; it expires at ${new Date(this.expires).toISOString()}`);
  }

  /** --no-wait: ours stays until its expiry so ACTIVE servers can still join; no longer undo material. */
  async leave(): Promise<void> {
    this.o.io.log('info', `bootstrap token ${this.token.id} stays until ${iso(this.expires)} so the new nodes can join (--no-wait); \`kubeadm token delete ${this.token.id}\` removes it earlier`);
    for (const r of this.o.ledger.of('').filter((x) => x.kind === 'token' && x.id === this.token.id)) await this.o.ledger.gone(r);
  }
}
