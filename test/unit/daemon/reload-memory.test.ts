import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/clock.js';
import { loadConfig } from '../../../src/config/load.js';
import { createDaemon, type Daemon } from '../../../src/daemon/index.js';
import { createProber, type Prober, type ProberDeps } from '../../../src/prober/service.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { type DaemonFiles, eventually, writeDaemonConfig } from '../../helpers/daemon.js';
import { listenLoopback } from '../../helpers/loopback-server.js';

/*
 * What a SIGHUP reload leaves behind: nothing of the config or the probers it replaced. A daemon that kept
 * the config it started with held 13 MB at 10,000 probes for its whole life (a closure in createDaemon read
 * `options`, which holds it). Each config and prober is watched through a WeakRef, and collected by a full
 * GC that V8 exposes once --expose-gc is set at run time (vitest starts its workers without the flag).
 */

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const PROBE_COUNT = 300;
const RELOADS = 3;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A target every probe passes against: 200 with `{"status":"ok"}`. */
async function target(): Promise<string> {
  return listenLoopback((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"status":"ok"}');
  }, cleanups);
}

function probesYaml(count: number): string {
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    lines.push(
      `- name: health-${i}`,
      '  kind: smoke',
      '  interval: 1h',
      `  request: { path: "/health?i=${i}" }`,
      '  expect: [{ status: 200 }, { jsonPath: $.status, equals: ok }]',
    );
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Every prober the daemon builds, seen through a WeakRef, with what has happened to it. Nothing here holds
 * a prober strongly: the daemon's own references are the only ones.
 */
interface ProberWatch {
  ref: WeakRef<Prober>;
  started: boolean;
  stopped: boolean;
}

/** Loads the config and hands the daemon only a WeakRef's target: the caller's frame keeps nothing. */
async function loadWatched(files: DaemonFiles, configs: WeakRef<object>[]) {
  const config = await loadConfig(files.configFile, {});
  configs.push(new WeakRef(config));
  return config;
}

async function collectGarbage(): Promise<void> {
  // A WeakRef read in this job keeps its target until the job ends: let it end before collecting.
  for (let i = 0; i < 3; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    gc();
  }
}

describe('reload memory', () => {
  it('after reloads, the configs and probers they replaced are collected; only the newest stay', async () => {
    const files = writeDaemonConfig({ targetUrl: await target(), probes: probesYaml(PROBE_COUNT) });
    cleanups.push(files.cleanup);
    const configs: WeakRef<object>[] = [];
    const probers: ProberWatch[] = [];
    const watching = (deps: ProberDeps): Prober => {
      const real = createProber(deps);
      const watch: ProberWatch = { ref: new WeakRef(real), started: false, stopped: false };
      probers.push(watch);
      return {
        get scheduler() {
          return real.scheduler;
        },
        probes: real.probes,
        start() {
          watch.started = true;
          real.start();
        },
        async stop() {
          await real.stop();
          watch.stopped = true;
        },
      };
    };
    const daemon: Daemon = await createDaemon({
      config: await loadWatched(files, configs),
      logger: silentLogger(),
      searchPath: '',
      defaultMetrics: false,
      clock: new ManualClock(Date.parse('2026-11-30T04:00:00Z')),
      createProber: watching,
    });
    cleanups.push(() => daemon.stop(1_000));
    await daemon.start();

    // Every prober runs every probe once against the target (results, connections, rollups, series).
    const runAll = async (): Promise<void> => {
      const current = probers.at(-1)?.ref.deref() as Prober;
      const results = await current.scheduler.runOnce();
      expect(results.filter((r) => r.success)).toHaveLength(PROBE_COUNT);
    };
    await runAll();
    for (let i = 0; i < RELOADS; i++) {
      await daemon.reload(await loadWatched(files, configs));
      const replaced = probers.at(-2) as ProberWatch;
      const newest = probers.at(-1) as ProberWatch;
      await eventually(5_000, () => (replaced.stopped && newest.started) || undefined, 'the swap');
      await runAll();
    }

    await collectGarbage();
    expect(configs.map((ref) => ref.deref() !== undefined)).toEqual([false, false, false, true]);
    expect(probers.map((p) => p.ref.deref() !== undefined)).toEqual([false, false, false, true]);
    expect(daemon.config()).toBe(configs.at(-1)?.deref());
  });
});
