import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { listenUrl, readConfigServer, resolveServer } from '../../../src/cli/client.js';

/* Where a client command finds the daemon: flag, environment, the config's server.listen, the default. */

describe('listenUrl', () => {
  test.each([
    ['127.0.0.1:9469', 'http://127.0.0.1:9469'],
    ['0.0.0.0:9555', 'http://127.0.0.1:9555'],
    ['[::]:9469', 'http://[::1]:9469'],
    ['[::1]:9469', 'http://[::1]:9469'],
    ['vigil.internal:80', 'http://vigil.internal:80'],
    ['127.0.0.1:0', undefined],
    ['nonsense', undefined],
  ])('%s → %s', (listen, url) => {
    expect(listenUrl(listen)).toBe(url);
  });
});

describe('resolveServer', () => {
  test.each([
    { name: 'the flag wins', flag: 'http://a:1/', env: { VIGIL_SERVER: 'http://b:2' }, server: 'http://a:1' },
    { name: 'then VIGIL_SERVER', flag: undefined, env: { VIGIL_SERVER: 'http://b:2' }, server: 'http://b:2' },
    { name: 'then server.listen', flag: undefined, env: {}, server: 'http://127.0.0.1:9555' },
  ])('$name', ({ flag, env, server }) => {
    expect(resolveServer(flag, env, { listen: '0.0.0.0:9555' }).server).toBe(server);
  });

  test('the token: VIGIL_API_TOKEN, else the config file', () => {
    expect(resolveServer(undefined, { VIGIL_API_TOKEN: 'env' }, { apiToken: 'file' }).token).toBe('env');
    expect(resolveServer(undefined, {}, { apiToken: 'file' }).token).toBe('file');
    expect(resolveServer(undefined, {}, {})).toEqual({ server: 'http://127.0.0.1:9469', token: '' });
  });
});

describe('readConfigServer', () => {
  test('reads listen, token and failureLimit with variables resolved; a missing default file is no config', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-client-'));
    try {
      const file = join(dir, 'vigil.yaml');
      writeFileSync(
        file,
        // biome-ignore lint/suspicious/noTemplateCurlyInString: the config's own interpolation syntax
        'server:\n  listen: ${VIGIL_LISTEN:-127.0.0.1:9469}\n  apiToken: ${TOKEN}\nwatch:\n  failureLimit: 5\n',
      );
      expect(await readConfigServer(file, true, { VIGIL_LISTEN: '0.0.0.0:9999', TOKEN: 't' })).toEqual({
        listen: '0.0.0.0:9999',
        apiToken: 't',
        failureLimit: 5,
      });
      // An unset variable without a default leaves that key out rather than sending "${TOKEN}".
      expect(await readConfigServer(file, true, {})).toEqual({ listen: '127.0.0.1:9469', failureLimit: 5 });
      expect(await readConfigServer(join(dir, 'absent.yaml'), false, {})).toEqual({});
      await expect(readConfigServer(join(dir, 'absent.yaml'), true, {})).rejects.toThrow(
        `cannot read config ${join(dir, 'absent.yaml')}: file not found`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
