/**
 * Source positions of a YAML document, from js-yaml's event stream: for every node its key path
 * ("private_net.subnet.cidr", "availability-zones[1]"), the line it starts on and, for scalars, the
 * exact source range of the value. Validation uses it for line numbers; the *.updated.yml writer
 * uses it to replace a value in place without touching anything else in the file.
 */
import { parseEvents, EVENT_ID, SCALAR_STYLE, getScalarValue } from 'js-yaml';

export interface NodePos {
  kind: 'scalar' | 'mapping' | 'sequence' | 'alias';
  /** offset where the node starts (for quoted scalars: the first character inside the quotes) */
  start: number;
  /** scalars: value range inside quotes; -1 when the value is empty (`key:` with nothing) */
  valueStart: number;
  valueEnd: number;
  style: number;
  /** block (1) or flow (2) for collections */
  collectionStyle?: number;
  /** offset of the key scalar that introduced this node (mapping values only) */
  keyStart?: number;
  keyEnd?: number;
}

export interface YamlIndex {
  text: string;
  nodes: Map<string, NodePos>;
  /** 1-based line of an offset */
  lineOf(offset: number): number;
}

export function joinPath(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  return parent ? `${parent}.${key}` : key;
}

interface Frame {
  kind: 'mapping' | 'sequence' | 'document';
  path: string;
  /** mappings: the pending key, once read */
  key?: string;
  keyStart?: number;
  keyEnd?: number;
  expectKey: boolean;
  index: number;
}

/** Build the index. Throws js-yaml's YAMLException on a syntax error (callers parse with load() first). */
export function indexYaml(text: string): YamlIndex {
  const events = parseEvents(text, {});
  const nodes = new Map<string, NodePos>();
  const stack: Frame[] = [];
  let docs = 0;

  const place = (): { path: string; keyStart?: number; keyEnd?: number } | null => {
    const top = stack[stack.length - 1];
    if (!top) return null;
    if (top.kind === 'document') return { path: '' };
    if (top.kind === 'sequence') return { path: joinPath(top.path, top.index++) };
    // mapping value
    const r = { path: joinPath(top.path, top.key ?? ''), keyStart: top.keyStart, keyEnd: top.keyEnd };
    top.expectKey = true;
    return r;
  };

  for (const ev of events) {
    const top = stack[stack.length - 1];
    switch (ev.type) {
      case EVENT_ID.DOCUMENT:
        docs++;
        stack.push({ kind: 'document', path: '', expectKey: false, index: 0 });
        break;
      case EVENT_ID.POP:
        stack.pop();
        break;
      case EVENT_ID.SCALAR: {
        if (top && top.kind === 'mapping' && top.expectKey) {
          top.key = getScalarValue(text, ev);
          top.keyStart = ev.valueStart;
          top.keyEnd = ev.valueEnd;
          top.expectKey = false;
          break;
        }
        const p = place();
        if (p && docs === 1) {
          nodes.set(p.path, {
            kind: 'scalar', start: ev.valueStart, valueStart: ev.valueStart, valueEnd: ev.valueEnd, style: ev.style,
            keyStart: p.keyStart, keyEnd: p.keyEnd,
          });
        }
        break;
      }
      case EVENT_ID.ALIAS: {
        if (top && top.kind === 'mapping' && top.expectKey) {
          top.key = '*';
          top.expectKey = false;
          break;
        }
        const p = place();
        if (p && docs === 1) {
          nodes.set(p.path, { kind: 'alias', start: ev.anchorStart, valueStart: -1, valueEnd: -1, style: 0, keyStart: p.keyStart, keyEnd: p.keyEnd });
        }
        break;
      }
      case EVENT_ID.MAPPING:
      case EVENT_ID.SEQUENCE: {
        const kind = ev.type === EVENT_ID.MAPPING ? 'mapping' : 'sequence';
        if (top && top.kind === 'mapping' && top.expectKey) {
          // complex key: index it under a placeholder and keep going
          top.key = '?';
          top.expectKey = false;
          stack.push({ kind, path: '\u0000complex', expectKey: kind === 'mapping', index: 0 });
          break;
        }
        const p = place();
        const path = p?.path ?? '';
        if (p && docs === 1) {
          nodes.set(path, {
            kind, start: ev.start, valueStart: -1, valueEnd: -1, style: 0, collectionStyle: ev.style,
            keyStart: p.keyStart, keyEnd: p.keyEnd,
          });
        }
        stack.push({ kind, path, expectKey: kind === 'mapping', index: 0 });
        break;
      }
    }
  }

  const lineStarts = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) lineStarts.push(i + 1);
  const lineOf = (offset: number): number => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
  return { text, nodes, lineOf };
}

/** Line of the key (or value) at `path`, if known. */
export function lineOfPath(index: YamlIndex | undefined, path: string): number | undefined {
  if (!index) return undefined;
  const n = index.nodes.get(path);
  if (!n) return undefined;
  const off = n.keyStart !== undefined && n.keyStart >= 0 ? n.keyStart : n.start;
  return off >= 0 ? index.lineOf(off) : undefined;
}

export { SCALAR_STYLE };
