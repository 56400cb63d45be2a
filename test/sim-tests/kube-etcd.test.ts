/**
 * etcd leadership and member removal, in the simulated mode and (when etcd/etcdctl are installed) the real-etcd
 * mode with the same assertions: the leader per endpoint in `endpoint status`, `move-leader` only through the
 * leader's endpoint and only to a started voting member, member remove by hex id through another member (the
 * leader's removal elects a new one), a second unhealthy member, leadership moving back between a check and a
 * removal, member names that differ from the Node names.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'mocha';
import { realEtcdMissing } from '../sim/kube/etcd-real.js';
import { startKube, type Harness } from './kube-helpers.js';

const EPS = ['https://10.0.0.11:2379', 'https://10.0.0.12:2379', 'https://10.0.0.13:2379'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function ctl(h: Harness, args: string[], endpoints = EPS, node = 'e-master-1') {
  return h.sim.hostExec(node, ['etcdctl', `--endpoints=${endpoints.join(',')}`, ...args]);
}
/** endpoint status -w json: [{endpoint, member (hex), leader (hex)}] */
async function status(h: Harness, endpoints = EPS) {
  const r = await ctl(h, ['endpoint', 'status', '-w', 'json'], endpoints);
  const j = JSON.parse(r.stdout.replace(/"(leader|member_id|cluster_id)":(\d+)/g, '"$1":"$2"') || '[]') as any[];
  return { r, rows: j.map((x) => ({ endpoint: x.Endpoint as string, member: BigInt(x.Status.header.member_id).toString(16), leader: BigInt(x.Status.leader).toString(16), term: Number(x.Status.raftTerm) })) };
}
async function members(h: Harness) {
  const r = await ctl(h, ['member', 'list', '-w', 'json']);
  const j = JSON.parse(r.stdout.replace(/"ID":(\d+)/g, '"ID":"$1"'));
  return (j.members as any[]).map((m) => ({ id: BigInt(m.ID).toString(16), name: m.name as string, url: m.clientURLs?.[0] as string }));
}
async function leaderOf(h: Harness, endpoints = EPS) {
  for (let i = 0; i < 100; i++) {
    const { rows } = await status(h, endpoints);
    const l = rows.find((x) => x.leader !== '0')?.leader;
    if (l) return l;
    await sleep(100);
  }
  throw new Error('no leader');
}

