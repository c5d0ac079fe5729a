import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseEnv } from 'node:util';

/*
 * The `.env` file (DESIGN §9): read at start from beside the config file (or from `--env-file FILE`),
 * parsed by Node's own parser (`util.parseEnv`, the `node --env-file` syntax: KEY=value, quotes, `#`
 * comments, `export ` prefixes), and merged under the process environment: a variable already set —
 * even to the empty string — is never overridden, so CI and systemd settings win over the file.
 * Only the composition root (src/main.ts) calls this; everything else gets the merged environment.
 */

type Env = Readonly<Record<string, string | undefined>>;

/** What reading the environment file did, for the one line that says so. */
export interface EnvFileReport {
  /** The file as shown to the user (relative when given relative). */
  readonly file: string;
  /** False when there was no file (only possible for the implicit `.env` beside the config). */
  readonly read: boolean;
  /** Variables taken from the file. */
  readonly applied: readonly string[];
  /** Variables of the file left alone because the environment already sets them. */
  readonly kept: readonly string[];
}

/** The commands and arguments after `--env-file` has been taken out, and which file to read. */
export interface EnvFileArgs {
  readonly args: string[];
  /** The file to read: `--env-file`'s value, else `.env` beside the config file. */
  readonly file: string;
  /** Whether the user named the file (`--env-file`): then it must exist. */
  readonly explicit: boolean;
}

/** Commands that need no environment from a file: they read no config and talk to no daemon. */
const WITHOUT_ENV_FILE: ReadonlySet<string> = new Set(['demo', 'schema', 'help', 'version']);

/**
 * Takes `--env-file FILE` (or `--env-file=FILE`) out of the arguments and finds the config file (`-c`,
 * `--config`, default `./vigil.yaml`) whose folder holds the default `.env`. Undefined for commands that
 * read no environment file (`demo`, `schema`, `--help`, `--version`, no command).
 *
 * @example envFileArgs(['validate', '-c', 'deploy/vigil.yaml']) // { args: [...], file: 'deploy/.env', explicit: false }
 * @example envFileArgs(['wait', 'w_1', '--env-file', 'ci.env']) // { args: ['wait', 'w_1'], file: 'ci.env', explicit: true }
 */
export function envFileArgs(argv: readonly string[]): EnvFileArgs | undefined {
  const command = argv[0];
  if (command === undefined || command.startsWith('-') || WITHOUT_ENV_FILE.has(command)) return undefined;
  const args: string[] = [];
  let envFile: string | undefined;
  let config = './vigil.yaml';
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index] as string;
    const next = argv[index + 1];
    if (arg === '--') {
      args.push(...argv.slice(index));
      break;
    }
    if (arg === '--env-file' && next !== undefined) {
      envFile = next;
      index++;
      continue;
    }
    if (arg.startsWith('--env-file=')) {
      envFile = arg.slice('--env-file='.length);
      continue;
    }
    if ((arg === '-c' || arg === '--config') && next !== undefined) config = next;
    else if (arg.startsWith('--config=')) config = arg.slice('--config='.length);
    else if (arg.startsWith('-c') && arg.length > 2 && !arg.startsWith('--')) config = arg.slice(2);
    args.push(arg);
  }
  if (envFile !== undefined) return { args, file: envFile, explicit: true };
  return { args, file: path.join(path.dirname(config), '.env'), explicit: false };
}

/**
 * Reads the environment file and merges it under `env` (never overriding a variable already set). A
 * missing implicit `.env` is no error (`read: false`); a missing `--env-file` throws, naming the file.
 *
 * @example
 *   const { env, report } = await readEnvFile('deploy/.env', process.env, false);
 *   describeEnvFile(report) // 'environment: read deploy/.env (4 variables; VIGIL_LISTEN already set, kept)'
 */
export async function readEnvFile(
  file: string,
  env: Env,
  explicit: boolean,
): Promise<{ env: Record<string, string | undefined>; report: EnvFileReport }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (!explicit && (code === 'ENOENT' || code === 'ENOTDIR'))
      return { env: { ...env }, report: { file, read: false, applied: [], kept: [] } };
    const reason = code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a folder' : code;
    throw new Error(`--env-file ${file}: cannot read: ${reason ?? (error as Error).message}`, {
      cause: error,
    });
  }
  const parsed = parseEnv(text) as Record<string, string>;
  const merged: Record<string, string | undefined> = { ...env };
  const applied: string[] = [];
  const kept: string[] = [];
  for (const [name, value] of Object.entries(parsed)) {
    if (env[name] !== undefined) kept.push(name);
    else {
      merged[name] = value;
      applied.push(name);
    }
  }
  return { env: merged, report: { file, read: true, applied, kept } };
}

/**
 * The line that says which environment file was read (names of variables, never their values).
 *
 * @example describeEnvFile({ file: '.env', read: false, applied: [], kept: [] }) // 'environment: no .env (nothing read)'
 */
export function describeEnvFile(report: EnvFileReport): string {
  if (!report.read) return `environment: no ${report.file} (nothing read)`;
  const count = report.applied.length;
  const kept =
    report.kept.length === 0 ? '' : `; ${report.kept.join(', ')} already set, kept from the environment`;
  return `environment: read ${report.file} (${count} variable${count === 1 ? '' : 's'}${kept})`;
}
