import { z } from 'zod';
import type { ConfigProblem } from '../errors.js';
import { assertionSchema } from './assertions.js';
import { durationMs, percentRatio, tolerance } from './units.js';

/*
 * The configuration contract (DESIGN §4), strict: unknown keys are errors. Durations and percentages are
 * parsed here, once, into numbers (milliseconds and ratios). Field names follow DESIGN §4 exactly.
 */

const url = z.url({ error: 'expected an absolute URL such as http://127.0.0.1:9090' });
const name = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9_.-]*$/,
    'names use letters, digits, ".", "_" and "-" and start with a letter or digit',
  );
const headers = z.record(z.string(), z.string());

export const basicAuthSchema = z.strictObject({ username: z.string(), password: z.string() });

/** Connection options shared by every HTTP dependency (Prometheus, Loki, Alertmanager). */
const httpDependency = {
  url: z.union([url, z.literal('')]),
  timeout: durationMs.default(10_000),
  headers: headers.default({}),
  bearerToken: z.string().optional(),
  basicAuth: basicAuthSchema.optional(),
  /** X-Scope-OrgID, for Mimir, Cortex, Thanos and multi-tenant Loki. */
  tenant: z.string().optional(),
};

export const sourceSchema = z.strictObject({
  ...httpDependency,
  /**
   * How often the source gets a new point (Prometheus: the scrape interval of the judged series). A
   * window holding fewer than two of them says nothing yet: the default `minWindow` is twice this.
   */
  scrapeInterval: durationMs.default(15_000),
});

export const serverSchema = z.strictObject({
  listen: z
    .string()
    .regex(/^(\[[0-9A-Fa-f:.]+\]|[^:\s]+):\d{1,5}$/, 'expected host:port, e.g. 127.0.0.1:9469')
    .default('127.0.0.1:9469'),
  apiToken: z.string().default(''),
  rateLimit: z
    .strictObject({ max: z.int().positive().default(120), window: durationMs.default(60_000) })
    .default({ max: 120, window: 60_000 }),
  shutdownTimeout: durationMs.default(10_000),
});

export const storageSchema = z.strictObject({
  /** The SQLite file: the embedded default, one daemon. */
  path: z.string().min(1),
  /**
   * A PostgreSQL URL: every replica points at it and one leads (DESIGN §13); `path` is then unused. Empty
   * (`${VIGIL_DATABASE_URL:-}` unset) means SQLite.
   */
  url: z
    .string()
    .optional()
    .transform((url) => (url === undefined || url.trim() === '' ? undefined : url.trim()))
    .refine((url) => url === undefined || /^postgres(ql)?:\/\/[^/]/.test(url), {
      message: 'must be a PostgreSQL URL (postgres://user:password@host:5432/database), or empty for SQLite',
    }),
  retention: durationMs.default(90 * 86_400_000),
});

export const alertmanagerSchema = z.strictObject({
  ...httpDependency,
  resendInterval: durationMs.default(60_000),
  runbookBaseUrl: z.string().default('https://github.com/prep/vigil/blob/main/deploy/RUNBOOK.md'),
  /** Vigil's own address as Alertmanager users reach it: alerts link back to it (generatorURL). */
  externalUrl: z.string().optional(),
});

export const loadProfileSchema = z.strictObject({
  script: z.string().min(1),
  vus: z.int().positive().optional(),
  duration: durationMs.optional(),
  iterations: z.int().positive().optional(),
  env: z.record(z.string(), z.string()).default({}),
  /** Hard deadline for the whole k6 run; defaults to duration + 2m. */
  timeout: durationMs.optional(),
  /** Share of k6 check()s that must hold (`99%` when unset); below it the run fails even on exit 0. */
  checks: percentRatio
    .refine((ratio) => ratio >= 0 && ratio <= 1, { message: 'must be between 0% and 100%' })
    .optional(),
  compare: z
    .strictObject({
      p95: tolerance.optional(),
      failedRate: tolerance.optional(),
      throughput: tolerance.optional(),
    })
    .optional(),
});

const loadScheduleSchema = z.array(z.strictObject({ profile: name, cron: z.string().min(1) }));

