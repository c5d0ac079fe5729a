/*
 * Writes OpenMetrics text with explicit timestamps for `promtool tsdb create-blocks-from openmetrics`
 * (REFERENCE §1.8): counters, gauges and classic histograms at fixed historical times, so an
 * integration test knows exactly what Prometheus will answer.
 *
 * Conventions: times are Unix SECONDS (promtool silently misreads milliseconds); a point at `t` holds
 * the counter after the step (t - step, t], whose rate is the one in force at `t - step`. So with a
 * change of shape at T0, every window that starts at or after T0 sees only the new shape.
 */

export type Labels = Record<string, string>;
/** A value that may change over time (Unix seconds → value). */
export type OverTime<T> = T | ((t: number) => T);

/** Cumulative share of observations at or below each upper bound (seconds); the +Inf share is 1. */
export type BucketShares = Record<string, number>;

export interface SeriesRange {
  /** First sample time, Unix seconds. */
  from: number;
  /** Last sample time (inclusive), Unix seconds. A series that stops early simply ends here. */
  to: number;
  /** Seconds between samples; default 15 (a common scrape interval). */
  stepSeconds?: number;
}

export interface CounterSpec extends SeriesRange {
  ratePerSecond: OverTime<number>;
  /** Value at `from`; default 0. */
  start?: number;
  /** Times (Unix s) where the process restarted: the counter starts again from 0 (rate() sees no spike). */
  resetsAt?: number[];
}

export interface HistogramSpec extends SeriesRange {
  /** Observations per second. */
  ratePerSecond: OverTime<number>;
  /** Distribution of the observations, e.g. `{ '0.1': 0.5, '0.25': 0.9, '0.5': 1 }`. */
  buckets: OverTime<BucketShares>;
  /** Mean observation (for _sum); default: the midpoint estimate from the buckets. */
  meanSeconds?: OverTime<number>;
}

export interface GaugeSpec extends SeriesRange {
  value: OverTime<number>;
}

interface Point {
  t: number;
  lines: string[];
}
interface Family {
  type: 'counter' | 'gauge' | 'histogram';
  series: Map<string, Point[]>;
}

const at = <T>(v: OverTime<T>, t: number): T => (typeof v === 'function' ? (v as (t: number) => T)(t) : v);

/**
 * Collects series and renders one OpenMetrics document (families contiguous, points in time order).
 *
 * @example
 *   const om = new OpenMetricsWriter()
 *     .counter('http_requests_total', { job: 'api', code: '200' }, { from: T0, to: T1, ratePerSecond: 10 });
 *   await startPrometheus(om.toString());
 */
export class OpenMetricsWriter {
  readonly #families = new Map<string, Family>();

  counter(name: string, labels: Labels, spec: CounterSpec): this {
    const step = spec.stepSeconds ?? 15;
    const resets = new Set(spec.resetsAt ?? []);
    let value = spec.start ?? 0;
    for (let t = spec.from; t <= spec.to; t += step) {
      if (t > spec.from) {
        const increment = at(spec.ratePerSecond, t - step) * step;
        value = resets.has(t) ? increment : value + increment;
      }
      this.#add(name, 'counter', labels, t, [`${name}${formatLabels(labels)} ${value} ${t}`]);
    }
    return this;
  }

  gauge(name: string, labels: Labels, spec: GaugeSpec): this {
    const step = spec.stepSeconds ?? 15;
    for (let t = spec.from; t <= spec.to; t += step) {
      this.#add(name, 'gauge', labels, t, [`${name}${formatLabels(labels)} ${at(spec.value, t)} ${t}`]);
    }
    return this;
  }

  /** A classic histogram: `<name>_bucket{le}`, `<name>_sum`, `<name>_count`, cumulative over time. */
  histogram(name: string, labels: Labels, spec: HistogramSpec): this {
    const step = spec.stepSeconds ?? 15;
    const bounds = boundsOf(at(spec.buckets, spec.from));
    const cumulative = new Map<string, number>(bounds.map((b) => [b, 0]));
    let count = 0;
    let sum = 0;
    for (let t = spec.from; t <= spec.to; t += step) {
      if (t > spec.from) {
        const observed = at(spec.ratePerSecond, t - step) * step;
        const shares = at(spec.buckets, t - step);
        for (const bound of bounds)
          cumulative.set(bound, (cumulative.get(bound) ?? 0) + observed * shareAt(shares, bound));
        count += observed;
        sum += observed * (spec.meanSeconds === undefined ? meanOf(shares) : at(spec.meanSeconds, t - step));
      }
      const lines = bounds.map(
        (bound) => `${name}_bucket${formatLabels({ ...labels, le: bound })} ${cumulative.get(bound)} ${t}`,
      );
      lines.push(
        `${name}_sum${formatLabels(labels)} ${sum} ${t}`,
        `${name}_count${formatLabels(labels)} ${count} ${t}`,
      );
      this.#add(name, 'histogram', labels, t, lines);
    }
    return this;
  }

