import type { PathSegment } from './problems.js';

/*
 * `${VAR}` / `${VAR:-default}` interpolation, applied to string scalars after YAML parsing, so a value
 * full of YAML-special characters (`#`, `: `, quotes) can never change the document's structure.
 *
 *   ${VAR}            the value of VAR; a problem when VAR is unset (set-but-empty is a value: "")
 *   ${VAR:-default}   VAR when set and non-empty, else `default` (as in POSIX shells); `${VAR:-}` is ""
 *   ${VAR-default}    VAR when set, even empty, else `default` (POSIX): `VIGIL_LOKI_URL=` then means
 *                     "empty, so off", where `:-` would put the default back
 *   $${               a literal "${"
 *
 * When a whole scalar is one `${…}` and its result reads as a number or boolean literal, the scalar takes
 * that type (`vus: ${VUS:-2}` gives the number 2). The loader turns it back into the original string where
 * the schema wants a string (an all-digit token stays a string), see `typed` below.
 */

type Env = Readonly<Record<string, string | undefined>>;

/** A problem found while interpolating, at a path inside the document. */
export interface InterpolationProblem {
  path: PathSegment[];
  message: string;
}

/** A scalar that interpolation turned into a number or boolean, with the string it came from. */
export interface TypedScalar {
  path: PathSegment[];
  text: string;
}

export interface InterpolationResult {
  value: unknown;
  problems: InterpolationProblem[];
  typed: TypedScalar[];
  /**
   * String scalars whose every character came from environment variables (no text of the file, no default
   * used): where a secret may be, since the committed file does not hold it.
   */
  fromEnv: PathSegment[][];
}

const TOKEN = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}|\$\{[^}]*\}?/g;
const WHOLE = /^\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-[^}]*)?\}$/;
const NUMBER_LITERAL = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?$/;

/**
 * Interpolates one string; returns the text and the messages of any unresolved reference.
 *
 * @example interpolateString('${HOST:-localhost}:9090', {}) // { text: 'localhost:9090', problems: [], written: true }
 */
export function interpolateString(
  input: string,
  env: Env,
): { text: string; problems: string[]; written: boolean } {
  const problems: string[] = [];
  // Whether any of the result is text of the file itself: outside the references, or a default used.
  let written = input.replace(TOKEN, (token) => (token === '$${' ? token : '')) !== '';
  const text = input.replace(
    TOKEN,
    (token, name: string | undefined, operator: string | undefined, fallback: string | undefined) => {
      if (token === '$${') return '${';
      if (name === undefined) {
        problems.push(
          `invalid variable reference "${token}": use \${NAME}, \${NAME:-default} or \${NAME-default}`,
        );
        return token;
      }
      const value = env[name];
      if (fallback !== undefined) {
        const unsetOrEmpty = value === undefined || (operator === ':-' && value === '');
        if (unsetOrEmpty && fallback !== '') written = true;
        return unsetOrEmpty ? fallback : value;
      }
      if (value === undefined) {
        problems.push(`environment variable ${name} is not set and has no default`);
        return token;
      }
      return value;
    },
  );
  return { text, problems, written };
}

function typedValue(text: string): number | boolean | undefined {
  if (text === 'true') return true;
  if (text === 'false') return false;
  if (NUMBER_LITERAL.test(text)) return Number(text);
  return undefined;
}

/**
 * Replaces every `${…}` reference in the string scalars of a parsed YAML document. Keys are left alone.
 * Every unresolved reference is reported with its path; the document is returned either way.
 *
 * @example
 *   interpolate({ loadtests: { profiles: { smoke: { vus: '${VUS:-2}' } } } }, {}).value
 *   // { loadtests: { profiles: { smoke: { vus: 2 } } } }
 */
export function interpolate(document: unknown, env: Env): InterpolationResult {
  const problems: InterpolationProblem[] = [];
  const typed: TypedScalar[] = [];
  const fromEnv: PathSegment[][] = [];
  const walk = (node: unknown, path: PathSegment[]): unknown => {
    if (typeof node === 'string') {
      if (!node.includes('${')) return node;
      const result = interpolateString(node, env);
      for (const message of result.problems) problems.push({ path, message });
      if (!result.written && result.problems.length === 0) fromEnv.push(path);
      if (result.problems.length === 0 && WHOLE.test(node)) {
        const value = typedValue(result.text);
        if (value !== undefined) {
          typed.push({ path, text: result.text });
          return value;
        }
      }
      return result.text;
    }
    if (Array.isArray(node)) return node.map((item, index) => walk(item, [...path, index]));
    if (typeof node === 'object' && node !== null) {
      const out: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(node)) out[key] = walk(value, [...path, key]);
      return out;
    }
    return node;
  };
  return { value: walk(document, []), problems, typed, fromEnv };
}

/**
 * Puts a typed scalar back to its original string at `path` (mutating `document`), for fields whose
 * schema wants a string. Returns false when nothing was at that path.
 *
 * @example restoreString(doc, { path: ['server', 'apiToken'], text: '12345' })
 */
export function restoreString(document: unknown, scalar: TypedScalar): boolean {
  let node: unknown = document;
  const parents = scalar.path.slice(0, -1);
  for (const segment of parents) {
    if (typeof node !== 'object' || node === null) return false;
    node = (node as Record<PathSegment, unknown>)[segment];
  }
  const last = scalar.path.at(-1);
  if (last === undefined || typeof node !== 'object' || node === null) return false;
  (node as Record<PathSegment, unknown>)[last] = scalar.text;
  return true;
}
