import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface DemoFilesOptions {
  dir: string;
  targetUrl: string;
  prometheusUrl?: string;
  sinkUrl: string;
  secret: string;
  apiToken: string;
  /** The k6 executable, when one was found: the good deploy then runs a short load phase. */
  k6Path?: string;
}

/** Watch timings short enough for the demo's two-minute budget, long enough for 1 s scrapes. */
export const DEMO_WATCH = {
  goodDurationS: 20,
  evaluationIntervalS: 2,
  windowS: 10,
  minWindowS: 4,
  failureLimit: 2,
  /** The load phase, when k6 is on PATH: a few users for a few seconds, enough to show the phase. */
  load: { vus: 2, durationS: 5 },
} as const;

/** The demo's k6 profile: bookings and payments as the user traffic sends them. ES2017, like every k6 script Vigil ships. */
const LOAD_SCRIPT = `// The demo's load phase: a few users booking and paying against the demo service.
import http from 'k6/http';
import { check, sleep } from 'k6';

export const options = {
  thresholds: { http_req_failed: ['rate<0.01'], http_req_duration: ['p(95)<500'] },
};

const JSON_HEADERS = { headers: { 'Content-Type': 'application/json' } };

export default function () {
  const booking = http.post(
    __ENV.BASE_URL + '/api/bookings',
    JSON.stringify({ kitchenId: 'k-3', slot: '2026-12-03T12:00:00Z' }),
    JSON_HEADERS,
  );
  check(booking, { 'booking created': (r) => r.status === 201 });
  const payment = http.post(
    __ENV.BASE_URL + '/api/payments',
    JSON.stringify({ amount: 4200, currency: 'EUR' }),
    JSON_HEADERS,
  );
  check(payment, { 'payment accepted': (r) => r.status < 300 });
  sleep(0.2);
}
`;

const PROBES = `# The demo service's probes: smoke checks that gate the deploy, and a booking journey.
- name: health
  kind: smoke
  interval: 1s
  timeout: 2s
  request: { method: GET, path: /health }
  expect:
    - status: 200
    - jsonPath: $.status
      equals: ok
    - jsonPath: $.dependencies.database
      equals: ok
    - latencyMs: { lt: 500 }
- name: ready
  kind: smoke
  interval: 1s
  timeout: 2s
  request: { method: GET, path: /ready }
  expect: [ { status: 200 } ]
- name: live
  kind: smoke
  interval: 1s
  timeout: 2s
  request: { method: GET, path: /live }
  expect: [ { status: 200 } ]
- name: booking-journey
  kind: synthetic
  interval: 1s
  timeout: 5s
  failureThreshold: 2
  steps:
    - name: create
      request: { method: POST, path: /api/bookings, json: { kitchenId: k-1, slot: "2026-12-01T10:00:00Z" } }
      expect: [ { status: 201 } ]
      extract: { bookingId: $.id }
    - name: read
      request: { method: GET, path: "/api/bookings/{{bookingId}}" }
      expect: [ { status: 200 }, { jsonPath: $.id, equals: "{{bookingId}}" } ]
  teardown:
    - request: { method: DELETE, path: "/api/bookings/{{bookingId}}" }
`;

const PROMETHEUS_SLOS = `# SLO checks judged from the Prometheus that scrapes the demo service every second.
- name: error-rate
  source: prometheus
  query: |
    (sum(rate(http_requests_total{job="prep-api",route=~"/api/.*",code=~"5.."}[{{window}}])) or vector(0))
    / sum(rate(http_requests_total{job="prep-api",route=~"/api/.*"}[{{window}}]))
  objective: { lt: 0.01 }
  critical: true
- name: p95-latency
  source: prometheus
  query: histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{job="prep-api",route=~"/api/.*"}[{{window}}])))
  objective: { lt: 0.5 }
  # Against the version before the deploy too: at most 250 ms slower than the same window before it.
  baseline: { from: pre-deploy, maxIncrease: 0.25 }
- name: journey-availability
  source: probes
  sli: { probe: booking-journey, measure: successRatio }
  window: 1m   # the probes source keeps per-minute rollups; a watch judges only its post-deploy part
  objective: { gte: 0.99 }
`;

