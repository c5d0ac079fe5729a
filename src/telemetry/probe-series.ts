/*
 * The per-probe series of DESIGN §8, kept as ready exposition text. prom-client renders every scrape
 * from its label maps (~0.15 ms per probe with full histograms: 3.6 s for 10k probes), so the series
 * that grow with the probe count live here instead: each probe's lines are re-rendered when that
 * probe runs, and a scrape only joins the strings it holds. Blackbox-style, a probe exports the values
 * of its last run (gauges) plus its run counter; distributions live in the aggregate
 * `vigil_probe_phase_duration_seconds` histogram (no probe label) that prom-client keeps.
 */

/** Phases of a probe run, in exposition order (`total` is the whole run). */
export const PROBE_PHASES = ['dns', 'connect', 'tls', 'ttfb', 'transfer', 'total'] as const;
export type ProbePhase = (typeof PROBE_PHASES)[number];

/** One finished run, as the probe series record it. */
export interface ProbeRun {
  /** The config's `service`; absent in one-shot use. */
  service?: string;
  probe: string;
  kind: string;
  success: boolean;
  /** Failure class of the run, `none` when it succeeded. */
  failureClass: string;
  /** Seconds spent in each phase of the (last attempt of the) run. */
  phaseSeconds: Readonly<Record<ProbePhase, number>>;
  /** Earliest certificate expiry of the presented chain, Unix seconds; absent without TLS. */
  certExpiresAt?: number;
}

/** A metric family rendered here: what a registry would list for it. */
export interface ProbeFamily {
  readonly name: string;
  readonly type: 'gauge' | 'counter';
  readonly help: string;
  readonly labelNames: readonly string[];
}

const PROBE_LABELS = ['service', 'probe', 'kind'] as const;

/** The families, in exposition order; the dashboard and rules tests check queries against them. */
export const PROBE_FAMILIES = [
  {
    name: 'vigil_probe_success',
    type: 'gauge',
    help: 'Whether the last run of the probe succeeded (1) or failed (0).',
    labelNames: PROBE_LABELS,
  },
  {
    name: 'vigil_probe_duration_seconds',
    type: 'gauge',
    help: 'Duration of each phase (dns, connect, tls, ttfb, transfer, total) of the last run of the probe.',
    labelNames: [...PROBE_LABELS, 'phase'],
  },
  {
    name: 'vigil_probe_runs_total',
    type: 'counter',
    help: 'Probe runs by result and failure class.',
    labelNames: [...PROBE_LABELS, 'result', 'class'],
  },
  {
    name: 'vigil_tls_cert_expiry_timestamp_seconds',
    type: 'gauge',
    help: 'Earliest certificate expiry in the chain presented to the probe, as a Unix timestamp.',
    labelNames: ['service', 'probe'],
  },
] as const satisfies readonly ProbeFamily[];

const HEADERS = PROBE_FAMILIES.map((f) =>
  Buffer.from(`# HELP ${f.name} ${f.help}\n# TYPE ${f.name} ${f.type}\n`),
);
const NONE = Buffer.alloc(0);

/**
 * What one probe exports: its label sets, run counts, and one ready fragment per family, as UTF-8
 * bytes: joining 40k strings built by `+=` costs V8 a flattening of each (~100 ms for 10k probes),
 * copying bytes into one buffer costs a few milliseconds.
 */
interface ProbeEntry {
  readonly probe: string;
  readonly service: string | undefined;
  readonly kind: string;
  /** `{service="…",probe="…",kind="…"`, left open for the labels each family adds. */
  readonly labels: string;
  /** Runs by failure class (`none` for successes). */
  readonly runs: Map<string, number>;
  fragments: [success: Buffer, duration: Buffer, runs: Buffer, cert: Buffer];
}

/** The per-probe series: recorded from each run, rendered as Prometheus text. */
export interface ProbeSeries {
  /** Replaces the probe's gauges with this run's values and counts the run. */
  record(run: ProbeRun): void;
  /** Drops every series of the service's probe (it left the config). */
  remove(probe: string, service?: string): void;
  /**
   * Drops the series of every probe of `service` not named (after a reload; `[]` for a service that
   * left the config), leaving other services' probes alone; returns how many probes went.
   */
  retain(probes: Iterable<string>, service?: string): number;
  /** The probes of `service` that have series. */
  probes(service?: string): string[];
  /**
   * The families in Prometheus text format 0.0.4, HELP and TYPE included, after `prefix` (the rest of
   * the registry's exposition), as one flat string.
   */
  render(prefix?: string): string;
}

