/** Assertions several test files share. */
import { strict as assert } from 'node:assert';
import { ConfigError } from '../../lib/errors.js';

/** Awaits p, which must reject with a ConfigError that exits 2; returns it for more checks. */
export async function rejectsConfigError(p: Promise<unknown>): Promise<ConfigError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    assert.equal(e.exitCode, 2);
    return e;
  }
  assert.fail('expected a ConfigError');
}
