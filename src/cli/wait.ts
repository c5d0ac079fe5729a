import { setTimeout as sleepFor } from 'node:timers/promises';
import { parseDurationMs } from '../config/units.js';
import { errorMessage, VigilError } from '../errors.js';
import { untilReached, WAIT_EXIT, WAIT_UNTIL, type WaitUntil, waitOutcome } from '../watch/outcome.js';
import type { Verdict } from '../watch/types.js';
import { parseFlags, UsageError } from './args.js';
import { connectDaemon, type DaemonClient, DaemonHttpError, DaemonUnreachableError } from './client.js';
import { changeKey, describeCheck, fitToWidth, type LiveContext, statusLine } from './live.js';
import type { CliContext, Command } from './types.js';

export const WAIT_USAGE =
  'usage: vigil wait ID [--until smoke|load|complete] [--timeout D] [--server URL] [-c FILE] [--json]\n' +
  'exit: 0 pass or warn, 1 fail, 2 inconclusive, 3 timeout, 4 cannot reach the daemon,\n' +
  '      5 held for a decision (vigil watch promote|rollback ID), 64 usage error, 130 interrupted\n' +
  '(vigil wait --help for more)\n';

/** A terminal's status line is refreshed this often (the elapsed time moves). */
const TTY_REFRESH_MS = 3_000;
/**
 * On a log (stderr not a terminal) a line is printed on every change and at least this often, so a CI
 * log never goes quiet for long enough to look hung; under the 30 s the issue asks for, with room for
 * a long poll that answers a little late.
 */
export const HEARTBEAT_MS = 25_000;
/** Once following, a daemon restart is ridden out for this long before giving up with exit 4. */
const RECONNECT_WINDOW_MS = 60_000;
const RECONNECT_DELAY_MS = 1_000;
/** Exit codes for an interrupted wait: 128 + the signal number, as shells report them. */
const INTERRUPTED = { SIGINT: 130, SIGTERM: 143 } as const;

interface WaitOptions {
  id: string;
  until: WaitUntil;
  timeoutMs: number | undefined;
  server: string | undefined;
  config: string | undefined;
  json: boolean;
}

/** What following a watch needs from the world; tests pass a fake daemon and a virtual clock. */
export interface FollowDeps {
  client: Pick<DaemonClient, 'verdict' | 'server'>;
  now(): number;
  /** Resolves after `ms`, or rejects when `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
  /** A signal that aborts after `ms` (the --timeout); real time in production. */
  deadline(ms: number): AbortSignal;
  /** Whether stderr is a terminal: a status line rewritten in place, else plain lines and heartbeats. */
  isTTY: boolean;
  /** The terminal's width, to keep the status line on one line. */
  columns?: number;
}

function parse(argv: string[]): WaitOptions {
  const { values, positionals } = parseFlags(
    argv,
    {
      until: { type: 'string', default: 'complete' },
      timeout: { type: 'string' },
      server: { type: 'string' },
      json: { type: 'boolean', default: false },
      config: { type: 'string', short: 'c' },
    },
    // Counted below, to say "exactly one watch ID" rather than which argument is extra.
    Number.POSITIVE_INFINITY,
  );
  if (positionals.length !== 1) throw new UsageError('expected exactly one watch ID');
  if (!(WAIT_UNTIL as readonly string[]).includes(values.until))
    throw new UsageError(`--until must be one of ${WAIT_UNTIL.join(', ')}, not "${values.until}"`);
  const timeoutMs = values.timeout === undefined ? undefined : parseDurationMs(values.timeout);
  if (values.timeout !== undefined && timeoutMs === undefined)
    throw new UsageError(`invalid --timeout "${values.timeout}" (e.g. 30m, 2h)`);
  return {
    id: positionals[0] as string,
    until: values.until as WaitUntil,
    timeoutMs,
    server: values.server,
    config: values.config,
    json: values.json,
  };
}

