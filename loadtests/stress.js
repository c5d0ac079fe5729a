// Stress: ramp the arrival rate in steps past normal traffic (RATE) to 3× and hold, to see where
// latency and errors give. Thresholds stay the checklist's: a release that cannot take 3× fails here.
import { TREND_STATS, withChecklist } from './lib/env.js';
import { visit } from './lib/journey.js';

export { handleSummary } from './lib/summary.js';

const RATE = Number(__ENV.RATE || 20);

/** @type {import('k6/options').Options} */
export const options = {
  scenarios: {
    ramp: {
      executor: 'ramping-arrival-rate',
      startRate: Math.ceil(RATE / 2),
      timeUnit: '1s',
      preAllocatedVUs: RATE * 2,
      maxVUs: RATE * 10,
      stages: [
        { duration: '2m', target: RATE },
        { duration: '3m', target: RATE * 2 },
        { duration: '3m', target: RATE * 3 },
        { duration: '2m', target: RATE * 3 },
        { duration: '1m', target: 0 },
      ],
    },
  },
  thresholds: withChecklist({
    // Stop early once errors are clearly out of bounds: no point hammering a falling service.
    http_req_failed: [{ threshold: 'rate<0.01', abortOnFail: true, delayAbortEval: '30s' }],
  }),
  summaryTrendStats: TREND_STATS,
  tags: { profile: 'stress' },
};

export default function () {
  visit();
}
