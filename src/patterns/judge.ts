import type { BaselineConfig, PatternsConfig } from '../config/schema.js';
import type { Judgement } from '../evaluator/objective.js';
import { judgeProportion } from '../evaluator/significance.js';
import type { Classification, KnownSignature, Signature } from './signatures.js';
import type { Feedback, ObservedSignature } from './store.js';

/*
 * The judgement of a patterns check (DESIGN §5): from a classification of the new version's lines to a
 * result, its explanation and its violation; and what the store keeps of it. Pure.
 */

const iso = (ms: number): string => new Date(ms).toISOString();
const quote = (s: Signature): string => `"${s.template}"`;
const levelOf = (s: Signature): string =>
  [s.level && `level ${s.level}`, s.logger && `logger ${s.logger}`].filter(Boolean).join(', ');

/** One signature for an explanation: template, count, first seen, two examples. */
function describeSignature(s: Signature): string {
  const where = levelOf(s);
  const examples = s.examples.map((e) => JSON.stringify(e)).join(' · ');
  return `${quote(s)} ×${s.count} (${where ? `${where}, ` : ''}first seen ${iso(s.firstSeen)}${examples ? `; e.g. ${examples}` : ''})`;
}

/**
 * Known signatures whose share rose significantly: the one-sided two-proportion test of the SLO checks, with
 * `maxIncrease` as its effect size. Signatures an operator marked "not a risk" are never changed.
 *
 * @example changedSignatures(slo.baseline, classification.known, 3_000, 36_000) // [{ signature, judgement }]
 */
export function changedSignatures(
  b: BaselineConfig | undefined,
  known: readonly KnownSignature[],
  current: number,
  baseline: number,
): { signature: KnownSignature; judgement: Judgement }[] {
  const settings = {
    confidence: b?.confidence ?? 0.98,
    direction: 'increase' as const,
    minSamples: b?.minSamples ?? 5,
    minTotal: b?.minTotal ?? 30,
    ...(b?.maxIncrease === undefined ? {} : { effectSize: b.maxIncrease }),
  };
  return known
    .filter((k) => !k.ignored)
    .map((signature) => ({
      signature,
      judgement: judgeProportion(
        { successes: signature.current.count, total: current },
        { successes: signature.stored.count, total: baseline },
        settings,
        'baseline',
      ),
    }))
    .filter((c) => c.judgement.result === 'fail');
}

/**
 * What a classification stores for the API: every signature of the window with its status.
 *
 * @example saveObservations(watchId, check, service, at, observedSignatures(check, at, c, changedIds))
 */
export function observedSignatures(
  check: string,
  at: number,
  c: Classification,
  changed: ReadonlySet<string>,
): ObservedSignature[] {
  const known = (k: KnownSignature, status: ObservedSignature['status']): ObservedSignature => ({
    ...k.current,
    check,
    status,
    baselineCount: k.ignored ? null : k.stored.count,
    updatedAt: at,
  });
  return [
    ...c.alwaysFail.map((k) => known(k, 'always-fail')),
    ...c.fresh.map((s) => ({ ...s, check, status: 'new' as const, baselineCount: null, updatedAt: at })),
    ...c.known.map((k) => known(k, changed.has(k.current.id) ? 'changed' : 'known')),
  ];
}

/**
 * The verdict of one classification, with every fact behind it: "always fail" signatures and more than
 * maxNewSignatures new ones past minCount fail; changed ones warn.
 *
 * @example judgeClassification(patterns, c, [], [], new Map()).result // 'fail' when c.fresh has 1 past minCount
 */
export function judgeClassification(
  patterns: PatternsConfig,
  c: Classification,
  changed: { signature: KnownSignature; judgement: Judgement }[],
  notes: string[],
  decisions: ReadonlyMap<string, Feedback>,
): Judgement & { newCount: number } {
  // Who decided and why, from the feedback audit: `"cache miss storm" (alice (via token, 10.0.0.7): known)`.
  const decided = (k: KnownSignature): string => {
    const d = decisions.get(k.stored.id);
    return d === undefined ? quote(k.current) : `${quote(k.current)} (${d.who}: ${d.reason})`;
  };
  const { minCount, maxNewSignatures } = patterns;
  const counted = c.fresh.filter((s) => s.count >= minCount);
  const below = c.fresh.length - counted.length;
  const facts = [
    `${c.lines} lines`,
    `${c.known.length} known signature${c.known.length === 1 ? '' : 's'}`,
    ...(below > 0 ? [`${below} new below minCount ${minCount}`] : []),
    ...(changed.length > 0
      ? [
          `more frequent than in the baseline: ${changed.map((x) => `${quote(x.signature.current)} (${x.judgement.explanation})`).join('; ')}`,
        ]
      : []),
    ...(c.known.some((k) => k.ignored)
      ? [
          `marked not a risk by an operator: ${c.known
            .filter((k) => k.ignored)
            .map(decided)
            .join(', ')}`,
        ]
      : []),
    ...(c.other === null
      ? []
      : [`${c.other.count} lines past maxSignatures ${patterns.maxSignatures} counted as "other"`]),
    ...notes,
  ].join('; ');
  if (c.alwaysFail.length > 0) {
    const list = c.alwaysFail
      .map((k) => `${describeSignature(k.current)}, marked by ${decided(k)}`)
      .join('; ');
    return {
      result: 'fail',
      newCount: counted.length,
      explanation: `signature marked "always fail" by an operator: ${list}; ${facts}`,
      violation: `log signature marked always fail: ${c.alwaysFail.map((k) => quote(k.current)).join(', ')}`,
    };
  }
  if (counted.length > maxNewSignatures) {
    const list = counted.map(describeSignature).join('; ');
    return {
      result: 'fail',
      newCount: counted.length,
      explanation: `${counted.length} new signature${counted.length === 1 ? '' : 's'} past minCount ${minCount} (maxNewSignatures ${maxNewSignatures}): ${list}; ${facts}`,
      violation: `${counted.length} new log signature${counted.length === 1 ? '' : 's'} > ${maxNewSignatures}: ${counted
        .slice(0, 3)
        .map((s) => `${quote(s)} ×${s.count}`)
        .join(', ')}`,
    };
  }
  const newPart =
    counted.length > 0
      ? `${counted.length} new signature${counted.length === 1 ? '' : 's'} within maxNewSignatures ${maxNewSignatures}: ${counted.map(describeSignature).join('; ')}`
      : `no new signature past minCount ${minCount}`;
  return {
    result: changed.length > 0 ? 'warn' : 'pass',
    newCount: counted.length,
    explanation: `${newPart}; ${facts}`,
    ...(changed.length > 0
      ? {
          violation: `known log signature more frequent: ${changed.map((x) => quote(x.signature.current)).join(', ')}`,
        }
      : {}),
  };
}
