import type { Objective } from '../config/schema.js';
import { formatDuration } from '../config/units.js';
import { formatValue } from '../evaluator/objective.js';
import type { CheckResult } from '../evaluator/types.js';
import type { Verdict } from '../watch/types.js';

/*
 * What `vigil wait` (and the demo) show while a watch runs: one status line with elapsed time, phase,
 * the checks failing and inconclusive, and every value with its unit. Pure: callers decide when to write
 * it, and where.
 *
 * Units are not in the verdict object, so they are derived from the check, and only when the check says
 * enough: a latency (name or query about latency, duration or seconds; smoke runs and load p95 are
 * already in ms) shows in ms; a ratio with error or availability semantics (objective within [0, 1])
 * shows in %; anything else is a plain number rather than a guessed unit.
 */

/** How a check's value is shown: in ms (after multiplying by `factor`), in %, or as a plain number. */
export type DisplayUnit = { unit: 'ms'; factor: number } | { unit: '%' } | { unit: null };

const LATENCY = /latency|duration|seconds|response.?time|\bp(50|75|90|95|99)\b/i;
const ALREADY_MS = /milliseconds|_ms\b|Ms\b/;
// CPU seconds are core-seconds, not a latency: never ms.
const NOT_LATENCY = /cpu/i;
const RATIO = /error|availab|success|fail|ratio|uptime|5\.\.|5xx/i;

function objectiveBounds(objective: Objective | null): number[] {
  if (!objective) return [];
  return [objective.lt, objective.lte, objective.gt, objective.gte].filter(
    (b): b is number => typeof b === 'number',
  );
}

/**
 * The unit a check's value is shown in.
 *
 * @example displayUnit({ name: 'p95-latency', kind: 'slo', query: 'histogram_quantile(…_seconds_bucket…)', … }) // { unit: 'ms', factor: 1000 }
 */
export function displayUnit(
  check: Pick<CheckResult, 'name' | 'kind' | 'query' | 'objective' | 'value'>,
): DisplayUnit {
  // Smoke runs carry their duration in ms; a load phase its p95 in ms; probe checks no value.
  if (check.name.startsWith('smoke:') || check.kind === 'load') return { unit: 'ms', factor: 1 };
  if (check.kind === 'burn-rate' || check.kind === 'probe') return { unit: null };
  const text = `${check.name} ${check.query ?? ''}`;
  if (LATENCY.test(text) && !NOT_LATENCY.test(text)) {
    return { unit: 'ms', factor: ALREADY_MS.test(text) ? 1 : 1000 };
  }
  const bounds = objectiveBounds(check.objective);
  const inUnitRange = (n: number): boolean => n >= 0 && n <= 1;
  const ratioLike =
    bounds.length > 0
      ? bounds.every(inUnitRange)
      : check.value !== null && Number.isFinite(check.value) && inUnitRange(check.value);
  if (ratioLike && RATIO.test(text)) return { unit: '%' };
  return { unit: null };
}

function significant(n: number): string {
  if (!Number.isFinite(n)) return formatValue(n);
  if (n === 0) return '0';
  const magnitude = Math.abs(n);
  if (magnitude >= 100) return String(Math.round(n));
  return String(Number(n.toPrecision(3)));
}

/**
 * A number in a unit: `663 ms`, `4.47 %`, `0.034` (no unit known), `–` for no value.
 *
 * @example formatInUnit(0.0447, { unit: '%' }) // '4.47 %'
 */
export function formatInUnit(value: number | null, unit: DisplayUnit): string {
  if (value === null) return '–';
  if (!Number.isFinite(value)) return formatValue(value);
  if (unit.unit === 'ms') return `${significant(value * unit.factor)} ms`;
  if (unit.unit === '%') return `${significant(value * 100)} %`;
  return formatValue(value);
}

const SYMBOL = { lt: '<', lte: '≤', gt: '>', gte: '≥' } as const;

/**
 * An objective in the check's unit: `< 1 %`, `< 500 ms`, `≥ 0.99` when no unit is known.
 *
 * @example formatObjective({ lt: 0.01 }, { unit: '%' }) // '< 1 %'
 */
export function formatObjective(objective: Objective | null, unit: DisplayUnit): string | undefined {
  if (!objective) return undefined;
  const parts = (Object.keys(SYMBOL) as (keyof typeof SYMBOL)[]).flatMap((op) => {
    const bound = objective[op];
    return typeof bound === 'number' ? [`${SYMBOL[op]} ${formatInUnit(bound, unit)}`] : [];
  });
  return parts.length > 0 ? parts.join(' and ') : undefined;
}

/** What `vigil wait` knows beyond the verdict: the watch's default failureLimit, when the config says. */
export interface LiveContext {
  /** The watch's `failureLimit` (from the config `-c` names), for "failing, 1 of 3". */
  failureLimit?: number;
}

/**
 * Why a failing check has not (or has) failed the watch yet: `failing, 1 of 3 independent windows` from
 * the verdict's own reasons when they say, else from the check's limit; `limit reached` once tripped.
 *
 * @example failingNote(check, verdict, { failureLimit: 3 }) // 'failing, 1 of 3'
 */
