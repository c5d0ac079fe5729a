import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ProbeConfig } from '../config/schema.js';
import { VigilError } from '../errors.js';
import type { TlsSettings } from './connector.js';
import { createSharedConnection, type HttpOptions, type SharedConnection } from './http.js';
import type { JudgeTurns } from './turns.js';
import type { ProbeResult } from './types.js';

/** Where probes go when their requests give a path: the root config's target. */
export interface ProbeTarget {
  baseUrl: string;
  headers?: Readonly<Record<string, string>>;
}

/** A probe resolved once at load: base URL, CA bytes, redirect limit; what every run needs, ready. */
export interface PreparedProbe {
  readonly name: string;
  readonly kind: ProbeConfig['kind'];
  readonly config: ProbeConfig;
  readonly baseUrl: string;
  readonly headers: Readonly<Record<string, string>>;
  /** host:port of the first request, the key of the per-host concurrency cap. */
  readonly host: string;
  readonly http: Omit<HttpOptions, 'signal' | 'connection'>;
  /** Kept connection when `reuseConnection: true`, opened on first use. */
  connection?: SharedConnection;
}

/** What a run gets from its caller. */
export interface RunContext {
  /** Shutdown or the scheduler's cut-off; the probe's own timeout is added on top. */
  signal?: AbortSignal;
  /** Wall clock, ms since epoch (the injected Clock's `now`): startedAt and certificate days. */
  now: () => number;
  /** Where a finished exchange waits to be judged; default its own next check phase. */
  turns?: JudgeTurns;
}

/** The part of a ProbeResult each kind's runner fills in; the engine adds name, success and timing. */
export type RunnerOutcome = Pick<
  ProbeResult,
  'phases' | 'failure' | 'assertions' | 'steps' | 'status' | 'tls' | 'bodyTruncated'
> & {
  /** The time on the wire when the runner measured it (smoke: the exchange); else the engine's wall time. */
  durationMs?: number;
};

/** One probe kind's runner (smoke.ts, steps.ts), registered in the engine's map. */
export type Runner = (probe: PreparedProbe, ctx: RunContext) => Promise<RunnerOutcome>;

const REDIRECT_LIMIT = 5;

function firstRequestUrl(config: ProbeConfig, baseUrl: string): URL {
  const request = config.kind === 'smoke' ? config.request : config.steps[0]?.request;
  try {
    return new URL(request?.url && !request.url.includes('{{') ? request.url : baseUrl);
  } catch {
    return new URL(baseUrl);
  }
}

/**
 * Resolves a parsed probe for running: joins the target, reads the CA file (once, here, so a missing
 * file is a load error and not a failure on every run), turns `followRedirects` into a hop limit.
 *
 * @example const probe = prepareProbe(probeSchema.parse(raw), { baseUrl: 'http://127.0.0.1:8080' }, process.cwd());
 */
export function prepareProbe(config: ProbeConfig, target: ProbeTarget, baseDir = '.'): PreparedProbe {
  const baseUrl = config.baseUrl ?? target.baseUrl;
  let ca: Buffer | undefined;
  if (config.tls?.caFile) {
    const file = resolve(baseDir, config.tls.caFile);
    try {
      ca = readFileSync(file);
    } catch (error) {
      throw new VigilError('PROBE_CA_FILE', `probe ${config.name}: cannot read tls.caFile ${file}`, {
        cause: error,
      });
    }
  }
  const tls: TlsSettings = {
    rejectUnauthorized: !(config.tls?.insecureSkipVerify ?? false),
    ...(ca ? { ca } : {}),
    ...(config.tls?.serverName ? { serverName: config.tls.serverName } : {}),
  };
  const redirects = config.followRedirects;
  const url = firstRequestUrl(config, baseUrl);
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return {
    name: config.name,
    kind: config.kind,
    config,
    baseUrl,
    headers: { ...(target.headers ?? {}) },
    host: `${url.hostname}:${port}`,
    http: {
      timeoutMs: config.timeout,
      maxBodyBytes: config.maxBodyBytes,
      maxRedirects: redirects === true ? REDIRECT_LIMIT : redirects === false ? 0 : redirects,
      tls,
      family: config.ipVersion === 'ipv4' ? 4 : config.ipVersion === 'ipv6' ? 6 : 0,
    },
  };
}

/**
 * The HTTP options of one exchange of `probe`, opening its kept connection on first use.
 *
 * @example await timedRequest(req, httpOptionsFor(probe, signal, 2000));
 */
export function httpOptionsFor(
  probe: PreparedProbe,
  signal: AbortSignal | undefined,
  timeoutMs: number,
): HttpOptions {
  if (probe.config.reuseConnection && !probe.connection)
    probe.connection = createSharedConnection(probe.http);
  return {
    ...probe.http,
    timeoutMs,
    ...(signal ? { signal } : {}),
    ...(probe.connection ? { connection: probe.connection } : {}),
  };
}
