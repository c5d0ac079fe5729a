import type { Writable } from 'node:stream';
import type { EnvFileReport } from '../config/env-file.js';

/** What a command gets from the process: its arguments after the command name, streams and environment. */
export interface CliContext {
  /** Arguments after the command word(s), e.g. for `vigil probe --json` → ['--json']. */
  argv: string[];
  /** Machine output (`--json` documents) only. */
  stdout: Writable;
  /** Human output: tables, progress, errors. */
  stderr: Writable;
  env: NodeJS.ProcessEnv;
  /** What the composition root read from `.env` / `--env-file` into `env`, for `vigil serve`'s log. */
  envFile?: EnvFileReport;
  /** Aborted on SIGINT/SIGTERM for long-running commands. */
  signal: AbortSignal;
}

/** A command: resolves to the process exit code (DESIGN §2). Usage errors return 2. */
export type Command = (ctx: CliContext) => Promise<number>;