const PROBE_SLOS = `# No Prometheus on PATH: SLO checks judged from Vigil's own probe results.
- name: journey-availability
  source: probes
  sli: { probe: booking-journey, measure: successRatio }
  window: 1m   # the probes source keeps per-minute rollups; a watch judges only its post-deploy part
  objective: { gte: 0.99 }
  critical: true
- name: journey-p95-latency
  source: probes
  sli: { probe: booking-journey, measure: latencyP95 }
  window: 1m
  baseline: { from: pre-deploy, maxIncrease: 0.5 }
  # A journey is two requests (create, read): the bad version's 650 ms each is 1.3 s, the good one's
  # tens of ms; 1 s keeps a slow first run on a busy machine from failing the good deploy.
  objective: { lt: 1 }
`;

/**
 * Writes the demo's config (vigil.yaml, probes/, slo/) into `dir`, in the same shape as the shipped
 * Prep config, so the demo exercises the real loader and validation. Returns the root file's path.
 *
 * @example const file = writeDemoFiles({ dir, targetUrl, sinkUrl, secret, apiToken });
 */
export function writeDemoFiles(options: DemoFilesOptions): string {
  mkdirSync(join(options.dir, 'probes'), { recursive: true });
  mkdirSync(join(options.dir, 'slo'), { recursive: true });
  writeFileSync(join(options.dir, 'probes', 'demo.yaml'), PROBES);
  writeFileSync(join(options.dir, 'slo', 'demo.yaml'), options.prometheusUrl ? PROMETHEUS_SLOS : PROBE_SLOS);
  if (options.k6Path) {
    mkdirSync(join(options.dir, 'loadtests'), { recursive: true });
    writeFileSync(join(options.dir, 'loadtests', 'demo.js'), LOAD_SCRIPT);
  }
  const root = [
    'service: prep-api',
    `target: { baseUrl: "${options.targetUrl}" }`,
    `server: { listen: "127.0.0.1:0", apiToken: "${options.apiToken}" }`,
    `storage: { path: "${join(options.dir, 'vigil.db')}" }`,
    ...(options.prometheusUrl
      ? [`sources: { prometheus: { url: "${options.prometheusUrl}", timeout: 2s, scrapeInterval: 1s } }`]
      : []),
    'probes: [probes/*.yaml]',
    'slos: [slo/*.yaml]',
    ...(options.k6Path
      ? [
          'loadtests:',
          `  k6: "${options.k6Path}"`,
          '  profiles:',
          `    demo: { script: loadtests/demo.js, vus: ${DEMO_WATCH.load.vus}, duration: ${DEMO_WATCH.load.durationS}s }`,
        ]
      : []),
    'watch:',
    `  duration: ${DEMO_WATCH.goodDurationS}s`,
    // The load phase is asked for per watch (the good deploy), when k6 is there.
    '  phases: [smoke, bake]',
    ...(options.k6Path ? ['  loadProfile: demo'] : []),
    `  evaluationInterval: ${DEMO_WATCH.evaluationIntervalS}s`,
    `  window: ${DEMO_WATCH.windowS}s`,
    // A few seconds of post-deploy data is enough at 1 s scrapes and 1 s probe runs; the default
    // (2 × the source's scrape interval, 2m for the per-minute probe rollups) outlasts the demo's watch.
    `  minWindow: ${DEMO_WATCH.minWindowS}s`,
    '  smokeTimeout: 15s',
    `  failureLimit: ${DEMO_WATCH.failureLimit}`,
    '  inconclusiveLimit: 30s',
    'actions:',
    '  rollback:',
    `    - { name: demo-sink, url: "${options.sinkUrl}", secret: "${options.secret}", timeout: 2s }`,
    '',
  ].join('\n');
  const file = join(options.dir, 'vigil.yaml');
  writeFileSync(file, root);
  return file;
}
