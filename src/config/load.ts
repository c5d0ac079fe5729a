import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { glob } from 'tinyglobby';
import { ConfigError, type ConfigProblem } from '../errors.js';
import { type DefinitionFile, type DefinitionKind, type Located, loadDefinitionFile } from './definitions.js';
import { servicesOf } from './fleet.js';
import { planServices, type ServicePlan, validSections } from './inherit.js';
import { interpolate, type TypedScalar } from './interpolate.js';
import { parseValue } from './parse.js';
import { type PathSegment, ProblemList } from './problems.js';
import {
  type ProbeConfig,
  type RootConfig,
  rootConfigSchema,
  type ServiceConfig,
  type ServiceRoot,
  type SloConfig,
  sourceSchema,
  type VigilConfig,
} from './schema.js';
import { literalSecretWarnings } from './secrets.js';
import { absentSourceWarnings, checkSemantics, ratioQueryWarnings } from './semantic.js';
import { readYamlDocuments } from './yaml-file.js';

export { lintQuery, renderQuery } from './query.js';

/*
 * Loading, in order: read the root YAML → interpolate ${VAR} → validate with the strict schema → one plan per
 * service (a fleet's entries merged over the root, inherit.ts) → expand each service's probes/slos globs
 * (relative to the root file's folder) → load each definition file, once however many services share it →
 * cross-file checks per service. Every problem from every file is collected, then thrown once as a
 * ConfigError.
 *
 * Paths in the loaded config are absolute, resolved against the root file's folder (not the cwd), so the
 * daemon behaves the same whatever folder it is started from: storage.path (except `:memory:`),
 * loadtests.profiles.*.script, loadtests.k6 when it contains a slash (a bare `k6` is looked up on PATH),
 * and probes' tls.caFile.
 */

type Env = Readonly<Record<string, string | undefined>>;

