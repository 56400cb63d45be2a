/**
 * Commands available through pod exec: etcdctl (over the simulated etcd, output formats of etcdctl 3.5),
 * kubeadm (upload-certs, token create), and a minimal sh (sh -c, test -f, ls, cat, echo, true, false, exit).
 */
import type { KubeCluster } from './cluster.js';
import { BOOTSTRAP_GROUP, secretField } from './cluster.js';
import { EtcdError, ETCD_VERSION, type SimMember } from './etcd.js';
import { encryptBytes, goHexDecode, pki } from './pki.js';
import { goJson, hex, hex16, k8sTime, type Obj, randHex, U64 } from './util.js';

export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface ExecCtx {
  c: KubeCluster;
  pod: Obj;
  env: Record<string, string>;
  stdin: string;
}

/** marks the synthetic pod that stands for a node's host shell (KubeSim.hostExec) */
export const HOST_ANNOTATION = 'sim.kadd.dev/host-shell';

const ok = (stdout = '', stderr = ''): ExecResult => ({ stdout, stderr, exitCode: 0 });
const fail = (stderr: string, code = 1, stdout = ''): ExecResult => ({ stdout, stderr, exitCode: code });

/** which commands a pod offers */
function binaries(pod: Obj): Set<string> {
  const base = ['sh', 'test', '[', 'ls', 'cat', 'echo', 'printf', 'true', 'false', 'exit', 'export', 'env', 'mkdir', 'rm'];
  const isAdder = pod.metadata.namespace === 'kube-system' && (pod.metadata.ownerReferences ?? []).some((r: Obj) => r.kind === 'ReplicaSet');
  // a control-plane host's own shell (KubeSim.hostExec: what an SSH session on a master runs)
  if (isAdder || pod.metadata.annotations?.[HOST_ANNOTATION] === 'true') return new Set([...base, 'etcdctl', 'kubeadm']);
  if (pod.metadata.name.startsWith('etcd-')) return new Set([...base, 'etcdctl']);
  return new Set(base);
}

// ---------- files ----------
function resolvePath(ctx: ExecCtx, path: string): { fs: Map<string, string>; path: string } {
  const { c, pod } = ctx;
  const node = pod.spec.nodeName as string;
  const volumes: Obj[] = pod.spec.volumes ?? [];
  if (volumes.length === 0 && pod.spec.hostNetwork) return { fs: c.fs(node), path };
  const mounts: Obj[] = (pod.spec.containers?.[0]?.volumeMounts ?? []).slice().sort((a: Obj, b: Obj) => b.mountPath.length - a.mountPath.length);
  for (const m of mounts) {
    const mp = String(m.mountPath).replace(/\/$/, '');
    if (path === mp || path.startsWith(mp + '/')) {
      const v = volumes.find((x) => x.name === m.name);
      if (v?.hostPath?.path) return { fs: c.fs(node), path: String(v.hostPath.path).replace(/\/$/, '') + path.slice(mp.length) };
    }
  }
  return { fs: c.fs(`pod:${pod.metadata.uid}`), path };
}

function exists(ctx: ExecCtx, path: string): 'file' | 'dir' | undefined {
  const norm = path.replace(/\/$/, '');
  if ((ctx.pod.spec.containers?.[0]?.volumeMounts ?? []).some((m: Obj) => String(m.mountPath).replace(/\/$/, '') === norm)) return 'dir';
  const { fs, path: p } = resolvePath(ctx, path);
  if (fs.has(p)) return 'file';
  const prefix = p.replace(/\/$/, '') + '/';
  for (const k of fs.keys()) if (k.startsWith(prefix)) return 'dir';
  if (['/', '/tmp', '/var', '/etc', '/var/lib', '/etc/kubernetes'].includes(p)) return 'dir';
  return undefined;
}

// ---------- shell ----------
export function tokenize(s: string): string[] | { error: string } {
  const out: string[] = [];
  let cur = '';
  let has = false;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === "'") {
      const j = s.indexOf("'", i + 1);
      if (j < 0) return { error: 'Syntax error: Unterminated quoted string' };
      cur += s.slice(i + 1, j);
      has = true;
      i = j;
    } else if (ch === '"') {
      let j = i + 1;
      for (; j < s.length && s[j] !== '"'; j++) {
        if (s[j] === '\\' && j + 1 < s.length) {
          cur += s[++j];
        } else cur += s[j];
      }
      if (j >= s.length) return { error: 'Syntax error: Unterminated quoted string' };
      has = true;
      i = j;
    } else if (ch === '\\' && i + 1 < s.length) {
      cur += s[++i];
      has = true;
    } else if (/\s/.test(ch)) {
      if (has) out.push(cur);
      cur = '';
      has = false;
    } else if (ch === ';' || ch === '|' || ch === '&' || ch === '>') {
      if (has) out.push(cur);
      cur = '';
      has = false;
      const two = s.slice(i, i + 2);
      if (two === '&&' || two === '||' || two === '>>') {
        out.push(two);
        i++;
      } else out.push(ch);
    } else {
      cur += ch;
      has = true;
    }
  }
  if (has) out.push(cur);
  return out;
}

