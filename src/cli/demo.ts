import { runDemo } from '../demo/run.js';
import { errorMessage } from '../errors.js';
import { parseFlags } from './args.js';
import type { Command } from './types.js';

/**
 * `vigil demo`: the whole story on loopback (DESIGN §10). Exit 0 only when the good deploy passed, the
 * bad one failed with reasons, and exactly one rollback webhook arrived with a valid signature.
 * `--json` prints the outcome (both watch objects) on stdout.
 */
export const demo: Command = async (ctx) => {
  let values: { json?: boolean; 'without-prometheus'?: boolean };
  try {
    values = parseFlags(ctx.argv, {
      json: { type: 'boolean' },
      'without-prometheus': { type: 'boolean' },
    }).values;
  } catch (error) {
    ctx.stderr.write(
      `vigil demo: ${errorMessage(error)}\nusage: vigil demo [--without-prometheus] [--json]\n`,
    );
    return 2;
  }
  const controller = new AbortController();
  const onSignal = (): void => controller.abort(new Error('interrupted'));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const outcome = await runDemo({
      out: ctx.stderr,
      env: ctx.env,
      signal: AbortSignal.any([ctx.signal, controller.signal]),
      withoutPrometheus: values['without-prometheus'] === true,
    });
    if (values.json) ctx.stdout.write(`${JSON.stringify(outcome)}\n`);
    return outcome.ok ? 0 : 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
};
