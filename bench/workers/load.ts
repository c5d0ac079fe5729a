/*
 * Loads a config and builds its daemon (createDaemon, not started) in a fresh process, for the memory
 * figures: prints one JSON line { loadMs, createMs, peakRssBytes, afterLoad, afterCreate } on stdout,
 * where afterLoad/afterCreate are process.memoryUsage() after a full GC (run with --expose-gc).
 * The peak is the kernel's high-water mark (getrusage maxrss): loading is synchronous work that no
 * sampling timer would see.
 */
import { loadConfig } from '../../src/config/load.js';
import { createDaemon } from '../../src/daemon/index.js';
import { silentLogger } from '../../src/telemetry/logger.js';

function liveMemory(): NodeJS.MemoryUsage {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage();
}

async function main(): Promise<void> {
  const file = process.argv[2] as string;
  let started = performance.now();
  const config = await loadConfig(file, {});
  const loadMs = performance.now() - started;
  const afterLoad = liveMemory();
  started = performance.now();
  const daemon = await createDaemon({ config, logger: silentLogger(), searchPath: '' });
  const createMs = performance.now() - started;
  const afterCreate = liveMemory();
  const peakRssBytes = process.resourceUsage().maxRSS * 1024;
  process.stdout.write(`${JSON.stringify({ loadMs, createMs, peakRssBytes, afterLoad, afterCreate })}\n`);
  await daemon.stop(1_000);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench load: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
