import { Worker } from 'node:worker_threads';
import { ConfigError, type ConfigProblem } from '../errors.js';
import { deepFreeze } from './load.js';
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
