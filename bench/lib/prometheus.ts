import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../src/net.js';
import { stopChild, waitForHttp } from './proc.js';

export const PROMETHEUS_BIN = '/usr/bin/prometheus';
export const PROMTOOL_BIN = '/usr/bin/promtool';
export const prometheusInstalled = (): boolean => existsSync(PROMETHEUS_BIN) && existsSync(PROMTOOL_BIN);

const exec = promisify(execFile);

export interface BenchPrometheus {
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * Backfills `openMetrics` (timestamps in Unix seconds, ending in `# EOF`) with promtool and starts a real
 * Prometheus on it (loopback, free port, 100y retention); resolves once /-/ready answers.
 *
 * @example const prom = await startBenchPrometheus(text); … await prom.stop();
 */
export async function startBenchPrometheus(openMetrics: string): Promise<BenchPrometheus> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-bench-prom-'));
  let child: ChildProcess | undefined;
  try {
    await writeFile(join(dir, 'backfill.om'), openMetrics);
    await exec(
      PROMTOOL_BIN,
      ['tsdb', 'create-blocks-from', 'openmetrics', '-q', join(dir, 'backfill.om'), join(dir, 'tsdb')],
      {
        timeout: 120_000,
        maxBuffer: 8 * 2 ** 20,
      },
    );
    await writeFile(join(dir, 'prometheus.yml'), 'global:\n  scrape_interval: 15s\n');
    const port = await freePort();
    child = spawn(
      PROMETHEUS_BIN,
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'tsdb')}`,
        '--storage.tsdb.retention.time=100y',
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'ignore', 'ignore'] },
    );
    const url = `http://127.0.0.1:${port}`;
    if (!(await waitForHttp(`${url}/-/ready`, 30_000, 50)))
      throw new Error('prometheus did not become ready');
    const running = child;
    return {
      url,
      stop: async () => {
        await stopChild(running);
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    if (child) await stopChild(child);
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/**
 * OpenMetrics text of counters `http_requests_total{job,route,code}` sampled every `stepS` seconds over
 * [fromS, toS]: `routes` routes, 2xx at `okPerS` and 5xx at 1 % of it.
 *
 * @example trafficOpenMetrics({ fromS, toS, stepS: 60, routes: 10, okPerS: 50 })
 */
export function trafficOpenMetrics(o: {
  fromS: number;
  toS: number;
  stepS: number;
  routes: number;
  okPerS: number;
}): string {
  const lines = ['# TYPE http_requests counter'];
  for (let r = 0; r < o.routes; r++) {
    for (const [code, perS] of [
      ['200', o.okPerS],
      ['500', o.okPerS / 100],
    ] as const) {
      let value = 0;
      for (let t = o.fromS; t <= o.toS; t += o.stepS) {
        lines.push(`http_requests_total{job="bench",route="/r${r}",code="${code}"} ${value} ${t}`);
        value += perS * o.stepS * (1 + 0.05 * Math.sin(t / 600 + r));
      }
    }
  }
  lines.push('# EOF', '');
  return lines.join('\n');
}
