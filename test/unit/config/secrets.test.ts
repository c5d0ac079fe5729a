// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} references are the syntax under test
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configWarnings, loadConfig } from '../../../src/config/load.js';
import { formatProblem } from '../../../src/errors.js';

/* A secret written in the committed root file is a load warning naming the place, never showing the value. */

const SECRET_VALUE = 'abcdef0123456789abcdef';

async function warningsFor(fields: string, env: Record<string, string> = {}): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-secrets-'));
  const file = join(dir, 'vigil.yaml');
  await writeFile(
    file,
    `service: s\ntarget: { baseUrl: http://127.0.0.1:8080 }\nstorage: { path: ":memory:" }\n${fields}\n`,
  );
  const config = await loadConfig(file, env);
  return configWarnings(config)
    .map((warning) => formatProblem({ ...warning, file: warning.file.replace(file, 'vigil.yaml') }))
    .filter((line) => line.includes('a secret written in the file'));
}

describe('a literal secret in the root file is a warning', () => {
  const cases: [string, string, Record<string, string>, string[]][] = [
    ['a literal API token', `server: { apiToken: ${SECRET_VALUE} }`, {}, ['vigil.yaml:server.apiToken']],
    [
      'the default of ${VAR:-…} used for the token',
      `server: { apiToken: "\${VIGIL_API_TOKEN:-${SECRET_VALUE}}" }`,
      {},
      ['vigil.yaml:server.apiToken'],
    ],
    [
      'a token from the environment',
      'server: { apiToken: "${VIGIL_API_TOKEN}" }',
      { VIGIL_API_TOKEN: SECRET_VALUE },
      [],
    ],
    [
      'a token whose variable wins over the default',
      `server: { apiToken: "\${VIGIL_API_TOKEN:-${SECRET_VALUE}}" }`,
      { VIGIL_API_TOKEN: 'x'.repeat(20) },
      [],
    ],
    [
      'a source bearer token and basic-auth password',
      `sources: { prometheus: { url: http://p:9090, bearerToken: t0ken, basicAuth: { username: u, password: pw } } }`,
      {},
      ['vigil.yaml:sources.prometheus.bearerToken', 'vigil.yaml:sources.prometheus.basicAuth.password'],
    ],
    [
      'a webhook secret',
      `actions: { rollback: [ { url: http://hook:1/r, secret: ${SECRET_VALUE} } ] }`,
      {},
      ['vigil.yaml:actions.rollback[0].secret'],
    ],
    [
      'a credential header, not an ordinary one',
      'sources: { loki: { url: http://l:3100, headers: { Authorization: "Basic dTpw", X-Scope-Note: hi } } }',
      {},
      ['vigil.yaml:sources.loki.headers.Authorization'],
    ],
    ['an empty token is no secret', 'server: { apiToken: "${VIGIL_API_TOKEN:-}" }', {}, []],
  ];
  it.each(cases)('%s', async (_behaviour, fields, env, places) => {
    const warnings = await warningsFor(fields, env);
    expect(warnings.map((line) => line.slice(0, line.indexOf(': ')))).toEqual(places);
    for (const line of warnings) expect(line).not.toContain(SECRET_VALUE);
  });

  it('says what to do, with the variable DESIGN names for the API token', async () => {
    expect(await warningsFor(`server: { apiToken: ${SECRET_VALUE} }`)).toEqual([
      'vigil.yaml:server.apiToken: a secret written in the file (a literal, or the default of ${VAR:-…}) is committed with it: write ${VIGIL_API_TOKEN} and set the variable in the environment or the .env file',
    ]);
  });
});
