import { renderJsonSchema } from '../config/json-schema.js';
import { errorMessage } from '../errors.js';
import { parseFlags } from './args.js';
import type { CliContext, Command } from './types.js';

/**
 * `vigil schema` (DESIGN §2): prints the JSON Schema of the config (root file, with the probe and SLO file
 * schemas under `$defs`) on stdout; exit 0, or 2 on a usage error. `-c` is accepted like on every command
 * and not needed: the schema does not depend on a config file.
 *
 * @example await schema({ argv: [], stdout, stderr, env, signal }) // 0, JSON on stdout
 */
export const schema: Command = async (ctx: CliContext) => {
  try {
    parseFlags(ctx.argv, { config: { type: 'string', short: 'c' } });
  } catch (error) {
    ctx.stderr.write(`vigil schema: ${errorMessage(error)}\nusage: vigil schema\n`);
    return 2;
  }
  ctx.stdout.write(renderJsonSchema());
  return 0;
};
