import type { Dispatcher } from 'undici';
import type { AlertmanagerConfig, Objective } from '../config/schema.js';
import type { CheckResult } from '../evaluator/types.js';
import { sendRequest } from './http.js';
import type { VerdictObject } from './types.js';

/**
 * The alerts Vigil raises (DESIGN §7; VigilActionFailed when a webhook delivery gives up, VigilWatchHeld
 * while a watch waits for an operator's decision).
 */
export type VigilAlertName =
  | 'VigilWatchFailed'
  | 'VigilSLOViolation'
  | 'VigilBlind'
  | 'VigilActionFailed'
  | 'VigilWatchHeld';

/** Heading anchors in deploy/RUNBOOK.md: a `## VigilWatchFailed` heading renders as `#vigilwatchfailed`. */
export const RUNBOOK_ANCHORS = {
  VigilWatchFailed: 'vigilwatchfailed',
  VigilSLOViolation: 'vigilsloviolation',
  VigilBlind: 'vigilblind',
  VigilActionFailed: 'vigilactionfailed',
  VigilWatchHeld: 'vigilwatchheld',
} satisfies Record<VigilAlertName, string>;

/** One alert in Vigil's terms; `toAlertContent` turns it into Alertmanager labels and annotations. */
export interface VigilAlert {
  alertname: VigilAlertName;
  service: string;
  severity: 'page' | 'ticket';
  slo?: string;
  watchId?: string;
  version?: string;
  summary: string;
  description: string;
  generatorUrl?: string;
  /** The check's own runbook (SLO `runbook`), instead of the section of deploy/RUNBOOK.md. */
  runbookUrl?: string;
}

/** A `postableAlert` of Alertmanager's API v2 (REFERENCE §3.2). */
export interface PostableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt?: string;
  generatorURL?: string;
}

/**
 * Labels (empty ones omitted — Alertmanager drops them anyway) and annotations with the runbook link.
 *
 * @example toAlertContent(watchFailedAlert(verdict), 'https://github.com/prep/vigil/blob/main/deploy/RUNBOOK.md')
 */
