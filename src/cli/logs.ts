import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Agent } from 'undici';
import { loadConfig } from '../config/load.js';
import type { ServiceConfig, SloConfig } from '../config/schema.js';
import { formatDuration } from '../config/units.js';
import { ConfigError, errorMessage, formatProblem } from '../errors.js';
import type { CheckResult } from '../evaluator/types.js';
import { evaluatePatternsCheck } from '../patterns/check.js';
import { createPatternStore, type ObservedSignature } from '../patterns/store.js';
import { patternsWiring } from '../patterns/wiring.js';
import { createSources } from '../sources/index.js';
import { openStore } from '../store/open.js';
import { SERVICE_FLAG, selectService, UsageError } from './args.js';
import { EXIT_CANNOT_EVALUATE, evaluationExitCode, parseTime } from './evaluate.js';
import type { CliContext, Command } from './types.js';

/*
 * `vigil logs diff` (DESIGN §2, issue 19): the log signatures of the `patterns` checks for a deploy at
 * --since, judged at --at exactly as a watch's evaluation would (the same check, a throwaway store), with
 * the operators' feedback of the daemon's store when there is one. Exit codes: 0 nothing new; 1 a check
 * would fail; 2 inconclusive; 3 bad arguments or config.
 */

const USAGE =
  'usage: vigil logs diff [-c FILE] [--service S] [--since TIME] [--at TIME] [--check NAME]... [--json]\n';
const DIFF_WATCH = 'logs-diff';

interface DiffArgs {
  configFile: string;
  since?: number;
  at?: number;
  checks: string[];
  json: boolean;
  service?: string;
}

function parseDiffArgs(argv: string[]): DiffArgs {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string', short: 'c', default: './vigil.yaml' },
      since: { type: 'string' },
      at: { type: 'string' },
      check: { type: 'string', multiple: true, default: [] },
      json: { type: 'boolean', default: false },
      ...SERVICE_FLAG,
    },
    strict: true,
    allowPositionals: false,
  });
  const args: DiffArgs = {
    configFile: path.normalize(values.config),
    checks: values.check,
    json: values.json,
    ...(values.service === undefined ? {} : { service: values.service }),
  };
  for (const flag of ['since', 'at'] as const) {
    const text = values[flag];
    if (text === undefined) continue;
    const ms = parseTime(text);
    if (ms === undefined)
      throw new Error(`--${flag} "${text}" is not RFC 3339 (with a zone) or Unix seconds`);
    args[flag] = ms;
  }
  if (args.since !== undefined && args.at !== undefined && args.since > args.at)
    throw new Error('--since is after --at');
  return args;
}

/** A check's result with the signatures it classified. */
export interface DiffCheck extends CheckResult {
  signatures: {
    new: ObservedSignature[];
    changed: ObservedSignature[];
    known: ObservedSignature[];
    alwaysFail: ObservedSignature[];
  };
}

const iso = (ms: number): string => new Date(ms).toISOString();

function formatReport(doc: { evaluatedAt: string; deployedAt: string; checks: DiffCheck[] }): string {
  const out = [`log signatures at ${doc.evaluatedAt} for a deploy at ${doc.deployedAt}`];
  for (const c of doc.checks) {
    out.push('', `${c.result.toUpperCase()}${c.shadow ? ' (shadow)' : ''}  ${c.name}  ${c.explanation}`);
    const sections = [
      ['ALWAYS FAIL', c.signatures.alwaysFail],
      ['NEW', c.signatures.new],
      ['CHANGED', c.signatures.changed],
      ['KNOWN', c.signatures.known],
    ] as const;
    for (const [title, list] of sections) {
      if (list.length === 0) continue;
      out.push(`  ${title}`);
      for (const s of list) {
        const was = s.baselineCount === null ? '' : ` (baseline ×${s.baselineCount})`;
        const level = [s.level, s.logger].filter(Boolean).join(' ');
        out.push(
          `    ${s.id}  ×${s.count}${was}  ${level ? `[${level}] ` : ''}${s.template}  first ${iso(s.firstSeen)}`,
        );
        for (const example of s.examples) out.push(`        e.g. ${example}`);
      }
    }
  }
  const counts = new Map<string, number>();
  for (const c of doc.checks) counts.set(c.result, (counts.get(c.result) ?? 0) + 1);
  const summary = [...counts].map(([r, n]) => `${n} ${r}`).join(', ');
  out.push('', `${doc.checks.length} patterns check${doc.checks.length === 1 ? '' : 's'}: ${summary}`);
  return `${out.join('\n')}\n`;
}

