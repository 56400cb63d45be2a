import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Journal, findUnfinished, journalPath, lockClusterFile, lockPath, pidAlive, readJournal } from '../../lib/journal/index.js';
import { PreflightError } from '../../lib/errors.js';
import { clearSecrets, registerSecret } from '../../lib/redact.js';

describe('journal', () => {
  let dir = '';
  let cfg = '';
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kadd-journal-'));
    cfg = join(dir, 'cluster.yml');
    writeFileSync(cfg, 'master_images: {}\n');
  });
  afterEach(() => {
    clearSecrets();
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes .<cfg>.kadd-journal.jsonl next to the config, mode 0600, one JSON record per line', async () => {
    const t = Date.parse('2026-01-01T00:00:00Z');
    const j = await Journal.open(cfg, { now: () => t });
    assert.equal(j.path, join(dir, '.cluster.yml.kadd-journal.jsonl'));
    assert.ok(existsSync(lockPath(cfg)));
    const op = await j.begin({ command: 'add', args: { role: 'node', amount: 2 } });
    await j.intent('port', 'demo-node-4-port-0', { network: 'demo-net' });
    await j.done('port', 'demo-node-4-port-0', 'p-1');
    await j.end('ok');
    assert.equal(statSync(j.path).mode & 0o777, 0o600);
    assert.ok(!existsSync(lockPath(cfg)), 'lock released at end');
    const lines = readFileSync(j.path, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((l) => l.t), ['begin', 'intent', 'done', 'end']);
    assert.equal(lines[0].op, op);
    assert.equal(lines[0].pid, process.pid);
    assert.deepEqual(lines[0].args, { role: 'node', amount: 2 });
    assert.equal(lines[0].at, '2026-01-01T00:00:00.000Z');
    assert.match(op, /^20260101T000000-[0-9a-f]{6}$/);
    assert.equal(lines[2].id, 'p-1');
    assert.equal(lines[3].status, 'ok');
    assert.deepEqual((await findUnfinished(cfg)).operations, []);
  });

  it('never writes a secret, whatever key it hides under', async () => {
    const secret = 'k3x9q2z7w1m5n8b4';
    registerSecret(secret);
    const j = await Journal.open(cfg);
    await j.begin({ command: 'add', args: { role: 'master', token: `abcdef.${secret}`, certificateKey: 'e'.repeat(64), password: 'hunter22' } });
    await j.intent('token', 'abcdef', { secret, note: `joined with abcdef.${secret}`, user_data: '#cloud-config ...' });
    await j.done('token', 'abcdef', 'bootstrap-token-abcdef', { description: `x ${secret} y` });
    await j.end('failed');
    const text = readFileSync(journalPath(cfg), 'utf8');
    assert.ok(!text.includes(secret), text);
    assert.ok(!text.includes('hunter22'));
    assert.ok(!text.includes('e'.repeat(64)));
    assert.ok(!text.includes('#cloud-config'));
    assert.match(text, /<redacted>/);
    assert.match(text, /"name":"abcdef"/, 'the token id (its name) is kept so it can be deleted');
  });

  it('findUnfinished: created and not undone, intent-without-done as "maybe", rolled-back ops hidden', async () => {
    const j1 = await Journal.open(cfg);
    await j1.begin({ command: 'add', args: { amount: 2 } });
    await j1.intent('port', 'demo-node-4-port-0');
    await j1.done('port', 'demo-node-4-port-0', 'p4');
    await j1.intent('volume', 'demo-node-4-root');
    await j1.done('volume', 'demo-node-4-root', 'v4');
    await j1.intent('server', 'demo-node-4'); // crash before done
    await j1.intent('port', 'demo-node-5-port-0');
    await j1.done('port', 'demo-node-5-port-0', 'p5');
    await j1.undone('port', 'demo-node-5-port-0', 'p5');
    await j1.close(); // like kill -9: no end record, lock released by the OS... here by close
    // a second op that failed but rolled everything back
    const j2 = await Journal.open(cfg);
    await j2.begin({ command: 'add', args: {} });
    await j2.intent('port', 'demo-node-9-port-0');
    await j2.done('port', 'demo-node-9-port-0', 'p9');
    await j2.undone('port', 'demo-node-9-port-0', 'p9');
    await j2.end('failed');
    const r = await findUnfinished(cfg);
    assert.equal(r.operations.length, 1);
    const op = r.operations[0]!;
    assert.equal(op.status, 'unterminated');
    assert.equal(op.command, 'add');
    assert.deepEqual(op.resources.map((x) => [x.kind, x.name, x.state, x.id ?? null]), [
      ['port', 'demo-node-4-port-0', 'created', 'p4'],
      ['volume', 'demo-node-4-root', 'created', 'v4'],
      ['server', 'demo-node-4', 'maybe', null],
    ]);
    assert.equal(r.leftovers.length, 3);
  });

  it('a later cleanup (undone) or resume (done + end ok) clears the leftovers', async () => {
    const j1 = await Journal.open(cfg);
    await j1.begin({ command: 'add', args: {} });
    await j1.intent('server', 'demo-node-4');
    await j1.done('server', 'demo-node-4', 's4');
    await j1.intent('server', 'demo-node-5');
    await j1.end('interrupted');
    let r = await findUnfinished(cfg);
    assert.equal(r.operations[0]!.status, 'interrupted');
    assert.equal(r.leftovers.length, 2);
    const j2 = await Journal.open(cfg);
    await j2.begin({ command: 'resume', args: {} });
    await j2.done('server', 'demo-node-4', 's4'); // adopted
    await j2.undone('server', 'demo-node-5'); // looked up by name: never created
    await j2.end('ok');
    r = await findUnfinished(cfg);
    assert.deepEqual(r.leftovers, []);
    assert.deepEqual(r.operations, []);
  });

  it('survives a torn last line after a crash', async () => {
    const j = await Journal.open(cfg);
    await j.begin({ command: 'add', args: {} });
    await j.intent('volume', 'demo-node-4-root');
    await j.close();
    appendFileSync(journalPath(cfg), '{"t":"done","op":"x","ki');
    const r = await findUnfinished(cfg);
    assert.equal(r.skippedLines, 1);
    assert.equal(r.leftovers[0]!.name, 'demo-node-4-root');
    assert.equal((await readJournal(cfg)).records.length, 2);
  });

  it('two runs on the same cluster file refuse each other; a dead holder\'s lock is taken over', async () => {
    const j = await Journal.open(cfg);
    await assert.rejects(Journal.open(cfg), (e: unknown) => e instanceof PreflightError && e.exitCode === 2 && new RegExp(`pid ${process.pid}`).test(e.message));
    await j.close();
    // stale: a pid that is dead on this host
    const child = spawn(process.execPath, ['-e', '0']);
    const deadPid = child.pid!;
    await new Promise((res) => child.on('exit', res));
    writeFileSync(lockPath(cfg), JSON.stringify({ pid: deadPid, host: (await import('node:os')).hostname(), at: 'then' }));
    const j2 = await Journal.open(cfg);
    assert.match(readFileSync(lockPath(cfg), 'utf8'), new RegExp(`"pid":${process.pid}`));
    await j2.close();
    // another host: cannot tell, refuse and say how to clear it
    writeFileSync(lockPath(cfg), JSON.stringify({ pid: 1, host: 'elsewhere', at: 'then' }));
    await assert.rejects(Journal.open(cfg), /elsewhere.*|delete/);
    // an empty lock file (an older kadd died while writing it) is stale once it is past the write grace
    writeFileSync(lockPath(cfg), '');
    const past = new Date(Date.now() - 60_000);
    utimesSync(lockPath(cfg), past, past);
    const j3 = await Journal.open(cfg, { isAlive: () => true });
    await j3.close();
    // a lock naming pid 0 (kill(0, 0) would signal our own process group and "succeed") is stale
    writeFileSync(lockPath(cfg), JSON.stringify({ pid: 0, host: (await import('node:os')).hostname(), at: 'then' }));
    const j4 = await Journal.open(cfg);
    await j4.close();
  });

  it('a journal closed twice (end() closes, then a finally) does not remove the lock another kadd took in between', async () => {
    const j = await Journal.open(cfg);
    await j.begin({ command: 'add', args: {} });
    await j.end('ok');
    const other = await lockClusterFile(cfg, { pid: 4_000_060, isAlive: () => true });
    await j.close();
    assert.equal(JSON.parse(readFileSync(lockPath(cfg), 'utf8')).pid, 4_000_060, "the other kadd's lock is still there");
    await other.release();
  });

  it('on a filesystem without hard links (link() EPERM) the lock is still taken and refuses a second kadd', async () => {
    const fsp = (await import('node:fs')).promises;
    const link = fsp.link;
    fsp.link = async () => { throw Object.assign(new Error('operation not permitted'), { code: 'EPERM' }); };
    try {
      const lock = await lockClusterFile(cfg, { pid: 4_000_050 });
      assert.equal(JSON.parse(readFileSync(lockPath(cfg), 'utf8')).pid, 4_000_050, 'the lock names its holder');
      await assert.rejects(lockClusterFile(cfg, { pid: 4_000_051, isAlive: () => true }), (e: unknown) => e instanceof PreflightError && /pid 4000050/.test(e.message));
      await lock.release();
      assert.equal(existsSync(lockPath(cfg)), false);
      assert.deepEqual(readdirSync(join(cfg, '..')).filter((f) => f.includes('kadd-lock.')), [], 'no private lock file left');
    } finally {
      fsp.link = link;
    }
  });

  it('an empty lock file just created (its writer may be between create and write) is not taken', async () => {
    writeFileSync(lockPath(cfg), '');
    await assert.rejects(lockClusterFile(cfg, { pid: 4_000_001, isAlive: () => false }), (e: unknown) => e instanceof PreflightError && e.exitCode === 2);
    assert.equal(readFileSync(lockPath(cfg), 'utf8'), '', 'the fresh lock file is left to its writer');
  });

  for (const swapAt of [1, 2]) {
    it(`a lock released by its holder and taken by another kadd while we judge it (liveness check ${swapAt}) is not removed`, async () => {
      const host = hostname();
      writeFileSync(lockPath(cfg), `${JSON.stringify({ pid: 4_000_010, host, at: 'then' })}\n`);
      const taker = `${JSON.stringify({ pid: 4_000_020, host, at: 'now' })}\n`;
      let calls = 0;
      // the holder 4000010 releases its lock and exits, and the kadd 4000020 takes it, between our read of
      // the lock and our look at its holder (on the first liveness check, or on the one under the takeover lock)
      const isAlive = (pid: number) => {
        if (pid !== 4_000_010) return pid === 4_000_020;
        if (++calls === swapAt) {
          rmSync(lockPath(cfg));
          writeFileSync(lockPath(cfg), taker);
        }
        return false;
      };
      await assert.rejects(lockClusterFile(cfg, { pid: 4_000_030, host, isAlive }), (e: unknown) => e instanceof PreflightError && e.exitCode === 2 && /pid 4000020/.test(e.message));
      assert.equal(readFileSync(lockPath(cfg), 'utf8'), taker, 'the new holder keeps its lock');
    });
  }

  it('N concurrent acquirers (some dying with the lock held): at most one holds it at any time', async function () {
    this.timeout(60_000);
    const host = hostname();
    const alive = new Set<number>();
    let nextPid = 5_000_000;
    let holders = 0;
    let maxHolders = 0;
    let takes = 0;
    const tick = () => new Promise<void>((res) => setImmediate(res));
    const worker = async (rounds: number) => {
      for (let r = 0; r < rounds;) {
        const pid = nextPid++;
        alive.add(pid);
        let lock;
        try {
          lock = await lockClusterFile(cfg, { pid, host, isAlive: (p) => alive.has(p) });
        } catch (e) {
          alive.delete(pid);
          if (!(e instanceof PreflightError)) throw e;
          await tick();
          continue;
        }
        holders++;
        takes++;
        maxHolders = Math.max(maxHolders, holders);
        for (let i = 0; i < 3; i++) await tick();
        holders--;
        r++;
        if (r % 3 === 0) alive.delete(pid); // dies holding it: the lock file stays, stale
        else {
          await lock.release();
          alive.delete(pid);
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, () => worker(25)));
    assert.equal(takes, 8 * 25);
    assert.equal(maxHolders, 1, `${maxHolders} acquirers held the lock at once`);
    const left = readdirSync(dir).filter((f) => f.includes('kadd-lock') && f !== `.cluster.yml.kadd-lock`);
    assert.deepEqual(left, [], 'no private lock files left behind');
  });

  it('pidAlive: this process yes, a dead pid or a non-positive pid no', async () => {
    assert.equal(pidAlive(process.pid), true);
    assert.equal(pidAlive(0), false);
    assert.equal(pidAlive(-1), false);
    const child = spawn(process.execPath, ['-e', '0']);
    await new Promise((res) => child.on('exit', res));
    assert.equal(pidAlive(child.pid!), false);
  });

  it('refuses misuse', async () => {
    const j = await Journal.open(cfg);
    await assert.rejects(j.intent('server', 'x'), /begin\(\) was not called/);
    await j.begin({ command: 'add' });
    await assert.rejects(j.begin({ command: 'add' }), /still open/);
    await assert.rejects(j.intent('banana' as 'server', 'x'), /unknown resource kind/);
    await j.end('ok');
    await assert.rejects(j.done('server', 'x'), /begin\(\) was not called|closed/);
  });
});