export const loadtestsSchema = z.strictObject({
  k6: z.string().default('k6'),
  profiles: z.record(name, loadProfileSchema).default({}),
  /** Runs outside watches; in a fleet, each service's entry schedules its own (a root schedule is refused). */
  schedule: loadScheduleSchema.default([]),
  /**
   * k6 runs at once across the whole daemon (a fleet's load phases and schedules queue for a slot), never
   * more than one per service: each run loads a real service, and several on one machine skew each other.
   */
  maxConcurrentRuns: z.int().positive().default(2),
  gracePeriod: durationMs.default(10_000),
  /** A load phase that could not judge (k6 missing, crashed, no summary) ends the watch inconclusive; `warn` softens it. */
  onInconclusive: z.enum(['inconclusive', 'warn']).default('inconclusive'),
});

/** What a failing check does to its watch (DESIGN §6), weakest first. */
export const enforcementSchema = z.enum(['shadow', 'alert', 'hold', 'rollback']);
export type Enforcement = z.infer<typeof enforcementSchema>;

export const phaseSchema = z.enum(['smoke', 'load', 'bake']);
export type Phase = z.infer<typeof phaseSchema>;

export const watchSchema = z.strictObject({
  duration: durationMs.default(24 * 3_600_000),
  phases: z.array(phaseSchema).min(1).default(['smoke', 'load', 'bake']),
  loadProfile: name.optional(),
  evaluationInterval: durationMs.default(60_000),
  window: durationMs.default(300_000),
  smokeTimeout: durationMs.default(300_000),
  failureLimit: z.int().positive().default(3),
  inconclusiveLimit: durationMs.default(900_000),
  initialDelay: durationMs.optional(),
  /** Less post-deploy data than this: inconclusive. Default: twice the source's scrapeInterval (probes: 2m). */
  minWindow: durationMs.optional(),
  /** Blind longer than inconclusiveLimit at any time: the watch ends inconclusive, or warn with the spans. */
  onBlind: z.enum(['inconclusive', 'warn']).default('inconclusive'),
  /** What a failing check does unless it says otherwise (DESIGN §6). */
  enforce: enforcementSchema.default('rollback'),
  /** A held watch with no operator decision by then gets `onHoldTimeout`. */
  holdTimeout: durationMs.default(1_800_000),
  onHoldTimeout: z.enum(['rollback', 'promote']).default('rollback'),
  /** Probes judged in the bake; default: every probe whose requests go to target.baseUrl. */
  probes: z.array(name).optional(),
});

export const webhookTargetSchema = z.strictObject({
  name: name.optional(),
  url: z.union([url, z.literal('')]),
  secret: z.string().default(''),
  headers: headers.default({}),
  timeout: durationMs.default(10_000),
  /** HTTP method; POST unless a receiver needs another (Kubernetes PATCH, Argo Rollouts dashboard PUT). */
  method: z.enum(['POST', 'PUT', 'PATCH']).optional(),
  /** A JSON template rendered with the event; replaces the standard body (for GitHub, Argo, scripts). */
  bodyTemplate: z.string().optional(),
  dryRun: z.boolean().optional(),
});

export const notifyEventSchema = z.enum([
  'watch.started',
  'watch.phase',
  'watch.passed',
  'watch.failed',
  'watch.inconclusive',
]);

export const actionsSchema = z.strictObject({
  rollback: z.array(webhookTargetSchema).default([]),
  notify: z.array(webhookTargetSchema.extend({ events: z.array(notifyEventSchema).optional() })).default([]),
  dryRun: z.boolean().default(false),
  maxAge: durationMs.default(3_600_000),
});

export const targetSchema = z.strictObject({ baseUrl: url, headers: headers.default({}) });

/**
 * The fields of `schema` each optional and without its default, for an entry that sets some keys over the
 * root's: zod's `.partial()` would still fill inner defaults, hiding what the entry inherits.
 */
function overrides<S extends z.core.$ZodLooseShape>(schema: z.ZodObject<S>) {
  const shape: Record<string, z.ZodType> = {};
  for (const [key, field] of Object.entries(schema.shape) as [string, z.ZodType][])
    shape[key] = (field instanceof z.ZodDefault ? (field.unwrap() as z.ZodType) : field).optional();
  return z.strictObject(shape) as unknown as z.ZodObject<{
    [K in keyof S]: z.ZodOptional<S[K] extends z.ZodDefault<infer T extends z.ZodType> ? T : S[K]>;
  }>;
}

/**
 * One entry of the root `services:` map (DESIGN §4, fleets): what is per service. Sections left out are
 * inherited from the root; `watch` and `actions` are merged key by key over the root's (so
 * `actions.rollback` / `actions.notify` replace the root's lists when given), `sources` key by key within
 * each source, `loadtests.profiles` over the root's profiles by name. Nothing here has a default: what the
 * entry leaves out is the root's (whose defaults fill what neither sets).
 */
