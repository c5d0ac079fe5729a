import type { PathSegment } from './problems.js';

/*
 * OpenSLO v1 import (REFERENCE §5). The SLO file loader hands every document of a file whose documents all
 * carry `apiVersion: openslo/...` to convertOpenSlo, which returns native SLO check objects (validated by the
 * loader with sloSchema, like hand-written ones) and problems. Nothing is dropped silently: a field that has
 * no native meaning is a problem, except the cosmetic `displayName`s (metadata.displayName becomes the
 * description when there is none).
 *
 * Supported: kind SLO with an inline `indicator` or an `indicatorRef` to a kind SLI document of the same
 * file; SLI `ratioMetric` (good/total or bad/total) and `thresholdMetric`; metric sources of type Prometheus
 * or Loki, inline or through `metricSourceRef` to a kind DataSource document of the same file; one objective
 * (`target` or `targetPercent`; `op` + `value` for a threshold); a rolling `timeWindow` in m/h/d/w;
 * `budgetingMethod: Occurrences`. `{{.window}}`-style placeholders become Vigil's `{{window}}`.
 */

/** Result of converting the documents of one file. Paths start with the document index. */
export interface OpenSloConversion {
  checks: { value: unknown; path: PathSegment[] }[];
  problems: { path: PathSegment[]; message: string }[];
}

type Obj = Record<string, unknown>;
type Report = (path: PathSegment[], message: string) => void;

