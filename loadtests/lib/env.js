// Settings every Prep profile shares, from k6 environment variables. Vigil sets BASE_URL (always its
// configured target) and VIGIL_SUMMARY_PATH; API_TOKEN comes from the profile's `env` in vigil.yaml.
// Like every file under loadtests/, written in ES2017 + ES modules: k6 before v0.52 parses nothing newer
// (no `?.`, `??`, object spread, numeric separators, class fields); CI and `vigil validate` check it.

/** The service under test, without a trailing slash. */
export const BASE_URL = (__ENV.BASE_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');

/** Bearer token for the Prep API; empty means no Authorization header. */
export const API_TOKEN = __ENV.API_TOKEN || '';

/**
 * The checklist's thresholds (error rate < 1 %, p95 < 500 ms) plus the checks pass rate. Profiles may
 * add their own; these are the floor.
 *
 * @type {NonNullable<import('k6/options').Options['thresholds']>}
 */
export const CHECKLIST_THRESHOLDS = {
  http_req_failed: ['rate<0.01'],
  http_req_duration: ['p(95)<500'],
  checks: ['rate>0.99'],
};

/**
 * The checklist's thresholds plus a profile's own; a profile's entry for a metric replaces the
 * checklist's. `Object.assign`, not object spread: k6 before v0.52 parses ES2017 only.
 *
 * @param {NonNullable<import('k6/options').Options['thresholds']>} extra
 * @returns {NonNullable<import('k6/options').Options['thresholds']>}
 */
export function withChecklist(extra) {
  return Object.assign({}, CHECKLIST_THRESHOLDS, extra);
}

/** Trend statistics shown and exported; p(99) is not in k6's default set. */
export const TREND_STATS = ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'];

/**
 * Request parameters: JSON, the auth header when a token is set, and tags that name the endpoint
 * (so thresholds and dashboards can split by `endpoint` and `flow`).
 *
 * @param {string} endpoint  a low-cardinality route name, e.g. 'GET /api/bookings/:id'
 * @param {string} flow      the journey this request belongs to
 * @returns {import('k6/http').RefinedParams<'text'>}
 */
export function params(endpoint, flow) {
  /** @type {Record<string, string>} */
  const headers = { 'Content-Type': 'application/json', Accept: 'application/json' };
  if (API_TOKEN) headers.Authorization = `Bearer ${API_TOKEN}`;
  return { headers, tags: { name: endpoint, endpoint, flow } };
}