export const serviceEntrySchema = z.strictObject({
  target: targetSchema,
  probes: z.array(z.string().min(1)).default([]),
  slos: z.array(z.string().min(1)).default([]),
  sources: z
    .strictObject({
      prometheus: overrides(sourceSchema).optional(),
      loki: overrides(sourceSchema).optional(),
    })
    .optional(),
  loadtests: z
    .strictObject({
      /** Over the root's profiles: a profile of the same name replaces the root's. */
      profiles: z.record(name, loadProfileSchema).optional(),
      /** This service's scheduled runs (a fleet's root takes none). */
      schedule: loadScheduleSchema.optional(),
    })
    .optional(),
  watch: overrides(watchSchema).optional(),
  actions: overrides(actionsSchema).optional(),
});
export type ServiceEntry = z.infer<typeof serviceEntrySchema>;

export const rootConfigSchema = z.strictObject({
  $schema: z.string().optional(),
  /** The one service of a single-service file; a fleet names its services under `services:` instead. */
  service: name.optional(),
  target: targetSchema.optional(),
  /** A fleet: one entry per service, inheriting the root's defaults (DESIGN §4). */
  services: z.record(name, serviceEntrySchema).optional(),
  server: serverSchema.default({
    listen: '127.0.0.1:9469',
    apiToken: '',
    rateLimit: { max: 120, window: 60_000 },
    shutdownTimeout: 10_000,
  }),
  storage: storageSchema,
  sources: z.strictObject({ prometheus: sourceSchema.optional(), loki: sourceSchema.optional() }).default({}),
  alertmanager: alertmanagerSchema.optional(),
  probes: z.array(z.string().min(1)).default([]),
  slos: z.array(z.string().min(1)).default([]),
  loadtests: loadtestsSchema.optional(),
  watch: watchSchema.default(watchSchema.parse({})),
  actions: actionsSchema.default(actionsSchema.parse({})),
});

// ---- probes ----------------------------------------------------------------------------------------

export const authSchema = z.union([
  z.strictObject({ bearer: z.string() }),
  z.strictObject({ basic: basicAuthSchema }),
]);

export const requestSchema = z
  .strictObject({
    method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']).default('GET'),
    /** Path joined to target.baseUrl; use `url` instead for an absolute URL. */
    path: z.string().optional(),
    url: url.optional(),
    headers: headers.default({}),
    query: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
    json: z.unknown().optional(),
    body: z.string().optional(),
    form: z.record(z.string(), z.string()).optional(),
    auth: authSchema.optional(),
  })
  .superRefine((req, ctx) => {
    if ((req.path === undefined) === (req.url === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'a request needs exactly one of path or url' });
    }
    const bodies = [req.json, req.body, req.form].filter((b) => b !== undefined).length;
    if (bodies > 1)
      ctx.addIssue({ code: 'custom', message: 'a request takes at most one of json, body, form' });
  });

export const extractSchema = z.record(
  z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'variable names are identifiers'),
  z.union([
    z.string(), // a JSONPath on the body, e.g. $.id
    z.strictObject({ jsonPath: z.string() }),
    z.strictObject({ header: z.string() }),
    z.strictObject({ regex: z.string(), group: z.int().nonnegative().default(1) }),
  ]),
);

export const stepSchema = z.strictObject({
  name: name.optional(),
  request: requestSchema,
  expect: z.array(assertionSchema).default([]),
  extract: extractSchema.optional(),
});

export const tlsOptionsSchema = z.strictObject({
  caFile: z.string().optional(),
  insecureSkipVerify: z.boolean().default(false),
  serverName: z.string().optional(),
});

const probeCommon = {
  name,
  interval: durationMs.default(30_000),
  timeout: durationMs.default(10_000),
  failureThreshold: z.int().positive().default(2),
  successThreshold: z.int().positive().default(1),
  /** In-run retries for network-class failures only (dns, connect, tls, timeout, http). */
  retries: z.int().nonnegative().max(5).default(0),
  reuseConnection: z.boolean().default(false),
  followRedirects: z.union([z.boolean(), z.int().nonnegative()]).default(false),
  maxBodyBytes: z.int().positive().default(1_048_576),
  ipVersion: z.enum(['any', 'ipv4', 'ipv6']).default('any'),
  tls: tlsOptionsSchema.optional(),
  baseUrl: url.optional(),
  /** What this probe failing in a bake does to the watch; default watch.enforce. */
  enforce: enforcementSchema.optional(),
};

