/*
 * Masking (DESIGN §5 "Log signatures"): the parts of a log message that vary from one occurrence of the
 * same event to the next — timestamps, UUIDs, emails, IPs, quoted strings, durations, hex ids, numbers —
 * become typed placeholders before clustering, so `order 8812 failed after 1.2s` and `order 17 failed
 * after 340ms` are one event. Order matters: a timestamp or a UUID holds numbers, an email holds dots,
 * so the longer shapes are replaced first.
 */

/** The placeholders a masked message may hold; Drain's own wildcard is `<*>`. */
export const MASKS = ['<TS>', '<UUID>', '<EMAIL>', '<IP>', '<STR>', '<DUR>', '<HEX>', '<NUM>'] as const;

/** Each rule with a character the text must hold for the rule to apply: a cheap test skips most passes. */
const RULES: readonly (readonly [RegExp, string, string])[] = [
  // RFC 3339 / ISO 8601 and the common `2026-11-27 07:12:00,123` log form, with an optional zone.
  [/\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?(?![\w:])/g, '<TS>', '-'],
  // Clock times on their own (`07:12:00.123`) and dates (`2026-11-27`).
  [/\b\d{2}:\d{2}:\d{2}(?:[.,]\d+)?\b/g, '<TS>', ':'],
  [/\b\d{4}-\d{2}-\d{2}\b/g, '<TS>', '-'],
  [/\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b/g, '<UUID>', '-'],
  [/\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b/g, '<EMAIL>', '@'],
  // IPv4 with an optional port, and full or compressed IPv6 (at least two groups and a `::` or 7 colons).
  [/\b(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?\b/g, '<IP>', '.'],
  [/(?<![\w:])(?:[0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}(?![\w:])/g, '<IP>', ':'],
  [
    /(?<![\w:])(?:[0-9a-fA-F]{1,4}:){1,6}:(?:[0-9a-fA-F]{1,4}(?::[0-9a-fA-F]{1,4})*)?(?![\w:])/g,
    '<IP>',
    '::',
  ],
  // Quoted strings: what a program quotes is nearly always a value (`KeyError: 'currency'`, `user "bob"`).
  [/"(?:[^"\\\n]|\\.)*"/g, '<STR>', '"'],
  [/(?<![A-Za-z])'(?:[^'\\\n]|\\.)*'/g, '<STR>', "'"],
  // Durations: `250ms`, `1.5s`, `3m`, `2h`, `12µs`, `1h30m`, `+0.2s`.
  [/(?<![\w.])[-+]?(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h|d))+(?![\w.])/g, '<DUR>', ''],
  // Hex ids: `0x7ffe…`, and runs of 8+ hex digits holding at least one digit (trace ids, commit hashes).
  [/\b0x[0-9a-fA-F]+\b/g, '<HEX>', '0x'],
  [/\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}\b/g, '<HEX>', ''],
  // Numbers, alone or glued to a word (`user42`, `v2`, `/bookings/8812`), signed or decimal.
  [/(?<![\w.])[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w])/g, '<NUM>', ''],
  [/(?<=[A-Za-z_])\d+\b/g, '<NUM>', ''],
];

/** Only emails and quoted strings hold no digit: a message without one skips every other rule. */
const NEEDS_NO_DIGIT: ReadonlySet<string> = new Set(['<EMAIL>', '<STR>']);
const DIGIT = /\d/;

/**
 * Replaces the variable parts of a message with typed placeholders.
 *
 * @example maskMessage('payment 8812 for bob@example.com failed after 1.2s') // 'payment <NUM> for <EMAIL> failed after <DUR>'
 * @example maskMessage("KeyError: 'currency'") // 'KeyError: <STR>'
 */
export function maskMessage(message: string): string {
  let out = message;
  const digits = DIGIT.test(out);
  for (const [pattern, mask, needs] of RULES) {
    if (!digits && !NEEDS_NO_DIGIT.has(mask)) continue;
    if (needs === '' || out.includes(needs)) out = out.replace(pattern, mask);
  }
  return out;
}

/**
 * The tokens Drain clusters: the masked message split on whitespace, with `key=value` pairs kept whole
 * (their value is masked already when it varies).
 *
 * @example tokenize('job <STR> failed after <DUR>') // ['job', '<STR>', 'failed', 'after', '<DUR>']
 */
export function tokenize(masked: string): string[] {
  return masked.split(/\s+/).filter((token) => token !== '');
}
