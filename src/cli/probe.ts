import path from 'node:path';
import { systemClock } from '../clock.js';
import { loadConfig } from '../config/load.js';
import { ConfigError, errorMessage, formatProblem, VigilError } from '../errors.js';
import { runProbe } from '../prober/engine.js';
import { type PreparedProbe, prepareProbe } from '../prober/prepare.js';
import { createScheduler } from '../prober/scheduler.js';
import type { ProbeResult } from '../prober/types.js';
import { silentLogger } from '../telemetry/logger.js';
import { parseFlags, SERVICE_FLAG, selectService } from './args.js';
import type { CliContext, Command } from './types.js';

const USAGE = 'usage: vigil probe [-c FILE] [--service S] [--probe NAME]... [--json]\n';

function ms(value: number): string {
  return value >= 100 ? value.toFixed(0) : value.toFixed(1);
}

function row(cells: readonly string[], widths: readonly number[]): string {
  return cells
    .map((cell, i) => cell.padEnd(widths[i] ?? 0))
    .join('  ')
    .trimEnd();
}

/**
 * Formats results as the human table `vigil probe` writes on stderr: one line per probe (steps of a
 * journey indented beneath), phases in ms, then the failure reason.
 *
 * @example formatProbeTable(results) // 'PROBE   KIND   RESULT  STATUS  TOTAL ms …'
 */
export function formatProbeTable(results: readonly ProbeResult[]): string {
  const header = [
    'PROBE',
    'KIND',
    'RESULT',
    'STATUS',
    'TOTAL',
    'DNS',
    'CONNECT',
    'TLS',
    'TTFB',
    'TRANSFER',
    'FAILURE',
  ];
  const lines: string[][] = [header];
  const add = (r: ProbeResult, indent: string, kind: string): void => {
    const p = r.phases;
    const outcome = r.skipped ? 'skip' : r.success ? 'pass' : 'FAIL';
    const failure =
      r.skipped ?? (r.failure ? `${r.failure.class}: ${r.failure.message}` : r.late ? 'late start' : '');
    lines.push([
      `${indent}${r.probe}`,
      kind,
      outcome,
      r.status === undefined ? '-' : String(r.status),
      `${ms(r.durationMs)}ms`,
      ms(p.dnsMs),
      ms(p.connectMs),
      ms(p.tlsMs),
      ms(p.ttfbMs),
      ms(p.transferMs),
      failure,
    ]);
  };
  for (const result of results) {
    add(result, '', result.kind);
    for (const step of result.steps) add(step, '  ', 'step');
  }
  // The last column (the failure reason) runs free; the others pad to their widest cell.
  const widths = header.map((_, i) =>
    i === header.length - 1 ? 0 : Math.max(...lines.map((l) => (l[i] ?? '').length)),
  );
  const passed = results.filter((r) => r.success).length;
  return `${lines.map((l) => row(l, widths)).join('\n')}\n${passed}/${results.length} probes passed\n`;
}

/**
 * `vigil probe [-c FILE] [--service S] [--probe NAME]... [--json]` (DESIGN §2): runs the named probes
 * (default all) of one service (`--service`, required when the config watches several) once, now, through the same engine and caps as the daemon. `--json` prints `{"results":[...]}` on
 * stdout; the table always goes to stderr. Exit 0 all passed, 1 any failed, 2 config error, no probe
 * to run, unknown probe name or bad usage.
 *
 * @example await probe({ argv: ['--probe', 'health', '--json'], stdout, stderr, env, signal }) // 0
 */
export const probe: Command = async (ctx: CliContext) => {
  let file: string;
  let names: string[];
  let json: boolean;
  let serviceName: string | undefined;
  try {
    const { values } = parseFlags(ctx.argv, {
      config: { type: 'string', short: 'c', default: './vigil.yaml' },
      probe: { type: 'string', multiple: true, default: [] },
      json: { type: 'boolean', default: false },
      ...SERVICE_FLAG,
    });
    file = path.normalize(values.config);
    serviceName = values.service;
    names = values.probe;
    json = values.json;
  } catch (error) {
    ctx.stderr.write(`vigil probe: ${errorMessage(error)}\n${USAGE}`);
    return 2;
  }
  let prepared: PreparedProbe[];
  try {
    const config = selectService(await loadConfig(file, ctx.env), serviceName);
    const known = new Set(config.probes.map((p) => p.name));
    const unknown = names.filter((n) => !known.has(n));
    if (unknown.length > 0) {
      ctx.stderr.write(
        `vigil probe: no probe named ${unknown.join(', ')} (configured: ${[...known].join(', ') || 'none'})\n`,
      );
      return 2;
    }
    const chosen = names.length > 0 ? config.probes.filter((p) => names.includes(p.name)) : config.probes;
    if (chosen.length === 0) {
      // Nothing run is not "all passed": a CI step that probes an empty config must not go green.
      ctx.stderr.write(`vigil probe: no probes configured (the probes globs of ${file} load none)\n`);
      return 2;
    }
    const baseDir = path.dirname(config.file);
    prepared = chosen.map((p) => prepareProbe(p, config.root.target, baseDir));
  } catch (error) {
    if (error instanceof ConfigError) {
      for (const problem of error.problems) ctx.stderr.write(`${formatProblem(problem)}\n`);
      return 2;
    }
    if (error instanceof VigilError) {
      // UsageError (an unknown or missing --service) is one too: exit 2 either way.
      ctx.stderr.write(`vigil probe: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  const scheduler = createScheduler({
    probes: prepared,
    clock: systemClock,
    logger: silentLogger(),
    eventLoopDelayMs: () => 0,
    run: (p, signal) =>
      runProbe(p, { now: () => systemClock.now(), signal: AbortSignal.any([signal, ctx.signal]) }),
  });
  let results: ProbeResult[];
  try {
    results = await scheduler.runOnce();
  } finally {
    await Promise.all(prepared.map((p) => p.connection?.close()));
  }
  if (json) ctx.stdout.write(`${JSON.stringify({ results })}\n`);
  ctx.stderr.write(formatProbeTable(results));
  return results.every((r) => r.success) ? 0 : 1;
};
