import type { FastifyInstance } from 'fastify';
import { type AppDeps, buildApp } from '../../../src/server/app.js';
import type { HealthReporter } from '../../../src/server/health.js';
import { watchRoutes } from '../../../src/server/routes/watches.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { type Harness, T0 } from '../watch/harness.js';

/** A health reporter that is always ok. */
export const okHealth: HealthReporter = {
  report: async () => ({ status: 'ok', checks: {}, checkedAt: new Date(T0).toISOString() }),
};

/**
 * The API app over a harness's watch manager: no token, a rate limit out of the way, always ready and
 * healthy, the watch routes for `services` (default prep-api). Any dependency can be replaced.
 *
 * @example app = await buildWatchApp(h, { services: () => services });
 */
export function buildWatchApp(
  h: Pick<Harness, 'manager' | 'metrics'>,
  options: Partial<AppDeps> & { services?: () => string[] } = {},
): Promise<FastifyInstance> {
  const { services = () => ['prep-api'], ...deps } = options;
  return buildApp({
    logger: silentLogger(),
    metrics: h.metrics,
    apiToken: () => '',
    rateLimit: { max: 1000, windowMs: 60_000 },
    isReady: () => true,
    health: okHealth,
    routes: [watchRoutes(h.manager, { services })],
    ...deps,
  });
}
