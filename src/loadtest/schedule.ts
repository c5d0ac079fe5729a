import { schedule as cronSchedule, validateDetailed } from 'node-cron';
import { errorMessage } from '../errors.js';
import type { Logger } from '../telemetry/logger.js';
import type { LoadRunner, LoadRunResult } from './runner.js';

/**
 * `loadtests.schedule`: profiles run on a cron schedule outside watches (a nightly soak, an hourly
 * smoke), recorded like any run with trigger `schedule`. They share the runner's queue, so a
 * scheduled run never overlaps a watch's load phase; a schedule entry whose previous run is still
 * going (or queued) skips that tick instead of piling up.
 */

/**
 * Checks a cron expression (5 fields, or 6 with seconds first; `@daily` and friends). Returns the
 * problem as text, or undefined when valid — for the config loader to report at load.
 *
 * @example validateCron('61 * * * *') // 'invalid cron expression "61 * * * *": minute: 61 is a invalid expression for minute'
 */
export function validateCron(expression: string): string | undefined {
  const result = validateDetailed(expression);
  if (result.valid) return undefined;
  const problems = result.errors.map((e) =>
    e.field === 'expression' ? e.message : `${e.field}: ${e.message}`,
  );
  const detail = problems.length > 0 ? `: ${problems.join('; ')}` : '';
  return `invalid cron expression "${expression}"${detail}`;
}

/** Starts a task that calls `tick` at each matching time; `stop` ends it. */
export type CronScheduler = (expression: string, tick: () => void, name: string) => { stop(): void };

/** The real scheduler: node-cron 4 (wall-clock time, the process's time zone). */
export const nodeCronScheduler: CronScheduler = (expression, tick, name) => {
  const task = cronSchedule(expression, tick, { name });
  return {
    stop: () => {
      void task.destroy();
    },
  };
};

export interface LoadScheduleOptions {
  entries: readonly { profile: string; cron: string }[];
  runner: Pick<LoadRunner, 'run'>;
  logger: Logger;
  scheduler?: CronScheduler;
  /** Told about every scheduled run's result (e.g. to alert on a failed nightly soak). */
  onResult?: (entry: { profile: string; cron: string }, result: LoadRunResult) => void;
}

export interface LoadSchedule {
  /** Stops the cron tasks and cancels scheduled runs in progress; resolves when they have ended. */
  stop(): Promise<void>;
}

/**
 * Starts the cron tasks of `loadtests.schedule`.
 *
 * @example
 *   const schedule = startLoadSchedule({ entries: config.loadtests.schedule, runner, logger });
 *   // on shutdown or reload:
 *   await schedule.stop();
 */
export function startLoadSchedule(options: LoadScheduleOptions): LoadSchedule {
  const scheduler = options.scheduler ?? nodeCronScheduler;
  const log = options.logger.child({ component: 'loadtest-schedule' });
  const stopping = new AbortController();
  const inFlight = new Set<Promise<void>>();

  const tasks = options.entries.map((entry, index) => {
    let running = false;
    const tick = (): void => {
      if (stopping.signal.aborted) return;
      if (running) {
        log.warn(
          { profile: entry.profile, cron: entry.cron },
          'previous scheduled run still going; skipping',
        );
        return;
      }
      running = true;
      const done = options.runner
        .run(entry.profile, { trigger: 'schedule', signal: stopping.signal })
        .then(
          (result) => {
            log.info(
              { profile: entry.profile, runId: result.runId, result: result.check.result },
              'scheduled load run finished',
            );
            options.onResult?.(entry, result);
          },
          (error: unknown) =>
            log.error({ profile: entry.profile, err: errorMessage(error) }, 'scheduled load run failed'),
        )
        .finally(() => {
          running = false;
          inFlight.delete(done);
        });
      inFlight.add(done);
    };
    return scheduler(entry.cron, tick, `loadtest:${entry.profile}:${index}`);
  });

  return {
    async stop() {
      for (const task of tasks) task.stop();
      stopping.abort(new Error('the daemon is stopping'));
      await Promise.all([...inFlight]);
    },
  };
}
