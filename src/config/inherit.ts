import type { PathSegment, ProblemList } from './problems.js';
import {
  loadtestsSchema,
  type RootConfig,
  rootConfigSchema,
  type ServiceEntry,
  type ServiceRoot,
  type SourceConfig,
  serviceEntrySchema,
} from './schema.js';

/*
 * What a fleet's service inherits (DESIGN §4, fleets). The root's sections are the defaults; an entry's
 * sections go over them: `watch` and `actions` key by key (so an entry's `rollback` or `notify` list
 * replaces the root's), `sources` key by key within each source, `loadtests.profiles` by profile name, and
 * `loadtests.schedule` is the entry's alone. `server`, `storage` and `alertmanager` are the daemon's, shared.
 *
 * Both sides are parsed before they meet: the root with its defaults, the entry without any (its schema
 * leaves every key optional and undefaulted), so spreading the entry's keys over the root's is the same as
 * parsing the merged raw sections — defaults fill only what neither sets — and a problem is reported where
 * it is written: once at the root for what the services inherit, at `services.<name>…` for an entry's own.
 */

/** One service to load: its merged root (the valid parts of it) and where its definition globs are. */
export interface ServicePlan {
  name: string;
  /** The service's root as far as it is valid (sections that failed are left out and named in `invalid`). */
  root: Partial<ServiceRoot>;
  invalid: Set<string>;
  /** Where `probes:` and `slos:` are in the root file: `[]` for a single-service file, `['services', S]`. */
  base: PathSegment[];
  probes: readonly string[];
  slos: readonly string[];
  /** In a fleet, where a path of the merged root is written in the file; undefined for a single service. */
  at?: (path: readonly PathSegment[]) => PathSegment[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The sections of `raw` that are valid on their own under `shape`, naming the others in `invalid`, so the
 * rest of a load still runs on an invalid document and one `vigil validate` shows every problem.
 *
 * @example validSections(raw, rootConfigSchema.shape, invalid) // { storage: {…}, watch: {…} }, invalid: {'server'}
 */
export function validSections<T>(
  raw: unknown,
  shape: Record<string, { safeParse(value: unknown): { success: boolean; data?: unknown } }>,
  invalid: Set<string>,
): Partial<T> | undefined {
  if (!isRecord(raw)) return undefined;
  const sections: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(shape)) {
    const result = schema.safeParse(raw[key]);
    if (result.success) {
      if (result.data !== undefined) sections[key] = result.data;
    } else invalid.add(key);
  }
  return sections as Partial<T>;
}

/**
 * Where the file writes `path` of a service's merged root: in its entry when the entry sets it (or a list
 * or value above it, which the entry replaces whole), else at the root it inherits from.
 *
 * @example writtenAt('prep-worker', { watch: { duration: '6h' } }, ['watch', 'duration']) // ['services', 'prep-worker', 'watch', 'duration']
 */
export function writtenAt(name: string, rawEntry: unknown, path: readonly PathSegment[]): PathSegment[] {
  let node = rawEntry;
  for (const segment of path) {
    if (!isRecord(node) || !(String(segment) in node)) return [...path];
    node = node[String(segment)];
    if (!isRecord(node)) break;
  }
  return ['services', name, ...path];
}

/** The fleet's rules on the root file's shape; every broken one is a problem at its place. */
function checkFleetShape(raw: Record<string, unknown>, file: string, problems: ProblemList): void {
  const fleet = 'services' in raw;
  if (fleet && 'service' in raw) {
    problems.add(
      file,
      ['service'],
      'a file watches one service (service:) or a fleet (services:), not both: move this one into services:',
    );
  }
  if (!fleet && !('service' in raw)) {
    problems.add(file, ['service'], 'is required (or services:, one entry per service of a fleet)');
  }
  if (!fleet && 'service' in raw && !('target' in raw)) problems.add(file, ['target'], 'is required');
  if (!fleet) return;
  if (isRecord(raw.services) && Object.keys(raw.services).length === 0) {
    problems.add(
      file,
      ['services'],
      'names no service: give each service an entry with its target (or write service: and target: for one)',
    );
  }
  for (const key of ['target', 'probes', 'slos']) {
    if (key in raw)
      problems.add(
        file,
        [key],
        `a fleet's services each have their own: put them in each service's entry (services.<name>.${key})`,
      );
  }
  if (isRecord(raw.loadtests) && 'schedule' in raw.loadtests) {
    problems.add(
      file,
      ['loadtests', 'schedule'],
      'which service would it load? In a fleet each service schedules its own: move it to services.<name>.loadtests.schedule',
    );
  }
}

/** Inputs of `planServices`: the root file's interpolated value and what of it parsed. */
export interface PlanInput {
  file: string;
  raw: unknown;
  /** The root config, or its valid sections. */
  root: Partial<RootConfig>;
  invalid: ReadonlySet<string>;
  /** Parses an entry's source with the full schema (for a source the root does not configure). */
  parseSource: (at: PathSegment[], raw: unknown) => SourceConfig | undefined;
  problems: ProblemList;
}

function mergeSources(
  input: PlanInput,
  name: string,
  rawEntry: Record<string, unknown>,
  entry: NonNullable<ServiceEntry['sources']>,
): ServiceRoot['sources'] | undefined {
  const sources: ServiceRoot['sources'] = { ...input.root.sources };
  for (const key of ['prometheus', 'loki'] as const) {
    const own = entry[key];
    if (own === undefined) continue;
    const inherited = input.root.sources?.[key];
    if (inherited !== undefined) {
      sources[key] = { ...inherited, ...own } as SourceConfig;
      continue;
    }
    const raw = (rawEntry.sources as Record<string, unknown>)[key];
    const parsed = input.parseSource(['services', name, 'sources', key], raw);
    if (parsed === undefined) return undefined;
    sources[key] = parsed;
  }
  return sources;
}

/** One fleet entry's merged root: the root's sections with the entry's over them. */
function inheritRoot(input: PlanInput, name: string, rawEntry: Record<string, unknown>): ServicePlan {
  const invalid = new Set(input.invalid);
  // The whole root parsed (strings typed back where interpolation made numbers): take its entry as it is.
  const entry: Partial<ServiceEntry> =
    input.root.services?.[name] ??
    validSections<ServiceEntry>(rawEntry, serviceEntrySchema.shape, invalid) ??
    {};
  const { root } = input;
  const merged: Partial<ServiceRoot> = {
    ...(root.$schema === undefined ? {} : { $schema: root.$schema }),
    service: name,
    ...(root.server === undefined ? {} : { server: root.server }),
    ...(root.storage === undefined ? {} : { storage: root.storage }),
    ...(root.alertmanager === undefined ? {} : { alertmanager: root.alertmanager }),
  };
  if (entry.target !== undefined) merged.target = entry.target;
  merged.probes = entry.probes ?? [];
  merged.slos = entry.slos ?? [];
  if (root.watch !== undefined) merged.watch = { ...root.watch, ...entry.watch };
  if (root.actions !== undefined) merged.actions = { ...root.actions, ...entry.actions };
  if (root.sources !== undefined) {
    const sources =
      entry.sources === undefined ? root.sources : mergeSources(input, name, rawEntry, entry.sources);
    if (sources === undefined) invalid.add('sources');
    else merged.sources = sources;
  }
  if (root.loadtests !== undefined || entry.loadtests !== undefined) {
    if (invalid.has('loadtests')) {
      // An invalid side leaves the profiles unknown; the semantic checks skip what needs them.
    } else {
      const base = root.loadtests ?? loadtestsSchema.parse({});
      merged.loadtests = {
        ...base,
        profiles: { ...base.profiles, ...entry.loadtests?.profiles },
        schedule: entry.loadtests?.schedule ?? [],
      };
    }
  }
  return {
    name,
    root: merged,
    invalid,
    base: ['services', name],
    probes: entry.probes ?? [],
    slos: entry.slos ?? [],
    at: (path) => writtenAt(name, rawEntry, path),
  };
}

/**
 * The services a root file configures, each with its merged root, after checking the fleet's rules: one
 * plan for a single-service file (its root as it is), one per entry of `services:` in file order.
 *
 * @example planServices({ file, raw, root, invalid, parseSource, problems }).map((plan) => plan.name) // ['prep-api', 'prep-worker']
 */
export function planServices(input: PlanInput): ServicePlan[] {
  const { raw, root } = input;
  if (!isRecord(raw)) return [];
  checkFleetShape(raw, input.file, input.problems);
  if (!('services' in raw)) {
    const { service, target, services: _fleet, ...rest } = root;
    return [
      {
        name: service ?? '',
        root: {
          ...rest,
          ...(service === undefined ? {} : { service }),
          ...(target === undefined ? {} : { target }),
        },
        invalid: new Set(input.invalid),
        base: [],
        probes: root.probes ?? [],
        slos: root.slos ?? [],
      },
    ];
  }
  if (!isRecord(raw.services)) return [];
  const names = rootConfigSchema.shape.services.unwrap().keyType;
  return Object.entries(raw.services)
    .filter(([name, entry]) => names.safeParse(name).success && isRecord(entry))
    .map(([name, entry]) => inheritRoot(input, name, entry as Record<string, unknown>));
}