export const smokeProbeSchema = z.strictObject({
  ...probeCommon,
  kind: z.literal('smoke'),
  request: requestSchema,
  expect: z.array(assertionSchema).default([]),
});

export const syntheticProbeSchema = z.strictObject({
  ...probeCommon,
  kind: z.literal('synthetic'),
  steps: z.array(stepSchema).min(1),
  teardown: z.array(stepSchema).default([]),
});

export const probeSchema = z.discriminatedUnion('kind', [smokeProbeSchema, syntheticProbeSchema]);
export const probeFileSchema = z.array(probeSchema);

// ---- SLO checks -------------------------------------------------------------------------------------

export const objectiveSchema = z
  .strictObject({ lt: z.number(), lte: z.number(), gt: z.number(), gte: z.number() })
  .partial()
  .refine((o) => Object.keys(o).length > 0, 'an objective needs at least one of lt, lte, gt, gte');
export type Objective = z.infer<typeof objectiveSchema>;

export const baselineSchema = z
  .strictObject({
    from: z.enum(['pre-deploy', 'offset', 'previous-watch', 'pinned']),
    offset: durationMs.optional(),
    count: z.int().positive().default(1),
    aggregate: z.enum(['mean', 'median']).default('mean'),
    watch: z.string().optional(),
    version: z.string().optional(),
    maxIncrease: tolerance.optional(),
    maxDecrease: tolerance.optional(),
    test: z.enum(['mann-whitney', 'proportion']).optional(),
    confidence: z.number().gt(0).lt(1).default(0.98),
    /** Shifts smaller than this (relative to the baseline median, or absolute) never fail a statistical test. */
    effectSize: tolerance.optional(),
    /** Unset: derived from what is judged (see `regressionDirection`); left optional to tell explicit from default. */
    direction: z.enum(['increase', 'decrease', 'both']).optional(),
    minSamples: z.int().positive().default(5),
    minTotal: z.int().positive().default(30),
    step: durationMs.optional(),
  })
  .superRefine((b, ctx) => {
    if (b.from === 'offset' && b.offset === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['offset'],
        message: 'from: offset needs an offset such as 1d or 7d',
      });
    if (b.from === 'pinned' && b.watch === undefined && b.version === undefined)
      ctx.addIssue({ code: 'custom', message: 'from: pinned needs a watch id or a version' });
    // "needs maxIncrease, maxDecrease or test" is checked by the SLO: a patterns check's baseline needs none.
  });
export type BaselineConfig = z.infer<typeof baselineSchema>;

/**
 * A log-signature check (DESIGN §5): the lines of a LogQL log query, masked and clustered into templates;
 * signatures of the new version absent from the baseline are new, and more than `maxNewSignatures` of them
 * with at least `minCount` occurrences fail the check.
 */
export const patternsSchema = z.strictObject({
  /** A LogQL log query selecting the lines to study; `{{version}}`/`{{previousVersion}}` allowed. */
  query: z.string().min(1),
  /** Occurrences in the judged window before a new signature counts. */
  minCount: z.int().positive().default(5),
  /** More new signatures (past minCount) than this: the check fails. */
  maxNewSignatures: z.int().nonnegative().default(0),
  /** Templates kept per read; lines past them go to one "other" bucket, and the result says so. */
  maxSignatures: z.int().positive().default(1_000),
  /** Lines read per evaluation (paged under Loki's max_entries_limit_per_query); past it the result says it sampled. */
  maxLines: z.int().positive().default(20_000),
  /** The field of JSON lines to cluster on (default: the first of msg, message, log, text). */
  messageField: z.string().min(1).optional(),
  /** How much history before the deploy (or before the offset) the baseline's signatures are read from. */
  baselineWindow: durationMs.default(3_600_000),
});
export type PatternsConfig = z.infer<typeof patternsSchema>;

/** Baselines a patterns check can keep at watch start: a window read from Loki, or the last passed watches. */
const PATTERN_BASELINES: ReadonlySet<string> = new Set(['pre-deploy', 'offset', 'previous-watch']);

export const probeSliSchema = z.strictObject({
  probe: name,
  measure: z.enum(['successRatio', 'latencyP50', 'latencyP90', 'latencyP95', 'latencyP99']),
});

