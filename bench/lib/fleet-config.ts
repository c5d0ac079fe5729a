import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { trafficOpenMetrics } from './prometheus.js';

/** Routes each service's traffic series and SLO queries spread over. */
export const FLEET_ROUTES = 2;

export interface FleetConfigOptions {
  dir: string;
  /** One base URL per service (its own loopback address, so the per-host cap is per service as in production). */
  targetUrls: readonly string[];
  probesPerService: number;
  intervalS: number;
  evaluationIntervalS: number;
  /** Without it the services have no SLOs (Prometheus not installed). */
  prometheusUrl?: string;
}

/**
 * The name of the `index`-th service of the bench fleet.
 *
 * @example fleetServiceName(7) // "svc-007"
 */
export function fleetServiceName(index: number): string {
  return `svc-${String(index).padStart(3, '0')}`;
}

/*
 * Eight SLOs per service in one shared file, naming the service as {{service}} (DESIGN §4), in the mix of
 * bench/slo-cycle.ts: three with an objective only, two with a pre-deploy baseline, one with a 1d offset
 * baseline judged by Mann-Whitney, and two error ratios with a target and a budget window (a main check
 * plus a burn-rate check): ten checks per service.
 */
function sloYaml(): string {
  const out: string[] = [];
  for (let i = 0; i < 8; i++) {
    const selector = `service="{{service}}",route="/r${i % FLEET_ROUTES}"`;
    const rate = `sum(rate(http_requests_total{${selector}}[{{window}}]))`;
    out.push(`- name: slo-${i}`, '  source: prometheus');
    if (i < 3) {
      out.push(`  query: '${rate}'`, '  objective: { gt: 0 }');
    } else if (i < 5) {
      out.push(`  query: '${rate}'`, '  baseline: { from: pre-deploy, maxDecrease: 50% }');
    } else if (i === 5) {
      out.push(
        `  query: 'sum(rate(http_requests_total{${selector}}[2m]))'`,
        '  window: 30m',
        '  baseline: { from: offset, offset: 1d, test: mann-whitney, direction: both, effectSize: 50%, step: 2m, minSamples: 10 }',
      );
    } else {
      out.push(
        `  query: 'sum(rate(http_requests_total{${selector},code=~"5.."}[{{window}}])) / ${rate}'`,
        '  objective: { lt: 0.05 }',
        '  target: 95%',
        '  budgetWindow: 1d',
      );
    }
  }
  return `${out.join('\n')}\n`;
}

/**
 * The name of the `index`-th probe of every service (one file for all, so the names repeat across the fleet).
 *
 * @example fleetProbeName(3) // "health-3"
 */
export function fleetProbeName(index: number): string {
  return `health-${index}`;
}

/** `count` smoke probes in one file every service lists, so their names repeat across the fleet. */
function probeYaml(count: number, intervalS: number): string {
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    out.push(
      `- name: ${fleetProbeName(i)}`,
      '  kind: smoke',
      `  interval: ${intervalS}s`,
      '  timeout: 5s',
      `  request: { path: "/health?i=${i}" }`,
      '  expect:',
      '    - status: 200',
      '    - { jsonPath: $.status, equals: ok }',
      '    - latencyMs: { lt: 500 }',
    );
  }
  return `${out.join('\n')}\n`;
}

/**
 * Writes a fleet config into `dir`: vigil.yaml with one `services:` entry per target URL, each listing the
 * shared probes/fleet.yaml and (with Prometheus) slo/fleet.yaml; returns the root file. The API rate limit
 * is raised out of the way, as in writeBenchConfig.
 *
 * @example const file = writeFleetConfig({ dir, targetUrls, probesPerService: 10, intervalS: 30, evaluationIntervalS: 30 });
 */
export function writeFleetConfig(options: FleetConfigOptions): string {
  mkdirSync(join(options.dir, 'probes'), { recursive: true });
  writeFileSync(
    join(options.dir, 'probes', 'fleet.yaml'),
    probeYaml(options.probesPerService, options.intervalS),
  );
  if (options.prometheusUrl) {
    mkdirSync(join(options.dir, 'slo'), { recursive: true });
    writeFileSync(join(options.dir, 'slo', 'fleet.yaml'), sloYaml());
  }
  const services = options.targetUrls.flatMap((url, i) => [
    `  ${fleetServiceName(i)}:`,
    `    target: { baseUrl: "${url}" }`,
    '    probes: [probes/fleet.yaml]',
    ...(options.prometheusUrl ? ['    slos: [slo/fleet.yaml]'] : []),
  ]);
  const root = [
    'server:',
    '  listen: "127.0.0.1:0"',
    '  rateLimit: { max: 100000000, window: 1m }',
    `storage: { path: "${join(options.dir, 'vigil.db')}" }`,
    ...(options.prometheusUrl ? [`sources: { prometheus: { url: "${options.prometheusUrl}" } }`] : []),
    'watch:',
    '  phases: [bake]',
    '  duration: 1h',
    `  evaluationInterval: ${options.evaluationIntervalS}s`,
    '  window: 5m',
    'services:',
    ...services,
    '',
  ].join('\n');
  const file = join(options.dir, 'vigil.yaml');
  writeFileSync(file, root);
  return file;
}

/**
 * OpenMetrics text of trafficOpenMetrics' counters for every service: the same series per service, with
 * `service="<name>"` in place of `job="bench"`, so each service's {{service}} queries find their own data.
 *
 * @example fleetTrafficOpenMetrics(['svc-000', 'svc-001'], { fromS, toS, stepS: 60, okPerS: 50 })
 */
export function fleetTrafficOpenMetrics(
  services: readonly string[],
  o: { fromS: number; toS: number; stepS: number; okPerS: number },
): string {
  const lines = trafficOpenMetrics({ ...o, routes: FLEET_ROUTES }).split('\n');
  const body = lines.filter((l) => l.startsWith('http_requests_total')).join('\n');
  const parts = services.map((s) => body.replaceAll('job="bench"', `service="${s}"`));
  return [lines[0], ...parts, '# EOF', ''].join('\n');
}
