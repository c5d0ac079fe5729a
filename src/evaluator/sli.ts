import { type QueryVars, renderQuery } from '../config/query.js';
import type { SloConfig } from '../config/schema.js';
import { formatDuration } from '../config/units.js';
import { formatProbeQuery } from '../sources/probes.js';

/*
 * Query composition for an SLO check: the main SLI query, the counts of a ratio SLI, and the error-ratio
 * query of burn-rate evaluation. Everything here is string work, no IO.
 */

/** Template variables of an evaluation (version and previousVersion are unknown outside a watch). */
export interface EvaluationVars {
  service: string;
  version?: string;
  previousVersion?: string;
}

function queryVars(vars: EvaluationVars, windowMs: number): QueryVars {
  const out: QueryVars = { windowMs, service: vars.service };
  if (vars.version !== undefined) out.version = vars.version;
  if (vars.previousVersion !== undefined) out.previousVersion = vars.previousVersion;
  return out;
}

const WINDOW_VARIABLE = /\{\{\s*window\s*\}\}/g;

/**
 * Renders a template for one window. `windowText` is what `{{window}}` becomes (default: the duration of
 * `windowMs`, `5m`); a window clamped to the deploy passes whole seconds (`90s`). Throws VigilError
 * `QUERY_TEMPLATE` when the template needs a variable that is not known here (the caller reports the
 * check inconclusive).
 *
 * @example renderFor(slo, 'rate(x[{{window}}])', { service: 'api' }, 90_000, '90s') // 'rate(x[90s])'
 */
export function renderFor(
  slo: SloConfig,
  template: string,
  vars: EvaluationVars,
  windowMs: number,
  windowText: string = formatDuration(windowMs),
): string {
  if (slo.source === 'probes') return template;
  return renderQuery(template.replace(WINDOW_VARIABLE, windowText), queryVars(vars, windowMs), slo.source);
}

/** The probes source's query for one window: `health:successRatio[90s]`. */
function probeQuery(sli: NonNullable<SloConfig['sli']>, windowMs: number, windowText?: string): string {
  return windowText === undefined
    ? formatProbeQuery(sli, windowMs)
    : `${formatProbeQuery(sli)}[${windowText}]`;
}

/**
 * The template of the SLI value: `query`, else the ratio of `good` (or `bad`) over `total`, or for the
 * probes source the probe measure (already concrete, over `windowText` when given).
 *
 * @example sliTemplate(probesSlo, 90_000, '90s') // 'health:successRatio[90s]'
 */
export function sliTemplate(slo: SloConfig, windowMs: number, windowText?: string): string | undefined {
  if (slo.source === 'probes')
    return slo.sli === undefined ? undefined : probeQuery(slo.sli, windowMs, windowText);
  if (slo.query !== undefined) return slo.query.trim();
  const events = slo.good ?? slo.bad;
  if (events !== undefined && slo.total !== undefined) return `(${events.trim()}) / (${slo.total.trim()})`;
  return undefined;
}

/** How to read an error ratio for burn rates: the template for a window, and whether to take 1 − value. */
export interface ErrorRatioPlan {
  /** `windowText`: what the window renders as when not its plain duration (clamped: `600s`). */
  template(windowMs: number, windowText?: string): string;
  /** True when the template measures success (error ratio = 1 − value). */
  invert: boolean;
}

/**
 * How the error budget and burn rates read the error ratio, or undefined when the SLO has none:
 * `bad / total`; `good / total` inverted; else the main SLI, read as an error ratio when its objective is
 * an upper bound (`lt`/`lte`) and as a success ratio (error = 1 − value) otherwise. Inversion happens
 * here rather than in the query, so it works for every source (the probes source has no arithmetic).
 *
 * @example errorRatioPlan(slo)?.template(3_600_000) // '(sum(rate(bad[{{window}}]))) / (sum(rate(all[{{window}}])))'
 */
export function errorRatioPlan(slo: SloConfig): ErrorRatioPlan | undefined {
  if (slo.bad !== undefined && slo.total !== undefined) {
    const template = `(${slo.bad.trim()}) / (${slo.total.trim()})`;
    return { template: () => template, invert: false };
  }
  if (slo.good !== undefined && slo.total !== undefined) {
    const template = `(${slo.good.trim()}) / (${slo.total.trim()})`;
    return { template: () => template, invert: true };
  }
  if (slo.source === 'probes') {
    const sli = slo.sli;
    if (sli?.measure !== 'successRatio') return undefined; // latency measures have no error ratio
    return { template: (windowMs, windowText) => probeQuery(sli, windowMs, windowText), invert: true };
  }
  const query = slo.query;
  if (query === undefined) return undefined;
  const upperBound = slo.objective?.lt !== undefined || slo.objective?.lte !== undefined;
  return { template: () => query.trim(), invert: !upperBound };
}

/**
 * One PromQL query answering several reads: each query gets its key as the value of `label`
 * (`label_replace` with an empty regex only adds the label), joined with `or`. `or` drops a right-hand series
 * whose label set equals a left-hand one; the distinct `label` values keep every read. Each query sits on
 * its own lines so a trailing `#` comment in it cannot swallow the rest.
 *
 * @example unionByLabel([{ key: '5m', query: 'sum(x)' }, { key: '1h', query: 'sum(y)' }], 'vigil_window') // 'label_replace(\nsum(x)\n, "vigil_window", "5m", "", "")\nor label_replace(…'
 */
export function unionByLabel(reads: readonly { key: string; query: string }[], label: string): string {
  return reads
    .map((r) => `label_replace(\n${r.query}\n, ${JSON.stringify(label)}, ${JSON.stringify(r.key)}, "", "")`)
    .join('\nor ');
}
