import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { load } from 'js-yaml';
import { shellQuote, yamlQuote } from '../../lib/cloudinit/escape.js';
import { ConfigError } from '../../lib/errors.js';

const HOSTILE = [
  '', 'plain', 'with space', `it's`, `"double"`, 'back\\slash', 'new\nline', 'tab\tand\rcr', '$(reboot)', '`id`', '${HOME}',
  '; rm -rf / #', '- item', ': colon', '#hash', '&anchor *alias', '!tag', '{flow}', '[seq]', '|', '>', '%', '@', 'null', 'true', '0o17', '1e3',
  'ünïcødé ✓ 漢字 🚀', '\u2028line sep\u2029', 'nel\u0085', 'bell\u0007', 'del\u007f', 'bom\ufeff', 'esc\u001b[31m', "'; echo pwned; '",
];

describe('cloudinit/escape', () => {
  it('yamlQuote round-trips hostile strings through js-yaml and never emits a raw line break', () => {
    for (const s of HOSTILE) {
      const q = yamlQuote(s);
      assert.ok(!/[\n\r\u0085\u2028\u2029]/.test(q), `raw break in ${JSON.stringify(q)}`);
      assert.equal(load(`k: ${q}\n`, {}) && (load(`k: ${q}\n`) as { k: string }).k, s, `value ${JSON.stringify(s)}`);
      // inside a block scalar's nested document too
      const nested = `outer: |\n  inner: ${q}\n`;
      const inner = (load(nested) as { outer: string }).outer;
      assert.equal((load(inner) as { inner: string }).inner, s);
    }
  });

  it('yamlQuote round-trips through Python YAML 1.1 (PyYAML, what cloud-init uses) when available', function () {
    let ok = true;
    try {
      execFileSync('python3', ['-c', 'import yaml'], { stdio: 'ignore' });
    } catch {
      ok = false;
    }
    if (!ok) this.skip();
    const doc = HOSTILE.map((s, i) => `k${i}: ${yamlQuote(s)}`).join('\n');
    const out = execFileSync('python3', ['-c', 'import sys,yaml,json; print(json.dumps(yaml.safe_load(sys.stdin.read())))'], { input: doc }).toString();
    const parsed = JSON.parse(out) as Record<string, string>;
    HOSTILE.forEach((s, i) => assert.equal(parsed[`k${i}`], s, `PyYAML value ${JSON.stringify(s)}`));
  });

  it('shellQuote makes bash see exactly the original string, with no raw line break', () => {
    for (const s of HOSTILE) {
      const q = shellQuote(s);
      assert.ok(!/[\n\r\u0085\u2028\u2029]/.test(q), `raw break in ${q}`);
      const out = execFileSync('bash', ['--norc', '--noprofile', '-c', `printf '%s' ${q}`], { env: { PATH: process.env.PATH, LC_ALL: 'C' } });
      assert.equal(out.toString('utf8'), s, `shell value ${JSON.stringify(s)}`);
    }
  });

  it('refuses NUL bytes and lone surrogates', () => {
    assert.throws(() => shellQuote('a\0b'), ConfigError);
    assert.throws(() => yamlQuote('a\ud800b'), ConfigError);
    assert.throws(() => shellQuote('\udc00'), ConfigError);
  });
});
