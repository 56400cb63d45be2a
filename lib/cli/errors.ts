/**
 * The top-level error mapper: one place that turns anything thrown into stderr text and an exit code.
 * KaddError -> "error: <message>" (+ detail lines, + "hint: ..."), its own exit code; an API that could
 * not be reached or authenticated at before anything was changed is exit 2, not 1.
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

/**
 * A failure to reach, authenticate at or get an answer from an API (OpenStack, Kubernetes): when no
 * request that could change anything was sent before it, nothing changed, and the exit code says so (2).
 */
function isEndpointFailure(e: KaddError): boolean {
  return e.exitCode === 1 && (e.name === 'OpenStackError' || e.name === 'KubeError' || /^E_(OPENSTACK|KUBE)(_|$)/.test(e.code));
}

export interface FormatErrorOptions {
  debug?: boolean;
  color?: boolean;
  /** true when this run sent no request that could change anything (lib/effects.ts) */
  nothingChanged?: boolean;
}

export function formatError(e: unknown, opts: FormatErrorOptions = {}): FormattedError {
  const red = (s: string) => (opts.color ? `\x1b[31m${s}\x1b[39m` : s);
  const lines: string[] = [];
  let exitCode: number;
  const interrupted = e instanceof Error && (e.name === 'AbortError' || e instanceof InterruptedError);
  const ke = asKaddError(e);
  if (ke) {
    lines.push(`${red('error:')} ${ke.message}`);
    for (const d of ke.details) lines.push(`  ${d}`);
    exitCode = ke.exitCode;
    if (opts.nothingChanged && isEndpointFailure(ke)) {
      lines.push('  nothing was changed');
      exitCode = 2;
    }
    if (ke.hint) lines.push(`hint: ${ke.hint}`);
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
