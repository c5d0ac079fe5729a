import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../src/net.js';
import { type Figure, fixed, median } from './lib/figure.js';
import { stopChild, waitForHttp } from './lib/proc.js';

const RUNS = 5;
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Start to `/ready`: spawns `node dist/src/main.js serve -c vigil.yaml` (the shipped Prep config, its
 * 14 probes and SLO files) with storage in a fresh temp dir and a free port, and polls /ready every
 * 5 ms; wall time from spawn to the first 200, median of 5 cold starts.
 *
 * @example const [row] = await run();
 */
export async function run(): Promise<Figure[]> {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const dir = await mkdtemp(join(tmpdir(), 'vigil-bench-start-'));
    const port = await freePort();
    const started = performance.now();
    const child = spawn(
      process.execPath,
      [join(ROOT, 'dist/src/main.js'), 'serve', '-c', join(ROOT, 'vigil.yaml')],
      {
        cwd: ROOT,
        env: {
          PATH: process.env.PATH ?? '',
          VIGIL_DATA_DIR: dir,
          VIGIL_LISTEN: `127.0.0.1:${port}`,
          LOG_LEVEL: 'error',
        },
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
    try {
      const ready = await waitForHttp(`http://127.0.0.1:${port}/ready`, 15_000, 5);
      if (!ready) throw new Error('/ready did not answer 200 within 15 s');
      times.push(performance.now() - started);
    } finally {
      await stopChild(child);
      await rm(dir, { recursive: true, force: true });
    }
  }
  const ms = median(times);
  return [
    {
      figure: 'Start to /ready (Prep config)',
      value: `${fixed(ms)} ms`,
      target: '< 1500 ms',
      met: ms < 1500,
      note: `median of ${RUNS} cold starts (${times.map((t) => fixed(t)).join('/')} ms), spawn → first 200`,
    },
  ];
}
