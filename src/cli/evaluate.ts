import { existsSync } from 'node:fs';
import path from 'node:path';
import { Agent } from 'undici';
import { loadConfig } from '../config/load.js';
import type { ServiceConfig } from '../config/schema.js';
import { formatDuration } from '../config/units.js';
import { ConfigError, errorMessage, formatProblem } from '../errors.js';
import { evaluateChecks } from '../evaluator/evaluate.js';
import { formatValue } from '../evaluator/objective.js';
import { createSnapshotReader } from '../evaluator/snapshot-baselines.js';
import type { CheckResult, SnapshotReader } from '../evaluator/types.js';
import { createProbeRollups, type ProbeRollups } from '../prober/rollups.js';
import { createSources } from '../sources/index.js';
import { openStore } from '../store/open.js';
import type { Store } from '../store/port.js';
import { parseFlags, SERVICE_FLAG, selectService, UsageError } from './args.js';
import type { CliContext, Command } from './types.js';

/*
 * `vigil evaluate` (DESIGN §2): one evaluation of the SLO checks at --at for a deploy at --since, with the
 * results a watch would record — by the watch's rules (DESIGN §6): only data since the deploy is judged,
 * and with less than minWindow of it a check is warming up, so a replay of history shows what a watch
 * would have decided then. Exit codes: 0 all pass or warn; 1 any fail; 2 none fail but some
 * inconclusive; 3 the evaluation could not run (usage error, invalid config, unknown --slo, no checks).
 * 3 is an addition to the contract: a config mistake must never read as "inconclusive" to a CI gate
 * that tolerates 2. Shadow checks (`mode: shadow`) are reported but never set the exit code.
 */

const USAGE =
  'usage: vigil evaluate [-c FILE] [--service S] [--since TIME] [--at TIME] [--slo NAME]... [--json]\n';
export const EXIT_CANNOT_EVALUATE = 3;

export interface EvaluateArgs {
  configFile: string;
  /** ms since epoch */
  since?: number;
  /** ms since epoch */
  at?: number;
  slos: string[];
  json: boolean;
  /** The service whose checks are evaluated; required when the config has several. */
  service?: string;
}

/**
 * Parses TIME: RFC 3339 with a zone (`2026-11-27T10:00:00Z`, `…+01:00`) or Unix seconds (`1795762800`,
 * fractions allowed). Returns ms since epoch, or undefined for anything else.
 *
 * @example parseTime('1795762800') // 1795762800000
 */