/**
 * `vigil wait ID` (DESIGN §2): follows a watch by long poll until it finished the `--until` phase or
 * ended, showing phase, elapsed time and check states with their units on stderr (a status line
 * rewritten in place on a terminal; on a log a line per change and a heartbeat at least every 30 s).
 * The daemon is `--server`, VIGIL_SERVER, or `server.listen` of the config (`-c`, default ./vigil.yaml).
 * Exit 0 pass or warn, 1 fail, 2 inconclusive (or aborted), 3 timeout, 4 the daemon cannot be reached
 * (or does not know the watch), 5 held for an operator's decision, 64 usage error, 130 on Ctrl-C (the
 * watch keeps running in the daemon). `--json` prints the verdict object on stdout.
 *
 * @example await wait({ argv: ['w_01…', '--until', 'smoke'], stdout, stderr, env, signal }) // 0
 */
export const wait: Command = async (ctx: CliContext) => {
  let options: WaitOptions;
  try {
    options = parse(ctx.argv);
  } catch (error) {
    ctx.stderr.write(`vigil wait: ${errorMessage(error)}\n${WAIT_USAGE}`);
    return WAIT_EXIT.usage;
  }
  let client: Awaited<ReturnType<typeof connectDaemon>>;
  try {
    client = await connectDaemon({ server: options.server, config: options.config, env: ctx.env });
  } catch (error) {
    if (!(error instanceof VigilError)) throw error;
    ctx.stderr.write(`vigil wait: ${error.message}\n${WAIT_USAGE}`);
    return WAIT_EXIT.usage;
  }
  const stderr = ctx.stderr as { isTTY?: boolean; columns?: number };
  try {
    return await followWatch(ctx, options, client.config, {
      client,
      now: Date.now,
      sleep: (ms, signal) => sleepFor(ms, undefined, { signal }),
      deadline: (ms) => AbortSignal.timeout(ms),
      isTTY: stderr.isTTY === true,
      ...(typeof stderr.columns === 'number' ? { columns: stderr.columns } : {}),
    });
  } finally {
    await client.close();
  }
};

/**
 * The follow loop of `vigil wait`, with everything that waits injected: returns the exit code.
 *
 * @example await followWatch(ctx, { id, until: 'complete', … }, { failureLimit: 3 }, { client, now, sleep, deadline, isTTY: false })
 */
