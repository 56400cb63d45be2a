import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import type { Clock } from '../../lib/clock.js';
import { KaddError } from '../../lib/errors.js';
import { Etcdctl, EtcdctlError, generateCertificateKey, kubeadmEtcdctlOptions, kubeadmUploadCerts } from '../../lib/etcd/etcdctl.js';
import { LocalTransport } from '../../lib/etcd/local.js';
import { redactText } from '../../lib/redact.js';
import type { CommandResult, Transport } from '../../lib/etcd/types.js';

const fx = (n: string) => readFileSync(new URL(`../../fixtures/etcd/${n}`, import.meta.url), 'utf8');

class ScriptedTransport implements Transport {
  readonly kind = 'local' as const;
  readonly describe = 'scripted';
  calls: { argv: string[]; env?: Record<string, string>; stdin?: string; stdinEof?: boolean }[] = [];
  constructor(private readonly reply: (argv: string[]) => CommandResult) {}
  async run(argv: string[], opts: { env?: Record<string, string>; stdin?: string; stdinEof?: boolean } = {}) {
    this.calls.push({ argv, env: opts.env, ...(opts.stdin !== undefined ? { stdin: opts.stdin, stdinEof: opts.stdinEof } : {}) });
    return this.reply(argv);
  }
  async close() {}
}

const ok = (stdout: string, stderr = ''): CommandResult => ({ stdout, stderr, exitCode: 0 });
const fail = (stderr: string, stdout = ''): CommandResult => ({ stdout, stderr, exitCode: 1 });
const fakeClock = (): Clock & { slept: number[] } => {
  const slept: number[] = [];
  return { slept, now: () => 0, sleep: async (ms: number) => void slept.push(ms) };
};
const sub = (argv: string[]) => argv.slice(argv.findIndex((a) => a.startsWith('--command-timeout')) + 1);

