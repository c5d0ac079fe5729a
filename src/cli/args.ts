import { type ParseArgsConfig, parseArgs } from 'node:util';
import { servicesOf } from '../config/fleet.js';
import type { ServiceConfig, VigilConfig } from '../config/schema.js';
import { editDistance } from '../config/suggest.js';
import { VigilError } from '../errors.js';

/*
 * Command-line parsing for every command: node:util parseArgs underneath, with problems said in Vigil's
 * words ("unknown flag --untill (did you mean --until?)") instead of Node's text, which talks about
 * positionals and `--` and never names what the user probably meant.
 */

/** The flags a command takes, as node:util parseArgs describes them. */
export type FlagOptions = NonNullable<ParseArgsConfig['options']>;

/** A command line that does not fit the command: the message says which flag or argument, and why. */
export class UsageError extends VigilError {
  constructor(message: string) {
    super('USAGE', message);
    this.name = 'UsageError';
  }
}

/**
 * The known flag closest to an unknown one, when it is close enough to be a typo or a prefix.
 *
 * @example suggestFlag('untill', ['until', 'timeout']) // 'until'
 */
export function suggestFlag(unknown: string, known: readonly string[]): string | undefined {
  let best: { name: string; score: number } | undefined;
  for (const name of known) {
    const score = name.startsWith(unknown) || unknown.startsWith(name) ? 0.5 : editDistance(unknown, name);
    if (score <= Math.max(1, Math.floor(name.length / 3)) && (!best || score < best.score)) {
      best = { name, score };
    }
  }
  return best?.name;
}

function spell(name: string, options: FlagOptions): string {
  const short = options[name]?.short;
  return short ? `-${short}/--${name}` : `--${name}`;
}

/**
 * Checks a command line against the flags a command takes and throws a UsageError naming the first
 * problem: an unknown flag (with the closest known one), a flag missing its value, a value given to a
 * switch, or a stray argument. Returns the line with every value attached (`--reason=-5 % errors`), so a
 * value that starts with a dash is not taken for a flag by the strict parse that follows.
 *
 * @example checkFlags(['--untill', 'load'], { until: { type: 'string' } }, 1) // throws 'unknown flag --untill (did you mean --until?)'
 */
export function checkFlags(argv: readonly string[], options: FlagOptions, positionals: number): string[] {
  const { tokens } = parseArgs({
    args: [...argv],
    options,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const known = Object.keys(options);
  const shorts = new Set(Object.values(options).flatMap((o) => (o.short ? [o.short] : [])));
  let seen = 0;
  const normalized: string[] = [];
  for (const token of tokens) {
    if (token.kind === 'option-terminator') {
      normalized.push('--');
      continue;
    }
    if (token.kind === 'positional') {
      normalized.push(token.value);
      seen++;
      if (seen > positionals) {
        throw new UsageError(
          positionals === 0
            ? `unexpected argument "${token.value}" (this command takes flags only)`
            : `unexpected argument "${token.value}"`,
        );
      }
      continue;
    }
    const spec = options[token.name];
    if (!spec) {
      const guess = token.rawName.startsWith('--') ? suggestFlag(token.name, known) : undefined;
      throw new UsageError(`unknown flag ${token.rawName}${guess ? ` (did you mean --${guess}?)` : ''}`);
    }
    if (spec.type === 'string') {
      // Without strict, parseArgs takes the next word as the value even when it is another flag.
      const value = token.value;
      const flagTaken =
        value !== undefined &&
        !token.inlineValue &&
        ((value.startsWith('--') && value.length > 2) ||
          (/^-[A-Za-z]$/.test(value) && shorts.has(value.slice(1))));
      if (value === undefined || flagTaken)
        throw new UsageError(`${spell(token.name, options)} needs a value`);
      normalized.push(`--${token.name}=${value}`);
    } else if (token.inlineValue) {
      throw new UsageError(
        `${spell(token.name, options)} takes no value (got "${token.rawName}=${token.value}")`,
      );
    } else {
      normalized.push(`--${token.name}`);
    }
  }
  return normalized;
}

/**
 * Parses a command line: checks it with `checkFlags` (Vigil's words for every problem), then returns
 * node:util parseArgs' typed values and positionals.
 *
 * @example
 *   const { values, positionals } = parseFlags(argv, { until: { type: 'string', default: 'complete' } }, 1);
 */
export function parseFlags<const O extends FlagOptions>(
  argv: readonly string[],
  options: O,
  positionals = 0,
) {
  const args = checkFlags(argv, options, positionals);
  return parseArgs({ args, options, strict: true, allowPositionals: true });
}

/** `--service S`, for the commands that act on one service of the config (a fleet's, or its only one). */
export const SERVICE_FLAG = { service: { type: 'string' } } as const satisfies FlagOptions;

/**
 * The service a one-service command acts on: the named one, or the config's only one. A fleet needs
 * `--service`; an unknown name is refused with the known ones (a typo must not run another service).
 *
 * @example selectService(config, 'prep-worker').root.target.baseUrl // 'http://127.0.0.1:8081'
 */
export function selectService(config: VigilConfig, name: string | undefined): ServiceConfig {
  const services = servicesOf(config);
  const known = services.map((service) => service.root.service).join(', ');
  if (name === undefined) {
    const only = services.length === 1 ? services[0] : undefined;
    if (only !== undefined) return only;
    throw new UsageError(
      `the config watches ${services.length} services: choose one with --service (${known})`,
    );
  }
  const named = services.find((service) => service.root.service === name);
  if (named === undefined) throw new UsageError(`no service named "${name}" (services: ${known})`);
  return named;
}
