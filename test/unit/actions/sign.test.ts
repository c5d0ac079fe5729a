import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { signPayload, verifySignature } from '../../../src/actions/sign.js';
import { SECRET } from './support.js';

const body = '{"event":"rollback","deliveryId":"d_1","dryRun":false}';
const now = Date.parse('2026-11-27T10:00:00Z');
const ts = Math.floor(now / 1000);

describe('signPayload', () => {
  it('is sha256= and the hex HMAC of "<timestamp>.<body>"', () => {
    const signature = signPayload(SECRET, ts, body);
    expect(signature).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(signPayload(SECRET, ts, Buffer.from(body))).toBe(signature);
    expect(signPayload(SECRET, ts + 1, body)).not.toBe(signature);
  });

  // Skipped without openssl on a developer machine; under VIGIL_REQUIRE_INTEGRATION=1 (CI) it must run.
  const hasOpenssl = existsSync('/usr/bin/openssl');
  it.skipIf(!hasOpenssl && process.env.VIGIL_REQUIRE_INTEGRATION !== '1')(
    'matches the openssl one-liner in the README',
    () => {
      if (!hasOpenssl) throw new Error('/usr/bin/openssl is required (VIGIL_REQUIRE_INTEGRATION=1)');
      const out = execFileSync('/usr/bin/openssl', ['dgst', '-sha256', '-hmac', SECRET], {
        input: `${ts}.${body}`,
      })
        .toString()
        .trim();
      expect(`sha256=${out.split(' ').pop()}`).toBe(signPayload(SECRET, ts, body));
    },
  );
});

/** The README's receiver snippets, verbatim: they must keep agreeing with signPayload. */
const README_NODE = `import { createHmac, timingSafeEqual } from 'node:crypto';

// rawBody: the request body exactly as received (a Buffer), before any JSON parsing.
function verifyVigil(secret, headers, rawBody, toleranceSec = 300) {
  const ts = headers['x-vigil-timestamp'] ?? '';
  const sig = headers['x-vigil-signature'] ?? '';
  if (!/^\\d+$/.test(ts) || Math.abs(Date.now() / 1000 - Number(ts)) > toleranceSec) return false;
  const expected = 'sha256=' + createHmac('sha256', secret).update(\`\${ts}.\`).update(rawBody).digest('hex');
  return sig.length === expected.length && timingSafeEqual(Buffer.from(sig), Buffer.from(expected));
}`;
const README_SHELL = `expected="sha256=$( { printf '%s.' "$TS"; cat "$BODY_FILE"; } | openssl dgst -sha256 -hmac "$SECRET" | awk '{print $NF}')"
[ "$expected" = "$SIG" ] && echo valid || { echo 'bad signature' >&2; exit 1; }`;

describe('README receiver snippets', () => {
  it('are the ones README.md shows, verbatim', () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    expect(readme).toContain(README_NODE);
    expect(readme).toContain(README_SHELL);
  });

  const nowTs = Math.floor(Date.now() / 1000);
  const signature = signPayload(SECRET, nowTs, body);

  it('the Node snippet accepts a signed request and refuses another secret', () => {
    const harness = `
const headers = { 'x-vigil-timestamp': ${JSON.stringify(String(nowTs))}, 'x-vigil-signature': ${JSON.stringify(signature)} };
const raw = Buffer.from(${JSON.stringify(body)});
console.log(verifyVigil(${JSON.stringify(SECRET)}, headers, raw), verifyVigil('another-secret-0123456', headers, raw));`;
    const out = execFileSync(process.execPath, [
      '--input-type=module',
      '-e',
      `${README_NODE}\n${harness}`,
    ]).toString();
    expect(out.trim()).toBe('true false');
  });

  it.runIf(existsSync('/usr/bin/openssl'))(
    'the shell snippet accepts a signed body and refuses a changed one',
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'vigil-sig-'));
      try {
        const file = join(dir, 'body.json');
        writeFileSync(file, body);
        const env = {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          TS: String(nowTs),
          SIG: signature,
          SECRET,
          BODY_FILE: file,
        };
        expect(execFileSync('sh', ['-c', README_SHELL], { env }).toString().trim()).toBe('valid');
        writeFileSync(file, `${body} `);
        expect(() => execFileSync('sh', ['-c', README_SHELL], { env, stdio: 'pipe' })).toThrow();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});

describe('verifySignature', () => {
  const header = signPayload(SECRET, ts, body);
  const cases: { name: string; args: Parameters<typeof verifySignature>; ok: boolean; reason?: string }[] = [
    { name: 'verifies with the secret', args: [SECRET, header, String(ts), body, { now }], ok: true },
    {
      name: 'refuses another secret',
      args: ['another-secret-0123456', header, String(ts), body, { now }],
      ok: false,
      reason: 'mismatch',
    },
    {
      name: 'refuses a changed body',
      args: [SECRET, header, ts, `${body} `, { now }],
      ok: false,
      reason: 'mismatch',
    },
    {
      name: 'refuses a changed timestamp',
      args: [SECRET, header, ts - 1, body, { now }],
      ok: false,
      reason: 'mismatch',
    },
    {
      name: 'refuses a timestamp older than the tolerance',
      args: [SECRET, header, ts, body, { now: now + 301_000 }],
      ok: false,
      reason: 'stale',
    },
    {
      name: 'accepts within a wider tolerance',
      args: [SECRET, header, ts, body, { now: now + 301_000, toleranceSec: 600 }],
      ok: true,
    },
    {
      name: 'refuses a missing header',
      args: [SECRET, undefined, ts, body, { now }],
      ok: false,
      reason: 'malformed',
    },
    {
      name: 'refuses another scheme',
      args: [SECRET, header.replace('sha256', 'sha1'), ts, body, { now }],
      ok: false,
      reason: 'malformed',
    },
    {
      name: 'refuses a non-numeric timestamp',
      args: [SECRET, header, 'soon', body, { now }],
      ok: false,
      reason: 'malformed',
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const result = verifySignature(...c.args);
      expect(result.ok).toBe(c.ok);
      if (!result.ok) expect(result.reason).toBe(c.reason);
    });
  }
});
