import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { renderMasterUserData, renderWorkerUserData } from '../../lib/cloudinit/index.js';
import { masterInput, workerInput } from './helpers.js';

const run = promisify(execFile);

async function haveCloudInit(): Promise<boolean> {
  try {
    await run('cloud-init', ['--version']);
    return true;
  } catch {
    return false;
  }
}

describe('cloudinit: `cloud-init schema -c` on rendered user-data (integration)', function () {
  this.timeout(120000);
  let dir = '';
  before(async function () {
    if (!(await haveCloudInit())) {
      console.warn('    skipping: cloud-init is not installed (apt-get install -y --no-install-recommends cloud-init)');
      this.skip();
    }
    dir = mkdtempSync(join(tmpdir(), 'kadd-ci-'));
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function schema(text: string, name: string): Promise<{ code: number; out: string }> {
    const f = join(dir, name);
    writeFileSync(f, text, { mode: 0o600 });
    try {
      const r = await run('cloud-init', ['schema', '-c', f]);
      return { code: 0, out: r.stdout + r.stderr };
    } catch (e) {
      const x = e as { code?: number; stdout?: string; stderr?: string };
      return { code: x.code ?? 1, out: `${x.stdout ?? ''}${x.stderr ?? ''}` };
    }
  }

  it('cloud-init itself rejects a broken document (so the check can fail)', async () => {
    const r = await schema('#cloud-config\nruncmd: kubeadm join\n', 'bad.yaml');
    assert.notEqual(r.code, 0, r.out);
  });

  for (const ver of ['1.29.3', '1.31.0']) {
    it(`accepts worker and master user-data for ${ver}`, async () => {
      const w = await schema((await renderWorkerUserData(workerInput({ k8sVersion: ver, taints: [{ key: 'a', effect: 'NoSchedule' }] }))).text, `w-${ver}.yaml`);
      assert.equal(w.code, 0, w.out);
      assert.match(w.out, /Valid cloud-config/);
      const m = await schema((await renderMasterUserData(masterInput({ k8sVersion: ver }))).text, `m-${ver}.yaml`);
      assert.equal(m.code, 0, m.out);
    });
  }
});