/** Label value escaping of the text format: backslash, double quote and line feed. */
function escapeLabel(value: string): string {
  return /[\\"\n]/.test(value)
    ? value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
    : value;
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}

/** Microsecond precision is all a probe timing means; more digits only bloat every scrape. */
function seconds(value: number): string {
  return formatValue(Math.round(value * 1e6) / 1e6);
}

/**
 * Creates the store of per-probe series. Recording costs one probe's worth of string building; a
 * render costs one join over the fragments, however long the daemon has run.
 *
 * @example
 *   const series = createProbeSeries();
 *   series.record({ service: 'prep-api', probe: 'health', kind: 'smoke', success: true,
 *     failureClass: 'none', phaseSeconds: { dns: 0, connect: 0.001, tls: 0, ttfb: 0.004, transfer: 0.001, total: 0.006 } });
 *   series.render(); // '# HELP vigil_probe_success …\nvigil_probe_success{service="prep-api",probe="health",kind="smoke"} 1\n…'
 */
export function createProbeSeries(): ProbeSeries {
  // Keyed by service and probe: the services of one daemon may each have a probe called `health`.
  const entries = new Map<string, ProbeEntry>();
  const keyOf = (probe: string, service: string | undefined): string => `${service ?? ''}\u0000${probe}`;
  let scratch = Buffer.allocUnsafe(0);

  const entryFor = (run: ProbeRun): ProbeEntry => {
    const key = keyOf(run.probe, run.service);
    const existing = entries.get(key);
    // A reload that changed the probe's kind starts its series afresh.
    if (existing && existing.kind === run.kind) return existing;
    const service = run.service === undefined ? '' : `service="${escapeLabel(run.service)}",`;
    const entry: ProbeEntry = {
      probe: run.probe,
      service: run.service,
      kind: run.kind,
      labels: `{${service}probe="${escapeLabel(run.probe)}",kind="${escapeLabel(run.kind)}"`,
      runs: new Map(),
      fragments: [NONE, NONE, NONE, NONE],
    };
    entries.set(key, entry);
    return entry;
  };

  return {
    record(run) {
      const entry = entryFor(run);
      const { labels, runs, fragments } = entry;
      fragments[0] = Buffer.from(`vigil_probe_success${labels}} ${run.success ? 1 : 0}\n`);
      let duration = '';
      for (const phase of PROBE_PHASES)
        duration += `vigil_probe_duration_seconds${labels},phase="${phase}"} ${seconds(run.phaseSeconds[phase])}\n`;
      fragments[1] = Buffer.from(duration);
      const failureClass = run.success ? 'none' : run.failureClass;
      runs.set(failureClass, (runs.get(failureClass) ?? 0) + 1);
      let counted = '';
      for (const [cls, count] of runs) {
        const result = cls === 'none' ? 'success' : 'failure';
        counted += `vigil_probe_runs_total${labels},result="${result}",class="${escapeLabel(cls)}"} ${count}\n`;
      }
      fragments[2] = Buffer.from(counted);
      // A run that saw no certificate (plain HTTP, or failed before the handshake) keeps the last one seen.
      if (run.certExpiresAt !== undefined) {
        const service = entry.service === undefined ? '' : `service="${escapeLabel(entry.service)}",`;
        fragments[3] = Buffer.from(
          `vigil_tls_cert_expiry_timestamp_seconds{${service}probe="${escapeLabel(run.probe)}"} ` +
            `${formatValue(run.certExpiresAt)}\n`,
        );
      }
    },
    remove(probe, service) {
      entries.delete(keyOf(probe, service));
    },
    retain(probes, service) {
      const keep = new Set(probes);
      let removed = 0;
      for (const [key, entry] of entries)
        if (entry.service === service && !keep.has(entry.probe)) {
          entries.delete(key);
          removed++;
        }
      return removed;
    },
    probes: (service) => [...entries.values()].filter((e) => e.service === service).map((e) => e.probe),
    render(prefix = '') {
      let size = Buffer.byteLength(prefix);
      for (const header of HEADERS) size += header.length;
      for (const entry of entries.values()) for (const fragment of entry.fragments) size += fragment.length;
      // One buffer kept across scrapes (grown, never shrunk below the largest exposition): a scrape
      // allocates only the string it returns.
      if (size > scratch.length) scratch = Buffer.allocUnsafe(Math.ceil(size * 1.25));
      let at = scratch.write(prefix, 0);
      for (let family = 0; family < HEADERS.length; family++) {
        at += (HEADERS[family] as Buffer).copy(scratch, at);
        for (const entry of entries.values()) at += (entry.fragments[family] as Buffer).copy(scratch, at);
      }
      return scratch.toString('utf8', 0, at);
    },
  };
}