describe('Etcdctl over a Transport', () => {
  it('kubeadm defaults and flags', () => {
    const t = new ScriptedTransport(() => ok(''));
    const e = new Etcdctl(t, kubeadmEtcdctlOptions());
    assert.deepEqual(e.argv(['member', 'list']), [
      'etcdctl',
      '--endpoints=https://127.0.0.1:2379',
      '--cacert=/etc/kubernetes/pki/etcd/ca.crt',
      '--cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt',
      '--key=/etc/kubernetes/pki/etcd/healthcheck-client.key',
      '--dial-timeout=2s',
      '--command-timeout=5s',
      'member',
      'list',
    ]);
    assert.match(new Etcdctl(t, kubeadmEtcdctlOptions('server')).formatCommand(['member', 'remove', 'ab']), /^env ETCDCTL_API=3 etcdctl .*--cert=\/etc\/kubernetes\/pki\/etcd\/server.crt .* member remove ab$/);
    assert.throws(() => new Etcdctl(t, { endpoints: ['127.0.0.1:2379'] }), /invalid etcd endpoint/);
  });

  it('a big ID survives member list -> hex -> promote/remove command lines exactly', async () => {
    const t = new ScriptedTransport((a) => {
      const s = sub(a);
      if (s[0] === 'member' && s[1] === 'list') return ok(fx('member-list-unstarted-learner.json'));
      return ok('Member f5fee0ecf9cc3161 removed from cluster c1f91e085e4f04cd\n');
    });
    const e = new Etcdctl(t, { endpoints: ['http://127.0.0.1:24791'] });
    const learner = (await e.memberList()).members.find((m) => m.isLearner)!;
    assert.equal(learner.id, 'f5fee0ecf9cc3161'); // 17725852491784663393 > 2^63
    assert.deepEqual(await e.memberRemove(learner.id), { removed: true });
    assert.deepEqual(sub(t.calls[1].argv), ['member', 'remove', 'f5fee0ecf9cc3161']);
    assert.deepEqual(t.calls[1].env, { ETCDCTL_API: '3' });
  });

  it('promote retries while "not in sync" (bounded), and reports a timeout with the cleanup command', async () => {
    let n = 0;
    const t = new ScriptedTransport(() => (++n < 3 ? fail(fx('promote-not-in-sync.err')) : ok(fx('promote-ok.txt'))));
    const clock = fakeClock();
    const e = new Etcdctl(t, { endpoints: ['http://127.0.0.1:1'], clock, promoteRetry: { attempts: 5, intervalMs: 100 } });
    assert.deepEqual(await e.promote('F5FEE0ECF9CC3161'), { attempts: 3, alreadyVoting: false });
    assert.deepEqual(clock.slept, [100, 100]);

    const never = new ScriptedTransport(() => fail(fx('promote-not-in-sync.err')));
    const e2 = new Etcdctl(never, { endpoints: ['http://127.0.0.1:1'], clock: fakeClock(), promoteRetry: { attempts: 4, intervalMs: 1 } });
    await assert.rejects(e2.promote('f5fee0ecf9cc3161'), (err: EtcdctlError) => {
      assert.equal(err.code, 'E_ETCD_PROMOTE_TIMEOUT');
      assert.match(err.hint!, /member remove f5fee0ecf9cc3161/);
      return true;
    });
    assert.equal(never.calls.length, 4);
  });

  it('promote of an already-promoted member is not an error', async () => {
    const t = new ScriptedTransport((a) => (sub(a)[1] === 'list' ? ok(fx('member-list-3.json')) : fail(fx('promote-again.err'))));
    const e = new Etcdctl(t, { endpoints: ['http://127.0.0.1:1'] });
    assert.deepEqual(await e.promote('afc5803dfbfbcea'), { attempts: 1, alreadyVoting: true });
  });

  it('member add: parses the result, retries "unhealthy cluster", maps "too many learners"', async () => {
    let n = 0;
    const t = new ScriptedTransport(() => (++n === 1 ? fail('Error: etcdserver: unhealthy cluster\n') : ok(fx('member-add-learner.txt'))));
    const clock = fakeClock();
    const e = new Etcdctl(t, { endpoints: ['http://127.0.0.1:1'], clock });
    const r = await e.memberAddLearner('m4', 'http://127.0.0.1:24804');
    assert.equal(r.id, 'f5fee0ecf9cc3161');
    assert.deepEqual(sub(t.calls[0].argv), ['member', 'add', 'm4', '--learner', '--peer-urls=http://127.0.0.1:24804']);
    assert.equal(clock.slept.length, 1);

    const busy = new Etcdctl(new ScriptedTransport(() => fail(fx('too-many-learners.err'))), { endpoints: ['http://127.0.0.1:1'] });
    await assert.rejects(busy.memberAddLearner('m5', 'http://127.0.0.1:24805'), { code: 'E_ETCD_LEARNER_PRESENT' });
    await assert.rejects(busy.memberAddLearner('m5,x=y', 'http://127.0.0.1:24805'), { code: 'E_USAGE' });
    await assert.rejects(busy.memberAddLearner('m5', 'http://127.0.0.1'), /invalid etcd peer URL/);
  });

  it('member remove retries "unhealthy cluster" (etcd refuses changes for 5 s after a promote), bounded', async () => {
    let n = 0;
    const t = new ScriptedTransport(() => (++n <= 2 ? fail('Error: etcdserver: unhealthy cluster\n') : ok('Member 27fc79d61bbb81ba removed from cluster c1f91e085e4f04cd\n')));
    const clock = fakeClock();
    const e = new Etcdctl(t, { endpoints: ['http://127.0.0.1:1'], clock });
    assert.deepEqual(await e.memberRemove('27fc79d61bbb81ba'), { removed: true });
    assert.equal(clock.slept.length, 2);
    const always = new Etcdctl(new ScriptedTransport(() => fail('Error: etcdserver: unhealthy cluster\n')), { endpoints: ['http://127.0.0.1:1'], clock: fakeClock() });
    await assert.rejects(always.memberRemove('ab'), { code: 'E_ETCD_UNHEALTHY' });
  });

  it('member remove of an absent member is idempotent; other errors throw with the command', async () => {
    const e = new Etcdctl(new ScriptedTransport(() => fail(fx('member-remove-notfound.err'))), { endpoints: ['http://127.0.0.1:1'] });
    assert.deepEqual(await e.memberRemove('27fc79d61bbb81ba'), { removed: false });
    const e2 = new Etcdctl(new ScriptedTransport(() => fail('Error: context deadline exceeded\n')), { endpoints: ['http://127.0.0.1:1'] });
    await assert.rejects(e2.memberRemove('ab'), (err: EtcdctlError) => {
      assert.match(err.message, /member remove failed on scripted: context deadline exceeded/);
      assert.match(err.details[0], /member remove ab$/);
      return true;
    });
  });

  it('health and status parse stdout even when etcdctl exits 1 (one member down)', async () => {
    const t = new ScriptedTransport((a) => {
      const s = sub(a);
      if (s[1] === 'list') return ok(fx('member-list-started-learner.json'));
      if (s[1] === 'health') return fail(fx('endpoint-health-one-down.err'), fx('endpoint-health-one-down.json'));
      return fail(fx('endpoint-status-one-down.err'), fx('endpoint-status-one-down.json'));
    });
    const e = new Etcdctl(t, { endpoints: ['http://127.0.0.1:24791'] });
    const v = await e.checkAdd();
    assert.equal(v.allowed, false);
    assert.equal(v.view.leaderId, 'afc5803dfbfbcea');
    assert.deepEqual(v.blockers.map((b) => [b.code, b.memberId]), [
      ['E_ETCD_MEMBER_UNHEALTHY', '27fc79d61bbb81ba'],
      ['E_ETCD_LEARNER_PRESENT', 'f5fee0ecf9cc3161'],
      ['E_ETCD_QUORUM_AT_RISK', undefined],
    ]);
    assert.match(v.blockers[0].fix!, /env ETCDCTL_API=3 etcdctl --endpoints=http:\/\/127.0.0.1:24791 .* member remove 27fc79d61bbb81ba$/);
    // health --cluster, status --cluster
    assert.ok(t.calls.some((c) => sub(c.argv).join(' ') === 'endpoint health --cluster -w json'));
  });

  it('health with no JSON at all is an error', async () => {
    const e = new Etcdctl(new ScriptedTransport(() => fail('Error: context deadline exceeded\n')), { endpoints: ['http://127.0.0.1:1'] });
    await assert.rejects(e.endpointHealth(), /endpoint health failed/);
  });

  it('snapshot save goes to ONE endpoint and reads the snapshot status', async () => {
    const t = new ScriptedTransport((a) =>
      sub(a)[1] === 'save' ? ok('Snapshot saved at /var/lib/etcd-snap.db\n', fx('snapshot-save.txt')) : ok('{"hash":2580379346,"revision":1,"totalKey":7,"totalSize":20480}\n'),
    );
    const e = new Etcdctl(t, { endpoints: ['http://a:2379', 'http://b:2379'] });
    const r = await e.snapshotSave('/var/lib/etcd-snap.db');
    assert.deepEqual(r, { path: '/var/lib/etcd-snap.db', endpoint: 'http://a:2379', status: { hash: '2580379346', revision: '1', totalKey: '7', totalSize: '20480' } });
    assert.ok(t.calls.every((c) => c.argv.includes('--endpoints=http://a:2379')));
    await assert.rejects(e.snapshotSave('relative.db'), { code: 'E_USAGE' });
  });

  it('etcdctl missing on the node gives a clear error (real LocalTransport, exit 127)', async () => {
    const e = new Etcdctl(new LocalTransport(), { endpoints: ['http://127.0.0.1:1'], binary: '/nonexistent/etcdctl' });
    await assert.rejects(e.memberList(), { code: 'E_ETCDCTL_MISSING' });
  });

  it('kubeadm upload-certs: the key is registered as a secret and never appears in errors', async () => {
    const key = generateCertificateKey();
    assert.match(key, /^[0-9a-f]{64}$/);
    assert.equal(redactText(`x ${key} y`), 'x <redacted> y');
    const t = new ScriptedTransport(() => ({ stdout: `[upload-certs] Using certificate key:\n${key}\n`, stderr: `error: something failed with key ${key}`, exitCode: 1 }));
    await assert.rejects(kubeadmUploadCerts(t, key, { clusterConfiguration: { apiVersion: 'kubeadm.k8s.io/v1beta4', kind: 'ClusterConfiguration', kubernetesVersion: 'v1.31.1' } }), (err: KaddError) => {
      assert.equal(err.code, 'E_KUBEADM_UPLOAD_CERTS');
      assert.ok(!err.message.includes(key), err.message);
      return true;
    });
    // 13.7: never in argv (nor, over pod exec, in the request URL's command= parameters): stdin only,
    // left open (read line by line), written to a --config file by the shell
    const call = t.calls[0]!;
    assert.ok(!call.argv.join(' ').includes(key), call.argv.join(' '));
    assert.equal(call.argv[0], 'sh');
    assert.match(call.argv[2]!, /umask 077; IFS= read -r d0; IFS= read -r d1; printf .* > (\/tmp\/kadd-upload-certs-[0-9a-f]+\.yaml) && kubeadm init phase upload-certs --upload-certs --config \1; r=\$\?; rm -f \1; exit \$r$/);
    assert.equal(call.stdinEof, false);
    const lines = call.stdin!.split('\n');
    assert.deepEqual(JSON.parse(lines[0]!), { apiVersion: 'kubeadm.k8s.io/v1beta4', kind: 'InitConfiguration', certificateKey: key });
    assert.deepEqual(JSON.parse(lines[1]!), { apiVersion: 'kubeadm.k8s.io/v1beta4', kind: 'ClusterConfiguration', kubernetesVersion: 'v1.31.1' });
    await assert.rejects(kubeadmUploadCerts(t, 'short'), { code: 'E_USAGE' });
    const good = new ScriptedTransport(() => ok('done'));
    await new Etcdctl(good, { endpoints: ['http://x:1'] }).kubeadmUploadCerts(key);
    assert.equal(good.calls.length, 1);
  });
});

describe('LocalTransport', () => {
  it('runs argv without a shell, passes env and stdin, returns exit codes', async () => {
    const t = new LocalTransport();
    const r = await t.run(['sh', '-c', 'printf "%s|%s|" "$1" "$FOO"; cat; exit 3', 'sh', "a b;'c'"], { env: { FOO: 'bar' }, stdin: 'in' });
    assert.deepEqual(r, { stdout: "a b;'c'|bar|in", stderr: '', exitCode: 3 });
  });
  it('kills on timeout', async () => {
    const t = new LocalTransport();
    const start = Date.now();
    await assert.rejects(t.run(['sleep', '5'], { timeoutMs: 200 }), { code: 'E_TIMEOUT' });
    assert.ok(Date.now() - start < 2000);
  });
});
