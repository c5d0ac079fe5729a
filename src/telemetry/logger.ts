import { type DestinationStream, type Logger, pino } from 'pino';

export type { Logger } from 'pino';

/** Paths whose values never reach a log line (DESIGN §4: secrets never appear in logs). */
export const REDACT_PATHS = [
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  'token',
  '*.token',
  'apiToken',
  '*.apiToken',
  'bearerToken',
  '*.bearerToken',
  'secret',
  '*.secret',
  'password',
  '*.password',
  '*.basicAuth.password',
];

export interface LoggerOptions {
  level?: string;
  format?: 'json' | 'pretty';
  /** Where lines go; stdout when absent. Tests pass a stream to capture lines. */
  destination?: DestinationStream;
}

/**
 * The daemon's logger: JSON lines (or pretty for a terminal), ISO timestamps, secrets redacted.
 *
 * @example const log = createLogger({ level: 'info', format: 'json' }); log.child({ watchId }).info('started');
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const base = {
    level: options.level ?? 'info',
    base: { service: 'vigil' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT_PATHS, censor: '[Redacted]' },
    formatters: { level: (label: string) => ({ level: label }) },
  };
  if (options.destination) return pino(base, options.destination);
  if (options.format === 'pretty') {
    return pino({
      ...base,
      transport: { target: 'pino-pretty', options: { destination: 2, colorize: true } },
    });
  }
  return pino(base, pino.destination({ dest: 1, sync: false }));
}

/** A logger that drops everything, for tests and one-shot commands that print their own output. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
