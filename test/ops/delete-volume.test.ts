import assert from 'node:assert/strict';
import { Reapers, staleAttachments } from '../../lib/ops/engine/reapers.js';
import { nullIo } from '../../lib/io.js';
import type { Context } from '../../lib/context.js';
import type { OpenStackClient, Volume, VolumeAttachment } from '../../lib/openstack/types.js';
import { fake } from '../helpers/fake.js';

/** the reapers' volume wait, as every rollback and cleanup uses it */
const deleteVolumeWhenFree = (os: OpenStackClient, id: string, ctx: Context, pollIntervalMs: number) =>
  new Reapers({ io: ctx.io, clock: ctx.clock, os, kube: undefined as never, cluster: 'k', pollIntervalMs }).deleteVolumeWhenFree(id);

function fakeCtx() {
  const clock = { t: 0, now: () => clock.t, sleep: async (ms: number) => { clock.t += ms; } };
  const ctx: Context = { io: nullIo, clock, env: {}, cwd: '/', signal: new AbortController().signal, openstack: async () => { throw new Error('x'); }, kube: async () => { throw new Error('x'); } };
  return { ctx, clock };
}

/** a volume left `reserved` by an attachment whose server was deleted early in its build */
function fakeCloud(opts: { serverAlive: boolean; novaCleansAfterMs?: number; now: () => number }) {
  const vol: Volume = { id: 'v1', name: 'k-node-3-root', status: 'reserved', size: 25 };
  let attachments: VolumeAttachment[] = [{ id: 'a1', volume_id: 'v1', instance: 's-gone', status: 'reserved' }];
  const calls: string[] = [];
  const os = fake<OpenStackClient>({
    volume: {
      getVolume: async () => {
        if (opts.novaCleansAfterMs !== undefined && opts.now() >= opts.novaCleansAfterMs && attachments.length) {
          attachments = [];
          vol.status = 'available';
        }
        return vol.status === 'gone' ? null : { ...vol };
      },
      listAttachments: async () => { calls.push('listAttachments'); return attachments; },
      deleteAttachment: async (id: string) => {
        calls.push(`deleteAttachment ${id}`);
        attachments = attachments.filter((a) => a.id !== id);
        if (!attachments.length) vol.status = 'available';
      },
      deleteVolume: async () => {
        calls.push('deleteVolume');
        if (vol.status !== 'available') throw new Error('400 Invalid volume: Volume status must be available');
        vol.status = 'gone';
      },
    },
    compute: { getServer: async (id: string) => (opts.serverAlive ? { id, name: 'k-node-3', status: 'ACTIVE' } : null) },
  }, 'OpenStackClient');
  return { os, calls, vol };
}

describe('ops: deleting a boot volume that a deleted server left reserved', () => {
  it('deletes the dangling attachment (its server is gone), then the volume', async () => {
    const { ctx, clock } = fakeCtx();
    const { os, calls } = fakeCloud({ serverAlive: false, now: () => clock.t });
    await deleteVolumeWhenFree(os, 'v1', ctx, 1000);
    assert.deepEqual(calls, ['listAttachments', 'deleteAttachment a1', 'deleteVolume']);
    assert.ok(clock.t >= 10_000, 'Nova gets a grace period to clean up itself first');
    assert.ok(clock.t < 30_000, `freed well before the deadline (${clock.t} ms)`);
  });

  it('leaves it to Nova when Nova cleans up within the grace period (no attachment call)', async () => {
    const { ctx, clock } = fakeCtx();
    const { os, calls } = fakeCloud({ serverAlive: false, novaCleansAfterMs: 3000, now: () => clock.t });
    await deleteVolumeWhenFree(os, 'v1', ctx, 1000);
    assert.deepEqual(calls, ['deleteVolume']);
  });

  it('never touches the attachment of a server that still exists; gives up at the deadline', async () => {
    const { ctx, clock } = fakeCtx();
    const { os, calls } = fakeCloud({ serverAlive: true, now: () => clock.t });
    await assert.rejects(deleteVolumeWhenFree(os, 'v1', ctx, 1000), /stayed reserved/);
    assert.ok(!calls.some((c) => c.startsWith('deleteAttachment')));
    assert.ok(!calls.includes('deleteVolume'));
  });

  it('staleAttachments: an attachment without an instance is stale too', async () => {
    const os = fake<OpenStackClient>({
      volume: { listAttachments: async () => [{ id: 'a', volume_id: 'v', instance: null, status: 'reserved' }, { id: 'b', volume_id: 'v', instance: 's1', status: 'attached' }] },
      compute: { getServer: async (id: string) => (id === 's1' ? { id, name: 'x', status: 'ACTIVE' } : null) },
    }, 'OpenStackClient');
    assert.deepEqual((await staleAttachments(os, 'v')).map((a) => a.id), ['a']);
  });
});