for (const mode of ['simulated', 'real'] as const) {
  describe(`sim etcd (${mode}): leader, move-leader and member remove`, function () {
    this.timeout(60_000);
    let h: Harness;
    before(async function () {
      if (mode === 'real') {
        const missing = realEtcdMissing();
        if (missing.length) {
          console.log(`    skipping: not installed: ${missing.join(', ')}`);
          this.skip();
        }
      }
      h = await startKube({ masters: 3, nodes: 0, clusterName: 'e', realEtcd: mode === 'real' }, { seed: 31, etcd: { memberName: '{node}.novalocal' } });
      if (mode === 'real') await h.sim.realEtcd!.ready;
    });
    after(async () => {
      await h?.close();
      if (mode === 'real') await h?.sim.stop();
    });

    it('member names may differ from Node names; every endpoint reports the same leader', async () => {
      const ms = await members(h);
      assert.deepEqual(ms.map((m) => m.name).sort(), ['e-master-1.novalocal', 'e-master-2.novalocal', 'e-master-3.novalocal']);
      const { rows } = await status(h);
      assert.equal(rows.length, 3);
      assert.equal(new Set(rows.map((r) => r.leader)).size, 1);
      assert.ok(rows.some((r) => r.member === r.leader), 'one endpoint is the leader');
      const t = await ctl(h, ['endpoint', 'status', '-w', 'table']);
      assert.equal((t.stdout.match(/\| +true +\|/g) ?? []).length >= 1, true);
    });

    it('move-leader through a follower endpoint only: "no leader endpoint given", exit 128', async () => {
      const lead = await leaderOf(h);
      const ms = await members(h);
      const follower = ms.find((m) => m.id !== lead)!;
      const r = await ctl(h, ['move-leader', follower.id], [follower.url]);
      assert.equal(r.exitCode, 128);
      assert.match(r.stderr, new RegExp(`Error: no leader endpoint given at \\[${follower.url.replace(/\./g, '\\.')}\\]`));
    });

    it('move-leader to a follower through all endpoints: transferred, and every endpoint shows the new leader', async () => {
      const lead = await leaderOf(h);
      const to = (await members(h)).find((m) => m.id !== lead)!;
      const r = await ctl(h, ['move-leader', to.id]);
      assert.equal(r.exitCode, 0, r.stderr);
      assert.equal(r.stdout, `Leadership transferred from ${lead} to ${to.id}\n`);
      assert.equal(await leaderOf(h), to.id);
      const bad = await ctl(h, ['move-leader', 'zz']);
      assert.equal(bad.exitCode, 128);
      assert.match(bad.stderr, /Error: strconv\.ParseUint: parsing "zz": invalid syntax/);
    });

    it('fault: leadership moves back to the member right after the check that saw it move', async () => {
      const lead = await leaderOf(h);
      const ms = await members(h);
      const old = ms.find((m) => m.id === lead)!;
      h.sim.etcdLeaderReturns(old.name, 1);
      const to = ms.find((m) => m.id !== lead)!;
      assert.equal((await ctl(h, ['move-leader', to.id])).exitCode, 0);
      const check = await status(h);
      assert.ok(check.rows.every((x) => x.leader === to.id), 'the check sees the move');
      // ... and by the time of the removal it is back
      let back = '';
      for (let i = 0; i < 50 && back !== lead; i++) {
        back = (await status(h)).rows.find((x) => x.leader !== '0')?.leader ?? '';
        if (back !== lead) await sleep(100);
      }
      assert.equal(back, lead);
    });

    if (mode === 'simulated') {
      it('move-leader to a learner or to a member that is down is refused as etcd does', async () => {
        const ms = await members(h);
        const lead = await leaderOf(h);
        const other = ms.find((m) => m.id !== lead)!;
        h.sim.setEtcdMemberUp(other.name, false);
        const r = await ctl(h, ['move-leader', other.id], [ms.find((m) => m.id === lead)!.url]);
        assert.equal(r.exitCode, 1);
        assert.equal(r.stderr, 'Error: etcdserver: request timed out, leader transfer took too long\n');
        h.sim.setEtcdMemberUp(other.name, true);
        const nobody = await ctl(h, ['move-leader', 'abcdef'], [ms.find((m) => m.id === lead)!.url]);
        assert.equal(nobody.stderr, 'Error: etcdserver: bad leader transferee\n');
      });

      it('a second unhealthy member: removing a healthy one is refused ("unhealthy cluster"); the down one may go', async () => {
        const ms = await members(h);
        const lead = await leaderOf(h);
        const [a, b] = ms.filter((m) => m.id !== lead);
        h.sim.setEtcdMemberUp(a!.name, false);
        const leaderUrl = ms.find((m) => m.id === lead)!.url;
        const r = await ctl(h, ['member', 'remove', b!.id], [leaderUrl]);
        assert.equal(r.exitCode, 1);
        assert.equal(r.stderr, 'Error: etcdserver: unhealthy cluster\n');
        const ok = await ctl(h, ['member', 'remove', a!.id], [leaderUrl]);
        assert.equal(ok.exitCode, 0, ok.stderr);
        assert.match(ok.stdout, /^Member +[0-9a-f]+ removed from cluster +[0-9a-f]+\n$/);
        assert.equal((await members(h)).length, 2);
      });

      it('removing the leader through another member elects a new leader (term + 1)', async () => {
        const lead = await leaderOf(h);
        const before = (await status(h, [(await members(h)).find((m) => m.id !== lead)!.url])).rows[0]!.term;
        const other = (await members(h)).find((m) => m.id !== lead)!;
        // 2 members: removing one leaves 1 of 1 started -> allowed
        const r = await ctl(h, ['member', 'remove', lead], [other.url]);
        assert.equal(r.exitCode, 0, r.stderr);
        const { rows } = await status(h, [other.url]);
        assert.equal(rows[0]!.leader, other.id);
        assert.ok(rows[0]!.term > before);
        assert.equal(h.sim.etcdLeader()!.name, other.name);
      });
    }
  });
}
