/** A probe's settled health: one blip does not flip it (DESIGN §4 failureThreshold/successThreshold). */
export type ProbeHealth = 'unknown' | 'up' | 'down';

export interface ProbeState {
  readonly health: ProbeHealth;
  readonly consecutiveSuccesses: number;
  readonly consecutiveFailures: number;
  /** When health last changed, ms since epoch (undefined while unknown). */
  readonly changedAt?: number;
}

export interface Thresholds {
  failureThreshold: number;
  successThreshold: number;
}

/** The state before any result. */
export const INITIAL_PROBE_STATE: ProbeState = {
  health: 'unknown',
  consecutiveSuccesses: 0,
  consecutiveFailures: 0,
};

/**
 * Folds one result into a probe's state: health turns `down` after `failureThreshold` consecutive
 * failures and `up` after `successThreshold` consecutive successes; anything shorter keeps it as it was.
 * Pure, so the flap rules are tested without probes or time.
 *
 * @example
 *   let s = INITIAL_PROBE_STATE;
 *   s = nextProbeState(s, true, { failureThreshold: 2, successThreshold: 1 }, 0);  // up
 *   s = nextProbeState(s, false, { failureThreshold: 2, successThreshold: 1 }, 1); // still up
 */
export function nextProbeState(
  state: ProbeState,
  success: boolean,
  thresholds: Thresholds,
  at: number,
): ProbeState {
  const consecutiveSuccesses = success ? state.consecutiveSuccesses + 1 : 0;
  const consecutiveFailures = success ? 0 : state.consecutiveFailures + 1;
  let health = state.health;
  if (success && consecutiveSuccesses >= thresholds.successThreshold) health = 'up';
  if (!success && consecutiveFailures >= thresholds.failureThreshold) health = 'down';
  const changed = health !== state.health;
  return {
    health,
    consecutiveSuccesses,
    consecutiveFailures,
    ...(changed ? { changedAt: at } : state.changedAt !== undefined ? { changedAt: state.changedAt } : {}),
  };
}