function expand(word: string, env: Record<string, string>, last: number): string {
  return word.replace(/\$\{(\w+)\}|\$(\w+|\?)/g, (_m, a, b) => {
    const k = a ?? b;
    if (k === '?') return String(last);
    return env[k] ?? '';
  });
}

export async function runShell(script: string, ctx: ExecCtx): Promise<ExecResult> {
  const toks = tokenize(script);
  if (!Array.isArray(toks)) return fail(`sh: 1: ${toks.error}\n`, 2);
  let stdout = '';
  let stderr = '';
  let last = 0;
  let skip = false;
  let i = 0;
  const env = { ...ctx.env };
  // what is left of stdin: the `read` builtin takes one line at a time, commands get the rest
  let stdinRest = ctx.stdin;
  while (i < toks.length) {
    const cmd: string[] = [];
    let redirect: { path: string; append: boolean } | undefined;
    while (i < toks.length && ![';', '&&', '||', '|', '&'].includes(toks[i]!)) {
      if (toks[i] === '>' || toks[i] === '>>') {
        redirect = { path: expand(toks[i + 1] ?? '', env, last), append: toks[i] === '>>' };
        i += 2;
        continue;
      }
      cmd.push(toks[i]!);
      i++;
    }
    const op = toks[i];
    i++;
    if (op === '|' || op === '&') return fail(`sh: 1: pipes and background jobs are not supported by the simulator\n`, 2);
    if (!skip && cmd.length) {
      const words = cmd.map((w) => expand(w, env, last));
      const localEnv: Record<string, string> = {};
      while (words.length && /^\w+=/.test(words[0]!)) {
        const [k, ...v] = words.shift()!.split('=');
        localEnv[k!] = v.join('=');
      }
      if (words.length === 0) Object.assign(env, localEnv);
      else if (words[0] === 'exit') return { stdout, stderr, exitCode: Number(words[1] ?? last) || 0 };
      else if (words[0] === 'umask') last = /^[0-7]{3,4}$/.test(words[1] ?? '') ? 0 : 2;
      else if (words[0] === 'read') {
        // read [-r] NAME: one line of stdin (without its newline); status 1 at the end of stdin
        const names = words.slice(1).filter((w) => !w.startsWith('-'));
        const nl = stdinRest.indexOf('\n');
        if (stdinRest === '') last = 1;
        else {
          const line = nl < 0 ? stdinRest : stdinRest.slice(0, nl);
          stdinRest = nl < 0 ? '' : stdinRest.slice(nl + 1);
          if (names[0]) env[names[0]] = line;
          last = nl < 0 ? 1 : 0;
        }
      }
      else if (words[0] === 'export') {
        for (const w of words.slice(1)) {
          const [k, ...v] = w.split('=');
          if (v.length) env[k!] = v.join('=');
        }
        last = 0;
      } else {
        const r = await runArgv(words, { ...ctx, env: { ...env, ...localEnv }, stdin: stdinRest });
        if (redirect) {
          const { fs, path } = resolvePath(ctx, redirect.path);
          fs.set(path, (redirect.append ? (fs.get(path) ?? '') : '') + r.stdout);
        } else stdout += r.stdout;
        stderr += r.stderr;
        last = r.exitCode;
      }
    }
    skip = (op === '&&' && last !== 0) || (op === '||' && last === 0) ? true : false;
    if (skip && op === '&&') {
      // skip the next command only
    }
  }
  return { stdout, stderr, exitCode: last };
}

