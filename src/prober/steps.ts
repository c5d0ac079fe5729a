import { Buffer } from 'node:buffer';
import type { RequestConfig, StepConfig, SyntheticProbeConfig } from '../config/schema.js';
import { errorMessage } from '../errors.js';
import { checkAssertion, type ResponseFacts, selectJsonPath } from './assertions.js';
import { type HttpExchange, type HttpRequest, timedRequest } from './http.js';
import { httpOptionsFor, type PreparedProbe, type RunContext, type RunnerOutcome } from './prepare.js';
import {
  MissingVariableError,
  renderString,
  renderUrlPart,
  renderValue,
  templateVariables,
  UnsafeVariableError,
  type Variables,
} from './template.js';
import type { AssertionOutcome, PhaseTimings, ProbeFailure, ProbeResult } from './types.js';

const ZERO_PHASES: PhaseTimings = { dnsMs: 0, connectMs: 0, tlsMs: 0, ttfbMs: 0, transferMs: 0 };

/** `scheme://host[:port]` followed by the start of a path, query or fragment: the host is fixed text. */
const FIXED_ORIGIN = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*[/?#]/i;

/**
 * The origin a request must keep: the target's for a `path`; for a `url`, the origin written before its
 * first template, when the template's literal text fixes one (a variable host is the author's choice).
 */
function intendedOrigin(probe: PreparedProbe, request: RequestConfig): string | undefined {
  if (request.url === undefined) return new URL(probe.baseUrl).origin;
  const fixed = FIXED_ORIGIN.exec(request.url.split('{{')[0] ?? '')?.[0];
  return fixed !== undefined && URL.canParse(fixed) ? new URL(fixed).origin : undefined;
}

/**
 * Renders a configured request with the journey's variables into a concrete HTTP request, auth included.
 *
 * @example buildRequest(probe, { method: 'GET', path: '/b/{{id}}', headers: {}, query: {} }, { id: 7 }).url
 *   // 'http://127.0.0.1:8080/b/7'
 */
export function buildRequest(probe: PreparedProbe, request: RequestConfig, vars: Variables): HttpRequest {
  // Values in a path or URL are percent-encoded (renderUrlPart); the origin check is the backstop for a
  // template whose own text lets a value reach the authority (`path: "{{next}}"` with no leading slash).
  const rendered =
    request.url !== undefined
      ? renderUrlPart(request.url, vars)
      : probe.baseUrl.replace(/\/+$/, '') + renderUrlPart(request.path ?? '/', vars);
  if (!URL.canParse(rendered)) throw new UnsafeVariableError('the rendered URL is not a valid URL');
  const url = new URL(rendered);
  const intended = intendedOrigin(probe, request);
  if (intended !== undefined && url.origin !== intended) {
    throw new UnsafeVariableError(`the rendered URL leaves ${intended}: refused`);
  }
  for (const [key, value] of Object.entries(request.query)) {
    url.searchParams.append(key, renderString(String(value), vars));
  }
  const headers: Record<string, string> = { ...probe.headers };
  for (const [key, value] of Object.entries(request.headers))
    headers[key.toLowerCase()] = renderString(value, vars);
  if (request.auth && 'bearer' in request.auth) headers.authorization = `Bearer ${request.auth.bearer}`;
  if (request.auth && 'basic' in request.auth) {
    const { username, password } = request.auth.basic;
    headers.authorization = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  }
  let body: string | undefined;
  if (request.json !== undefined) {
    body = JSON.stringify(renderValue(request.json, vars));
    headers['content-type'] ??= 'application/json';
  } else if (request.form !== undefined) {
    const form = new URLSearchParams();
    for (const [key, value] of Object.entries(request.form)) form.append(key, renderString(value, vars));
    body = form.toString();
    headers['content-type'] ??= 'application/x-www-form-urlencoded';
  } else if (request.body !== undefined) {
    body = renderString(request.body, vars);
    headers['content-type'] ??= 'text/plain; charset=utf-8';
  }
  return { url: url.toString(), method: request.method, headers, ...(body !== undefined ? { body } : {}) };
}

// Extraction regexes compile once per configured spec; the config is frozen, so its objects are stable keys.
const REGEX_CACHE = new WeakMap<object, RegExp>();
function compiledRegex(spec: { regex: string }): RegExp {
  let re = REGEX_CACHE.get(spec);
  if (!re) {
    re = new RegExp(spec.regex);
    REGEX_CACHE.set(spec, re);
  }
  return re;
}

function extractValues(
  step: StepConfig,
  exchange: HttpExchange,
  facts: ResponseFacts,
): { values: Record<string, unknown>; failure?: ProbeFailure } {
  const values: Record<string, unknown> = {};
  let failure: ProbeFailure | undefined;
  for (const [name, spec] of Object.entries(step.extract ?? {})) {
    let value: unknown;
    let from: string;
    if (typeof spec === 'string' || 'jsonPath' in spec) {
      const path = typeof spec === 'string' ? spec : spec.jsonPath;
      from = `JSONPath ${path}`;
      value = selectJsonPath(facts, path);
    } else if ('header' in spec) {
      from = `header ${spec.header}`;
      value = exchange.headers[spec.header.toLowerCase()];
    } else {
      from = `regex /${spec.regex}/ group ${spec.group}`;
      try {
        value = compiledRegex(spec).exec(facts.bodyText)?.[spec.group];
      } catch (error) {
        failure ??= { class: 'extract', message: `extract ${name}: invalid ${from}: ${errorMessage(error)}` };
        continue;
      }
    }
    if (value === undefined || value === null || value === '') {
      // Keep going: the other values may still be needed by the teardown.
      failure ??= { class: 'extract', message: `extract ${name}: ${from} found nothing in the response` };
      continue;
    }
    values[name] = value;
  }
  return failure ? { values, failure } : { values };
}

/** The outcome of one request with its checks: a step of a journey, or the whole of a smoke probe. */
export interface StepRun {
  result: ProbeResult;
  /** Variables this step extracted (kept also when it failed, for the teardown). */
  extracted: Record<string, unknown>;
}

/**
 * Sends one step's request and judges the answer: assertions, then extraction into variables.
 *
 * @example const { result, extracted } = await runStep(probe, step, 'create', {}, ctx, 5000);
 */
export async function runStep(
  probe: PreparedProbe,
  step: StepConfig,
  name: string,
  vars: Variables,
  ctx: RunContext,
  timeoutMs: number,
): Promise<StepRun> {
  const startedAt = new Date(ctx.now()).toISOString();
  const started = performance.now();
  const result = (failure: ProbeFailure | null, rest: Partial<ProbeResult> = {}): ProbeResult => ({
    probe: name,
    kind: probe.kind,
    success: failure === null,
    startedAt,
    durationMs: performance.now() - started,
    phases: { ...ZERO_PHASES },
    failure,
    assertions: [],
    steps: [],
    ...rest,
  });
  let request: HttpRequest;
  let expected: unknown[];
  try {
    request = buildRequest(probe, step.request, vars);
    expected = step.expect.map((a) =>
      a.expected instanceof RegExp ? a.expected : renderValue(a.expected, vars),
    );
  } catch (error) {
    if (!(error instanceof MissingVariableError || error instanceof UnsafeVariableError)) throw error;
    return {
      result: result({ class: 'extract', message: error.message }),
      extracted: {},
    };
  }
  const exchange = await timedRequest(request, httpOptionsFor(probe, ctx.signal, timeoutMs));
  // The answer is judged in a check phase, once the poll phase has read every socket that is ready:
  // the other probes' responses get their end times read before this one's assertions, metrics and
  // rollup run, instead of waiting behind them (at 300 probes/s that queue is the tail of the error).
  // The daemon's turns judge one exchange per check phase (src/prober/turns.ts).
  await (ctx.turns ? ctx.turns.next() : new Promise<void>((resolve) => setImmediate(resolve)));
  const base: Partial<ProbeResult> = {
    durationMs: exchange.durationMs,
    phases: exchange.phases,
    ...(exchange.status !== undefined ? { status: exchange.status } : {}),
    ...(exchange.tls ? { tls: exchange.tls } : {}),
    ...(exchange.bodyTruncated ? { bodyTruncated: true } : {}),
  };
  if (exchange.failure) return { result: result(exchange.failure, base), extracted: {} };
  const facts: ResponseFacts = {
    ...(exchange.status !== undefined ? { status: exchange.status } : {}),
    headers: exchange.headers,
    bodyText: exchange.body.toString('utf8'),
    bodyTruncated: exchange.bodyTruncated,
    durationMs: exchange.durationMs,
    phases: exchange.phases,
    ...(exchange.tls ? { tls: exchange.tls } : {}),
    now: ctx.now(),
  };
  const assertions: AssertionOutcome[] = [];
  const messages: string[] = [];
  step.expect.forEach((assertion, i) => {
    const checked = checkAssertion(assertion, facts, expected[i]);
    assertions.push(checked.outcome);
    if (checked.message) messages.push(checked.message);
  });
  // Values are extracted even when an assertion failed: the teardown needs the id of what a slow or
  // half-wrong step created.
  const extraction = extractValues(step, exchange, facts);
  const failure: ProbeFailure | null =
    messages.length > 0 ? { class: 'assertion', message: messages.join('; ') } : (extraction.failure ?? null);
  return {
    result: result(failure, { ...base, assertions }),
    extracted: extraction.values,
  };
}

function sumPhases(steps: readonly ProbeResult[]): PhaseTimings {
  const total = { ...ZERO_PHASES };
  for (const s of steps) {
    for (const key of Object.keys(total) as (keyof PhaseTimings)[]) total[key] += s.phases[key];
  }
  return total;
}

/**
 * Runs a synthetic journey: steps in order, each seeing the variables extracted before it, stopping at
 * the first failure; then every teardown step, always, each with a fresh deadline so cleanup still runs
 * after a timeout. A teardown step whose variables were never extracted (its resource was never made)
 * is recorded as skipped. The journey fails with its first failing step, or its first failing teardown.
 *
 * @example const outcome = await runJourney(prepareProbe(bookingJourney, target), { now: Date.now });
 */
export async function runJourney(probe: PreparedProbe, ctx: RunContext): Promise<RunnerOutcome> {
  const config = probe.config as SyntheticProbeConfig;
  const deadline = performance.now() + config.timeout;
  const vars: Record<string, unknown> = {};
  const steps: ProbeResult[] = [];
  let failure: ProbeFailure | null = null;
  for (const [i, step] of config.steps.entries()) {
    const name = step.name ?? `step-${i + 1}`;
    const remainingMs = Math.max(1, deadline - performance.now());
    const run = await runStep(probe, step, name, vars, ctx, remainingMs);
    steps.push(run.result);
    Object.assign(vars, run.extracted);
    if (run.result.failure) {
      failure = { class: run.result.failure.class, message: `step ${name}: ${run.result.failure.message}` };
      break;
    }
  }
  const status = steps.findLast((s) => s.status !== undefined)?.status;
  for (const [i, step] of config.teardown.entries()) {
    const name = step.name ?? `teardown-${i + 1}`;
    const missing = templateVariables(step).filter((v) => !v.startsWith('env.') && vars[v] === undefined);
    if (missing.length > 0) {
      steps.push({
        probe: name,
        kind: probe.kind,
        success: true,
        skipped: `not run: ${missing.join(', ')} never extracted`,
        startedAt: new Date(ctx.now()).toISOString(),
        durationMs: 0,
        phases: { ...ZERO_PHASES },
        failure: null,
        assertions: [],
        steps: [],
      });
      continue;
    }
    try {
      const run = await runStep(probe, step, name, vars, ctx, config.timeout);
      steps.push(run.result);
      if (run.result.failure && !failure) {
        failure = {
          class: run.result.failure.class,
          message: `teardown ${name}: ${run.result.failure.message}`,
        };
      }
    } catch (error) {
      if (!failure) failure = { class: 'http', message: `teardown ${name}: ${errorMessage(error)}` };
    }
  }
  const withTls = steps.find((s) => s.tls);
  return {
    phases: sumPhases(steps),
    failure,
    assertions: [],
    steps,
    ...(status !== undefined ? { status } : {}),
    ...(withTls?.tls ? { tls: withTls.tls } : {}),
  };
}
