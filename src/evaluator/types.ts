import type { Objective } from '../config/schema.js';

/** The four outcomes of any evaluation (DESIGN §6). */
export type CheckOutcome = 'pass' | 'warn' | 'fail' | 'inconclusive';

/** One check's result in one evaluation — the check object of the verdict (DESIGN §6). */
export interface CheckResult {
  name: string;
  kind: 'slo' | 'probe' | 'load' | 'burn-rate';
  result: CheckOutcome;
  value: number | null;
  objective: Objective | null;
  baseline: number | null;
  samples: number | null;
  query: string | null;
  explanation: string;
  consecutiveFailures: number;
  /** ISO 8601. */
  evaluatedAt: string;
  /** True for `mode: shadow` checks: reported, never failing the watch. */
  shadow?: boolean;
  critical?: boolean;
}
