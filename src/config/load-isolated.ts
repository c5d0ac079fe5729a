import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { glob } from 'tinyglobby';
import { parse } from 'yaml';
import { ConfigError, type ConfigProblem } from '../errors.js';
import { deepFreeze, loadConfig } from './load.js';
import type { VigilConfig } from './schema.js';

/*
 * Loading in a worker thread, for the long-lived daemon (`vigil serve` and its SIGHUP reload): whatever
 * the load allocates (YAML trees, zod's intermediate objects, the per-file problem lists) lives and dies
 * in the worker's own heap, and the daemon's heap only ever holds the structured-cloned result, so V8
 * does not size the daemon's old generation by the load's peak. One-shot commands load in process.
 */

type Env = Readonly<Record<string, string | undefined>>;

/** What load-worker.ts posts: the config, the problems of a ConfigError, or any other error. */
type LoadOutcome = { config: VigilConfig } | { problems: ConfigProblem[] } | { error: unknown };

/**
 * The worker's compiled file: beside this one in dist/; when this module runs as TypeScript source
 * (vitest), the twin under dist/ that test/global-setup.ts builds before the suite.
 */
const WORKER_URL = import.meta.url.endsWith('.ts')
  ? new URL('../../dist/src/config/load-worker.js', import.meta.url)
  : new URL('./load-worker.js', import.meta.url);

/**
 * Runs loadConfig(file, env) in a worker thread and returns its result, deeply frozen; a ConfigError
 * comes back as a ConfigError with the same problems. Paths resolve against this process's cwd, which
 * the worker shares.
 *
 * @example
 *   const config = await loadConfigIsolated('vigil.yaml', process.env);
 *   config.root.watch.duration // 86_400_000
 */
export async function loadConfigIsolated(file: string, env: Env): Promise<VigilConfig> {
  const outcome = await new Promise<LoadOutcome>((resolve, reject) => {
    // process.env is not cloneable as it is: send a plain copy.
    const worker = new Worker(WORKER_URL, { workerData: { file, env: { ...env } } });
    let settled = false;
    worker.once('message', (message: LoadOutcome) => {
      settled = true;
      // Wait for the worker's heap to go before the caller builds on the result.
      worker.terminate().then(() => resolve(message), reject);
    });
    worker.once('error', (error) => {
      settled = true;
      reject(new Error(`loading ${file} in a worker failed: ${error.message}`, { cause: error }));
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`loading ${file}: the config worker exited with code ${code}`));
    });
  });
  // A clone is not frozen: freeze it as loadConfig leaves its result.
  if ('config' in outcome) return deepFreeze(outcome.config);
  if ('problems' in outcome) throw new ConfigError(outcome.problems);
  throw outcome.error;
}

/**
 * Definition files of at least this many bytes in all load in a worker: their garbage is worth keeping
 * out of the daemon's heap (10,000 probes are 1.9 MB). Smaller configs load in process, which spares the
 * worker's start (about 350 ms: a second isolate importing zod, yaml and the query parsers).
 */
export const ISOLATE_FROM_BYTES = 1_048_576;

/**
 * How the daemon loads its config, at start and on SIGHUP: in a worker when the definition files are
 * large (`ISOLATE_FROM_BYTES`), else in process. Same result and errors either way.
 *
 * @example const config = await loadConfigForDaemon('vigil.yaml', process.env);
 */
export async function loadConfigForDaemon(file: string, env: Env): Promise<VigilConfig> {
  return (await definitionBytes(file)) >= ISOLATE_FROM_BYTES
    ? loadConfigIsolated(file, env)
    : loadConfig(file, env);
}

/**
 * The bytes of the probe and SLO files the root file's globs match (its own and its services'), read
 * before loading; 0 when it cannot tell (the loader then reports why, in process).
 */
export async function definitionBytes(file: string): Promise<number> {
  try {
    const root = parse(await readFile(file, 'utf8')) as Record<string, unknown> | null;
    const lists = [root, ...Object.values(asRecord(root?.services))].flatMap((section) => {
      const s = asRecord(section);
      return [s.probes, s.slos];
    });
    const patterns = lists.flatMap((list) =>
      Array.isArray(list) ? list.filter((p): p is string => typeof p === 'string' && !p.includes('${')) : [],
    );
    if (patterns.length === 0) return 0;
    const files = await glob(patterns, { cwd: path.dirname(path.resolve(file)), absolute: true });
    const sizes = await Promise.all(files.map(async (f) => (await stat(f)).size));
    return sizes.reduce((a, b) => a + b, 0);
  } catch {
    return 0;
  }
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}
