// Smoke: one or two users walking every journey for 30 s, right after a deploy. Catches a broken
// endpoint, not a capacity problem. Vigil may override vus/duration from vigil.yaml.

import { sleep } from 'k6';
import { CHECKLIST_THRESHOLDS, TREND_STATS } from './lib/env.js';
import { visit } from './lib/journey.js';

export { handleSummary } from './lib/summary.js';

/** @type {import('k6/options').Options} */
export const options = {
  vus: 2,
  duration: '30s',
  thresholds: CHECKLIST_THRESHOLDS,
  summaryTrendStats: TREND_STATS,
  tags: { profile: 'smoke' },
};

export default function () {
  visit();
  sleep(1);
}
