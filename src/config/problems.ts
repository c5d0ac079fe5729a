import type { z } from 'zod';
import type { ConfigProblem } from '../errors.js';

/*
 * How problems are located: `<file>:<path>: <message>`.
 *   - file: as the user gave it for the root file; definition files are shown relative to the root file's
 *     folder as given (so `vigil validate -c deploy/vigil.yaml` prints `deploy/probes/prep.yaml`).
 *   - path: object keys joined with dots, list indexes in brackets: `watch.duration`,
 *     `[1].steps[0].request.path`, `loadtests.profiles.smoke.script`. A key that is not a plain word
 *     is quoted: `headers["x.y"]`. The path is empty (`vigil.yaml:: …`) when the problem is the whole file
 *     (empty file, YAML syntax error, file not readable).
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

/** Collects the problems of a whole load, across files. */
export class ProblemList {
  readonly problems: ConfigProblem[] = [];
  readonly #quiet = new Set<string>();

  /** Records a problem at `path` (segments) inside `file`, unless that place has been quieted. */
  add(file: string, path: readonly PropertyKey[], message: string): void {
    const formatted = formatPath(path);
    if (this.#quiet.has(`${file}\0${formatted}`)) return;
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

/**
 * Turns zod issues into located problems with messages written for people. Values of strings are not
 * echoed back (they may be interpolated secrets); only their type is named.
 *
 * @example addZodIssues(list, 'vigil.yaml', [], result.error.issues)
 */
export function addZodIssues(
  list: ProblemList,
  file: string,
  base: readonly PropertyKey[],
  issues: readonly z.core.$ZodIssue[],
): void {
  for (const issue of issues) {
    const path = [...base, ...issue.path];
    switch (issue.code) {
      case 'unrecognized_keys':
        for (const key of issue.keys) list.add(file, [...path, key], 'unknown key');
        break;
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
        if (best) addZodIssues(list, file, path, best);
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
