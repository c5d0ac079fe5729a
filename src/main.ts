#!/usr/bin/env node
import { runCli } from './cli/index.js';
import { describeEnvFile, type EnvFileReport, envFileArgs, readEnvFile } from './config/env-file.js';

/*
 * The process entry: the only place that reads process.argv, process.env and installs signal
 * handlers for one-shot commands. `vigil serve` installs its own (graceful shutdown, SIGHUP reload).
 * The environment every command gets is the process's with the `.env` beside the config file (or
 * `--env-file FILE`) merged under it (DESIGN §9); the line saying which file was read goes to stderr,
 * or into the daemon's log for `vigil serve`.
 */
const controller = new AbortController();
const envFile = envFileArgs(process.argv.slice(2));
const args = envFile?.args ?? process.argv.slice(2);
let env: NodeJS.ProcessEnv = process.env;
let envReport: EnvFileReport | undefined;
if (envFile !== undefined) {
  try {
    const loaded = await readEnvFile(envFile.file, process.env, envFile.explicit);
    env = loaded.env;
    envReport = loaded.report;
    if (args[0] !== 'serve') process.stderr.write(`note: ${describeEnvFile(loaded.report)}\n`);
  } catch (error) {
    process.stderr.write(`vigil: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  }
}
if (args[0] !== 'serve' && args[0] !== 'demo') {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => controller.abort(new Error(`received ${signal}`)));
  }
}

runCli(args, {
  stdout: process.stdout,
  stderr: process.stderr,
  env,
  signal: controller.signal,
  ...(envReport === undefined ? {} : { envFile: envReport }),
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
