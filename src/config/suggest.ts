import type { z } from 'zod';

/*
 * "did you mean `objective`?" for unknown keys: the known keys of the object at the problem's place, read
 * from the zod schema itself (so a new field is suggested without a list to keep in step), ranked by edit
 * distance. Only close matches are offered: a wrong suggestion is worse than none.
 */

/**
 * Optimal string alignment distance: Levenshtein plus one transposition (`objetcive` is 1 away). The one
 * "did you mean" distance: config keys here, CLI flags in src/cli/args.ts.
 *
 * @example editDistance('untill', 'until') // 1
 */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) =>
    Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const row = d[i] as number[];
      const above = d[i - 1] as number[];
      row[j] = Math.min(
        (above[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (above[j - 1] as number) + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        row[j] = Math.min(row[j] as number, ((d[i - 2] as number[])[j - 2] as number) + 1);
    }
  }
  return (d[rows - 1] as number[])[cols - 1] as number;
}

/**
 * The known word closest to `given`, when it is close enough to be a typo: same letters in another case,
 * or at most 2 edits (1 for words of 4 letters or fewer).
 *
 * @example closestWord('objectve', ['name', 'objective', 'warn']) // 'objective'
 * @example closestWord('colour', ['name', 'objective']) // undefined
 */
export function closestWord(given: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  const lower = given.toLowerCase();
  for (const word of known) {
    const distance = word.toLowerCase() === lower ? 0.5 : editDistance(lower, word.toLowerCase());
    if (distance < bestDistance) {
      best = word;
      bestDistance = distance;
    }
  }
  const allowed = given.length <= 4 ? 1 : 2;
  return bestDistance <= allowed ? best : undefined;
}

type AnySchema = z.core.$ZodType;

/** The schemas an object at this place may be (several behind a union), with wrappers taken off. */
function unwrap(schema: AnySchema, depth = 0): AnySchema[] {
  if (depth > 20) return [];
  const def = schema._zod.def as z.core.$ZodTypeDef & {
    innerType?: AnySchema;
    in?: AnySchema;
    options?: AnySchema[];
    getter?: () => AnySchema;
  };
  switch (def.type) {
    case 'optional':
    case 'default':
    case 'prefault':
    case 'nullable':
    case 'readonly':
    case 'catch':
    case 'nonoptional':
      return def.innerType ? unwrap(def.innerType, depth + 1) : [];
    case 'pipe':
      return def.in ? unwrap(def.in, depth + 1) : [];
    case 'lazy':
      return def.getter ? unwrap(def.getter(), depth + 1) : [];
    case 'union':
      return (def.options ?? []).flatMap((option) => unwrap(option, depth + 1));
    default:
      return [schema];
  }
}

/** The schemas found at `path` inside `schema` (list indexes and record keys step into their items). */
function schemasAt(schema: AnySchema, path: readonly PropertyKey[]): AnySchema[] {
  let current = unwrap(schema);
  for (const segment of path) {
    const next: AnySchema[] = [];
    for (const candidate of current) {
      const def = candidate._zod.def as z.core.$ZodTypeDef & {
        shape?: Record<string, AnySchema>;
        element?: AnySchema;
        valueType?: AnySchema;
      };
      if (def.type === 'object' && typeof segment === 'string' && def.shape?.[segment])
        next.push(...unwrap(def.shape[segment]));
      else if (def.type === 'array' && typeof segment === 'number' && def.element)
        next.push(...unwrap(def.element));
      else if (def.type === 'record' && def.valueType) next.push(...unwrap(def.valueType));
    }
    current = next;
  }
  return current;
}

/**
 * The keys an object at `path` inside `schema` accepts (every branch of a union), for suggestions.
 *
 * @example knownKeys(sloSchema, ['baseline']) // ['from', 'offset', 'count', …]
 */
export function knownKeys(schema: AnySchema, path: readonly PropertyKey[]): string[] {
  const keys = new Set<string>();
  for (const candidate of schemasAt(schema, path)) {
    const def = candidate._zod.def as z.core.$ZodTypeDef & { shape?: Record<string, AnySchema> };
    if (def.type === 'object') for (const key of Object.keys(def.shape ?? {})) keys.add(key);
  }
  return [...keys];
}
