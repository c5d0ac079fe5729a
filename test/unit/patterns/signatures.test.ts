import { describe, expect, it } from 'vitest';
import { DrainTree } from '../../../src/patterns/drain.js';
import { readEvent } from '../../../src/patterns/event.js';
import { maskMessage } from '../../../src/patterns/mask.js';
import { redactLine } from '../../../src/patterns/redact.js';
import { classifyLines, clusterLines, signatureId } from '../../../src/patterns/signatures.js';

const line = (text: string, at = 0) => ({ at, line: text });
const templates = (texts: string[]) =>
  clusterLines(texts.map((t, i) => line(t, i))).signatures.map((s) => s.template);

describe('masking', () => {
  it.each([
    ['timestamps', 'retry at 2026-11-27T07:12:00.123Z failed', 'retry at <TS> failed'],
    ['log-style timestamps', '2026-11-27 07:12:00,481 ERROR boom', '<TS> ERROR boom'],
    ['UUIDs', 'booking 3f2b8c1e-9a4d-4c1b-8e2f-7a6b5c4d3e2f not found', 'booking <UUID> not found'],
    ['emails', 'mail to bob.smith+x@example.co.uk bounced', 'mail to <EMAIL> bounced'],
    [
      'IPv4 with port',
      'dial tcp 10.0.3.17:5432: connect: connection refused',
      'dial tcp <IP>: connect: connection refused',
    ],
    ['IPv6', 'peer 2001:db8::8a2e:370:7334 reset', 'peer <IP> reset'],
    ['quoted strings', `KeyError: 'currency'`, 'KeyError: <STR>'],
    ['double-quoted strings', 'unknown field "amount_cents" in body', 'unknown field <STR> in body'],
    [
      'durations',
      'upstream answered after 1.5s (budget 250ms)',
      'upstream answered after <DUR> (budget <DUR>)',
    ],
    ['hex ids', 'trace 4bf92f3577b34da6a3ce929d0e0e4736 at 0x7ffe12ab', 'trace <HEX> at <HEX>'],
    [
      'numbers',
      'order 8812 failed, 3 retries left, -1.25 balance',
      'order <NUM> failed, <NUM> retries left, <NUM> balance',
    ],
    [
      'numbers in paths and names',
      'GET /api/bookings/8812 by worker7',
      'GET /api/bookings/<NUM> by worker<NUM>',
    ],
  ])('masks %s', (_name, input, expected) => {
    expect(maskMessage(input)).toBe(expected);
  });

  it('leaves words alone', () => {
    expect(maskMessage('connection reset by peer')).toBe('connection reset by peer');
    expect(maskMessage('deadbeef is not a hex id without a digit')).toBe(
      'deadbeef is not a hex id without a digit',
    );
  });
});

describe('events', () => {
  it('JSON lines cluster on the message field, with the error field and the level and logger kept', () => {
    expect(
      readEvent(
        line(
          '{"level":"ERROR","logger":"payments","msg":"job failed","error":"connection reset by peer","duration_ms":1666}',
        ),
      ),
    ).toEqual({ level: 'error', logger: 'payments', message: 'job failed: connection reset by peer' });
  });

  it('a configured message field wins, and a plain line takes its level from the text or the stream label', () => {
    expect(readEvent(line('{"event":"charge declined","msg":"x"}'), { messageField: 'event' }).message).toBe(
      'charge declined',
    );
    expect(readEvent(line('2026-11-27 07:12:00 WARNING slow query')).level).toBe('warn');
    expect(readEvent({ at: 0, line: 'boom', labels: { level: 'fatal' } }).level).toBe('fatal');
  });

  it('a Python traceback is its first and last lines; a Java one its first', () => {
    const py =
      'Traceback (most recent call last):\n  File "/app/pay.py", line 42, in charge\n    rate = rates[currency]\nKeyError: \'currency\'';
    expect(readEvent(line(py)).message).toBe("Traceback (most recent call last): KeyError: 'currency'");
    const java =
      'java.lang.NullPointerException: card is null\n\tat com.prep.Pay.charge(Pay.java:42)\n\tat com.prep.Api.handle(Api.java:7)';
    expect(readEvent(line(java)).message).toBe('java.lang.NullPointerException: card is null');
  });
});

