/**
 * The console markers the join script prints ("KADD-MARK stage=join-failed rc=1 role=node node=x time=...").
 * The diagnosis (design.md section 7) reads them back from the Nova console log with parseMarkers().
 */
export const MARK_PREFIX = 'KADD-MARK';

/** Stages the join script reports, in order; "<stage>-failed" marks the step that stopped it. */
export const MARK_STAGES = [
  'bootstrap-start', 'join-skipped', 'packages-preinstalled', 'packages-start', 'packages-ok', 'containerd-ok',
  'advertise-address', 'join-start', 'join-ok', 'cloud-init-final',
] as const;

export interface Marker {
  stage: string;
  /** true for "<step>-failed" */
  failed: boolean;
  /** exit code of a failed step */
  rc?: number;
  fields: Record<string, string>;
  line: string;
}

const MARK_RE = /KADD-MARK((?:\s+[A-Za-z][\w-]*=\S*)+)/;

/** All markers in a console log, oldest first. Lines mangled by the console (prefixes, \r) are tolerated. */
export function parseMarkers(consoleLog: string): Marker[] {
  const out: Marker[] = [];
  for (const raw of consoleLog.split(/\r?\n|\r/)) {
    const m = MARK_RE.exec(raw);
    if (!m) continue;
    const fields: Record<string, string> = {};
    for (const kv of m[1]!.trim().split(/\s+/)) {
      const i = kv.indexOf('=');
      fields[kv.slice(0, i)] = kv.slice(i + 1);
    }
    const stage = fields.stage;
    if (!stage) continue;
    const failed = stage.endsWith('-failed');
    const rc = fields.rc !== undefined && /^\d+$/.test(fields.rc) ? Number(fields.rc) : undefined;
    out.push({ stage, failed, rc, fields, line: raw.slice(raw.indexOf(MARK_PREFIX)).trimEnd() });
  }
  return out;
}

/** The last marker, which tells where the boot stopped (undefined when the script never ran). */
export function lastMarker(consoleLog: string): Marker | undefined {
  const all = parseMarkers(consoleLog);
  return all[all.length - 1];
}
