import { Agent } from 'undici';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { lintQuery } from '../../../src/config/query.js';
import { type SloConfig, sloSchema, sourceSchema } from '../../../src/config/schema.js';
import { evaluateSlo } from '../../../src/evaluator/evaluate.js';
import type { EvaluationContext } from '../../../src/evaluator/result.js';
import type { CheckResult } from '../../../src/evaluator/types.js';
import { lintLogQuery } from '../../../src/patterns/query.js';
import { createPatternStore, type PatternStore } from '../../../src/patterns/store.js';
import { createLokiSource } from '../../../src/sources/loki.js';
import { createLokiLogReader } from '../../../src/sources/loki-logs.js';
import { openStore } from '../../../src/store/open.js';
import type { Store } from '../../../src/store/port.js';
import {
  keyErrorLine,
  type LokiStandIn,
  recordedEntries,
  type StandInEntry,
  spreadLines,
  startLokiStandIn,
} from '../../helpers/loki-logs.js';

/*
 * The patterns check against a Loki stand-in serving the recorded Loki 2.8 line shapes (issue 19): the
 * previous version logs its usual errors for the hour before the deploy; the new version logs them too,
 * at the same rate, or adds one nobody wrote a threshold for.
 */

const MIN = 60_000;
const DEPLOYED = Date.parse('2026-11-27T12:00:00Z');
const dispatcher = new Agent({ keepAliveTimeout: 10 });
afterAll(() => dispatcher.close());

/** The recorded prep-api error lines (payment failed, upstream timeout, booking conflict). */
const KNOWN = recordedEntries().filter((e) => e.labels.app === 'prep-api' && e.labels.level === 'error');

const logs = spreadLines;
const keyError = keyErrorLine;

const BEFORE = logs(DEPLOYED - 60 * MIN, DEPLOYED, 6, KNOWN);

const CHECK: SloConfig = sloSchema.parse({
  name: 'new-error-signatures',
  source: 'loki',
  patterns: { query: '{app="prep-api"} | json | level=~"error|fatal"', minCount: 5, maxNewSignatures: 0 },
  baseline: { from: 'pre-deploy', maxIncrease: '50%' },
});

let loki: LokiStandIn | undefined;
const stores: Store[] = [];
afterEach(async () => {
  for (const opened of stores.splice(0)) await opened.close();
  for (const params of loki?.requests ?? []) {
    // Log reads carry a limit; the request-volume reads are instant metric queries.
    const query = params.get('query') ?? '';
    expect(params.has('limit') ? lintLogQuery(query) : lintQuery('loki', query)).toEqual([]);
  }
  await loki?.close();
  loki = undefined;
});

async function setUp(entries: StandInEntry[], url?: string, metric?: (params: URLSearchParams) => string) {
  loki = await startLokiStandIn(entries, metric === undefined ? {} : { metric });
  const config = sourceSchema.parse({ url: url ?? loki.url });
  const deps = { dispatcher, resilience: { retries: 0 } };
  const opened = await openStore({ path: ':memory:' });
  stores.push(opened);
  const store = createPatternStore(opened);
  const context = (
    at: number,
    watchId = 'w_1',
    extra: Partial<EvaluationContext> = {},
  ): EvaluationContext => ({
    sources: { loki: createLokiSource(config, deps) },
    at,
    deployedAt: DEPLOYED,
    windowMs: 5 * MIN,
    postDeployOnly: true,
    vars: { service: 'prep-api', version: '1.4.2', previousVersion: '1.4.1' },
    watchId,
    patterns: { logs: createLokiLogReader(config, deps), store },
    ...extra,
  });
  return { store, context, standIn: loki, opened };
}

async function check(slo: SloConfig, ctx: EvaluationContext): Promise<CheckResult> {
  const [result] = await evaluateSlo(slo, ctx);
  return result as CheckResult;
}

