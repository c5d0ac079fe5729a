import { errorMessage } from '../errors.js';
import type { ProbeFailure } from './types.js';

/** Where the exchange had got to when it failed; decides the class of ambiguous errors such as a reset. */
export interface FailureStage {
  /** The probe's own deadline (or the caller's signal) fired. */
  aborted: boolean;
  /** It was the caller's signal (shutdown), not the deadline. */
  cancelled?: boolean;
  timeoutMs: number;
  /** TCP was connected on an https connection but the handshake had not finished. */
  inHandshake: boolean;
  /** Response headers had arrived (a failure after this is mid-body). */
  gotHeaders: boolean;
}

const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EAI_FAIL', 'EAI_NODATA']);
const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
  'ETIMEDOUT',
]);
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);
// OpenSSL verification codes as Node reports them (tls.TLSSocket.authorizationError).
const TLS_CODE_RE =
  /^(ERR_TLS_|ERR_SSL_|CERT_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT|UNABLE_TO_|ERR_OSSL_)/;

function codeOf(error: unknown): string | undefined {
  // Undici sometimes wraps the socket error; the useful code may sit on the cause.
  for (let e: unknown = error, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code !== 'UND_ERR_SOCKET') return code;
  }
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Maps an error thrown by an HTTP exchange to its DESIGN §2 failure class, with a message that says
 * what happened in plain words.
 *
 * @example classifyError(Object.assign(new Error('getaddrinfo ENOTFOUND x.invalid'), { code: 'ENOTFOUND' }), stage)
 *   // { class: 'dns', message: 'dns: getaddrinfo ENOTFOUND x.invalid' }
 */
export function classifyError(error: unknown, stage: FailureStage): ProbeFailure {
  const message = errorMessage(error);
  const code = codeOf(error);
  if (stage.aborted && stage.cancelled)
    return { class: 'timeout', message: 'timeout: cancelled before a response (shutdown)' };
  if (stage.aborted) {
    const where = stage.gotHeaders ? 'reading the body' : 'waiting for the response';
    return {
      class: 'timeout',
      message: `timeout: no complete response within ${stage.timeoutMs} ms (${where})`,
    };
  }
  if (code && DNS_CODES.has(code)) return { class: 'dns', message: `dns: ${message}` };
  if (code && TLS_CODE_RE.test(code)) return { class: 'tls', message: `tls: ${message} (${code})` };
  if (code && CONNECT_CODES.has(code)) return { class: 'connect', message: `connect: ${message}` };
  if (code && TIMEOUT_CODES.has(code)) {
    return { class: 'timeout', message: `timeout: ${message} after ${stage.timeoutMs} ms` };
  }
  if (stage.inHandshake) return { class: 'tls', message: `tls: handshake failed: ${message}` };
  const name = (error as { name?: unknown } | undefined)?.name;
  // node:http's parser reports `HPE_*` codes (llhttp's error names); undici's an HTTPParserError.
  if (name === 'HTTPParserError' || code?.startsWith('HPE_'))
    return { class: 'http', message: `http: invalid HTTP response: ${message}` };
  if (stage.gotHeaders) return { class: 'http', message: `http: response broken off mid-body: ${message}` };
  return { class: 'http', message: `http: ${message}${code ? ` (${code})` : ''}` };
}
