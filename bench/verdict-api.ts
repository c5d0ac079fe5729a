import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { writeBenchConfig } from './lib/config.js';
import { startDaemonChild } from './lib/daemon.js';
import { type Figure, fixed, median } from './lib/figure.js';
import { procCpuMicros } from './lib/proc.js';

const run_ = promisify(execFile);
const DURATION_S = 10;
const CONNECTIONS = 20;
const RUNS = 3;

interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p99: number; p50: number };
  non2xx: number;
  errors: number;
  duration: number;
}

function autocannonBin(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('autocannon/package.json')), 'autocannon.js');
}

/**
 * `GET /api/v1/watches/:id/verdict` under autocannon (its own process, 20 connections, 10 s, 3 runs)
 * against a real daemon in a child process, one watch created through the API first. Requests/s and
 * p99 are autocannon's; the daemon's CPU over the run comes from /proc (single-threaded: one core).
 *
 * @example const rows = await run();
 */
export async function run(): Promise<Figure[]> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-bench-verdict-'));
  try {
    const file = writeBenchConfig({ dir, targetUrl: 'http://127.0.0.1:9', probes: 0, intervalS: 30 });
    const daemon = await startDaemonChild(file);
    try {
      const created = await fetch(`${daemon.url}/api/v1/watches`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ service: 'bench-api', version: '1.0.1', previousVersion: '1.0.0' }),
      });
      if (created.status !== 201) throw new Error(`creating the watch answered ${created.status}`);
      const { id } = (await created.json()) as { id: string };
      const url = `${daemon.url}/api/v1/watches/${id}/verdict`;
      const check = await fetch(url);
      if (check.status !== 200) throw new Error(`the verdict answered ${check.status}`);
      await check.body?.cancel();
      const rps: number[] = [];
      const p99: number[] = [];
      const cpu: number[] = [];
      let bad = 0;
      for (let i = 0; i < RUNS; i++) {
        const before = procCpuMicros(daemon.pid);
        const started = performance.now();
        const { stdout } = await run_(
          process.execPath,
          [autocannonBin(), '-j', '-c', String(CONNECTIONS), '-d', String(DURATION_S), url],
          { maxBuffer: 16 * 2 ** 20, timeout: (DURATION_S + 30) * 1000 },
        );
        const wallMs = performance.now() - started;
        cpu.push(((procCpuMicros(daemon.pid) - before) / (wallMs * 1000)) * 100);
        const result = JSON.parse(stdout) as AutocannonResult;
        rps.push(result.requests.average);
        p99.push(result.latency.p99);
        bad += result.non2xx + result.errors;
      }
      const r = median(rps);
      const p = median(p99);
      const note = `autocannon -c ${CONNECTIONS} -d ${DURATION_S}, median of ${RUNS}; daemon CPU ${cpu.map((c) => fixed(c)).join('/')} % of a core; ${bad} non-2xx/errors`;
      return [
        {
          figure: 'Verdict API: requests/s',
          value: `${fixed(r)} /s`,
          target: '≥ 5,000 /s',
          met: r >= 5000 && bad === 0,
          note,
        },
        { figure: 'Verdict API: p99 latency', value: `${fixed(p, 1)} ms`, target: '< 20 ms', met: p < 20 },
      ];
    } finally {
      await daemon.stop();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