export async function runArgv(argv: string[], ctx: ExecCtx): Promise<ExecResult> {
  const [cmd0, ...args] = argv;
  if (!cmd0) return fail('');
  const cmd = cmd0.replace(/^\/(usr\/)?(local\/)?s?bin\//, '');
  const bins = binaries(ctx.pod);
  if (!bins.has(cmd)) return fail(`${cmd0}: command not found\n`, 127);
  switch (cmd) {
    case 'sh': {
      const i = args.indexOf('-c');
      if (i < 0) return runShell(ctx.stdin, ctx);
      return runShell(args[i + 1] ?? '', ctx);
    }
    case 'true':
      return ok();
    case 'false':
      return fail('');
    case 'echo':
      return ok(args.join(' ') + '\n');
    case 'printf': {
      // %s and the escapes \n \t \\; the format is reused while arguments are left (as POSIX printf)
      const [fmt = '', ...rest] = args;
      const esc = (x: string) => x.replace(/\\(n|t|\\)/g, (_m, e) => (e === 'n' ? '\n' : e === 't' ? '\t' : '\\'));
      let out = '';
      let k = 0;
      do {
        out += esc(fmt).replace(/%s/g, () => rest[k++] ?? '');
      } while (k < rest.length && fmt.includes('%s'));
      return ok(out);
    }
    case 'env':
      return ok(Object.entries(ctx.env).map(([k, v]) => `${k}=${v}\n`).join(''));
    case 'test':
    case '[': {
      const a = cmd === '[' ? args.slice(0, -1) : args;
      if (a.length === 2 && ['-f', '-e', '-d', '-s', '-r'].includes(a[0]!)) {
        const t = exists(ctx, a[1]!);
        const r = a[0] === '-d' ? t === 'dir' : a[0] === '-e' ? !!t : t === 'file';
        return r ? ok() : fail('');
      }
      if (a.length === 2 && a[0] === '-n') return a[1] ? ok() : fail('');
      if (a.length === 2 && a[0] === '-z') return a[1] ? fail('') : ok();
      if (a.length === 3 && (a[1] === '=' || a[1] === '==')) return a[0] === a[2] ? ok() : fail('');
      if (a.length === 3 && a[1] === '!=') return a[0] !== a[2] ? ok() : fail('');
      return fail(`sh: 1: test: unsupported expression\n`, 2);
    }
    case 'ls': {
      const paths = args.filter((a) => !a.startsWith('-'));
      let out = '';
      let code = 0;
      let err = '';
      for (const p of paths.length ? paths : ['.']) {
        const t = exists(ctx, p);
        if (!t) {
          err += `ls: cannot access '${p}': No such file or directory\n`;
          code = 2;
          continue;
        }
        if (t === 'file') out += p + '\n';
        else {
          const { fs, path } = resolvePath(ctx, p);
          const prefix = path.replace(/\/$/, '') + '/';
          const names = new Set<string>();
          for (const k of fs.keys()) if (k.startsWith(prefix)) names.add(k.slice(prefix.length).split('/')[0]!);
          out += [...names].sort().map((n) => n + '\n').join('');
        }
      }
      return { stdout: out, stderr: err, exitCode: code };
    }
    case 'cat': {
      let out = '';
      for (const p of args) {
        const { fs, path } = resolvePath(ctx, p);
        const v = fs.get(path);
        if (v === undefined) return fail(`cat: ${p}: No such file or directory\n`, 1, out);
        out += v;
      }
      return ok(args.length ? out : ctx.stdin);
    }
    case 'mkdir':
      return ok();
    case 'rm': {
      for (const p of args.filter((a) => !a.startsWith('-'))) {
        const { fs, path } = resolvePath(ctx, p);
        fs.delete(path);
      }
      return ok();
    }
    case 'etcdctl':
      return etcdctl(args, ctx);
    case 'kubeadm':
      return kubeadm(args, ctx);
  }
  return fail(`${cmd}: command not found\n`, 127);
}

// ---------- flags ----------
interface Flags {
  pos: string[];
  f: Record<string, string | true>;
}
function parseFlags(args: string[], boolFlags: Set<string>): Flags {
  const pos: string[] = [];
  const f: Record<string, string | true> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      pos.push(...args.slice(i + 1));
      break;
    }
    const m = a.match(/^--?([\w-]+)(?:=(.*))?$/);
    if (m && !/^-\d/.test(a)) {
      const k = m[1] === 'w' ? 'write-out' : m[1]!;
      if (m[2] !== undefined) f[k] = m[2];
      else if (boolFlags.has(k)) f[k] = true;
      else if (i + 1 < args.length) f[k] = args[++i]!;
      else f[k] = '';
    } else pos.push(a);
  }
  return { pos, f };
}

// ---------- tables (olekukonko/tablewriter as etcdctl configures it) ----------
function table(hdr: string[], rows: string[][]): string {
  const w = hdr.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = '+' + w.map((x) => '-'.repeat(x + 2)).join('+') + '+\n';
  const center = (s: string, n: number) => {
    const gap = n - s.length;
    const l = Math.floor(gap / 2);
    return ' '.repeat(l) + s + ' '.repeat(gap - l);
  };
  let out = line + '|' + hdr.map((h, i) => ' ' + center(h, w[i]!) + ' ').join('|') + '|\n' + line;
  for (const r of rows) out += '|' + r.map((c, i) => ' ' + c.padStart(w[i]!) + ' ').join('|') + '|\n';
  return out + line;
}

