/*
 * A source that is off — left out of `sources`, or its url empty (`VIGIL_LOKI_URL=` turns Loki off) — is
 * not an error: checks on it are inconclusive with this reason, and loading says so as a warning. Kept in
 * a file of its own so the config loader can use the words without importing the HTTP clients.
 */

/**
 * Why a check reads nothing from a source that is not there; the same words in load warnings and results.
 *
 * @example absentSourceReason('loki') // 'source loki is not configured (sources.loki is absent or its url empty)'
 * @example absentSourceReason('probes') // 'source probes has no probe results here (the daemon keeps them)'
 */
export function absentSourceReason(kind: 'prometheus' | 'loki' | 'probes'): string {
  // The probes source reads the daemon's store: one-shot commands without it cannot read probe results.
  if (kind === 'probes') return 'source probes has no probe results here (the daemon keeps them)';
  return `source ${kind} is not configured (sources.${kind} is absent or its url empty)`;
}
