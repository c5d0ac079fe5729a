import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { scrubCredentials } from '../../../src/redact.js';

/*
 * A peer that echoes the headers it received must not get a credential into Vigil's logs or API answers:
 * whatever text surrounds it, every credential the request carried is gone from the scrubbed answer.
 */

const credential = fc
  .string({ minLength: 6, maxLength: 40, unit: 'grapheme-ascii' })
  .filter((s) => s.trim() === s);

describe('scrubCredentials', () => {
  it.each([
    ['a bearer token', { authorization: 'Bearer tok-123456' }, 'you sent Bearer tok-123456', 'tok-123456'],
    ['a GitHub-style token', { authorization: 'token ghp_abcdef' }, 'echo: token ghp_abcdef', 'ghp_abcdef'],
    [
      'a basic password, encoded and decoded',
      { authorization: `Basic ${Buffer.from('vigil:pa55word!').toString('base64')}` },
      `got ${Buffer.from('vigil:pa55word!').toString('base64')} i.e. vigil:pa55word! pass=pa55word!`,
      'pa55word!',
    ],
    ['a custom key header', { 'x-api-key': 'key-998877' }, '{"x-api-key":"key-998877"}', 'key-998877'],
  ])('removes %s from an echoing answer', (_name, headers, answer, secret) => {
    const scrubbed = scrubCredentials(answer, headers);
    expect(scrubbed).not.toContain(secret);
    expect(scrubbed).toContain('[redacted]');
  });

  it('keeps answers without credentials as they are', () => {
    expect(scrubCredentials('bad_data: parse error at char 4', { 'content-type': 'application/json' })).toBe(
      'bad_data: parse error at char 4',
    );
  });

  it('no credential survives, whatever surrounds it', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 40 }),
        credential,
        fc.string({ maxLength: 40 }),
        fc.constantFrom('Bearer ', 'token ', ''),
        (before, secret, after, scheme) => {
          const scrubbed = scrubCredentials(`${before}${secret}${after}`, {
            authorization: `${scheme}${secret}`,
          });
          expect(scrubbed).not.toContain(secret);
        },
      ),
      { numRuns: 500 },
    );
  });
});
