import path from 'node:path';
import { glob } from 'tinyglobby';
import { ConfigError, type ConfigProblem } from '../errors.js';
import { type Located, loadDefinitionFile } from './definitions.js';
import { interpolate } from './interpolate.js';
import { parseValue } from './parse.js';
import { type PathSegment, ProblemList } from './problems.js';
import {
  type ProbeConfig,
  type RootConfig,
  rootConfigSchema,
  type SloConfig,
  type VigilConfig,
} from './schema.js';
import { literalSecretWarnings } from './secrets.js';
import { absentSourceWarnings, checkSemantics, ratioQueryWarnings } from './semantic.js';
import { readYamlDocuments } from './yaml-file.js';

export { lintQuery, renderQuery } from './query.js';

/*
 * Loading, in order: read the root YAML → interpolate ${VAR} → validate with the strict schema → expand the
 * probes/slos globs (relative to the root file's folder) → load each definition file → cross-file checks.
 * Every problem from every file is collected, then thrown once as a ConfigError.
 *
 * Paths in the loaded config are absolute, resolved against the root file's folder (not the cwd), so the
 * daemon behaves the same whatever folder it is started from: storage.path (except `:memory:`),
 * loadtests.profiles.*.script, loadtests.k6 when it contains a slash (a bare `k6` is looked up on PATH),
 * and probes' tls.caFile.
 */

type Env = Readonly<Record<string, string | undefined>>;

/** Freezes plain objects and arrays all the way down; RegExp and other instances are left as they are. */
function deepFreeze<T>(value: T): T {
  if (Array.isArray(value)) {
    for (const item of value) deepFreeze(item);
    return Object.freeze(value);
  }
  if (typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype) {
    for (const item of Object.values(value)) deepFreeze(item);
    return Object.freeze(value);
  }
  return value;
}

function resolvePaths(root: RootConfig, probes: readonly Located<ProbeConfig>[], rootDir: string): void {
  if (root.storage.path !== ':memory:') root.storage.path = path.resolve(rootDir, root.storage.path);
  if (root.loadtests !== undefined) {
    if (/[\\/]/.test(root.loadtests.k6)) root.loadtests.k6 = path.resolve(rootDir, root.loadtests.k6);
    for (const profile of Object.values(root.loadtests.profiles))
      profile.script = path.resolve(rootDir, profile.script);
  }
  for (const { value: probe } of probes) {
    if (probe.tls?.caFile !== undefined) probe.tls.caFile = path.resolve(rootDir, probe.tls.caFile);
  }
}

/**
 * The top-level sections of an invalid root document that are valid on their own, so definition files and
 * cross-file checks still run and one `vigil validate` shows every problem, not only the root file's.
 */
function validSections(raw: unknown, invalid: Set<string>): Partial<RootConfig> | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const sections: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(rootConfigSchema.shape)) {
    const result = schema.safeParse((raw as Record<string, unknown>)[key]);
    if (result.success) sections[key] = result.data;
    else invalid.add(key);
  }
  return sections as Partial<RootConfig>;
}

/** Characters that make an entry a glob rather than one file's name. */
const GLOB_SYNTAX = /[*?[\]{}!()]/;

/**
 * Expands one list of globs; a pattern that matches nothing is a problem at its place in the root file,
 * and a plain file name that matches nothing says which file is missing, as the user would look for it.
 */
async function expandGlobs(
  key: 'probes' | 'slos',
  patterns: readonly string[],
  rootFile: string,
  rootDir: string,
  problems: ProblemList,
): Promise<string[]> {
  const files: string[] = [];
  for (const [index, pattern] of patterns.entries()) {
    const matches = await glob(pattern, {
      cwd: rootDir,
      absolute: true,
      onlyFiles: true,
      expandDirectories: false,
    });
    if (matches.length === 0 && !GLOB_SYNTAX.test(pattern)) {
      const shown = path.isAbsolute(pattern) ? pattern : path.join(path.dirname(rootFile), pattern);
      problems.add(rootFile, [key, index], `file not found: ${shown}`);
    } else if (matches.length === 0) problems.add(rootFile, [key, index], `"${pattern}" matches no file`);
    for (const match of matches.sort()) if (!files.includes(match)) files.push(match);
  }
  return files;
}

