/**
 * "It holds 500 servers and 500 Nodes in one run at under 300 MB RSS": measured in a FRESH child process
 * (footprint-child.ts), so that the number is the simulator's own footprint and not whatever the rest of a
 * mocha run left on the heap. The child drives both halves through the HTTP APIs only.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./footprint-child.ts', import.meta.url));

async function runChild(args: string[]): Promise<Record<string, any>> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  const line = out.trim().split('\n').pop() ?? '';
  let r: Record<string, any>;
  try {
    r = JSON.parse(line) as Record<string, any>;
  } catch {
    throw new Error(`footprint child (exit ${code}) printed no JSON; stdout: ${out.slice(-500)} stderr: ${err.slice(-2000)}`);
  }
  assert.equal(r.ok, true, `footprint child failed: ${r.error}`);
  assert.equal(code, 0);
  return r;
}

describe('sim scale: 500 servers and 500 Nodes in one fresh process', function () {
  this.timeout(240_000);

  it('creates and polls 500 BFV servers whose kubelets join as 500 Ready Nodes, under 300 MB RSS, lists stay fast', async () => {
    const r = await runChild(['--servers', '500']);
    // 500 created through Nova plus the 3 seeded masters; every one has its port and boot volume
    assert.equal(r.servers, 503, JSON.stringify(r));
    assert.equal(r.getsActive, 500, 'every server answers ACTIVE to its own GET');
    assert.equal(r.ports, 503);
    assert.equal(r.volumes, 503);
    assert.equal(r.nodes, 503);
    assert.equal(r.readyNodes, 503);
    assert.equal(r.joinedWorkers, 500, 'every worker joined through the kubeadm path, with its providerID');
    assert.ok(r.rssMB < 300, `RSS ${r.rssMB} MB (heap ${r.heapUsedMB} MB) with 500 servers and 500 Nodes: ${JSON.stringify(r)}`);
    // generous bounds: the machine is shared; a quadratic list would take far longer than this at 500
    assert.ok(r.serversDetailMs < 2000, `GET /servers/detail of 503 took ${r.serversDetailMs} ms`);
    assert.ok(r.nodesListMs < 2000, `GET /api/v1/nodes of 503 took ${r.nodesListMs} ms`);
  });

  it('a small run reports the same shape (the child really counts what it made)', async () => {
    const r = await runChild(['--servers', '7']);
    assert.equal(r.servers, 10);
    assert.equal(r.joinedWorkers, 7);
    assert.equal(r.readyNodes, 10);
    assert.ok(r.rssMB > 0 && r.rssMB < 300);
  });
});
