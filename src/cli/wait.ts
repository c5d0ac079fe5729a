import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { parseDurationMs } from '../config/units.js';
import { errorMessage } from '../errors.js';
import { displayKey, renderBlock, renderLine } from '../watch/display.js';
import { untilReached, WAIT_EXIT, WAIT_UNTIL, type WaitUntil, waitOutcome } from '../watch/outcome.js';
import type { Verdict } from '../watch/types.js';
import {
  createDaemonClient,
  type DaemonClient,
  DaemonHttpError,
  DaemonUnreachableError,
  resolveServer,
} from './client.js';
import type { CliContext, Command } from './types.js';

export const WAIT_USAGE =
  'usage: vigil wait ID [--until smoke|load|complete] [--timeout D] [--server URL] [--json]\n' +
  'exit: 0 pass or warn, 1 fail, 2 inconclusive, 3 timeout, 4 cannot reach the daemon,\n' +
  '      5 held for a decision (vigil watch promote|rollback ID), 64 usage error\n';

/** A terminal gets a refreshed block this often; a log gets a line only when something changed. */
const TTY_REFRESH_MS = 3_000;
const LOG_POLL_MS = 30_000;
/** Once following, a daemon restart is ridden out for this long before giving up with exit 4. */
const RECONNECT_WINDOW_MS = 60_000;
const RECONNECT_DELAY_MS = 1_000;

interface WaitOptions {
  id: string;
  until: WaitUntil;
  timeoutMs: number | undefined;
  server: string | undefined;
  json: boolean;
}

function parse(argv: string[]): WaitOptions | string {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: {
        until: { type: 'string', default: 'complete' },
        timeout: { type: 'string' },
        server: { type: 'string' },
        json: { type: 'boolean', default: false },
        config: { type: 'string', short: 'c' },
      },
      strict: true,
      allowPositionals: true,
    });
    if (positionals.length !== 1) return 'expected exactly one watch ID';
    if (!(WAIT_UNTIL as readonly string[]).includes(values.until))
      return `--until must be one of ${WAIT_UNTIL.join(', ')}`;
    const timeoutMs = values.timeout === undefined ? undefined : parseDurationMs(values.timeout);
    if (values.timeout !== undefined && timeoutMs === undefined)
      return `invalid --timeout "${values.timeout}"`;
    return {
      id: positionals[0] as string,
      until: values.until as WaitUntil,
      timeoutMs,
      server: values.server,
      json: values.json,
    };
  } catch (error) {
    return errorMessage(error);
  }
}

/**
 * `vigil wait ID` (DESIGN §2): follows a watch by long poll until it finished the `--until` phase or
 * ended, showing phase, elapsed time and check states on stderr (a refreshed block on a terminal, plain
 * lines otherwise). Exit 0 pass or warn, 1 fail, 2 inconclusive (or aborted), 3 timeout, 4 the daemon
 * cannot be reached (or does not know the watch), 5 held for an operator's decision, 64 usage error.
 * `--json` prints the verdict object on stdout.
 *
 * @example await wait({ argv: ['w_01…', '--until', 'smoke'], stdout, stderr, env, signal }) // 0
 */
export const wait: Command = async (ctx: CliContext) => {
  const options = parse(ctx.argv);
  if (typeof options === 'string') {
    ctx.stderr.write(`vigil wait: ${options}\n${WAIT_USAGE}`);
    return WAIT_EXIT.usage;
  }
  const client = createDaemonClient(resolveServer(options.server, ctx.env));
  try {
    return await follow(ctx, options, client);
  } finally {
    await client.close();
  }
};

async function follow(ctx: CliContext, options: WaitOptions, client: DaemonClient): Promise<number> {
  const tty = (ctx.stderr as { isTTY?: boolean }).isTTY === true;
  const deadline =
    options.timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + options.timeoutMs;
  const timeout = options.timeoutMs === undefined ? undefined : AbortSignal.timeout(options.timeoutMs);
  const signal = timeout ? AbortSignal.any([ctx.signal, timeout]) : ctx.signal;
  let last: Verdict | undefined;
  let shownLines = 0;
  let shownKey = '';
  let unreachableSince: number | undefined;

  const show = (verdict: Verdict): void => {
    const now = Date.now();
    if (tty) {
      const lines = renderBlock(verdict, now);
      // Move up over the previous block and clear it, so the display refreshes in place.
      const clear = shownLines > 0 ? `\x1b[${shownLines}A\x1b[0J` : '';
      ctx.stderr.write(`${clear}${lines.join('\n')}\n`);
      shownLines = lines.length;
    } else if (displayKey(verdict) !== shownKey) {
      ctx.stderr.write(`${renderLine(verdict, now)}\n`);
      shownKey = displayKey(verdict);
    }
  };
  const finish = (code: number, message: string): number => {
    ctx.stderr.write(`${message}\n`);
    if (options.json && last) ctx.stdout.write(`${JSON.stringify(last)}\n`);
    return code;
  };

  for (;;) {
    const remaining = deadline - Date.now();
    if (remaining <= 0 || timeout?.aborted) {
      return finish(
        WAIT_EXIT.timeout,
        `vigil wait: timed out after ${options.timeoutMs} ms (${last?.phase ?? 'no answer'})`,
      );
    }
    if (ctx.signal.aborted) return finish(WAIT_EXIT.timeout, 'vigil wait: interrupted');
    try {
      const verdict = await client.verdict(
        options.id,
        {
          // The first request answers at once: the state is shown, and the daemon is known to be there.
          waitMs: last ? Math.min(tty ? TTY_REFRESH_MS : LOG_POLL_MS, remaining) : 0,
          until: options.until,
          ...(last ? { since: last.updatedAt } : {}),
        },
        signal,
      );
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
      unreachableSince ??= Date.now();
      // Before the first answer, unreachable means a wrong address: say so at once. After it, the
      // daemon may be restarting (watches resume), so keep trying for a while.
      if (!last || Date.now() - unreachableSince > RECONNECT_WINDOW_MS) {
        return finish(WAIT_EXIT.unreachable, `vigil wait: ${errorMessage(error)}`);
      }
      await sleep(Math.min(RECONNECT_DELAY_MS, Math.max(0, remaining)), undefined, { signal }).catch(
        () => undefined,
      );
    }
  }
}
