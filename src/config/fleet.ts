import { ConfigError } from '../errors.js';
import type { ServiceConfig, VigilConfig } from './schema.js';

/**
 * The services of a configuration, each as a single-service config: the loader's `services`, or — for a
 * config built by hand with a root `service:` — that one service.
 *
 * @example for (const service of servicesOf(config)) createProber({ config: service, … })
 */
export function servicesOf(config: VigilConfig): readonly ServiceConfig[] {
  if (config.services !== undefined) return config.services;
  const { service, target, services: _fleet, ...rest } = config.root;
  if (service === undefined || target === undefined)
    throw new ConfigError([
      { file: config.file, path: 'service', message: 'a config names its service, or its services:' },
    ]);
  return [
    { file: config.file, root: { ...rest, service, target }, probes: config.probes, slos: config.slos },
  ];
}

/**
 * The named service's config, or undefined when the configuration has no such service.
 *
 * @example serviceNamed(config, 'prep-worker')?.root.watch.duration
 */
export function serviceNamed(config: VigilConfig, name: string): ServiceConfig | undefined {
  return servicesOf(config).find((s) => s.root.service === name);
}

/** The configured service names, in the file's order. */
export function serviceNames(config: VigilConfig): string[] {
  return servicesOf(config).map((s) => s.root.service);
}
