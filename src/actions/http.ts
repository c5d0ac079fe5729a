import { performance } from 'node:perf_hooks';
import { TaskCancelledError, TimeoutStrategy, timeout } from 'cockatiel';
import { type Dispatcher, request } from 'undici';
import { errorMessage } from '../errors.js';
import { scrubCredentials } from '../redact.js';

/** Answers are read only this far: enough for an error message, never a memory risk. */
const MAX_ANSWER_BYTES = 4096;

export interface SendRequest {
  dispatcher: Dispatcher;
  url: string;
  method: 'GET' | 'POST' | 'PUT' | 'PATCH';
  headers: Record<string, string>;
  body?: string;
  timeoutMs: number;
  /** Aborts the request when the daemon stops. */
  signal?: AbortSignal;
}

/** How one HTTP exchange went: a status (any) or a transport error, and how long it took. */
export interface SendResult {
  statusCode: number | null;
  /** The first bytes of the answer, for logs and the attempt record. */
  answer: string;
  latencyMs: number;
  /** Transport failure (refused, reset, DNS, timeout); null when an HTTP status came back. */
  error: string | null;
}

/**
 * Sends one request under a hard deadline (a cockatiel timeout policy, aggressive, so a stalled body
 * read cannot outlive it) and never throws for network trouble: the caller decides what a failure means.
 *
 * @example
 *   const r = await sendRequest({ dispatcher, url, method: 'POST', headers, body, timeoutMs: 10_000 });
 *   if (r.statusCode !== null && r.statusCode < 300) markDelivered();
 */
export async function sendRequest(req: SendRequest): Promise<SendResult> {
  const started = performance.now();
  const deadline = timeout(req.timeoutMs, TimeoutStrategy.Aggressive);
  try {
    return await deadline.execute(async ({ signal }) => {
      const response = await request(req.url, {
        method: req.method,
        headers: req.headers,
        ...(req.body !== undefined ? { body: req.body } : {}),
        dispatcher: req.dispatcher,
        signal,
      });
      const answer = scrubCredentials(await readCapped(response.body), req.headers);
      return { statusCode: response.statusCode, answer, latencyMs: performance.now() - started, error: null };
    }, req.signal);
  } catch (error) {
    const message =
      error instanceof TaskCancelledError && !req.signal?.aborted
        ? `timed out after ${req.timeoutMs} ms`
        : describeNetworkError(error);
    return { statusCode: null, answer: '', latencyMs: performance.now() - started, error: message };
  }
}

async function readCapped(body: Dispatcher.ResponseData['body']): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buffer = chunk as Buffer;
    if (size < MAX_ANSWER_BYTES) chunks.push(buffer.subarray(0, MAX_ANSWER_BYTES - size));
    size += buffer.length;
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** undici wraps the useful part (ECONNREFUSED …) in `cause`; surface it without a stack. */
function describeNetworkError(error: unknown): string {
  const cause = (error as { cause?: unknown }).cause;
  const code = (cause as { code?: unknown } | undefined)?.code ?? (error as { code?: unknown }).code;
  const message = cause instanceof Error ? cause.message : errorMessage(error);
  return typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message;
}
