import type { PatternsConfig, SloConfig } from '../config/schema.js';
import { errorMessage } from '../errors.js';
import { readValue } from '../evaluator/read.js';
import { checkShell, type EvaluationContext, withJudgement } from '../evaluator/result.js';
import { type EvaluationVars, renderFor } from '../evaluator/sli.js';
import type { CheckResult } from '../evaluator/types.js';
import { judgedWindow, minWindowMs, rangeOf, warmUp } from '../evaluator/window.js';
import type { LogReader } from '../sources/loki-logs.js';
import { NoDataError, QueryError, SourceUnavailableError } from '../sources/types.js';
import { changedSignatures, judgeClassification, observedSignatures } from './judge.js';
import { streamSelector } from './query.js';
import { classifyLines, clusterLines } from './signatures.js';
import type { PatternStore, StoredBaseline } from './store.js';

/*
 * The `patterns` check (DESIGN §5, issue 19): the new version's log lines in the judged window — clamped to
 * start at the deploy (DESIGN §6) — classified against the baseline's signatures, which are read once, at
 * the watch's first evaluation, from the window before the deploy (or taken from the last passed watches)
 * and kept in the store. New signatures
 * past minCount fail it (more than maxNewSignatures of them), as does any line of a signature an operator
 * marked "always fail"; a known signature significantly more frequent than in the baseline (two-proportion
 * test against the request volume of `total`, else against the lines read) makes it warn.
 */

/** What a patterns check needs beyond the evaluation context: the log reader and the store. */
export interface PatternsContext {
  logs?: LogReader;
  store?: PatternStore;
}

type Outcome<T> = { ok: true; value: T } | { ok: false; reason: string };

function baselineVars(vars: EvaluationVars): EvaluationVars {
  // The baseline window shows the previous version: a query filtering on {{version}} must look for that one.
  return vars.previousVersion === undefined || vars.previousVersion === ''
    ? vars
    : { ...vars, version: vars.previousVersion };
}

function readFailure(error: unknown, signal?: AbortSignal): string {
  if (signal?.aborted) throw error;
  if (error instanceof QueryError) return `query error: ${error.message}`;
  if (error instanceof SourceUnavailableError) return `loki unavailable: ${error.message}`;
  if (error instanceof NoDataError) return `no data: ${error.message}`;
  return errorMessage(error);
}

const iso = (ms: number): string => new Date(ms).toISOString();

interface Prepared {
  slo: SloConfig;
  patterns: PatternsConfig;
  ctx: EvaluationContext;
  logs: LogReader;
  store: PatternStore | undefined;
}

async function readVolume(
  p: Prepared,
  vars: EvaluationVars,
  windowMs: number,
  at: number,
): Promise<Outcome<number>> {
  const source = p.ctx.sources.loki;
  if (p.slo.total === undefined) return { ok: false, reason: 'no total query' };
  if (source === undefined) return { ok: false, reason: 'source loki is not configured' };
  try {
    const query = renderFor(p.slo, p.slo.total, vars, windowMs);
    const read = await readValue(source, query, at, p.ctx.signal);
    return read.ok ? { ok: true, value: read.value } : { ok: false, reason: read.reason };
  } catch (error) {
    return { ok: false, reason: readFailure(error, p.ctx.signal) };
  }
}

/**
 * Whether Loki holds lines of the query's streams (its selector alone) between `from` and `to`: the
 * difference between a quiet baseline and a missing one.
 */
async function streamHeldLines(p: Prepared, from: number, to: number): Promise<Outcome<number>> {
  const source = p.ctx.sources.loki;
  if (source === undefined) return { ok: false, reason: 'source loki is not configured' };
  let selector: string | undefined;
  try {
    selector = streamSelector(renderFor(p.slo, p.patterns.query, baselineVars(p.ctx.vars), to - from));
  } catch (error) {
    return { ok: false, reason: readFailure(error, p.ctx.signal) };
  }
  if (selector === undefined) return { ok: false, reason: 'the query has no stream selector' };
  const seconds = Math.max(1, Math.round((to - from) / 1000));
  const read = await readValue(source, `sum(count_over_time(${selector}[${seconds}s]))`, to, p.ctx.signal);
  if (read.ok && read.value > 0) return { ok: true, value: read.value };
  return {
    ok: false,
    reason: `Loki holds no line of ${selector} in it either (${read.ok ? 'count 0' : read.reason})`,
  };
}

