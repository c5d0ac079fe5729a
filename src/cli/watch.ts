import { parseArgs } from 'node:util';
import { parseDurationMs } from '../config/units.js';
import { errorMessage } from '../errors.js';
import { createDaemonClient, DaemonHttpError, DaemonUnreachableError, resolveServer } from './client.js';
import type { CliContext, Command } from './types.js';

const USAGE =
  'usage: vigil watch start --service S --version V [--previous-version P] [--duration D] [--server URL] [--json]\n';

/**
 * `vigil watch start` (DESIGN §2): asks the running daemon to start a watch and prints its id on stdout
 * (`--json`: the watch object). Exit 0 started; 1 refused or the daemon unreachable, with why on stderr;
 * 2 on a usage error.
 *
 * @example await watchStart({ argv: ['--service', 'prep-api', '--version', '1.4.2'], stdout, stderr, env, signal })
 */
export const watchStart: Command = async (ctx: CliContext) => {
  let values: {
    service?: string;
    version?: string;
    'previous-version'?: string;
    duration?: string;
    server?: string;
    json?: boolean;
  };
  try {
    ({ values } = parseArgs({
      args: ctx.argv,
      options: {
        service: { type: 'string' },
        version: { type: 'string' },
        'previous-version': { type: 'string' },
        duration: { type: 'string' },
        server: { type: 'string' },
        json: { type: 'boolean', default: false },
        // Every command takes -c (DESIGN §2); this one talks to the daemon, which has the config.
        config: { type: 'string', short: 'c' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    ctx.stderr.write(`vigil watch start: ${errorMessage(error)}\n${USAGE}`);
    return 2;
  }
  if (!values.service || !values.version) {
    ctx.stderr.write(`vigil watch start: --service and --version are required\n${USAGE}`);
    return 2;
  }
  if (values.duration !== undefined && parseDurationMs(values.duration) === undefined) {
    ctx.stderr.write(`vigil watch start: invalid --duration "${values.duration}" (e.g. 2h, 24h)\n`);
    return 2;
  }
  const client = createDaemonClient(resolveServer(values.server, ctx.env));
  const body: Record<string, unknown> = { service: values.service, version: values.version };
  if (values['previous-version']) body.previousVersion = values['previous-version'];
  if (values.duration) body.duration = values.duration;
  try {
    const watch = await client.startWatch(body, ctx.signal);
    if (values.json) ctx.stdout.write(`${JSON.stringify(watch)}\n`);
    else ctx.stdout.write(`${watch.id}\n`);
    ctx.stderr.write(
      `watching ${watch.service} ${watch.version} (previous ${watch.previousVersion ?? 'none'}) for ${watch.duration}: ${watch.id}\n`,
    );
    return 0;
  } catch (error) {
    if (error instanceof DaemonHttpError || error instanceof DaemonUnreachableError) {
      ctx.stderr.write(`vigil watch start: refused: ${error.message}\n`);
      return 1;
    }
    ctx.stderr.write(`vigil watch start: ${errorMessage(error)}\n`);
    return 1;
  } finally {
    await client.close();
  }
};
