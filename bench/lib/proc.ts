import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ; 100 on every Linux this runs on). */
const USER_HZ = 100;

/**
 * CPU time (user + system, µs) a process has used so far, from /proc/<pid>/stat (10 ms resolution):
 * for measuring a child process (blackbox_exporter, the daemon) and nothing else.
 *
 * @example const before = procCpuMicros(child.pid); … const used = procCpuMicros(child.pid) - before;
 */
export function procCpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name may hold spaces and parentheses: fields are counted after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1_000_000) / USER_HZ;
}

/**
 * Resident set size (bytes) of a process, from /proc/<pid>/status.
 *
 * @example procRssBytes(child.pid)
 */
export function procRssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /VmRSS:\s+(\d+) kB/.exec(status);
  return match ? Number(match[1]) * 1024 : Number.NaN;
}

/** Milliseconds to sleep; the bench's only pause between its own steps. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `url` until it answers 200 or `timeoutMs` passes; resolves with whether it did.
 *
 * @example await waitForHttp('http://127.0.0.1:9115/', 5_000)
 */
export async function waitForHttp(url: string, timeoutMs: number, pollMs = 20): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      await response.body?.cancel();
      if (response.status === 200) return true;
    } catch {
      // not up yet
    }
    await sleep(pollMs);
  }
  return false;
}

/** A loopback HTTP target in its own process, so its CPU never counts against what is measured. */
export interface Target {
  /** Base URL on the first address, e.g. http://127.0.0.1:40111 */
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  stop(): Promise<void>;
}

// The body is a typical health answer; `delayMs` holds each answer that long (a timer for all but the last
// 2 ms, then a spin on hrtime, so the hold is exact to a few µs rather than to the timer's ~1 ms).
const TARGET_SOURCE = `
const http = require('node:http');
const [delayMs, hosts] = [Number(process.argv[1]), process.argv[2].split(',')];
const body = JSON.stringify({ status: 'ok', dependencies: { db: 'ok', payments: 'ok' } });
function answer(res) { res.setHeader('content-type', 'application/json'); res.end(body); }
function handler(req, res) {
  if (!delayMs) return answer(res);
  const due = process.hrtime.bigint() + BigInt(Math.round(delayMs * 1e6));
  const spin = () => (process.hrtime.bigint() >= due ? answer(res) : setImmediate(spin));
  setTimeout(spin, Math.max(0, delayMs - 1.5));
}
let port = 0;
(async () => {
  for (const host of hosts) {
    const server = http.createServer(handler);
    server.keepAliveTimeout = 5000;
    await new Promise((resolve) => server.listen(port, host, resolve));
    port = server.address().port;
  }
  process.stdout.write(port + '\\n');
})();
`;

/**
 * Starts the target: answers every request with a small JSON health body, after `delayMs` when given,
 * on each of `hosts` (loopback addresses, all on one port).
 *
 * @example const target = await startTarget({ delayMs: 50 }); … await target.stop();
 */
export async function startTarget(options: { delayMs?: number; hosts?: string[] } = {}): Promise<Target> {
  const hosts = options.hosts ?? ['127.0.0.1'];
  const child = spawn(
    process.execPath,
    ['-e', TARGET_SOURCE, String(options.delayMs ?? 0), hosts.join(',')],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const [chunk] = (await once(child.stdout as NodeJS.ReadableStream, 'data')) as [Buffer];
  const port = Number(chunk.toString().trim());
  return {
    url: `http://${hosts[0]}:${port}`,
    port,
    pid: child.pid as number,
    stop: () => stopChild(child),
  };
}

/**
 * Stops a child with SIGTERM (SIGKILL after `graceMs`) and waits for its exit.
 *
 * @example await stopChild(child)
 */
export async function stopChild(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
