import type { Writable } from 'node:stream';

/** What a command gets from the process: its arguments after the command name, streams and environment. */
export interface CliContext {
  /** Arguments after the command word(s), e.g. for `vigil probe --json` → ['--json']. */
  argv: string[];
  /** Machine output (`--json` documents) only. */
  stdout: Writable;
  /** Human output: tables, progress, errors. */
  stderr: Writable;
  env: NodeJS.ProcessEnv;
  /** Aborted on SIGINT/SIGTERM for long-running commands. */
  signal: AbortSignal;
}

/** A command: resolves to the process exit code (DESIGN §2). Usage errors return 2. */
export type Command = (ctx: CliContext) => Promise<number>;