  toString(): string {
    const out: string[] = [];
    for (const [name, family] of this.#families) {
      out.push(`# TYPE ${name} ${family.type}`);
      for (const points of family.series.values()) {
        for (const point of [...points].sort((a, b) => a.t - b.t)) out.push(...point.lines);
      }
    }
    out.push('# EOF', '');
    return out.join('\n');
  }

  #add(name: string, type: Family['type'], labels: Labels, t: number, lines: string[]): void {
    let family = this.#families.get(name);
    if (!family) {
      family = { type, series: new Map() };
      this.#families.set(name, family);
    }
    if (family.type !== type) throw new Error(`${name} is already a ${family.type}`);
    const key = formatLabels(labels);
    const points = family.series.get(key) ?? [];
    if (points.some((p) => p.t === t)) throw new Error(`${name}${key} already has a point at ${t}`);
    points.push({ t, lines });
    family.series.set(key, points);
  }
}

/** A service's request traffic: rate, share of 5xx answers, latency distribution. */
export interface TrafficShape {
  requestsPerSecond: number;
  errorRatio: number;
  latency: BucketShares;
}

/**
 * Writes what an instrumented HTTP service exports: `http_requests_total{job,code="200"|"500"}` and the
 * histogram `http_request_duration_seconds{job}` — the series of the DESIGN §4 SLO examples.
 *
 * @example
 *   writeServiceTraffic(om, { job: 'prep-api', from: T0 - 3600, to: T0 + 3600,
 *     shape: (t) => (t < T0 ? GOOD : REGRESSED) });
 */
export function writeServiceTraffic(
  om: OpenMetricsWriter,
  spec: SeriesRange & { job: string; shape: OverTime<TrafficShape>; resetsAt?: number[] },
): OpenMetricsWriter {
  const shapeAt = (t: number): TrafficShape => at(spec.shape, t);
  const range = {
    from: spec.from,
    to: spec.to,
    stepSeconds: spec.stepSeconds ?? 15,
    resetsAt: spec.resetsAt,
  };
  om.counter(
    'http_requests_total',
    { job: spec.job, code: '200' },
    {
      ...range,
      ratePerSecond: (t) => shapeAt(t).requestsPerSecond * (1 - shapeAt(t).errorRatio),
    },
  );
  om.counter(
    'http_requests_total',
    { job: spec.job, code: '500' },
    {
      ...range,
      ratePerSecond: (t) => shapeAt(t).requestsPerSecond * shapeAt(t).errorRatio,
    },
  );
  om.histogram(
    'http_request_duration_seconds',
    { job: spec.job },
    {
      ...range,
      ratePerSecond: (t) => shapeAt(t).requestsPerSecond,
      buckets: (t) => shapeAt(t).latency,
    },
  );
  return om;
}

/**
 * What `histogram_quantile(q, …)` answers for a steady distribution: linear interpolation inside the
 * bucket holding rank q, the lower bound of the first bucket being 0 (REFERENCE §1.6).
 *
 * @example histogramQuantile(0.95, { '0.1': 0.5, '0.25': 0.9, '0.5': 1 }) // 0.375
 */
export function histogramQuantile(q: number, buckets: BucketShares): number {
  const bounds = boundsOf(buckets).filter((b) => b !== '+Inf');
  let lower = 0;
  let lowerShare = 0;
  for (const bound of bounds) {
    const upper = Number(bound);
    const share = shareAt(buckets, bound);
    if (share >= q) return lower + ((upper - lower) * (q - lowerShare)) / (share - lowerShare);
    lower = upper;
    lowerShare = share;
  }
  // In the +Inf bucket Prometheus answers the highest finite bound.
  return lower;
}

function boundsOf(buckets: BucketShares): string[] {
  const finite = Object.keys(buckets)
    .filter((b) => b !== '+Inf')
    .sort((a, b) => Number(a) - Number(b));
  return [...finite, '+Inf'];
}

function shareAt(buckets: BucketShares, bound: string): number {
  return bound === '+Inf' ? 1 : (buckets[bound] ?? 0);
}

/** Midpoint estimate of the mean, for _sum (only rate(_sum)/rate(_count) depends on it). */
function meanOf(buckets: BucketShares): number {
  let lower = 0;
  let lowerShare = 0;
  let mean = 0;
  for (const bound of boundsOf(buckets)) {
    const upper = bound === '+Inf' ? lower : Number(bound);
    const share = shareAt(buckets, bound);
    mean += ((lower + upper) / 2) * (share - lowerShare);
    lower = upper;
    lowerShare = share;
  }
  return mean;
}

/** `{a="1",b="2"}` with OpenMetrics escaping; `` for no labels. */
function formatLabels(labels: Labels): string {
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return '';
  const escapeValue = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
  return `{${keys.map((k) => `${k}="${escapeValue(labels[k] ?? '')}"`).join(',')}}`;
}
