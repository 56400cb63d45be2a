/** Whole-command tests of `kadd logs` on the simulator (test/sim). */
import assert from 'node:assert/strict';
import { handleLogs, parseLogsArgs } from '../../lib/commands/logs.js';
import { loadClusterConfig } from '../../lib/config/load.js';
import type { ClusterConfig } from '../../lib/config/types.js';
import { UsageError } from '../../lib/errors.js';
import { type SimHarness, masterSimHooks } from './add-master-sim.helpers.js';

describe('kadd logs (simulator)', function () {
  this.timeout(60_000);
  const sim = masterSimHooks();
  let h: SimHarness | undefined;
  let config: ClusterConfig;
  async function start() {
    h = await sim.start({});
    config = (await loadClusterConfig(h.cfgPath)).config;
    h.sim.resetCounters();
    return h;
  }
  const serverOf = (h: SimHarness, name: string) => {
    const s = [...h.sim.openstack.store.servers.values()].find((x) => x.name === name);
    if (!s) throw new Error(`no server ${name} in the simulator`);
    return s;
  };
  const computeCalls = (h: SimHarness) => (h.sim.counters().byService as Record<string, number>).compute ?? 0;

  it('prints the console to stdout with the join secret redacted, then the diagnosis on stderr; exit 0', async () => {
    const h = await start();
    const s = serverOf(h, 'demo-node-1');
    h.sim.core.appendConsole(s.id, 'cloud-init[900]: kubeadm join 10.0.0.1:6443 --token abcdef.0123456789abcdef --discovery-token-ca-cert-hash sha256:00\n');
    h.sim.core.appendConsole(s.id, 'KADD-MARK stage=join-start\nKADD-MARK stage=join-ok\n');
    const code = await handleLogs({ config: 'cfg.yml', node: 'demo-node-1', follow: false }, h.ctx, config);
    assert.equal(code, 0);
    // the harness Io records results before redaction: redact as TerminalIo does and check both
    const { redactText } = await import('../../lib/redact.js');
    const out = redactText(h.io.results.join(''));
    assert.match(out, /Linux version 5\.15/);
    assert.match(out, /KADD-MARK stage=join-ok/);
    assert.doesNotMatch(out, /0123456789abcdef/);
    const err = h.io.lines.join('\n');
    assert.match(err, /diagnosis: demo-node-1 \(server ACTIVE\): the join script finished \(last stage: join-ok\)/);
    assert.match(err, /next step: `kadd status cfg\.yml`/);
    assert.doesNotMatch(err, /console \(last lines\)/, 'the console is not repeated on stderr');
  });

  it('--lines N asks Nova for the tail only', async () => {
    const h = await start();
    await handleLogs({ config: 'cfg.yml', node: 'demo-node-1', follow: false, lines: 3 }, h.ctx, config);
    const out = h.io.results.join('');
    assert.equal(out.split('\n').filter(Boolean).length, 3, out);
    assert.match(out, /finished at/);
  });

  it('an ERROR server: the Nova fault and the classified cause', async () => {
    const h = await start();
    const s = serverOf(h, 'demo-node-1');
    s.status = 'ERROR';
    s.vmState = 'error';
    s.fault = { code: 500, message: 'No valid host was found. There are not enough hosts available.', created: h.sim.core.now() };
    assert.equal(await handleLogs({ config: 'cfg.yml', node: 'demo-node-1', follow: false }, h.ctx, config), 0);
    const err = h.io.lines.join('\n');
    assert.match(err, /error: demo-node-1: server is ERROR: No valid host was found/);
    assert.match(err, /Nova found no hypervisor that fits the flavor/);
  });

  it('a name that is not the cluster\'s: exit 2 with a suggestion and no API call; a missing server: exit 2 listing the servers', async () => {
    const h = await start();
    const e1 = await handleLogs({ config: 'cfg.yml', node: 'node-1', follow: false }, h.ctx, config).catch((e) => e);
    assert.ok(e1 instanceof UsageError, String(e1));
    assert.equal(e1.exitCode, 2);
    assert.match(e1.message, /not a server of cluster demo/);
    assert.match(e1.hint ?? '', /did you mean demo-node-1\?/);
    assert.equal(computeCalls(h), 0);
    await assert.rejects(handleLogs({ config: 'cfg.yml', node: 'demo-node-7', follow: false }, h.ctx, config), (e: unknown) =>
      e instanceof UsageError && /server demo-node-7 not found in cluster demo; did you mean demo-node-1/.test(e.message) && /demo-master-1 \(ACTIVE\), demo-node-1 \(ACTIVE\)/.test(e.hint ?? ''));
    assert.throws(() => parseLogsArgs({ lines: 0 }), UsageError);
    assert.throws(() => parseLogsArgs({ lines: 'x' }), UsageError);
  });

  it('--follow prints only new lines, each once, until Ctrl-C (exit 0)', async () => {
    const h = await start();
    const s = serverOf(h, 'demo-node-1');
    const ac = new AbortController();
    const ctx = { ...h.ctx, signal: ac.signal };
    const run = handleLogs({ config: 'cfg.yml', node: 'demo-node-1', follow: true, 'poll-interval': 30 }, ctx, config);
    await new Promise((r) => setTimeout(r, 150));
    h.sim.core.appendConsole(s.id, 'kadd-test line one\n');
    await new Promise((r) => setTimeout(r, 150));
    h.sim.core.appendConsole(s.id, 'kadd-test line two\nkadd-test line one\n');
    await new Promise((r) => setTimeout(r, 150));
    ac.abort();
    assert.equal(await run, 0);
    const out = h.io.results.join('');
    assert.equal(out.match(/Linux version/g)?.length, 1, 'the boot is printed once');
    assert.deepEqual(out.split('\n').filter((l) => l.startsWith('kadd-test')), ['kadd-test line one', 'kadd-test line two', 'kadd-test line one']);
    assert.match(h.io.lines.join('\n'), /following demo-node-1/);
  });

  it('-n 2 --follow: the last 2 lines, then only new ones; no reprint and no "skipped" warning on the first poll', async () => {
    const h = await start();
    const s = serverOf(h, 'demo-node-1');
    for (let i = 1; i <= 20; i++) h.sim.core.appendConsole(s.id, `kadd-boot ${i}\n`);
    const ac = new AbortController();
    const ctx = { ...h.ctx, signal: ac.signal };
    const run = handleLogs({ config: 'cfg.yml', node: 'demo-node-1', follow: true, lines: 2, 'poll-interval': 30 }, ctx, config);
    await new Promise((r) => setTimeout(r, 200));
    h.sim.core.appendConsole(s.id, 'kadd-test new\n');
    await new Promise((r) => setTimeout(r, 200));
    ac.abort();
    assert.equal(await run, 0);
    const out = h.io.results.join('');
    assert.deepEqual(out.split('\n').filter((l) => /^kadd-(boot|test)/.test(l)), ['kadd-boot 19', 'kadd-boot 20', 'kadd-test new']);
    assert.doesNotMatch(h.io.lines.join('\n'), /skipped/);
  });

  it('--follow stops when the server is deleted', async () => {
    const h = await start();
    const s = serverOf(h, 'demo-node-1');
    const run = handleLogs({ config: 'cfg.yml', node: 'demo-node-1', follow: true, 'poll-interval': 30 }, h.ctx, config);
    await new Promise((r) => setTimeout(r, 100));
    await h.os.compute.deleteServer(s.id);
    assert.equal(await run, 0);
    assert.match(h.io.lines.join('\n'), /demo-node-1 was deleted; stopped following/);
  });
});
