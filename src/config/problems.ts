import type { z } from 'zod';
import type { ConfigProblem } from '../errors.js';
import { closestWord, knownKeys } from './suggest.js';

/*
 * How problems are located: `<file>:<path>: <message>`.
 *   - file: as the user gave it for the root file; definition files are shown relative to the root file's
 *     folder as given (so `vigil validate -c deploy/vigil.yaml` prints `deploy/probes/prep.yaml`).
 *   - path: object keys joined with dots, list indexes in brackets: `watch.duration`,
 *     `[1].steps[0].request.path`, `loadtests.profiles.smoke.script`. A key that is not a plain word
 *     is quoted: `headers["x.y"]`. The path is empty (`vigil.yaml:: …`) when the problem is the whole file
 *     (empty file, YAML syntax error, file not readable).
 *   - an item of a definition file is named by its `name` rather than its index once the loader has
 *     labelled it (`slo/prep.yaml:error-rate.objective`, `probes/prep.yaml:health.expect[0]`); an item with
 *     no usable name, or a name used twice in its file, keeps its index (`[2].kind`).
 */

/** One step into a parsed document: an object key or a list index. */
export type PathSegment = string | number;

const PLAIN_KEY = /^[A-Za-z0-9_$-]+$/;

/**
 * Formats a path the way problems print it.
 *
 * @example formatPath([1, 'steps', 0, 'request', 'path']) // '[1].steps[0].request.path'
 */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (typeof segment === 'string' && PLAIN_KEY.test(segment))
      out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(String(segment))}]`;
  }
  return out;
}

/** Collects the problems of a whole load, across files. The same problem added twice is kept once. */
export class ProblemList {
  readonly problems: ConfigProblem[] = [];
  readonly #quiet = new Set<string>();
  readonly #seen = new Set<string>();
  /** `file\0formatted index path` → the item's name, shared with lists made by `derive`. */
  readonly #labels: Map<string, string>;

  constructor(labels: Map<string, string> = new Map()) {
    this.#labels = labels;
  }

  /** A new, empty list (for warnings) that names items as this one does. */
  derive(): ProblemList {
    return new ProblemList(this.#labels);
  }

  /**
   * Names the item at `at` (a list index in `file`) by `name` in every problem under it.
   *
   * @example problems.label('slo/prep.yaml', [0], 'error-rate') // later: slo/prep.yaml:error-rate.objective
   */
  label(file: string, at: readonly PropertyKey[], name: string): void {
    this.#labels.set(`${file}\0${formatPath(at)}`, name);
  }

  /** The path as problems print it, with labelled items named. */
  format(file: string, path: readonly PropertyKey[]): string {
    for (let length = path.length; length > 0; length--) {
      const name = this.#labels.get(`${file}\0${formatPath(path.slice(0, length))}`);
      if (name !== undefined) return formatPath([name, ...path.slice(length)]);
    }
    return formatPath(path);
  }

  /** `<file>:<path>` of a place, as problems print it (for messages pointing at another place). */
  where(file: string, path: readonly PropertyKey[]): string {
    return `${file}:${this.format(file, path)}`;
  }

  /** Records a problem at `path` (segments) inside `file`, unless that place has been quieted. */
  add(file: string, path: readonly PropertyKey[], message: string): void {
    if (this.#quiet.has(`${file}\0${formatPath(path)}`)) return;
    const formatted = this.format(file, path);
    const key = `${file}\0${formatted}\0${message}`;
    if (this.#seen.has(key)) return;
    this.#seen.add(key);
    this.problems.push({ file, path: formatted, message });
  }

  /**
   * Drops later problems at this place: after "environment variable X is not set", the leftover `${X}` text
   * would otherwise also be reported as a bad URL, a short secret, and so on.
   */
  quiet(file: string, path: readonly PropertyKey[]): void {
    this.#quiet.add(`${file}\0${formatPath(path)}`);
  }

  get size(): number {
    return this.problems.length;
  }
}

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  object: 'a mapping',
  array: 'a list',
  record: 'a mapping',
};

function describeInput(input: unknown): string {
  if (input === null) return 'null';
  if (Array.isArray(input)) return 'a list';
  if (typeof input === 'object') return 'a mapping';
  if (typeof input === 'string') return 'a string';
  if (typeof input === 'number') return Number.isInteger(input) ? 'an integer' : 'a number';
  return typeof input;
}

/** Index of the union branch that got furthest: its issues are not type mismatches at the union itself. */
function bestBranch(
  branches: readonly (readonly z.core.$ZodIssue[])[],
): readonly z.core.$ZodIssue[] | undefined {
  const shallow = (issue: z.core.$ZodIssue) =>
    issue.path.length === 0 && (issue.code === 'invalid_type' || issue.code === 'invalid_value');
  return branches.find((issues) => issues.length > 0 && !issues.some(shallow));
}

function sizeMessage(issue: z.core.$ZodIssueTooSmall | z.core.$ZodIssueTooBig): string {
  const small = issue.code === 'too_small';
  const bound = Number(
    small ? (issue as z.core.$ZodIssueTooSmall).minimum : (issue as z.core.$ZodIssueTooBig).maximum,
  );
  const strict = issue.inclusive === false;
  if (issue.origin === 'array' || issue.origin === 'set') {
    if (small && bound === 1) return 'must not be empty';
    return `needs ${small ? 'at least' : 'at most'} ${bound} item${bound === 1 ? '' : 's'}`;
  }
  if (issue.origin === 'string') {
    if (small && bound === 1) return 'must not be empty';
    return `must be ${small ? 'at least' : 'at most'} ${bound} characters long`;
  }
  const op = small ? (strict ? '>' : '>=') : strict ? '<' : '<=';
  return `must be ${op} ${bound}`;
}

/** "unknown key", with the closest key the object does take when the unknown one looks like a typo of it. */
function unknownKeyMessage(key: string, known: readonly string[]): string {
  const suggestion = closestWord(key, known);
  return suggestion === undefined ? 'unknown key' : `unknown key; did you mean \`${suggestion}\`?`;
}

