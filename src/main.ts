#!/usr/bin/env node
import { runCli } from './cli/index.js';

/*
 * The process entry: the only place that reads process.argv, process.env and installs signal
 * handlers for one-shot commands. `vigil serve` installs its own (graceful shutdown, SIGHUP reload).
 */
const controller = new AbortController();
const args = process.argv.slice(2);
if (args[0] !== 'serve' && args[0] !== 'demo') {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => controller.abort(new Error(`received ${signal}`)));
  }
}

runCli(args, {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  signal: controller.signal,
}).then(
  (code) => {
    process.exitCode = code;
    // The daemon's own handles (sockets, timers of a stop cut short by a second signal) must not keep
    // the process alive once serve/demo has decided to exit.
    if (args[0] === 'serve' || args[0] === 'demo') setImmediate(() => process.exit(code));
  },
  (error: unknown) => {
    process.stderr.write(`vigil: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