export function parseTime(text: string): number | undefined {
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const rfc3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
  if (!rfc3339.test(text)) return undefined;
  const ms = Date.parse(text.replace(' ', 'T'));
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * Parses the command line; throws an Error whose message is the usage problem.
 *
 * @example parseEvaluateArgs(['--at', '1795762800', '--json']) // { configFile: 'vigil.yaml', at: 1795762800000, json: true, slos: [] }
 */
export function parseEvaluateArgs(argv: string[]): EvaluateArgs {
  const { values } = parseFlags(argv, {
    config: { type: 'string', short: 'c', default: './vigil.yaml' },
    since: { type: 'string' },
    at: { type: 'string' },
    slo: { type: 'string', multiple: true, default: [] },
    json: { type: 'boolean', default: false },
    ...SERVICE_FLAG,
  });
  const time = (flag: 'since' | 'at'): number | undefined => {
    const text = values[flag];
    if (text === undefined) return undefined;
    const ms = parseTime(text);
    if (ms === undefined)
      throw new Error(`--${flag} "${text}" is not RFC 3339 (with a zone) or Unix seconds`);
    return ms;
  };
  const args: EvaluateArgs = {
    configFile: path.normalize(values.config),
    slos: values.slo,
    json: values.json,
  };
  const since = time('since');
  const at = time('at');
  if (since !== undefined) args.since = since;
  if (at !== undefined) args.at = at;
  if (values.service !== undefined) args.service = values.service;
  if (since !== undefined && at !== undefined && since > at) throw new Error('--since is after --at');
  return args;
}

/**
 * The exit code of an evaluation: 1 when an enforced check fails, 2 when none fails but one is
 * inconclusive, else 0.
 *
 * @example evaluationExitCode([{ result: 'warn', … }]) // 0
 */
export function evaluationExitCode(checks: readonly CheckResult[]): 0 | 1 | 2 {
  const enforced = checks.filter((c) => c.shadow !== true);
  if (enforced.some((c) => c.result === 'fail')) return 1;
  if (enforced.some((c) => c.result === 'inconclusive')) return 2;
  return 0;
}

/**
 * `vigil evaluate [-c FILE] [--service S] [--since TIME] [--at TIME] [--slo NAME]... [--json]`: one
 * service's checks (`--service`, required when the config watches several).
 *
 * @example await evaluate({ argv: ['--since', '1795762800', '--json'], stdout, stderr, env, signal }) // 0, 1 or 2
 */
export const evaluate: Command = async (ctx: CliContext) => {
  let args: EvaluateArgs;
  try {
    args = parseEvaluateArgs(ctx.argv);
  } catch (error) {
    ctx.stderr.write(`vigil evaluate: ${errorMessage(error)}\n${USAGE}`);
    return EXIT_CANNOT_EVALUATE;
  }
  let config: ServiceConfig;
  try {
    config = selectService(await loadConfig(args.configFile, ctx.env), args.service);
  } catch (error) {
    if (error instanceof UsageError) {
      ctx.stderr.write(`vigil evaluate: ${error.message}\n`);
    } else if (error instanceof ConfigError) {
      for (const problem of error.problems) ctx.stderr.write(`${formatProblem(problem)}\n`);
      ctx.stderr.write(`vigil evaluate: ${args.configFile} is invalid; nothing was evaluated\n`);
    } else {
      ctx.stderr.write(`vigil evaluate: ${errorMessage(error)}\n`);
    }
    return EXIT_CANNOT_EVALUATE;
  }

  const unknown = args.slos.filter((name) => !config.slos.some((slo) => slo.name === name));
  if (unknown.length > 0) {
    const known = config.slos.map((slo) => slo.name).join(', ') || 'none';
    ctx.stderr.write(`vigil evaluate: no SLO check named ${unknown.join(', ')} (known: ${known})\n`);
    return EXIT_CANNOT_EVALUATE;
  }
  const slos = args.slos.length > 0 ? config.slos.filter((slo) => args.slos.includes(slo.name)) : config.slos;
  if (slos.length === 0) {
    ctx.stderr.write(`vigil evaluate: ${args.configFile} defines no SLO checks; nothing to evaluate\n`);
    return EXIT_CANNOT_EVALUATE;
  }

  const windowMs = config.root.watch.window;
  const minWindowMs = config.root.watch.minWindow;
  const at = args.at ?? Date.now();
  // Without --since the deploy is a whole window back: the windows are then as configured.
  const deployedAt = args.since ?? at - windowMs;
  const dispatcher = new Agent({ connections: 8, keepAliveTimeout: 4_000 });
  let store: StoreReaders | undefined;
  let checks: CheckResult[];
  try {
    store = await openStoreIfNeeded(config.root.storage, config.root.service, slos, ctx.stderr);
    const sources = createSources(config.root, {
      dispatcher,
      ...(store ? { rollups: store.rollups } : {}),
    });
    checks = await evaluateChecks(slos, {
      sources,
      at,
      deployedAt,
      windowMs,
      postDeployOnly: true,
      ...(minWindowMs === undefined ? {} : { minWindowMs }),
      vars: { service: config.root.service },
      signal: ctx.signal,
      ...(store ? { snapshots: store.snapshots } : {}),
    });
  } catch (error) {
    ctx.stderr.write(`vigil evaluate: ${errorMessage(error)}\n`);
    return EXIT_CANNOT_EVALUATE;
  } finally {
    await store?.store.close();
    await dispatcher.close();
  }

  const document = {
    evaluatedAt: new Date(at).toISOString(),
    deployedAt: new Date(deployedAt).toISOString(),
    checks,
  };
  if (args.json) ctx.stdout.write(`${JSON.stringify(document)}\n`);
  ctx.stderr.write(formatTable(document, windowMs));
  return evaluationExitCode(checks);
};

interface StoreReaders {
  store: Store;
  rollups: ProbeRollups;
  snapshots: SnapshotReader;
}

/**
 * Opens the daemon's store when a check needs it (the probes source, previous-watch and pinned
 * baselines) and it exists (a PostgreSQL URL is taken as existing); never creates an SQLite file. Without
 * it those checks are inconclusive, and we say why.
 */
async function openStoreIfNeeded(
  storage: { path: string; url?: string | undefined },
  service: string,
  slos: readonly { source: string; baseline?: { from: string } | undefined }[],
  stderr: NodeJS.WritableStream,
): Promise<StoreReaders | undefined> {
  const needed = slos.some(
    (slo) =>
      slo.source === 'probes' || slo.baseline?.from === 'previous-watch' || slo.baseline?.from === 'pinned',
  );
  if (!needed) return undefined;
  if (storage.url === undefined && !existsSync(storage.path)) {
    stderr.write(
      `note: no store at ${storage.path}; probes checks and previous-watch/pinned baselines will be inconclusive\n`,
    );
    return undefined;
  }
  const store = await openStore(storage.url === undefined ? { path: storage.path } : { url: storage.url });
  return { store, rollups: createProbeRollups(store, service), snapshots: createSnapshotReader(store) };
}

/** The readable report on stderr: one line per check, then the summary. */
function formatTable(
  doc: { evaluatedAt: string; deployedAt: string; checks: CheckResult[] },
  windowMs: number,
): string {
  const rows = doc.checks.map((c) => [
    c.result.toUpperCase() + (c.shadow ? ' (shadow)' : ''),
    c.kind === 'slo' ? c.name : `${c.name} [${c.kind}]`,
    formatNumber(c.value),
    formatNumber(c.baseline),
    c.explanation,
  ]);
  const header = ['RESULT', 'CHECK', 'VALUE', 'BASELINE', 'EXPLANATION'];
  const widths = header
    .slice(0, 4)
    .map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    `${cells
      .map((cell, i) => (i < 4 ? cell.padEnd(widths[i] ?? 0) : cell))
      .join('  ')
      .trimEnd()}\n`;
  const counts = new Map<string, number>();
  for (const c of doc.checks) counts.set(c.result, (counts.get(c.result) ?? 0) + 1);
  const summary = ['pass', 'warn', 'fail', 'inconclusive']
    .filter((r) => counts.has(r))
    .map((r) => `${counts.get(r)} ${r}`)
    .join(', ');
  return (
    `evaluated at ${doc.evaluatedAt} for a deploy at ${doc.deployedAt} (window ${formatDuration(windowMs)})\n` +
    line(header) +
    rows.map(line).join('') +
    `${doc.checks.length} checks: ${summary}\n`
  );
}

function formatNumber(value: number | null): string {
  if (value === null) return '-';
  if (!Number.isFinite(value)) return formatValue(value); // +Inf, -Inf: as PromQL writes them
  if (value !== 0 && (Math.abs(value) >= 1e6 || Math.abs(value) < 1e-3)) return value.toExponential(3);
  return String(Number(value.toPrecision(4)));
}
