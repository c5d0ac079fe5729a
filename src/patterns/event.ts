/*
 * What a log line says, for clustering: its message (the part that names the event), its level and its
 * logger. JSON lines cluster on their message field — the rest of the object is request detail — with
 * the error field beside it, because `job failed` says little without `connection reset by peer`. Level
 * and logger are part of the signature: the same words at `error` from the payments logger and at `warn`
 * from the cache are two events. Plain lines cluster on their first line; a Python traceback on its
 * first and last lines (the last names the exception), a Java one on its first (frames carry line
 * numbers that move with every release).
 */

/** A line as read from Loki: time (ms), the raw line, and its stream labels. */
export interface LogLine {
  at: number;
  line: string;
  labels?: Record<string, string>;
}

/** The clustering view of a line. */
export interface LogEvent {
  level: string;
  logger: string;
  message: string;
}

const MESSAGE_FIELDS = ['msg', 'message', 'log', 'text'] as const;
const LEVEL_FIELDS = ['level', 'lvl', 'severity', 'levelname', 'log.level'] as const;
const LOGGER_FIELDS = ['logger', 'logger_name', 'loggerName', 'name', 'component', 'log.logger'] as const;
const ERROR_FIELDS = ['error', 'err', 'exception', 'error.message', 'exc_info'] as const;
const PLAIN_LEVEL = /\b(TRACE|DEBUG|INFO|NOTICE|WARN(?:ING)?|ERROR|ERR|CRIT(?:ICAL)?|FATAL|PANIC|SEVERE)\b/i;
const LEVEL_ALIASES: Record<string, string> = {
  warning: 'warn',
  err: 'error',
  critical: 'fatal',
  crit: 'fatal',
  panic: 'fatal',
  severe: 'error',
};

/** How to read JSON lines: the message field to cluster on (default: the first of msg, message, log, text). */
export interface EventOptions {
  messageField?: string;
}

function field(object: Record<string, unknown>, path: string): unknown {
  if (path in object) return object[path];
  let current: unknown = object;
  for (const key of path.split('.')) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

function text(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'object' && value !== null) {
    const message = (value as Record<string, unknown>).message;
    if (typeof message === 'string') return message;
  }
  return undefined;
}

function firstText(object: Record<string, unknown>, paths: readonly string[]): string | undefined {
  for (const path of paths) {
    const value = text(field(object, path));
    if (value !== undefined && value !== '') return value;
  }
  return undefined;
}

function normalLevel(level: string | undefined): string {
  if (level === undefined) return '';
  const lower = level.toLowerCase();
  return LEVEL_ALIASES[lower] ?? lower;
}

/** The first line of a multi-line message, plus the last for a Python traceback. */
function headline(message: string): string {
  const lines = message.split(/\r?\n/).filter((l) => l.trim() !== '');
  const first = (lines[0] ?? '').trim();
  if (lines.length > 1 && first.startsWith('Traceback (most recent call last)')) {
    return `${first} ${(lines[lines.length - 1] as string).trim()}`;
  }
  return first;
}

function parseObject(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const parsed = JSON.parse(line) as unknown;
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The message, level and logger of a line. The level comes from the line, else from a `level` stream
 * label (which `| json` extracts); names are lower-cased and aliases folded (`WARNING` → `warn`).
 *
 * @example
 *   readEvent({ at: 0, line: '{"level":"error","msg":"job failed","error":"connection reset by peer"}' })
 *   // { level: 'error', logger: '', message: 'job failed: connection reset by peer' }
 */
export function readEvent(entry: LogLine, options: EventOptions = {}): LogEvent {
  const labelLevel = entry.labels?.level ?? entry.labels?.detected_level;
  const object = parseObject(entry.line.trimStart());
  if (object !== undefined) {
    const fields = options.messageField === undefined ? MESSAGE_FIELDS : [options.messageField];
    const message = firstText(object, fields);
    const error = firstText(object, ERROR_FIELDS);
    const body =
      message === undefined ? (error ?? entry.line) : error === undefined ? message : `${message}: ${error}`;
    return {
      level: normalLevel(firstText(object, LEVEL_FIELDS) ?? labelLevel),
      logger: firstText(object, LOGGER_FIELDS) ?? '',
      message: headline(body),
    };
  }
  const message = headline(entry.line);
  return {
    level: normalLevel(labelLevel ?? PLAIN_LEVEL.exec(message.slice(0, 80))?.[1]),
    logger: entry.labels?.logger ?? '',
    message,
  };
}
