import { z } from 'zod';

/**
 * k6 writes its end-of-test summary in two shapes (REFERENCE §4.5):
 * - `handleSummary(data)`: each metric is `{type, contains, values: {...}, thresholds?: {expr: {ok}}}`,
 *   `ok: true` meaning the threshold held; `state.testRunDurationMs` gives the run's length;
 * - `--summary-export`: the older flat shape, each metric is the bare values object, a rate metric's
 *   `rate` is renamed `value`, and thresholds are `{expr: boolean}` where `true` means it FAILED.
 * Both are parsed here into one LoadSummary. Key order is Go map order (not stable): nothing here
 * depends on it, and thresholds are sorted.
 */

/** One threshold expression and whether it held. */
export interface ThresholdOutcome {
  /** The metric (or sub-metric), e.g. `http_req_duration{endpoint:slow}`. */
  metric: string;
  /** The expression as written in the script, e.g. `p(95)<500`. */
  expression: string;
  passed: boolean;
}

/** One k6 `check()`: how often it held and how often it did not, over the whole run. */
export interface CheckTally {
  name: string;
  /** `::group::name`; tells apart checks of one name in different groups. */
  path: string;
  passes: number;
  fails: number;
}

/** A k6 run's summary, whichever shape it came in. Latencies in milliseconds, rates as ratios. */
export interface LoadSummary {
  source: 'handle-summary' | 'summary-export';
  /** Length of the run; only the handleSummary shape carries it. */
  durationMs: number | null;
  requests: { count: number; ratePerSecond: number } | null;
  /** Share of failed HTTP requests (`http_req_failed` rate). */
  failedRate: number | null;
  /** `http_req_duration` statistics; p99 only when `p(99)` was among the trend stats. */
  latencyMs: { avg: number | null; p95: number | null; p99: number | null; max: number | null } | null;
  iterations: { count: number; ratePerSecond: number } | null;
  checks: { passed: number; failed: number } | null;
  /** Each `check()` by name with its own tally, from `root_group` (groups flattened), sorted by path. */
  checkResults: CheckTally[];
  vusMax: number | null;
  thresholds: ThresholdOutcome[];
}

const numbers = z.record(z.string(), z.number());

const handleSummaryMetricSchema = z.object({
  type: z.enum(['counter', 'gauge', 'rate', 'trend']),
  contains: z.string().optional(),
  values: numbers,
  thresholds: z.record(z.string(), z.object({ ok: z.boolean() })).optional(),
});

/** The `data` object k6 hands to `handleSummary` (written by our scripts with `JSON.stringify(data)`). */
export const handleSummarySchema = z.object({
  metrics: z.record(z.string(), handleSummaryMetricSchema),
  // Read by collectChecks, leniently: a malformed group must not make the whole summary unreadable.
  root_group: z.unknown().optional(),
  state: z.object({ testRunDurationMs: z.number() }).partial().optional(),
});

const exportMetricSchema = z
  .object({ thresholds: z.record(z.string(), z.boolean()).optional() })
  .catchall(z.number());

/** The legacy flat file written by `k6 run --summary-export`. */
export const summaryExportSchema = z.object({
  metrics: z.record(z.string(), exportMetricSchema),
  root_group: z.unknown().optional(),
});

type MetricValues = Record<string, number>;

/** Items of a group's `checks`/`groups`: an array (handleSummary) or a map by name (summary-export). */
function itemsOf(value: unknown): unknown[] {
  if (Array.isArray(value)) return value;
  if (value && typeof value === 'object') return Object.values(value);
  return [];
}

/** Every check of a `root_group` and its subgroups, in either summary shape. */
function collectChecks(group: unknown, into: CheckTally[] = []): CheckTally[] {
  if (!group || typeof group !== 'object') return into;
  const { checks, groups } = group as { checks?: unknown; groups?: unknown };
  for (const check of itemsOf(checks)) {
    const { name, path, passes, fails } = (check ?? {}) as Partial<Record<keyof CheckTally, unknown>>;
    if (typeof name === 'string' && typeof passes === 'number' && typeof fails === 'number')
      into.push({ name, path: typeof path === 'string' ? path : `::${name}`, passes, fails });
  }
  for (const child of itemsOf(groups)) collectChecks(child, into);
  return into;
}