export function failingNote(check: CheckResult, verdict: Pick<Verdict, 'reasons'>, ctx: LiveContext): string {
  const own = verdict.reasons.filter((r) => r.startsWith(`${check.name} `));
  for (const reason of own) {
    const match = /\((failing, \d+ of \d+[^)]*)\)\s*$/.exec(reason);
    if (match) return match[1] as string;
  }
  if (own.length > 0 && check.consecutiveFailures > 0) return 'limit reached';
  const limit = check.critical ? 1 : (check.failureLimit ?? ctx.failureLimit);
  if (limit !== undefined) {
    return check.consecutiveFailures >= limit
      ? 'limit reached'
      : `failing, ${check.consecutiveFailures} of ${limit}`;
  }
  return `failing, ${check.consecutiveFailures} counted`;
}

function shorten(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/**
 * One check as the live line shows it: name, result, value with its unit, and what the result means —
 * the broken objective and the streak for a failure, the warn objective for a warn, why for an
 * inconclusive one.
 *
 * @example describeCheck(check, verdict, {}) // 'error-rate fail 4.47 % (≥ objective < 1 %; failing, 1 of 3)'
 */
export function describeCheck(
  check: CheckResult,
  verdict: Pick<Verdict, 'reasons'>,
  ctx: LiveContext,
): string {
  const unit = displayUnit(check);
  const head = `${check.name} ${check.result}${check.shadow ? ' (shadow)' : ''}`;
  const value = check.value === null ? '' : ` ${formatInUnit(check.value, unit)}`;
  const objective = formatObjective(check.objective, unit);
  if (check.result === 'fail') {
    const against = objective ? `objective ${objective}; ` : '';
    return `${head}${value} (${against}${failingNote(check, verdict, ctx)})`;
  }
  if (check.result === 'warn') {
    return `${head}${value} (warn: ${shorten(check.violation ?? check.explanation, 80)})`;
  }
  if (check.result === 'inconclusive') {
    const why = check.warmingUp ? 'warming up' : shorten(check.explanation, 60);
    return `${head}${value} (${why})`;
  }
  return `${head}${value}`;
}

function elapsedText(verdict: Verdict, nowMs: number): string {
  const end = verdict.endedAt ? Date.parse(verdict.endedAt) : nowMs;
  const ms = Math.max(0, Math.min(end - Date.parse(verdict.startedAt), verdict.durationMs));
  return `${formatDuration(Math.floor(ms / 1000) * 1000)} of ${formatDuration(verdict.durationMs)}`;
}

/**
 * What a held watch asks for, with the commands to decide it.
 *
 * @example heldNote(verdict) // 'HELD for a decision until 2026-…: vigil watch promote|rollback w_01… --reason …'
 */
export function heldNote(verdict: Verdict): string {
  const until = verdict.held ? ` until ${verdict.held.until}` : '';
  return `HELD for a decision${until}: vigil watch promote ${verdict.id} --reason … or vigil watch rollback ${verdict.id} --reason …`;
}

/**
 * The status line: id, service, version, phase, elapsed of total, verdict; then the checks that fail or
 * warn, the inconclusive ones, a count of the passing ones, and load progress. A held watch says how to
 * decide it.
 *
 * @example statusLine(verdict, Date.now(), {}) // 'w_01… prep-api 1.4.2 · bake · 12m of 1d · verdict warn · 1 failing: error-rate fail 4.47 % (…) · 3 passing'
 */
export function statusLine(verdict: Verdict, nowMs: number, ctx: LiveContext): string {
  const parts = [
    `${verdict.id} ${verdict.service} ${verdict.version}`,
    verdict.status === 'running' ? verdict.phase : `${verdict.status} (phase ${verdict.phase})`,
    elapsedText(verdict, nowMs),
    `verdict ${verdict.verdict}`,
  ];
  if (verdict.status === 'held') parts.push(heldNote(verdict));
  const of = (result: CheckResult['result']) => verdict.checks.filter((c) => c.result === result);
  const failing = [...of('fail'), ...of('warn')];
  const inconclusive = of('inconclusive');
  if (failing.length > 0) {
    parts.push(`${failing.length} failing: ${failing.map((c) => describeCheck(c, verdict, ctx)).join(', ')}`);
  }
  if (inconclusive.length > 0) {
    parts.push(
      `${inconclusive.length} inconclusive: ${inconclusive.map((c) => describeCheck(c, verdict, ctx)).join(', ')}`,
    );
  }
  const passing = of('pass');
  if (passing.length > 0) {
    const valued = passing.filter((c) => c.value !== null && !c.name.startsWith('smoke:'));
    const shown = valued.map((c) => describeCheck(c, verdict, ctx)).join(', ');
    parts.push(`${passing.length} passing${shown ? `: ${shown}` : ''}`);
  }
  if (verdict.checks.length === 0) parts.push('no check results yet');
  if (verdict.progress) parts.push(verdict.progress);
  return parts.join(' · ');
}

/**
 * Fits a line into a terminal's width (the live line must stay one line to be rewritten in place).
 *
 * @example fitToWidth('a long line', 6) // 'a lon…'
 */
export function fitToWidth(line: string, columns: number | undefined): string {
  if (columns === undefined || columns <= 1) return line;
  return shorten(line, columns - 1);
}

/**
 * What changed enough to print a new line on a log: status, phase, verdict, each check's result and
 * streak, the hold, and load progress — not the elapsed time or a value's last digit.
 *
 * @example changeKey(verdict) // '["running","bake","warn",…]'
 */
export function changeKey(verdict: Verdict): string {
  return JSON.stringify([
    verdict.status,
    verdict.phase,
    verdict.verdict,
    verdict.checks.map((c) => [c.name, c.result, c.consecutiveFailures]),
    verdict.held?.until ?? null,
    verdict.progress ?? null,
  ]);
}
