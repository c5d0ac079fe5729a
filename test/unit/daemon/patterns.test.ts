import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/clock.js';
import { loadConfig } from '../../../src/config/load.js';
import { createDaemon, type Daemon } from '../../../src/daemon/index.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { TEST_API_TOKEN, writeDaemonConfig } from '../../helpers/daemon.js';
import { keyErrorLine, recordedEntries, spreadLines, startLokiStandIn } from '../../helpers/loki-logs.js';

/*
 * Issue 19 through the whole daemon: a patterns check wired to the configured Loki (the stand-in) and the
 * store, its signatures listed by GET /api/v1/watches/{id}/patterns, and feedback on one of them.
 */

const MIN = 60_000;
const START = Date.parse('2026-11-28T09:00:00Z');
const KNOWN = recordedEntries().filter((e) => e.labels.app === 'prep-api' && e.labels.level === 'error');

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Listed {
  checks: { name: string; new: { id: string; template: string; count: number }[]; known: unknown[] }[];
}

describe('patterns checks in the daemon', () => {
  it('a watch lists the new signature it saw, and an operator can mark it not a risk', async () => {
    const loki = await startLokiStandIn([
      ...spreadLines(START - 60 * MIN, START + 30 * MIN, 6, KNOWN),
      ...spreadLines(START, START + 30 * MIN, 2, [keyErrorLine('currency')]),
    ]);
    cleanups.push(() => loki.close());
    const files = writeDaemonConfig({
      targetUrl: 'http://127.0.0.1:9',
      slos:
        '- name: new-error-signatures\n  source: loki\n' +
        `  patterns: { query: '{app="prep-api"} | json | level=~"error|fatal"', minCount: 5 }\n` +
        '  baseline: { from: pre-deploy }\n',
      root: [
        `sources: { loki: { url: "${loki.url}" } }`,
        'watch: { duration: 2h, phases: [bake], evaluationInterval: 1m, window: 5m }',
      ],
    });
    cleanups.push(files.cleanup);
    const clock = new ManualClock(START);
    const daemon: Daemon = await createDaemon({
      config: await loadConfig(files.configFile, {}),
      logger: silentLogger(),
      searchPath: '',
      defaultMetrics: false,
      clock,
    });
    await daemon.start();
    cleanups.push(() => daemon.stop(1_000));
    const headers = { authorization: `Bearer ${TEST_API_TOKEN}` };
    const created = await daemon.app.inject({
      method: 'POST',
      url: '/api/v1/watches',
      headers,
      payload: { service: 'prep-api', version: '1.4.2', previousVersion: '1.4.1' },
    });
    expect(created.statusCode).toBe(201);
    const id = (created.json() as { id: string }).id;

    let listed: Listed = { checks: [] };
    for (let minute = 0; minute < 10 && !listed.checks[0]?.new.length; minute++) {
      await clock.advance(MIN);
      for (let i = 0; i < 100 && !listed.checks[0]?.new.length; i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        listed = (
          await daemon.app.inject({ method: 'GET', url: `/api/v1/watches/${id}/patterns`, headers })
        ).json();
      }
    }
    const check = listed.checks[0];
    expect(check?.name).toBe('new-error-signatures');
    expect(check?.new.map((s) => s.template)).toEqual(['KeyError: <STR>']);
    expect(check?.known.length).toBe(3);

    const signature = check?.new[0]?.id as string;
    const ignored = await daemon.app.inject({
      method: 'POST',
      url: `/api/v1/patterns/${signature}/ignore`,
      headers,
      payload: { reason: 'currency backfill, harmless', who: 'alice' },
    });
    expect(ignored.statusCode).toBe(200);
    expect(ignored.json()).toMatchObject({
      verdict: 'ignore',
      service: 'prep-api',
      template: 'KeyError: <STR>',
    });
  }, 30_000);
});
