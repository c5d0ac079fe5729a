// End-of-test output for Vigil and for people: the whole summary `data` as JSON at VIGIL_SUMMARY_PATH
// (Vigil reads it; it is richer than --summary-export: metric types, ok flags, the run's length) and a
// short text summary on stdout. Written by hand so scripts need no remote jslib import.

/**
 * @typedef {{ type: string, contains?: string, values: Record<string, number>,
 *             thresholds?: Record<string, { ok: boolean }> }} SummaryMetric
 * @typedef {{ metrics: Record<string, SummaryMetric>, state?: { testRunDurationMs?: number } }} SummaryData
 */

/** @param {number | undefined} value @param {string} unit */
function show(value, unit) {
  return value === undefined ? 'n/a' : `${Math.round(value * 100) / 100}${unit}`;
}

/**
 * A few lines: requests, failures, latency, checks, and every threshold with ✓ or ✗.
 *
 * @param {SummaryData} data
 * @returns {string}
 */
export function textSummary(data) {
  const m = data.metrics;
  const duration = m.http_req_duration?.values ?? {};
  const reqs = m.http_reqs?.values ?? {};
  const failed = m.http_req_failed?.values ?? {};
  const checks = m.checks?.values ?? {};
  const lines = [
    `duration   ${show((data.state?.testRunDurationMs ?? 0) / 1000, ' s')}`,
    `requests   ${reqs.count ?? 0} (${show(reqs.rate, '/s')})`,
    `failed     ${show(failed.rate === undefined ? undefined : failed.rate * 100, ' %')}`,
    `latency    avg ${show(duration.avg, ' ms')}  p95 ${show(duration['p(95)'], ' ms')}  p99 ${show(duration['p(99)'], ' ms')}`,
    `checks     ${checks.passes ?? 0} passed, ${checks.fails ?? 0} failed`,
    'thresholds',
  ];
  for (const name of Object.keys(m).sort()) {
    for (const [expression, outcome] of Object.entries(m[name]?.thresholds ?? {})) {
      lines.push(`  ${outcome.ok ? '✓' : '✗'} ${name} ${expression}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The `handleSummary` every profile exports.
 *
 * @param {SummaryData} data
 * @returns {Record<string, string>}
 */
export function handleSummary(data) {
  /** @type {Record<string, string>} */
  const out = { stdout: textSummary(data) };
  if (__ENV.VIGIL_SUMMARY_PATH) out[__ENV.VIGIL_SUMMARY_PATH] = JSON.stringify(data);
  return out;
}