export const sloSchema = z
  .strictObject({
    name,
    description: z.string().optional(),
    source: z.enum(['prometheus', 'loki', 'probes']),
    query: z.string().optional(),
    /** For ratio SLIs judged by the proportion test or with an error budget: good and total event queries. */
    good: z.string().optional(),
    bad: z.string().optional(),
    total: z.string().optional(),
    sli: probeSliSchema.optional(),
    /** A log-signature check on the loki source (DESIGN §5); `total` may give the request volume. */
    patterns: patternsSchema.optional(),
    objective: objectiveSchema.optional(),
    warn: objectiveSchema.optional(),
    baseline: baselineSchema.optional(),
    critical: z.boolean().default(false),
    failureLimit: z.int().positive().optional(),
    initialDelay: durationMs.optional(),
    onNoData: z.enum(['inconclusive', 'pass', 'fail']).default('inconclusive'),
    /** Deprecated spelling of `enforce: shadow` (kept so older files mean what they meant). */
    mode: z.enum(['enforce', 'shadow']).default('enforce'),
    /** What this check failing does to a watch; default watch.enforce (`mode: shadow` means shadow). */
    enforce: enforcementSchema.optional(),
    window: durationMs.optional(),
    /** Less post-deploy data than this: inconclusive; default watch.minWindow, else 2 × scrapeInterval. */
    minWindow: durationMs.optional(),
    /** VigilSLOViolation fires after this many failing evaluations in a row (like a rule's `for:`). */
    alertAfter: z.int().positive().default(3),
    target: percentRatio.optional(),
    budgetWindow: durationMs.optional(),
    burnRate: z.boolean().default(true),
    severity: z.enum(['page', 'ticket']).optional(),
    runbook: z.string().optional(),
  })
  .superRefine((slo, ctx) => {
    if (slo.patterns !== undefined) {
      refinePatterns(slo, ctx);
      return;
    }
    const b = slo.baseline;
    if (b !== undefined && b.maxIncrease === undefined && b.maxDecrease === undefined && b.test === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['baseline'],
        message: 'a baseline needs maxIncrease, maxDecrease or test',
      });
    const queries =
      slo.source === 'probes' ? slo.sli !== undefined : slo.query !== undefined || slo.total !== undefined;
    if (!queries) {
      ctx.addIssue({
        code: 'custom',
        message:
          slo.source === 'probes'
            ? 'source probes needs sli: { probe, measure }'
            : `source ${slo.source} needs a query`,
      });
    }
    if (slo.source !== 'probes' && slo.sli !== undefined)
      ctx.addIssue({ code: 'custom', path: ['sli'], message: 'sli is only for source: probes' });
    if (slo.objective === undefined && slo.baseline === undefined && slo.target === undefined)
      ctx.addIssue({ code: 'custom', message: 'a check needs an objective, a baseline or a target' });
    if ((slo.target === undefined) !== (slo.budgetWindow === undefined))
      ctx.addIssue({ code: 'custom', message: 'target and budgetWindow go together' });
    if (slo.total !== undefined && slo.good === undefined && slo.bad === undefined)
      ctx.addIssue({ code: 'custom', path: ['total'], message: 'total needs good or bad beside it' });
    const events = judgedRatioEvents(slo);
    const direction = slo.baseline?.direction;
    // A direction against the meaning of the ratio would make the test guard the improvement only.
    if (events === 'good' && direction === 'increase')
      ctx.addIssue({
        code: 'custom',
        path: ['baseline', 'direction'],
        message:
          'good counts successes: a drop of good/total is the regression; use direction: decrease (or both), or count bad events',
      });
    if (events === 'bad' && direction === 'decrease')
      ctx.addIssue({
        code: 'custom',
        path: ['baseline', 'direction'],
        message:
          'bad counts failures: a rise of bad/total is the regression; use direction: increase (or both), or count good events',
      });
  });
export const sloFileSchema = z.array(sloSchema);

type SloInput = z.infer<typeof sloSchema>;

