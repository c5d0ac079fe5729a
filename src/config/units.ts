import { z } from 'zod';

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
const DURATION_RE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+$/;
const DURATION_PART_RE = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g;

/**
 * Parses a duration string such as `30s`, `5m`, `1h30m`, `7d` into milliseconds; undefined when malformed.
 *
 * @example parseDurationMs('1h30m') // 5_400_000
 */
export function parseDurationMs(text: string): number | undefined {
  if (!DURATION_RE.test(text)) return undefined;
  let total = 0;
  for (const match of text.matchAll(DURATION_PART_RE)) {
    total += Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  }
  return total;
}

/**
 * Formats milliseconds as the shortest exact duration string (`90000` → `1m30s`), the inverse of parseDurationMs.
 *
 * @example formatDuration(300_000) // '5m'
 */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  const units: [string, number][] = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1_000],
    ['ms', 1],
  ];
  let rest = Math.round(ms);
  let out = '';
  for (const [unit, size] of units) {
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  return out;
}

/** A duration string in config, parsed once into milliseconds. */
export const durationMs = z
  .string({ error: 'expected a duration string such as 30s, 5m, 24h' })
  .transform((text, ctx) => {
    const ms = parseDurationMs(text.trim());
    if (ms === undefined || ms <= 0) {
      ctx.addIssue({
        code: 'custom',
        message: `invalid duration "${text}": use a positive number with a unit ms, s, m, h, d or w (e.g. 30s, 5m, 24h)`,
      });
      return z.NEVER;
    }
    return ms;
  })
  .meta({ type: 'string', pattern: DURATION_RE.source, examples: ['30s', '5m', '24h'] });

const PERCENT_RE = /^(-?\d+(?:\.\d+)?)\s*%$/;

/** A percentage string (`10%`) parsed into a ratio (0.1). */
export const percentRatio = z
  .string({ error: 'expected a percentage such as 10%' })
  .transform((text, ctx) => {
    const match = PERCENT_RE.exec(text.trim());
    if (!match) {
      ctx.addIssue({
        code: 'custom',
        message: `invalid percentage "${text}": use a number followed by % (e.g. 10%)`,
      });
      return z.NEVER;
    }
    // Shift the decimal point in the text: 99.9 / 100 is 0.9990000000000001, Number('99.9e-2') is 0.999.
    return Number(`${match[1]}e-2`);
  })
  .meta({ type: 'string', pattern: PERCENT_RE.source, examples: ['10%', '99.9%'] });

/** A tolerance: `20%` (relative to the baseline) or a plain number (absolute, in the SLI's unit). */
export type Tolerance = { kind: 'relative'; ratio: number } | { kind: 'absolute'; amount: number };

export const tolerance = z.union([
  z
    .number()
    .nonnegative()
    .transform((amount): Tolerance => ({ kind: 'absolute', amount })),
  percentRatio.transform((ratio): Tolerance => ({ kind: 'relative', ratio })),
]);
