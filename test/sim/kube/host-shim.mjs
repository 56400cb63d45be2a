#!/usr/bin/env node
/**
 * Host-side shim of the simulator's real-etcd mode (test/sim/kube/etcd-real.ts). Plain JS so that it starts in
 * ~50 ms without tsx. Two modes:
 *
 *   host-shim.mjs etcdctl ARGS...   runs the REAL etcdctl against the real etcd members, translating addresses:
 *     in:  every http(s)://HOST:2379|2380 (and HOST:2379 without scheme) in argv and ETCDCTL_ENDPOINTS names a
 *          simulated node address; it becomes the loopback URL of that node's real member (127.0.0.1 / localhost
 *          = the member of $SIM_LOCAL_NODE, the node the command runs on). An address with no member becomes a
 *          closed port (connection refused, as for a host without etcd). --cacert/--cert/--key and ETCDCTL_CACERT/
 *          CERT/KEY are dropped (the real members speak plain http on loopback).
 *     out: every 127.0.0.1:PORT of a real member in stdout/stderr becomes the node's address again
 *          (https://IP:2379 / https://IP:2380); an endpoint given on the command line reads back exactly as given
 *          unless --cluster was asked for (then etcdctl prints the members' advertised URLs, as real etcdctl does).
 *     The map comes from $SIM_ETCD_MAP (JSON written by etcd-real.ts on every membership change).
 *
 *   host-shim.mjs bridge URL ARGS...  forwards argv (and stdin) to the simulator's host bridge (POST URL, JSON
 *     {argv, env}); prints its stdout/stderr and exits with its exit code. Used for commands that cannot run for
 *     real on this machine (kubeadm).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

const [mode, ...rest] = process.argv.slice(2);

function readStdin() {
  if (process.stdin.isTTY) return Promise.resolve('');
  return new Promise((resolve) => {
    const chunks = [];
    process.stdin.on('data', (d) => chunks.push(d));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', () => resolve(''));
  });
}

if (mode === 'bridge') {
  const [url, ...argv] = rest;
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => /^(ETCDCTL_|KUBECONFIG$)/.test(k)));
  const stdin = await readStdin();
  // a file the command reads (kubeadm --config FILE) lives on this host: send it along for the simulator's node
  const files = {};
  for (let i = 0; i < argv.length - 1; i++) {
    if (argv[i] === '--config') {
      try {
        files[argv[i + 1]] = readFileSync(argv[i + 1], 'utf8');
      } catch {
        /* missing: the simulator's kubeadm says so */
      }
    }
  }
  try {
    const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ argv, env, stdin, files }) });
    const j = await r.json();
    process.stdout.write(j.stdout ?? '');
    process.stderr.write(j.stderr ?? '');
    process.exitCode = typeof j.exitCode === 'number' ? j.exitCode : 1;
  } catch (e) {
    process.stderr.write(`${argv[0] ?? 'command'}: simulator host bridge unreachable: ${e.message}\n`);
    process.exitCode = 126;
  }
} else if (mode === 'etcdctl') {
  const map = JSON.parse(readFileSync(process.env.SIM_ETCD_MAP, 'utf8'));
  const localIp = map.nodes[process.env.SIM_LOCAL_NODE ?? ''];
  const byPort = new Map();
  for (const [ip, a] of Object.entries(map.hosts)) {
    byPort.set(a.client, `${ip}:2379`);
    byPort.set(a.peer, `${ip}:2380`);
  }
  const given = new Map(); // real URL -> the exact string the caller gave (endpoints only)
  const LOCAL = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);
  const toReal = (s, endpoints) =>
    s.replace(/(https?:\/\/)?(\[[0-9a-fA-F:]+\]|[A-Za-z0-9][A-Za-z0-9.-]*):(2379|2380)(?![0-9])/g, (m, _scheme, host, port) => {
      const ip = LOCAL.has(host) ? localIp : host;
      const a = ip ? map.hosts[ip] : undefined;
      const real = `http://127.0.0.1:${a ? (port === '2379' ? a.client : a.peer) : map.closedPort}`;
      if (endpoints && !given.has(real)) given.set(real, m);
      return real;
    });
  const cluster = rest.includes('--cluster') || rest.includes('--cluster=true');
  const args = [];
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    const tls = /^--(cacert|cert|key)(=.*)?$/.exec(a);
    if (tls) {
      if (tls[2] === undefined) i++;
      continue;
    }
    if (a === '--endpoints' && i + 1 < rest.length) {
      args.push(a, toReal(rest[++i], true));
      continue;
    }
    args.push(a.startsWith('--endpoints=') ? toReal(a, true) : toReal(a, false));
  }
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp' };
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('ETCDCTL_') || ['ETCDCTL_CACERT', 'ETCDCTL_CERT', 'ETCDCTL_KEY'].includes(k)) continue;
    env[k] = k === 'ETCDCTL_ENDPOINTS' ? toReal(v, true) : v;
  }
  const asGiven = (u) => given.get(u.includes('://') ? u : `http://${u}`);
  const toVirtual = (s) =>
    s
      // where etcdctl echoes an endpoint it was given (endpoint health/status without --cluster, errors), the
      // caller's own string comes back; member URLs and --cluster results show the node addresses
      .replace(/("[Ee]ndpoint":"|^|"target":"etcd-endpoints:\/\/0x[0-9a-f]+\/)((?:https?:\/\/)?127\.0\.0\.1:[0-9]+)(?![0-9])/gm, (m, pre, u) => (!cluster && asGiven(u) ? pre + asGiven(u) : m))
      .replace(/(https?:\/\/)?127\.0\.0\.1:([0-9]+)(?![0-9])/g, (m, scheme, port) => {
        const v = byPort.get(Number(port));
        if (!v) return asGiven(m) ?? m;
        return scheme ? `https://${v}` : v;
      });
  const child = spawn(map.etcdctl, args, { env, stdio: ['inherit', 'pipe', 'pipe'] });
  const out = [];
  const err = [];
  child.stdout.on('data', (d) => out.push(d));
  child.stderr.on('data', (d) => err.push(d));
  child.on('error', (e) => {
    process.stderr.write(`etcdctl: ${e.message}\n`);
    process.exitCode = 127;
  });
  child.on('close', (code, signal) => {
    process.stdout.write(toVirtual(Buffer.concat(out).toString('utf8')));
    process.stderr.write(toVirtual(Buffer.concat(err).toString('utf8')));
    process.exitCode = code ?? (signal ? 128 + 9 : 1);
  });
} else {
  process.stderr.write('usage: host-shim.mjs etcdctl ARGS... | host-shim.mjs bridge URL ARGV...\n');
  process.exitCode = 2;
}
