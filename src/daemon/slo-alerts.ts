import { sloViolationAlert } from '../actions/alertmanager.js';
import type { Actions } from '../actions/index.js';
import { alertKeys } from '../actions/index.js';
import type { VigilConfig } from '../config/schema.js';
import { burnCheckName } from '../evaluator/burn-check.js';
import type { CheckResult } from '../evaluator/types.js';

/**
 * After each continuous evaluation: fires VigilSLOViolation for a failing SLO check and resolves it when
 * the check passes or warns again; a failing burn-rate check (the fast pair) alerts under its own name. Shadow checks and inconclusive results change nothing (no data is not
 * a recovery). Alert state only records; the Alertmanager ticker sends.
 *
 * @example raiseSloAlerts(actions.alerts, config, checks)
 */
export function raiseSloAlerts(
  alerts: Pick<Actions['alerts'], 'fire' | 'resolve'>,
  config: VigilConfig,
  checks: readonly CheckResult[],
): void {
  const externalUrl = config.root.alertmanager?.externalUrl?.replace(/\/+$/, '');
  for (const check of checks) {
    // A burn-rate check (`<slo>:burn-rate`) alerts as its SLO's fast-burn condition.
    const slo = config.slos.find((s) => s.name === check.name || burnCheckName(s.name) === check.name);
    if (!slo || check.shadow) continue;
    const key = alertKeys.slo(check.name);
    if (check.result === 'fail') {
      alerts.fire(
        key,
        sloViolationAlert(check, {
          service: config.root.service,
          severity: slo.severity ?? (slo.critical ? 'page' : 'ticket'),
          ...(externalUrl ? { generatorUrl: `${externalUrl}/api/v1/slos` } : {}),
          ...(slo.runbook ? { runbookUrl: slo.runbook } : {}),
        }),
      );
    } else if (check.result === 'pass' || check.result === 'warn') {
      alerts.resolve(key);
    }
  }
}