/** The stored baseline of this watch and check, or a fresh read of the window before the deploy (then stored). */
async function loadBaseline(p: Prepared): Promise<Outcome<StoredBaseline>> {
  const { ctx, slo, patterns } = p;
  const kept = ctx.watchId === undefined ? undefined : await p.store?.baseline(ctx.watchId, slo.name);
  if (kept !== undefined) return { ok: true, value: kept };
  if (slo.baseline?.from === 'previous-watch') return previousWatchBaseline(p);
  const shift = slo.baseline?.from === 'offset' ? (slo.baseline.offset ?? 0) : 0;
  const to = ctx.deployedAt - shift;
  const from = to - patterns.baselineWindow;
  const vars = baselineVars(ctx.vars);
  let read: Awaited<ReturnType<LogReader['readLines']>>;
  try {
    const query = renderFor(slo, patterns.query, vars, patterns.baselineWindow);
    read = await p.logs.readLines(query, from, to, { maxLines: patterns.maxLines, ...signalOf(ctx) });
  } catch (error) {
    return { ok: false, reason: `baseline: ${readFailure(error, ctx.signal)}` };
  }
  const set = clusterLines(read.lines, clusterOptions(patterns));
  const volume = slo.total === undefined ? undefined : await readVolume(p, vars, patterns.baselineWindow, to);
  if (volume !== undefined && !volume.ok)
    return { ok: false, reason: `baseline request volume: ${volume.reason}` };
  const baseline: StoredBaseline = {
    from,
    to,
    lines: read.lines.length,
    sampled: read.sampled,
    volume: volume?.value ?? null,
    computedAt: ctx.at,
    signatures: set.signatures,
  };
  if (baseline.lines === 0) {
    // No matching line before the deploy is either a quiet old version (a real, empty baseline: every
    // signature of the new one is new) or a Loki that holds nothing for the window (retention, an
    // outage): only the second is no data, read again next time. The streams' own line count tells them
    // apart, once: a real empty baseline is kept like any other.
    const held = await streamHeldLines(p, from, to);
    if (!held.ok) {
      return {
        ok: false,
        reason: `the baseline window ${iso(from)} – ${iso(to)} holds no lines of the query, and ${held.reason}: nothing to tell new signatures from known ones`,
      };
    }
  }
  if (ctx.watchId !== undefined)
    await p.store?.saveBaseline(ctx.watchId, slo.name, ctx.vars.service, baseline);
  return { ok: true, value: baseline };
}

/**
 * `from: previous-watch`: the signatures the service's last passed watches knew (their baselines and what
 * they saw), from the store: no Loki read, so it works when the window before the deploy is quiet.
 */
async function previousWatchBaseline(p: Prepared): Promise<Outcome<StoredBaseline>> {
  const { ctx, slo } = p;
  const found = await p.store?.previousWatches({
    service: ctx.vars.service,
    check: slo.name,
    count: slo.baseline?.count ?? 1,
    ...(ctx.watchId === undefined ? {} : { excludeWatchId: ctx.watchId }),
  });
  if (found === undefined) {
    return {
      ok: false,
      reason: `no passed watch of ${ctx.vars.service} recorded signatures of this check (baseline from: previous-watch)`,
    };
  }
  const baseline: StoredBaseline = {
    from: Math.min(...found.watches.map((w) => w.startedAt)),
    to: Math.max(...found.watches.map((w) => w.endedAt)),
    lines: found.signatures.reduce((sum, s) => sum + s.count, 0),
    sampled: false,
    volume: null,
    computedAt: ctx.at,
    signatures: found.signatures,
  };
  if (ctx.watchId !== undefined)
    await p.store?.saveBaseline(ctx.watchId, slo.name, ctx.vars.service, baseline);
  return { ok: true, value: baseline };
}

function signalOf(ctx: EvaluationContext): { signal?: AbortSignal } {
  return ctx.signal === undefined ? {} : { signal: ctx.signal };
}

function clusterOptions(patterns: PatternsConfig): { maxSignatures: number; messageField?: string } {
  return patterns.messageField === undefined
    ? { maxSignatures: patterns.maxSignatures }
    : { maxSignatures: patterns.maxSignatures, messageField: patterns.messageField };
}

/**
 * Evaluates one `patterns` check at `ctx.at`. Never throws for source trouble: Loki down, a bad query or an
 * empty baseline window are inconclusive results with the reason; it rethrows only when `ctx.signal` aborts.
 *
 * @example
 *   const [check] = [await evaluatePatternsCheck(slo, { ...ctx, patterns: { logs, store } })];
 *   check.result // 'fail'; check.explanation: '1 new signature past minCount 5 …: "KeyError: <STR>" ×14 …'
 */
