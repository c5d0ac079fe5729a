// Spike: normal traffic, a sudden jump to 10× for one minute, and back — does the service absorb a
// burst (a marketing mail, a retry storm) and recover?
import { TREND_STATS, withChecklist } from './lib/env.js';
import { visit } from './lib/journey.js';

export { handleSummary } from './lib/summary.js';

const RATE = Number(__ENV.RATE || 20);

/** @type {import('k6/options').Options} */
export const options = {
  scenarios: {
    spike: {
      executor: 'ramping-arrival-rate',
      startRate: RATE,
      timeUnit: '1s',
      preAllocatedVUs: RATE * 5,
      maxVUs: RATE * 20,
      stages: [
        { duration: '1m', target: RATE },
        { duration: '10s', target: RATE * 10 },
        { duration: '1m', target: RATE * 10 },
        { duration: '10s', target: RATE },
        { duration: '2m', target: RATE },
      ],
    },
  },
  thresholds: withChecklist({
    // During the burst itself a looser latency bound; the whole run still has to meet the checklist.
    'http_req_duration{flow:booking}': ['p(95)<1000'],
  }),
  summaryTrendStats: TREND_STATS,
  tags: { profile: 'spike' },
};

export default function () {
  visit();
}
