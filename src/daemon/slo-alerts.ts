import type { AlertState } from '../actions/alert-state.js';
import { sloViolationAlert } from '../actions/alertmanager.js';
import { alertKeys } from '../actions/index.js';
import { servicesOf } from '../config/fleet.js';
import type { ServiceConfig, SloConfig, VigilConfig } from '../config/schema.js';
import { burnCheckName } from '../evaluator/burn-check.js';
import type { CheckResult } from '../evaluator/types.js';

/**
 * After each continuous evaluation: fires VigilSLOViolation once a check has failed `alertAfter`
 * evaluations in a row (its `consecutiveFailures`, counted by the continuous evaluator like a Prometheus
 * rule's `for:`), and resolves it when the check passes or warns again; a failing burn-rate check (the
 * fast pair) alerts under its own name with its SLO's settings. A failure below `alertAfter` and an
 * inconclusive result change nothing (no data is not a recovery); shadow checks raise nothing. Alert
 * state only records; the Alertmanager ticker sends.
 *
 * @example raiseSloAlerts(actions.alerts, config, checks)
 */
export function raiseSloAlerts(
  alerts: Pick<AlertState, 'fire' | 'resolve'>,
  config: ServiceConfig,
  checks: readonly CheckResult[],
): void {
  const externalUrl = config.root.alertmanager?.externalUrl?.replace(/\/+$/, '');
  for (const check of checks) {
    // A burn-rate check (`<slo>:burn-rate`) alerts as its SLO's fast-burn condition.
    const slo = config.slos.find((s) => s.name === check.name || burnCheckName(s.name) === check.name);
    if (!slo || check.shadow) continue;
    const key = alertKeys.serviceSlo(config.root.service, check.name);
    if (check.result === 'fail' && check.consecutiveFailures >= slo.alertAfter) {
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

/**
 * At startup and after a reload: resolves every held VigilSLOViolation whose check no longer alerts
 * under `config` — its SLO (or its whole service) was removed or renamed, or is now a shadow check —
 * since no evaluation will ever pass it again. Continuous alerts (no `watch_id`) go whenever their
 * check is not an alerting SLO check of their service in `config`, or are held under a key from before
 * fleets (the next evaluation raises them again under the service's key); a watch's alert (an
 * `enforce: alert` check, possibly a probe's) goes only when `previous` had it as an SLO check of the
 * service that `config` no longer alerts on, and otherwise ends with its watch. Returns the `slo`
 * labels it resolved.
 *
 * @example await resolveStaleSloAlerts(actions.alerts, next, current) // ['old-name'] after renaming old-name
 */
export async function resolveStaleSloAlerts(
  alerts: Pick<AlertState, 'held' | 'resolve'>,
  config: VigilConfig,
  previous?: VigilConfig,
): Promise<string[]> {
  const alerting = alertingChecks(config);
  const gone = new Set(previous ? [...alertingChecks(previous)].filter((id) => !alerting.has(id)) : []);
  const resolved: string[] = [];
  for (const held of await alerts.held()) {
    const { slo, service = '' } = held.labels;
    if (held.state !== 'firing' || held.labels.alertname !== 'VigilSLOViolation' || slo === undefined)
      continue;
    const id = checkId(service, slo);
    const stale =
      held.labels.watch_id === undefined
        ? !alerting.has(id) || held.key !== alertKeys.serviceSlo(service, slo)
        : gone.has(id);
    if (!stale) continue;
    alerts.resolve(held.key);
    resolved.push(slo);
  }
  return resolved;
}

/** The alerting checks of every service, as `<service>/<check>`. */
function alertingChecks(config: VigilConfig): Set<string> {
  return new Set(
    servicesOf(config).flatMap((service) =>
      service.slos
        .filter((slo) => !isShadow(slo))
        .flatMap(checkNames)
        .map((name) => checkId(service.root.service, name)),
    ),
  );
}

function checkId(service: string, check: string): string {
  return `${service}/${check}`;
}

function checkNames(slo: SloConfig): string[] {
  return slo.target !== undefined && slo.burnRate ? [slo.name, burnCheckName(slo.name)] : [slo.name];
}

function isShadow(slo: SloConfig): boolean {
  return slo.mode === 'shadow' || slo.enforce === 'shadow';
}
