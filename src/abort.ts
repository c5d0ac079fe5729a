/**
 * Settles with `work`, or rejects as soon as `signal` aborts — with `reason()` when given, else the
 * signal's reason. For callers that must not wait for work stuck until its own timeout (a shutdown, a
 * caller's deadline while a retry policy sleeps); the work itself got the same signal and stops its IO.
 * A late rejection of `work` after the abort is swallowed.
 *
 * @example await untilAborted(runProbe(probe, { signal }), signal)
 */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal, reason?: () => unknown): Promise<T> {
  const abortError = (): unknown => (reason ? reason() : signal.reason);
  if (signal.aborted) {
    work.catch(() => undefined);
    return Promise.reject(abortError());
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      work.catch(() => undefined);
      reject(abortError());
    };
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
