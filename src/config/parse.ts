import type { z } from 'zod';
import { restoreString, type TypedScalar } from './interpolate.js';
import { addZodIssues, type PathSegment, type ProblemList } from './problems.js';

function startsWith(path: readonly PathSegment[], prefix: readonly PropertyKey[]): boolean {
  return prefix.every((segment, index) => path[index] === segment);
}

function samePath(a: readonly PropertyKey[], b: readonly PropertyKey[]): boolean {
  return a.length === b.length && startsWith(a as PathSegment[], b);
}

/** Paths (relative to the parsed value) where the schema wanted a string and got something else. */
function stringWanted(
  issues: readonly z.core.$ZodIssue[],
  base: readonly PropertyKey[] = [],
): PropertyKey[][] {
  const paths: PropertyKey[][] = [];
  for (const issue of issues) {
    const path = [...base, ...issue.path];
    if (issue.code === 'invalid_type' && issue.expected === 'string') paths.push(path);
    if (issue.code === 'invalid_union')
      for (const branch of issue.errors) paths.push(...stringWanted(branch, path));
  }
  return paths;
}

/**
 * Validates `value` (found at `base` in `file`) with `schema`, recording every issue as a problem. Scalars
 * that interpolation typed as numbers or booleans are turned back into their text where the schema wants a
 * string, so `apiToken: ${TOKEN}` with an all-digit token stays a string.
 *
 * @example const probe = parseValue(probeSchema, raw, { file, base: [0], typed, problems });
 */
export function parseValue<T extends z.ZodType>(
  schema: T,
  value: unknown,
  where: {
    file: string;
    base: readonly PathSegment[];
    typed: readonly TypedScalar[];
    problems: ProblemList;
  },
): z.output<T> | undefined {
  const candidates = where.typed.filter((scalar) => startsWith(scalar.path, where.base));
  let current = value;
  for (;;) {
    const result = schema.safeParse(current, { reportInput: true });
    if (result.success) return result.data;
    const wanted = stringWanted(result.error.issues);
    const restore = candidates.filter((scalar) =>
      wanted.some((path) => samePath(path, scalar.path.slice(where.base.length))),
    );
    if (restore.length === 0) {
      addZodIssues(where.problems, where.file, where.base, result.error.issues, schema);
      return undefined;
    }
    current = structuredClone(current);
    for (const scalar of restore) {
      restoreString(
        { root: current },
        { path: ['root', ...scalar.path.slice(where.base.length)], text: scalar.text },
      );
      candidates.splice(candidates.indexOf(scalar), 1);
    }
  }
}