describe('a patterns check in a watch', () => {
  it('a new error far below any error-rate objective fails, with the new signature in the reason', async () => {
    // 2 KeyErrors a minute against the usual 6 errors a minute: a rate no error-rate SLO would notice.
    const after = [
      ...logs(DEPLOYED, DEPLOYED + 10 * MIN, 6, KNOWN),
      ...logs(DEPLOYED, DEPLOYED + 10 * MIN, 2, [keyError('currency')]),
    ];
    const { context, store } = await setUp([...BEFORE, ...after]);
    const result = await check(CHECK, context(DEPLOYED + 10 * MIN));
    expect(result).toMatchObject({ name: 'new-error-signatures', result: 'fail', value: 1, samples: 40 });
    expect(result.violation).toBe('1 new log signature > 0: "KeyError: <STR>" ×10');
    expect(result.explanation).toContain(
      '1 new signature past minCount 5 (maxNewSignatures 0): "KeyError: <STR>" ×10 (level error, first seen 2026-11-27T12:05:00.000Z; e.g. ',
    );
    expect(result.explanation).toContain(`KeyError: 'currency'`);
    expect(result.range).toEqual({ from: '2026-11-27T12:05:00.000Z', to: '2026-11-27T12:10:00.000Z' });
    const seen = await store.observations('w_1');
    expect(seen.filter((s) => s.status === 'new').map((s) => [s.template, s.count])).toEqual([
      ['KeyError: <STR>', 10],
    ]);
    expect(
      seen
        .filter((s) => s.status === 'known')
        .map((s) => s.template)
        .sort(),
    ).toEqual(['booking conflict', 'payment failed', 'upstream timeout']);
  });

  it('only known errors at the old rate pass', async () => {
    const { context } = await setUp([...BEFORE, ...logs(DEPLOYED, DEPLOYED + 10 * MIN, 6, KNOWN)]);
    const result = await check(CHECK, context(DEPLOYED + 10 * MIN));
    expect(result.result).toBe('pass');
    expect(result.explanation).toMatch(/^no new signature past minCount 5; 30 lines; 3 known signatures/);
  });

  it('a new signature below minCount is said but passes', async () => {
    const after = [
      ...logs(DEPLOYED, DEPLOYED + 10 * MIN, 6, KNOWN),
      ...logs(DEPLOYED + 6 * MIN, DEPLOYED + 10 * MIN, 1, [keyError('amount')]),
    ];
    const { context } = await setUp([...BEFORE, ...after]);
    const result = await check(CHECK, context(DEPLOYED + 10 * MIN));
    expect(result.result).toBe('pass');
    expect(result.explanation).toContain('1 new below minCount 5');
  });

  it('a known error much more frequent than before warns (changed)', async () => {
    const boom = KNOWN.filter((e) => e.labels.msg === 'payment failed');
    const after = [
      ...logs(DEPLOYED, DEPLOYED + 10 * MIN, 6, KNOWN),
      ...logs(DEPLOYED, DEPLOYED + 10 * MIN, 30, boom),
    ];
    const { context, store } = await setUp([...BEFORE, ...after]);
    const result = await check(CHECK, context(DEPLOYED + 10 * MIN));
    expect(result.result).toBe('warn');
    expect(result.violation).toBe('known log signature more frequent: "payment failed"');
    expect((await store.observations('w_1')).find((s) => s.template === 'payment failed')?.status).toBe(
      'changed',
    );
  });

  it('is warming up until minWindow has passed since the deploy, judging only post-deploy lines', async () => {
    const { context } = await setUp(BEFORE);
    const early = await check(CHECK, context(DEPLOYED + 20_000));
    expect(early).toMatchObject({ result: 'inconclusive', warmingUp: true });
    // Loki's default scrape interval is 15 s: twice that, unless watch.minWindow or the check says otherwise.
    expect(early.explanation).toBe('not enough post-deploy data (20s of 30s)');
    const configured = await check(CHECK, context(DEPLOYED + 50_000, 'w_1', { minWindowMs: MIN }));
    expect(configured.explanation).toBe('not enough post-deploy data (50s of 1m)');
    const judged = await check(CHECK, context(DEPLOYED + 2 * MIN));
    expect(judged.range).toEqual({ from: '2026-11-27T12:00:00.000Z', to: '2026-11-27T12:02:00.000Z' });
  });

  it('is inconclusive, not warming up, when Loki is down', async () => {
    const { context, standIn } = await setUp([]);
    await standIn.close();
    const result = await check(CHECK, context(DEPLOYED + 10 * MIN));
    expect(result.result).toBe('inconclusive');
    expect(result.warmingUp).toBeUndefined();
    expect(result.explanation).toMatch(
      /^baseline: loki unavailable: cannot connect to http:\/\/127\.0\.0\.1:\d+/,
    );
    loki = undefined;
  });

  /** Loki's count of the streams' lines (any level) in the baseline hour, for the selector alone; none: empty. */
  const streamLines = (count?: number) => (params: URLSearchParams) => {
    expect(params.get('query')).toBe('sum(count_over_time({app="prep-api"}[3600s]))');
    const result = count === undefined ? [] : [{ metric: {}, value: [DEPLOYED / 1000, String(count)] }];
    return JSON.stringify({ status: 'success', data: { resultType: 'vector', result } });
  };

  it('is inconclusive when Loki holds nothing of the streams before the deploy (retention, an outage)', async () => {
    const { context } = await setUp(logs(DEPLOYED, DEPLOYED + 10 * MIN, 6, KNOWN), undefined, streamLines());
    const result = await check(CHECK, context(DEPLOYED + 10 * MIN));
    expect(result.result).toBe('inconclusive');
    expect(result.explanation).toBe(
      'the baseline window 2026-11-27T11:00:00.000Z – 2026-11-27T12:00:00.000Z holds no lines of the query, and Loki holds no line of {app="prep-api"} in it either (the query returned no series: sum(count_over_time({app="prep-api"}[3600s]))): nothing to tell new signatures from known ones',
    );
  });

  it('judges against an empty baseline when the old version logged, just no errors: every signature is new', async () => {
    // A healthy old version: info lines only before the deploy, so the error query matched nothing.
    const { context, standIn } = await setUp(
      logs(DEPLOYED, DEPLOYED + 10 * MIN, 6, KNOWN),
      undefined,
      streamLines(5_000),
    );
    const result = await check(CHECK, context(DEPLOYED + 10 * MIN));
    expect(result.result).toBe('fail');
    // A real empty baseline is kept like any other: the next evaluation reads neither it nor the count.
    const deployNs = BigInt(DEPLOYED) * 1_000_000n;
    const baselineReads = () =>
      standIn.requests.filter((r) => BigInt(r.get('end') ?? r.get('time') ?? '0') <= deployNs).length;
    const before = baselineReads();
    expect(before).toBeGreaterThan(0);
    expect((await check(CHECK, context(DEPLOYED + 11 * MIN))).result).toBe('fail');
    expect(baselineReads()).toBe(before);
    expect(result.explanation).toMatch(/new signatures? past minCount 5/);
  });

  it('keeps the baseline read at watch start: a 24-hour watch does not need the pre-deploy logs later', async () => {
    const after = logs(DEPLOYED, DEPLOYED + 24 * 60 * MIN, 6, KNOWN);
    const { context, store, standIn } = await setUp([...BEFORE, ...after]);
    expect((await check(CHECK, context(DEPLOYED + 5 * MIN))).result).toBe('pass');
    expect(await store.baseline('w_1', 'new-error-signatures')).toMatchObject({
      lines: 360,
      from: DEPLOYED - 60 * MIN,
      to: DEPLOYED,
    });
    standIn.replace(after.filter((e) => Number(e.ns / 1_000_000n) >= DEPLOYED + 20 * 60 * MIN)); // retention dropped the rest
    const requests = standIn.requests.length;
    const late = await check(CHECK, context(DEPLOYED + 23 * 60 * MIN));
    expect(late.result).toBe('pass');
    expect(late.explanation).toMatch(/3 known signatures/);
    const asked = standIn.requests
      .slice(requests)
      .map((p) => Number(BigInt(p.get('start') ?? '0') / 1_000_000n));
    expect(asked.every((start) => start >= DEPLOYED)).toBe(true);
  });

  it('says it sampled when the window holds more than maxLines', async () => {
    const capped: SloConfig = {
      ...CHECK,
      patterns: { ...(CHECK.patterns as NonNullable<SloConfig['patterns']>), maxLines: 100 },
    };
    const after = [...logs(DEPLOYED, DEPLOYED + 10 * MIN, 60, KNOWN)];
    const { context } = await setUp([...BEFORE, ...after]);
    const result = await check(capped, context(DEPLOYED + 10 * MIN));
    expect(result.samples).toBe(100);
    expect(result.explanation).toContain('sampled: read the first 100 lines of the window (maxLines)');
  });
});