/** The rules of a patterns check: a Loki log query, a window baseline, no value-based criteria. */
function refinePatterns(slo: SloInput, ctx: z.RefinementCtx): void {
  if (slo.source !== 'loki')
    ctx.addIssue({
      code: 'custom',
      path: ['patterns'],
      message: 'patterns checks read logs: use source: loki',
    });
  for (const field of [
    'query',
    'good',
    'bad',
    'sli',
    'objective',
    'warn',
    'target',
    'budgetWindow',
  ] as const) {
    if (slo[field] !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: [field],
        message: `a patterns check takes no ${field} (its lines come from patterns.query)`,
      });
  }
  const b = slo.baseline;
  if (b === undefined) {
    ctx.addIssue({
      code: 'custom',
      message: 'a patterns check needs a baseline, e.g. baseline: { from: pre-deploy }',
    });
    return;
  }
  if (!PATTERN_BASELINES.has(b.from))
    ctx.addIssue({
      code: 'custom',
      path: ['baseline', 'from'],
      message:
        'a patterns baseline is read at watch start: from: pre-deploy, offset (a window of logs) or previous-watch (the signatures the last passed watches knew)',
    });
  for (const field of ['maxDecrease', 'test'] as const) {
    if (b[field] !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['baseline', field],
        message: `a patterns check judges known signatures by maxIncrease (a proportion test); ${field} does not apply`,
      });
  }
}

type DirectionInput = Pick<z.infer<typeof sloSchema>, 'good' | 'bad' | 'query'> & {
  baseline?: Pick<BaselineConfig, 'test' | 'direction'> | undefined;
};

/**
 * Which events the judged ratio counts, when the judged value is a good/total or bad/total ratio: always
 * for `test: proportion`, and for any check without its own `query` (its SLI is then that ratio).
 */
function judgedRatioEvents(slo: DirectionInput): 'good' | 'bad' | undefined {
  if (slo.baseline?.test !== 'proportion' && slo.query !== undefined) return undefined;
  if (slo.good !== undefined) return 'good';
  if (slo.bad !== undefined) return 'bad';
  return undefined;
}

/**
 * The direction a statistical baseline test guards: the configured one, else `decrease` for a good/total
 * ratio (fewer successes is the regression), else `increase` (latency, errors, bad/total).
 *
 * @example regressionDirection({ good: 'g', total: 't', baseline: { test: 'proportion' } }) // 'decrease'
 */
export function regressionDirection(slo: DirectionInput): 'increase' | 'decrease' | 'both' {
  return slo.baseline?.direction ?? (judgedRatioEvents(slo) === 'good' ? 'decrease' : 'increase');
}

export type RootConfig = z.infer<typeof rootConfigSchema>;
export type ProbeConfig = z.infer<typeof probeSchema>;
export type SmokeProbeConfig = z.infer<typeof smokeProbeSchema>;
export type SyntheticProbeConfig = z.infer<typeof syntheticProbeSchema>;
export type StepConfig = z.infer<typeof stepSchema>;
export type RequestConfig = z.infer<typeof requestSchema>;
export type SloConfig = z.infer<typeof sloSchema>;
export type LoadProfileConfig = z.infer<typeof loadProfileSchema>;
export type WebhookTargetConfig = z.infer<typeof webhookTargetSchema>;
export type SourceConfig = z.infer<typeof sourceSchema>;
export type AlertmanagerConfig = z.infer<typeof alertmanagerSchema>;
export type WatchConfig = z.infer<typeof watchSchema>;

/** The whole loaded configuration: the root file plus every probe and SLO definition it points at. */
export interface VigilConfig {
  /** Absolute path of the root file; definition globs resolve relative to its folder. */
  readonly file: string;
  readonly root: RootConfig;
  /** Every service's probes (a fleet's, all together: names repeat across services); per service see `services`. */
  readonly probes: readonly ProbeConfig[];
  /** Every service's SLO checks, all together; per service see `services`. */
  readonly slos: readonly SloConfig[];
  /** Valid but worth fixing, found while loading the definition files (e.g. a ratio that can vanish). */
  readonly warnings?: readonly ConfigProblem[];
  /**
   * Each service as its own single-service config, root defaults merged in (set by the loader, in the
   * order of the file). Absent on a hand-built config: a fleet of one, read with `servicesOf`.
   */
  readonly services?: readonly ServiceConfig[];
}

/** A root section as one service sees it: its name and target set, the fleet map gone. */
export type ServiceRoot = Omit<RootConfig, 'service' | 'target' | 'services'> & {
  service: string;
  target: z.infer<typeof targetSchema>;
};

/**
 * One service's configuration, what every per-service part reads (prober, evaluator, load runner, watch
 * settings): the root's defaults with the service's entry merged over them, and its own probes and SLOs.
 */
export interface ServiceConfig extends VigilConfig {
  readonly root: ServiceRoot;
  readonly services?: undefined;
}
