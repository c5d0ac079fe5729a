// Load: average production traffic as a fixed arrival rate (independent of how fast the service
// answers, so a slow release shows as latency and dropped iterations, not as less traffic).
// RATE (visits per second) and DURATION may be set through the profile's env.
import { TREND_STATS, withChecklist } from './lib/env.js';
import { visit } from './lib/journey.js';

export { handleSummary } from './lib/summary.js';

const RATE = Number(__ENV.RATE || 20);

/** @type {import('k6/options').Options} */
export const options = {
  scenarios: {
    average: {
      executor: 'constant-arrival-rate',
      rate: RATE,
      timeUnit: '1s',
      duration: __ENV.DURATION || '5m',
      preAllocatedVUs: Math.max(5, RATE),
      maxVUs: RATE * 5,
    },
  },
  // The target rate must actually be delivered for the result to mean anything.
  thresholds: withChecklist({ dropped_iterations: ['count<1'] }),
  summaryTrendStats: TREND_STATS,
  tags: { profile: 'load' },
};

export default function () {
  visit();
}