export async function evaluatePatternsCheck(slo: SloConfig, ctx: EvaluationContext): Promise<CheckResult> {
  const patterns = slo.patterns as PatternsConfig;
  const shell: CheckResult = { ...checkShell(slo, ctx, 'slo', slo.name), objective: null };
  if (slo.baseline !== undefined) shell.baselineFrom = slo.baseline.from;
  // DESIGN §6: during a watch (postDeployOnly) the judged window never reaches before the deploy.
  const window = judgedWindow(slo.window ?? ctx.windowMs, ctx);
  const { from, to } = window;
  shell.range = rangeOf(window);
  const inconclusive = (explanation: string, extra: Partial<CheckResult> = {}): CheckResult =>
    withJudgement(shell, { result: 'inconclusive', explanation }, extra);
  let query: string;
  try {
    query = renderFor(slo, patterns.query, ctx.vars, Math.max(1000, window.lengthMs));
  } catch (error) {
    return inconclusive(errorMessage(error));
  }
  shell.query = query;
  const logs = ctx.patterns?.logs;
  if (logs === undefined) {
    return inconclusive(
      ctx.sources.loki === undefined
        ? 'source loki is not configured'
        : 'patterns checks are judged in watches and by vigil logs diff (no log reader here)',
    );
  }
  const warming = warmUp(ctx, minWindowMs(slo, ctx.minWindowMs, ctx.sources.loki));
  if (warming !== undefined) return withJudgement(shell, warming, { warmingUp: true });
  const p: Prepared = { slo, patterns, ctx, logs, store: ctx.patterns?.store };
  const baseline = await loadBaseline(p);
  if (!baseline.ok) return inconclusive(baseline.reason);
  const b = baseline.value;
  let read: Awaited<ReturnType<LogReader['readLines']>>;
  try {
    read = await logs.readLines(query, from, to, { maxLines: patterns.maxLines, ...signalOf(ctx) });
  } catch (error) {
    return inconclusive(readFailure(error, ctx.signal));
  }
  const feedback = (await ctx.patterns?.store?.feedback(ctx.vars.service)) ?? [];
  const asStored = (f: (typeof feedback)[number]) => ({
    id: f.signature,
    level: f.level,
    logger: f.logger,
    template: f.template,
    count: 0,
  });
  const classification = classifyLines(
    read.lines,
    {
      baseline: b.signatures,
      ignored: feedback.filter((f) => f.verdict === 'ignore').map(asStored),
      alwaysFail: feedback.filter((f) => f.verdict === 'always-fail').map(asStored),
    },
    clusterOptions(patterns),
  );
  const notes: string[] = [];
  let currentTotal = read.lines.length;
  let baselineTotal = b.lines;
  if (slo.total !== undefined) {
    const volume = await readVolume(p, ctx.vars, Math.max(1000, window.lengthMs), to);
    if (volume.ok && b.volume !== null) {
      currentTotal = volume.value;
      baselineTotal = b.volume;
    } else
      notes.push(
        `frequencies judged against lines read (request volume: ${volume.ok ? 'none kept for the baseline' : volume.reason})`,
      );
  }
  if (read.sampled) notes.push(`sampled: read the first ${patterns.maxLines} lines of the window (maxLines)`);
  if (b.sampled) notes.push(`the baseline was sampled too (first ${patterns.maxLines} lines)`);
  // Stored signatures of earlier watches come from windows of other lengths: their counts say what was
  // known, not how often, so a previous-watch baseline judges new signatures only.
  const byWindow = slo.baseline?.from !== 'previous-watch';
  if (!byWindow) notes.push('frequencies not compared (baseline from: previous-watch)');
  const changed = byWindow
    ? changedSignatures(slo.baseline, classification.known, currentTotal, baselineTotal)
    : [];
  const decisions = new Map(feedback.map((f) => [f.signature, f]));
  const verdict = judgeClassification(patterns, classification, changed, notes, decisions);
  if (ctx.watchId !== undefined) {
    const ids = new Set(changed.map((c) => c.signature.current.id));
    await p.store?.saveObservations(
      ctx.watchId,
      slo.name,
      ctx.vars.service,
      ctx.at,
      observedSignatures(slo.name, ctx.at, classification, ids),
    );
  }
  return withJudgement(shell, verdict, {
    value: verdict.newCount,
    baseline: b.signatures.length,
    samples: read.lines.length,
  });
}
