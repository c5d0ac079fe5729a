/** One continuous evaluation of one service, as the fleet bench's daemon records it (epoch ms). */
export interface Evaluation {
  /** Which service's loop (a number per evaluator, in the order they first slept). */
  lane: number;
  startedAt: number;
  endedAt: number;
}

/** The evaluations of all services that one tick of the evaluation interval started. */
export interface Tick {
  startedAt: number;
  /** When the last of them started: how far apart the services' loops tick. */
  lastStartedAt: number;
  /** When the last of them ended. */
  endedAt: number;
  evaluations: number;
}

/**
 * Groups evaluations into ticks: every service's loop ticks on the same interval, so evaluations starting
 * within `gapMs` of the previous one belong to the same tick. A tick's span (endedAt − startedAt) is how
 * long the whole fleet took to evaluate once.
 *
 * @example fleetTicks(evaluations, 15_000).map((t) => t.endedAt - t.startedAt)
 */
export function fleetTicks(evaluations: readonly Evaluation[], gapMs: number): Tick[] {
  const sorted = [...evaluations].sort((a, b) => a.startedAt - b.startedAt);
  const ticks: Tick[] = [];
  for (const e of sorted) {
    const current = ticks.at(-1);
    if (current === undefined || e.startedAt - current.lastStartedAt > gapMs) {
      ticks.push({ startedAt: e.startedAt, lastStartedAt: e.startedAt, endedAt: e.endedAt, evaluations: 1 });
    } else {
      current.lastStartedAt = e.startedAt;
      current.endedAt = Math.max(current.endedAt, e.endedAt);
      current.evaluations++;
    }
  }
  return ticks;
}

/**
 * Splits `values` by whether their time (`at`, same order) falls inside a tick (from its first start to
 * its last end): what the evaluations cost whatever else shares the daemon's event loop.
 *
 * @example const { inside, outside } = splitByTicks(m.lagsMs, m.lagAt, ticks);
 */
export function splitByTicks(
  values: readonly number[],
  at: readonly number[],
  ticks: readonly Tick[],
): { inside: number[]; outside: number[] } {
  const inside: number[] = [];
  const outside: number[] = [];
  values.forEach((value, i) => {
    const t = at[i] as number;
    (ticks.some((tick) => t >= tick.startedAt && t <= tick.endedAt) ? inside : outside).push(value);
  });
  return { inside, outside };
}
