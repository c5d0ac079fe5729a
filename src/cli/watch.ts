import { userInfo } from 'node:os';
import { parseDurationMs } from '../config/units.js';
import { errorMessage, VigilError } from '../errors.js';
import { headline } from '../watch/display.js';
import { type OverrideAction, WATCH_STATUSES, type WatchStatus } from '../watch/types.js';
import { type FlagOptions, parseFlags } from './args.js';
import { connectDaemon, type DaemonClient, DaemonHttpError, DaemonUnreachableError } from './client.js';
import { WATCH_USAGE } from './help.js';
import type { CliContext, Command } from './types.js';
import { formatWatch, formatWatchList } from './watch-format.js';

const USAGE =
  'usage: vigil watch start --service S --version V [--previous-version P] [--duration D] [--server URL] [-c FILE] [--json]\n' +
  'exit: 0 started; 1 refused; 2 usage error; 4 cannot reach the daemon (vigil watch start --help for more)\n';

/**
 * Exit codes of `vigil watch start` (DESIGN §2: 0 started, 1 refused). An unreachable daemon is 4, the
 * code `vigil wait` and the other watch commands give it, so a CI step tells "no daemon" from "refused".
 */
export const START_EXIT = { started: 0, refused: 1, usage: 2, unreachable: 4 } as const;

/** Exit codes of the operator commands `vigil watch list|show|promote|rollback|abort` (DESIGN §2). */
export const WATCH_EXIT = { done: 0, refused: 1, unreachable: 4, usage: 64 } as const;

/** What `vigil watch`, `vigil watch --help` and every `vigil watch …` usage error print (in help.ts with the other usage texts). */
export { WATCH_USAGE };

/**
 * `vigil watch start` (DESIGN §2): asks the running daemon to start a watch and prints its id on stdout
 * (`--json`: the watch object). The daemon is `--server`, VIGIL_SERVER, or `server.listen` of the config
 * (`-c`, default ./vigil.yaml when present). Exit 0 started; 1 refused, with the daemon's reason; 2 on a
 * usage error; 4 when the daemon cannot be reached (as `vigil wait` and the other watch commands).
 *
 * @example await watchStart({ argv: ['--service', 'prep-api', '--version', '1.4.2'], stdout, stderr, env, signal })
 */
export const watchStart: Command = async (ctx: CliContext) => {
  let values: {
    service?: string | undefined;
    version?: string | undefined;
    'previous-version'?: string | undefined;
    duration?: string | undefined;
    server?: string | undefined;
    config?: string | undefined;
    json?: boolean | undefined;
  };
  try {
    ({ values } = parseFlags(ctx.argv, {
      service: { type: 'string' },
      version: { type: 'string' },
      'previous-version': { type: 'string' },
      duration: { type: 'string' },
      server: { type: 'string' },
      json: { type: 'boolean', default: false },
      config: { type: 'string', short: 'c' },
    }));
  } catch (error) {
    ctx.stderr.write(`vigil watch start: ${errorMessage(error)}\n${USAGE}`);
    return START_EXIT.usage;
  }
  if (!values.service || !values.version) {
    ctx.stderr.write(`vigil watch start: --service and --version are required\n${USAGE}`);
    return START_EXIT.usage;
  }
  if (values.duration !== undefined && parseDurationMs(values.duration) === undefined) {
    ctx.stderr.write(`vigil watch start: invalid --duration "${values.duration}" (e.g. 2h, 24h)\n${USAGE}`);
    return START_EXIT.usage;
  }
  let client: DaemonClient;
  try {
    client = await connectDaemon({ server: values.server, config: values.config, env: ctx.env });
  } catch (error) {
    if (!(error instanceof VigilError)) throw error;
    ctx.stderr.write(`vigil watch start: ${error.message}\n${USAGE}`);
    return START_EXIT.usage;
  }
  const body: Record<string, unknown> = { service: values.service, version: values.version };
  if (values['previous-version']) body.previousVersion = values['previous-version'];
  if (values.duration) body.duration = values.duration;
  try {
    const watch = await client.startWatch(body, ctx.signal);
    if (values.json) ctx.stdout.write(`${JSON.stringify(watch)}\n`);
    else ctx.stdout.write(`${watch.id}\n`);
    ctx.stderr.write(
      `watching ${watch.service} ${watch.version} (previous ${watch.previousVersion ?? 'none'}) for ${watch.duration}: ${watch.id}\n` +
        `follow it with: vigil wait ${watch.id}\n`,
    );
    return START_EXIT.started;
  } catch (error) {
    if (error instanceof DaemonUnreachableError) {
      ctx.stderr.write(`vigil watch start: ${error.message}\n`);
      return START_EXIT.unreachable;
    }
    if (error instanceof DaemonHttpError) {
      ctx.stderr.write(`vigil watch start: refused: ${error.message}\n`);
      return START_EXIT.refused;
    }
    throw error;
  } finally {
    await client.close();
  }
};

