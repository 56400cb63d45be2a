/**
 * Pod exec over WebSocket, the channel protocol the API server speaks (v5/v4/v3/v2/channel.k8s.io and the
 * base64 variants). Binary frames: first byte = channel (0 stdin, 1 stdout, 2 stderr, 3 status, 4 resize,
 * 255 close in v5). Channel 3 carries a metav1.Status in v4/v5 and plain error text before that.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { statusBody } from './api.js';
import type { KubeCluster } from './cluster.js';
import { runArgv } from './exec.js';

const SUPPORTED = ['v5.channel.k8s.io', 'v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io', 'v4.base64.channel.k8s.io', 'base64.channel.k8s.io'];

function reject(socket: Duplex, code: number, text: string, body: object): void {
  const s = JSON.stringify(body);
  socket.end(`HTTP/1.1 ${code} ${text}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(s)}\r\nConnection: close\r\n\r\n${s}`);
}

const EXEC_URLS = Symbol.for('kadd.sim.execUrls');
/** every pod exec request's path and query, in order (tests check what travelled in URLs) */
export function execUrls(c: KubeCluster): string[] {
  const holder = c as unknown as Record<symbol, string[] | undefined>;
  return (holder[EXEC_URLS] ??= []);
}

export function createUpgradeHandler(c: KubeCluster) {
  const wss = new WebSocketServer({
    noServer: true,
    handleProtocols: (protocols) => {
      // the client's order wins (as the API server's wsstream does)
      for (const p of protocols) if (SUPPORTED.includes(p)) return p;
      return false;
    },
  });
  const sockets = new Set<WebSocket>();
  const handler = (req: IncomingMessage, socket: Duplex, head: Buffer): boolean => {
    const url = new URL(req.url ?? '/', 'http://sim');
    const m = url.pathname.match(/^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/(exec|attach)$/);
    if (!m) return false;
    c.core.count('kube', 'GET', '/api/v1/namespaces/{namespace}/pods/{name}/exec');
    execUrls(c).push(url.pathname + url.search);
    c.gc();
    const [, ns, name] = m;
    const pod = c.get('pods', ns, decodeURIComponent(name!));
    if (!pod) {
      reject(socket, 404, 'Not Found', statusBody(404, 'NotFound', `pods "${name}" not found`, { name, kind: 'pods' }));
      return true;
    }
    const command = url.searchParams.getAll('command');
    if (command.length === 0) {
      reject(socket, 400, 'Bad Request', statusBody(400, 'BadRequest', 'you must specify at least 1 command'));
      return true;
    }
    const container = url.searchParams.get('container') ?? pod.spec.containers[0]?.name;
    if (!pod.spec.containers.some((x: { name: string }) => x.name === container)) {
      reject(socket, 400, 'Bad Request', statusBody(400, 'BadRequest', `container ${container} is not valid for pod ${pod.metadata.name}`));
      return true;
    }
    if (pod.status?.phase !== 'Running' || pod.metadata.deletionTimestamp) {
      reject(socket, 400, 'Bad Request', statusBody(400, 'BadRequest', `unable to upgrade connection: container not found ("${container}")`));
      return true;
    }
    if (!c.nodeReady(pod.spec.nodeName)) {
      reject(socket, 500, 'Internal Server Error', statusBody(500, 'InternalError', `error dialing backend: dial tcp ${c.nodeMeta.get(pod.spec.nodeName)?.ip ?? ''}:10250: connect: no route to host`));
      return true;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.add(ws);
      ws.on('close', () => sockets.delete(ws));
      const proto = ws.protocol;
      const b64 = proto.includes('base64');
      const wantStdin = url.searchParams.get('stdin') === 'true' || url.searchParams.get('stdin') === '1';
      const sendCh = (ch: number, data: Buffer | string) => {
        const buf = Buffer.isBuffer(data) ? data : Buffer.from(data);
        if (ws.readyState !== ws.OPEN) return;
        if (b64) ws.send(String.fromCharCode(48 + ch) + buf.toString('base64'));
        else ws.send(Buffer.concat([Buffer.from([ch]), buf]));
      };
      let stdin = '';
      let ran = false;
      let idle: NodeJS.Timeout | undefined;
      const run = async () => {
        if (ran) return;
        ran = true;
        if (idle) clearTimeout(idle);
        const r = await runArgv(command, { c, pod, env: { PATH: '/usr/local/bin:/usr/bin:/bin', HOSTNAME: pod.metadata.name }, stdin });
        if (r.stdout && url.searchParams.get('stdout') !== 'false') sendCh(1, r.stdout);
        if (r.stderr && url.searchParams.get('stderr') !== 'false') sendCh(2, r.stderr);
        const v4 = proto.startsWith('v4') || proto.startsWith('v5');
        if (v4) {
          const status =
            r.exitCode === 0
              ? { metadata: {}, status: 'Success' }
              : { metadata: {}, status: 'Failure', message: `command terminated with non-zero exit code: error executing command [${command.join(' ')}], exit code ${r.exitCode}`, reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: String(r.exitCode) }] } };
          sendCh(3, JSON.stringify(status));
        } else if (r.exitCode !== 0) sendCh(3, `command terminated with non-zero exit code: error executing command [${command.join(' ')}], exit code ${r.exitCode}`);
        ws.close(1000);
      };
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        let buf = Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer);
        if (!isBinary && b64) buf = Buffer.concat([Buffer.from([buf[0]! - 48]), Buffer.from(buf.subarray(1).toString(), 'base64')]);
        const ch = buf[0];
        if (ch === 0) {
          stdin += buf.subarray(1).toString('utf8');
          // a process reads stdin as it streams: a client that keeps stdin open (no close frame, v4 or
          // v5) gets its command run once its input has arrived
          if (idle) clearTimeout(idle);
          idle = setTimeout(() => void run(), 100);
        } else if (ch === 255 && buf[1] === 0) void run();
      });
      ws.on('close', () => {
        /* v4 clients close the socket when stdin ends: nothing more can be sent */
      });
      if (!wantStdin) void run();
    });
    return true;
  };
  return {
    handler,
    close: () => {
      for (const s of sockets) s.terminate();
      wss.close();
    },
  };
}
