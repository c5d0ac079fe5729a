import type { RootConfig } from '../config/schema.js';
import type { ProbeRollups } from '../prober/rollups.js';
import type { SourceDeps } from './http.js';
import { createLokiSource } from './loki.js';
import { createProbeSource } from './probes.js';
import { createPrometheusSource } from './prometheus.js';
import type { SliSource } from './types.js';

export { absentSourceReason } from './absent.js';
export type { SourceDeps } from './http.js';
export type { ResilienceOptions } from './resilience.js';

/** The kinds of SLI source (DESIGN §1). */
export type SourceKind = SliSource['kind'];

/** The configured sources by kind; a kind is absent when it is not configured (its URL empty or missing). */
export type Sources = Partial<Record<SourceKind, SliSource>>;

/** Everything the sources need besides config. */
export interface SourcesDeps extends SourceDeps {
  /** The store's probe rollups; without them there is no `probes` source (e.g. a CLI run with no store). */
  rollups?: Pick<ProbeRollups, 'window'>;
}

type SourceFactory = (root: RootConfig, deps: SourcesDeps) => SliSource | undefined;

/** One factory per kind; `satisfies` makes a kind without an implementation a compile error. */
const factories = {
  prometheus: (root, deps) => {
    const config = root.sources.prometheus;
    return config?.url ? createPrometheusSource(config, deps) : undefined;
  },
  loki: (root, deps) => {
    const config = root.sources.loki;
    return config?.url ? createLokiSource(config, deps) : undefined;
  },
  probes: (root, deps) =>
    deps.rollups
      ? createProbeSource({ rollups: deps.rollups, defaultWindowMs: root.watch.window })
      : undefined,
} satisfies Record<SourceKind, SourceFactory>;

/**
 * Builds every configured source (prometheus and loki when their URL is set, probes when the store's
 * rollups are given). Each remote source gets its own retry policy and circuit breaker, so one failing
 * backend never pauses another. A check naming an absent source is inconclusive (`absentSourceReason`): a url left empty turns a source off.
 *
 * @example
 *   const sources = createSources(config.root, { dispatcher: new Agent(), metrics, logger, rollups });
 *   const value = await sources.prometheus?.query('sum(rate(http_requests_total[5m]))', Date.now());
 */
export function createSources(root: RootConfig, deps: SourcesDeps): Sources {
  const sources: Sources = {};
  for (const kind of Object.keys(factories) as SourceKind[]) {
    const source = factories[kind](root, deps);
    if (source) sources[kind] = source;
  }
  return sources;
}