/** Parses a subcommand's arguments; a string is the usage error to print. */
function parseCommand(
  argv: string[],
  options: FlagOptions,
  positionals: number,
): { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] } | string {
  try {
    const parsed = parseFlags(
      argv,
      // Every command takes -c (DESIGN §2); these read the daemon's address from it.
      { ...options, server: { type: 'string' }, config: { type: 'string', short: 'c' } },
      // Counted below, to say "exactly one watch ID" rather than which argument is extra.
      positionals > 0 ? Number.POSITIVE_INFINITY : 0,
    );
    if (parsed.positionals.length !== positionals) {
      return positionals === 1 ? 'expected exactly one watch ID' : 'unexpected arguments';
    }
    return { values: parsed.values, positionals: parsed.positionals };
  } catch (error) {
    return errorMessage(error);
  }
}

/**
 * Runs one request against the daemon and maps its failure to an exit code: the daemon said no (an
 * error answer, e.g. 409 or 404) is 1 with its reason; no daemon at all is 4.
 */
async function withDaemon(
  ctx: CliContext,
  name: string,
  values: Record<string, unknown>,
  call: (client: DaemonClient) => Promise<number>,
): Promise<number> {
  const flag = (key: string): string | undefined =>
    typeof values[key] === 'string' ? (values[key] as string) : undefined;
  let client: DaemonClient;
  try {
    client = await connectDaemon({ server: flag('server'), config: flag('config'), env: ctx.env });
  } catch (error) {
    if (!(error instanceof VigilError)) throw error;
    return usageError(ctx, name, error.message);
  }
  try {
    return await call(client);
  } catch (error) {
    if (error instanceof DaemonUnreachableError) {
      ctx.stderr.write(`vigil watch ${name}: ${error.message}\n`);
      return WATCH_EXIT.unreachable;
    }
    if (error instanceof DaemonHttpError) {
      ctx.stderr.write(`vigil watch ${name}: refused: ${error.message}\n`);
      return WATCH_EXIT.refused;
    }
    throw error;
  } finally {
    await client.close();
  }
}

function usageError(ctx: CliContext, name: string, problem: string): number {
  ctx.stderr.write(`vigil watch ${name}: ${problem}\n\n${WATCH_USAGE}`);
  return WATCH_EXIT.usage;
}

/**
 * `vigil watch list [--service S] [--status S] [--json]` (DESIGN §2): the daemon's watches, newest first.
 * The table goes to stderr; `--json` prints `{"watches":[...]}` on stdout. Exit 0; 1 refused; 4
 * unreachable; 64 usage error.
 *
 * @example await watchList({ argv: ['--status', 'held'], stdout, stderr, env, signal }) // 0
 */
export const watchList: Command = async (ctx) => {
  const parsed = parseCommand(
    ctx.argv,
    { service: { type: 'string' }, status: { type: 'string' }, json: { type: 'boolean', default: false } },
    0,
  );
  if (typeof parsed === 'string') return usageError(ctx, 'list', parsed);
  const { service, status, json } = parsed.values;
  if (typeof status === 'string' && !(WATCH_STATUSES as readonly string[]).includes(status)) {
    return usageError(ctx, 'list', `--status must be one of ${WATCH_STATUSES.join(', ')}`);
  }
  if (service === '') return usageError(ctx, 'list', '--service needs a name');
  return withDaemon(ctx, 'list', parsed.values, async (client) => {
    const watches = await client.listWatches(
      {
        ...(typeof service === 'string' ? { service } : {}),
        ...(typeof status === 'string' ? { status: status as WatchStatus } : {}),
      },
      ctx.signal,
    );
    if (json) ctx.stdout.write(`${JSON.stringify({ watches })}\n`);
    ctx.stderr.write(formatWatchList(watches));
    return WATCH_EXIT.done;
  });
};