/**
 * Loads and checks the whole configuration: the root file plus every probe and SLO file its globs name.
 * Throws one ConfigError listing every problem (`<file>:<path>: <message>`); the result is deeply frozen.
 *
 * @example
 *   const config = await loadConfig('vigil.yaml', process.env);
 *   config.root.watch.duration // 86_400_000
 */
export async function loadConfig(given: string, env: Env): Promise<VigilConfig> {
  const problems = new ProblemList();
  const file = path.normalize(given);
  const absolute = path.resolve(file);
  const rootDir = path.dirname(absolute);
  const displayDir = path.dirname(file);
  const display = (abs: string) => {
    const relative = path.relative(rootDir, abs);
    return relative.startsWith('..') || path.isAbsolute(relative) ? abs : path.join(displayDir, relative);
  };

  let root: RootConfig | undefined;
  let fromEnv: PathSegment[][] = [];
  let partial: Partial<RootConfig> | undefined;
  const invalidSections = new Set<string>();
  const documents = await readYamlDocuments(absolute, file, problems);
  if (documents !== undefined && documents.length > 1) {
    problems.add(file, [], `the root file holds one YAML document, found ${documents.length}`);
  } else if (documents !== undefined) {
    const result = interpolate(documents[0], env);
    for (const problem of result.problems) problems.add(file, problem.path, problem.message);
    for (const problem of result.problems) problems.quiet(file, problem.path);
    root = parseValue(rootConfigSchema, result.value, { file, base: [], typed: result.typed, problems });
    fromEnv = result.fromEnv;
    partial = root ?? validSections(result.value, invalidSections);
  }

  const probes: Located<ProbeConfig>[] = [];
  const slos: Located<SloConfig>[] = [];
  const probeNames: Located<string>[] = [];
  const sloNames: Located<string>[] = [];
  if (partial !== undefined) {
    for (const match of await expandGlobs('probes', partial.probes ?? [], file, rootDir, problems)) {
      const loaded = await loadDefinitionFile('probe', match, display(match), env, problems);
      probes.push(...loaded.probes);
      probeNames.push(...loaded.names);
    }
    for (const match of await expandGlobs('slos', partial.slos ?? [], file, rootDir, problems)) {
      const loaded = await loadDefinitionFile('slo', match, display(match), env, problems);
      slos.push(...loaded.slos);
      sloNames.push(...loaded.names);
    }
  }

  await checkSemantics(
    {
      rootFile: file,
      rootDir,
      displayDir,
      root: partial,
      invalidSections,
      probes,
      slos,
      probeNames,
      sloNames,
    },
    problems,
  );
  if (problems.size > 0 || root === undefined) throw new ConfigError(problems.problems);

  resolvePaths(root, probes, rootDir);
  // Warnings need the definition files' locations, which the loaded config no longer carries.
  const warnings = problems.derive();
  ratioQueryWarnings(slos, warnings);
  absentSourceWarnings(slos, root, warnings);
  literalSecretWarnings(root, fromEnv, file, warnings);
  return deepFreeze({
    file: absolute,
    root,
    probes: probes.map((probe) => probe.value),
    slos: slos.map((slo) => slo.value),
    warnings: warnings.problems,
  });
}

/**
 * Things that are valid but worth saying at start, in `vigil validate` and in /health: a rollback target
 * switched off by an empty url, no rollback target at all, an API with no token, and what loading the
 * definition files found (a PromQL ratio whose numerator can vanish).
 *
 * @example configWarnings(config, 'vigil.yaml') // [{ file: 'vigil.yaml', path: 'actions.rollback[0].url', message: '…' }]
 */
export function configWarnings(config: VigilConfig, given: string = config.file): ConfigProblem[] {
  const file = path.normalize(given);
  const warnings = new ProblemList();
  const { rollback } = config.root.actions;
  for (const [index, target] of rollback.entries()) {
    if (target.url === '') {
      warnings.add(file, ['actions', 'rollback', index, 'url'], 'empty: this rollback target is off');
    }
  }
  if (rollback.length === 0) {
    warnings.add(file, ['actions', 'rollback'], 'no rollback target: a failing watch will only alert');
  }
  if (config.root.server.apiToken === '') {
    warnings.add(file, ['server', 'apiToken'], 'empty: /api/v1 answers only clients on loopback');
  }
  return [...warnings.problems, ...(config.warnings ?? [])];
}
