import assert from 'node:assert/strict';
import {
  HEAL_DEFAULTS, HEAL_LAST_ANNOTATION, HEAL_RETRIES_ANNOTATION, HEAL_SKIP_ANNOTATION, parseDuration, parsePercent, parseRange, planHeal, renderHealPlan,
  validateHealRequest, type HealMachine, type HealObserved, type HealRequest,
} from '../../lib/ops/heal-plan.js';
import { KaddError } from '../../lib/errors.js';

const NOW = Date.parse('2026-12-04T12:00:00Z');
const ago = (sec: number) => new Date(NOW - sec * 1000).toISOString();
const req = (over: Partial<HealRequest> = {}): HealRequest => ({ ...HEAL_DEFAULTS, ...over });

function m(name: string, o: { role?: 'master' | 'node'; ready?: 'True' | 'False' | 'Unknown'; readyFor?: number; status?: string; updated?: number; noServer?: boolean; noNode?: boolean; age?: number; ann?: Record<string, string>; member?: false | { started?: boolean; healthy?: boolean; alarms?: string[] }; readyz?: boolean } = {}): HealMachine {
  const role = o.role ?? 'node';
  const age = o.age ?? 86400;
  return {
    name, role,
    ...(o.noServer ? {} : { server: { id: `id-${name}`, status: o.status ?? 'ACTIVE', created: ago(age), updated: ago(o.updated ?? age) } }),
    ...(o.noNode ? {} : { node: { ready: o.ready ?? 'True', readySince: ago(o.readyFor ?? age), created: ago(age), annotations: o.ann ?? {} } }),
    ...(role === 'master' && o.member !== false ? { member: { started: o.member?.started ?? true, healthy: o.member?.healthy ?? (o.ready ?? 'True') === 'True', alarms: o.member?.alarms ?? [] } } : {}),
    ...(o.readyz !== undefined ? { apiserverReady: o.readyz } : {}),
  };
}
const obs = (machines: HealMachine[], over: Partial<HealObserved> = {}): HealObserved => ({ cluster: 'c', now: new Date(NOW).toISOString(), machines, etcdKnown: true, surgeQuota: true, ...over });
const workers = (n: number) => Array.from({ length: n }, (_, i) => m(`c-node-${i + 1}`));
const masters3 = () => [m('c-master-1', { role: 'master', age: 90000 }), m('c-master-2', { role: 'master', age: 80000 }), m('c-master-3', { role: 'master', age: 70000 })];
const dec = (p: ReturnType<typeof planHeal>, name: string) => p.decisions.find((d) => d.name === name)!;

