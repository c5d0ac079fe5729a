import type http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { ManualClock } from '../../src/clock.js';
import type { Daemon } from '../../src/daemon/index.js';
import type { CheckResult } from '../../src/evaluator/types.js';
import type { WatchView } from '../../src/watch/types.js';
import { type DaemonFiles, writeDaemonConfig } from '../helpers/daemon.js';
import { advanceWithProbes, settleProbeRuns, startClockedDaemon } from '../helpers/probe-clock.js';
import {
  type Cert,
  makeSelfSignedCert,
  type Running,
  startHttp,
  startHttps,
} from '../unit/prober/servers.js';

/*
 * The probes a watch judges in its bake, end to end: a real daemon (createDaemon) on a ManualClock, its
 * prober running real HTTP(S) probes against loopback servers, a watch started through the manager and
 * moved minute by minute. Each scenario is one the issue reproduced by hand.
 */

const STEP_MS = 5_000;

interface Scenario {
  files: DaemonFiles;
  daemon: Daemon;
  clock: ManualClock;
  /** Probes whose runs must have landed before time moves on (interval in ms); stalled ones are left out. */
  settled: Map<string, number>;
  startedAt: number;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startScenario(options: {
  targetUrl: string;
  probes: string;
  watch: string;
  intervals: Record<string, number>;
}): Promise<Scenario> {
  const files = writeDaemonConfig({
    targetUrl: options.targetUrl,
    probes: options.probes,
    root: [`watch: ${options.watch}`],
  });
  cleanups.push(() => files.cleanup());
  const { daemon, clock, stop } = await startClockedDaemon(files.configFile);
  cleanups.push(stop);
  return {
    files,
    daemon,
    clock,
    settled: new Map(Object.entries(options.intervals)),
    startedAt: clock.now(),
  };
}

/** Waits (real time, bounded) until every run the scheduler fired so far has its result recorded. */
function settle(s: Scenario): Promise<void> {
  return settleProbeRuns(s.daemon, s.clock, s.startedAt, s.settled);
}

/** Moves the clock forward `ms` in steps, letting each step's probe runs land. */
function advance(s: Scenario, ms: number): Promise<void> {
  return advanceWithProbes(s.clock, ms, STEP_MS, () => settle(s));
}

async function startWatch(s: Scenario): Promise<string> {
  const created = await s.daemon.watches.create({
    service: 'prep-api',
    version: '2.0.0',
    previousVersion: '1.9.0',
  });
  if (!created.ok) throw new Error(JSON.stringify(created.problems));
  return created.watch.id;
}

async function watchOf(s: Scenario, id: string): Promise<WatchView> {
  return (await s.daemon.watches.get(id)) as WatchView;
}

async function checkOf(s: Scenario, id: string, name: string): Promise<CheckResult | undefined> {
  return (await watchOf(s, id)).checks.find((c) => c.name === name);
}

async function server(handler: http.RequestListener): Promise<Running> {
  const running = await startHttp(handler);
  cleanups.push(() => running.close());
  return running;
}

describe('a watch judges its probes during the bake', () => {
  it('a smoke probe failing through the bake fails the watch instead of leaving it passed', async () => {
    let status = 200;
    const target = await server((req, res) => {
      res.writeHead(req.url === '/api/orders' ? status : 404).end();
    });
    const s = await startScenario({
      targetUrl: target.url,
      probes:
        '- name: orders\n  kind: smoke\n  interval: 30s\n  request: { path: /api/orders }\n  expect: [ { status: 200 } ]\n',
      watch:
        '{ duration: 30m, phases: [smoke, bake], evaluationInterval: 1m, window: 1m, failureLimit: 2, inconclusiveLimit: 1h }',
      intervals: { orders: 30_000 },
    });
    const id = await startWatch(s);
    // The smoke phase runs orders once and passes; then the new version starts answering 500.
    for (let i = 0; i < 400 && (await watchOf(s, id)).phase === 'smoke'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect((await watchOf(s, id)).phase).toBe('bake');
    expect((await checkOf(s, id, 'smoke:orders'))?.result).toBe('pass');
    status = 500;

    await advance(s, 3 * 60_000);
    const check = await checkOf(s, id, 'probe:orders');
    expect(check).toMatchObject({ kind: 'probe', result: 'fail' });
    expect(check?.explanation).toMatch(
      /orders down: failed \d+ runs in a row \(assertion: status \(500\) equals 200\)/,
    );
    // The numbers come from the per-minute rollups, counted from the first whole minute after the deploy.
    expect(check?.explanation).toMatch(/; \d+ of \d+ runs failed since \d\d:\d\d:\d\d UTC$/);
    expect(check?.samples).toBeGreaterThan(0);

    await advance(s, 30 * 60_000 - 3 * 60_000);
    expect((await watchOf(s, id)).status).toBe('failed');
  }, 60_000);

  it('a certificate with fewer than 14 days left fails its probe check, enforced as an alert', async () => {
    const cert: Cert = makeSelfSignedCert(7);
    cleanups.push(() => cert.cleanup());
    const target = await startHttps(cert, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    });
    cleanups.push(() => target.close());
    const s = await startScenario({
      targetUrl: target.url,
      probes: [
        '- name: edge-readiness',
        '  kind: synthetic',
        '  interval: 30s',
        '  enforce: alert',
        `  tls: { caFile: "${cert.certFile}" }`,
        '  steps:',
        '    - request: { path: /health }',
        '      expect: [ { status: 200 }, { certExpiresInDays: { gt: 14 } } ]',
        '',
      ].join('\n'),
      watch: '{ duration: 1h, phases: [bake], evaluationInterval: 1m, window: 5m, inconclusiveLimit: 1h }',
      intervals: { 'edge-readiness': 30_000 },
    });
    const id = await startWatch(s);
    const deployedAt = Date.parse((await watchOf(s, id)).startedAt);

    await advance(s, 2 * 60_000);
    const check = await checkOf(s, id, 'probe:edge-readiness');
    expect(check).toMatchObject({ kind: 'probe', result: 'fail', enforce: 'alert' });
    expect(check?.explanation).toMatch(/certExpiresInDays \((6\.\d+|7)\) gt 14/);
    // Two minutes into a 5m window: the range starts at the deploy, not before it.
    expect(check?.range).toEqual({
      from: new Date(deployedAt).toISOString(),
      to: new Date(deployedAt + 2 * 60_000).toISOString(),
    });
  }, 60_000);

  it('a prober that stopped delivering makes the check inconclusive, never its last state', async () => {
    let stalled = false;
    const target = await server((_req, res) => {
      // A stalled target holds the request: the run stays in flight (timeout 1h), no result arrives.
      if (!stalled) res.writeHead(200).end('ok');
    });
    const s = await startScenario({
      targetUrl: target.url,
      probes:
        '- name: health\n  kind: smoke\n  interval: 30s\n  timeout: 1h\n  request: { path: /health }\n  expect: [ { status: 200 } ]\n',
      watch: '{ duration: 1h, phases: [bake], evaluationInterval: 1m, window: 5m, inconclusiveLimit: 1h }',
      intervals: { health: 30_000 },
    });
    const id = await startWatch(s);
    await advance(s, 2 * 60_000);
    expect(await checkOf(s, id, 'probe:health')).toMatchObject({ result: 'pass' });

    stalled = true;
    s.settled.delete('health');
    await advance(s, 2 * 60_000);
    const check = await checkOf(s, id, 'probe:health');
    expect(check?.result).toBe('inconclusive');
    expect(check?.warmingUp).toBeUndefined();
    const [, seconds] = /^no result for (\d+) s: prober late or stopped/.exec(check?.explanation ?? '') ?? [];
    // The last result landed before the stall, two minutes ago at most: more than 2 × the 30 s interval.
    expect(Number(seconds)).toBeGreaterThan(60);
    expect(Number(seconds)).toBeLessThanOrEqual(150);
  }, 60_000);
});
