import { describe, expect, it } from 'vitest';
import { classifyError, type FailureStage } from '../../../src/prober/classify.js';

const stage: FailureStage = { aborted: false, timeoutMs: 5000, inHandshake: false, gotHeaders: false };

function err(code: string | undefined, message = 'boom', name = 'Error'): Error {
  return Object.assign(new Error(message), { name, ...(code ? { code } : {}) });
}

/** Errors that loopback tests cannot provoke for real (no black-hole route here) are pinned by their codes. */
describe('failure classes by error code and stage', () => {
  it.each([
    ['EAI_AGAIN is a resolver failure', err('EAI_AGAIN'), stage, 'dns'],
    ['EHOSTUNREACH cannot connect', err('EHOSTUNREACH'), stage, 'connect'],
    ['a connect timeout cannot connect', err('UND_ERR_CONNECT_TIMEOUT'), stage, 'connect'],
    ['a headers timeout is timeout', err('UND_ERR_HEADERS_TIMEOUT'), stage, 'timeout'],
    ['a body timeout is timeout', err('UND_ERR_BODY_TIMEOUT'), { ...stage, gotHeaders: true }, 'timeout'],
    ['an expired certificate is tls', err('CERT_HAS_EXPIRED'), stage, 'tls'],
    ['a name mismatch is tls', err('ERR_TLS_CERT_ALTNAME_INVALID'), stage, 'tls'],
    ['a reset during the handshake is tls', err('ECONNRESET'), { ...stage, inHandshake: true }, 'tls'],
    ['a reset after the headers is http', err('ECONNRESET'), { ...stage, gotHeaders: true }, 'http'],
    ['a parser error is http', err(undefined, 'Expected HTTP/', 'HTTPParserError'), stage, 'http'],
    ['our deadline wins over any code', err('ECONNRESET'), { ...stage, aborted: true }, 'timeout'],
    [
      'a wrapped socket error is judged by its cause',
      Object.assign(err('UND_ERR_SOCKET'), { cause: err('ECONNREFUSED') }),
      stage,
      'connect',
    ],
  ] as const)('%s', (_name, error, at, cls) => {
    expect(classifyError(error, at).class).toBe(cls);
  });

  it('says where a timeout struck', () => {
    expect(classifyError(err(undefined), { ...stage, aborted: true, gotHeaders: true }).message).toBe(
      'timeout: no complete response within 5000 ms (reading the body)',
    );
  });
});
