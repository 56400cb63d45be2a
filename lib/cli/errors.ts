/**
 * The top-level error mapper: one place that turns anything thrown into stderr text and an exit code.
 * KaddError -> "error: <message>" (+ detail lines, + "hint: ..."), its own exit code.
 * Anything else -> "error: unexpected: <message> (run with --debug for the stack trace)", exit 1.
 * Stack traces only with --debug. Everything is redacted.
 */
import { InterruptedError, KaddError } from '../errors.js';
import { redactText } from '../redact.js';

export interface FormattedError {
  text: string;
  exitCode: number;
}

function stackOf(e: unknown): string {
  const parts: string[] = [];
  let cur: unknown = e;
  for (let depth = 0; cur && depth < 5; depth++) {
    if (cur instanceof Error) parts.push(`${depth ? 'caused by: ' : ''}${cur.stack ?? cur.message}`);
    else parts.push(`${depth ? 'caused by: ' : ''}${String(cur)}`);
    cur = cur instanceof Error ? (cur as Error & { cause?: unknown }).cause : undefined;
  }
  return parts.join('\n');
}

/**
 * KaddError, recognised by shape as well as by class: a second copy of lib/errors.ts (tsx in tests
 * loads CJS and ESM instances side by side) would defeat instanceof.
 */
function asKaddError(e: unknown): KaddError | undefined {
  if (KaddError.is(e)) return e;
  if (e instanceof Error) {
    const x = e as Error & { code?: unknown; exitCode?: unknown; details?: unknown };
    if (typeof x.code === 'string' && typeof x.exitCode === 'number' && Array.isArray(x.details)) return x as unknown as KaddError;
  }
  return undefined;
}

export function formatError(e: unknown, opts: { debug?: boolean; color?: boolean } = {}): FormattedError {
  const red = (s: string) => (opts.color ? `\x1b[31m${s}\x1b[39m` : s);
  const lines: string[] = [];
  let exitCode: number;
  const interrupted = e instanceof Error && (e.name === 'AbortError' || e instanceof InterruptedError);
  const ke = asKaddError(e);
  if (ke) {
    lines.push(`${red('error:')} ${ke.message}`);
    for (const d of ke.details) lines.push(`  ${d}`);
    if (ke.hint) lines.push(`hint: ${ke.hint}`);
    exitCode = ke.exitCode;
  } else if (interrupted) {
    lines.push(`${red('error:')} interrupted`);
    exitCode = 130;
  } else {
    // one line: a library's message can span lines (a YAML snippet, a response body); --debug has it all
    const msg = (e instanceof Error ? e.message : String(e)).split('\n')[0]!.trim();
    lines.push(`${red('error:')} unexpected: ${msg}${opts.debug ? '' : ' (run with --debug for the stack trace)'}`);
    exitCode = 1;
  }
  if (opts.debug) lines.push(stackOf(e));
  return { text: redactText(lines.join('\n')) + '\n', exitCode };
}
