import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { recordProbeMetrics } from '../../../src/prober/engine.js';
import type { FailureClass, ProbeResult } from '../../../src/prober/types.js';
import { createMetrics, type Metrics } from '../../../src/telemetry/metrics.js';
import { PROBE_FAMILIES, PROBE_PHASES } from '../../../src/telemetry/probe-series.js';
import { PROMTOOL_BIN } from '../../helpers/prometheus.js';

/** DESIGN §8: what one probe adds to `/metrics`. */
const BYTES_PER_PROBE = 1_500;
const CERT_EXPIRES_AT_MS = Date.UTC(2027, 0, 31);

/** A run with every phase and a certificate: the largest set of series a probe exports. */
function result(
  probe: string,
  overrides: { totalMs?: number; ttfbMs?: number; failure?: FailureClass; tls?: boolean } = {},
): ProbeResult {
  return {
    probe,
    kind: 'smoke',
    success: overrides.failure === undefined,
    startedAt: new Date(0).toISOString(),
    durationMs: overrides.totalMs ?? 48.1234567,
    phases: {
      dnsMs: 1.25,
      connectMs: 3.5,
      tlsMs: 12.75,
      ttfbMs: overrides.ttfbMs ?? 27.125,
      transferMs: 3.5,
    },
    failure: overrides.failure ? { class: overrides.failure, message: 'expected 200, got 503' } : null,
    assertions: [],
    steps: [],
    ...(overrides.tls === false
      ? {}
      : {
          tls: {
            protocol: 'TLSv1.3',
            leafExpiresAt: CERT_EXPIRES_AT_MS,
            chainExpiresAt: CERT_EXPIRES_AT_MS,
            issuer: 'CN=test',
            subjectAltNames: ['edge.example.com'],
          },
        }),
  };
}

function metricsFor(): Metrics {
  return createMetrics({ version: 't', defaultMetrics: false });
}

/** The sample lines of one metric name, without comments. */
function samples(text: string, name: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
}

function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

// prom-client writes NaN as "Nan"; Prometheus reads either (Go's ParseFloat ignores case).
const SAMPLE =
  /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*"(,[a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*")*)?\})? ([Nn]a[Nn]|[+-]Inf|-?\d+(\.\d+)?(e[+-]?\d+)?)$/;

/**
 * A strict reading of the text format 0.0.4: every line is a comment, a blank or a well-formed sample;
 * each sample follows the TYPE of its family, families never interleave, and no series repeats.
 */
function parseExposition(text: string): { families: Map<string, string>; series: Set<string> } {
  const families = new Map<string, string>();
  const series = new Set<string>();
  const closed = new Set<string>();
  let current = '';
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ')) continue;
    const type = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      const name = type[1] as string;
      if (families.has(name)) throw new Error(`family ${name} declared twice`);
      if (current) closed.add(current);
      families.set(name, type[2] as string);
      current = name;
      continue;
    }
    const sample = SAMPLE.exec(line);
    if (!sample) throw new Error(`not a sample line: ${line}`);
    const name = sample[1] as string;
    const family = families.get(name) ? name : name.replace(/_(bucket|sum|count)$/, '');
    if (family !== current) throw new Error(`${name} outside its family block (in ${current})`);
    const key = line.slice(0, line.lastIndexOf(' '));
    if (series.has(key)) throw new Error(`duplicate series ${key}`);
    series.add(key);
  }
  return { families, series };
}