function fromMetrics(
  source: LoadSummary['source'],
  values: (name: string) => MetricValues | undefined,
  thresholds: ThresholdOutcome[],
  durationMs: number | null,
  rootGroup: unknown,
): LoadSummary {
  const reqs = values('http_reqs');
  const failed = values('http_req_failed');
  const duration = values('http_req_duration');
  const iterations = values('iterations');
  const checks = values('checks');
  const vusMax = values('vus_max') ?? values('vus');
  const counter = (v: MetricValues | undefined) =>
    v?.count === undefined ? null : { count: v.count, ratePerSecond: v.rate ?? 0 };
  return {
    source,
    durationMs,
    requests: counter(reqs),
    failedRate: failed?.rate ?? null,
    latencyMs: duration
      ? {
          avg: duration.avg ?? null,
          p95: duration['p(95)'] ?? null,
          p99: duration['p(99)'] ?? null,
          max: duration.max ?? null,
        }
      : null,
    iterations: counter(iterations),
    checks:
      checks?.passes === undefined || checks.fails === undefined
        ? null
        : { passed: checks.passes, failed: checks.fails },
    checkResults: collectChecks(rootGroup).sort((a, b) => a.path.localeCompare(b.path)),
    vusMax: vusMax?.max ?? vusMax?.value ?? null,
    thresholds: thresholds.sort(
      (a, b) => a.metric.localeCompare(b.metric) || a.expression.localeCompare(b.expression),
    ),
  };
}

function normalizeHandleSummary(data: z.infer<typeof handleSummarySchema>): LoadSummary {
  const thresholds: ThresholdOutcome[] = [];
  for (const [metric, entry] of Object.entries(data.metrics)) {
    for (const [expression, outcome] of Object.entries(entry.thresholds ?? {})) {
      thresholds.push({ metric, expression, passed: outcome.ok });
    }
  }
  return fromMetrics(
    'handle-summary',
    (name) => data.metrics[name]?.values,
    thresholds,
    data.state?.testRunDurationMs ?? null,
    data.root_group,
  );
}

function normalizeSummaryExport(data: z.infer<typeof summaryExportSchema>): LoadSummary {
  const thresholds: ThresholdOutcome[] = [];
  const flat = new Map<string, MetricValues>();
  for (const [metric, entry] of Object.entries(data.metrics)) {
    const { thresholds: crossed, ...rest } = entry;
    // In this shape `true` means the threshold FAILED (the file stores `!ok`).
    for (const [expression, failed] of Object.entries(crossed ?? {})) {
      thresholds.push({ metric, expression, passed: !failed });
    }
    const values = rest as MetricValues;
    // Rate metrics carry their ratio as `value` here, as `rate` in the handleSummary shape; a counter's
    // `rate` is per second and keeps its name. A rate metric is the one with passes/fails.
    flat.set(
      metric,
      'passes' in values && 'value' in values ? { ...values, rate: values.value as number } : values,
    );
  }
  return fromMetrics('summary-export', (name) => flat.get(name), thresholds, null, data.root_group);
}

/** The outcome of reading a summary: the normalized summary, or why it could not be read. */
export type SummaryParse = { ok: true; summary: LoadSummary } | { ok: false; error: string };

/**
 * Parses either k6 summary shape (already JSON-decoded) into a LoadSummary.
 *
 * @example
 *   const parsed = parseSummary(JSON.parse(readFileSync('summary.json', 'utf8')));
 *   if (parsed.ok) console.log(parsed.summary.latencyMs?.p95);
 */
export function parseSummary(json: unknown): SummaryParse {
  const handle = handleSummarySchema.safeParse(json);
  if (handle.success) return { ok: true, summary: normalizeHandleSummary(handle.data) };
  const flat = summaryExportSchema.safeParse(json);
  if (flat.success) return { ok: true, summary: normalizeSummaryExport(flat.data) };
  const issue = flat.error.issues[0];
  const where = issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'unknown shape';
  return { ok: false, error: `not a k6 summary (${where})` };
}

/**
 * Parses summary file text; invalid JSON is a typed failure, not an exception.
 *
 * @example parseSummaryText('{"metrics":{}}') // { ok: true, summary: { …, thresholds: [] } }
 */
export function parseSummaryText(text: string): SummaryParse {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { ok: false, error: `summary is not JSON: ${(error as Error).message}` };
  }
  return parseSummary(json);
}

/** The thresholds that did not hold, formatted `metric expression` for explanations. */
export function crossedThresholds(summary: LoadSummary): string[] {
  return summary.thresholds.filter((t) => !t.passed).map((t) => `${t.metric} ${t.expression}`);
}