/**
 * `vigil logs diff [-c FILE] [--service S] [--since TIME] [--at TIME] [--check NAME]... [--json]`: one
 * service's patterns checks (`--service`, required when the config watches several).
 *
 * @example await logsDiff({ argv: ['--since', '2026-11-27T12:00:00Z', '--json'], stdout, stderr, env, signal }) // 0, 1, 2 or 3
 */
export const logsDiff: Command = async (ctx: CliContext) => {
  let args: DiffArgs;
  try {
    args = parseDiffArgs(ctx.argv);
  } catch (error) {
    ctx.stderr.write(`vigil logs diff: ${errorMessage(error)}\n${USAGE}`);
    return EXIT_CANNOT_EVALUATE;
  }
  let config: ServiceConfig;
  try {
    config = selectService(await loadConfig(args.configFile, ctx.env), args.service);
  } catch (error) {
    if (error instanceof UsageError) ctx.stderr.write(`vigil logs diff: ${error.message}\n`);
    else if (error instanceof ConfigError)
      for (const p of error.problems) ctx.stderr.write(`${formatProblem(p)}\n`);
    else ctx.stderr.write(`vigil logs diff: ${errorMessage(error)}\n`);
    return EXIT_CANNOT_EVALUATE;
  }
  const all = config.slos.filter((slo): slo is SloConfig => slo.patterns !== undefined);
  const unknown = args.checks.filter((name) => !all.some((slo) => slo.name === name));
  if (unknown.length > 0) {
    const known = all.map((slo) => slo.name).join(', ') || 'none';
    ctx.stderr.write(`vigil logs diff: no patterns check named ${unknown.join(', ')} (known: ${known})\n`);
    return EXIT_CANNOT_EVALUATE;
  }
  const slos = args.checks.length > 0 ? all.filter((slo) => args.checks.includes(slo.name)) : all;
  if (slos.length === 0) {
    ctx.stderr.write(`vigil logs diff: ${args.configFile} defines no patterns checks\n`);
    return EXIT_CANNOT_EVALUATE;
  }
  const at = args.at ?? Date.now();
  const windowMs = config.root.watch.window;
  const deployedAt = args.since ?? at - windowMs;
  const service = config.root.service;
  const dispatcher = new Agent({ connections: 4, keepAliveTimeout: 4_000 });
  const scratch = await openStore({ path: ':memory:' });
  const store = createPatternStore(scratch);
  const checks: DiffCheck[] = [];
  try {
    // The daemon's feedback ("not a risk", "always fail") applies here as in a watch. Only read from its
    // store; a store this build cannot open (newer schema, unreadable, unreachable) is said, and the diff
    // goes on without.
    const { path: daemonPath, url: daemonUrl } = config.root.storage;
    if (daemonUrl !== undefined || existsSync(daemonPath)) {
      try {
        const daemon = await openStore(daemonUrl === undefined ? { path: daemonPath } : { url: daemonUrl });
        try {
          for (const f of await createPatternStore(daemon).feedback(service)) await store.addFeedback(f);
        } finally {
          await daemon.close();
        }
      } catch (error) {
        ctx.stderr.write(`note: no operator feedback applied (${errorMessage(error)})\n`);
      }
    }
    const sources = createSources(config.root, { dispatcher });
    const patterns = patternsWiring(store, { dispatcher })(config.root);
    for (const slo of slos) {
      const result = await evaluatePatternsCheck(slo, {
        sources,
        at,
        deployedAt,
        windowMs,
        postDeployOnly: true,
        ...(config.root.watch.minWindow === undefined ? {} : { minWindowMs: config.root.watch.minWindow }),
        vars: { service },
        watchId: DIFF_WATCH,
        signal: ctx.signal,
        patterns,
      });
      const seen = (await store.observations(DIFF_WATCH)).filter((o) => o.check === slo.name);
      const of = (status: ObservedSignature['status']) => seen.filter((o) => o.status === status);
      checks.push({
        ...result,
        signatures: {
          new: of('new'),
          changed: of('changed'),
          known: of('known'),
          alwaysFail: of('always-fail'),
        },
      });
    }
  } catch (error) {
    ctx.stderr.write(`vigil logs diff: ${errorMessage(error)}\n`);
    return EXIT_CANNOT_EVALUATE;
  } finally {
    await scratch.close();
    await dispatcher.close();
  }
  const document = {
    evaluatedAt: iso(at),
    deployedAt: iso(deployedAt),
    window: formatDuration(windowMs),
    checks,
  };
  if (args.json) ctx.stdout.write(`${JSON.stringify(document)}\n`);
  ctx.stderr.write(formatReport(document));
  return evaluationExitCode(checks);
};
