import http, { type ClientRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import { classifyError } from './classify.js';
import {
  type ConnectionTimings,
  createTimedConnector,
  type TimedConnector,
  type TlsSettings,
} from './connector.js';
import type { PhaseTimings, ProbeFailure, TlsInfo } from './types.js';

/** One HTTP request, fully rendered (templates already applied, auth already in the headers). */
export interface HttpRequest {
  url: string;
  /** Upper-case method name, e.g. `GET`. */
  method: string;
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
 * A connection kept across runs of one probe (`reuseConnection: true`). Runs of one probe never overlap
 * (the scheduler guarantees it), so connection timings go to the run in progress.
 */
export interface SharedConnection {
  /** The keep-alive agent for `protocol` (node:http refuses an https URL on an http agent). */
  agentFor(protocol: string): http.Agent;
  /** Timings of connections opened during the current exchange. */
  opened: ConnectionTimings[];
  /** TLS facts of the last handshake, reported again on runs that reuse its socket. */
  lastTls?: TlsInfo;
  close(): Promise<void>;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/**
 * Opens a connection holder for probes with `reuseConnection: true`: one socket per origin, kept alive
 * between runs, opened by the same timed connector as a fresh connection.
 *
 * @example const shared = createSharedConnection(opts); await timedRequest(req, { ...opts, connection: shared });
 */
export function createSharedConnection(
  options: Omit<HttpOptions, 'connection' | 'signal'>,
): SharedConnection {
  const opened: ConnectionTimings[] = [];
  const connect = createTimedConnector({ tls: options.tls, family: options.family, keepAlive: true }, (t) =>
    opened.push(t),
  );
  const agents = new Map<string, http.Agent>();
  return {
    opened,
    agentFor(protocol) {
      let agent = agents.get(protocol);
      if (!agent) {
        const settings = { keepAlive: true, maxSockets: 1 };
        agent = protocol === 'https:' ? new https.Agent(settings) : new http.Agent(settings);
        // The agent's own connector would bypass the timings (and, for https, resume TLS sessions).
        Object.assign(agent, {
          createConnection: (o: { host?: string | null; port?: number | string | null }) =>
            connect({ protocol, host: o.host ?? 'localhost', port: Number(o.port) }),
        });
        agents.set(protocol, agent);
      }
      return agent;
    },
    close: async () => {
      for (const agent of agents.values()) agent.destroy();
      agents.clear();
    },
  };
}

function joinHeaders(raw: IncomingHttpHeaders): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const name in raw) {
    const value = raw[name];
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
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

/** How one hop ended: a complete (or capped) response, or an error with how far it got. */
interface HopOutcome {
  status?: number;
  headers?: Record<string, string>;
  body?: Buffer;
  truncated?: boolean;
  /** A redirect to follow: its body was drained, not kept. */
  redirect?: boolean;
  headersAt?: number;
  end: number;
  error?: unknown;
}

/** How an exchange reaches its hop in progress to end it (deadline or the caller's abort). */
interface HopAbort {
  current?: (error: unknown) => void;
}

const EMPTY = Buffer.alloc(0);

function openRequest(
  url: URL,
  req: HttpRequest,
  route: { connect: TimedConnector } | { agent: http.Agent },
  host: string,
  port: number,
): ClientRequest {
  return (url.protocol === 'https:' ? https : http).request({
    protocol: url.protocol,
    host,
    port,
    method: req.method,
    path: url.pathname + url.search,
    // The Host header as a browser sends it (default port left out), unless the probe sets its own.
    setHost: false,
    headers: { host: url.host, ...req.headers },
    // Repeated headers arrive joined with ", ", as the assertions expect, none dropped.
    joinDuplicateHeaders: true,
    ...('agent' in route
      ? { agent: route.agent }
      : { createConnection: () => route.connect({ protocol: url.protocol, host, port }) }),
  });
}

/**
 * Sends one request and reads its answer. The body is read to at most `maxBodyBytes` (a bigger body is
 * cut there, the rest never buffered) or, for a redirect to follow, drained. Never rejects: an error comes back in
 * the outcome, with the time the headers arrived if they did.
 */
function sendHop(
  url: URL,
  req: HttpRequest,
  route: { connect: TimedConnector } | { agent: http.Agent },
  maxBodyBytes: number,
  followRedirect: boolean,
  abort: HopAbort,
): Promise<HopOutcome> {
  return new Promise((resolve) => {
    // URL keeps the brackets of an IPv6 literal; sockets want the bare address.
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
    let headersAt: number | undefined;
    let settled = false;
    let response: IncomingMessage | undefined;
    const finish = (outcome: HopOutcome): void => {
      if (settled) return;
      settled = true;
      abort.current = undefined;
      resolve(outcome);
    };
    let request: ClientRequest | undefined;
    const fail = (error: unknown): void => {
      if (settled) return;
      request?.destroy();
      response?.destroy();
      finish({ error, end: performance.now(), ...(headersAt !== undefined ? { headersAt } : {}) });
    };
    try {
      request = openRequest(url, req, route, host, port);
    } catch (error) {
      // Refused before anything is sent: a header value with a control character, a redirect to ftp:.
      fail(error);
      return;
    }
    abort.current = fail;
    // Kept for the whole hop: a socket error after the headers is also reported on the request.
    request.on('error', fail);
    request.once('response', (res: IncomingMessage) => {
      headersAt = performance.now();
      response = res;
      res.on('error', fail);
      const status = res.statusCode ?? 0;
      const headers = joinHeaders(res.headers);
      if (followRedirect && REDIRECT_STATUSES.has(status) && headers.location !== undefined) {
        res.once('end', () => finish({ status, headers, redirect: true, headersAt, end: performance.now() }));
        res.resume();
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        if (size + chunk.length <= maxBodyBytes) {
          chunks.push(chunk);
          size += chunk.length;
          return;
        }
        chunks.push(chunk.subarray(0, maxBodyBytes - size));
        const end = performance.now();
        res.destroy();
        finish({ status, headers, body: Buffer.concat(chunks), truncated: true, headersAt, end });
      });
      res.once('end', () =>
        finish({
          status,
          headers,
          body:
            chunks.length === 1 ? (chunks[0] as Buffer) : chunks.length === 0 ? EMPTY : Buffer.concat(chunks),
          truncated: false,
          headersAt,
          end: performance.now(),
        }),
      );
    });
    request.end(req.body);
  });
}

/**
 * Performs one HTTP exchange with timed phases (dns, connect, tls, ttfb, transfer), following redirects
 * up to `maxRedirects`, under one deadline. Network and protocol failures come back as a failed
 * exchange with its class, never as a thrown error.
 *
 * node:http on a socket of our own (no agent) rather than undici: at a probe per fresh connection, an
 * undici Agent and Client per exchange cost about a quarter more CPU than the request itself.
 *
 * @example
 *   const x = await timedRequest({ url: 'http://127.0.0.1:8080/health', method: 'GET', headers: {} },
 *     { timeoutMs: 5000, maxBodyBytes: 1 << 20, maxRedirects: 0, tls: { rejectUnauthorized: true }, family: 0 });
 *   x.status // 200
 */
export async function timedRequest(req: HttpRequest, options: HttpOptions): Promise<HttpExchange> {
  // Timer APIs take whole milliseconds; a journey's remaining budget is fractional.
  const timeoutMs = Math.max(1, Math.ceil(options.timeoutMs));
  const abort: HopAbort = {};
  let aborted = false;
  const end = (error: unknown): void => {
    aborted = true;
    abort.current?.(error);
  };
  const timer = setTimeout(() => end(new Error('probe deadline')), timeoutMs);
  const parent = options.signal;
  // One listener per exchange, removed at its end: AbortSignal.any() on the scheduler's long-lived signal
  // would hang a dependent on it for every run.
  const onParentAbort = (): void => end(parent?.reason);
  parent?.addEventListener('abort', onParentAbort, { once: true });
  const shared = options.connection;
  const opened: ConnectionTimings[] = shared ? shared.opened : [];
  if (shared) opened.length = 0;
  const connect = shared
    ? undefined
    : createTimedConnector({ tls: options.tls, family: options.family }, (t) => opened.push(t));
  const phases: PhaseTimings = { dnsMs: 0, connectMs: 0, tlsMs: 0, ttfbMs: 0, transferMs: 0 };
  const started = performance.now();
  let current = req;
  let url = new URL(req.url);
  let tls: TlsInfo | undefined = shared?.lastTls;
  let hopStart = started;
  try {
    for (let hop = 0; ; hop++) {
      const firstConnection = opened.length;
      const route = shared
        ? { agent: shared.agentFor(url.protocol) }
        : { connect: connect as TimedConnector };
      const pending = sendHop(url, current, route, options.maxBodyBytes, hop < options.maxRedirects, abort);
      // A caller that aborted before the first hop ends it at once, with the abort's reason.
      if (parent?.aborted) end(parent.reason);
      const outcome = await pending;
      const hopConnections = opened.slice(firstConnection);
      addPhases(phases, phasesOf(hopConnections, hopStart, outcome.headersAt, outcome.end));
      tls = hopConnections.findLast((c) => c.tlsInfo)?.tlsInfo ?? tls;
      if (outcome.error !== undefined) {
        const last = hopConnections.at(-1);
        const failure = classifyError(outcome.error, {
          aborted,
          cancelled: parent?.aborted === true,
          timeoutMs,
          inHandshake: last?.tls === true && last.connectedAt !== undefined && last.secureAt === undefined,
          gotHeaders: outcome.headersAt !== undefined,
        });
        return exchange(url.toString(), failure, outcome.end);
      }
      const status = outcome.status as number;
      if (outcome.redirect) {
        const location = outcome.headers?.location as string;
        if (!URL.canParse(location, url.href)) {
          const failure = classifyError(new TypeError(`Invalid URL in Location: ${location}`), {
            aborted: false,
            timeoutMs,
            inHandshake: false,
            gotHeaders: true,
          });
          return exchange(url.toString(), failure, outcome.end);
        }
        hopStart = outcome.end;
        const next = new URL(location, url);
        let headers = current.headers;
        // Credentials stay with the origin they were meant for, as browsers and curl do on redirects.
        if (next.origin !== url.origin) {
          const { authorization: _a, cookie: _c, 'proxy-authorization': _p, ...rest } = headers;
          headers = rest;
        }
        // 303, and 301/302 after a POST, turn into a GET without a body (what browsers and curl do).
        const keepsMethod = status === 307 || status === 308;
        current = keepsMethod
          ? { ...current, url: next.toString(), headers }
          : { url: next.toString(), method: current.method === 'HEAD' ? 'HEAD' : 'GET', headers };
        url = next;
        continue;
      }
      if (shared && tls) shared.lastTls = tls;
      return exchange(url.toString(), null, outcome.end, {
        status,
        headers: outcome.headers ?? {},
        body: outcome.body ?? EMPTY,
        bodyTruncated: outcome.truncated === true,
      });
    }
  } finally {
    clearTimeout(timer);
    parent?.removeEventListener('abort', onParentAbort);
  }

  // One clock reading ends both the last phase and the duration, so the phases add up to it exactly.
  function exchange(
    at: string,
    failure: ProbeFailure | null,
    endAt: number,
    rest: Partial<HttpExchange> = {},
  ): HttpExchange {
    return {
      url: at,
      headers: {},
      body: EMPTY,
      bodyTruncated: false,
      phases,
      durationMs: endAt - started,
      ...(tls ? { tls } : {}),
      failure,
      ...rest,
    };
  }
}
