/**
 * Runs a committed transaction's `afterCommit` callbacks, in order. The commit stands whatever a callback
 * does: each one runs, and the first error is thrown once all have run.
 *
 * @example runAfterCommit(committed); // after COMMIT, with the engine's lock released
 */
export function runAfterCommit(callbacks: readonly (() => void)[]): void {
  let failure: { error: unknown } | undefined;
  for (const callback of callbacks) {
    try {
      callback();
    } catch (error) {
      failure ??= { error };
    }
  }
  if (failure) throw failure.error;
}