/**
 * Turns zod issues into located problems with messages written for people. Values of strings are not
 * echoed back (they may be interpolated secrets); only their type is named. Given the `schema` the issues
 * came from, an unknown key is answered with the closest known key of that object.
 *
 * @example addZodIssues(list, 'vigil.yaml', [], result.error.issues, rootConfigSchema)
 */
export function addZodIssues(
  list: ProblemList,
  file: string,
  base: readonly PropertyKey[],
  issues: readonly z.core.$ZodIssue[],
  schema?: z.core.$ZodType,
): void {
  addIssues(list, file, base, [], issues, schema);
}

function addIssues(
  list: ProblemList,
  file: string,
  base: readonly PropertyKey[],
  within: readonly PropertyKey[],
  issues: readonly z.core.$ZodIssue[],
  schema: z.core.$ZodType | undefined,
): void {
  for (const issue of issues) {
    const path = [...base, ...within, ...issue.path];
    switch (issue.code) {
      case 'unrecognized_keys': {
        const known = schema === undefined ? [] : knownKeys(schema, [...within, ...issue.path]);
        for (const key of issue.keys) list.add(file, [...path, key], unknownKeyMessage(key, known));
        break;
      }
      case 'invalid_type': {
        const input = (issue as { input?: unknown }).input;
        if (input === undefined) list.add(file, path, 'is required');
        else {
          const want = TYPE_NAMES[issue.expected] ?? issue.expected;
          list.add(file, path, `expected ${want}, got ${describeInput(input)}`);
        }
        break;
      }
      case 'invalid_value':
        list.add(
          file,
          path,
          issue.values.length === 1
            ? `expected ${JSON.stringify(issue.values[0])}`
            : `expected one of ${issue.values.map((v) => String(v)).join(', ')}`,
        );
        break;
      case 'invalid_union': {
        const discriminated = issue as z.core.$ZodIssueInvalidUnion & {
          discriminator?: string;
          options?: unknown[];
        };
        if (discriminated.discriminator !== undefined) {
          const options = (discriminated.options ?? []).map(String).join(' or ');
          const input = (issue as { input?: unknown }).input;
          const present =
            typeof input === 'object' && input !== null && discriminated.discriminator in (input as object);
          list.add(file, path, present ? `expected ${options}` : `is required (${options})`);
          break;
        }
        const best = bestBranch(issue.errors);
        if (best) addIssues(list, file, base, [...within, ...issue.path], best, schema);
        else list.add(file, path, unionTypeMessage(issue.errors, (issue as { input?: unknown }).input));
        break;
      }
      case 'too_small':
      case 'too_big':
        list.add(file, path, sizeMessage(issue));
        break;
      case 'not_multiple_of':
        list.add(file, path, `must be a multiple of ${issue.divisor}`);
        break;
      case 'invalid_key':
        list.add(file, path, `invalid key: ${issue.issues.map((i) => i.message).join('; ')}`);
        break;
      default:
        list.add(file, path, issue.message);
    }
  }
}

function unionTypeMessage(branches: readonly (readonly z.core.$ZodIssue[])[], input: unknown): string {
  const wanted = new Set<string>();
  for (const issues of branches) {
    for (const issue of issues) {
      if (issue.code === 'invalid_type') wanted.add(TYPE_NAMES[issue.expected] ?? issue.expected);
      if (issue.code === 'invalid_value') for (const v of issue.values) wanted.add(JSON.stringify(v));
    }
  }
  return `expected ${[...wanted].join(' or ')}, got ${describeInput(input)}`;
}
