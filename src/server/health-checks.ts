import { type Dispatcher, request } from 'undici';
import type { RootConfig } from '../config/schema.js';
import { errorMessage } from '../errors.js';
import { findExecutable } from '../executable.js';
import { checkK6 } from '../loadtest/k6-process.js';
import type { Store, WatchRepo } from '../store/port.js';
import type { CheckOutcome, HealthCheck, HealthChecks } from './health.js';

/*
 * Ready-made checks for the dependencies `/health` lists (DESIGN §3). Each only answers "reachable or
 * not"; the deadline and latency come from the HealthReporter.
 */

/** The part of the store (src/store/port.ts) a store check needs: one read and a proof a commit works. */
export type CheckableStore = Pick<Store, 'checkWritable'> & { readonly watches: Pick<WatchRepo, 'get'> };

/**
 * The store is up when it answers a trivial read through the port (it fails once the store is closed,
 * the file is gone or the database is unreachable) and when it can still commit: a full disk, a file
 * made read-only or a read-only replica leave reads working while every write fails.
 *
 * @example checks: () => ({ store: storeCheck(store) })
 */
export function storeCheck(store: CheckableStore): HealthCheck {
  return async () => {
    await store.watches.get('');
    try {
      await store.checkWritable();
    } catch (error) {
      return { status: 'down', error: `the store cannot be written: ${errorMessage(error)}` };
    }
    return { status: 'ok' };
  };
}

/** Connection options of an HTTP dependency, as in the config's `sources.*` and `alertmanager`. */
export interface HttpDependency {
  url: string;
  headers?: Record<string, string>;
  bearerToken?: string;
  basicAuth?: { username: string; password: string };
  tenant?: string;
}

/** Request headers for a dependency: its own headers, then credentials and the tenant. */
export function dependencyHeaders(dependency: HttpDependency): Record<string, string> {
  const headers: Record<string, string> = { ...dependency.headers };
  if (dependency.bearerToken) headers.authorization = `Bearer ${dependency.bearerToken}`;
  if (dependency.basicAuth) {
    const { username, password } = dependency.basicAuth;
    headers.authorization = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  }
  if (dependency.tenant) headers['x-scope-orgid'] = dependency.tenant;
  return headers;
}

/**
 * Readiness paths of the dependencies Vigil talks to: Prometheus and Alertmanager serve `/-/ready`,
 * Loki serves `/ready`.
 */
export const READY_PATHS = {
  prometheus: '/-/ready',
  alertmanager: '/-/ready',
  loki: '/ready',
} as const;

/**
 * A dependency is up when its readiness endpoint answers 2xx. The answer names the status only, never
 * the URL, so credentials in it cannot reach `/health`.
 *
 * @example checks: () => ({ prometheus: httpCheck(config.sources.prometheus, READY_PATHS.prometheus) })
 */
export function httpCheck(dependency: HttpDependency, path: string, dispatcher?: Dispatcher): HealthCheck {
  // Keep any path prefix of the base URL (e.g. Mimir's `/prometheus`): append rather than resolve.
  const target = new URL(dependency.url);
  target.pathname = `${target.pathname.replace(/\/$/, '')}${path}`;
  target.search = '';
  return async (signal): Promise<CheckOutcome> => {
    const response = await request(target, {
      method: 'GET',
      headers: dependencyHeaders(dependency),
      signal,
      ...(dispatcher ? { dispatcher } : {}),
    });
    await response.body.dump();
    if (response.statusCode >= 200 && response.statusCode < 300) return { status: 'ok' };
    return { status: 'down', error: `readiness answered HTTP ${response.statusCode}` };
  };
}

/**
 * An external program (k6) is up when it is an executable file: an absolute or relative path as given,
 * or a bare name searched on `searchPath` (the PATH value, passed in by the composition root).
 *
 * @example checks: () => ({ k6: executableCheck(env.VIGIL_K6_PATH ?? 'k6', env.PATH) })
 */
export function executableCheck(command: string, searchPath: string | undefined): HealthCheck {
  return async (): Promise<CheckOutcome> =>
    (await findExecutable(command, searchPath ?? '', '.'))
      ? { status: 'ok' }
      : { status: 'down', error: `${command} not found or not executable` };
}

/**
 * k6 is up when it is found (as `executableCheck`) and answers `k6 version`; the answer carries the
 * version found, its path, and a `warning` when it is older than the oldest k6 Vigil supports.
 *
 * @example checks: () => ({ k6: k6Check('k6', env.PATH) }) // → { status: 'ok', version: 'v0.49.0', path: '/usr/bin/k6' }
 */
export function k6Check(
  command: string,
  searchPath: string | undefined,
  env: Record<string, string> = {},
): HealthCheck {
  return async (signal): Promise<CheckOutcome> => {
    const path = await findExecutable(command, searchPath ?? '', '.');
    if (!path) return { status: 'down', error: `${command} not found or not executable` };
    return checkK6(path, { signal, env: { PATH: searchPath ?? '', ...env } });
  };
}

/** IO the standard dependency checks need, passed in by the composition root. */
export interface DependencyCheckIo {
  store: CheckableStore;
  dispatcher?: Dispatcher;
  /** The k6 command (`VIGIL_K6_PATH`, else `loadtests.k6`); undefined when load tests are not configured. */
  k6Command?: string;
  /** The PATH value used to find a bare k6 command. */
  searchPath?: string;
}

/**
 * The five checks of `/health` (DESIGN §3) for a loaded config: store always; Prometheus, Loki and
 * Alertmanager when configured with a URL; k6 when a command is known. Call it from the reporter's
 * `checks` function so a reload switches dependencies on and off.
 *
 * @example createHealthReporter({ clock, checks: () => dependencyChecks(current().root, { store, k6Command, searchPath }) })
 */
export function dependencyChecks(config: RootConfig, io: DependencyCheckIo): HealthChecks {
  const http = (dependency: HttpDependency | undefined, path: string): HealthCheck | 'disabled' =>
    dependency?.url ? httpCheck(dependency, path, io.dispatcher) : 'disabled';
  return {
    store: storeCheck(io.store),
    prometheus: http(config.sources.prometheus, READY_PATHS.prometheus),
    loki: http(config.sources.loki, READY_PATHS.loki),
    alertmanager: http(config.alertmanager, READY_PATHS.alertmanager),
    k6: io.k6Command ? k6Check(io.k6Command, io.searchPath) : 'disabled',
  };
}

/**
 * Configuration that is valid but leaves a failing verdict without its remedy; each warning makes
 * `/health` report `degraded` so the gap is visible before the day it matters.
 *
 * @example createHealthReporter({ ..., warnings: () => configWarnings(current().root) })
 */
export function configWarnings(config: RootConfig): string[] {
  const warnings: string[] = [];
  if (!config.actions.rollback.some((target) => target.url !== '')) {
    warnings.push('no rollback webhook is configured (actions.rollback): a failing verdict cannot roll back');
  }
  if (config.actions.dryRun) {
    warnings.push(
      'actions.dryRun is on: rollback webhooks are sent with "dryRun": true and nothing is rolled back',
    );
  }
  return warnings;
}
