/**
 * Did this process change anything outside itself? The clients note every request that may change state
 * (OpenStack and Kubernetes POST/PUT/PATCH/DELETE, a Kubernetes exec, an SSH command); the CLI's error
 * mapper uses it for the exit code: a failure to reach or authenticate at an endpoint before any such
 * request is exit 2 ("nothing was changed"), not 1 (issue 12 point 11).
 *
 * Process-wide on purpose, like the secret registry in redact.ts: one kadd run is one process (main()
 * resets it per invocation for in-process callers). Dependency-free.
 */
let changes = 0;
let first: string | undefined;

/** A request that may have changed something was sent (sent, not necessarily processed). */
export function noteChange(what: string): void {
  changes++;
  first ??= what;
}

export function changesSent(): { count: number; first?: string } {
  return { count: changes, ...(first ? { first } : {}) };
}

export function resetChanges(): void {
  changes = 0;
  first = undefined;
}
