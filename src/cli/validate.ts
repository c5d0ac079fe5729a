import path from 'node:path';
import { parseArgs } from 'node:util';
import { configWarnings, loadConfig } from '../config/load.js';
import { ConfigError, errorMessage, formatProblem } from '../errors.js';
import { checkK6Scripts, formatSyntaxProblem } from '../loadtest/syntax.js';
import type { CliContext, Command } from './types.js';

const USAGE = 'usage: vigil validate [-c FILE]\n';

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/**
 * `vigil validate [-c FILE]` (DESIGN §2): loads and checks the config, its probe and SLO files, load
 * profiles (each script and the files it imports must parse as ES2017 modules, what k6 <0.52 reads:
 * `<file>:<line>:<col>: syntax k6 <0.52 cannot parse: …`) and every query. Exit 0 with a one-line summary on stderr (warnings above it); exit 1 printing
 * every problem as `<file>:<path>: <message>`, one per line, on stderr; exit 2 on a usage error.
 * stdout stays empty.
 *
 * @example await validate({ argv: ['-c', 'vigil.yaml'], stdout, stderr, env, signal }) // 0
 */
export const validate: Command = async (ctx: CliContext) => {
  let file: string;
  try {
    const { values } = parseArgs({
      args: ctx.argv,
      options: { config: { type: 'string', short: 'c', default: './vigil.yaml' } },
      strict: true,
      allowPositionals: false,
    });
    file = path.normalize(values.config);
  } catch (error) {
    ctx.stderr.write(`vigil validate: ${errorMessage(error)}\n${USAGE}`);
    return 2;
  }
  try {
    const config = await loadConfig(file, ctx.env);
    for (const warning of configWarnings(config, file))
      ctx.stderr.write(`warning: ${formatProblem(warning)}\n`);
    // Every profile script, and what it imports, must parse on the oldest supported k6 (ES2017).
    const configDir = path.dirname(config.file);
    const scripts = Object.values(config.root.loadtests?.profiles ?? {}).map((p) =>
      path.resolve(configDir, p.script),
    );
    const syntaxProblems = await checkK6Scripts(scripts);
    if (syntaxProblems.length > 0) {
      // Paths as the user sees them: relative to the config file as it was given.
      const shown = (abs: string) => path.join(path.dirname(file), path.relative(configDir, abs));
      for (const problem of syntaxProblems) ctx.stderr.write(`${formatSyntaxProblem(problem, shown)}\n`);
      return 1;
    }
    const profiles = scripts.length;
    ctx.stderr.write(
      `${file}: valid — ${plural(config.probes.length, 'probe')}, ${plural(config.slos.length, 'SLO check')}, ` +
        `${plural(profiles, 'load profile')}\n`,
    );
    return 0;
  } catch (error) {
    if (error instanceof ConfigError) {
      for (const problem of error.problems) ctx.stderr.write(`${formatProblem(problem)}\n`);
    } else {
      ctx.stderr.write(`vigil validate: ${errorMessage(error)}\n`);
    }
    return 1;
  }
};
