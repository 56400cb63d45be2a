import assert from 'node:assert/strict';
import { exactNamePattern, nameClaimRival, exactNamesPattern, indexOf, nextNames, retryZone, roleNamePattern, zoneFor } from '../../lib/ops/naming.js';

describe('ops/naming', () => {
  it('numbers numerically, not by string sort (koris bug: node-9 sorted after node-10)', () => {
    const existing = ['k-node-1', 'k-node-9', 'k-node-10', 'k-master-1'];
    assert.deepEqual(nextNames('k', 'node', existing, 2), ['k-node-11', 'k-node-12']);
  });
  it('starts at 1 with no existing servers (koris raised IndexError)', () => {
    assert.deepEqual(nextNames('k', 'node', [], 3), ['k-node-1', 'k-node-2', 'k-node-3']);
  });
  it('ignores servers of other clusters, other roles and non-numeric suffixes', () => {
    const existing = ['k2-node-50', 'k-master-7', 'k-node-x', 'master-k-node-9', 'k-node-3-old'];
    assert.deepEqual(nextNames('k', 'node', existing, 1), ['k-node-1']);
  });
  it('a cluster named master-x does not make its workers masters (koris substring bug)', () => {
    assert.equal(indexOf('master-x', 'master', 'master-x-node-4'), null);
    assert.equal(indexOf('master-x', 'node', 'master-x-node-4'), 4);
  });
  it('skips reserved names (resume)', () => {
    assert.deepEqual(nextNames('k', 'node', ['k-node-1'], 1, ['k-node-5']), ['k-node-6']);
  });
  it('regex patterns escape the cluster name and match exactly', () => {
    const re = new RegExp(roleNamePattern('a.b', 'node'));
    assert.ok(re.test('a.b-node-3'));
    assert.ok(!re.test('aXb-node-3'));
    assert.ok(!re.test('a.b-node-3x'));
    const ex = new RegExp(exactNamePattern('c-node-12'));
    assert.ok(ex.test('c-node-12'));
    assert.ok(!ex.test('c-node-123'));
    assert.ok(!ex.test('xc-node-12'));
    assert.equal(exactNamesPattern(['c.node-1']), '^c\\.node-1$');
    // an alternation would match nothing on Nova with MySQL (it escapes "|"): refused
    assert.throws(() => exactNamesPattern(['c-node-1', 'c-node-12']), /Nova escapes "\|"/);
  });
  it('zones round-robin, explicit zone wins, retry moves to the next zone', () => {
    assert.deepEqual([0, 1, 2].map((i) => zoneFor(i, undefined, ['a', 'b'])), ['a', 'b', 'a']);
    assert.equal(zoneFor(1, 'z', ['a', 'b']), 'z');
    assert.equal(zoneFor(0, undefined, []), undefined);
    assert.equal(retryZone('a', undefined, ['a', 'b']), 'b');
    assert.equal(retryZone('b', undefined, ['a', 'b']), 'a');
    assert.equal(retryZone('a', 'a', ['a', 'b']), 'a');
    assert.equal(retryZone('a', undefined, ['a']), 'a');
  });
});

describe('naming: names are claimed before use (13.8)', () => {
  const s = (id: string, created?: string, name = 'demo-node-2') => ({ id, name, ...(created ? { created } : {}) });
  it('the earliest created server keeps a name, ties by id, and both sides decide the same way', () => {
    const a = s('a1', '2026-12-04T10:00:00Z');
    const b = s('b2', '2026-12-04T10:00:01Z');
    assert.equal(nameClaimRival(a, [a, b]), undefined);
    assert.deepEqual(nameClaimRival(b, [a, b]), a);
    const c = s('c3', '2026-12-04T10:00:00Z');
    assert.equal(nameClaimRival(a, [c, a]), undefined, 'same second: the smaller id keeps it');
    assert.deepEqual(nameClaimRival(c, [c, a]), a);
    assert.equal(nameClaimRival(a, [a, s('x', '2026-12-04T09:00:00Z', 'demo-node-3')]), undefined, 'other names do not matter');
    assert.deepEqual(nameClaimRival(b, [a]), a, 'mine not listed yet: still compared');
    // a changes-since list shows deleted servers: the node's own first attempt (ERROR, deleted before the retry) holds no name
    const gone = { ...s('old', '2026-12-04T09:59:00Z'), status: 'DELETED' };
    assert.equal(nameClaimRival(b, [gone, b]), undefined, 'a DELETED server is no rival');
    assert.equal(nameClaimRival(b, [{ ...gone, status: 'SOFT_DELETED' }, b]), undefined, 'nor a SOFT_DELETED one');
    assert.deepEqual(nameClaimRival(b, [{ ...gone, status: 'ACTIVE' }, b]), { ...gone, status: 'ACTIVE' }, 'a live one is');
  });
});
