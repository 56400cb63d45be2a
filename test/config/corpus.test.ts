/**
 * The bad-config corpus: every fixtures/config/bad/*.yml must fail with exit 2 and exactly the
 * message in its .expected sidecar (the stderr text kadd prints). Files named *.strict.yml are
 * checked with --strict. Regenerate the sidecars after an intended change with UPDATE_EXPECTED=1.
 * Every fixtures/config/good/*.yml must load.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadClusterConfig } from '../../lib/config/load.js';
import { formatError } from '../../lib/cli/errors.js';
import { ConfigError } from '../../lib/errors.js';

const root = join(import.meta.dirname, '..', '..', 'fixtures', 'config');
const badDir = join(root, 'bad');
const goodDir = join(root, 'good');

describe('config corpus', () => {
  const bad = readdirSync(badDir).filter((f) => f.endsWith('.yml')).sort();

  it('has at least 20 bad files, each with an .expected file', () => {
    assert.ok(bad.length >= 20, `only ${bad.length} bad files`);
    if (!process.env.UPDATE_EXPECTED) {
      for (const f of bad) assert.ok(existsSync(join(badDir, f.replace(/\.yml$/, '.expected'))), `${f} has no .expected`);
    }
  });

  for (const f of bad) {
    it(`rejects ${f}`, async () => {
      let err: unknown;
      try {
        await loadClusterConfig(join(badDir, f), { strict: f.includes('.strict.'), displayPath: f, env: { HOME: '/nonexistent' } });
      } catch (e) {
        err = e;
      }
      assert.ok(err instanceof ConfigError, `${f}: expected a ConfigError, got ${String(err)}`);
      assert.equal(err.exitCode, 2);
      const text = formatError(err).text;
      assert.doesNotMatch(text, /\n\s+at /, 'no stack trace');
      assert.doesNotMatch(text, /b3BlbnNzaC1rZXkt/, 'never echoes key material');
      const expectedFile = join(badDir, f.replace(/\.yml$/, '.expected'));
      if (process.env.UPDATE_EXPECTED) writeFileSync(expectedFile, text);
      assert.equal(text, readFileSync(expectedFile, 'utf8'));
    });
  }

  for (const f of readdirSync(goodDir).filter((x) => x.endsWith('.yml')).sort()) {
    it(`accepts ${f}`, async () => {
      const r = await loadClusterConfig(join(goodDir, f), { displayPath: f, strict: !f.includes('.lenient.') });
      assert.ok(r.config.clusterName);
    });
  }
});
