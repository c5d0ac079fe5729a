import type { Readable } from 'node:stream';
import { Agent, type Dispatcher, request } from 'undici';
import { classifyError } from './classify.js';
import { type ConnectionTimings, createTimedConnector, type TlsSettings } from './connector.js';
import type { PhaseTimings, ProbeFailure, TlsInfo } from './types.js';

/** One HTTP request, fully rendered (templates already applied, auth already in the headers). */
export interface HttpRequest {
  url: string;
  method: Dispatcher.HttpMethod;
  headers: Record<string, string>;
  body?: string;
}

export interface HttpOptions {
  /** Deadline for the whole exchange, redirects and body included. */
  timeoutMs: number;
  maxBodyBytes: number;
  /** 0 answers the first response as is. */
  maxRedirects: number;
  tls: TlsSettings;
  family: 0 | 4 | 6;
  /** The caller's signal (shutdown); its abort ends the exchange like the deadline does. */
  signal?: AbortSignal;
  /** A kept connection for `reuseConnection: true`; absent means a fresh connection for this exchange. */
  connection?: SharedConnection;
}

/** What a probe learns from one exchange. `status` is absent when no response arrived. */
export interface HttpExchange {
  url: string;
  status?: number;
  /** Lower-cased names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: Buffer;
  bodyTruncated: boolean;
  phases: PhaseTimings;
  durationMs: number;
  tls?: TlsInfo;
  failure: ProbeFailure | null;
}

/**
 * A dispatcher kept across runs of one probe (`reuseConnection: true`). Runs of one probe never overlap
 * (the scheduler guarantees it), so connection timings go to the run in progress.
 */
export interface SharedConnection {
  readonly dispatcher: Agent;
  /** Timings of connections opened during the current exchange. */
  opened: ConnectionTimings[];
  /** TLS facts of the last handshake, reported again on runs that reuse its socket. */
  lastTls?: TlsInfo;
  close(): Promise<void>;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

function createDispatcher(options: HttpOptions, opened: ConnectionTimings[], keepAlive: boolean): Agent {
  const connect = createTimedConnector(
    { connectTimeoutMs: options.timeoutMs, tls: options.tls, family: options.family },
    (timings) => opened.push(timings),
  );
  return new Agent({
    connect,
    connections: 1,
    // pipelining 0 closes the socket after the response: nothing lingers after a fresh-connection run.
    pipelining: keepAlive ? 1 : 0,
    headersTimeout: options.timeoutMs,
    bodyTimeout: options.timeoutMs,
  });
}

/**
 * Opens a connection holder for probes with `reuseConnection: true`.
 *
 * @example const shared = createSharedConnection(opts); await timedRequest(req, { ...opts, connection: shared });
 */
export function createSharedConnection(
  options: Omit<HttpOptions, 'connection' | 'signal'>,
): SharedConnection {
  const opened: ConnectionTimings[] = [];
  const dispatcher = createDispatcher(options, opened, true);
  return { dispatcher, opened, close: () => dispatcher.close() };
}

function joinHeaders(raw: Record<string, string | string[] | undefined>): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

function phasesOf(
  opened: readonly ConnectionTimings[],
  hopStart: number,
  headersAt: number | undefined,
  end: number,
) {
  const phases: PhaseTimings = { dnsMs: 0, connectMs: 0, tlsMs: 0, ttfbMs: 0, transferMs: 0 };
  let readyAt = hopStart;
  for (const [i, c] of opened.entries()) {
    // The wait between the request start and the connector call is counted with the first connection phase.
    const from = i === 0 ? hopStart : c.startedAt;
    if (c.lookupAt !== undefined) phases.dnsMs += c.lookupAt - from;
    if (c.connectedAt !== undefined) phases.connectMs += c.connectedAt - (c.lookupAt ?? from);
    if (c.secureAt !== undefined && c.connectedAt !== undefined) phases.tlsMs += c.secureAt - c.connectedAt;
    readyAt = c.secureAt ?? c.connectedAt ?? readyAt;
  }
  if (headersAt !== undefined) {
    phases.ttfbMs = Math.max(0, headersAt - readyAt);
    phases.transferMs = Math.max(0, end - headersAt);
  }
  return phases;
}

function addPhases(into: PhaseTimings, more: PhaseTimings): void {
  into.dnsMs += more.dnsMs;
  into.connectMs += more.connectMs;
  into.tlsMs += more.tlsMs;
  into.ttfbMs += more.ttfbMs;
  into.transferMs += more.transferMs;
}

/**
 * Reads at most `max` bytes; a bigger body is cut there and the rest is never buffered. Stream events
 * rather than async iteration: the iterator's promise per chunk costs more CPU than the probe itself.
 */
function readCapped(body: Readable, max: number): Promise<{ body: Buffer; truncated: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    body.on('data', (chunk: Buffer) => {
      if (size + chunk.length > max) {
        chunks.push(chunk.subarray(0, max - size));
        size = max;
        body.removeAllListeners('data');
        body.removeAllListeners('error');
        body.on('error', () => {});
        body.destroy();
        resolve({ body: Buffer.concat(chunks), truncated: true });
        return;
      }
      chunks.push(chunk);
      size += chunk.length;
    });
    body.once('end', () =>
      resolve({
        body: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks),
        truncated: false,
      }),
    );
    body.once('error', reject);
  });
}

