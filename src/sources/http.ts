import { performance } from 'node:perf_hooks';
import { type Dispatcher, request } from 'undici';
import type { SourceConfig } from '../config/schema.js';
import { scrubCredentials } from '../redact.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { ResilienceOptions } from './resilience.js';
import { SourceUnavailableError } from './types.js';

/*
 * The HTTP side every remote SLI source shares: auth headers, a per-request deadline joined to the
 * caller's signal, a capped body read, and one table from transport failures and HTTP statuses to the
 * `reason` label of SourceUnavailableError. Messages name the origin only: never a header, a password
 * or the user-info part of a URL.
 */

/** Answers larger than this are refused: an SLI query never needs more, and a runaway one must not OOM us. */
const MAX_BODY_BYTES = 32 * 1024 * 1024;

/** What every remote source takes besides its config. */
export interface SourceDeps {
  /** undici Agent shared by the daemon's HTTP clients (closed by its owner). */
  dispatcher: Dispatcher;
  metrics?: Metrics;
  logger?: Logger;
  resilience?: Partial<ResilienceOptions>;
}

/** A source's resolved connection: where, how long, and which headers (auth and tenant included). */
export interface HttpEndpoint {
  /** Base URL without a trailing slash and without user info; may carry a path prefix (Mimir, Thanos). */
  baseUrl: string;
  /** Origin for messages: scheme, host and port only. */
  origin: string;
  timeoutMs: number;
  headers: Record<string, string>;
}

/** What came back, whatever the status: sources decide what a status means for them. */
export interface HttpAnswer {
  status: number;
  contentType: string;
  text: string;
  durationMs: number;
}

export interface HttpCall {
  method: 'GET' | 'POST';
  path: string;
  /** Query parameters (GET) or form fields (POST, application/x-www-form-urlencoded). */
  params?: Record<string, string>;
}

/**
 * Resolves a source config into an endpoint: bearer or basic auth, extra headers, `X-Scope-OrgID`.
 * Credentials in the URL (`http://user:pass@host`) become basic auth so they never appear in messages.
 *
 * @example endpointFromConfig({ url: 'http://127.0.0.1:9090', timeout: 10_000, headers: {}, tenant: 'team-a' })
 */
export function endpointFromConfig(config: SourceConfig): HttpEndpoint {
  const url = new URL(config.url);
  const headers: Record<string, string> = { accept: 'application/json' };
  for (const [name, value] of Object.entries(config.headers)) headers[name.toLowerCase()] = value;
  if (url.username !== '' || url.password !== '') {
    const user = decodeURIComponent(url.username);
    const password = decodeURIComponent(url.password);
    headers.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    url.username = '';
    url.password = '';
  }
  if (config.basicAuth) {
    const { username, password } = config.basicAuth;
    headers.authorization = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  }
  if (config.bearerToken) headers.authorization = `Bearer ${config.bearerToken}`;
  if (config.tenant) headers['x-scope-orgid'] = config.tenant;
  return {
    baseUrl: `${url.origin}${url.pathname.replace(/\/+$/, '')}`,
    origin: url.origin,
    timeoutMs: config.timeout,
    headers,
  };
}

/**
 * Sends one request under the endpoint's timeout and the caller's signal, and reads the whole body.
 * Transport failures become SourceUnavailableError (`timeout`, `connect`, `dns`, `socket`, `aborted`);
 * any HTTP status is returned for the source to interpret.
 *
 * @example const answer = await sendRequest(endpoint, agent, { method: 'GET', path: '/-/ready' }, signal);
 */
export async function sendRequest(
  endpoint: HttpEndpoint,
  dispatcher: Dispatcher,
  call: HttpCall,
  signal?: AbortSignal,
): Promise<HttpAnswer> {
  const deadline = AbortSignal.timeout(endpoint.timeoutMs);
  const combined = signal ? AbortSignal.any([signal, deadline]) : deadline;
  const started = performance.now();
  const params = new URLSearchParams(call.params ?? {}).toString();
  const isPost = call.method === 'POST';
  const url = `${endpoint.baseUrl}${call.path}${!isPost && params ? `?${params}` : ''}`;
  try {
    const response = await request(url, {
      method: call.method,
      dispatcher,
      signal: combined,
      headers: isPost
        ? { ...endpoint.headers, 'content-type': 'application/x-www-form-urlencoded' }
        : endpoint.headers,
      body: isPost ? params : undefined,
      headersTimeout: endpoint.timeoutMs,
      bodyTimeout: endpoint.timeoutMs,
    });
    const body = await readCapped(response.body);
    // Error answers end up in explanations and logs; strip any credential the peer echoes back.
    const text = response.statusCode >= 300 ? scrubCredentials(body, endpoint.headers) : body;
    const contentType = String(response.headers['content-type'] ?? '');
    return { status: response.statusCode, contentType, text, durationMs: performance.now() - started };
  } catch (error) {
    if (error instanceof SourceUnavailableError) throw error;
    throw transportError(endpoint, error, {
      callerAborted: signal?.aborted === true,
      timedOut: deadline.aborted,
    });
  }
}

