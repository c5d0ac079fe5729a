import { Agent, request } from 'undici';
import { errorMessage, VigilError } from '../errors.js';
import type { OverrideAction, Verdict, WatchStatus, WatchView } from '../watch/types.js';

/** The daemon address when neither --server nor VIGIL_SERVER says otherwise (DESIGN §2). */
export const DEFAULT_SERVER = 'http://127.0.0.1:9469';

/** The daemon could not be reached at all (refused, DNS, timeout): `vigil wait` exit 4. */
export class DaemonUnreachableError extends VigilError {
  constructor(server: string, cause: unknown) {
    super('DAEMON_UNREACHABLE', `cannot reach the Vigil daemon at ${server}: ${describeCause(cause)}`, {
      cause,
    });
    this.name = 'DaemonUnreachableError';
  }
}

/** The daemon answered with an error status; `body` is its JSON answer when it had one. */
export class DaemonHttpError extends VigilError {
  readonly status: number;
  readonly body: unknown;

  constructor(status: number, body: unknown, message: string) {
    super('DAEMON_HTTP', message);
    this.name = 'DaemonHttpError';
    this.status = status;
    this.body = body;
  }
}

function describeCause(cause: unknown): string {
  const code = (cause as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? `${code} (${errorMessage(cause)})` : errorMessage(cause);
}

/** Where the daemon is and how to authenticate: flag, then environment, then the default. */
export function resolveServer(
  flag: string | undefined,
  env: NodeJS.ProcessEnv,
): { server: string; token: string } {
  return {
    server: (flag ?? env.VIGIL_SERVER ?? DEFAULT_SERVER).replace(/\/+$/, ''),
    token: env.VIGIL_API_TOKEN ?? '',
  };
}

/** Turns an error answer into one readable line, listing 400 problems. */
function explain(status: number, body: unknown): string {
  const answer = body as {
    error?: unknown;
    message?: unknown;
    problems?: { path: string; message: string }[];
  } | null;
  if (Array.isArray(answer?.problems))
    return answer.problems.map((p) => `${p.path}: ${p.message}`).join('; ');
  if (typeof answer?.message === 'string') return `${status} ${answer.message}`;
  return `HTTP ${status}`;
}

export interface VerdictQuery {
  waitMs?: number;
  until?: string;
  /** ISO `updatedAt` last seen. */
  since?: string;
}

/**
 * A small client for the daemon's `/api/v1` (DESIGN §3): every call has a deadline and the caller's signal.
 *
 * @example
 *   const client = createDaemonClient(resolveServer(undefined, process.env));
 *   const watch = await client.startWatch({ service: 'prep-api', version: '1.4.2' }, signal);
 */
export function createDaemonClient(options: { server: string; token: string; timeoutMs?: number }) {
  const timeoutMs = options.timeoutMs ?? 10_000;
  // Its own connection pool, closed with the client, so a one-shot command leaves no socket behind.
  const dispatcher = new Agent({ connections: 2, connect: { timeout: timeoutMs } });

  async function call(method: 'GET' | 'POST', path: string, signal: AbortSignal, body?: unknown, waitMs = 0) {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const deadline = AbortSignal.timeout(timeoutMs + waitMs);
    let response: Awaited<ReturnType<typeof request>>;
    try {
      response = await request(`${options.server}${path}`, {
        method,
        headers,
        dispatcher,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.any([signal, deadline]),
        headersTimeout: timeoutMs + waitMs,
        bodyTimeout: timeoutMs + waitMs,
      });
    } catch (error) {
      if (signal.aborted) throw error;
      throw new DaemonUnreachableError(
        options.server,
        deadline.aborted ? new Error('no answer in time') : error,
      );
    }
    const text = await response.body.text();
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = text;
    }
    if (response.statusCode >= 400) {
      throw new DaemonHttpError(response.statusCode, parsed, explain(response.statusCode, parsed));
    }
    return parsed;
  }

  return {
    server: options.server,
    /** Closes the client's connections. */
    async close(): Promise<void> {
      await dispatcher.destroy();
    },
    /** POST /api/v1/watches → the watch object. */
    async startWatch(input: Record<string, unknown>, signal: AbortSignal): Promise<WatchView> {
      return (await call('POST', '/api/v1/watches', signal, input)) as WatchView;
    },
    /** GET /api/v1/watches?service=&status= → the watches, newest first. */
    async listWatches(
      filter: { service?: string; status?: WatchStatus },
      signal: AbortSignal,
    ): Promise<WatchView[]> {
      const params = new URLSearchParams();
      if (filter.service !== undefined) params.set('service', filter.service);
      if (filter.status !== undefined) params.set('status', filter.status);
      const qs = params.size > 0 ? `?${params.toString()}` : '';
      const answer = (await call('GET', `/api/v1/watches${qs}`, signal)) as { watches: WatchView[] };
      return answer.watches;
    },
    /** GET /api/v1/watches/{id} → the watch object with its timeline. */
    async getWatch(id: string, signal: AbortSignal): Promise<WatchView> {
      return (await call('GET', `/api/v1/watches/${encodeURIComponent(id)}`, signal)) as WatchView;
    },
    /** POST /api/v1/watches/{id}/{abort|promote|rollback} with `{"reason","who"?}` → the watch object. */
    async override(
      id: string,
      action: OverrideAction,
      body: { reason: string; who?: string },
      signal: AbortSignal,
    ): Promise<WatchView> {
      return (await call(
        'POST',
        `/api/v1/watches/${encodeURIComponent(id)}/${action}`,
        signal,
        body,
      )) as WatchView;
    },
    /** GET /api/v1/watches/{id}/verdict, a long poll when `waitMs` is set. */
    async verdict(id: string, query: VerdictQuery, signal: AbortSignal): Promise<Verdict> {
      const params = new URLSearchParams();
      if (query.waitMs) params.set('wait', `${Math.ceil(query.waitMs / 1000)}s`);
      if (query.until) params.set('until', query.until);
      if (query.since) params.set('since', query.since);
      const qs = params.size > 0 ? `?${params.toString()}` : '';
      return (await call(
        'GET',
        `/api/v1/watches/${encodeURIComponent(id)}/verdict${qs}`,
        signal,
        undefined,
        query.waitMs ?? 0,
      )) as Verdict;
    },
  };
}

export type DaemonClient = ReturnType<typeof createDaemonClient>;
