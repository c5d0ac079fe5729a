import { execFile, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort } from '../src/net.js';
import { writeBenchConfig } from './lib/config.js';
import { type Figure, fixed, median } from './lib/figure.js';
import { procRssBytes, sleep, stopChild, waitForHttp } from './lib/proc.js';

const RUNS = 5;
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const LOAD_WORKER = fileURLToPath(new URL('./workers/load.js', import.meta.url));
const PROBES = 10_000;
/** Issue 17: loading 10,000 probes must not leave a 150 MB peak behind. */
const PEAK_TARGET_BYTES = 150 * 2 ** 20;
/** How long the served daemon runs its probes after /ready before its RSS is read. */
const RUNNING_MS = 5_000;

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

interface ServeMeasure {
  readyMs: number;
  rssBytes: number;
  peakRssBytes: number;
}

/** The kernel's RSS high-water mark of a process (VmHWM in /proc/<pid>/status), in bytes. */
function procPeakRssBytes(pid: number): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) * 1024 : Number.NaN;
}

/**
 * Runs `vigil serve` (dist/src/main.js, so the config loads as it does in production: in a worker thread)
 * on a bench config of `probes` smoke probes against a closed port, and reads its RSS RUNNING_MS after
 * /ready, with the kernel's high-water mark (which includes the load worker's transient peak).
 */
async function measureServe(probes: number): Promise<ServeMeasure> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-bench-serve-'));
  const port = await freePort();
  const file = writeBenchConfig({ dir, targetUrl: 'http://127.0.0.1:9', probes, intervalS: 30 });
  // The bench config listens on port 0; /ready needs a port known beforehand.
  writeFileSync(
    file,
    readFileSync(file, 'utf8').replace('listen: "127.0.0.1:0"', `listen: "127.0.0.1:${port}"`),
  );
  const started = performance.now();
  const child = spawn(process.execPath, [join(ROOT, 'dist/src/main.js'), 'serve', '-c', file], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'error' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    if (!(await waitForHttp(`http://127.0.0.1:${port}/ready`, 120_000, 50)))
      throw new Error(`serve with ${probes} probes: /ready did not answer 200 within 120 s`);
    const readyMs = performance.now() - started;
    await sleep(RUNNING_MS);
    const pid = child.pid as number;
    return { readyMs, rssBytes: procRssBytes(pid), peakRssBytes: procPeakRssBytes(pid) };
  } finally {
    await stopChild(child);
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * What `vigil serve` keeps for 10,000 probes: its RSS while running, against a 1-probe serve. The load
 * rows above measure loadConfig in process (the shape of the heap it leaves); this one is the daemon.
 */
async function serveFigures(): Promise<Figure[]> {
  const one = await measureServe(1);
  const many = await measureServe(PROBES);
  const kept = many.rssBytes - one.rssBytes;
  return [
    {
      figure: `vigil serve, ${PROBES.toLocaleString('en')} probes: RSS ${RUNNING_MS / 1000} s after /ready above 1 probe`,
      value: mb(kept),
      target: `≤ ${mb(PEAK_TARGET_BYTES)}`,
      met: kept <= PEAK_TARGET_BYTES,
      note:
        `RSS ${mb(many.rssBytes)} (1 probe: ${mb(one.rssBytes)}), ${fixed(kept / (PROBES - 1))} B per probe; ` +
        `high-water mark with the load worker ${mb(many.peakRssBytes)} (1 probe: ${mb(one.peakRssBytes)}); ` +
        `/ready after ${fixed(many.readyMs)} ms (1 probe: ${fixed(one.readyMs)} ms)`,
    },
  ];
}

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
      figure: `Load ${PROBES.toLocaleString('en')}-probe config in process: peak RSS above a 1-probe config`,
      value: mb(peak),
      target: `≤ ${mb(PEAK_TARGET_BYTES)}`,
      met: peak <= PEAK_TARGET_BYTES,
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
 * The memory and time of loading 10,000 probes and what `vigil serve` keeps for them (above), then start to `/ready`: spawns `node dist/src/main.js serve -c vigil.yaml` (the shipped Prep config, its
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
    ...(await serveFigures()),
    {
      figure: 'Start to /ready (Prep config)',
      value: `${fixed(ms)} ms`,
      target: '< 1500 ms',
      met: ms < 1500,
      note: `median of ${RUNS} cold starts (${times.map((t) => fixed(t)).join('/')} ms), spawn → first 200`,
    },
  ];
}