describe('frequency of known signatures against the request volume (`total`)', () => {
  const WITH_TOTAL: SloConfig = { ...CHECK, total: 'sum(count_over_time({app="prep-api"} [{{window}}]))' };
  const boom = KNOWN.filter((e) => e.labels.msg === 'payment failed');
  const after = [
    ...logs(DEPLOYED, DEPLOYED + 10 * MIN, 6, KNOWN),
    ...logs(DEPLOYED, DEPLOYED + 10 * MIN, 30, boom),
  ];
  /** Loki's instant vector answer: 36,000 requests in the baseline hour, `current` in the judged 5 minutes. */
  const volume = (current: number) => (params: URLSearchParams) => {
    const baseline = params.get('time') === `${BigInt(DEPLOYED) * 1_000_000n}`;
    expect(params.get('query')).toBe(`sum(count_over_time({app="prep-api"} [${baseline ? '1h' : '5m'}]))`);
    const value = baseline ? 36_000 : current;
    return JSON.stringify({
      status: 'success',
      data: { resultType: 'vector', result: [{ metric: {}, value: [DEPLOYED / 1000, String(value)] }] },
    });
  };

  it('an error five times as frequent per request warns', async () => {
    const { context } = await setUp([...BEFORE, ...after], undefined, volume(3_000));
    const result = await check(WITH_TOTAL, context(DEPLOYED + 10 * MIN));
    expect(result.result).toBe('warn');
    expect(result.explanation).toContain(
      'more frequent than in the baseline: "payment failed" (significant increase: ratio 0.05333 vs 0.003333: 160/3000 vs 120/36000 (baseline)',
    );
  });

  it('the same error rising with a traffic surge is not a change', async () => {
    const { context } = await setUp([...BEFORE, ...after], undefined, volume(90_000));
    const result = await check(WITH_TOTAL, context(DEPLOYED + 10 * MIN));
    expect(result.result).toBe('pass');
  });
});

