/** Issue 12 point 13: LICENSE, a man page generated from the help (and current), package.json pointing at both. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { ROOT } from '../helpers/kadd-sim.js';
import { renderMan } from '../../scripts/man.js';

describe('packaging', function () {
  this.timeout(60_000);
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { license: string; man: string; files: string[]; scripts: Record<string, string> };

  it('LICENSE is the Apache License 2.0 text the package declares', () => {
    assert.equal(pkg.license, 'Apache-2.0');
    const text = readFileSync(join(ROOT, 'LICENSE'), 'utf8');
    assert.match(text, /^\s+Apache License\n\s+Version 2\.0, January 2004/);
    assert.match(text, /END OF TERMS AND CONDITIONS/);
    assert.ok(pkg.files.includes('LICENSE'));
  });

  it('man/kadd.1 is generated from the help and current (npm run man), and installed through package.json "man"', async () => {
    assert.equal(pkg.man, './man/kadd.1');
    assert.ok(pkg.files.includes('man'));
    assert.match(pkg.scripts.man ?? '', /scripts\/man\.ts/);
    const committed = readFileSync(join(ROOT, 'man', 'kadd.1'), 'utf8');
    assert.equal(committed, await renderMan(), 'man/kadd.1 is stale: run `npm run man`');
    assert.match(committed, /^\.SS kadd add <config>$/m);
    assert.match(committed, /\\-\\-dry\\-run/);
    const man = spawnSync('man', ['-l', '-Tutf8', join(ROOT, 'man', 'kadd.1')], { encoding: 'utf8', env: { ...process.env, MANWIDTH: '80' } });
    if (man.status === 0) assert.match(man.stdout, /kadd add <config>/);
  });
});
