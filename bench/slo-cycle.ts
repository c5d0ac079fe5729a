import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { loadConfig } from '../src/config/load.js';
import { evaluateChecks } from '../src/evaluator/evaluate.js';
import { createSources } from '../src/sources/index.js';
import { silentLogger } from '../src/telemetry/logger.js';
import { createMetrics } from '../src/telemetry/metrics.js';
import { writeBenchConfig } from './lib/config.js';
import { type Figure, fixed, median } from './lib/figure.js';
import { prometheusInstalled, startBenchPrometheus, trafficOpenMetrics } from './lib/prometheus.js';

const SLOS = 100;
const CYCLES = 5;
const ROUTES = 10;

/*
 * The mix of the shipped Prep config, ten times over: per ten SLOs, five with an objective only, two with a
 * pre-deploy baseline, one with a week-style offset baseline judged by Mann-Whitney (here 1d back), and two
 * error ratios with an objective, a target and a budget window (a main check plus a burn-rate check).
 */
function sloYaml(): string {
  const out: string[] = [];
  for (let i = 0; i < SLOS; i++) {
    const route = `/r${i % ROUTES}`;
    const rate = `sum(rate(http_requests_total{job="bench",route="${route}"}[{{window}}]))`;
    const kind = i % 10;
    out.push(`- name: slo-${i}`, '  source: prometheus');
    if (kind < 5) {
      out.push(`  query: '${rate}'`, '  objective: { gt: 0 }');
    } else if (kind < 7) {
      out.push(`  query: '${rate}'`, '  baseline: { from: pre-deploy, maxDecrease: 50% }');
    } else if (kind === 7) {
      out.push(
        `  query: 'sum(rate(http_requests_total{job="bench",route="${route}"}[2m]))'`,
        '  window: 30m',
        '  baseline: { from: offset, offset: 1d, test: mann-whitney, direction: both, effectSize: 50%, step: 2m, minSamples: 10 }',
      );
    } else {
      out.push(
        `  query: 'sum(rate(http_requests_total{job="bench",route="${route}",code=~"5.."}[{{window}}])) / ${rate}'`,
        '  objective: { lt: 0.05 }',
        '  target: 95%',
        '  budgetWindow: 1d',
      );
    }
  }
  return `${out.join('\n')}\n`;
}

/** Forwards every request to Prometheus and counts the query requests (what the sources send). */
function countingProxy(
  upstream: string,
  dispatcher: Agent,
): { server: Server; counts: () => number; reset: () => void } {
  let queries = 0;
  const server = createServer((req, res) => {
    if (req.url?.startsWith('/api/v1/query')) queries++;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      request(`${upstream}${req.url}`, {
        dispatcher,
        method: req.method as 'GET' | 'POST',
        headers: { 'content-type': req.headers['content-type'] ?? 'application/x-www-form-urlencoded' },
        ...(chunks.length > 0 ? { body: Buffer.concat(chunks) } : {}),
      }).then(
        async (up) => {
          res.writeHead(up.statusCode, {
            'content-type': String(up.headers['content-type'] ?? 'application/json'),
          });
          res.end(Buffer.from(await up.body.arrayBuffer()));
        },
        () => {
          res.writeHead(502).end();
        },
      );
    });
  });
  return {
    server,
    counts: () => queries,
    reset: () => {
      queries = 0;
    },
  };
}

/**
 * 100 SLOs (the Prep config's kinds) evaluated as one cycle (evaluateChecks, the daemon's path) against a
 * real Prometheus backfilled with 26 h of traffic, through a counting proxy: median cycle time of 5 cycles,
 * and queries per check.
 *
 * @example const rows = await run();
 */
export async function run(): Promise<Figure[]> {
  if (!prometheusInstalled()) {
    return [
      {
        figure: '100 SLO checks: cycle',
        value: 'n/a',
        target: '< 2 s',
        met: false,
        note: 'prometheus/promtool not installed',
      },
    ];
  }
  const toS = Math.floor(Date.now() / 1000 / 3600) * 3600 - 3600;
  const fromS = toS - 26 * 3600;
  const prom = await startBenchPrometheus(
    trafficOpenMetrics({ fromS, toS, stepS: 60, routes: ROUTES, okPerS: 50 }),
  );
  const dispatcher = new Agent({ connections: 32 });
  const proxy = countingProxy(prom.url, dispatcher);
  const dir = await mkdtemp(join(tmpdir(), 'vigil-bench-slo-'));
  try {
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    const address = proxy.server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const file = writeBenchConfig({
      dir,
      targetUrl: 'http://127.0.0.1:9',
      probes: 0,
      intervalS: 30,
      prometheusUrl: `http://127.0.0.1:${port}`,
      slos: sloYaml(),
    });
    const config = await loadConfig(file, {});
    const sources = createSources(config.root, {
      dispatcher: new Agent({ connections: 16 }),
      metrics: createMetrics({ version: 'bench', defaultMetrics: false }),
      logger: silentLogger(),
    });
    const at = toS * 1000;
    const ctx = {
      sources,
      at,
      deployedAt: at - 10 * 60_000,
      windowMs: config.root.watch.window,
      vars: { service: 'bench-api', version: '1.0.1', previousVersion: '1.0.0' },
    };
    const times: number[] = [];
    let checks = 0;
    let queries = 0;
    let inconclusive = 0;
    await evaluateChecks(config.slos, ctx);
    for (let i = 0; i < CYCLES; i++) {
      proxy.reset();
      const started = performance.now();
      const results = await evaluateChecks(config.slos, ctx);
      times.push(performance.now() - started);
      checks = results.length;
      queries = proxy.counts();
      inconclusive = results.filter((r) => r.result === 'inconclusive').length;
    }
    // Queries of each kind of check, one SLO of each kind evaluated alone.
    const perKind: string[] = [];
    for (const [label, index] of [
      ['objective', 0],
      ['pre-deploy', 5],
      ['offset', 7],
      ['ratio+burn', 8],
    ] as const) {
      proxy.reset();
      const results = await evaluateChecks([config.slos[index] as (typeof config.slos)[number]], ctx);
      perKind.push(`${label} ${proxy.counts()}/${results.length}`);
    }
    const cycle = median(times);
    const perCheck = queries / checks;
    return [
      {
        figure: '100 SLOs: evaluation cycle',
        value: `${fixed(cycle)} ms`,
        target: '< 2000 ms',
        met: cycle < 2000 && inconclusive === 0,
        note: `${checks} checks, median of ${CYCLES} cycles (${times.map((t) => fixed(t)).join('/')} ms); ${inconclusive} inconclusive`,
      },
      {
        figure: '100 SLOs: queries per check',
        value: fixed(perCheck, 2),
        target: '≤ 2',
        met: perCheck <= 2,
        note:
          `${queries} HTTP queries for ${checks} checks (counting proxy); queries/checks per SLO kind: ${perKind.join(', ')}; ` +
          'a burn-rate check reads its 8 windows (5m … 3d and the budget window) in one query, one series per window',
      },
    ];
  } finally {
    proxy.server.close();
    await dispatcher.close();
    await prom.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