/** go-humanize Bytes (SI) */
function humanBytes(n: number): string {
  if (n < 10) return `${n} B`;
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  const e = Math.floor(Math.log(n) / Math.log(1000));
  const v = n / 1000 ** e;
  return `${v < 10 ? (Math.floor(v * 10 + 0.5) / 10).toFixed(1) : Math.floor(v + 0.5).toFixed(0)} ${units[e]}`;
}

// ---------- etcdctl ----------
const ETCD_BOOL = new Set(['cluster', 'learner', 'insecure-skip-tls-verify', 'insecure-transport', 'debug', 'hex', 'keepalive-time', 'print-value-only']);

async function etcdctl(args: string[], ctx: ExecCtx): Promise<ExecResult> {
  const { c, env } = ctx;
  const etcd = c.etcd;
  const { pos, f } = parseFlags(args, ETCD_BOOL);
  for (const [flag, envk] of [['cacert', 'ETCDCTL_CACERT'], ['cert', 'ETCDCTL_CERT'], ['key', 'ETCDCTL_KEY']] as const) {
    const v = (typeof f[flag] === 'string' ? f[flag] : env[envk]) as string | undefined;
    if (v && !exists(ctx, v)) return fail(`Error: open ${v}: no such file or directory\n`, 1);
  }
  const out = String(f['write-out'] ?? env.ETCDCTL_WRITE_OUT ?? 'simple');
  if (!['simple', 'json', 'table', 'fields', 'protobuf'].includes(out)) return fail(`Error: unknown output format "${out}"\n`, 1);
  if (etcd.real) {
    // real-etcd mode: the real etcdctl with this argv, node addresses translated to the real members
    return etcd.real.etcdctl(args, {
      env,
      node: ctx.pod.spec.nodeName as string,
      fs: {
        get: (p) => resolvePath(ctx, p).fs.get(resolvePath(ctx, p).path),
        set: (p, v) => resolvePath(ctx, p).fs.set(resolvePath(ctx, p).path, v),
        dirExists: (p) => exists(ctx, p) === 'dir',
      },
    });
  }
  const endpoints = String(f.endpoints ?? env.ETCDCTL_ENDPOINTS ?? '127.0.0.1:2379')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const node = ctx.pod.spec.nodeName as string;
  const reachable = (): SimMember | undefined => {
    for (const ep of endpoints) {
      const m = etcd.memberForEndpoint(ep, node);
      if (m && m.up && m.started) return m;
    }
    return undefined;
  };
  const header = (m: SimMember | undefined, rev = false) => ({ cluster_id: new U64(etcd.clusterId), member_id: new U64(m?.id ?? 0n), ...(rev ? { revision: etcd.revision } : {}), raft_term: etcd.raftTerm });
  const deadline = (): ExecResult => fail(`{"level":"warn","ts":"${new Date(c.now()).toISOString()}","logger":"etcd-client","caller":"v3@v3.5.16/retry_interceptor.go:62","msg":"retrying of unary invoker failed","target":"etcd-endpoints://0xc0000e2000/${endpoints[0]}","attempt":0,"error":"rpc error: code = DeadlineExceeded desc = context deadline exceeded"}\nError: context deadline exceeded\n`, 1);
  const memberJson = (m: SimMember) => ({ ID: new U64(m.id), ...(m.name ? { name: m.name } : {}), peerURLs: m.peerURLs, ...(m.clientURLs.length ? { clientURLs: m.clientURLs } : {}), ...(m.isLearner ? { isLearner: true } : {}) });
  const memberRow = (m: SimMember) => [hex(m.id), m.started ? 'started' : 'unstarted', m.name, m.peerURLs.join(','), m.clientURLs.join(','), String(m.isLearner)];
  const parseId = (s: string | undefined): bigint | ExecResult => {
    if (!s) return fail('Error: member ID is not provided\n', 128);
    if (!/^[0-9a-fA-F]{1,16}$/.test(s)) return fail(`Error: bad member ID arg (strconv.ParseUint: parsing "${s}": invalid syntax), expecting ID in Hex\n`, 128);
    return BigInt('0x' + s);
  };
  const [g, sub, ...rest] = pos;
  try {
    if (g === 'version') return ok(`etcdctl version: ${ETCD_VERSION}\nAPI version: 3.5\n`);
    if (g === 'member' && sub === 'list') {
      const m = reachable();
      if (!m) return deadline();
      if (out === 'json') return ok(goJson({ header: header(m), members: etcd.members.map(memberJson) }) + '\n');
      if (out === 'table') return ok(table(['ID', 'STATUS', 'NAME', 'PEER ADDRS', 'CLIENT ADDRS', 'IS LEARNER'], etcd.members.map(memberRow)));
      return ok(etcd.members.map((x) => memberRow(x).join(', ') + '\n').join(''));
    }
    if (g === 'member' && sub === 'add') {
      const name = rest[0];
      if (!name) return fail('Error: member name not provided\n', 128);
      const purls = String(f['peer-urls'] ?? '').split(',').filter(Boolean);
      if (purls.length === 0) return fail('Error: member peer urls not provided\n', 128);
      const m = reachable();
      if (!m) return deadline();
      const ip = (() => {
        try {
          return new URL(purls[0]!).hostname;
        } catch {
          return '';
        }
      })();
      const node2 = c.list('nodes').find((n) => n.status.addresses.some((a: Obj) => a.address === ip))?.metadata.name ?? '';
      const nm = etcd.add(purls, f.learner === true, name, node2, ip);
      if (out === 'json') return ok(goJson({ header: header(m), member: memberJson(nm), members: etcd.members.map(memberJson) }) + '\n');
      const conf: string[] = [];
      for (const x of etcd.members) for (const u of x.peerURLs) conf.push(`${x.id === nm.id ? name : x.name}=${u}`);
      return ok(
        `Member ${hex16(nm.id)} added${nm.isLearner ? ' as learner ' : ' '}to cluster ${hex16(etcd.clusterId)}\n\n` +
          `ETCD_NAME=${JSON.stringify(name)}\nETCD_INITIAL_CLUSTER=${JSON.stringify(conf.join(','))}\nETCD_INITIAL_ADVERTISE_PEER_URLS=${JSON.stringify(purls.join(','))}\nETCD_INITIAL_CLUSTER_STATE="existing"\n`,
      );
    }
    if (g === 'member' && (sub === 'remove' || sub === 'promote')) {
      const id = parseId(rest[0]);
      if (typeof id !== 'bigint') return id;
      const m = reachable();
      if (!m) return deadline();
      if (!etcd.hasQuorum()) return deadline();
      if (sub === 'remove') {
        etcd.remove(id, m);
        if (out === 'json') return ok(goJson({ header: header(m), members: etcd.members.map(memberJson) }) + '\n');
        return ok(`Member ${hex16(id)} removed from cluster ${hex16(etcd.clusterId)}\n`);
      }
      etcd.promote(id);
      if (out === 'json') return ok(goJson({ header: header(m), members: etcd.members.map(memberJson) }) + '\n');
      return ok(`Member ${hex16(id)} promoted in cluster ${hex16(etcd.clusterId)}\n`);
    }
    if (g === 'alarm' && sub === 'list') {
      // etcdctl prints each AlarmMember with %+v: "memberID:<decimal> alarm:NOSPACE " (a linearizable request: quorum)
      const m = reachable();
      if (!m || !etcd.hasQuorum()) return deadline();
      if (out === 'json') return ok(goJson({ header: header(m), ...(etcd.alarms.length ? { alarms: etcd.alarms.map((a) => ({ memberID: new U64(a.memberId), alarm: a.alarm === 'NOSPACE' ? 1 : 2 })) } : {}) }) + '\n');
      return ok(etcd.alarms.map((a) => `memberID:${a.memberId.toString(10)} alarm:${a.alarm} \n`).join(''));
    }
    if (g === 'move-leader') {
      // etcdctl move-leader: find the leader among the given endpoints (Status of each, in order), send to it
      if (pos.length !== 2) return fail('Error: move-leader command needs 1 argument\n', 128);
      if (!/^[0-9a-fA-F]{1,16}$/.test(sub!)) return fail(`Error: strconv.ParseUint: parsing ${JSON.stringify(sub)}: ${/^[0-9a-fA-F]+$/.test(sub!) ? 'value out of range' : 'invalid syntax'}\n`, 128);
      const target = BigInt('0x' + sub);
      let leaderM: SimMember | undefined;
      for (const ep of endpoints) {
        const m = etcd.memberForEndpoint(ep, node);
        if (!m || !m.up || !m.started) return deadline();
        if (etcd.leaderId !== 0n && m.id === etcd.leaderId) {
          leaderM = m;
          break;
        }
      }
      if (!leaderM) return fail(`Error: no leader endpoint given at [${endpoints.join(' ')}]\n`, 128);
      const from = etcd.leaderId;
      etcd.moveLeader(leaderM, target);
      return ok(`Leadership transferred from ${hex(from)} to ${hex(target)}\n`);
    }
    if (g === 'endpoint' && (sub === 'health' || sub === 'status')) {
      let eps = endpoints;
      if (f.cluster === true) {
        const m = reachable();
        if (!m) return deadline();
        eps = etcd.members.flatMap((x) => x.clientURLs);
      }
      if (sub === 'health') {
        const res = eps.map((ep) => {
          const m = etcd.memberForEndpoint(ep, node);
          const took = `${(2 + c.core.rng.next() * 10).toFixed(6)}ms`;
          if (!m || !m.up || !m.started) return { endpoint: ep, health: false, took: '5.00' + '1234567s', error: 'context deadline exceeded' };
          if (!etcd.hasQuorum()) return { endpoint: ep, health: false, took: '5.002345678s', error: 'etcdserver: request timed out' };
          return { endpoint: ep, health: true, took };
        });
        const bad = res.some((r) => !r.health);
        let stdout = '';
        let stderr = '';
        if (out === 'json') stdout = goJson(res) + '\n';
        else if (out === 'table') stdout = table(['ENDPOINT', 'HEALTH', 'TOOK', 'ERROR'], res.map((r) => [r.endpoint, String(r.health), r.took, r.error ?? '']));
        else
          for (const r of res) {
            if (r.health) stdout += `${r.endpoint} is healthy: successfully committed proposal: took = ${r.took}\n`;
            else stderr += `${r.endpoint} is unhealthy: failed to commit proposal: ${r.error}\n`;
          }
        if (bad) stderr += 'Error: unhealthy cluster\n';
        return { stdout, stderr, exitCode: bad ? 1 : 0 };
      }
      const rows: Obj[] = [];
      let stderr = '';
      for (const ep of eps) {
        const m = etcd.memberForEndpoint(ep, node);
        if (!m || !m.up || !m.started) {
          stderr += `{"level":"warn","ts":"${new Date(c.now()).toISOString()}","caller":"flags/flag.go:93","msg":"failed to get the status of endpoint","endpoint":"${ep}","error":"context deadline exceeded"}\n`;
          continue;
        }
        rows.push({
          Endpoint: ep,
          Status: {
            header: header(m, true),
            version: ETCD_VERSION,
            dbSize: etcd.dbSize,
            leader: new U64(etcd.leaderId),
            raftIndex: etcd.raftIndex,
            raftTerm: etcd.raftTerm,
            raftAppliedIndex: etcd.raftIndex,
            ...(etcd.leaderId === 0n ? { errors: ['etcdserver: no leader'] } : {}),
            dbSizeInUse: Math.floor(etcd.dbSize * 0.6),
            ...(m.isLearner ? { isLearner: true } : {}),
          },
          _m: m,
        });
      }
      etcd.afterStatus();
      let stdout = '';
      const clean = rows.map(({ _m, ...r }) => r);
      if (out === 'json') stdout = goJson(clean) + '\n';
      else {
        const tr = rows.map((r) => [r.Endpoint, hex(r._m.id), ETCD_VERSION, humanBytes(etcd.dbSize), String(r._m.id === etcd.leaderId), String(r._m.isLearner), String(etcd.raftTerm), String(etcd.raftIndex), String(etcd.raftIndex), etcd.leaderId === 0n ? 'etcdserver: no leader' : '']);
        if (out === 'table') stdout = table(['ENDPOINT', 'ID', 'VERSION', 'DB SIZE', 'IS LEADER', 'IS LEARNER', 'RAFT TERM', 'RAFT INDEX', 'RAFT APPLIED INDEX', 'ERRORS'], tr);
        else stdout = tr.map((r) => r.join(', ') + '\n').join('');
      }
      return { stdout, stderr, exitCode: stderr ? 1 : 0 };
    }
    if (g === 'snapshot' && sub === 'save') {
      const path = rest[0];
      if (!path) return fail('Error: snapshot save expects one argument\n', 128);
      if (endpoints.length !== 1) return fail(`Error: snapshot must be requested to one selected node, not multiple [${endpoints.join(' ')}]\n`, 1);
      const m = etcd.memberForEndpoint(endpoints[0]!, node);
      if (!m || !m.up || !m.started) return deadline();
      const dir = path.replace(/\/[^/]*$/, '') || '/';
      if (path.includes('/') && !exists(ctx, dir)) return fail(`Error: could not open ${path}.part (open ${path}.part: no such file or directory)\n`, 1);
      const { fs, path: hp } = resolvePath(ctx, path);
      fs.set(hp, `etcd-snapshot member=${hex(m.id)} revision=${etcd.revision} size=${etcd.dbSize}\n`);
      return {
        stdout: `Snapshot saved at ${path}\n`,
        stderr: `{"level":"info","ts":"${new Date(c.now()).toISOString()}","caller":"snapshot/v3_snapshot.go:65","msg":"created temporary db file","path":"${path}.part"}\n{"level":"info","ts":"${new Date(c.now()).toISOString()}","caller":"snapshot/v3_snapshot.go:88","msg":"fetched snapshot","endpoint":"${endpoints[0]}","size":"${humanBytes(etcd.dbSize)}","took":"now"}\n{"level":"info","ts":"${new Date(c.now()).toISOString()}","caller":"snapshot/v3_snapshot.go:97","msg":"saved","path":"${path}"}\n`,
        exitCode: 0,
      };
    }
  } catch (e) {
    if (e instanceof EtcdError) {
      if (e.message === 'context deadline exceeded') return deadline();
      return fail(`Error: ${e.message}\n`, 1);
    }
    throw e;
  }
  return fail(`Error: unknown command "${pos.join(' ')}" for "etcdctl"\nRun 'etcdctl --help' for usage.\n`, 1);
}