/**
 * Performs one HTTP exchange with timed phases (dns, connect, tls, ttfb, transfer), following redirects
 * up to `maxRedirects`, under one deadline. Network and protocol failures come back as a failed
 * exchange with its class, never as a thrown error.
 *
 * @example
 *   const x = await timedRequest({ url: 'http://127.0.0.1:8080/health', method: 'GET', headers: {} },
 *     { timeoutMs: 5000, maxBodyBytes: 1 << 20, maxRedirects: 0, tls: { rejectUnauthorized: true }, family: 0 });
 *   x.status // 200
 */
export async function timedRequest(req: HttpRequest, given: HttpOptions): Promise<HttpExchange> {
  // Timer APIs take whole milliseconds; a journey's remaining budget is fractional.
  const options = { ...given, timeoutMs: Math.max(1, Math.ceil(given.timeoutMs)) };
  // One controller per exchange, fed by the deadline and the caller's signal. AbortSignal.any() on the
  // scheduler's long-lived signal would hang a dependent on it for every run.
  const controller = new AbortController();
  const signal = controller.signal;
  const timer = setTimeout(() => controller.abort(new Error('probe deadline')), options.timeoutMs);
  const parent = options.signal;
  const onParentAbort = (): void => controller.abort(parent?.reason);
  if (parent?.aborted) controller.abort(parent.reason);
  else parent?.addEventListener('abort', onParentAbort, { once: true });
  const shared = options.connection;
  const opened: ConnectionTimings[] = shared ? shared.opened : [];
  if (shared) opened.length = 0;
  const dispatcher = shared ? shared.dispatcher : createDispatcher(options, opened, false);
  const phases: PhaseTimings = { dnsMs: 0, connectMs: 0, tlsMs: 0, ttfbMs: 0, transferMs: 0 };
  const started = performance.now();
  let url = req.url;
  let method = req.method;
  let body = req.body;
  let requestHeaders = req.headers;
  let tls: TlsInfo | undefined = shared?.lastTls;
  let headersAt: number | undefined;
  // One clock reading ends both the last phase and the duration, so the phases add up to it exactly.
  const exchange = (
    failure: ProbeFailure | null,
    end: number,
    rest: Partial<HttpExchange> = {},
  ): HttpExchange => ({
    url,
    headers: {},
    body: Buffer.alloc(0),
    bodyTruncated: false,
    phases,
    durationMs: end - started,
    ...(tls ? { tls } : {}),
    failure,
    ...rest,
  });
  let nextHopStart = started;
  try {
    for (let hop = 0; ; hop++) {
      const hopStart = nextHopStart;
      const firstConnection = opened.length;
      headersAt = undefined;
      try {
        const response = await request(url, { dispatcher, method, headers: requestHeaders, body, signal });
        headersAt = performance.now();
        const headers = joinHeaders(response.headers);
        const location = headers.location;
        if (
          REDIRECT_STATUSES.has(response.statusCode) &&
          location !== undefined &&
          hop < options.maxRedirects
        ) {
          await response.body.dump();
          nextHopStart = performance.now();
          addPhases(phases, phasesOf(opened.slice(firstConnection), hopStart, headersAt, nextHopStart));
          tls = opened.findLast((c) => c.tlsInfo)?.tlsInfo ?? tls;
          const next = new URL(location, url);
          // Credentials stay with the origin they were meant for, as browsers and curl do on redirects.
          if (next.origin !== new URL(url).origin) {
            const { authorization: _a, cookie: _c, 'proxy-authorization': _p, ...rest } = requestHeaders;
            requestHeaders = rest;
          }
          url = next.toString();
          // 303, and 301/302 after a POST, turn into a GET without a body (what browsers and curl do).
          if (response.statusCode === 303 || (response.statusCode !== 307 && response.statusCode !== 308)) {
            if (method !== 'HEAD') method = 'GET';
            body = undefined;
          }
          continue;
        }
        const read = await readCapped(response.body, options.maxBodyBytes);
        const end = performance.now();
        addPhases(phases, phasesOf(opened.slice(firstConnection), hopStart, headersAt, end));
        tls = opened.findLast((c) => c.tlsInfo)?.tlsInfo ?? tls;
        if (shared && tls) shared.lastTls = tls;
        return exchange(null, end, {
          status: response.statusCode,
          headers,
          body: read.body,
          bodyTruncated: read.truncated,
        });
      } catch (error) {
        const end = performance.now();
        const current = opened.slice(firstConnection);
        addPhases(phases, phasesOf(current, hopStart, headersAt, end));
        const last = current.at(-1);
        const failure = classifyError(error, {
          aborted: signal.aborted,
          cancelled: parent?.aborted === true,
          timeoutMs: options.timeoutMs,
          inHandshake: last?.tls === true && last.connectedAt !== undefined && last.secureAt === undefined,
          gotHeaders: headersAt !== undefined,
        });
        return exchange(failure, end);
      }
    }
  } finally {
    clearTimeout(timer);
    parent?.removeEventListener('abort', onParentAbort);
    // A fresh-connection exchange owns its dispatcher; destroying it frees the socket at once.
    if (!shared) dispatcher.destroy().catch(() => {});
  }
}
