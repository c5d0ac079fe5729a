/**
 * Where finished exchanges wait to be judged (assertions, result, metrics, rollup): one at a time, each
 * in a check phase of its own.
 */
export interface JudgeTurns {
  /** Resolves in a later check phase, after every waiter queued before it, and alone in its phase. */
  next(): Promise<void>;
}

/**
 * A probe's end time is read when Node processes its socket, so any JavaScript running when its bytes
 * arrive is added to its measured time. A judgment per `setImmediate` let every exchange that finished in
 * one poll phase be judged back to back in the next check phase (several × ~0.3 ms at 300 probes/s), and
 * a response arriving meanwhile waited for all of them. Here each check phase releases one waiter, so
 * the loop goes back to the poll phase (reading ready sockets, their end times with them) between two
 * judgments: the wait behind judging is at most one judgment. One queue serves every prober of a daemon.
 *
 * @example
 *   const turns = createJudgeTurns();
 *   const exchange = await timedRequest(request, options);
 *   await turns.next(); // judged alone in its check phase
 */
export function createJudgeTurns(): JudgeTurns {
  const waiting: (() => void)[] = [];
  let scheduled = false;
  const releaseOne = (): void => {
    const resolve = waiting.shift();
    // Queued from inside the check phase, the next release runs in the next loop turn, after its poll phase.
    scheduled = waiting.length > 0;
    if (scheduled) setImmediate(releaseOne);
    resolve?.();
  };
  return {
    next() {
      return new Promise<void>((resolve) => {
        waiting.push(resolve);
        if (!scheduled) {
          scheduled = true;
          setImmediate(releaseOne);
        }
      });
    },
  };
}
