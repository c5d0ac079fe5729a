// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} references are the syntax under test
import { describe, expect, it } from 'vitest';
import { interpolate, interpolateString } from '../../../src/config/interpolate.js';

const env = { HOST: 'db.internal', EMPTY: '', PORT: '5432', FLAG: 'true', WEIRD: 'a: b # c "d"' };

describe('interpolateString', () => {
  const cases: [string, string, string][] = [
    ['a set variable is replaced', 'http://${HOST}:9090', 'http://db.internal:9090'],
    [
      'the default is used when the variable is unset',
      '${NOPE:-http://127.0.0.1:9090}',
      'http://127.0.0.1:9090',
    ],
    ['the default is used when the variable is empty', '${EMPTY:-fallback}', 'fallback'],
    ['a set variable wins over its default', '${HOST:-localhost}', 'db.internal'],
    ['an empty default gives an empty string', '${NOPE:-}', ''],
    [
      'without the colon, the default is used when the variable is unset',
      '${NOPE-http://l:3100}',
      'http://l:3100',
    ],
    [
      'without the colon, a set-but-empty variable stays empty (a source turned off)',
      '[${EMPTY-http://l:3100}]',
      '[]',
    ],
    ['without the colon, a set variable wins', '${HOST-localhost}', 'db.internal'],
    ['a set-but-empty variable without default is its empty value', '[${EMPTY}]', '[]'],
    ['$${ is a literal ${', 'costs $${PRICE}', 'costs ${PRICE}'],
    ['several references in one string', '${HOST}:${PORT}/${NOPE:-db}', 'db.internal:5432/db'],
    ['a default may hold colons and slashes', '${NOPE:-./data}/vigil.db', './data/vigil.db'],
    ['YAML-special characters in a value are kept as text', 'x=${WEIRD}', 'x=a: b # c "d"'],
    ['a lone $ is left alone', 'price $5 and $HOME', 'price $5 and $HOME'],
  ];
  it.each(cases)('%s', (_behaviour, input, expected) => {
    expect(interpolateString(input, env)).toMatchObject({ text: expected, problems: [] });
  });

  it('a variable with no value and no default is a problem naming it', () => {
    expect(interpolateString('${VIGIL_X}/x', env).problems).toEqual([
      'environment variable VIGIL_X is not set and has no default',
    ]);
  });

  it('every missing variable of one string is reported', () => {
    expect(interpolateString('${A}${B:-b}${C}', {}).problems).toEqual([
      'environment variable A is not set and has no default',
      'environment variable C is not set and has no default',
    ]);
  });

  it.each(['${}', '${1ABC}', '${A+b}', '${A'])('a malformed reference %s is a problem', (input) => {
    expect(interpolateString(input, env).problems).toEqual([
      `invalid variable reference "${input}": use \${NAME}, \${NAME:-default} or \${NAME-default}`,
    ]);
  });
});

describe('interpolate (a parsed document)', () => {
  it('a whole-scalar reference to a number or boolean literal takes that type', () => {
    const doc = { vus: '${VUS:-2}', ratio: '${R:-0.5}', dryRun: '${FLAG}', port: '${PORT}' };
    expect(interpolate(doc, env).value).toEqual({ vus: 2, ratio: 0.5, dryRun: true, port: 5432 });
  });

  it('text around a reference keeps the scalar a string', () => {
    expect(interpolate({ a: 'v${PORT}', b: '${PORT} ', c: '${NOPE:-1e3x}' }, env).value).toEqual({
      a: 'v5432',
      b: '5432 ',
      c: '1e3x',
    });
  });

  it('typed scalars are listed with their text, so a string field can take them back', () => {
    expect(interpolate({ server: { apiToken: '${PORT}' } }, env).typed).toEqual([
      { path: ['server', 'apiToken'], text: '5432' },
    ]);
  });

  it('problems carry the path of the scalar, through lists and maps', () => {
    const result = interpolate({ actions: { rollback: [{ url: 'x', secret: '${VIGIL_SECRET}' }] } }, {});
    expect(result.problems).toEqual([
      {
        path: ['actions', 'rollback', 0, 'secret'],
        message: 'environment variable VIGIL_SECRET is not set and has no default',
      },
    ]);
  });

  it('keys, numbers, booleans and null pass through untouched', () => {
    const doc = { '${KEY}': 1, on: true, off: null, list: [1, '${HOST}'] };
    expect(interpolate(doc, env).value).toEqual({
      '${KEY}': 1,
      on: true,
      off: null,
      list: [1, 'db.internal'],
    });
  });
});
