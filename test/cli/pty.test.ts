/**
 * Issue 12 point 2: on a terminal with 0 columns (`script -qfc`, `ssh -tt` from scripts, some CI ptys) the
 * spinner looped forever computing lines / columns, ignored SIGINT/SIGTERM, wrote hundreds of MB of cursor
 * escapes and leaked a port, a volume and a bootstrap token. kadd is driven here through a real pty
 * (util-linux `script`), bounded in time: it finishes, writes little, and leaves nothing behind.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { BIN, FAST_FLAGS, startKaddSim, type KaddSim } from '../helpers/kadd-sim.js';

const haveScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;

interface PtyRun {
  code: number | null;
  output: string;
  bytes: number;
  ms: number;
}

const sh = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Run kadd in a pty of the given width through `script`; optionally send keys/signals once the output
 * matches `when`. Killed (and the test failed) after `limitMs`.
 */
function inPty(h: KaddSim, cols: number, args: string[], o: { limitMs?: number; when?: RegExp; then?: (p: ReturnType<typeof spawn>) => void } = {}): Promise<PtyRun> {
  const env: NodeJS.ProcessEnv = { ...process.env, KADD_DEV: '1', ...h.env, TERM: 'xterm-256color', SHELL: '/bin/sh' };
  delete env.CI;
  delete env.NO_COLOR;
  delete env.NODE_OPTIONS;
  delete env.GITHUB_ACTIONS;
  const cmd = `stty cols ${cols} rows ${cols ? 24 : 0}; exec ${sh(process.execPath)} ${sh(BIN)} ${args.map(sh).join(' ')}`;
  const t0 = Date.now();
  const p = spawn('script', ['-qfec', cmd, '/dev/null'], { cwd: h.dir, env, stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  let bytes = 0;
  let fired = false;
  const onData = (d: Buffer) => {
    bytes += d.length;
    if (output.length < 1_000_000) output += d.toString('utf8');
    if (!fired && o.when && o.when.test(output)) {
      fired = true;
      o.then?.(p);
    }
  };
  p.stdout!.on('data', onData);
  p.stderr!.on('data', onData);
  return new Promise((resolve, reject) => {
    const limit = setTimeout(() => {
      // kadd first (script's child): a spinning kadd does not die with its pty
      for (const pid of spawnSync('pgrep', ['-P', String(p.pid)], { encoding: 'utf8' }).stdout.split(/\s+/).filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      p.kill('SIGKILL');
      reject(new Error(`kadd in a ${cols}-column pty did not finish within ${o.limitMs ?? 120_000} ms (${bytes} bytes written); output tail:\n${output.slice(-2000)}`));
    }, o.limitMs ?? 120_000);
    p.on('close', (code) => {
      clearTimeout(limit);
      resolve({ code, output, bytes, ms: Date.now() - t0 });
    });
  });
}

function leaked(h: KaddSim, keep: string[]) {
  const own = (n: string) => /^demo-node-\d+/.test(n) && !keep.some((k) => n.startsWith(k));
  return {
    servers: h.servers().filter((s) => own(s.name)).map((s) => s.name),
    volumes: h.volumes().filter((v) => own(v.name ?? '') && v.status !== 'deleting').map((v) => v.name),
    ports: h.ports().filter((p) => own(p.name)).map((p) => p.name),
    tokens: h.bootstrapTokens().length,
  };
}

(haveScript ? describe : describe.skip)('kadd in a pty (util-linux script)', function () {
  this.timeout(300_000);
  let h: KaddSim | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  it('0 columns: add finishes, writes plain lines (no cursor escapes), leaves nothing behind', async () => {
    h = await startKaddSim({ scenario: { latency: { serverBuild: { fixed: 1500 } } } });
    const r = await inPty(h, 0, ['add', ...FAST_FLAGS, '--amount', '2', h.cfgPath]);
    assert.equal(r.code, 0, r.output);
    assert.ok(r.bytes < 32_000, `wrote ${r.bytes} bytes`);
    assert.doesNotMatch(r.output, /\x1b\[[0-9]*[GKA]/, 'no cursor movement on a 0-column terminal');
    assert.match(r.output, /demo-node-3: active waiting.*server BUILD/, 'progress (stage events) as plain lines');
    assert.deepEqual([...h.nodes()].filter(([n, ready]) => /node-[23]$/.test(n) && ready).length, 2);
    assert.deepEqual(leaked(h, ['demo-node-1', 'demo-node-2', 'demo-node-3']), { servers: [], volumes: [], ports: [], tokens: 0 });
  });

  it('0 columns: Ctrl-C (typed into the pty) stops in order and rolls back; exit 130, nothing leaked', async () => {
    h = await startKaddSim({ scenario: { latency: { serverBuild: { fixed: 4000 } } } });
    const r = await inPty(h, 0, ['add', ...FAST_FLAGS, '--amount', '2', h.cfgPath], {
      when: /demo-node-3: active waiting.*server BUILD/,
      then: (p) => p.stdin!.write('\x03'),
    });
    assert.equal(r.code, 130, r.output);
    assert.match(r.output, /interrupted: stopping and cleaning up/);
    assert.ok(r.bytes < 32_000, `wrote ${r.bytes} bytes`);
    assert.deepEqual(leaked(h, ['demo-node-1']), { servers: [], volumes: [], ports: [], tokens: 0 });
  });

  it('0 columns: SIGTERM stops in order and rolls back; nothing leaked', async () => {
    h = await startKaddSim({ scenario: { latency: { serverBuild: { fixed: 4000 } } } });
    const r = await inPty(h, 0, ['add', ...FAST_FLAGS, '--amount', '2', h.cfgPath], {
      when: /demo-node-3: active waiting.*server BUILD/,
      then: (p) => {
        // the kadd process is script's child (script execs the shell, the shell execs node): signal it, not script
        const pid = spawnSync('pgrep', ['-P', String(p.pid)], { encoding: 'utf8' }).stdout.trim();
        assert.ok(pid, 'found the kadd process');
        process.kill(Number(pid), 'SIGTERM');
      },
    });
    assert.equal(r.code, 130, r.output);
    assert.match(r.output, /terminated \(SIGTERM\): stopping and cleaning up/);
    assert.deepEqual(leaked(h, ['demo-node-1']), { servers: [], volumes: [], ports: [], tokens: 0 });
  });

  it('80 columns: the spinner board runs, the run finishes and the output stays small', async () => {
    h = await startKaddSim({ scenario: { latency: { serverBuild: { fixed: 1500 } } } });
    const r = await inPty(h, 80, ['add', ...FAST_FLAGS, '--amount', '2', h.cfgPath]);
    assert.equal(r.code, 0, r.output);
    assert.ok(r.bytes < 200_000, `wrote ${r.bytes} bytes`);
    assert.match(r.output.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, ''), /✔ demo-node-[23]: add done after \S+: Node Ready/, `spinner mode on a drawable terminal:\n${JSON.stringify(r.output.slice(0, 3000))}`);
    assert.deepEqual(leaked(h, ['demo-node-1', 'demo-node-2', 'demo-node-3']), { servers: [], volumes: [], ports: [], tokens: 0 });
  });
});
