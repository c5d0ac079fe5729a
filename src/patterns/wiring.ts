import type { RootConfig, SourceConfig } from '../config/schema.js';
import type { SourceDeps } from '../sources/http.js';
import { createLokiLogReader, type LogReader } from '../sources/loki-logs.js';
import type { PatternsContext } from './check.js';
import type { PatternStore } from './store.js';

/**
 * What an evaluation of `patterns` checks needs from the daemon, for the config in force: a Loki log reader
 * (one per `sources.loki` object, so a SIGHUP reload gets a new one and its circuit breaker carries over
 * otherwise) and the store.
 *
 * @example
 *   const patterns = patternsWiring(createPatternStore(store), { dispatcher, metrics, logger });
 *   await evaluateChecks(config.slos, { ...ctx, patterns: patterns(config.root) });
 */
export function patternsWiring(store: PatternStore, deps: SourceDeps): (root: RootConfig) => PatternsContext {
  let cached: { config: SourceConfig; reader: LogReader } | undefined;
  return (root) => {
    const loki = root.sources.loki;
    const context: PatternsContext = { store };
    if (loki === undefined || loki.url === '') return context;
    if (cached?.config !== loki) cached = { config: loki, reader: createLokiLogReader(loki, deps) };
    context.logs = cached.reader;
    return context;
  };
}
