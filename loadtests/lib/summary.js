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
 * A metric's values, or an empty object when k6 did not report the metric (no `?.`/`??`: k6 before
 * v0.52 parses ES2017 only).
 *
 * @param {Record<string, SummaryMetric>} metrics @param {string} name
 * @returns {Record<string, number | undefined>}
 */
function valuesOf(metrics, name) {
  const metric = metrics[name];
  return metric ? metric.values : {};
}

/** @param {number | undefined} value @param {number} fallback */
function or(value, fallback) {
  return value === undefined ? fallback : value;
}

/**
 * A few lines: requests, failures, latency, checks, and every threshold with ✓ or ✗.
 *
 * @param {SummaryData} data
 * @returns {string}
 */
export function textSummary(data) {
  const m = data.metrics;
  const duration = valuesOf(m, 'http_req_duration');
  const reqs = valuesOf(m, 'http_reqs');
  const failed = valuesOf(m, 'http_req_failed');
  const checks = valuesOf(m, 'checks');
  const runMs = data.state && data.state.testRunDurationMs !== undefined ? data.state.testRunDurationMs : 0;
  const lines = [
    `duration   ${show(runMs / 1000, ' s')}`,
    `requests   ${or(reqs.count, 0)} (${show(reqs.rate, '/s')})`,
    `failed     ${show(failed.rate === undefined ? undefined : failed.rate * 100, ' %')}`,
    `latency    avg ${show(duration.avg, ' ms')}  p95 ${show(duration['p(95)'], ' ms')}  p99 ${show(duration['p(99)'], ' ms')}`,
    `checks     ${or(checks.passes, 0)} passed, ${or(checks.fails, 0)} failed`,
    'thresholds',
  ];
  for (const name of Object.keys(m).sort()) {
    const thresholds = m[name].thresholds || {};
    for (const expression of Object.keys(thresholds)) {
      lines.push(`  ${thresholds[expression].ok ? '✓' : '✗'} ${name} ${expression}`);
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
