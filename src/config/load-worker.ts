import { parentPort, workerData } from 'node:worker_threads';
import { ConfigError } from '../errors.js';
import { loadConfig } from './load.js';

/*
 * The worker side of loadConfigIsolated (load-isolated.ts): loads the config given in workerData and posts
 * one LoadOutcome back. A ConfigError is posted as its problems (a structured clone of an Error keeps only
 * its message and stack); anything else as the error itself.
 */

const { file, env } = workerData as { file: string; env: Record<string, string | undefined> };
try {
  parentPort?.postMessage({ config: await loadConfig(file, env) });
} catch (error) {
  parentPort?.postMessage(error instanceof ConfigError ? { problems: error.problems } : { error });
}
