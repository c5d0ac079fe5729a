import { describe, expect, it } from 'vitest';
import { serviceNamed } from '../../../src/config/fleet.js';
import { loadConfig } from '../../../src/config/load.js';
import type { ServiceConfig, VigilConfig } from '../../../src/config/schema.js';
import { evaluateChecks } from '../../../src/evaluator/evaluate.js';
import type { LogReader } from '../../../src/sources/loki-logs.js';
import type { SliSource } from '../../../src/sources/types.js';

// The Prep platform's SLO file (slo/prep.yaml) is data the daemon ships with: it must load through the
// real loader and every check must evaluate to a judgement, not an error about its own definition.

const AT = Date.parse('2026-11-27T12:00:00Z');

function steady(kind: SliSource['kind'], value: number): SliSource {
  return {
    kind,
    query: async (_q, at) => ({ value, at }),
    queryRange: async (_q, start, end, stepMs) =>
      Array.from({ length: Math.floor((end - start) / stepMs) + 1 }, (_, i) => ({
        at: start + i * stepMs,
        value: value + (i % 3) * 0.001,
      })),
    isOnline: async () => ({ online: true, latencyMs: 0 }),
  };
}

/** The same two error lines a minute before and after the deploy: nothing new. */
const steadyLogs: LogReader = {
  readLines: async (_query, start, end) => {
    const lines = [];
    for (let at = start; at < end; at += 30_000) {
      lines.push({ at, line: `{"level":"error","msg":"payment failed","order":${at % 997}}`, labels: {} });
    }
    return { lines, sampled: false, pages: 1, durationMs: 0 };
  },
};

/** prep-api of the shipped fleet. */
function prepApi(config: VigilConfig): ServiceConfig {
  const api = serviceNamed(config, 'prep-api');
  if (!api) throw new Error('the shipped config has no prep-api');
  return api;
}

describe('slo/prep.yaml', () => {
  it('loads with the checklist checks', async () => {
    const config = prepApi(await loadConfig('vigil.yaml', {}));
    expect(config.slos.map((s) => s.name)).toEqual([
      'error-rate',
      'p95-latency',
      'throughput',
      'cpu-vs-limit',
      'memory-vs-limit',
      'bookings-rate',
      'payments-rate',
      'error-logs',
      'new-error-signatures',
      'health-availability',
    ]);
    const byName = Object.fromEntries(config.slos.map((s) => [s.name, s]));
    expect(byName['error-rate']).toMatchObject({
      critical: true,
      objective: { lt: 0.01 },
      budgetWindow: 30 * 86_400_000,
    });
    expect(byName['error-rate']?.target).toBeCloseTo(0.999, 12);
    expect(byName.throughput?.baseline).toMatchObject({
      from: 'pre-deploy',
      maxDecrease: { kind: 'relative', ratio: 0.1 },
    });
    expect(byName['bookings-rate']?.baseline).toMatchObject({
      from: 'offset',
      offset: 7 * 86_400_000,
      test: 'mann-whitney',
    });
  });

  it('every check judges steady traffic without definition errors', async () => {
    const config = prepApi(await loadConfig('vigil.yaml', {}));
    const checks = await evaluateChecks(config.slos, {
      // 0.05 % errors: half the budget's pace, so no burn-rate pair fires.
      sources: {
        prometheus: steady('prometheus', 0.0005),
        loki: steady('loki', 0.0005),
        probes: steady('probes', 1),
      },
      at: AT,
      deployedAt: AT - 3_600_000,
      windowMs: config.root.watch.window,
      vars: { service: 'prep-api', version: '1.4.2', previousVersion: '1.4.1' },
      patterns: { logs: steadyLogs },
    });
    expect(checks.map((c) => [c.name, c.result])).toEqual([
      ['error-rate', 'pass'],
      ['error-rate:burn-rate', 'pass'],
      ['p95-latency', 'pass'],
      ['throughput', 'pass'],
      ['cpu-vs-limit', 'pass'],
      ['memory-vs-limit', 'pass'],
      ['bookings-rate', 'pass'],
      ['payments-rate', 'pass'],
      ['error-logs', 'pass'],
      ['new-error-signatures', 'pass'],
      ['health-availability', 'pass'],
    ]);
  });
});

describe('slo/prep-worker.yaml', () => {
  it("prep-worker's checks, shared-file style ({{service}} in every query), judge steady work without definition errors", async () => {
    const worker = serviceNamed(await loadConfig('vigil.yaml', {}), 'prep-worker');
    if (!worker) throw new Error('the shipped config has no prep-worker');
    const queries: string[] = [];
    const prometheus = steady('prometheus', 0.001);
    const checks = await evaluateChecks(worker.slos, {
      sources: {
        prometheus: {
          ...prometheus,
          query: async (q, at) => {
            queries.push(q);
            return prometheus.query(q, at);
          },
        },
        probes: steady('probes', 1),
      },
      at: AT,
      deployedAt: AT - 3_600_000,
      windowMs: worker.root.watch.window,
      vars: { service: 'prep-worker', version: '7.1.0', previousVersion: '7.0.3' },
    });
    expect(checks.length).toBeGreaterThan(0);
    for (const check of checks) expect([check.name, check.result]).toEqual([check.name, 'pass']);
    expect(queries.length).toBeGreaterThan(0);
    for (const query of queries) {
      expect(query).toContain('job="prep-worker"');
      expect(query).not.toContain('{{');
    }
  });
});
