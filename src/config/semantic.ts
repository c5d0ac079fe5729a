import { access } from 'node:fs/promises';
import path from 'node:path';
import { validateCron } from '../loadtest/schedule.js';
import { absentSourceReason } from '../sources/absent.js';
import type { Located } from './definitions.js';
import type { PathSegment, ProblemList } from './problems.js';
import { vanishingNumerator } from './query.js';
import type { ProbeConfig, RootConfig, SloConfig } from './schema.js';
import { formatDuration } from './units.js';

/*
 * Checks that need more than one field or more than one file: names unique across files, references that
 * resolve, secrets strong enough where a target is on, and files that must exist.
 */

/** Webhook secrets sign rollback requests (HMAC-SHA256); shorter ones are guessable. */
export const MIN_SECRET_LENGTH = 16;

export interface SemanticInput {
  rootFile: string;
  /** Absolute folder of the root file; relative paths in config resolve against it. */
  rootDir: string;
  /** The root file's folder as the user gave it, for showing paths. */
  displayDir: string;
  /** The root config, or the top-level sections of it that are valid when the whole is not. */
  root: Partial<RootConfig> | undefined;
  /** Top-level sections of the root file that failed validation (their checks here are skipped). */
  invalidSections: ReadonlySet<string>;
  probes: readonly Located<ProbeConfig>[];
  slos: readonly Located<SloConfig>[];
  probeNames: readonly Located<string>[];
  sloNames: readonly Located<string>[];
  /**
   * In a fleet, the service checked: `at` maps a path of its merged root (`watch.loadProfile`) to where the
   * value is written — its entry (`services.prep-worker.watch.loadProfile`) or, inherited, the root — so an
   * inherited problem is said once, at the root. Absent for a single-service file.
   */
  service?: { name: string; at: (path: readonly PathSegment[]) => PathSegment[] };
}

/** Where a path of the (merged) root is written in the root file. */
function rootPath(input: SemanticInput, ...path: PathSegment[]): PathSegment[] {
  return input.service === undefined ? path : input.service.at(path);
}

/** " in service S" in a fleet, for problems found in definition files that several services may share. */
function inService(input: SemanticInput): string {
  return input.service === undefined ? '' : ` in service ${input.service.name}`;
}

function listed(names: Iterable<string>): string {
  const all = [...names];
  return all.length === 0 ? 'none defined' : all.join(', ');
}

function checkUnique(kind: string, names: readonly Located<string>[], problems: ProblemList): void {
  const first = new Map<string, Located<string>>();
  for (const name of names) {
    const seen = first.get(name.value);
    if (seen === undefined) first.set(name.value, name);
    else {
      const where = problems.where(seen.file, seen.path);
      problems.add(
        name.file,
        name.path,
        `duplicate ${kind} name "${name.value}" (first defined at ${where})`,
      );
    }
  }
}

function checkSlo(
  slo: Located<SloConfig>,
  input: SemanticInput,
  probeNames: Set<string>,
  problems: ProblemList,
) {
  const { value: check, file } = slo;
  const at = (...rest: PathSegment[]) => [...slo.path, ...rest];
  if (check.source === 'probes') {
    if (check.sli !== undefined && !probeNames.has(check.sli.probe)) {
      problems.add(
        file,
        at('sli', 'probe'),
        `unknown probe "${check.sli.probe}"${inService(input)} (probes: ${listed(probeNames)})`,
      );
    }
    checkProbesWindow(slo, input, problems);
    return;
  }
  if (
    check.baseline?.test === 'proportion' &&
    (check.total === undefined || (check.good ?? check.bad) === undefined)
  ) {
    problems.add(file, at('baseline', 'test'), 'test: proportion needs good (or bad) and total queries');
  }
  // A check on a source left out is valid: it is inconclusive until the source is configured (a warning).
}

