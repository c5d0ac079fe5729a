import { describeEnvFile } from '../config/env-file.js';
import { loadConfigForDaemon } from '../config/load-isolated.js';
import type { VigilConfig } from '../config/schema.js';
import { tuneDaemonHeap } from '../daemon/heap.js';
import { createDaemon, type Daemon } from '../daemon/index.js';
import { ConfigError, errorMessage, formatProblem } from '../errors.js';
import { createLogger, type Logger } from '../telemetry/logger.js';
import { parseFlags } from './args.js';
import type { Command } from './types.js';

const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

/** Signals the serve loop listens to; injectable so tests can drive them without a process. */
export interface SignalSource {
  on(signal: 'SIGTERM' | 'SIGINT' | 'SIGHUP', listener: () => void): void;
  off(signal: 'SIGTERM' | 'SIGINT' | 'SIGHUP', listener: () => void): void;
}

/**
 * Builds the logger from LOG_LEVEL and LOG_FORMAT (DESIGN §9); an unknown value is an error naming it.
 *
 * @example loggerFromEnv({ LOG_LEVEL: 'debug', LOG_FORMAT: 'pretty' })
 */
export function loggerFromEnv(env: NodeJS.ProcessEnv): Logger {
  const level = env.LOG_LEVEL || 'info';
  const format = env.LOG_FORMAT || 'json';
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new Error(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, not "${level}"`);
  }
  if (format !== 'json' && format !== 'pretty')
    throw new Error(`LOG_FORMAT must be json or pretty, not "${format}"`);
  return createLogger({ level, format });
}

/**
 * `vigil serve`: runs the daemon until SIGTERM/SIGINT (exit 0 after a clean shutdown; a second signal
 * exits at once), reloads on SIGHUP keeping the old config when the new one is invalid. A startup error
 * (bad config, port taken, store refused) prints a one-line reason and exits 1.
 */
export const serve: Command = async (ctx) => {
  // A process-wide V8 setting for a long-running daemon; runServe (driven by tests in-process) leaves it.
  tuneDaemonHeap();
  return runServe(ctx, process);
};

export async function runServe(ctx: Parameters<Command>[0], signals: SignalSource): Promise<number> {
  let file: string;
  try {
    const { values } = parseFlags(ctx.argv, {
      config: { type: 'string', short: 'c', default: './vigil.yaml' },
    });
    file = values.config;
  } catch (error) {
    ctx.stderr.write(`vigil serve: ${errorMessage(error)}\nusage: vigil serve [-c FILE]\n`);
    return 2;
  }

  let logger: Logger;
  let config: VigilConfig;
  let daemon: Daemon;
  try {
    logger = loggerFromEnv(ctx.env);
    if (ctx.envFile !== undefined)
      logger.info(
        { envFile: ctx.envFile.file, variables: ctx.envFile.applied },
        describeEnvFile(ctx.envFile),
      );
    // A large config loads in a worker: its garbage would otherwise size the daemon's heap for its life.
    config = await loadConfigForDaemon(file, ctx.env);
    daemon = await createDaemon({
      config,
      logger,
      searchPath: ctx.env.PATH ?? '',
      ...(ctx.env.HOME ? { home: ctx.env.HOME } : {}),
      ...(ctx.env.VIGIL_INSTANCE ? { instance: ctx.env.VIGIL_INSTANCE } : {}),
    });
  } catch (error) {
    if (error instanceof ConfigError) {
      const count = error.problems.length;
      ctx.stderr.write(`vigil serve: invalid configuration (${count} problem${count === 1 ? '' : 's'})\n`);
      for (const problem of error.problems) ctx.stderr.write(`${formatProblem(problem)}\n`);
    } else {
      ctx.stderr.write(`vigil serve: ${errorMessage(error)}\n`);
    }
    return 1;
  }

  try {
    await daemon.start();
  } catch (error) {
    ctx.stderr.write(`vigil serve: ${errorMessage(error)}\n`);
    await daemon.stop(1_000).catch(() => {});
    return 1;
  }

  return new Promise<number>((resolve) => {
    let stopping = false;
    const shutdown = (name: string) => (): void => {
      if (stopping) {
        logger.warn({ signal: name }, 'second signal: exiting now');
        resolve(1);
        return;
      }
      stopping = true;
      logger.info({ signal: name }, 'shutting down');
      daemon.stop().then(
        () => {
          logger.info('stopped cleanly');
          cleanup();
          logger.flush();
          resolve(0);
        },
        (error: unknown) => {
          logger.error({ err: errorMessage(error) }, 'shutdown failed');
          cleanup();
          resolve(1);
        },
      );
    };
    const onTerm = shutdown('SIGTERM');
    const onInt = shutdown('SIGINT');
    let reloading = Promise.resolve();
    const onHup = (): void => {
      reloading = reloading.then(async () => {
        try {
          const next = await loadConfigForDaemon(file, ctx.env);
          await daemon.reload(next);
          daemon.metrics.configLastReloadSuccessful.set(1);
        } catch (error) {
          daemon.metrics.configLastReloadSuccessful.set(0);
          const problems =
            error instanceof ConfigError ? error.problems.map(formatProblem) : [errorMessage(error)];
          logger.error({ problems }, 'configuration reload rejected; keeping the running configuration');
        }
      });
    };
    const cleanup = (): void => {
      signals.off('SIGTERM', onTerm);
      signals.off('SIGINT', onInt);
      signals.off('SIGHUP', onHup);
    };
    signals.on('SIGTERM', onTerm);
    signals.on('SIGINT', onInt);
    signals.on('SIGHUP', onHup);
  });
}
