import { existsSync } from 'node:fs';
import type { Dispatcher } from 'undici';
import { metricNames, renderQuery } from '../config/query.js';
import type { ServiceConfig, SloConfig } from '../config/schema.js';
import { errorMessage, VigilError } from '../errors.js';
import { sliTemplate } from '../evaluator/sli.js';
import { createProbeRollups } from '../prober/rollups.js';
import { absentSourceReason } from '../sources/absent.js';
import { createSources } from '../sources/index.js';
import { NoDataError, type SliSource } from '../sources/types.js';
import { openStore } from '../store/open.js';
import type { Store } from '../store/port.js';

/*
 * `vigil validate --online`: every query of every check run once, now, against the configured sources,
 * so a typo that parses shows before a watch depends on it. Per check:
 *   returns data    every query answered with a value
 *   no series now   a query answered with nothing (a label value that matches nothing, no traffic yet, or
 *                   — for an error-lines query — good news); a warning, because it may well be right now
 *   error …         the source refused the query or could not be reached, or a PromQL query selects a metric
 *                   Prometheus has not seen in the last hour (a misspelt metric name, which with
 *                   `onNoData: pass` would pass forever); `vigil validate` then exits 1
 *   skipped         the query needs {{version}} (known only in a watch), its source is off, or probe results
 *                   are not available here
 */

/** The outcome of one query, or of a whole check (its worst query). */
export type OnlineStatus = 'returns data' | 'no series now' | 'error' | 'skipped';

/** One query of a check, as run. */
export interface OnlineQuery {
  /** Which field of the check: query, good, bad, total, patterns.query, sli. */
  field: string;
  query: string;
  status: OnlineStatus;
  value?: number;
  detail?: string;
}

/** A check's online result, as `vigil validate --json` prints it under `checks`. */
export interface OnlineCheck {
  name: string;
  source: SloConfig['source'];
  status: OnlineStatus;
  detail?: string;
  queries: OnlineQuery[];
}

/** How far back a metric name must have been seen for a query's emptiness to be "no series now". */
const METRIC_LOOKBACK = '1h';
const RANK: Record<OnlineStatus, number> = { 'returns data': 0, skipped: 1, 'no series now': 2, error: 3 };

async function runQuery(
  source: SliSource,
  field: string,
  query: string,
  at: number,
  signal: AbortSignal,
): Promise<OnlineQuery> {
  try {
    const { value } = await source.query(query, at, signal);
    return { field, query, status: 'returns data', value };
  } catch (error) {
    if (error instanceof NoDataError) return { field, query, status: 'no series now', detail: error.message };
    return { field, query, status: 'error', detail: errorMessage(error) };
  }
}

/** A PromQL query with no series: error when a metric it names has no series at all lately (a typo). */
async function unknownMetric(
  source: SliSource,
  template: string,
  at: number,
  signal: AbortSignal,
): Promise<string | undefined> {
  for (const metric of metricNames(template)) {
    const probe = await runQuery(
      source,
      'metric',
      `count(present_over_time(${metric}[${METRIC_LOOKBACK}]))`,
      at,
      signal,
    );
    if (probe.status === 'no series now')
      return `metric ${metric} has no series in the last ${METRIC_LOOKBACK} (a misspelt metric name?)`;
  }
  return undefined;
}

/** The queries of a check, as templates with the field each comes from. */
function templatesOf(slo: SloConfig, windowMs: number): { field: string; template: string }[] {
  if (slo.source === 'probes') {
    const template = sliTemplate(slo, windowMs);
    return template === undefined ? [] : [{ field: 'sli', template }];
  }
  const out: { field: string; template: string }[] = [];
  for (const field of ['query', 'good', 'bad', 'total'] as const) {
    const template = slo[field];
    if (template !== undefined) out.push({ field, template: template.trim() });
  }
  // A patterns check reads log lines; counting them over the window asks Loki the same selection.
  if (slo.patterns !== undefined)
    out.push({
      field: 'patterns.query',
      template: `sum(count_over_time(${slo.patterns.query.trim()} [{{window}}]))`,
    });
  return out;
}