/** The probes source reads per-minute rollups of probe results: its smallest window is one of them. */
export const PROBES_MIN_WINDOW_MS = 60_000;

/**
 * A probes-source check judged over less than a minute would read a whole rollup minute while claiming a
 * shorter window (or nothing at all): a load error naming the check, whichever window it inherits.
 */
function checkProbesWindow(slo: Located<SloConfig>, input: SemanticInput, problems: ProblemList): void {
  const { value: check, file } = slo;
  const rule = 'the probes source keeps per-minute rollups of probe results, so its windows are 1m or more';
  if (check.window !== undefined) {
    if (check.window < PROBES_MIN_WINDOW_MS)
      problems.add(file, [...slo.path, 'window'], `${formatDuration(check.window)} is too short: ${rule}`);
    return;
  }
  const watchWindow = input.root?.watch?.window;
  if (input.invalidSections.has('watch') || watchWindow === undefined) return;
  if (watchWindow < PROBES_MIN_WINDOW_MS) {
    problems.add(
      file,
      slo.path,
      `judged over watch.window${inService(input)} (${formatDuration(watchWindow)}, in ${input.rootFile}), which is too short: ${rule}; ` +
        'give this check window: 1m or raise watch.window',
    );
  }
}

/** `watch.probes` names the probes a bake judges: a misspelt one would silently judge nothing. */
function checkWatchProbes(input: SemanticInput, probeNames: Set<string>, problems: ProblemList): void {
  // An invalid watch or probes section of the root file leaves the list or the probe files unknown.
  if (input.invalidSections.has('watch') || input.invalidSections.has('probes')) return;
  for (const [index, name] of (input.root?.watch?.probes ?? []).entries()) {
    if (!probeNames.has(name)) {
      problems.add(
        input.rootFile,
        rootPath(input, 'watch', 'probes', index),
        `unknown probe "${name}" (probes: ${listed(probeNames)})`,
      );
    }
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

function checkRoot(input: SemanticInput, root: Partial<RootConfig>, problems: ProblemList): void {
  const file = input.rootFile;
  const profiles = Object.keys(root.loadtests?.profiles ?? {});
  // A loadtests section that is itself invalid would make every profile look unknown.
  const profilesKnown = !input.invalidSections.has('loadtests');
  const profileProblem = (name: string) =>
    `unknown load profile "${name}" (loadtests.profiles: ${listed(profiles)})`;
  const loadProfile = root.watch?.loadProfile;
  if (profilesKnown && loadProfile !== undefined && !profiles.includes(loadProfile)) {
    problems.add(file, rootPath(input, 'watch', 'loadProfile'), profileProblem(loadProfile));
  }
  for (const [index, entry] of (root.loadtests?.schedule ?? []).entries()) {
    if (!profiles.includes(entry.profile)) {
      const at = rootPath(input, 'loadtests', 'schedule', index, 'profile');
      problems.add(file, at, profileProblem(entry.profile));
    }
    const cronProblem = validateCron(entry.cron);
    if (cronProblem !== undefined)
      problems.add(file, rootPath(input, 'loadtests', 'schedule', index, 'cron'), cronProblem);
  }
  const targets = [
    ...(root.actions?.rollback ?? []).map((target, index) => ({
      target,
      path: rootPath(input, 'actions', 'rollback', index),
      required: true,
    })),
    ...(root.actions?.notify ?? []).map((target, index) => ({
      target,
      path: rootPath(input, 'actions', 'notify', index),
      required: false,
    })),
  ];
  for (const { target, path: at, required } of targets) {
    if (target.url === '') continue;
    if (target.secret === '') {
      if (required) {
        problems.add(
          file,
          [...at, 'secret'],
          `required (${MIN_SECRET_LENGTH} or more characters) when url is set`,
        );
      }
    } else if (target.secret.length < MIN_SECRET_LENGTH) {
      problems.add(
        file,
        [...at, 'secret'],
        `too short (${target.secret.length} characters; ${MIN_SECRET_LENGTH} or more required)`,
      );
    }
  }
}

/**
 * Runs every cross-field and cross-file check, recording problems. Paths of files that must exist (load
 * profile scripts, probe CA files) are checked relative to the root file's folder.
 *
 * @example await checkSemantics({ rootFile: 'vigil.yaml', rootDir: '/srv', displayDir: '.', root, probes, slos, probeNames, sloNames }, problems);
 */
export async function checkSemantics(input: SemanticInput, problems: ProblemList): Promise<void> {
  checkUnique('probe', input.probeNames, problems);
  checkUnique('SLO', input.sloNames, problems);
  const probeNames = new Set(input.probeNames.map((name) => name.value));
  for (const slo of input.slos) checkSlo(slo, input, probeNames, problems);
  if (input.root !== undefined) checkRoot(input, input.root, problems);
  checkWatchProbes(input, probeNames, problems);

  const mustExist: { file: string; at: readonly PathSegment[]; target: string }[] = [];
  for (const [name, profile] of Object.entries(input.root?.loadtests?.profiles ?? {})) {
    mustExist.push({
      file: input.rootFile,
      at: rootPath(input, 'loadtests', 'profiles', name, 'script'),
      target: profile.script,
    });
  }
  for (const probe of input.probes) {
    const caFile = probe.value.tls?.caFile;
    if (caFile !== undefined)
      mustExist.push({ file: probe.file, at: [...probe.path, 'tls', 'caFile'], target: caFile });
  }
  for (const entry of mustExist) {
    if (!(await exists(path.resolve(input.rootDir, entry.target)))) {
      const shown = path.isAbsolute(entry.target) ? entry.target : path.join(input.displayDir, entry.target);
      problems.add(entry.file, entry.at, `file not found: ${shown}`);
    }
  }
}

/**
 * Warnings for checks on a source that is off (left out, or its url empty — `VIGIL_LOKI_URL=` turns Loki
 * off): such a check stays inconclusive, which a watch counts as blind time, so it is said at load.
 *
 * @example absentSourceWarnings(slos, root, warnings) // slo/prep.yaml:error-logs.source: source loki is not configured (…): …
 */
export function absentSourceWarnings(
  slos: readonly Located<SloConfig>[],
  root: RootConfig,
  warnings: ProblemList,
): void {
  for (const { value: check, file, path: at } of slos) {
    if (check.source === 'probes') continue;
    const source = root.sources[check.source];
    if (source !== undefined && source.url !== '') continue;
    warnings.add(
      file,
      [...at, 'source'],
      `${absentSourceReason(check.source)}: this check will be inconclusive; set sources.${check.source}.url or remove the check`,
    );
  }
}

/**
 * Warnings (valid, but worth fixing) for PromQL ratio queries whose numerator can vanish: a top-level
 * `a / b` where `a` selects a subset of `b` and has no `or vector(0)`. Each names the file, the check and
 * the fix; `vigil validate` prints them.
 *
 * @example
 *   ratioQueryWarnings(slos, warnings)
 *   // slo/prep.yaml:error-rate.query: check "error-rate": the numerator (code=~"5..") … write (… or vector(0)) / …
 */
export function ratioQueryWarnings(slos: readonly Located<SloConfig>[], warnings: ProblemList): void {
  for (const { value: check, file, path: at } of slos) {
    if (check.source !== 'prometheus' || check.query === undefined) continue;
    const subset = vanishingNumerator(check.query);
    if (subset === undefined) continue;
    warnings.add(
      file,
      [...at, 'query'],
      `check "${check.name}": the numerator (${subset.join(', ')}) has no series until the first matching ` +
        'sample, so the ratio is empty — no data, inconclusive — while the deploy is perfect; ' +
        'write (numerator or vector(0)) / denominator: zero then reads 0, and no traffic stays no data',
    );
  }
}