export async function followWatch(
  ctx: Pick<CliContext, 'stdout' | 'stderr' | 'signal'>,
  options: Pick<WaitOptions, 'id' | 'until' | 'timeoutMs' | 'json'>,
  live: LiveContext,
  deps: FollowDeps,
): Promise<number> {
  const { client, now } = deps;
  const deadline = options.timeoutMs === undefined ? Number.POSITIVE_INFINITY : now() + options.timeoutMs;
  const timeout = options.timeoutMs === undefined ? undefined : deps.deadline(options.timeoutMs);
  const signal = timeout ? AbortSignal.any([ctx.signal, timeout]) : ctx.signal;
  let last: Verdict | undefined;
  let shownKey = '';
  let printedAt = Number.NEGATIVE_INFINITY;
  let liveLine = false;
  let unreachableSince: number | undefined;

  const write = (text: string): void => {
    // A line printed under the live status line replaces it; the status line comes back on the next refresh.
    if (liveLine) ctx.stderr.write('\r\x1b[2K');
    liveLine = false;
    ctx.stderr.write(text);
  };
  const show = (verdict: Verdict): void => {
    const at = now();
    if (deps.isTTY) {
      ctx.stderr.write(`\r\x1b[2K${fitToWidth(statusLine(verdict, at, live), deps.columns)}`);
      liveLine = true;
      return;
    }
    const key = changeKey(verdict);
    // A heartbeat is due a little early: the next long poll may answer a little late.
    if (key !== shownKey || at - printedAt >= HEARTBEAT_MS - 1_000) {
      write(`${new Date(at).toISOString()} ${statusLine(verdict, at, live)}\n`);
      shownKey = key;
      printedAt = at;
    }
  };
  const finish = (code: number, message: string): number => {
    if (last && deps.isTTY) write(`${statusLine(last, now(), live)}\n`);
    write(`${message}\n`);
    // Every check that fails or warns at the end, with its numbers: the reasons name only the tripped ones.
    if (last && last.status !== 'running') {
      for (const check of last.checks.filter((c) => c.result === 'fail' || c.result === 'warn')) {
        write(`  • ${describeCheck(check, last, live)}\n`);
      }
    }
    if (options.json && last) ctx.stdout.write(`${JSON.stringify(last)}\n`);
    return code;
  };
  const interrupted = (): number => {
    const reason = ctx.signal.reason as { message?: unknown } | undefined;
    const code = String(reason?.message ?? '').includes('SIGTERM') ? INTERRUPTED.SIGTERM : INTERRUPTED.SIGINT;
    write(
      `vigil wait: interrupted; watch ${options.id} keeps running in the daemon (${client.server}).\n` +
        `  follow it again: vigil wait ${options.id} --server ${client.server}\n` +
        `  see it:          vigil watch show ${options.id}\n`,
    );
    return code;
  };

  for (;;) {
    if (ctx.signal.aborted) return interrupted();
    const remaining = deadline - now();
    if (remaining <= 0 || timeout?.aborted) {
      return finish(
        WAIT_EXIT.timeout,
        `vigil wait: timed out after ${options.timeoutMs} ms (${last ? `${last.status}, phase ${last.phase}` : 'no answer'})`,
      );
    }
    try {
      const sincePrinted = now() - printedAt;
      const pollMs = deps.isTTY ? TTY_REFRESH_MS : Math.max(1_000, HEARTBEAT_MS - sincePrinted);
      const verdict = await client.verdict(
        options.id,
        {
          // The first request answers at once: the state is shown, and the daemon is known to be there.
          waitMs: last ? Math.min(pollMs, remaining) : 0,
          until: options.until,
          ...(last ? { since: last.updatedAt } : {}),
        },
        signal,
      );
      if (unreachableSince !== undefined) write(`vigil wait: the daemon answers again\n`);
      unreachableSince = undefined;
      last = verdict;
      show(verdict);
      if (untilReached(verdict, options.until)) {
        const outcome = waitOutcome(verdict, options.until);
        return finish(outcome.code, outcome.summary);
      }
    } catch (error) {
      if (signal.aborted) continue;
      // 429 and 5xx are passing troubles (a rate limit, a daemon starting up) once we are following.
      const transient =
        error instanceof DaemonUnreachableError ||
        (error instanceof DaemonHttpError && (error.status === 429 || error.status >= 500));
      if (error instanceof DaemonHttpError && !(transient && last)) {
        return finish(WAIT_EXIT.unreachable, `vigil wait: the daemon refused: ${error.message}`);
      }
      if (!transient) throw error;
      // Before the first answer, unreachable means a wrong address: say so at once. After it, the
      // daemon may be restarting (watches resume), so keep trying for a while.
      if (!last) return finish(WAIT_EXIT.unreachable, `vigil wait: ${errorMessage(error)}`);
      if (unreachableSince === undefined) {
        unreachableSince = now();
        write(
          `vigil wait: lost the daemon (${errorMessage(error)}); retrying for up to ${RECONNECT_WINDOW_MS / 1000} s\n`,
        );
      } else if (now() - unreachableSince > RECONNECT_WINDOW_MS) {
        return finish(WAIT_EXIT.unreachable, `vigil wait: ${errorMessage(error)}`);
      }
      await deps.sleep(Math.min(RECONNECT_DELAY_MS, Math.max(0, remaining)), signal).catch(() => undefined);
    }
  }
}