describe('per-probe metrics (DESIGN §8 budget)', () => {
  it(`a probe with every phase, TLS and two failure classes adds under ${BYTES_PER_PROBE} bytes to /metrics`, async () => {
    const metrics = metricsFor();
    const before = Buffer.byteLength(await metrics.registry.metrics());
    const probes = 100;
    for (let i = 0; i < probes; i++) {
      // A name longer than most: the budget must hold for real probe names, not "a".
      const name = `booking-journey-eu-west-${String(i).padStart(4, '0')}`;
      recordProbeMetrics(metrics, result(name), 'prep-api');
      recordProbeMetrics(metrics, result(name, { failure: 'timeout' }), 'prep-api');
      recordProbeMetrics(metrics, result(name, { failure: 'assertion' }), 'prep-api');
    }
    const text = await metrics.registry.metrics();
    const perProbe = (Buffer.byteLength(text) - before) / probes;
    expect(perProbe).toBeLessThan(BYTES_PER_PROBE);
    // Still every series the contract names, for each probe.
    const probe = 'probe="booking-journey-eu-west-0042"';
    expect(samples(text, 'vigil_probe_success').filter((l) => l.includes(probe))).toHaveLength(1);
    expect(samples(text, 'vigil_probe_duration_seconds').filter((l) => l.includes(probe))).toHaveLength(6);
    expect(samples(text, 'vigil_probe_runs_total').filter((l) => l.includes(probe))).toHaveLength(3);
    expect(
      samples(text, 'vigil_tls_cert_expiry_timestamp_seconds').filter((l) => l.includes(probe)),
    ).toHaveLength(1);
  });

  it('a run sets the gauges to its own values: success, each phase and the certificate of the last run', async () => {
    const metrics = metricsFor();
    recordProbeMetrics(metrics, result('edge', { totalMs: 900, ttfbMs: 800 }), 'prep-api');
    recordProbeMetrics(
      metrics,
      result('edge', { totalMs: 48.1234567, ttfbMs: 27.125, failure: 'http', tls: false }),
      'prep-api',
    );
    const text = await metrics.registry.metrics();
    const labels = 'service="prep-api",probe="edge",kind="smoke"';
    expect(value(text, `vigil_probe_success{${labels}}`)).toBe(0);
    // The last run's values, not a sum, a mean or the first; rounded to the microsecond.
    expect(value(text, `vigil_probe_duration_seconds{${labels},phase="total"}`)).toBe(0.048123);
    expect(value(text, `vigil_probe_duration_seconds{${labels},phase="ttfb"}`)).toBe(0.027125);
    expect(value(text, `vigil_probe_duration_seconds{${labels},phase="dns"}`)).toBe(0.00125);
    expect(value(text, `vigil_probe_runs_total{${labels},result="success",class="none"}`)).toBe(1);
    expect(value(text, `vigil_probe_runs_total{${labels},result="failure",class="http"}`)).toBe(1);
    // A run without TLS keeps the certificate the probe last saw.
    expect(value(text, 'vigil_tls_cert_expiry_timestamp_seconds{service="prep-api",probe="edge"}')).toBe(
      CERT_EXPIRES_AT_MS / 1000,
    );
    // Both runs still count in the aggregate distribution, which has no probe label.
    expect(
      value(text, 'vigil_probe_phase_duration_seconds_count{service="prep-api",kind="smoke",phase="total"}'),
    ).toBe(2);
    expect(samples(text, 'vigil_probe_phase_duration_seconds_bucket').some((l) => l.includes('probe='))).toBe(
      false,
    );
  });

  it('a scrape does not grow with history: 1,000 runs of a probe render as many lines as one', async () => {
    const metrics = metricsFor();
    recordProbeMetrics(metrics, result('health'), 'prep-api');
    const once = (await metrics.registry.metrics()).split('\n').length;
    for (let i = 0; i < 1_000; i++) recordProbeMetrics(metrics, result('health'), 'prep-api');
    const text = await metrics.registry.metrics();
    expect(text.split('\n').length).toBe(once);
    expect(
      value(
        text,
        'vigil_probe_runs_total{service="prep-api",probe="health",kind="smoke",result="success",class="none"}',
      ),
    ).toBe(1_001);
  });

  it('a probe removed from its service (retain after a reload) loses every one of its series', async () => {
    const metrics = metricsFor();
    for (const name of ['keep', 'gone', 'also-gone']) recordProbeMetrics(metrics, result(name), 'prep-api');
    // Another service of the same daemon, with a probe of the same name: not the reloaded service's.
    recordProbeMetrics(metrics, result('gone'), 'billing');
    expect(metrics.probes.retain(['keep', 'never-ran'], 'prep-api')).toBe(2);
    metrics.probes.remove('not-there', 'prep-api');
    const text = await metrics.registry.metrics();
    expect(text).not.toMatch(/service="prep-api",probe="(also-)?gone"/);
    expect(text).toContain('vigil_probe_success{service="prep-api",probe="keep",kind="smoke"} 1');
    expect(text).toContain('vigil_probe_success{service="billing",probe="gone",kind="smoke"} 1');
    expect(metrics.probes.probes('prep-api')).toEqual(['keep']);
    metrics.probes.remove('keep', 'prep-api');
    // A service that left the config: none of its probes are kept.
    expect(metrics.probes.retain([], 'billing')).toBe(1);
    expect(await metrics.registry.metrics()).not.toMatch(/probe="(keep|gone)"/);
  });

  it('a probe whose kind changed starts its series afresh instead of keeping the old kind beside the new', async () => {
    const metrics = metricsFor();
    recordProbeMetrics(metrics, result('checkout'), 'prep-api');
    recordProbeMetrics(metrics, { ...result('checkout'), kind: 'synthetic' }, 'prep-api');
    const text = await metrics.registry.metrics();
    expect(text).not.toContain('probe="checkout",kind="smoke"');
    expect(
      value(
        text,
        'vigil_probe_runs_total{service="prep-api",probe="checkout",kind="synthetic",result="success",class="none"}',
      ),
    ).toBe(1);
  });

  it('label values are escaped and the whole exposition parses: one block per family, no repeated series', async () => {
    const metrics = createMetrics({ version: 't', defaultMetrics: true });
    recordProbeMetrics(metrics, result('plain', { tls: false }), 'prep-api');
    recordProbeMetrics(metrics, result('edge', { failure: 'tls' }), 'prep-api');
    recordProbeMetrics(metrics, result('quote"back\\slash'), 'prep "api"');
    recordProbeMetrics(metrics, result('no-service'));
    const text = await metrics.registry.metrics();
    const { families, series } = parseExposition(text);
    for (const family of PROBE_FAMILIES) expect(families.get(family.name), family.name).toBe(family.type);
    expect(families.get('vigil_probe_phase_duration_seconds')).toBe('histogram');
    expect(series).toContain(
      'vigil_probe_success{service="prep \\"api\\"",probe="quote\\"back\\\\slash",kind="smoke"}',
    );
    expect(series).toContain('vigil_probe_success{probe="no-service",kind="smoke"}');
    for (const phase of PROBE_PHASES)
      expect(series).toContain(
        `vigil_probe_duration_seconds{service="prep-api",probe="plain",kind="smoke",phase="${phase}"}`,
      );
    expect(text).not.toMatch(/vigil_tls_cert_expiry_timestamp_seconds\{[^}]*probe="plain"/);
  });

  it.skipIf(!existsSync(PROMTOOL_BIN))('promtool check metrics accepts the exposition', async () => {
    // Without Node's default metrics: promtool's lint flags prom-client's nodejs_active_*_total gauges.
    const metrics = metricsFor();
    for (let i = 0; i < 20; i++)
      recordProbeMetrics(metrics, result(`p-${i}`, i % 3 === 0 ? { failure: 'connect' } : {}), 'prep-api');
    const text = await metrics.registry.metrics();
    const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>(
      (resolve) => {
        const child = execFile(PROMTOOL_BIN, ['check', 'metrics'], (error, out, err) =>
          resolve({ code: error ? Number(error.code ?? 1) : 0, stdout: out, stderr: err }),
        );
        child.stdin?.end(text);
      },
    );
    expect({ code, output: `${stdout}${stderr}` }).toEqual({ code: 0, output: '' });
  });
});
