import { lintLogQuery } from '../patterns/query.js';
import { interpolate, type TypedScalar } from './interpolate.js';
import { convertOpenSlo, isOpenSloDocument } from './openslo.js';
import { parseValue } from './parse.js';
import type { PathSegment, ProblemList } from './problems.js';
import { lintQuery } from './query.js';
import { type ProbeConfig, probeSchema, type SloConfig, sloSchema } from './schema.js';
import { readYamlDocuments } from './yaml-file.js';

/*
 * Definition files: each is one YAML list (probes/*.yaml, slo/*.yaml). Items are validated one by one so a
 * bad item does not hide the good ones, and the names of invalid items still count for duplicate and
 * reference checks (no cascade of "unknown probe" after a typo elsewhere in that probe).
 * An SLO file may instead hold OpenSLO documents (`apiVersion: openslo/v1`, usually several `---`
 * separated); it is then treated as the list of its documents, so `[2]` is the third document.
 */

/** A loaded value with where it came from, for problems found later (duplicates, references). */
export interface Located<T> {
  readonly file: string;
  readonly path: readonly PathSegment[];
  readonly value: T;
}

export type DefinitionKind = 'probe' | 'slo';

export interface DefinitionFile {
  probes: Located<ProbeConfig>[];
  slos: Located<SloConfig>[];
  /** Every item's `name` that was a string, valid item or not. */
  names: Located<string>[];
}

type Env = Readonly<Record<string, string | undefined>>;

function rawName(item: unknown): string | undefined {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) return undefined;
  const name = (item as { name?: unknown }).name;
  return typeof name === 'string' ? name : undefined;
}

/**
 * Checks the queries of an SLO item even when the item is otherwise invalid, so a query typo is reported in
 * the same run as, say, a bad objective in the same check.
 */
function lintRawQueries(
  item: unknown,
  file: string,
  at: readonly PathSegment[],
  problems: ProblemList,
): void {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) return;
  const check = item as Record<string, unknown>;
  if (check.source !== 'prometheus' && check.source !== 'loki') return;
  for (const field of ['query', 'good', 'bad', 'total']) {
    const template = check[field];
    if (typeof template !== 'string') continue;
    for (const message of lintQuery(check.source, template)) problems.add(file, [...at, field], message);
  }
  const patterns = check.patterns as { query?: unknown } | undefined;
  if (check.source === 'loki' && typeof patterns?.query === 'string') {
    for (const message of lintLogQuery(patterns.query))
      problems.add(file, [...at, 'patterns', 'query'], message);
  }
}

/**
 * Problems inside an item are shown under its name (`error-rate.objective`) rather than its index, which
 * nobody counts; an item without a name, or whose name its file uses twice, keeps its index.
 */
function labelItems(
  items: readonly { value: unknown; path: PathSegment[] }[],
  file: string,
  problems: ProblemList,
) {
  const count = new Map<string, number>();
  for (const item of items) {
    const name = rawName(item.value);
    if (name !== undefined) count.set(name, (count.get(name) ?? 0) + 1);
  }
  for (const item of items) {
    const name = rawName(item.value);
    if (name !== undefined && name !== '' && count.get(name) === 1) problems.label(file, item.path, name);
  }
}

/** Interpolates one document found at `at` in the file, recording unresolved references as problems. */
function interpolated(document: unknown, at: PathSegment[], env: Env, file: string, problems: ProblemList) {
  const result = interpolate(document, env);
  const located = (path: PathSegment[]) => [...at, ...path];
  for (const problem of result.problems) problems.add(file, located(problem.path), problem.message);
  for (const problem of result.problems) problems.quiet(file, located(problem.path));
  return {
    value: result.value,
    typed: result.typed.map((scalar) => ({ ...scalar, path: located(scalar.path) })),
  };
}

/**
 * Loads one probe or SLO definition file; problems are recorded, never thrown.
 *
 * @example const { probes } = await loadDefinitionFile('probe', '/srv/probes/prep.yaml', 'probes/prep.yaml', env, problems);
 */
export async function loadDefinitionFile(
  kind: DefinitionKind,
  absolutePath: string,
  file: string,
  env: Env,
  problems: ProblemList,
): Promise<DefinitionFile> {
  const out: DefinitionFile = { probes: [], slos: [], names: [] };
  const documents = await readYamlDocuments(absolutePath, file, problems);
  if (documents === undefined) return out;

  let items: { value: unknown; path: PathSegment[] }[];
  let typed: TypedScalar[] = [];
  if (kind === 'slo' && documents.every(isOpenSloDocument)) {
    const values = documents.map((document, index) => interpolated(document, [index], env, file, problems));
    typed = values.flatMap((result) => result.typed);
    const converted = convertOpenSlo(values.map((result) => result.value));
    for (const problem of converted.problems) problems.add(file, problem.path, problem.message);
    items = converted.checks;
  } else {
    if (documents.length > 1) {
      problems.add(file, [], `a ${kind} file holds one YAML document (a list), found ${documents.length}`);
      return out;
    }
    const result = interpolated(documents[0], [], env, file, problems);
    if (!Array.isArray(result.value)) {
      const what =
        kind === 'probe' ? 'probes' : 'SLO checks (or OpenSLO documents with apiVersion: openslo/v1)';
      problems.add(file, [], `expected a list of ${what}`);
      return out;
    }
    typed = result.typed;
    items = result.value.map((value, index) => ({ value, path: [index] }));
  }

  labelItems(items, file, problems);
  for (const item of items) {
    const name = rawName(item.value);
    if (name !== undefined) out.names.push({ file, path: [...item.path, 'name'], value: name });
    if (kind === 'slo') lintRawQueries(item.value, file, item.path, problems);
    const where = { file, base: item.path, typed, problems };
    if (kind === 'probe') {
      const probe = parseValue(probeSchema, item.value, where);
      if (probe !== undefined) out.probes.push({ file, path: item.path, value: probe });
    } else {
      const slo = parseValue(sloSchema, item.value, where);
      if (slo !== undefined) out.slos.push({ file, path: item.path, value: slo });
    }
  }
  return out;
}
