// Soak: low, steady traffic for hours (DURATION, default 4h) — leaks, exhausted pools and slow drifts
// show up only with time. Meant for a nightly schedule (loadtests.schedule), with `timeout` set above
// DURATION in the profile.

import { sleep } from 'k6';
import { TREND_STATS, withChecklist } from './lib/env.js';
import { visit } from './lib/journey.js';

export { handleSummary } from './lib/summary.js';

/** @type {import('k6/options').Options} */
export const options = {
  scenarios: {
    soak: {
      executor: 'constant-vus',
      vus: Number(__ENV.VUS || 5),
      duration: __ENV.DURATION || '4h',
    },
  },
  thresholds: withChecklist({ 'http_req_duration{flow:booking}': ['p(99)<1000'] }),
  summaryTrendStats: TREND_STATS,
  tags: { profile: 'soak' },
};

export default function () {
  visit();
  sleep(2);
}
