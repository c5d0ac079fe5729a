import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/clock.js';
import { probeSchema, rootConfigSchema, type VigilConfig } from '../../../src/config/schema.js';
import { createProbeRollups } from '../../../src/prober/rollups.js';
import { createProber } from '../../../src/prober/service.js';
import { createProbeSource } from '../../../src/sources/probes.js';
import { openStore } from '../../../src/store/open.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { createMetrics } from '../../../src/telemetry/metrics.js';
import { onlyService } from '../../helpers/service.js';
import { type Running, startHttp } from './servers.js';

let service: Running;
let healthy = true;

beforeAll(async () => {
  service = await startHttp((req, res) => {
    res.statusCode = req.url === '/health' && healthy ? 200 : 503;
    res.end('{}');
  });
});
afterAll(() => service.close());

describe('the daemon prober', () => {
  it('runs probes on schedule, updates the §8 metrics and fills the rollups the probes source reads', async () => {
    const T0 = Date.parse('2026-11-27T10:00:00Z');
    const clock = new ManualClock(T0);
    const store = await openStore({ path: ':memory:' });
    const rollups = createProbeRollups(store);
    const metrics = createMetrics({ version: 't', defaultMetrics: false });
    const config: VigilConfig = {
      file: '/etc/vigil/vigil.yaml',
      root: rootConfigSchema.parse({
        service: 'prep-api',
        target: { baseUrl: service.url },
        storage: { path: ':memory:' },
      }),
      probes: [
        probeSchema.parse({
          name: 'health',
          kind: 'smoke',
          interval: '15s',
          request: { path: '/health' },
          expect: [{ status: 200 }],
        }),
      ],
      slos: [],
    };
    const prober = createProber({
      config: onlyService(config),
      clock,
      metrics,
      logger: silentLogger(),
      rollups,
    });
    prober.start();
    for (let tick = 0; tick < 8; tick++) {
      healthy = tick !== 3;
      const before = prober.scheduler.latest()[0]?.startedAt;
      await clock.advance(15_000);
      // The run itself talks to a real loopback server: wait (bounded) for its result.
      for (let i = 0; i < 200 && prober.scheduler.latest()[0]?.startedAt === before; i++) {
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    await prober.stop();
    const source = createProbeSource({ rollups, defaultWindowMs: 5 * 60_000 });
    expect((await source.query('health:successRatio', clock.now())).value).toBe(7 / 8);
    const p95 = (await source.query('health:latencyP95', clock.now())).value;
    expect(p95).toBeGreaterThan(0);
    expect(p95).toBeLessThan(1);
    const text = await metrics.registry.metrics();
    expect(text).toContain(
      'vigil_probe_runs_total{service="prep-api",probe="health",kind="smoke",result="success",class="none"} 7',
    );
    expect(text).toContain(
      'vigil_probe_runs_total{service="prep-api",probe="health",kind="smoke",result="failure",class="assertion"} 1',
    );
    expect(text).toContain('vigil_probe_schedule_lag_seconds_count 8');
    expect(prober.scheduler.states().health?.health).toBe('up');
    await store.close();
  });
});
