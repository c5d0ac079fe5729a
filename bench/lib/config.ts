import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface BenchConfigOptions {
  dir: string;
  targetUrl: string;
  /** Smoke probes to generate, all against the target's /health. */
  probes: number;
  intervalS: number;
  prometheusUrl?: string;
  /** SLO definitions (YAML list) written to slo/bench.yaml. */
  slos?: string;
  /** Base URLs the probes are spread over (round robin); default the target. */
  probeBaseUrls?: string[];
  /** Extra lines under `watch:` */
  watch?: string[];
}

/**
 * Writes a daemon config for a bench into `dir` (vigil.yaml + probes/bench.yaml) and returns the root
 * file. The API rate limit is raised out of the way: the bench measures the daemon, not the limiter.
 *
 * @example const file = writeBenchConfig({ dir, targetUrl, probes: 10_000, intervalS: 30 });
 */
export function writeBenchConfig(options: BenchConfigOptions): string {
  mkdirSync(join(options.dir, 'probes'), { recursive: true });
  const probes: string[] = [];
  for (let i = 0; i < options.probes; i++) {
    probes.push(
      `- name: health-${i}`,
      '  kind: smoke',
      `  interval: ${options.intervalS}s`,
      '  timeout: 5s',
      ...(options.probeBaseUrls
        ? [`  baseUrl: "${options.probeBaseUrls[i % options.probeBaseUrls.length]}"`]
        : []),
      `  request: { path: "/health?i=${i}" }`,
      '  expect:',
      '    - status: 200',
      '    - { jsonPath: $.status, equals: ok }',
      '    - latencyMs: { lt: 500 }',
    );
  }
  writeFileSync(
    join(options.dir, 'probes', 'bench.yaml'),
    probes.length > 0 ? `${probes.join('\n')}\n` : '[]\n',
  );
  if (options.slos) {
    mkdirSync(join(options.dir, 'slo'), { recursive: true });
    writeFileSync(join(options.dir, 'slo', 'bench.yaml'), options.slos);
  }
  const root = [
    'service: bench-api',
    `target: { baseUrl: "${options.targetUrl}" }`,
    'server:',
    '  listen: "127.0.0.1:0"',
    '  rateLimit: { max: 100000000, window: 1m }',
    `storage: { path: "${join(options.dir, 'vigil.db')}" }`,
    ...(options.slos ? ['slos: [slo/*.yaml]'] : []),
    ...(options.prometheusUrl ? [`sources: { prometheus: { url: "${options.prometheusUrl}" } }`] : []),
    'probes: [probes/*.yaml]',
    'watch:',
    '  phases: [bake]',
    '  duration: 1h',
    ...(options.watch ?? []).map((l) => `  ${l}`),
    '',
  ].join('\n');
  const file = join(options.dir, 'vigil.yaml');
  writeFileSync(file, root);
  return file;
}
