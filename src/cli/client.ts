import { readFile } from 'node:fs/promises';
import { Agent, request } from 'undici';
import { parse as parseYaml } from 'yaml';
import { interpolateString } from '../config/interpolate.js';
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

/** What a client command reads from the config file: where the daemon listens, its token, the watch's failureLimit. */
export interface ConfigServer {
  listen?: string;
  apiToken?: string;
  /** `watch.failureLimit` (3 when the file leaves it out), for "failing, 1 of 3". */
  failureLimit?: number;
}

/**
 * The URL a client uses for a `server.listen` address: a wildcard host (0.0.0.0, ::, empty) is reached on
 * loopback. Undefined for port 0 (a random port nobody can know) or anything that is not host:port.
 *
 * @example listenUrl('0.0.0.0:9469') // 'http://127.0.0.1:9469'
 */
export function listenUrl(listen: string): string | undefined {
  const match = /^(\[[0-9A-Fa-f:.]*\]|[^:\s]*):(\d{1,5})$/.exec(listen.trim());
  if (!match || Number(match[2]) === 0) return undefined;
  const host = match[1] as string;
  const reachable =
    host === '' || host === '0.0.0.0' ? '127.0.0.1' : host === '[::]' || host === '[]' ? '[::1]' : host;
  return `http://${reachable}:${match[2]}`;
}

/**
 * Where the daemon is and how to authenticate: `--server`, then VIGIL_SERVER, then `server.listen` of the
 * config file, then the default; the token from VIGIL_API_TOKEN, then the config's `server.apiToken`.
 *
 * @example resolveServer(undefined, {}, { listen: '127.0.0.1:9555' }) // { server: 'http://127.0.0.1:9555', token: '' }
 */
export function resolveServer(
  flag: string | undefined,
  env: NodeJS.ProcessEnv,
  config: ConfigServer = {},
): { server: string; token: string } {
  const fromConfig = config.listen === undefined ? undefined : listenUrl(config.listen);
  return {
    server: (flag || env.VIGIL_SERVER || fromConfig || DEFAULT_SERVER).replace(/\/+$/, ''),
    token: env.VIGIL_API_TOKEN || config.apiToken || '',
  };
}

/**
 * Reads `server.listen`, `server.apiToken` and `watch.failureLimit` from a config file (with
 * `${VAR:-default}` resolved against `env`) without loading the rest: a client command needs the address,
 * not the probes. A default file
 * (`./vigil.yaml`) that does not exist is no config; a file named with `-c` that cannot be read or parsed
 * is an error naming it.
 *
 * @example await readConfigServer('vigil.yaml', false, process.env) // { listen: '127.0.0.1:9469', failureLimit: 3 }
 */
export async function readConfigServer(
  file: string,
  given: boolean,
  env: NodeJS.ProcessEnv,
): Promise<ConfigServer> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (!given && code === 'ENOENT') return {};
    throw new VigilError(
      'CONFIG_UNREADABLE',
      `cannot read config ${file}: ${code === 'ENOENT' ? 'file not found' : errorMessage(error)}`,
    );
  }
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    throw new VigilError('CONFIG_UNREADABLE', `cannot parse config ${file}: ${errorMessage(error)}`);
  }
  const section = (key: string): Record<string, unknown> => {
    const value = (document as Record<string, unknown> | null)?.[key];
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  };
  const pick = (value: unknown): string | undefined => {
    if (typeof value === 'number') return String(value);
    if (typeof value !== 'string') return undefined;
    const { text: resolved, problems } = interpolateString(value, env);
    return problems.length > 0 ? undefined : resolved;
  };
  const listen = pick(section('server').listen);
  const apiToken = pick(section('server').apiToken);
  const limitText = pick(section('watch').failureLimit);
  // DESIGN §6: the default failureLimit is 3.
  const failureLimit = limitText === undefined ? 3 : Number(limitText);
  return {
    ...(listen ? { listen } : {}),
    ...(apiToken ? { apiToken } : {}),
    ...(Number.isInteger(failureLimit) && failureLimit > 0 ? { failureLimit } : {}),
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

/** The config file a client command reads when `-c` is not given. */
export const DEFAULT_CONFIG_FILE = './vigil.yaml';

/**
 * A client for the daemon a command names: `--server`, VIGIL_SERVER, the config's `server.listen` (from
 * `-c FILE`, else ./vigil.yaml when present) or the default address. Throws a VigilError when a config
 * named with `-c` cannot be read.
 *
 * @example const client = await connectDaemon({ server: values.server, config: values.config, env: ctx.env });
 */
export async function connectDaemon(options: {
  server: string | undefined;
  config: string | undefined;
  env: NodeJS.ProcessEnv;
}): Promise<DaemonClient & { config: ConfigServer }> {
  // Read even when the address is given: the file may carry the token.
  const fromFile = await readConfigServer(
    options.config ?? DEFAULT_CONFIG_FILE,
    options.config !== undefined,
    options.env,
  );
  return { ...createDaemonClient(resolveServer(options.server, options.env, fromFile)), config: fromFile };
}
