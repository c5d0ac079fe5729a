/*
 * Example lines end up in check explanations, the API, alerts and webhooks: they are redacted the way
 * Vigil's own logs are (src/telemetry/logger.ts redacts credentials by key) — values of credential-like
 * keys in JSON and key=value text, Authorization schemes, and card-number-like digit runs.
 */

const SECRET_KEY = `(?:password|passwd|pwd|secret|token|api[_-]?key|apikey|authorization|cookie|session(?:[_-]?id)?|private[_-]?key|credentials?)`;
const JSON_SECRET = new RegExp(
  String.raw`("[^"]*${SECRET_KEY}[^"]*"\s*:\s*)("(?:[^"\\]|\\.)*"|[^,}\s]+)`,
  'gi',
);
const KV_SECRET = new RegExp(String.raw`(\b\w*${SECRET_KEY}\w*=)("(?:[^"\\]|\\.)*"|\S+)`, 'gi');
const AUTH_SCHEME = /\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{6,}/g;
const CARD = /\b(?:\d[ -]?){12,18}\d\b/g;

/**
 * Redacts credentials and card numbers from a log line.
 *
 * @example redactLine('{"msg":"login","password":"hunter2"}') // '{"msg":"login","password":"[redacted]"}'
 * @example redactLine('auth failed token=abc123 user=bob') // 'auth failed token=[redacted] user=bob'
 */
export function redactLine(line: string): string {
  return line
    .replace(JSON_SECRET, (_whole, key: string) => `${key}"[redacted]"`)
    .replace(KV_SECRET, (_whole, key: string) => `${key}[redacted]`)
    .replace(AUTH_SCHEME, (_whole, scheme: string) => `${scheme} [redacted]`)
    .replace(CARD, '[redacted]');
}
