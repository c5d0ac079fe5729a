import { servicesOf } from '../../src/config/fleet.js';
import type { ServiceConfig, VigilConfig } from '../../src/config/schema.js';

/** The one service of a single-service config, as the per-service parts take it. */
export function onlyService(config: VigilConfig): ServiceConfig {
  const [service, ...more] = servicesOf(config);
  if (service === undefined || more.length > 0) throw new Error('expected a single-service config');
  return service;
}
