import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serviceNamed } from '../../../src/config/fleet.js';
import { loadConfig } from '../../../src/config/load.js';
import type { ServiceConfig } from '../../../src/config/schema.js';
import { type PrepService, startPrepService } from '../../../src/demo/prep-service.js';
import { runProbe } from '../../../src/prober/engine.js';
import { prepareProbe } from '../../../src/prober/prepare.js';
import type { ProbeResult } from '../../../src/prober/types.js';

const ROOT = fileURLToPath(new URL('../../../vigil.yaml', import.meta.url));

let service: PrepService;
/** prep-api, the Prep platform's API service in the shipped config. */
let config: ServiceConfig;

async function runAll(): Promise<Map<string, ProbeResult>> {
  const results = new Map<string, ProbeResult>();
  for (const probe of config.probes) {
    results.set(
      probe.name,
      await runProbe(prepareProbe(probe, config.root.target), { now: () => Date.now() }),
    );
  }
  return results;
}

beforeAll(async () => {
  service = await startPrepService();
  const api = serviceNamed(await loadConfig(ROOT, { VIGIL_TARGET_URL: service.url }), 'prep-api');
  if (!api) throw new Error('the shipped config has no prep-api');
  config = api;
});
afterAll(() => service.close());

describe("the Prep platform's probes (probes/prep.yaml)", () => {
  it('define the checklist probes', () => {
    expect(config.probes.map((p) => p.name)).toEqual(
      expect.arrayContaining(['health', 'ready', 'live', 'booking-journey', 'payments', 'edge-readiness']),
    );
  });

  it('pass against a good deploy of the Prep service, except the edge check on plain http', async () => {
    const results = await runAll();
    for (const name of ['health', 'ready', 'live', 'booking-journey', 'payments']) {
      expect({ name, failure: results.get(name)?.failure }).toEqual({ name, failure: null });
    }
    const journey = results.get('booking-journey');
    expect(journey?.steps.map((s) => [s.probe, s.status])).toEqual([
      ['create', 201],
      ['read', 200],
      ['cancel', 204],
    ]);
    const edge = results.get('edge-readiness');
    expect(edge?.failure?.class).toBe('assertion');
    expect(edge?.failure?.message).toContain('tlsVersion (missing) gte 1.2');
  });

  it('fail the business probes against a bad deploy, and still cancel what was booked', async () => {
    service.deploy('bad');
    try {
      const results = await runAll();
      expect(results.get('health')?.success).toBe(true);
      const journey = results.get('booking-journey');
      expect(journey?.success).toBe(false);
      // The create step answered 201, too slowly: it failed, yet its booking is cancelled.
      expect(journey?.steps.map((s) => [s.probe, s.status])).toEqual([
        ['create', 201],
        ['cancel', 204],
      ]);
      expect(results.get('payments')?.success).toBe(false);
      expect(results.get('payments')?.failure?.message).toMatch(
        /latencyMs \(\d+(\.\d+)?\) lt 500|status \(502\) equals 201/,
      );
    } finally {
      service.deploy('good');
    }
  });
});
