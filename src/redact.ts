/*
 * Defence in depth for secrets (DESIGN §4: never in logs, API answers or metrics): a peer's answer is
 * quoted in logs, check explanations, the outbox and watch timelines, and some peers (proxies, error
 * pages, debugging endpoints) echo the request headers they received, credentials included.
 */

/** Headers whose values are public by construction; every other value may be a credential. */
const PUBLIC_HEADERS = new Set(['content-type', 'user-agent', 'accept']);

/**
 * Removes from a peer's answer every credential this request carried (header values, the token of a
 * Bearer/Basic authorization, a decoded basic password): a proxy or error page that echoes request
 * headers must not put a token into logs, the outbox or the watch timeline.
 *
 * @example scrubCredentials('you sent Bearer abc123456', { authorization: 'Bearer abc123456' }) // 'you sent Bearer [redacted]'
 */
export function scrubCredentials(answer: string, headers: Record<string, string>): string {
  const secrets = new Set<string>();
  for (const [name, value] of Object.entries(headers)) {
    if (PUBLIC_HEADERS.has(name.toLowerCase())) continue;
    const scheme = /^(?:bearer|basic|token)\s+(.+)$/i.exec(value);
    const credential = scheme?.[1] ?? value;
    secrets.add(credential);
    if (scheme && /^basic/i.test(value)) {
      const decoded = Buffer.from(credential, 'base64').toString('utf8');
      secrets.add(decoded);
      secrets.add(decoded.slice(decoded.indexOf(':') + 1));
    }
  }
  let scrubbed = answer;
  // Longest first, so a password inside a decoded "user:password" does not leave the user part's tail.
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    if (secret.length >= 6) scrubbed = scrubbed.split(secret).join('[redacted]');
  }
  return scrubbed;
}
