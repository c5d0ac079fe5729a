import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../net.js';

export interface DemoPrometheus {
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * Starts a real Prometheus on a free loopback port with a temporary data dir, scraping `target`
 * (host:port) every second as job `jobName`; resolves once `/-/ready` answers 200.
 *
 * @example const prom = await startDemoPrometheus('/usr/bin/prometheus', '127.0.0.1:8080', 'prep-api');
 */
export async function startDemoPrometheus(
  binary: string,
  target: string,
  jobName: string,
  options: { readyTimeoutMs?: number } = {},
): Promise<DemoPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-demo-prom-'));
  const configFile = join(dir, 'prometheus.yml');
  writeFileSync(
    configFile,
    [
      'global:',
      '  scrape_interval: 1s',
      '  evaluation_interval: 1s',
      'scrape_configs:',
      `  - job_name: ${jobName}`,
      '    static_configs:',
      `      - targets: ['${target}']`,
      '',
    ].join('\n'),
  );
  const port = await freePort();
  const child: ChildProcess = spawn(
    binary,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--storage.tsdb.retention.time=1d',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString('utf8')).slice(-4_000);
  });
  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + (options.readyTimeoutMs ?? 20_000);
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    try {
      const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1_000) });
      await res.body?.cancel();
      if (res.status === 200) return { url, stop };
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await stop();
  throw new Error(`Prometheus did not become ready: ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
}

/**
 * Waits (at most `timeoutMs`) until Prometheus answers `query` with at least one series: the demo's
 * deploy must find a pre-deploy window with data, or its baselines are no data on a slow machine.
 * Resolves true when it did, false when time ran out.
 *
 * @example await waitForSeries(prometheus.url, 'sum(rate(http_requests_total[10s]))', 30_000)
 */
export async function waitForSeries(url: string, query: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(query)}`, {
        signal: AbortSignal.timeout(1_000),
      });
      const body = (await res.json()) as { data?: { result?: unknown[] } };
      if ((body.data?.result?.length ?? 0) > 0) return true;
    } catch {
      // not answering yet: ask again
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return false;
}
