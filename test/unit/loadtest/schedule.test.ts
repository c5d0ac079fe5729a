import { describe, expect, it } from 'vitest';
import type { LoadRunResult, RunOptions } from '../../../src/loadtest/runner.js';
import { type CronScheduler, startLoadSchedule, validateCron } from '../../../src/loadtest/schedule.js';
import { silentLogger } from '../../../src/telemetry/logger.js';

describe('cron expressions', () => {
  it.each([['0 3 * * *'], ['*/30 * * * * *'], ['@daily'], ['15 2 * * 1-5']])('accepts %s', (expression) => {
    expect(validateCron(expression)).toBeUndefined();
  });

  it.each([
    ['61 * * * *', 'minute: 61 is a invalid expression for minute'],
    ['0 3 * *', 'expected 5 or 6 fields but got 4'],
    ['nightly', 'expected 5 or 6 fields but got 1'],
  ])('rejects %s with the reason', (expression, message) => {
    expect(validateCron(expression)).toBe(`invalid cron expression "${expression}": ${message}`);
  });
});

/** A scheduler the test fires by hand: records each task's expression and tick. */
function manualScheduler() {
  const tasks: { expression: string; name: string; tick: () => void; stopped: boolean }[] = [];
  const scheduler: CronScheduler = (expression, tick, name) => {
    const task = { expression, name, tick, stopped: false };
    tasks.push(task);
    return { stop: () => (task.stopped = true) };
  };
  return { scheduler, tasks };
}

function fakeRunner() {
  const calls: { profile: string; options: RunOptions; finish: () => void }[] = [];
  return {
    calls,
    run(profile: string, options: RunOptions = {}): Promise<LoadRunResult> {
      return new Promise((resolve, reject) => {
        const finish = () =>
          resolve({ runId: `lr_${calls.length}`, check: { result: 'pass' } } as LoadRunResult);
        options.signal?.addEventListener('abort', () => reject(new Error('cancelled')));
        calls.push({ profile, options, finish });
      });
    },
  };
}

describe('scheduled load runs', () => {
  it('runs the profile with trigger "schedule" on each tick, skipping a tick while the last run goes on', async () => {
    const { scheduler, tasks } = manualScheduler();
    const runner = fakeRunner();
    const results: string[] = [];
    const schedule = startLoadSchedule({
      entries: [{ profile: 'soak', cron: '0 3 * * *' }],
      runner,
      logger: silentLogger(),
      scheduler,
      onResult: (entry, result) => results.push(`${entry.profile}:${result.runId}`),
    });
    expect(tasks.map((t) => t.expression)).toEqual(['0 3 * * *']);
    tasks[0]?.tick();
    tasks[0]?.tick();
    expect(runner.calls).toHaveLength(1);
    expect(runner.calls[0]?.options.trigger).toBe('schedule');
    runner.calls[0]?.finish();
    await new Promise((r) => setImmediate(r));
    expect(results).toEqual(['soak:lr_1']);
    tasks[0]?.tick();
    expect(runner.calls).toHaveLength(2);
    await schedule.stop();
    expect(tasks[0]?.stopped).toBe(true);
    expect(runner.calls[1]?.options.signal?.aborted).toBe(true);
    tasks[0]?.tick();
    expect(runner.calls).toHaveLength(2);
  });
});