// ---------- kubeadm ----------
export function createBootstrapTokenSecret(c: KubeCluster, opts: { ttlMs: number; description?: string; usages?: string[]; groups?: string[] }): { id: string; secret: string; name: string; uid: string } {
  const id = randAlnum(c, 6);
  const secret = randAlnum(c, 16);
  const data: Record<string, string> = { 'token-id': id, 'token-secret': secret };
  if (opts.description) data.description = opts.description;
  if (opts.ttlMs > 0) data.expiration = k8sTime(c.now() + opts.ttlMs);
  for (const u of opts.usages ?? []) data[`usage-bootstrap-${u}`] = 'true';
  if (opts.groups?.length) data['auth-extra-groups'] = opts.groups.join(',');
  const b64: Record<string, string> = {};
  for (const [k, v] of Object.entries(data)) b64[k] = Buffer.from(v).toString('base64');
  const s = c.put('secrets', { metadata: { name: `bootstrap-token-${id}`, namespace: 'kube-system' }, data: b64, type: 'bootstrap.kubernetes.io/token' });
  c.syncClusterInfo();
  return { id, secret, name: s.metadata.name, uid: s.metadata.uid };
}

function randAlnum(c: KubeCluster, n: number): string {
  const a = 'abcdefghijklmnopqrstuvwxyz0123456789';
  let s = '';
  for (let i = 0; i < n; i++) s += a[Math.floor(c.core.rng.next() * a.length)];
  return s;
}