/**
 * `vigil watch show ID [--json]` (DESIGN §2): one watch with its checks, phases and timeline on stderr;
 * `--json` prints the watch object on stdout. Exit 0; 1 refused (e.g. no such watch); 4 unreachable;
 * 64 usage error.
 *
 * @example await watchShow({ argv: ['w_01…'], stdout, stderr, env, signal }) // 0
 */
export const watchShow: Command = async (ctx) => {
  const parsed = parseCommand(ctx.argv, { json: { type: 'boolean', default: false } }, 1);
  if (typeof parsed === 'string') return usageError(ctx, 'show', parsed);
  const id = parsed.positionals[0] as string;
  return withDaemon(ctx, 'show', parsed.values, async (client) => {
    const watch = await client.getWatch(id, ctx.signal);
    if (parsed.values.json) ctx.stdout.write(`${JSON.stringify(watch)}\n`);
    ctx.stderr.write(formatWatch(watch, Date.now()));
    return WATCH_EXIT.done;
  });
};

/** The operator's name when `--who` is not given: the login name from the environment, else the OS's. */
function defaultWho(env: NodeJS.ProcessEnv): string | undefined {
  const fromEnv = env.USER ?? env.LOGNAME;
  if (fromEnv) return fromEnv;
  try {
    return userInfo().username || undefined;
  } catch {
    // No passwd entry for the uid (a container running as an arbitrary user): the daemon names the requester.
    return undefined;
  }
}

const PAST: Record<OverrideAction, string> = {
  promote: 'promoted',
  rollback: 'rolled back',
  abort: 'aborted',
};

function overrideCommand(action: OverrideAction): Command {
  return async (ctx) => {
    const parsed = parseCommand(
      ctx.argv,
      { reason: { type: 'string' }, who: { type: 'string' }, json: { type: 'boolean', default: false } },
      1,
    );
    if (typeof parsed === 'string') return usageError(ctx, action, parsed);
    const id = parsed.positionals[0] as string;
    const reason = typeof parsed.values.reason === 'string' ? parsed.values.reason.trim() : '';
    if (reason === '') return usageError(ctx, action, '--reason is required: say why, for the timeline');
    const given = parsed.values.who;
    if (given !== undefined && String(given).trim() === '')
      return usageError(ctx, action, '--who needs a name');
    const who = typeof given === 'string' ? given.trim() : defaultWho(ctx.env);
    return withDaemon(ctx, action, parsed.values, async (client) => {
      const watch = await client.override(id, action, { reason, ...(who ? { who } : {}) }, ctx.signal);
      if (parsed.values.json) ctx.stdout.write(`${JSON.stringify(watch)}\n`);
      ctx.stderr.write(`${PAST[action]}: ${headline(watch, Date.now())}\n`);
      return WATCH_EXIT.done;
    });
  };
}

/**
 * `vigil watch promote ID --reason TEXT [--who NAME]` (DESIGN §2): passes a running or held watch now.
 * Exit 0 done; 1 refused (the daemon's reason, e.g. the watch already ended); 4 unreachable; 64 usage.
 *
 * @example await watchPromote({ argv: ['w_01…', '--reason', 'QA signed off'], stdout, stderr, env, signal })
 */
export const watchPromote: Command = overrideCommand('promote');

/**
 * `vigil watch rollback ID --reason TEXT [--who NAME]` (DESIGN §2): fails the watch and fires its
 * rollback; a second rollback of one watch is refused (1) naming the first.
 *
 * @example await watchRollback({ argv: ['w_01…', '--reason', 'p95 doubled'], stdout, stderr, env, signal })
 */
export const watchRollback: Command = overrideCommand('rollback');

/**
 * `vigil watch abort ID --reason TEXT [--who NAME]` (DESIGN §2): stops a running watch without a verdict.
 *
 * @example await watchAbort({ argv: ['w_01…', '--reason', 'wrong version'], stdout, stderr, env, signal })
 */
export const watchAbort: Command = overrideCommand('abort');