describe('clustering', () => {
  it('lines differing only in variables share a signature', () => {
    const lines = [
      '{"level":"error","msg":"payment failed","order":8812,"user":"bob@example.com","duration_ms":1122}',
      '{"level":"error","msg":"payment failed","order":17,"user":"eve@example.com","duration_ms":80}',
      'ERROR order 8812 rejected by 10.0.0.7:443 after 1.2s',
      'ERROR order 17 rejected by 10.0.0.9:443 after 340ms',
      'ERROR pq: duplicate key value violates unique constraint "bookings_pkey" (id=3f2b8c1e-9a4d-4c1b-8e2f-7a6b5c4d3e2f)',
      'ERROR pq: duplicate key value violates unique constraint "bookings_slot_key" (id=0b6c2a1e-1a4d-4c1b-8e2f-7a6b5c4d3e2f)',
      'user alice not found in tenant 7',
      'user bob not found in tenant 12',
      'Traceback (most recent call last):\n  File "/app/pay.py", line 42, in charge\nKeyError: \'currency\'',
      'Traceback (most recent call last):\n  File "/app/pay.py", line 57, in refund\nKeyError: \'amount\'',
    ];
    expect(templates(lines)).toEqual([
      'payment failed',
      'ERROR order <NUM> rejected by <IP> after <DUR>',
      'ERROR pq: duplicate key value violates unique constraint <STR> (id=<UUID>)',
      'user <*> not found in tenant <NUM>',
      'Traceback (most recent call last): KeyError: <STR>',
    ]);
  });

  it.each([
    [
      'Node TypeErrors on different properties',
      "TypeError: Cannot read properties of undefined (reading 'currency')\n    at charge (/app/pay.js:42:17)",
      "TypeError: Cannot read properties of undefined (reading 'amount')\n    at refund (/app/pay.js:97:5)",
      'TypeError: Cannot read properties of undefined (reading <STR>)',
    ],
    [
      'Go panics at different addresses',
      'panic: runtime error: invalid memory address or nil pointer dereference\n[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x4a2b3c]',
      'panic: runtime error: invalid memory address or nil pointer dereference\n[signal SIGSEGV: segmentation violation code=0x1 addr=0x18 pc=0x4a9f00]',
      'panic: runtime error: invalid memory address or nil pointer dereference',
    ],
    [
      'MySQL duplicates of different keys',
      "Error 1062: Duplicate entry '42-7' for key 'bookings.PRIMARY'",
      "Error 1062: Duplicate entry '8812-1' for key 'bookings.slot'",
      'Error <NUM>: Duplicate entry <STR> for key <STR>',
    ],
    [
      'access-log style lines',
      '10.0.0.7 - - [27/Nov/2026:07:12:00 +0000] "POST /api/payments/8812 HTTP/1.1" 502 173 0.412',
      '10.0.3.19 - - [27/Nov/2026:07:13:41 +0000] "POST /api/payments/17 HTTP/1.1" 502 98 1.203',
      '<IP> - - [<NUM>/Nov/<NUM>:<TS> <NUM>] <STR> <NUM> <NUM> <NUM>',
    ],
  ])('%s share a signature', (_name, a, b, template) => {
    expect(templates([a, b])).toEqual([template]);
  });

  it('a deadlock and a duplicate entry from the same database are two signatures', () => {
    expect(
      templates([
        'Error 1213: Deadlock found when trying to get lock; try restarting transaction',
        "Error 1062: Duplicate entry '42' for key 'PRIMARY'",
      ]),
    ).toHaveLength(2);
  });

  it('different errors do not share a signature', () => {
    const lines = [
      '{"level":"error","msg":"payment failed"}',
      '{"level":"error","msg":"payment declined"}',
      '{"level":"warn","msg":"payment failed"}',
      '{"level":"error","logger":"refunds","msg":"payment failed"}',
      'ERROR pq: duplicate key value violates unique constraint "bookings_pkey"',
      'ERROR pq: relation "bookings" does not exist',
      'ERROR payment failed: card declined',
      'ERROR payment failed: currency missing',
      'java.lang.NullPointerException: card is null\n\tat com.prep.Pay.charge(Pay.java:42)',
      'java.lang.IllegalStateException: card is null\n\tat com.prep.Pay.charge(Pay.java:42)',
    ];
    const set = clusterLines(lines.map((t, i) => line(t, i)));
    expect(set.signatures).toHaveLength(lines.length);
    expect(new Set(set.signatures.map((s) => s.id)).size).toBe(lines.length);
  });

  it('keeps counts, first and last seen and two redacted examples, most frequent first', () => {
    const set = clusterLines([
      line('login failed for user=7 password=hunter22', 30),
      line('disk full', 10),
      line('login failed for user=8 password=swordfish', 20),
      line('login failed for user=9 password=letmein1', 40),
    ]);
    expect(set.signatures[0]).toMatchObject({
      template: 'login failed for user=<NUM> <*>',
      count: 3,
      firstSeen: 20,
      lastSeen: 40,
      examples: [
        'login failed for user=7 password=[redacted]',
        'login failed for user=8 password=[redacted]',
      ],
    });
    expect(set.signatures[1]).toMatchObject({ template: 'disk full', count: 1 });
  });

  it('is bounded: past maxSignatures the rest goes to one other bucket', () => {
    const lines = ['alpha', 'beta', 'gamma', 'delta', 'alpha'].map((t, i) => line(`${t} broke`, i));
    const set = clusterLines(lines, { maxSignatures: 2 });
    expect(set.signatures.map((s) => [s.template, s.count])).toEqual([
      ['alpha broke', 2],
      ['beta broke', 1],
    ]);
    expect(set.other).toMatchObject({ count: 2, firstSeen: 2 });
  });

  it('the same template gets the same id in every run', () => {
    const a = clusterLines([line('disk full on <NUM>'), line('disk full on 7')]).signatures[0];
    expect(a?.id).toBe(signatureId('', '', a?.template ?? ''));
    expect(a?.id).toMatch(/^p[0-9a-f]{12}$/);
  });

  it('a widened template takes a line agreeing with every token it kept, below the threshold too', () => {
    const tree = new DrainTree<string>();
    tree.insert('', ['job', '<*>', '<*>', '<*>', 'failed'], 'stored');
    expect(tree.match('', ['job', 'sync', 'of', 'payments', 'failed'])?.payload).toBe('stored');
    expect(tree.match('', ['job', 'sync', 'of', 'payments', 'done'])).toBeUndefined();
  });

  it('a tree bounds its children: a token past maxChildren routes to the wildcard', () => {
    const tree = new DrainTree<number>({ maxChildren: 2 });
    for (const word of ['a', 'b', 'c', 'd']) tree.add('', [word, 'x', 'y', 'z', 'w'], () => 0);
    // a and b have their own nodes (never compared); c and d share the wildcard node and merge there.
    expect(tree.clusters.map((c) => c.tokens.join(' '))).toEqual(['a x y z w', 'b x y z w', '<*> x y z w']);
  });
});