/** kubeadm copycerts.UploadCerts */
export function uploadCerts(c: KubeCluster, keyHex: string): void {
  const key = goHexDecode(keyHex);
  const tok = createBootstrapTokenSecret(c, { ttlMs: 2 * 3600_000, description: 'Proxy for managing TTL for the kubeadm-certs secret' });
  const p = pki();
  const files: Record<string, string> = { 'ca.crt': p.caCrt, 'ca.key': p.caKey, 'etcd-ca.crt': p.etcdCaCrt, 'etcd-ca.key': p.etcdCaKey, 'front-proxy-ca.crt': p.caCrt, 'front-proxy-ca.key': p.caKey, 'sa.key': p.caKey, 'sa.pub': 'PUBLIC KEY' };
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries(files)) {
    if (![16, 24, 32].includes(key.length)) throw new Error(`crypto/aes: invalid key size ${key.length}`);
    data[k] = encryptBytes(Buffer.from(v), key, Buffer.from(randHex(c.core, 24), 'hex')).toString('base64');
  }
  const owner = [{ apiVersion: 'v1', kind: 'Secret', name: tok.name, uid: tok.uid, controller: true }];
  const existing = c.get('secrets', 'kube-system', 'kubeadm-certs');
  if (existing) {
    existing.data = data;
    existing.metadata.ownerReferences = owner;
    c.touch(existing);
  } else c.put('secrets', { metadata: { name: 'kubeadm-certs', namespace: 'kube-system', ownerReferences: owner }, data, type: 'Opaque' });
}