/** Freezes plain objects and arrays all the way down; RegExp and other instances are left as they are. */
export function deepFreeze<T>(value: T): T {
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

/** Makes relative paths absolute; idempotent, so sections and probes shared by services may pass twice. */
function resolvePaths(
  root: Pick<RootConfig, 'storage' | 'loadtests'>,
  probes: readonly Located<ProbeConfig>[],
  rootDir: string,
): void {
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

/** Characters that make an entry a glob rather than one file's name. */
const GLOB_SYNTAX = /[*?[\]{}!()]/;

/**
 * Expands one list of globs; a pattern that matches nothing is a problem at its place in the root file,
 * and a plain file name that matches nothing says which file is missing, as the user would look for it.
 */
async function expandGlobs(
  at: PathSegment[],
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
      problems.add(rootFile, [...at, index], `file not found: ${shown}`);
    } else if (matches.length === 0) problems.add(rootFile, [...at, index], `"${pattern}" matches no file`);
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
  let plans: ServicePlan[] = [];
  const documents = await readYamlDocuments(absolute, file, problems);
  if (documents !== undefined && documents.length > 1) {
    problems.add(file, [], `the root file holds one YAML document, found ${documents.length}`);
  } else if (documents !== undefined) {
    const result = interpolate(documents[0], env);
    for (const problem of result.problems) problems.add(file, problem.path, problem.message);
    for (const problem of result.problems) problems.quiet(file, problem.path);
    root = parseValue(rootConfigSchema, result.value, { file, base: [], typed: result.typed, problems });
    fromEnv = result.fromEnv;
    const invalid = new Set<string>();
    const partial = root ?? validSections<RootConfig>(result.value, rootConfigSchema.shape, invalid);
    if (partial !== undefined) {
      plans = planServices({
        file,
        raw: result.value,
        root: partial,
        invalid,
        parseSource: (at, raw) => parseSource(at, raw, file, result.typed, problems),
        problems,
      });
    }
  }

  // A file several services name is read and checked once: its problems are its own, said once.
  const files = new Map<string, Promise<DefinitionFile>>();
  const definitions = (kind: DefinitionKind, match: string) => {
    let loaded = files.get(match);
    if (loaded === undefined) {
      loaded = loadDefinitionFile(kind, match, display(match), env, problems);
      files.set(match, loaded);
    }
    return loaded;
  };
  const loaded: { plan: ServicePlan; probes: Located<ProbeConfig>[]; slos: Located<SloConfig>[] }[] = [];
  for (const plan of plans) {
    const probes: Located<ProbeConfig>[] = [];
    const slos: Located<SloConfig>[] = [];
    const probeNames: Located<string>[] = [];
    const sloNames: Located<string>[] = [];
    for (const match of await expandGlobs([...plan.base, 'probes'], plan.probes, file, rootDir, problems)) {
      const definition = await definitions('probe', match);
      probes.push(...definition.probes);
      probeNames.push(...definition.names);
    }
    for (const match of await expandGlobs([...plan.base, 'slos'], plan.slos, file, rootDir, problems)) {
      const definition = await definitions('slo', match);
      slos.push(...definition.slos);
      sloNames.push(...definition.names);
    }
    await checkSemantics(
      {
        rootFile: file,
        rootDir,
        displayDir,
        root: plan.root,
        invalidSections: plan.invalid,
        probes,
        slos,
        probeNames,
        sloNames,
        ...(plan.at === undefined ? {} : { service: { name: plan.name, at: plan.at } }),
      },
      problems,
    );
    loaded.push({ plan, probes, slos });
  }
  if (problems.size > 0 || root === undefined) throw new ConfigError(problems.problems);

  resolvePaths(root, [], rootDir);
  // Warnings need the definition files' locations, which the loaded config no longer carries.
  const warnings = problems.derive();
  literalSecretWarnings(root, fromEnv, file, warnings);
  const services: ServiceConfig[] = [];
  for (const { plan, probes, slos } of loaded) {
    // With no problem left, every section of the plan is there: the plan is the service's whole root.
    const serviceRoot = plan.root as ServiceRoot;
    resolvePaths(serviceRoot, probes, rootDir);
    ratioQueryWarnings(slos, warnings);
    absentSourceWarnings(slos, serviceRoot, warnings);
    literalSecretWarnings(serviceRoot, fromEnv, file, warnings, plan.at);
    services.push({
      file: absolute,
      root: serviceRoot,
      probes: probes.map((probe) => probe.value),
      slos: slos.map((slo) => slo.value),
    });
  }
  return deepFreeze({
    file: absolute,
    root,
    probes: services.flatMap((service) => service.probes),
    slos: services.flatMap((service) => service.slos),
    warnings: warnings.problems,
    services,
  });
}

/** A source an entry configures that the root does not: parsed whole, its problems at the entry's path. */
function parseSource(
  at: PathSegment[],
  raw: unknown,
  file: string,
  typed: readonly TypedScalar[],
  problems: ProblemList,
) {
  return parseValue(sourceSchema, raw, { file, base: at, typed, problems });
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
  const fleet = config.root.services !== undefined;
  for (const service of servicesOf(config)) {
    const { rollback } = service.root.actions;
    // An inherited list is the root's, said once there; an entry's own is said at the entry.
    const base =
      fleet && !isDeepStrictEqual(rollback, config.root.actions.rollback)
        ? ['services', service.root.service]
        : [];
    for (const [index, target] of rollback.entries()) {
      if (target.url === '') {
        warnings.add(
          file,
          [...base, 'actions', 'rollback', index, 'url'],
          'empty: this rollback target is off',
        );
      }
    }
    if (rollback.length === 0) {
      warnings.add(
        file,
        [...base, 'actions', 'rollback'],
        'no rollback target: a failing watch will only alert',
      );
    }
  }
  if (config.root.server.apiToken === '') {
    warnings.add(file, ['server', 'apiToken'], 'empty: /api/v1 answers only clients on loopback');
  }
  return [...warnings.problems, ...(config.warnings ?? [])];
}
