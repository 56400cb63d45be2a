import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { decimalToHex, hexToDecimal, normalizeHexId, toHexId } from '../../lib/etcd/ids.js';
import {
  etcdctlErrorMessage,
  parseAlarmList,
  parseEndpointHealthJson,
  parseEndpointHealthText,
  parseEndpointStatusJson,
  parseJsonExact,
  parseMemberAdd,
  parseMemberListJson,
  parseMemberListSimple,
  parseMemberListTable,
} from '../../lib/etcd/parse.js';

const fx = (n: string) => readFileSync(new URL(`../../fixtures/etcd/${n}`, import.meta.url), 'utf8');

describe('etcd IDs (uint64 as hex)', () => {
  it('converts decimal <-> hex exactly above 2^53', () => {
    assert.equal(decimalToHex('17725852491784663393'), 'f5fee0ecf9cc3161');
    assert.equal(hexToDecimal('f5fee0ecf9cc3161'), '17725852491784663393');
    assert.equal(decimalToHex('18446744073709551615'), 'ffffffffffffffff');
    // JSON.parse would have produced a different number
    assert.notEqual(JSON.parse('17725852491784663393').toString(16), 'f5fee0ecf9cc3161');
  });
  it('normalises hex and rejects garbage', () => {
    assert.equal(normalizeHexId('0x0AFC5803DFBFBCEA'), 'afc5803dfbfbcea');
    assert.equal(toHexId('0xAB'), 'ab');
    assert.equal(toHexId('171'), 'ab');
    assert.equal(toHexId('ab', 'hex'), 'ab');
    assert.throws(() => decimalToHex('18446744073709551616'), /out of uint64 range/);
    assert.throws(() => normalizeHexId('xyz'), /not a hex etcd ID/);
    assert.throws(() => normalizeHexId('1ffffffffffffffff'), /not a hex/);
    assert.throws(() => toHexId(2 ** 60), /not exact/);
  });
});