async function kubeadm(args: string[], ctx: ExecCtx): Promise<ExecResult> {
  const { c } = ctx;
  const { pos, f } = parseFlags(args, new Set(['upload-certs', 'print-join-command', 'skip-token-print', 'dry-run']));
  const [a, b, cc] = pos;
  if (a === 'version') return ok(f.o === 'short' || f.output === 'short' ? `${c.k8sVersion}\n` : `kubeadm version: &version.Info{Major:"1", Minor:"${c.k8sVersion.split('.')[1]}", GitVersion:"${c.k8sVersion}", GoVersion:"go1.22.5", Compiler:"gc", Platform:"linux/amd64"}\n`);
  if (a === 'init' && b === 'phase' && cc === 'upload-certs') {
    if (typeof f.config === 'string' && f['certificate-key'] !== undefined) return fail(`can not mix '--config' with arguments [certificate-key]\nTo see the stack trace of this error execute with --v=5 or higher\n`, 1);
    let fromConfig: string | undefined;
    if (typeof f.config === 'string') {
      // kubeadm's --config: YAML (JSON is YAML) documents separated by ---; InitConfiguration.certificateKey
      const { fs, path } = resolvePath(ctx, f.config);
      const text = fs.get(path);
      if (text === undefined) return fail(`unable to read config from "${f.config}" : open ${f.config}: no such file or directory\nTo see the stack trace of this error execute with --v=5 or higher\n`, 1);
      for (const doc of text.split(/^---$/m)) {
        const m = /"?kind"?\s*:\s*"?InitConfiguration"?/.test(doc) ? /"?certificateKey"?\s*:\s*"?([^"\s,}]*)"?/.exec(doc) : null;
        if (m) fromConfig = m[1];
      }
    }
    if (f['upload-certs'] !== true) return ok('[upload-certs] Skipping phase. Please see --upload-certs\n');
    const given = typeof f['certificate-key'] === 'string' && f['certificate-key'] ? f['certificate-key'] : fromConfig;
    const key = given || randHex(c.core, 64);
    try {
      const out = `[upload-certs] Storing the certificates in Secret "kubeadm-certs" in the "kube-system" Namespace\n`;
      uploadCerts(c, key);
      return ok(`${out}[upload-certs] Using certificate key:\n${key}\n`);
    } catch (e) {
      const msg = (e as Error).message.startsWith('encoding/hex') ? `error decoding certificate key: ${(e as Error).message}` : (e as Error).message;
      return fail(`[upload-certs] Storing the certificates in Secret "kubeadm-certs" in the "kube-system" Namespace\nerror execution phase upload-certs: error uploading certs: ${msg}\nTo see the stack trace of this error execute with --v=5 or higher\n`, 1);
    }
  }
  if (a === 'token' && b === 'create') {
    const ttl = parseDuration(String(f.ttl ?? '24h0m0s'));
    if (ttl === undefined) return fail(`invalid argument "${f.ttl}" for "--ttl" flag: time: invalid duration "${f.ttl}"\n`, 1);
    const tok = createBootstrapTokenSecret(c, { ttlMs: ttl, description: typeof f.description === 'string' ? f.description : undefined, usages: ['authentication', 'signing'], groups: [BOOTSTRAP_GROUP] });
    const token = `${tok.id}.${tok.secret}`;
    if (f['print-join-command'] === true) {
      const ck = typeof f['certificate-key'] === 'string' ? ` --control-plane --certificate-key ${f['certificate-key']}` : '';
      return ok(`kubeadm join ${c.controlPlaneEndpoint()} --token ${token} --discovery-token-ca-cert-hash ${pki().caHash}${ck} \n`);
    }
    return ok(token + '\n');
  }
  if (a === 'token' && b === 'list') {
    const rows = c.list('secrets', 'kube-system').filter((s) => s.type === 'bootstrap.kubernetes.io/token');
    return ok('TOKEN                     TTL         EXPIRES                USAGES                   DESCRIPTION   EXTRA GROUPS\n' + rows.map((s) => `${secretField(s, 'token-id')}.<redacted>   ${secretField(s, 'expiration') ?? '<forever>'}\n`).join(''));
  }
  return fail(`unknown command "${pos.join(' ')}" for "kubeadm"\nTo see the stack trace of this error execute with --v=5 or higher\n`, 1);
}

export function parseDuration(s: string): number | undefined {
  if (s === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(h|m|s|ms)/g;
  let total = 0;
  let consumed = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s))) {
    total += Number(m[1]) * { h: 3600_000, m: 60_000, s: 1000, ms: 1 }[m[2] as 'h'];
    consumed += m[0].length;
  }
  return consumed === s.length && consumed > 0 ? total : undefined;
}