describe('heal plan (pure)', () => {
  it('a healthy cluster: nothing to do, one line per node', () => {
    const p = planHeal(req(), obs([...masters3(), ...workers(3)]));
    assert.deepEqual(p.actions, []);
    assert.equal(p.unhealthy, 0);
    assert.ok(p.decisions.every((d) => d.action === 'none'));
    assert.equal(renderHealPlan(p, false).length, 6);
  });

  it('a worker NotReady for 6 min is replaced (surge when quota allows)', () => {
    const p = planHeal(req(), obs([...masters3(), ...workers(4), m('c-node-9', { ready: 'False', readyFor: 360 })]));
    assert.deepEqual(p.actions, ['c-node-9']);
    const d = dec(p, 'c-node-9');
    assert.equal(d.action, 'replace');
    assert.equal(d.strategy, 'surge');
    assert.match(d.problems[0]!, /Ready=False for 6m0s/);
  });

  it('without quota for one more worker: remove-first', () => {
    const p = planHeal(req(), obs([...workers(4), m('c-node-9', { ready: 'Unknown', readyFor: 400 })], { surgeQuota: false }));
    assert.equal(dec(p, 'c-node-9').strategy, 'remove-first');
  });

  it('a worker NotReady for 2 min is not replaced (NotLongEnough)', () => {
    const p = planHeal(req(), obs([...workers(4), m('c-node-9', { ready: 'Unknown', readyFor: 120 })]));
    assert.deepEqual(p.actions, []);
    assert.equal(dec(p, 'c-node-9').reason, 'NotLongEnough');
    assert.equal(dec(p, 'c-node-9').state, 'unhealthy');
  });

  it('--unhealthy-for is honoured', () => {
    const p = planHeal(req({ unhealthyForSec: 60 }), obs([...workers(4), m('c-node-9', { ready: 'Unknown', readyFor: 120 })]));
    assert.deepEqual(p.actions, ['c-node-9']);
  });

  it('50% NotReady after a partition: no action, TooManyUnhealthy', () => {
    const ms = [...workers(2), m('c-node-3', { ready: 'Unknown', readyFor: 400 }), m('c-node-4', { ready: 'Unknown', readyFor: 400 })];
    const p = planHeal(req(), obs(ms));
    assert.deepEqual(p.actions, []);
    assert.match(p.stormReason!, /^TooManyUnhealthy: 2 of 4/);
    assert.equal(dec(p, 'c-node-3').reason, 'TooManyUnhealthy');
    assert.equal(dec(p, 'c-node-4').action, 'refuse');
  });

  it('--max-unhealthy rounds down as CAPI (40% of 5 = 2 allowed, 3 trips)', () => {
    const two = [...workers(3), m('c-node-4', { ready: 'False', readyFor: 400 }), m('c-node-5', { ready: 'False', readyFor: 400 })];
    assert.equal(planHeal(req(), obs(two)).stormReason, undefined);
    const three = [...workers(2), ...['c-node-3', 'c-node-4', 'c-node-5'].map((n) => m(n, { ready: 'False', readyFor: 400 }))];
    assert.ok(planHeal(req(), obs(three)).stormReason);
    assert.equal(planHeal(req({ maxUnhealthyPercent: 60 }), obs(three)).stormReason, undefined);
  });

  it('--unhealthy-range a-b: outside the range trips the storm limit', () => {
    const ms = [...workers(2), m('c-node-3', { ready: 'False', readyFor: 400 }), m('c-node-4', { ready: 'False', readyFor: 400 })];
    assert.equal(planHeal(req({ unhealthyRange: [1, 2] }), obs(ms)).stormReason, undefined);
    assert.match(planHeal(req({ unhealthyRange: [1, 1] }), obs(ms)).stormReason!, /outside --unhealthy-range 1-1/);
  });

  it('at most one node per run unless --max-in-flight; the rest deferred, oldest first', () => {
    const ms = [...workers(8), m('c-node-a', { ready: 'False', readyFor: 400, age: 5000 }), m('c-node-b', { ready: 'False', readyFor: 400, age: 9000 })];
    const p = planHeal(req(), obs(ms));
    assert.deepEqual(p.actions, ['c-node-b']);
    assert.equal(dec(p, 'c-node-a').reason, 'MaxInFlight');
    assert.deepEqual(planHeal(req({ maxInFlight: 2 }), obs(ms)).actions, ['c-node-b', 'c-node-a']);
  });

  it('server ERROR/SHUTOFF held for --unhealthy-for, missing server at once', () => {
    const p = planHeal(req({ maxInFlight: 5 }), obs([...workers(10), m('c-node-e', { status: 'ERROR', updated: 400 }), m('c-node-s', { status: 'SHUTOFF', updated: 100 }), m('c-node-x', { noServer: true })]));
    assert.deepEqual(p.actions.sort(), ['c-node-e', 'c-node-x']);
    assert.equal(dec(p, 'c-node-s').reason, 'NotLongEnough');
    assert.match(dec(p, 'c-node-x').problems[0]!, /server missing/);
  });

  it('a node added 5 min ago and never joined is left alone until the startup timeout', () => {
    const young = planHeal(req(), obs([...workers(4), m('c-node-9', { noNode: true, age: 300 })]));
    assert.deepEqual(young.actions, []);
    assert.equal(dec(young, 'c-node-9').state, 'starting');
    assert.equal(young.unhealthy, 0);
    const old = planHeal(req(), obs([...workers(4), m('c-node-9', { noNode: true, age: 660 })]));
    assert.deepEqual(old.actions, ['c-node-9']);
    assert.match(dec(old, 'c-node-9').problems[0]!, /never joined/);
  });

  it('never touched: younger than --grace-after-add, annotated kadd.io/heal=skip', () => {
    const ms = [...workers(8), m('c-node-y', { ready: 'False', readyFor: 400, age: 600 }), m('c-node-s', { ready: 'False', readyFor: 400, ann: { [HEAL_SKIP_ANNOTATION]: 'skip' } })];
    const p = planHeal(req({ maxInFlight: 5 }), obs(ms));
    assert.deepEqual(p.actions, []);
    assert.equal(dec(p, 'c-node-y').reason, 'GraceAfterAdd');
    assert.equal(dec(p, 'c-node-s').reason, 'SkipAnnotation');
  });

  it('--reboot-first: reboot ladder (soft, hard) for a server that can be rebooted, hard only from ERROR, none for a missing one', () => {
    const ms = [...workers(10), m('c-node-a', { ready: 'Unknown', readyFor: 400 }), m('c-node-b', { status: 'ERROR', updated: 400 }), m('c-node-c', { noServer: true })];
    const p = planHeal(req({ rebootFirst: true, maxInFlight: 3 }), obs(ms));
    assert.equal(dec(p, 'c-node-a').action, 'reboot-then-replace');
    assert.deepEqual(dec(p, 'c-node-a').reboots, ['SOFT', 'HARD']);
    assert.equal(dec(p, 'c-node-b').action, 'reboot-then-replace');
    assert.deepEqual(dec(p, 'c-node-b').reboots, ['HARD']);
    assert.match(dec(p, 'c-node-b').detail, /^hard reboot \(server ERROR: no soft reboot\), then replace/);
    assert.equal(dec(p, 'c-node-c').action, 'replace');
    assert.equal(dec(p, 'c-node-c').reboots, undefined);
  });

  it('a dead master in 3 is replaced remove-first', () => {
    const ms = [m('c-master-1', { role: 'master', ready: 'Unknown', readyFor: 400 }), m('c-master-2', { role: 'master' }), m('c-master-3', { role: 'master' }), ...workers(3)];
    const p = planHeal(req(), obs(ms));
    assert.deepEqual(p.actions, ['c-master-1']);
    assert.equal(dec(p, 'c-master-1').strategy, 'remove-first');
  });

  it('a second dead master: refused with the quorum reason', () => {
    const ms = [m('c-master-1', { role: 'master', ready: 'Unknown', readyFor: 400 }), m('c-master-2', { role: 'master', ready: 'Unknown', readyFor: 400 }), m('c-master-3', { role: 'master' }), ...workers(7)];
    const p = planHeal(req({ maxUnhealthyPercent: 40 }), obs(ms));
    assert.deepEqual(p.actions, []);
    assert.equal(dec(p, 'c-master-1').reason, 'QuorumAfterRemoval');
    assert.match(dec(p, 'c-master-1').detail, /1 healthy etcd member\(s\) would remain of 2, quorum needs 2/);
  });

  it('a master whose member is already gone: quorum counted on the members that remain', () => {
    const ms = [m('c-master-1', { role: 'master', ready: 'Unknown', readyFor: 400, member: false }), m('c-master-2', { role: 'master' }), m('c-master-3', { role: 'master' }), ...workers(3)];
    assert.deepEqual(planHeal(req(), obs(ms)).actions, ['c-master-1']);
  });

  it('the only master is never replaced; nor any master when etcd could not be read', () => {
    const one = planHeal(req(), obs([m('c-master-1', { role: 'master', ready: 'Unknown', readyFor: 400 }), ...workers(4)]));
    assert.equal(dec(one, 'c-master-1').reason, 'OnlyMaster');
    const ms = [m('c-master-1', { role: 'master', ready: 'Unknown', readyFor: 400 }), m('c-master-2', { role: 'master' }), m('c-master-3', { role: 'master' }), ...workers(3)];
    assert.equal(dec(planHeal(req(), obs(ms, { etcdKnown: false })), 'c-master-1').reason, 'EtcdUnknown');
  });

  it('a master still provisioning blocks master remediation', () => {
    const ms = [m('c-master-1', { role: 'master', ready: 'Unknown', readyFor: 400 }), m('c-master-2', { role: 'master' }), m('c-master-3', { role: 'master' }), m('c-master-4', { role: 'master', noNode: true, member: false, age: 60 }), ...workers(4)];
    assert.equal(dec(planHeal(req(), obs(ms)), 'c-master-1').reason, 'MasterProvisioning');
  });

  it('a master being provisioned or removed (server BUILD or deleting, Node without its server, or a change the journal, the cluster lock or an etcd learner shows) blocks master remediation', () => {
    const base = () => [m('c-master-1', { role: 'master', ready: 'Unknown', readyFor: 400 }), m('c-master-2', { role: 'master' }), m('c-master-3', { role: 'master' }), ...workers(4)];
    assert.deepEqual(planHeal(req(), obs(base())).actions, ['c-master-1'], 'nothing under way: healed');
    const build = [...base(), m('c-master-4', { role: 'master', status: 'BUILD', age: 30000 })];
    assert.equal(dec(planHeal(req(), obs(build)), 'c-master-1').reason, 'MasterChangeInProgress');
    assert.match(dec(planHeal(req(), obs(build)), 'c-master-1').detail, /server c-master-4 is BUILD/);
    const deleting = base();
    deleting[2]!.server!.taskState = 'deleting';
    assert.match(dec(planHeal(req(), obs(deleting)), 'c-master-1').detail, /server c-master-3 is being deleted/);
    const noServer = [...base().slice(0, 2), m('c-master-3', { role: 'master', noServer: true }), ...workers(4)];
    const p = planHeal(req(), obs(noServer));
    assert.equal(dec(p, 'c-master-1').reason, 'MasterChangeInProgress');
    assert.match(dec(p, 'c-master-1').detail, /Node c-master-3 has no server/);
    const journal = planHeal(req(), obs(base(), { masterChanges: ['kadd remove (operation x, unterminated) did not finish on masters', 'etcd learner c-master-4 (a master join in progress)'] }));
    assert.deepEqual(journal.actions, []);
    assert.match(dec(journal, 'c-master-1').detail, /kadd remove .* did not finish on masters; etcd learner c-master-4/);
    // workers are not held back by a master change
    const w = planHeal(req(), obs([...base().slice(1), m('c-node-9', { ready: 'False', readyFor: 400 })], { masterChanges: ['the cluster lock is held by x'] }));
    assert.deepEqual(w.actions, ['c-node-9']);
  });

  it('masters: most broken first (no Node, then etcd, then control plane, then oldest), one per run', () => {
    const ms = [
      m('c-master-1', { role: 'master', age: 99999, readyz: false }),
      m('c-master-2', { role: 'master', member: { alarms: ['NOSPACE'] } }),
      m('c-master-3', { role: 'master', noNode: true, age: 3600 }),
      m('c-master-4', { role: 'master' }), m('c-master-5', { role: 'master' }),
      ...workers(10),
    ];
    const p = planHeal(req({ maxInFlight: 3, maxUnhealthyPercent: 100 }), obs(ms));
    assert.deepEqual(p.actions, ['c-master-3']);
    assert.equal(dec(p, 'c-master-2').reason, 'OneMasterPerRun');
    assert.match(dec(p, 'c-master-2').problems.join(), /etcd alarm NOSPACE/);
    assert.match(dec(p, 'c-master-1').problems.join(), /apiserver \/readyz failing/);
    // without the Node-less one, etcd problems come before control-plane problems
    const p2 = planHeal(req({ maxInFlight: 3, maxUnhealthyPercent: 100 }), obs(ms.filter((x) => x.name !== 'c-master-3')));
    assert.deepEqual(p2.actions, ['c-master-2']);
  });

  it('a node failing again within --min-healthy-period is not replaced again and is reported', () => {
    const ann = { [HEAL_LAST_ANNOTATION]: ago(1800), [HEAL_RETRIES_ANNOTATION]: '0' };
    const ms = [...workers(4), m('c-node-9', { ready: 'False', readyFor: 400, age: 86400, ann })];
    const p = planHeal(req(), obs(ms));
    assert.deepEqual(p.actions, []);
    assert.equal(dec(p, 'c-node-9').reason, 'RetryLimit');
    assert.match(renderHealPlan(p, false).join('\n'), /c-node-9 node unhealthy .*refuse \(RetryLimit\)/);
    // --max-retry 1 allows one retry (annotated retries 1), --retry-period holds it back
    assert.equal(dec(planHeal(req({ maxRetry: 1 }), obs(ms)), 'c-node-9').retries, 1);
    assert.deepEqual(planHeal(req({ maxRetry: 1 }), obs(ms)).actions, ['c-node-9']);
    assert.equal(dec(planHeal(req({ maxRetry: 1, retryPeriodSec: 3600 }), obs(ms)), 'c-node-9').reason, 'RetryPeriod');
    // past the min healthy period: a fresh failure, retries reset
    const fresh = [...workers(4), m('c-node-9', { ready: 'False', readyFor: 400, ann: { [HEAL_LAST_ANNOTATION]: ago(7200), [HEAL_RETRIES_ANNOTATION]: '3' } })];
    const pf = planHeal(req(), obs(fresh));
    assert.deepEqual(pf.actions, ['c-node-9']);
    assert.equal(dec(pf, 'c-node-9').retries, 0);
  });

  it('bad input: one-line UsageError (exit 2)', () => {
    assert.equal(parseDuration('--unhealthy-for', '5m'), 300);
    assert.equal(parseDuration('--x', '1h30m'), 5400);
    assert.equal(parseDuration('--x', '90'), 90);
    assert.equal(parsePercent('--max-unhealthy', '40%'), 40);
    assert.deepEqual(parseRange('--unhealthy-range', '[1-3]'), [1, 3]);
    for (const f of [() => parseDuration('--unhealthy-for', '5 minutes'), () => parsePercent('--max-unhealthy', '140%'), () => parseRange('--unhealthy-range', '3-1'), () => validateHealRequest(req({ maxInFlight: 0 }))]) {
      assert.throws(f, (e: unknown) => e instanceof KaddError && e.exitCode === 2 && !String((e as Error).message).includes('\n'));
    }
  });
});
