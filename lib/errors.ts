/**
 * Typed errors with stable codes (design.md section 8).
 *
 * exit codes: 2 usage/config/preflight refusal (no side effect happened),
 *             1 operation failed (what was rolled back is listed),
 *             3 partial success, 130 interrupted.
 */
export type ExitCode = 0 | 1 | 2 | 3 | 130;

export interface KaddErrorOptions {
  hint?: string;
  cause?: unknown;
  details?: string[];
}

const BRAND = Symbol.for('kadd.KaddError');

export class KaddError extends Error {
  /** brand that survives a second copy of this module (tsx + compiled code in one process) */
  readonly [BRAND] = true;
  readonly code: string;
  readonly exitCode: ExitCode;
  readonly hint?: string;
  readonly details: string[];
  constructor(code: string, message: string, exitCode: ExitCode = 1, opts: KaddErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'KaddError';
    this.code = code;
    this.exitCode = exitCode;
    this.hint = opts.hint;
    this.details = opts.details ?? [];
  }
  static is(e: unknown): e is KaddError {
    return e instanceof KaddError || (typeof e === 'object' && e !== null && (e as Record<symbol, unknown>)[BRAND] === true);
  }
}

/** Bad command line: exit 2, nothing happened. */
export class UsageError extends KaddError {
  constructor(message: string, opts: KaddErrorOptions = {}) {
    super('E_USAGE', message, 2, opts);
    this.name = 'UsageError';
  }
}

/** Bad cluster config, clouds.yaml or kubeconfig: exit 2, nothing happened. */
export class ConfigError extends KaddError {
  constructor(message: string, opts: KaddErrorOptions & { code?: string } = {}) {
    super(opts.code ?? 'E_CONFIG', message, 2, opts);
    this.name = 'ConfigError';
  }
}

/** Preflight refused the operation before any mutation: exit 2. */
export class PreflightError extends KaddError {
  constructor(message: string, opts: KaddErrorOptions & { code?: string } = {}) {
    super(opts.code ?? 'E_PREFLIGHT', message, 2, opts);
    this.name = 'PreflightError';
  }
}

/** An OpenStack API call failed. */
export class OpenStackError extends KaddError {
  readonly status?: number;
  readonly service?: string;
  readonly method?: string;
  readonly url?: string;
  constructor(
    message: string,
    info: { status?: number; service?: string; method?: string; url?: string; code?: string } = {},
    opts: KaddErrorOptions = {},
  ) {
    super(info.code ?? (info.status ? `E_OPENSTACK_${info.status}` : 'E_OPENSTACK'), message, 1, opts);
    this.name = 'OpenStackError';
    this.status = info.status;
    this.service = info.service;
    this.method = info.method;
    this.url = info.url;
  }
}

/** A Kubernetes API call failed. */
export class KubeError extends KaddError {
  readonly status?: number;
  constructor(message: string, info: { status?: number; code?: string } = {}, opts: KaddErrorOptions = {}) {
    super(info.code ?? (info.status ? `E_KUBE_${info.status}` : 'E_KUBE'), message, 1, opts);
    this.name = 'KubeError';
    this.status = info.status;
  }
}

/** The operation failed after side effects; `rolledBack` lists what was undone. */
export class OperationError extends KaddError {
  readonly rolledBack: string[];
  constructor(code: string, message: string, opts: KaddErrorOptions & { rolledBack?: string[] } = {}) {
    super(code, message, 1, opts);
    this.name = 'OperationError';
    this.rolledBack = opts.rolledBack ?? [];
  }
}

/** Some of the batch succeeded: exit 3. */
export class PartialSuccessError extends KaddError {
  constructor(message: string, opts: KaddErrorOptions = {}) {
    super('E_PARTIAL', message, 3, opts);
    this.name = 'PartialSuccessError';
  }
}

/** Ctrl-C: exit 130. */
export class InterruptedError extends KaddError {
  constructor(message = 'interrupted', opts: KaddErrorOptions = {}) {
    super('E_INTERRUPTED', message, 130, opts);
    this.name = 'InterruptedError';
  }
}
