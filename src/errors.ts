/**
 * One error base for the whole daemon: a stable machine-readable `code`, a human message, and the
 * wrapped `cause` when there is one. Expected outcomes (a failed probe, a check with no data) are
 * typed results, not exceptions; these are for configuration mistakes, unreachable dependencies and bugs.
 *
 * @example
 *   throw new VigilError('STORE_SCHEMA_TOO_NEW', 'store schema 7 is newer than this build (5)');
 */
export class VigilError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'VigilError';
    this.code = code;
  }
}

/** One problem found while loading configuration: the file, the path inside it, and what is wrong. */
export interface ConfigProblem {
  file: string;
  path: string;
  message: string;
}

/** Formats a problem the way `vigil validate` prints it: `<file>:<path>: <message>`. */
export function formatProblem(problem: ConfigProblem): string {
  return `${problem.file}:${problem.path}: ${problem.message}`;
}

/** Thrown when configuration is invalid; carries every problem found, not just the first. */
export class ConfigError extends VigilError {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    super('CONFIG_INVALID', problems.map(formatProblem).join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Returns the message of anything thrown, without a stack trace. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
