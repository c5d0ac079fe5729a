/**
 * A webhook URL as the API may show it: scheme, host and path only, so a token in the query or the user
 * info never reaches an answer. Every adapter's `outbox.listForWatch` uses it.
 *
 * @example redactUrl('https://user:pw@hooks.example/x?token=1') // 'https://hooks.example/x'
 */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  } catch {
    return '[invalid url]';
  }
}
