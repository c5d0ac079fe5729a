import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../src/net.js';

export * from './openmetrics.js';

/*
 * A REAL Prometheus (the Debian 2.42 binary) for integration tests, started on 127.0.0.1 on a free port
 * over a temporary data dir backfilled by promtool. Startup takes ~0.2 s plus the backfill, so share
 * one per test file (beforeAll/afterAll) and put each scenario in its own time range or job label.
 *
 * Gating (preamble): without the binaries the tests skip — unless VIGIL_REQUIRE_INTEGRATION=1, where
 * startPrometheus() throws a clear error so the suite FAILS instead.
 *
 *   import { describe } from 'vitest';
 *   import { OpenMetricsWriter, skipWithoutPrometheus, startPrometheus, writeServiceTraffic } from '../helpers/prometheus.js';
 *   describe.skipIf(skipWithoutPrometheus)('…', () => {
 *     let prom: RunningPrometheus;
 *     beforeAll(async () => { prom = await startPrometheus(writeServiceTraffic(new OpenMetricsWriter(), {...}).toString()); });
 *     afterAll(() => prom?.stop());
 *     // query with explicit times inside the backfilled ranges; `prom.url` goes into sources.prometheus.url
 *   });
 */

export const PROMETHEUS_BIN = '/usr/bin/prometheus';
export const PROMTOOL_BIN = '/usr/bin/promtool';

/** True when the binaries are missing. */
export const prometheusMissing = !existsSync(PROMETHEUS_BIN) || !existsSync(PROMTOOL_BIN);
/** Skip Prometheus tests only when the binary is missing and integration is not required. */
export const skipWithoutPrometheus = prometheusMissing && process.env.VIGIL_REQUIRE_INTEGRATION !== '1';

export interface RunningPrometheus {
  /** Base URL, e.g. http://127.0.0.1:40123 */
  url: string;
  port: number;
  dataDir: string;
  /** Kills the process (SIGTERM, then SIGKILL after 5 s) and removes the data dir. Idempotent. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Bound on the wait for /-/ready; default 20 s. */
  readyTimeoutMs?: number;
  /** Extra command-line flags, e.g. ['--query.lookback-delta=1m']. */
  args?: string[];
}

const run = promisify(execFile);

/**
 * Backfills `openMetrics` (text ending in `# EOF`, timestamps in Unix seconds; '' for an empty TSDB)
 * and starts Prometheus on it with 100y retention, resolving once /-/ready answers 200.
 *
 * @example const prom = await startPrometheus(new OpenMetricsWriter().gauge('x', {}, {...}).toString());
 */
export async function startPrometheus(
  openMetrics: string,
  options: StartOptions = {},
): Promise<RunningPrometheus> {
  if (prometheusMissing) {
    throw new Error(
      `integration tests need ${PROMETHEUS_BIN} and ${PROMTOOL_BIN} (VIGIL_REQUIRE_INTEGRATION=1 is set): ` +
        'install them with `apt-get install prometheus`',
    );
  }
  const dataDir = await mkdtemp(join(tmpdir(), 'vigil-prom-'));
  try {
    if (openMetrics.trim() !== '') {
      const input = join(dataDir, 'backfill.om');
      await writeFile(input, openMetrics);
      const tsdb = join(dataDir, 'tsdb');
      await run(PROMTOOL_BIN, ['tsdb', 'create-blocks-from', 'openmetrics', '-q', input, tsdb], {
        timeout: 60_000,
        maxBuffer: 4 * 1024 * 1024,
      }).catch((error: unknown) => {
        const stderr = (error as { stderr?: string }).stderr ?? '';
        throw new Error(`promtool backfill failed: ${stderr.trim() || String(error)}`);
      });
      await rm(input);
    }
    await writeFile(join(dataDir, 'prometheus.yml'), 'global:\n  scrape_interval: 15s\n');
    // A port picked free can be taken before Prometheus binds it; try again with a new one.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const started = await launch(dataDir, port, options);
      if (started.ok) return started.running;
      if (attempt >= 3 || !/address already in use/i.test(started.log)) {
        throw new Error(`prometheus did not become ready on 127.0.0.1:${port}: ${started.log.slice(-2000)}`);
      }
    }
  } catch (error) {
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
}

type Launch = { ok: true; running: RunningPrometheus } | { ok: false; log: string };

async function launch(dataDir: string, port: number, options: StartOptions): Promise<Launch> {
  const child = spawn(
    PROMETHEUS_BIN,
    [
      `--config.file=${join(dataDir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dataDir, 'tsdb')}`,
      // Retention counts from the newest block, not the wall clock: keep every historical test block.
      '--storage.tsdb.retention.time=100y',
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
      ...(options.args ?? []),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    log = (log + chunk.toString('utf8')).slice(-8_000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let gone = false;
  void exited.then(() => {
    gone = true;
  });

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.readyTimeoutMs ?? 20_000);
  while (Date.now() < deadline && !gone) {
    if (await isReady(url)) {
      let stopped: Promise<void> | undefined;
      const stop = (): Promise<void> => {
        stopped ??= terminate(child, exited).then(() => rm(dataDir, { recursive: true, force: true }));
        return stopped;
      };
      return { ok: true, running: { url, port, dataDir, stop } };
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await terminate(child, exited);
  return { ok: false, log: gone ? log : `${log}\n(timed out waiting for /-/ready)` };
}

async function isReady(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1_000) });
    await response.body?.cancel();
    return response.status === 200;
  } catch {
    return false;
  }
}

async function terminate(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const killTimer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(killTimer);
}
