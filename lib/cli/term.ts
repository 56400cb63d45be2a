/**
 * Terminal decisions shared by the error mapper (main.ts, on every invocation, --help included) and the
 * terminal Io (output.ts). Dependency-free on purpose.
 */

/** Colour: off with --no-color, NO_COLOR (non-empty) or FORCE_COLOR=0/false; on with FORCE_COLOR; else when a TTY. */
export function colorEnabled(env: NodeJS.ProcessEnv, flag: boolean | undefined, isTTY: boolean | undefined): boolean {
  if (flag === false) return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined) return env.FORCE_COLOR !== '0' && env.FORCE_COLOR !== 'false';
  return !!isTTY;
}

export function isCI(env: NodeJS.ProcessEnv): boolean {
  return !!(env.CI && env.CI !== 'false' && env.CI !== '0') || !!env.CONTINUOUS_INTEGRATION || !!env.BUILD_NUMBER || !!env.GITHUB_ACTIONS;
}