function isObj(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Whether a parsed YAML document is an OpenSLO object (any `apiVersion: openslo/…`).
 *
 * @example isOpenSloDocument({ apiVersion: 'openslo/v1', kind: 'SLO' }) // true
 */
export function isOpenSloDocument(document: unknown): boolean {
  return (
    isObj(document) && typeof document.apiVersion === 'string' && document.apiVersion.startsWith('openslo/')
  );
}

/** Reports every key of `node` outside `known` as unsupported. */
function onlyKeys(node: Obj, known: readonly string[], at: PathSegment[], report: Report): void {
  for (const key of Object.keys(node)) {
    if (!known.includes(key)) report([...at, key], 'not supported by the OpenSLO import');
  }
}

const SOURCE_TYPES: Record<string, 'prometheus' | 'loki'> = { prometheus: 'prometheus', loki: 'loki' };
const PLACEHOLDER = /\{\{\s*\.(window|service|version|previousVersion)\s*\}\}/g;
const SHORTHAND = /^(\d+)([mhdwMQY])$/;

interface Context {
  documents: readonly unknown[];
  report: Report;
}

/** Finds the document of `kind` named `name` in the same file. */
function byName(ctx: Context, kind: string, name: unknown): { doc: Obj; index: number } | undefined {
  const index = ctx.documents.findIndex(
    (d) => isObj(d) && d.kind === kind && isObj(d.metadata) && d.metadata.name === name,
  );
  const doc = ctx.documents[index];
  return isObj(doc) ? { doc, index } : undefined;
}

/** A metricSource → its Vigil source and query. */
function metricSource(ctx: Context, node: unknown, at: PathSegment[]) {
  if (!isObj(node) || !isObj(node.metricSource)) {
    ctx.report(at, 'needs metricSource: { type: Prometheus|Loki, spec: { query } }');
    return undefined;
  }
  const source = node.metricSource;
  const where = [...at, 'metricSource'];
  onlyKeys(node, ['metricSource'], at, ctx.report);
  onlyKeys(source, ['type', 'spec', 'metricSourceRef'], where, ctx.report);
  let type = source.type;
  if (type === undefined && source.metricSourceRef !== undefined) {
    const ref = byName(ctx, 'DataSource', source.metricSourceRef);
    if (ref === undefined)
      ctx.report(
        [...where, 'metricSourceRef'],
        `no DataSource "${String(source.metricSourceRef)}" in this file`,
      );
    type = ref && isObj(ref.doc.spec) ? ref.doc.spec.type : undefined;
  }
  const kind = typeof type === 'string' ? SOURCE_TYPES[type.toLowerCase()] : undefined;
  if (kind === undefined)
    ctx.report(
      [...where, 'type'],
      `metric source type ${JSON.stringify(type)} is not supported (Prometheus or Loki)`,
    );
  const spec = isObj(source.spec) ? source.spec : {};
  onlyKeys(spec, ['query'], [...where, 'spec'], ctx.report);
  if (typeof spec.query !== 'string') ctx.report([...where, 'spec', 'query'], 'is required');
  if (kind === undefined || typeof spec.query !== 'string') return undefined;
  return { source: kind, query: spec.query.replace(PLACEHOLDER, '{{$1}}') };
}

/** Converts an SLI spec into the query fields of a native check. */
function indicatorFields(ctx: Context, spec: Obj, at: PathSegment[]): Obj | undefined {
  onlyKeys(spec, ['description', 'ratioMetric', 'thresholdMetric'], at, ctx.report);
  if (isObj(spec.thresholdMetric)) {
    const metric = metricSource(ctx, spec.thresholdMetric, [...at, 'thresholdMetric']);
    return metric && { source: metric.source, query: metric.query };
  }
  if (!isObj(spec.ratioMetric)) {
    ctx.report(at, 'needs ratioMetric or thresholdMetric');
    return undefined;
  }
  const ratio = spec.ratioMetric;
  const where = [...at, 'ratioMetric'];
  onlyKeys(ratio, ['counter', 'good', 'bad', 'total'], where, ctx.report);
  const part = ratio.good !== undefined ? 'good' : 'bad';
  if (ratio.good !== undefined && ratio.bad !== undefined)
    ctx.report(where, 'good and bad are mutually exclusive');
  const events = metricSource(ctx, ratio[part], [...where, part]);
  const total = metricSource(ctx, ratio.total, [...where, 'total']);
  if (events === undefined || total === undefined) return undefined;
  if (events.source !== total.source)
    ctx.report(where, `${part} and total must use the same kind of metric source`);
  return { source: total.source, [part]: events.query, total: total.query };
}

function convertSlo(ctx: Context, doc: Obj, index: number, problemsSoFar: () => number): Obj | undefined {
  const { report } = ctx;
  const before = problemsSoFar();
  onlyKeys(doc, ['apiVersion', 'kind', 'metadata', 'spec'], [index], report);
  const metadata = isObj(doc.metadata) ? doc.metadata : {};
  onlyKeys(metadata, ['name', 'displayName'], [index, 'metadata'], report);
  const spec = isObj(doc.spec) ? doc.spec : {};
  const at: PathSegment[] = [index, 'spec'];
  const known = [
    'description',
    'service',
    'indicator',
    'indicatorRef',
    'timeWindow',
    'budgetingMethod',
    'objectives',
  ];
  onlyKeys(spec, known, at, report);

  let fields: Obj | undefined;
  if (isObj(spec.indicator)) {
    const indicator = spec.indicator;
    onlyKeys(indicator, ['metadata', 'spec'], [...at, 'indicator'], report);
    fields = indicatorFields(ctx, isObj(indicator.spec) ? indicator.spec : {}, [...at, 'indicator', 'spec']);
  } else if (spec.indicatorRef !== undefined) {
    const ref = byName(ctx, 'SLI', spec.indicatorRef);
    if (ref === undefined)
      report([...at, 'indicatorRef'], `no SLI "${String(spec.indicatorRef)}" in this file`);
    else fields = indicatorFields(ctx, isObj(ref.doc.spec) ? ref.doc.spec : {}, [ref.index, 'spec']);
  } else report(at, 'needs indicator or indicatorRef');

  if (spec.budgetingMethod !== 'Occurrences') {
    report(
      [...at, 'budgetingMethod'],
      `${JSON.stringify(spec.budgetingMethod)} is not supported (Occurrences only)`,
    );
  }
  const windows = Array.isArray(spec.timeWindow) ? spec.timeWindow : [];
  const window = windows[0];
  let budgetWindow: string | undefined;
  if (windows.length !== 1 || !isObj(window)) report([...at, 'timeWindow'], 'needs exactly one time window');
  else {
    onlyKeys(window, ['duration', 'isRolling'], [...at, 'timeWindow', 0], report);
    const match = typeof window.duration === 'string' ? SHORTHAND.exec(window.duration) : null;
    if (window.isRolling !== true)
      report([...at, 'timeWindow', 0, 'isRolling'], 'only rolling windows are supported');
    if (match === null || 'MQY'.includes(match[2] ?? '')) {
      report([...at, 'timeWindow', 0, 'duration'], 'use a rolling duration in m, h, d or w (e.g. 28d)');
    } else budgetWindow = window.duration as string;
  }

  const objectives = Array.isArray(spec.objectives) ? spec.objectives : [];
  const objective = objectives[0];
  if (objectives.length !== 1 || !isObj(objective)) {
    report([...at, 'objectives'], 'needs exactly one objective (write one SLO per objective)');
    return undefined;
  }
  const where = [...at, 'objectives', 0];
  onlyKeys(objective, ['displayName', 'target', 'targetPercent', 'op', 'value'], where, report);
  const ratio =
    typeof objective.target === 'number' ? objective.target : Number(objective.targetPercent) / 100;
  if (!Number.isFinite(ratio)) report(where, 'needs target (0–1) or targetPercent (0–100)');
  const check: Obj = {
    name: metadata.name,
    ...((spec.description ?? metadata.displayName)
      ? { description: spec.description ?? metadata.displayName }
      : {}),
    ...fields,
    target: `${Number((ratio * 100).toPrecision(12))}%`,
    budgetWindow,
  };
  if (objective.op !== undefined || objective.value !== undefined) {
    if (fields?.query === undefined) report(where, 'op and value belong to a thresholdMetric');
    else {
      check.objective = { [String(objective.op)]: objective.value };
      // A threshold SLI (e.g. a P95) is not an error ratio: judging it by burn rate would read 0.3 s as 30x.
      check.burnRate = false;
    }
  }
  // A check with problems already explained would only add follow-on schema errors.
  return problemsSoFar() > before ? undefined : check;
}

/**
 * Converts the OpenSLO documents of one file into native SLO checks: one per kind SLO document. SLI and
 * DataSource documents are used through references; other kinds are reported as not imported.
 *
 * @example
 *   convertOpenSlo([{ apiVersion: 'openslo/v1', kind: 'SLO', metadata: { name: 'availability' }, spec: { … } }])
 *   // { checks: [{ value: { name: 'availability', source: 'prometheus', good, total, target: '99.9%', budgetWindow: '28d' }, path: [0] }], problems: [] }
 */
export function convertOpenSlo(documents: readonly unknown[]): OpenSloConversion {
  const out: OpenSloConversion = { checks: [], problems: [] };
  const ctx: Context = { documents, report: (path, message) => out.problems.push({ path, message }) };
  for (const [index, doc] of documents.entries()) {
    if (!isObj(doc)) continue;
    if (doc.apiVersion !== 'openslo/v1') {
      ctx.report([index, 'apiVersion'], `${JSON.stringify(doc.apiVersion)} is not supported (openslo/v1)`);
    } else if (doc.kind === 'SLO') {
      const check = convertSlo(ctx, doc, index, () => out.problems.length);
      if (check !== undefined) out.checks.push({ value: check, path: [index] });
    } else if (doc.kind !== 'SLI' && doc.kind !== 'DataSource') {
      ctx.report(
        [index, 'kind'],
        `kind ${JSON.stringify(doc.kind)} is not imported (SLO, SLI and DataSource are)`,
      );
    }
  }
  return out;
}
