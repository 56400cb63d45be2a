import assert from 'node:assert/strict';
import { findCommandWord } from '../../lib/cli/options.js';
import { commands } from '../../lib/commands/index.js';
import { renderTopHelp } from '../../lib/cli/help.js';

describe('global options and the registry', () => {
  it('finds the command word past options and their values', () => {
    assert.equal(findCommandWord(['validate', 'x']), 'validate');
    assert.equal(findCommandWord(['--os-cloud', 'prod', 'validate', 'x']), 'validate');
    assert.equal(findCommandWord(['-f', 'json', '-vv', 'validate']), 'validate');
    assert.equal(findCommandWord(['--os-cloud=prod', '--debug', 'add']), 'add');
    assert.equal(findCommandWord(['--insecure', 'validate']), 'validate');
    assert.equal(findCommandWord(['--help']), undefined);
  });

  it('each registry entry matches its module (usage and description)', async () => {
    for (const [name, entry] of Object.entries(commands)) {
      const mod = (await entry.load()).default;
      assert.equal(mod.command, entry.command, `${name}: command`);
      assert.equal(mod.describe, entry.describe, `${name}: describe`);
      assert.equal(mod.command.split(' ')[0], name);
    }
  });

  it('top-level help lists every registered command and global option', () => {
    const h = renderTopHelp(commands, 100);
    for (const e of Object.values(commands)) assert.ok(h.includes(`kadd ${e.command}`));
    for (const o of ['--os-cloud', '--os-region-name', '--os-interface', '--os-cacert', '--insecure', '--os-application-credential-secret', '--kubeconfig', '--context', '-f, -o, --format', '-c, --column', '--request-timeout', '-v, --verbose', '-q, --quiet', '--debug', '--no-color', '--yes']) {
      assert.ok(h.includes(o), o);
    }
    assert.ok(h.split('\n').every((l) => l.length <= 100), 'wrapped to the width');
  });
});
