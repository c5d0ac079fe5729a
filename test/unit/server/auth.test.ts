import { describe, expect, test } from 'vitest';
import { authorize, bearerToken, constantTimeEqual, isLoopback } from '../../../src/server/auth.js';

describe('constantTimeEqual', () => {
  test.each([
    { a: 'token', b: 'token', equal: true },
    { a: 'token', b: 'tokem', equal: false },
    { a: 'token', b: 'token-longer', equal: false },
    { a: '', b: 'x', equal: false },
    { a: '', b: '', equal: true },
    { a: 'ünïcode', b: 'ünïcode', equal: true },
  ])('"$a" vs "$b" is $equal', ({ a, b, equal }) => {
    expect(constantTimeEqual(a, b)).toBe(equal);
  });
});

describe('isLoopback', () => {
  test.each([
    { address: '127.0.0.1', loopback: true },
    { address: '127.255.0.9', loopback: true },
    { address: '::1', loopback: true },
    { address: '::ffff:127.0.0.1', loopback: true },
    { address: '::FFFF:127.1.2.3', loopback: true },
    { address: '128.0.0.1', loopback: false },
    { address: '10.127.0.1', loopback: false },
    { address: '::ffff:192.168.1.1', loopback: false },
    { address: '::2', loopback: false },
    { address: '127.example.com', loopback: false },
    { address: undefined, loopback: false },
  ])('$address → $loopback', ({ address, loopback }) => {
    expect(isLoopback(address)).toBe(loopback);
  });
});

describe('bearerToken', () => {
  test.each([
    { header: 'Bearer abc', token: 'abc' },
    { header: 'bearer   abc ', token: 'abc' },
    { header: 'Basic abc', token: undefined },
    { header: 'Bearer', token: undefined },
    { header: 'Bearer a b', token: undefined },
    { header: undefined, token: undefined },
  ])('"$header" → $token', ({ header, token }) => {
    expect(bearerToken(header)).toBe(token);
  });
});

describe('authorize', () => {
  test('a remote client with no token configured is told a token is required', () => {
    const decision = authorize({ token: '', authorization: 'Bearer anything', remoteAddress: '10.0.0.5' });
    expect(decision).toMatchObject({ allowed: false, status: 403, body: { error: 'forbidden' } });
  });

  test('the answer to a wrong token never contains the configured token', () => {
    const decision = authorize({
      token: 'the-real-one',
      authorization: 'Bearer wrong',
      remoteAddress: '127.0.0.1',
    });
    expect(decision.allowed).toBe(false);
    expect(JSON.stringify(decision)).not.toContain('the-real-one');
  });
});