async function checkOnline(
  slo: SloConfig,
  source: SliSource | undefined,
  ctx: { service: string; windowMs: number; at: number; signal: AbortSignal; noSource: string },
): Promise<OnlineCheck> {
  const base = { name: slo.name, source: slo.source };
  if (source === undefined) return { ...base, status: 'skipped', detail: ctx.noSource, queries: [] };
  const windowMs = slo.window ?? ctx.windowMs;
  const queries: OnlineQuery[] = [];
  for (const { field, template } of templatesOf(slo, windowMs)) {
    let query: string;
    try {
      query =
        slo.source === 'probes'
          ? template
          : renderQuery(template, { windowMs, service: ctx.service }, slo.source);
    } catch (error) {
      if (!(error instanceof VigilError)) throw error;
      queries.push({
        field,
        query: template,
        status: 'skipped',
        detail: `${error.message} (only in a watch)`,
      });
      continue;
    }
    const result = await runQuery(source, field, query, ctx.at, ctx.signal);
    const unknown =
      result.status === 'no series now' && slo.source === 'prometheus'
        ? await unknownMetric(source, template, ctx.at, ctx.signal)
        : undefined;
    queries.push(unknown === undefined ? result : { ...result, status: 'error', detail: unknown });
  }
  const worst = queries.reduce<OnlineQuery | undefined>(
    (acc, q) => (acc === undefined || RANK[q.status] > RANK[acc.status] ? q : acc),
    undefined,
  );
  if (worst === undefined) return { ...base, status: 'skipped', detail: 'no query to run', queries };
  const detail =
    worst.status === 'returns data'
      ? undefined
      : `${queries.length > 1 ? `${worst.field}: ` : ''}${worst.detail ?? worst.status}`;
  return { ...base, status: worst.status, ...(detail === undefined ? {} : { detail }), queries };
}

/**
 * Runs every check's queries once, now, against the configured sources (the real Prometheus and Loki
 * clients; the daemon's store for probes checks when it is there), in the order of the config.
 *
 * @example
 *   const checks = await checkQueriesOnline(config, { dispatcher, signal, at: Date.now() });
 *   checks[0] // { name: 'error-rate', source: 'prometheus', status: 'returns data', queries: [...] }
 */
export async function checkQueriesOnline(
  config: ServiceConfig,
  deps: { dispatcher: Dispatcher; signal: AbortSignal; at: number },
): Promise<OnlineCheck[]> {
  const storePath = config.root.storage.path;
  const needsStore = config.slos.some((slo) => slo.source === 'probes');
  const store = needsStore ? await openDaemonStore(config.root.storage) : undefined;
  try {
    const sources = createSources(config.root, {
      dispatcher: deps.dispatcher,
      // The rollups the daemon writes for this service.
      ...(store === undefined ? {} : { rollups: createProbeRollups(store, config.root.service) }),
    });
    const results: OnlineCheck[] = [];
    for (const slo of config.slos) {
      const noSource =
        slo.source === 'probes'
          ? `probe results are kept by the daemon's store, and there is none at ${storePath}`
          : absentSourceReason(slo.source);
      results.push(
        await checkOnline(slo, sources[slo.source], {
          service: config.root.service,
          windowMs: config.root.watch.window,
          at: deps.at,
          signal: deps.signal,
          noSource,
        }),
      );
    }
    return results;
  } finally {
    await store?.close();
  }
}

/**
 * The daemon's store: its PostgreSQL database, or its SQLite file when that exists (never created here:
 * a store made now would hold no probe results).
 */
async function openDaemonStore(storage: {
  path: string;
  url?: string | undefined;
}): Promise<Store | undefined> {
  if (storage.url !== undefined) return openStore({ url: storage.url });
  if (storage.path === ':memory:' || !existsSync(storage.path)) return undefined;
  return openStore({ path: storage.path });
}

/**
 * One line per check for stderr: `online: error-rate (prometheus): returns data (0.0042)`.
 *
 * @example formatOnlineCheck({ name: 'x', source: 'loki', status: 'no series now', detail: 'empty result', queries: [] })
 */
export function formatOnlineCheck(check: OnlineCheck): string {
  const value = check.queries.length === 1 ? check.queries[0]?.value : undefined;
  const shown =
    check.status === 'returns data'
      ? `returns data${value === undefined ? '' : ` (${value})`}`
      : `${check.status}${check.detail === undefined ? '' : `: ${check.detail}`}`;
  return `${check.name} (${check.source}): ${shown}`;
}
