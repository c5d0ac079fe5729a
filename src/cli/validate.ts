import path from 'node:path';
import { Agent } from 'undici';
import { servicesOf } from '../config/fleet.js';
import { configWarnings, loadConfig } from '../config/load.js';
import type { ServiceConfig, VigilConfig } from '../config/schema.js';
import { ConfigError, type ConfigProblem, errorMessage, formatProblem } from '../errors.js';
import { checkK6Scripts, formatSyntaxProblem } from '../loadtest/syntax.js';
import { parseFlags, SERVICE_FLAG, selectService, UsageError } from './args.js';
import type { CliContext, Command } from './types.js';
import { checkQueriesOnline, formatOnlineCheck, type OnlineCheck } from './validate-online.js';

const USAGE = 'usage: vigil validate [-c FILE] [--online [--service S]] [--json]\n';

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/** What one service (or a single-service file) defines: `2 probes, 3 SLO checks, 1 load profile`. */
function counts(config: VigilConfig): string {
  const profiles = Object.keys(config.root.loadtests?.profiles ?? {}).length;
  return `${plural(config.probes.length, 'probe')}, ${plural(config.slos.length, 'SLO check')}, ${plural(profiles, 'load profile')}`;
}

/** A problem as `vigil validate --json` prints it. */
export interface ValidateProblem extends ConfigProblem {
  severity: 'error' | 'warning';
}

/** The document `vigil validate --json` prints on stdout. */
export interface ValidateReport {
  valid: boolean;
  problems: ValidateProblem[];
  /** The online results (`--online`); empty without it. */
  checks: OnlineCheck[];
}

/** Every profile script, and what it imports, must parse on the oldest supported k6 (ES2017). */
async function scriptProblems(
  config: VigilConfig,
  given: string,
): Promise<(ValidateProblem & { text: string })[]> {
  const configDir = path.dirname(config.file);
  // Every service's profiles (a fleet's share the root's): each script checked once.
  const scripts = [
    ...new Set(
      servicesOf(config).flatMap((service) =>
        Object.values(service.root.loadtests?.profiles ?? {}).map((p) => path.resolve(configDir, p.script)),
      ),
    ),
  ];
  // Paths as the user sees them: relative to the config file as it was given.
  const shown = (abs: string) => path.join(path.dirname(given), path.relative(configDir, abs));
  return (await checkK6Scripts(scripts)).map((problem) => ({
    file: shown(problem.file),
    path: `${problem.line}:${problem.column}`,
    message: problem.message,
    severity: 'error' as const,
    // formatSyntaxProblem's text, so human output is as before.
    text: formatSyntaxProblem(problem, shown),
  }));
}

/**
 * `vigil validate [-c FILE] [--online [--service S]] [--json]` (DESIGN §2): loads and checks the config (every
 * service of a fleet), its probe and SLO files, load profiles (each script and the files it imports must
 * parse as ES2017 modules, what k6 <0.52 reads: `<file>:<line>:<col>: syntax k6 <0.52 cannot parse: …`)
 * and every query's syntax. `--online` also runs one service's queries (`--service`, required for a
 * fleet) once against its sources and reports per check `returns data`, `no series now` (a warning: it
 * may be right now) or `error …` (an exit-1 problem). Exit 0 valid (warnings and a summary on stderr: one
 * line, or one per service of a fleet); 1 invalid or an online error, printing every problem as
 * `<file>:<path>: <message>`; 2 usage error. `--json` prints `{ valid, problems, checks }` on stdout.
 *
 * @example await validate({ argv: ['-c', 'vigil.yaml', '--online'], stdout, stderr, env, signal }) // 0
 */
export const validate: Command = async (ctx: CliContext) => {
  let file: string;
  let json: boolean;
  let online: boolean;
  let serviceName: string | undefined;
  try {
    const { values } = parseFlags(ctx.argv, {
      config: { type: 'string', short: 'c', default: './vigil.yaml' },
      online: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      ...SERVICE_FLAG,
    });
    file = path.normalize(values.config);
    json = values.json;
    online = values.online;
    serviceName = values.service;
    if (serviceName !== undefined && !online)
      throw new UsageError('--service goes with --online (validate checks every service)');
  } catch (error) {
    ctx.stderr.write(`vigil validate: ${errorMessage(error)}\n${USAGE}`);
    return 2;
  }
  const report: ValidateReport = { valid: true, problems: [], checks: [] };
  const finish = (code: number): number => {
    if (json) ctx.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return code;
  };

  let config: VigilConfig;
  try {
    config = await loadConfig(file, ctx.env);
  } catch (error) {
    report.valid = false;
    if (error instanceof ConfigError) {
      for (const problem of error.problems) {
        report.problems.push({ ...problem, severity: 'error' });
        ctx.stderr.write(`${formatProblem(problem)}\n`);
      }
    } else {
      report.problems.push({ file, path: '', message: errorMessage(error), severity: 'error' });
      ctx.stderr.write(`vigil validate: ${errorMessage(error)}\n`);
    }
    return finish(1);
  }
  for (const warning of configWarnings(config, file)) {
    report.problems.push({ ...warning, severity: 'warning' });
    ctx.stderr.write(`warning: ${formatProblem(warning)}\n`);
  }
  const syntax = await scriptProblems(config, file);
  for (const { text, ...problem } of syntax) {
    report.problems.push(problem);
    ctx.stderr.write(`${text}\n`);
  }
  if (syntax.length > 0) {
    report.valid = false;
    return finish(1);
  }

  let onlineErrors = 0;
  if (online) {
    let service: ServiceConfig;
    try {
      service = selectService(config, serviceName);
    } catch (error) {
      ctx.stderr.write(`vigil validate: ${errorMessage(error)}\n${USAGE}`);
      return 2;
    }
    const dispatcher = new Agent({ connections: 8, keepAliveTimeout: 4_000 });
    try {
      report.checks = await checkQueriesOnline(service, { dispatcher, signal: ctx.signal, at: Date.now() });
    } finally {
      await dispatcher.close();
    }
    for (const check of report.checks) {
      const line = formatOnlineCheck(check);
      if (check.status === 'error') onlineErrors++;
      // "no series now" is said as a warning: right for an error-lines query, a typo for a label value.
      const prefix =
        check.status === 'error' ? 'error: ' : check.status === 'no series now' ? 'warning: ' : '';
      ctx.stderr.write(`online: ${prefix}${line}\n`);
    }
  }
  const counted = report.checks.filter((c) => c.status === 'no series now').length;
  const onlineSummary = online
    ? `; online: ${plural(onlineErrors, 'error')}, ${counted} with no series now`
    : '';
  const services = servicesOf(config);
  const verdict = onlineErrors > 0 ? 'valid, but queries fail' : 'valid';
  if (config.root.services === undefined) {
    ctx.stderr.write(`${file}: ${verdict} — ${counts(config)}${onlineSummary}\n`);
  } else {
    ctx.stderr.write(`${file}: ${verdict} — ${plural(services.length, 'service')}${onlineSummary}\n`);
    for (const service of services) ctx.stderr.write(`  ${service.root.service}: ${counts(service)}\n`);
  }
  return finish(onlineErrors > 0 ? 1 : 0);
};
