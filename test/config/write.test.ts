import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { applyConfigChanges, atomicWriteFile, nodeFs, updatedConfigPath, writeUpdatedConfig, type AtomicFs } from '../../lib/config/write.js';
import { loadClusterConfig } from '../../lib/config/load.js';

const root = join(import.meta.dirname, '..', '..');

describe('updatedConfigPath (koris naming)', () => {
  it('inserts "updated" before the last dot-separated part of the file name', () => {
    assert.equal(updatedConfigPath('cfg.yml'), 'cfg.updated.yml');
    assert.equal(updatedConfigPath('x.add_node.yml'), 'x.add_node.updated.yml');
    assert.equal(updatedConfigPath('cfg.updated.yml'), 'cfg.updated.updated.yml');
    assert.equal(updatedConfigPath('cfg'), 'updated.cfg');
    assert.equal(updatedConfigPath('/etc/k.d/cfg'), '/etc/k.d/updated.cfg');
    assert.equal(updatedConfigPath('/work/clusters/prod.yaml'), '/work/clusters/prod.updated.yaml');
  });
});

describe('applyConfigChanges (surgical edit)', () => {
  const koris = readFileSync(join(root, 'fixtures/config/good/koris-example.yml'), 'utf8');

  it('changes only the value bytes: comments, order, quoting, blank lines survive', () => {
    const r = applyConfigChanges(koris, { 'n-nodes': 5, 'n-masters': 5 });
    assert.equal(r.preserved, true);
    assert.equal(r.text, koris.replace('n-masters: 3\nn-nodes: 3', 'n-masters: 5\nn-nodes: 5'));
  });

  it('keeps a trailing comment and the quoting style of a string', () => {
    const t = "# top\nn-nodes: 3   # workers\nversion:\n  k8s: '1.28.1'  # pinned\n\nimage: x\n";
    const r = applyConfigChanges(t, { 'n-nodes': 12, 'version.k8s': '1.29.3' });
    assert.equal(r.text, "# top\nn-nodes: 12   # workers\nversion:\n  k8s: '1.29.3'  # pinned\n\nimage: x\n");
  });

  it('adds version.k8s when missing (as koris did), under an existing or new version key', () => {
    const a = applyConfigChanges('n-nodes: 1\n# end\n', { 'version.k8s': '1.29.3' });
    assert.equal(a.text, 'n-nodes: 1\n# end\nversion:\n  k8s: 1.29.3\n');
    assert.deepEqual(load(a.text), { 'n-nodes': 1, version: { k8s: '1.29.3' } });
    const b = applyConfigChanges('version:\n    other: x\nn-nodes: 1\n', { 'version.k8s': '1.29.3' });
    assert.equal(b.text, 'version:\n    k8s: 1.29.3\n    other: x\nn-nodes: 1\n');
    const c = applyConfigChanges('version:\nn-nodes: 1\n', { 'version.k8s': '1.29.3' });
    assert.deepEqual(load(c.text), { version: { k8s: '1.29.3' }, 'n-nodes': 1 });
  });

  it('keeps CRLF line endings', () => {
    const r = applyConfigChanges('a: 1\r\nn-nodes: 2\r\n', { 'n-nodes': 3, 'n-masters': 1 });
    assert.equal(r.text, 'a: 1\r\nn-nodes: 3\r\nn-masters: 1\r\n');
  });

  it('falls back to a verified full dump for layouts it cannot edit in place', () => {
    const flow = applyConfigChanges('{n-nodes: 1, a: [1, 2]}', { 'n-nodes': 2 });
    assert.equal(flow.text, '{n-nodes: 2, a: [1, 2]}', 'a value inside a flow mapping is still edited in place');
    const r = applyConfigChanges('{a: [1, 2]}', { 'n-nodes': 2 });
    assert.equal(r.preserved, false);
    assert.deepEqual(load(r.text), { a: [1, 2], 'n-nodes': 2 });
  });

  it('the result of every good fixture still validates', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kadd-w-'));
    try {
      for (const f of readdirSync(join(root, 'fixtures/config/good')).filter((x) => x.endsWith('.yml'))) {
        const src = join(dir, f);
        writeFileSync(src, readFileSync(join(root, 'fixtures/config/good', f)));
        const { path, preserved } = await writeUpdatedConfig(src, { 'n-nodes': 7 });
        assert.equal(preserved, true, f);
        const r = await loadClusterConfig(path, { env: { HOME: '/nonexistent' } });
        assert.equal(r.config.nNodes, 7);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('writeUpdatedConfig / atomicWriteFile', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'kadd-w-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes <name>.updated.yml next to the source with the source mode, source untouched', async () => {
    const src = join(dir, 'cfg.yml');
    writeFileSync(src, 'n-nodes: 3 # w\n');
    chmodSync(src, 0o600);
    const r = await writeUpdatedConfig(src, { 'n-nodes': 4 });
    assert.equal(r.path, join(dir, 'cfg.updated.yml'));
    assert.equal(readFileSync(r.path, 'utf8'), 'n-nodes: 4 # w\n');
    assert.equal(statSync(r.path).mode & 0o777, 0o600);
    assert.equal(readFileSync(src, 'utf8'), 'n-nodes: 3 # w\n');
    assert.deepEqual(readdirSync(dir).sort(), ['cfg.updated.yml', 'cfg.yml']);
  });

  for (const step of ['writeFile', 'sync', 'rename'] as const) {
    it(`a failure at ${step} leaves the old file intact and no temp file`, async () => {
      const target = join(dir, 'cfg.updated.yml');
      writeFileSync(target, 'old: true\n');
      const failing: AtomicFs = {
        ...nodeFs,
        async open(p, f, m) {
          const h = await nodeFs.open(p, f, m);
          if (f !== 'wx') return h;
          return {
            chmod: (x: number) => h.chmod(x),
            close: () => h.close(),
            async writeFile(d: string | Uint8Array) {
              if (step === 'writeFile') {
                await h.writeFile(String(d).slice(0, 3)); // partial write, then the disk "fills up"
                throw Object.assign(new Error('no space'), { code: 'ENOSPC' });
              }
              return h.writeFile(d);
            },
            async sync() {
              if (step === 'sync') throw Object.assign(new Error('io'), { code: 'EIO' });
              return h.sync();
            },
          };
        },
        async rename(a, b) {
          if (step === 'rename') throw Object.assign(new Error('x'), { code: 'EXDEV' });
          return nodeFs.rename(a, b);
        },
      };
      await assert.rejects(atomicWriteFile(target, 'new: true\n', { fs: failing }), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'E_WRITE');
        assert.match(e.message, /could not write .*cfg\.updated\.yml/);
        return true;
      });
      assert.equal(readFileSync(target, 'utf8'), 'old: true\n');
      assert.deepEqual(readdirSync(dir), ['cfg.updated.yml']);
    });
  }

  it('a writer killed mid-write leaves the old file intact; its temp file is removed by the next write', async function () {
    this.timeout(30000);
    const target = join(dir, 'cfg.updated.yml');
    writeFileSync(target, 'n-nodes: 1\n');
    const env = { ...process.env };
    delete env.NODE_OPTIONS;
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'fixtures', 'stalled-writer.ts'), target, 'n-nodes: 2\n'.repeat(1000)], {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('HALF')) resolve();
      });
      child.on('exit', (c) => reject(new Error(`child exited ${c} before the write started`)));
    });
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    assert.equal(readFileSync(target, 'utf8'), 'n-nodes: 1\n', 'old file intact');
    const leftovers = readdirSync(dir).filter((n) => n.includes('.kadd-tmp-'));
    assert.equal(leftovers.length, 1, 'the killed writer left its (hidden) temp file');
    await atomicWriteFile(target, 'n-nodes: 3\n');
    assert.equal(readFileSync(target, 'utf8'), 'n-nodes: 3\n');
    assert.deepEqual(readdirSync(dir), ['cfg.updated.yml'], 'stale temp file cleaned up');
  });
});