async function readCapped(body: Dispatcher.ResponseData['body']): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    size += buffer.length;
    if (size > MAX_BODY_BYTES) {
      body.destroy();
      throw new SourceUnavailableError('bad_response', `the answer exceeded ${MAX_BODY_BYTES} bytes`);
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'EADDRNOTAVAIL',
]);
const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME']);
const TIMEOUT_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ETIMEDOUT',
]);

/** Maps a thrown transport error to a SourceUnavailableError by its `code` (undici and Node both set one). */
function transportError(
  endpoint: HttpEndpoint,
  error: unknown,
  state: { callerAborted: boolean; timedOut: boolean },
): SourceUnavailableError {
  const code = errorCode(error);
  const at = endpoint.origin;
  if (state.callerAborted)
    return new SourceUnavailableError('aborted', `request to ${at} was abandoned by its caller`, {
      cause: error,
    });
  if (state.timedOut || (code !== undefined && TIMEOUT_CODES.has(code))) {
    return new SourceUnavailableError('timeout', `${at} did not answer within ${endpoint.timeoutMs} ms`, {
      cause: error,
    });
  }
  if (code !== undefined && DNS_CODES.has(code)) {
    return new SourceUnavailableError('dns', `cannot resolve the host of ${at} (${code})`, { cause: error });
  }
  if (code !== undefined && CONNECT_CODES.has(code)) {
    return new SourceUnavailableError('connect', `cannot connect to ${at} (${code})`, { cause: error });
  }
  if (code === 'UND_ERR_SOCKET' || code === 'UND_ERR_CLOSED') {
    return new SourceUnavailableError('socket', `${at} closed the connection before answering`, {
      cause: error,
    });
  }
  return new SourceUnavailableError('connect', `request to ${at} failed (${code ?? 'unknown error'})`, {
    cause: error,
  });
}

function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  // AggregateError (happy eyeballs: IPv4 and IPv6 both refused) keeps the codes in `errors`.
  const inner = (error as { errors?: unknown }).errors;
  if (Array.isArray(inner)) return errorCode(inner[0]);
  return undefined;
}

/**
 * The error for an HTTP status a source did not understand as one of its own answers: auth problems,
 * rate limits, 5xx and plain "Service Unavailable" pages during startup.
 *
 * @example statusError('Prometheus', endpoint, { status: 503, text: 'Service Unavailable', ... })
 */
export function statusError(
  sourceName: string,
  endpoint: HttpEndpoint,
  answer: HttpAnswer,
): SourceUnavailableError {
  const snippet = bodySnippet(answer.text);
  const what = `${sourceName} at ${endpoint.origin} answered HTTP ${answer.status}${snippet ? `: ${snippet}` : ''}`;
  return new SourceUnavailableError(reasonForStatus(answer.status), what);
}

/** The `reason` label for an HTTP status (DESIGN §8: bounded label values). */
export function reasonForStatus(status: number): string {
  if (status === 401 || status === 403) return 'auth';
  if (status === 429) return 'rate_limited';
  if (status === 503 || status === 502 || status === 504) return 'unavailable';
  if (status >= 500) return 'http_5xx';
  if (status >= 400) return 'http_4xx';
  return 'bad_response';
}

/** The first line of a body, trimmed and capped, for messages. */
export function bodySnippet(text: string, max = 300): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** Parses JSON when the body is JSON; Loki sends plain-text errors under a JSON content type. */
export function parseJsonOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * The `version` of a buildinfo answer (Prometheus `/api/v1/status/buildinfo`, Loki
 * `/loki/api/v1/status/buildinfo`); undefined when the backend does not serve it (Thanos, proxies):
 * being online never depends on it.
 *
 * @example await readBuildVersion(endpoint, agent, '/api/v1/status/buildinfo') // '2.42.0+ds'
 */
export async function readBuildVersion(
  endpoint: HttpEndpoint,
  dispatcher: Dispatcher,
  path: string,
  signal?: AbortSignal,
): Promise<string | undefined> {
  try {
    const answer = await sendRequest(endpoint, dispatcher, { method: 'GET', path }, signal);
    if (answer.status !== 200) return undefined;
    const body = parseJsonOrUndefined(answer.text) as
      | { version?: unknown; data?: { version?: unknown } }
      | undefined;
    // Prometheus wraps it in its envelope; Loki answers the bare object.
    const version = body?.data?.version ?? body?.version;
    return typeof version === 'string' ? version : undefined;
  } catch {
    return undefined;
  }
}