describe('baseline from the previous passed watch', () => {
  const PREVIOUS: SloConfig = {
    ...CHECK,
    baseline: { ...(CHECK.baseline as NonNullable<SloConfig['baseline']>), from: 'previous-watch' },
  };
  const after = [
    ...logs(DEPLOYED, DEPLOYED + 10 * MIN, 6, KNOWN),
    ...logs(DEPLOYED, DEPLOYED + 10 * MIN, 2, [keyError('currency')]),
  ];

  async function passedWatch(opened: Store, id: string, startedAt: number): Promise<void> {
    await opened.watches.insert({
      id,
      service: 'prep-api',
      version: '1.4.1',
      previousVersion: null,
      status: 'passed',
      verdict: 'pass',
      phase: 'bake',
      startedAt,
      updatedAt: startedAt + 3_600_000,
      endedAt: startedAt + 3_600_000,
      durationMs: 3_600_000,
      phases: [],
      reasons: [],
      state: {},
      supersededBy: null,
    });
  }

  it('knows what the last passed watch saw, with no pre-deploy logs at all', async () => {
    // The previous watch (a day earlier) saw the usual errors and, once, the KeyError that an operator let pass.
    const earlier = DEPLOYED - 24 * 60 * MIN;
    const { context, store, opened, standIn } = await setUp([
      ...logs(earlier - 60 * MIN, earlier + 10 * MIN, 6, KNOWN),
      ...logs(earlier, earlier + 10 * MIN, 2, [keyError('amount')]),
    ]);
    const first = await check(CHECK, { ...context(earlier + 10 * MIN, 'w_0'), deployedAt: earlier });
    expect(first.result).toBe('fail');
    await passedWatch(opened, 'w_0', earlier);
    standIn.replace(after); // nothing before this deploy: only the stored signatures can tell
    const result = await check(PREVIOUS, context(DEPLOYED + 10 * MIN));
    expect(result.result).toBe('pass');
    expect(result.explanation).toContain('frequencies not compared (baseline from: previous-watch)');
    expect(result.baseline).toBe(4);
    expect(
      (await store.baseline('w_1', 'new-error-signatures'))?.signatures.map((s) => s.template).sort(),
    ).toEqual(['KeyError: <STR>', 'booking conflict', 'payment failed', 'upstream timeout']);
  });

  it('is inconclusive when no passed watch recorded signatures of the check', async () => {
    const { context } = await setUp(after);
    const result = await check(PREVIOUS, context(DEPLOYED + 10 * MIN));
    expect(result.result).toBe('inconclusive');
    expect(result.explanation).toBe(
      'no passed watch of prep-api recorded signatures of this check (baseline from: previous-watch)',
    );
  });
});