describe('classification against a baseline', () => {
  const before = [
    '{"level":"error","msg":"payment failed","order":1}',
    '{"level":"error","msg":"upstream timeout after 1.2s"}',
    '{"level":"error","msg":"upstream timeout after 300ms"}',
  ].map((t, i) => line(t, i));
  const baseline = clusterLines(before).signatures;

  it('known lines match their baseline signature; new ones are clustered afresh', () => {
    const after = [
      '{"level":"error","msg":"payment failed","order":2}',
      '{"level":"error","msg":"upstream timeout after 2s"}',
      '{"level":"error","msg":"KeyError: \'currency\'"}',
      '{"level":"error","msg":"KeyError: \'amount\'"}',
    ].map((t, i) => line(t, 100 + i));
    const c = classifyLines(after, { baseline });
    expect(c.known.map((k) => [k.current.template, k.current.count])).toEqual([
      ['payment failed', 1],
      ['upstream timeout after <DUR>', 1],
    ]);
    expect(c.known[0]?.current.id).toBe(baseline.find((s) => s.template === 'payment failed')?.id);
    expect(c.fresh.map((s) => [s.template, s.count, s.firstSeen])).toEqual([['KeyError: <STR>', 2, 102]]);
  });

  it('a signature marked not a risk is known; one marked always fail is caught even when the baseline has it', () => {
    const after = [
      line('{"level":"error","msg":"cache miss storm"}'),
      line('{"level":"error","msg":"payment failed"}'),
    ];
    const ignored = clusterLines([after[0] as { at: number; line: string }]).signatures;
    const alwaysFail = baseline.filter((s) => s.template === 'payment failed');
    const c = classifyLines(after, { baseline, ignored, alwaysFail });
    expect(c.fresh).toEqual([]);
    expect(c.known.map((k) => [k.current.template, k.ignored])).toEqual([['cache miss storm', true]]);
    expect(c.alwaysFail.map((k) => k.current.template)).toEqual(['payment failed']);
  });
});

describe('redaction of examples', () => {
  it.each([
    [
      '{"msg":"login","password":"hunter2","user":"bob"}',
      '{"msg":"login","password":"[redacted]","user":"bob"}',
    ],
    ['{"api_key": "k-123456789"}', '{"api_key": "[redacted]"}'],
    ['call failed Authorization: Bearer eyJhbGciOi.abc.def', 'call failed Authorization: Bearer [redacted]'],
    ['charged card 4111 1111 1111 1111 ok', 'charged card [redacted] ok'],
  ])('%s', (input, expected) => {
    expect(redactLine(input)).toBe(expected);
  });
});
