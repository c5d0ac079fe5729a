/** One row of the bench table. */
export interface Figure {
  /** What is measured, e.g. "CPU per HTTP probe". */
  figure: string;
  /** The measured value with its unit, e.g. "142 µs". */
  value: string;
  /** The target as stated in issue 9, e.g. "≤ 200 µs". */
  target: string;
  /** The same figure of the peer (blackbox_exporter) when there is one. */
  peer?: string;
  /** Whether the target is met; null for context rows without a target. */
  met: boolean | null;
  /** How it was measured, or why a target is missed. */
  note?: string;
}

/**
 * The median of `values` (the mean of the middle two for an even count); NaN when empty.
 *
 * @example median([3, 1, 2]) // 2
 */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * The nearest-rank percentile `p` (0–100) of `values`; NaN when empty.
 *
 * @example percentile([1, 2, 3, 4], 50) // 2
 */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] as number;
}

/**
 * A number with `digits` decimals, or "n/a" for NaN.
 *
 * @example fixed(1.2345, 2) // "1.23"
 */
export function fixed(value: number, digits = 0): string {
  return Number.isFinite(value) ? value.toFixed(digits) : 'n/a';
}

/**
 * A row for a figure that could not be measured: the error goes into the note, the target counts as missed.
 *
 * @example failedFigure('Start to /ready', '< 1.5 s', new Error('exit 1'))
 */
export function failedFigure(figure: string, target: string, error: unknown): Figure {
  const message = error instanceof Error ? error.message : String(error);
  return { figure, value: 'error', target, met: false, note: `not measured: ${message.slice(0, 300)}` };
}
