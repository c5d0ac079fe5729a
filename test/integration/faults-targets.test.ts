import { once } from 'node:events';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createTcpServer, type Socket, type Server as TcpServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PrepService, startPrepService } from '../../src/demo/prep-service.js';
import { type DaemonFiles, type RunningDaemon, startDaemon, writeDaemonConfig } from '../helpers/daemon.js';

/*
 * Hostile targets beside a healthy one, probed every second by a real daemon for ~10 s: a server that
 * accepts and never answers, one that answers a 10 MB body, one that resets the connection mid-body,
 * one that speaks something other than HTTP. Each failure gets its DESIGN §2 class with a plain reason,
 * the healthy probe never fails and stays fast, and the daemon's memory stays bounded.
 */

const BIG_BODY_BYTES = 10 * 1024 * 1024;
const RUN_MS = 10_000;

type Closable = { close(): void };
const servers: Closable[] = [];
const sockets = new Set<Socket>();

async function listen<T extends HttpServer | TcpServer>(server: T): Promise<number> {
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  servers.push(server);
  return (server.address() as { port: number }).port;
}

let service: PrepService;
let files: DaemonFiles;
let daemon: RunningDaemon | undefined;
const ports = { silent: 0, huge: 0, reset: 0, garbage: 0 };

beforeAll(async () => {
  service = await startPrepService();
  // Accepts, reads, never writes a byte.
  ports.silent = await listen(createTcpServer(() => {}));
  // 10 MB of body, streamed, with the marker the probe looks for at the very end.
  const chunk = Buffer.alloc(64 * 1024, 'x');
  ports.huge = await listen(
    createHttpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': BIG_BODY_BYTES });
      let sent = 0;
      const pump = (): void => {
        while (sent < BIG_BODY_BYTES - 16) {
          sent += chunk.length;
          if (!res.write(sent < BIG_BODY_BYTES - 16 ? chunk : chunk.subarray(0, chunk.length - 16))) {
            res.once('drain', pump);
            return;
          }
        }
        res.end('END-OF-THE-BODY!');
      };
      res.on('error', () => {});
      pump();
    }),
  );
  // Headers and half the announced body, then a TCP reset.
  ports.reset = await listen(
    createHttpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': 1000 });
      res.write('{"status":"ok","padding":"');
      setTimeout(() => res.socket?.resetAndDestroy(), 50);
    }),
  );
  // Not HTTP at all.
  ports.garbage = await listen(
    createTcpServer((socket) => {
      socket.on('error', () => {});
      socket.end('SSH-2.0-OpenSSH_9.6\r\nthis is not http\r\n\r\n');
    }),
  );
  const probe = (name: string, url: string, extra = ''): string =>
    `- name: ${name}\n  kind: smoke\n  interval: 1s\n  timeout: 2s\n  request: { method: GET, url: "${url}" }\n  expect: [ { status: 200 }${extra} ]\n`;
  files = writeDaemonConfig({
    targetUrl: service.url,
    probes: [
      probe('healthy', `${service.url}/health`, ', { latencyMs: { lt: 500 } }'),
      probe('silent', `http://127.0.0.1:${ports.silent}/`),
      probe('huge', `http://127.0.0.1:${ports.huge}/`, ', { body: { contains: "END-OF-THE-BODY!" } }'),
      probe('reset', `http://127.0.0.1:${ports.reset}/`),
      probe('garbage', `http://127.0.0.1:${ports.garbage}/`),
    ].join(''),
  });
  daemon = await startDaemon(files);
}, 30_000);

afterAll(async () => {
  await daemon?.dispose();
  for (const socket of sockets) socket.destroy();
  for (const server of servers) server.close();
  await service?.close();
  files?.cleanup();
});

function metricValue(text: string, name: string, labels: Record<string, string>): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

describe('probing hostile targets', () => {
  it('classifies each failure, leaves the healthy probe alone and keeps memory bounded', async () => {
    const live = daemon as RunningDaemon;
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const rssEarly = metricValue(
      (await live.api('GET', '/metrics')).text,
      'process_resident_memory_bytes',
      {},
    );
    await new Promise((resolve) => setTimeout(resolve, RUN_MS - 3_000));
    const metrics = (await live.api('GET', '/metrics')).text;
    const rssLate = metricValue(metrics, 'process_resident_memory_bytes', {});

    const latest = (await live.api('GET', '/api/v1/probes')).body as {
      probes: { probe: string; success: boolean; failure: { class: string; message: string } | null }[];
    };
    const byName = Object.fromEntries(latest.probes.map((p) => [p.probe, p]));
    expect(byName.healthy?.success).toBe(true);
    expect(byName.silent?.failure?.class).toBe('timeout');
    expect(byName.reset?.failure?.class).toBe('http');
    expect(byName.reset?.failure?.message).toMatch(/mid-body|closed|reset|terminated/i);
    expect(byName.garbage?.failure?.class).toBe('http');
    // 10 MB answered in full and fast: read up to maxBodyBytes (1 MiB), so the end marker is never seen.
    expect(byName.huge?.failure?.class).toBe('assertion');
    expect(byName.huge?.failure?.message).toMatch(/maxBodyBytes/);

    // The healthy probe ran on schedule the whole time and never failed.
    const run = (probe: string, result: string) =>
      metricValue(metrics, 'vigil_probe_runs_total', { probe, result });
    expect(run('healthy', 'success')).toBeGreaterThanOrEqual(RUN_MS / 1000 - 2);
    expect(run('healthy', 'failure')).toBe(0);
    for (const hostile of ['silent', 'huge', 'reset', 'garbage']) {
      expect(run(hostile, 'failure'), hostile).toBeGreaterThanOrEqual(hostile === 'silent' ? 3 : 6);
      expect(run(hostile, 'success'), hostile).toBe(0);
    }
    // ~60 runs of the 10 MB target later, the daemon holds no more than a few MB more than early on.
    expect(rssEarly).toBeGreaterThan(0);
    expect(rssLate - rssEarly, `RSS ${rssEarly} → ${rssLate}`).toBeLessThan(48 * 1024 * 1024);
  }, 30_000);
});