export function toAlertContent(
  alert: VigilAlert,
  runbookBaseUrl: string,
): { labels: Record<string, string>; annotations: Record<string, string> } {
  const candidates: Record<string, string | undefined> = {
    alertname: alert.alertname,
    service: alert.service,
    slo: alert.slo,
    severity: alert.severity,
    watch_id: alert.watchId,
    version: alert.version,
  };
  const labels = Object.fromEntries(
    Object.entries(candidates).filter(
      (entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== '',
    ),
  );
  const annotations = {
    summary: alert.summary,
    description: alert.description,
    runbook_url: alert.runbookUrl ?? `${runbookBaseUrl}#${RUNBOOK_ANCHORS[alert.alertname]}`,
  };
  return { labels, annotations };
}

/** VigilWatchFailed for a failed watch: pages, with the verdict's reasons as the description. */
export function watchFailedAlert(verdict: VerdictObject, generatorUrl?: string): VigilAlert {
  return {
    alertname: 'VigilWatchFailed',
    service: verdict.service,
    severity: 'page',
    watchId: verdict.id,
    version: verdict.version,
    summary: `${verdict.service} ${verdict.version} failed its post-deploy watch`,
    description: verdict.reasons.join('; ') || 'the watch failed',
    ...(generatorUrl ? { generatorUrl } : {}),
  };
}

/** VigilBlind: the watch's checks stayed inconclusive too long — Vigil cannot see, says so loudly. */
export function blindAlert(verdict: VerdictObject, generatorUrl?: string): VigilAlert {
  return {
    alertname: 'VigilBlind',
    service: verdict.service,
    severity: 'page',
    watchId: verdict.id,
    version: verdict.version,
    summary: `Vigil is blind on ${verdict.service} ${verdict.version}: checks stay inconclusive`,
    description: verdict.reasons.join('; ') || 'no check has produced a usable value',
    ...(generatorUrl ? { generatorUrl } : {}),
  };
}

/**
 * VigilWatchHeld: a `hold` check tripped; the watch waits for an operator to promote or roll back. Pages.
 *
 * @example actions.alerts.fire(alertKeys.held(verdict.id), watchHeldAlert(verdict))
 */
export function watchHeldAlert(verdict: VerdictObject, generatorUrl?: string): VigilAlert {
  return {
    alertname: 'VigilWatchHeld',
    service: verdict.service,
    severity: 'page',
    watchId: verdict.id,
    version: verdict.version,
    summary: `${verdict.service} ${verdict.version} is held: promote or roll back`,
    description: verdict.reasons.join('; ') || 'a hold check failed',
    ...(generatorUrl ? { generatorUrl } : {}),
  };
}

export interface SloAlertContext {
  service: string;
  severity: 'page' | 'ticket';
  watchId?: string;
  version?: string;
  generatorUrl?: string;
  runbookUrl?: string;
}

/** VigilSLOViolation for one failing check, describing value, objective and baseline. */
export function sloViolationAlert(check: CheckResult, context: SloAlertContext): VigilAlert {
  return {
    alertname: 'VigilSLOViolation',
    service: context.service,
    slo: check.name,
    severity: context.severity,
    ...(context.watchId ? { watchId: context.watchId } : {}),
    ...(context.version ? { version: context.version } : {}),
    summary: `${context.service} ${check.name} SLO violated`,
    description: `value ${formatNumber(check.value)}, objective ${formatObjective(check.objective)}, baseline ${formatNumber(check.baseline)}: ${check.explanation}`,
    ...(context.generatorUrl ? { generatorUrl: context.generatorUrl } : {}),
    ...(context.runbookUrl ? { runbookUrl: context.runbookUrl } : {}),
  };
}

/** VigilActionFailed: a rollback or notification webhook was given up after `maxAge`. */
export function actionFailedAlert(input: {
  service: string;
  event: string;
  target: string;
  watchId?: string;
  version?: string;
  lastError: string;
}): VigilAlert {
  return {
    alertname: 'VigilActionFailed',
    service: input.service,
    severity: 'page',
    ...(input.watchId ? { watchId: input.watchId } : {}),
    ...(input.version ? { version: input.version } : {}),
    summary: `Vigil could not deliver the ${input.event} webhook to ${input.target}`,
    description: `gave up after retrying; last error: ${input.lastError}. Act by hand (see the runbook).`,
  };
}

function formatNumber(value: number | null): string {
  return value === null ? 'none' : String(Number(value.toPrecision(4)));
}

function formatObjective(objective: Objective | null): string {
  if (!objective) return 'none';
  const ops: Record<string, string> = { lt: '<', lte: '≤', gt: '>', gte: '≥' };
  return Object.entries(objective)
    .map(([op, bound]) => `${ops[op] ?? op} ${bound}`)
    .join(' and ');
}

/** How a post went: accepted, rejected by validation (400/422: retrying will not help), or unavailable. */
export type AlertPostResult =
  | { ok: true }
  | { ok: false; kind: 'rejected' | 'unavailable'; statusCode: number | null; message: string };

/** A `/health` check entry (DESIGN §3). */
export interface DependencyHealth {
  status: 'ok' | 'down';
  latencyMs?: number;
  error?: string;
}

export interface AlertmanagerClient {
  postAlerts(alerts: readonly PostableAlert[], signal?: AbortSignal): Promise<AlertPostResult>;
  /** `GET /-/ready` under the configured timeout, for `/health`. */
  health(signal?: AbortSignal): Promise<DependencyHealth>;
}

/**
 * A client for `POST /api/v2/alerts` (an array body). Auth, tenant and extra headers come from config.
 *
 * @example
 *   const client = createAlertmanagerClient({ config: root.alertmanager, dispatcher, userAgent: 'vigil/0.1.0' });
 *   await client.postAlerts([{ labels: { alertname: 'VigilBlind' }, annotations: {}, startsAt: new Date().toISOString() }]);
 */
export function createAlertmanagerClient(deps: {
  config: Pick<AlertmanagerConfig, 'url' | 'timeout' | 'headers' | 'bearerToken' | 'basicAuth' | 'tenant'>;
  dispatcher: Dispatcher;
  userAgent: string;
}): AlertmanagerClient {
  const { config } = deps;
  const headers: Record<string, string> = { 'user-agent': deps.userAgent };
  for (const [name, value] of Object.entries(config.headers)) headers[name.toLowerCase()] = value;
  headers['content-type'] = 'application/json';
  if (config.bearerToken) headers.authorization = `Bearer ${config.bearerToken}`;
  if (config.basicAuth) {
    const { username, password } = config.basicAuth;
    headers.authorization = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  }
  if (config.tenant) headers['x-scope-orgid'] = config.tenant;
  const base = config.url.endsWith('/') ? config.url : `${config.url}/`;
  const url = new URL('api/v2/alerts', base).toString();
  return {
    async health(signal) {
      const { 'content-type': _json, ...getHeaders } = headers;
      const result = await sendRequest({
        dispatcher: deps.dispatcher,
        url: new URL('-/ready', base).toString(),
        method: 'GET',
        headers: getHeaders,
        timeoutMs: config.timeout,
        ...(signal ? { signal } : {}),
      });
      const latencyMs = Math.round(result.latencyMs * 10) / 10;
      if (result.statusCode === 200) return { status: 'ok', latencyMs };
      return { status: 'down', latencyMs, error: result.error ?? `HTTP ${result.statusCode}` };
    },
    async postAlerts(alerts, signal) {
      const result = await sendRequest({
        dispatcher: deps.dispatcher,
        url,
        method: 'POST',
        headers,
        body: JSON.stringify(alerts),
        timeoutMs: config.timeout,
        ...(signal ? { signal } : {}),
      });
      if (result.statusCode === 200) return { ok: true };
      if (result.statusCode === null) {
        return { ok: false, kind: 'unavailable', statusCode: null, message: result.error ?? 'no answer' };
      }
      // 400: Alertmanager's validation (a JSON string); 422: schema violation ({code, message}).
      const kind = result.statusCode === 400 || result.statusCode === 422 ? 'rejected' : 'unavailable';
      return { ok: false, kind, statusCode: result.statusCode, message: result.answer.trim().slice(0, 500) };
    },
  };
}