describe('etcdctl output parsers (real etcdctl 3.4.23 captures)', () => {
  it('member list -w json keeps big IDs exact', () => {
    const l = parseMemberListJson(fx('member-list-3.json'));
    assert.equal(l.clusterId, 'c1f91e085e4f04cd');
    assert.deepEqual(
      l.members.map((m) => [m.id, m.name, m.isLearner]),
      [
        ['afc5803dfbfbcea', 'm2', false],
        ['27fc79d61bbb81ba', 'm3', false],
        ['3c3228a6e07ae199', 'm1', false],
      ],
    );
    assert.deepEqual(l.members[0].peerURLs, ['http://127.0.0.1:24802']);
    assert.deepEqual(l.members[0].clientURLs, ['http://127.0.0.1:24792']);
  });

  it('the three member list formats agree, including an unstarted learner with an ID above 2^63', () => {
    const j = parseMemberListJson(fx('member-list-unstarted-learner.json')).members;
    const t = parseMemberListTable(fx('member-list-unstarted-learner.table.txt'));
    const s = parseMemberListSimple(fx('member-list-unstarted-learner.simple.txt'));
    assert.deepEqual(t, j);
    assert.deepEqual(s, j);
    const learner = j.find((m) => m.isLearner)!;
    assert.deepEqual(learner, { id: 'f5fee0ecf9cc3161', name: '', peerURLs: ['http://127.0.0.1:24804'], clientURLs: [], isLearner: true });
  });

  it('started learner in table and json', () => {
    const t = parseMemberListTable(fx('member-list-started-learner.table.txt'));
    const j = parseMemberListJson(fx('member-list-started-learner.json')).members;
    assert.deepEqual(t, j);
    assert.deepEqual(t.filter((m) => m.isLearner).map((m) => m.name), ['m4']);
  });

  it('endpoint status -w json: member_id and leader as exact hex, learner flag', () => {
    const st = parseEndpointStatusJson(fx('endpoint-status-learner.json'));
    assert.equal(st.length, 4);
    assert.ok(st.every((s) => s.leaderId === 'afc5803dfbfbcea'));
    assert.equal(st[3].memberId, 'f5fee0ecf9cc3161');
    assert.equal(st[3].isLearner, true);
    assert.equal(st[0].version, '3.4.23');
    assert.equal(st[0].dbSize, 20480);
  });

  it('endpoint status with an unreachable endpoint (error from stderr)', () => {
    const st = parseEndpointStatusJson(fx('endpoint-status-one-down.json'), fx('endpoint-status-one-down.err'));
    assert.equal(st.length, 4);
    const down = st.find((s) => s.endpoint === 'http://127.0.0.1:24793')!;
    assert.deepEqual(down.errors, ['context deadline exceeded']);
    assert.equal(down.memberId, '');
  });

  it('endpoint health json and text', () => {
    const ok = parseEndpointHealthJson(fx('endpoint-health-3.json'));
    assert.equal(ok.length, 3);
    assert.ok(ok.every((h) => h.health));
    const one = parseEndpointHealthJson(fx('endpoint-health-one-down.json'));
    assert.deepEqual(one.filter((h) => !h.health).map((h) => [h.endpoint, h.error]), [['http://127.0.0.1:24793', 'context deadline exceeded']]);
    const txt = parseEndpointHealthText(fx('endpoint-health-one-down.txt'));
    assert.deepEqual(txt.map((h) => h.health), [true, true, true, false]);
    assert.equal(txt[3].error, 'context deadline exceeded');
  });

  it('member add output', () => {
    const a = parseMemberAdd(fx('member-add-learner.txt'));
    assert.deepEqual(a, {
      id: 'f5fee0ecf9cc3161',
      clusterId: 'c1f91e085e4f04cd',
      name: 'm4',
      initialCluster: 'm2=http://127.0.0.1:24802,m3=http://127.0.0.1:24803,m1=http://127.0.0.1:24801,m4=http://127.0.0.1:24804',
      initialClusterState: 'existing',
      initialAdvertisePeerURLs: 'http://127.0.0.1:24804',
    });
    assert.throws(() => parseMemberAdd('Error: nope'), /no "Member <id> added/);
  });

  it('member add with a short id: etcdctl prints %16x, space-padded (seen on a real 3.4 cluster), and 3.5 wording', () => {
    const text = 'Member  8490637f6418d67 added to cluster  c1f91e085e4f04c\n\nETCD_NAME="m5"\n';
    const a = parseMemberAdd(text);
    assert.equal(a.id, '8490637f6418d67');
    assert.equal(a.clusterId, 'c1f91e085e4f04c');
    assert.equal(parseMemberAdd('Member f5fee0ecf9cc3161 added as learner to cluster c1f91e085e4f04cd\n').id, 'f5fee0ecf9cc3161');
  });

  it('error lines from stderr skip the JSON retry logs', () => {
    assert.equal(etcdctlErrorMessage(fx('promote-not-in-sync.err')), 'etcdserver: can only promote a learner member which is in sync with leader');
    assert.equal(etcdctlErrorMessage(fx('too-many-learners.err')), 'etcdserver: too many learner members in cluster');
    assert.equal(etcdctlErrorMessage(fx('member-remove-notfound.err')), 'etcdserver: member not found');
  });

  it('parseJsonExact does not touch numbers inside strings, and quotes every big integer', () => {
    const v = parseJsonExact('{"name":"x\\"ID\\":5","ID":5,"other":[12345678901234567890],"small":7}') as Record<string, unknown>;
    assert.equal(v.name, 'x"ID":5');
    assert.equal(v.ID, '5');
    assert.deepEqual(v.other, ['12345678901234567890']);
    assert.equal(v.small, 7);
    assert.throws(() => parseJsonExact('{'), /invalid JSON/);
  });
});

describe('parseAlarmList', () => {
  it('etcdctl alarm list (Go %+v of AlarmMember, decimal member ids above 2^53) -> alarms per hex member id', () => {
    const m = parseAlarmList(['memberID:17725852491784663393 alarm:NOSPACE ', 'memberID:17725852491784663393 alarm:CORRUPT', 'memberID:10 alarm:NOSPACE', 'no alarms here']);
    assert.deepEqual([...m.entries()], [['f5fee0ecf9cc3161', ['NOSPACE', 'CORRUPT']], ['a', ['NOSPACE']]]);
    assert.equal(parseAlarmList([]).size, 0);
  });
});
