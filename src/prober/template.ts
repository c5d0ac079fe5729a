import { VigilError } from '../errors.js';

/** Values carried between the steps of a journey. */
export type Variables = Readonly<Record<string, unknown>>;

const VARIABLE_RE = /\{\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}/g;
const WHOLE_RE = /^\{\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}$/;

/** A template named a variable no earlier step extracted (failure class `extract`). */
export class MissingVariableError extends VigilError {
  readonly variable: string;

  constructor(variable: string, message: string) {
    super('PROBE_VARIABLE_MISSING', message);
    this.name = 'MissingVariableError';
    this.variable = variable;
  }
}

/**
 * An extracted value that would change where a request goes: a whole path segment `.` or `..` (URL
 * parsers resolve it, even percent-encoded as `%2e`), or a URL whose origin is no longer the target's.
 * Reported like a missing value (failure class `extract`): the journey cannot go on with it.
 */
export class UnsafeVariableError extends VigilError {
  constructor(message: string) {
    super('PROBE_VARIABLE_UNSAFE', message);
    this.name = 'UnsafeVariableError';
  }
}

function lookup(name: string, vars: Variables): unknown {
  if (name.startsWith('env.')) {
    // Secrets enter through ${VAR} at load, where they are validated and redacted; never at run time.
    throw new MissingVariableError(
      name,
      `{{${name}}} is not available at run time: write \${${name.slice(4)}} so the loader fills it in`,
    );
  }
  const value = vars[name];
  if (value === undefined || value === null) {
    throw new MissingVariableError(name, `variable ${name} is not set (no earlier step extracted it)`);
  }
  return value;
}

function asText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/**
 * Replaces every `{{name}}` in `text`; throws MissingVariableError for an unknown name.
 *
 * @example renderString('/api/bookings/{{bookingId}}', { bookingId: 'b-7' }) // '/api/bookings/b-7'
 */
export function renderString(text: string, vars: Variables): string {
  if (!text.includes('{{')) return text;
  return text.replace(VARIABLE_RE, (_, name: string) => asText(lookup(name, vars)));
}

/**
 * Renders a request path or URL: every value is percent-encoded with encodeURIComponent, so an extracted
 * `../../users/1`, `@evil.example` or `//evil.example` stays data inside one segment and can add no `/`,
 * `?`, `#`, `@` or `:`. A value that is exactly `.` or `..` is refused (UnsafeVariableError): WHATWG URL
 * parsing resolves such a segment even when percent-encoded, so no encoding keeps it in place.
 *
 * @example renderUrlPart('/api/bookings/{{id}}', { id: '../../users/1' }) // '/api/bookings/..%2F..%2Fusers%2F1'
 */
export function renderUrlPart(text: string, vars: Variables): string {
  if (!text.includes('{{')) return text;
  return text.replace(VARIABLE_RE, (_, name: string) => {
    const value = asText(lookup(name, vars));
    if (value === '.' || value === '..') {
      throw new UnsafeVariableError(
        `variable ${name} is "${value}", which would move the request up the path`,
      );
    }
    return encodeURIComponent(value);
  });
}

/**
 * Renders templates through a JSON value. A string that is exactly one `{{name}}` becomes the variable's
 * own value, so a number extracted in one step stays a number in the next step's JSON body.
 *
 * @example renderValue({ id: '{{n}}', note: 'n={{n}}' }, { n: 7 }) // { id: 7, note: 'n=7' }
 */
export function renderValue(value: unknown, vars: Variables): unknown {
  if (typeof value === 'string') {
    const whole = WHOLE_RE.exec(value);
    return whole ? lookup(whole[1] as string, vars) : renderString(value, vars);
  }
  if (Array.isArray(value)) return value.map((item) => renderValue(item, vars));
  if (typeof value === 'object' && value !== null && !(value instanceof RegExp)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, renderValue(v, vars)]));
  }
  return value;
}

/**
 * Names of the variables a value's templates use.
 *
 * @example templateVariables({ path: '/b/{{id}}' }) // ['id']
 */
export function templateVariables(value: unknown): string[] {
  const text = JSON.stringify(value) ?? '';
  return [...new Set([...text.matchAll(VARIABLE_RE)].map((m) => m[1] as string))];
}