describe('operator feedback', () => {
  const after = [
    ...logs(DEPLOYED, DEPLOYED + 10 * MIN, 6, KNOWN),
    ...logs(DEPLOYED, DEPLOYED + 10 * MIN, 2, [keyError('currency')]),
  ];

  async function decide(store: PatternStore, verdict: 'ignore' | 'always-fail', template: string) {
    const seen = (await store.observations('w_1')).find((s) => s.template === template);
    if (seen === undefined) throw new Error(`no ${template}`);
    await store.addFeedback({
      service: 'prep-api',
      signature: seen.id,
      verdict,
      level: seen.level,
      logger: seen.logger,
      template,
      reason: 'known issue',
      who: 'alice',
      at: DEPLOYED,
    });
  }

  it('"not a risk" joins the baseline of later watches, and the explanation says so', async () => {
    const { context, store } = await setUp([...BEFORE, ...after]);
    expect((await check(CHECK, context(DEPLOYED + 10 * MIN))).result).toBe('fail');
    await decide(store, 'ignore', 'KeyError: <STR>');
    const next = await check(CHECK, context(DEPLOYED + 10 * MIN, 'w_2'));
    expect(next.result).toBe('pass');
    expect(next.explanation).toContain(
      'marked not a risk by an operator: "KeyError: <STR>" (alice: known issue)',
    );
  });

  it('"always fail" fails a later watch even on a baseline signature', async () => {
    const { context, store } = await setUp([...BEFORE, ...logs(DEPLOYED, DEPLOYED + 10 * MIN, 6, KNOWN)]);
    expect((await check(CHECK, context(DEPLOYED + 10 * MIN))).result).toBe('pass');
    await decide(store, 'always-fail', 'booking conflict');
    const next = await check(CHECK, context(DEPLOYED + 10 * MIN, 'w_2'));
    expect(next.result).toBe('fail');
    expect(next.violation).toBe('log signature marked always fail: "booking conflict"');
    expect(await store.feedbackHistory((await store.feedback('prep-api'))[0]?.signature ?? '')).toHaveLength(
      1,
    );
  });
});
