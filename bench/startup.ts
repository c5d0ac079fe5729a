import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort } from '../src/net.js';
import { writeBenchConfig } from './lib/config.js';
import { type Figure, fixed, median } from './lib/figure.js';
import { stopChild, waitForHttp } from './lib/proc.js';

const RUNS = 5;
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const LOAD_WORKER = fileURLToPath(new URL('./workers/load.js', import.meta.url));
const PROBES = 10_000;
/** Issue 17: loading 10,000 probes must not leave a 150 MB peak behind. */
const PEAK_TARGET_BYTES = 150 * 2 ** 20;

interface LoadMeasure {
  loadMs: number;
  createMs: number;
  peakRssBytes: number;
  afterLoad: NodeJS.MemoryUsage;
  afterCreate: NodeJS.MemoryUsage;
}

/** Loads a bench config of `probes` smoke probes and builds its daemon in a fresh process (workers/load). */
async function measureLoad(probes: number): Promise<LoadMeasure> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-bench-load-'));
  try {
    const file = writeBenchConfig({ dir, targetUrl: 'http://127.0.0.1:9', probes, intervalS: 30 });
    const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', LOAD_WORKER, file], {
      cwd: dir,
      maxBuffer: 1 << 20,
    });
    return JSON.parse(stdout) as LoadMeasure;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const mb = (bytes: number): string => `${fixed(bytes / 2 ** 20)} MB`;

/**
 * What a 10,000-probe config costs: load and build time, the RSS peak of loading it beside a 1-probe
 * config's, and the live heap per probe after a full GC, for the config alone and for the built daemon
 * (prepared probes, scheduler state, metric series), each the difference to the 1-probe process.
 */
async function loadFigures(): Promise<Figure[]> {
  const one = await measureLoad(1);
  const many = await measureLoad(PROBES);
  const perProbe = (a: number, b: number): number => (a - b) / (PROBES - 1);
  const peak = many.peakRssBytes - one.peakRssBytes;
  const configBytes = perProbe(many.afterLoad.heapUsed, one.afterLoad.heapUsed);
  const daemonBytes = perProbe(many.afterCreate.heapUsed, one.afterCreate.heapUsed);
  return [
    {
      figure: `Load ${PROBES.toLocaleString('en')}-probe config: peak RSS above a 1-probe config`,
      value: mb(peak),
      target: `< ${mb(PEAK_TARGET_BYTES)}`,
      met: peak < PEAK_TARGET_BYTES,
      note:
        `load ${fixed(many.loadMs)} ms + build ${fixed(many.createMs)} ms; peak RSS ${mb(many.peakRssBytes)} ` +
        `(1 probe: ${mb(one.peakRssBytes)}), RSS after build and GC ${mb(many.afterCreate.rss)}, heap reserved ${mb(many.afterCreate.heapTotal)}`,
    },
    {
      figure: '  live heap per probe: config / built daemon',
      value: `${fixed(configBytes)} B / ${fixed(daemonBytes)} B`,
      target: '(context)',
      met: null,
      note:
        `after a full GC, minus a 1-probe process: the parsed, frozen config; then with prepared probes, ` +
        `scheduler state and metric series (no run yet): ${mb(many.afterCreate.heapUsed)} live for ${PROBES} probes`,
    },
  ];
}

/**
 * The memory and time of loading 10,000 probes (above), then start to `/ready`: spawns `node dist/src/main.js serve -c vigil.yaml` (the shipped Prep config, its
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
    ...(await loadFigures()),
    {
      figure: 'Start to /ready (Prep config)',
      value: `${fixed(ms)} ms`,
      target: '< 1500 ms',
      met: ms < 1500,
      note: `median of ${RUNS} cold starts (${times.map((t) => fixed(t)).join('/')} ms), spawn → first 200`,
    },
  ];
}
