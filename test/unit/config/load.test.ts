// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} references are the syntax under test
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { serviceNamed } from '../../../src/config/fleet.js';
import { configWarnings, loadConfig } from '../../../src/config/load.js';
import type { VigilConfig } from '../../../src/config/schema.js';
import { ConfigError, formatProblem } from '../../../src/errors.js';

const VALID = 'test/fixtures/config/valid';
const env = { VIGIL_API_TOKEN: '12345678901234567890' };
const temporary: string[] = [];
afterAll(() => {
  for (const dir of temporary) rmSync(dir, { recursive: true, force: true });
});

function tempCopy(from: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'vigil-config-'));
  temporary.push(dir);
  cpSync(from, dir, { recursive: true });
  return dir;
}

async function problemsOf(file: string, environment: Record<string, string>): Promise<string[]> {
  try {
    await loadConfig(file, environment);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map(formatProblem);
    throw error;
  }
}

/** Replaces absolute paths under `dir` with relative ones, so configs loaded from two places compare. */
function relativize(config: VigilConfig, dir: string): unknown {
  const walk = (value: unknown): unknown => {
    if (typeof value === 'string') return value.startsWith(dir) ? path.relative(dir, value) : value;
    if (Array.isArray(value)) return value.map(walk);
    if (value instanceof RegExp || typeof value !== 'object' || value === null) return value;
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v)]));
  };
  return walk({ root: config.root, probes: config.probes, slos: config.slos });
}

describe('a valid config', () => {
  it('parses durations, percentages, assertions and interpolated values once, into numbers and types', async () => {
    const config = await loadConfig(`${VALID}/vigil.yaml`, env);
    const dir = path.resolve(VALID);
    expect(config.file).toBe(path.join(dir, 'vigil.yaml'));
    expect(config.root.watch).toMatchObject({ duration: 86_400_000, window: 300_000, loadProfile: 'smoke' });
    expect(config.root.loadtests?.profiles.smoke).toMatchObject({ vus: 2, duration: 30_000 });
    expect(config.root.actions.dryRun).toBe(false);
    // an all-digit token stays a string where the schema wants a string
    expect(config.root.server.apiToken).toBe('12345678901234567890');
    expect(config.root.target?.headers['x-note']).toBe('costs ${PRICE} # not a comment');
    expect(config.probes.map((p) => p.name)).toEqual(['booking-journey', 'health']);
    expect(config.slos.map((s) => s.name)).toEqual(['error-rate', 'error-logs', 'availability']);
    expect(config.slos[1]?.baseline).toMatchObject({ from: 'offset', offset: 7 * 86_400_000 });
    expect(config.slos[1]?.baseline?.maxIncrease).toEqual({ kind: 'relative', ratio: 0.5 });
    const health = config.probes.find((p) => p.name === 'health');
    expect(health?.kind === 'smoke' && health.expect[2]?.expected).toEqual(/^application\/json/);
  });

  it('resolves file paths against the root file folder, not the cwd', async () => {
    const config = await loadConfig(`${VALID}/vigil.yaml`, env);
    const dir = path.resolve(VALID);
    expect(config.root.storage.path).toBe(path.join(dir, 'data/vigil.db'));
    expect(config.root.loadtests?.profiles.smoke?.script).toBe(path.join(dir, 'loadtests/smoke.js'));
    expect(config.root.loadtests?.k6).toBe('k6');
    const health = config.probes.find((p) => p.name === 'health');
    expect(health?.tls?.caFile).toBe(path.join(dir, 'certs/ca.pem'));
  });

  it('an empty VIGIL_DATA_DIR falls back to its default; a k6 path with a slash is resolved', async () => {
    const config = await loadConfig(`${VALID}/vigil.yaml`, {
      ...env,
      VIGIL_DATA_DIR: '',
      VIGIL_K6_PATH: './bin/k6',
    });
    expect(config.root.loadtests?.k6).toBe(path.resolve(VALID, 'bin/k6'));
    expect(config.root.storage.path).toBe(path.resolve(VALID, 'data/vigil.db'));
  });

  it('is deeply frozen', async () => {
    const config = await loadConfig(`${VALID}/vigil.yaml`, env);
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.root.watch)).toBe(true);
    expect(Object.isFrozen(config.probes[0])).toBe(true);
    expect(Object.isFrozen(config.root.actions.rollback[0])).toBe(true);
    expect(() => {
      (config.root.watch as { duration: number }).duration = 1;
    }).toThrow(TypeError);
  });

  it('round-trips: re-serialized YAML in another folder loads to the same config', async () => {
    const original = await loadConfig(`${VALID}/vigil.yaml`, env);
    const dir = tempCopy(VALID);
    const rewrite = (folder: string) => {
      for (const entry of readdirSync(folder)) {
        const file = path.join(folder, entry);
        if (statSync(file).isDirectory()) rewrite(file);
        else if (file.endsWith('.yaml')) writeFileSync(file, stringify(parse(readFileSync(file, 'utf8'))));
      }
    };
    rewrite(dir);
    const copy = await loadConfig(path.join(dir, 'vigil.yaml'), env);
    expect(relativize(copy, dir)).toEqual(relativize(original, path.resolve(VALID)));
  });

  it('a missing variable with no default in an otherwise valid file is the one problem', async () => {
    expect(await problemsOf(`${VALID}/vigil.yaml`, {})).toEqual([
      `${VALID}/vigil.yaml:server.apiToken: environment variable VIGIL_API_TOKEN is not set and has no default`,
    ]);
  });

  it('a typed value where the schema wants a number still fails as a type error', async () => {
    expect(await problemsOf(`${VALID}/vigil.yaml`, { ...env, VUS: 'many' })).toEqual([
      `${VALID}/vigil.yaml:loadtests.profiles.smoke.vus: expected a number, got a string`,
    ]);
  });
});

describe('a missing variable is reported once', () => {
  it('not again as the invalid URL or short secret its leftover text makes', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vigil-config-'));
    temporary.push(dir);
    const file = path.join(dir, 'vigil.yaml');
    writeFileSync(
      file,
      [
        'service: prep-api',
        'target: { baseUrl: "${VIGIL_NOPE_URL}" }',
        'storage: { path: ./vigil.db }',
        'actions:',
        '  rollback:',
        '    - url: https://deploy.example.com/rollback',
        '      secret: ${S}',
      ].join('\n'),
    );
    expect(await problemsOf(file, {})).toEqual([
      `${file}:target.baseUrl: environment variable VIGIL_NOPE_URL is not set and has no default`,
      `${file}:actions.rollback[0].secret: environment variable S is not set and has no default`,
    ]);
  });
});

describe('the DESIGN §4 example, verbatim', () => {
  const file = 'test/fixtures/config/design-example/vigil.yaml';

  it('validates, with its probe and SLO files', async () => {
    const config = await loadConfig(file, {});
    expect(config.probes.map((p) => p.name)).toEqual(['health', 'booking-journey']);
    expect(config.slos.map((s) => s.name)).toEqual([
      'error-rate',
      'p95-latency',
      'throughput',
      'error-logs',
      'health-availability',
    ]);
    expect(config.root.watch).toMatchObject({
      duration: 86_400_000,
      evaluationInterval: 60_000,
      window: 300_000,
    });
  });

  it('an empty rollback url is a target that is off, warned about', async () => {
    const config = await loadConfig(file, {});
    expect(configWarnings(config, file).map(formatProblem)).toContain(
      `${file}:actions.rollback[0].url: empty: this rollback target is off`,
    );
  });

  it('with the url set, the secret is required and needs 16+ characters', async () => {
    const url = { VIGIL_ROLLBACK_WEBHOOK_URL: 'https://deploy.example.com/rollback' };
    expect(await problemsOf(file, url)).toEqual([
      `${file}:actions.rollback[0].secret: required (16 or more characters) when url is set`,
    ]);
    expect(await problemsOf(file, { ...url, VIGIL_ROLLBACK_WEBHOOK_SECRET: '0123456789abcdef' })).toEqual([]);
  });
});

describe('the shipped vigil.yaml (DESIGN §4)', () => {
  it('validates with a clean environment, with the checklist probes and SLO checks', async () => {
    // probes/, slo/ and loadtests/ grow in their own issues: pin what this one requires, not the whole list.
    const config = await loadConfig('vigil.yaml', {});
    const api = serviceNamed(config, 'prep-api');
    if (api === undefined) throw new Error('the shipped vigil.yaml has no prep-api');
    const probes = api.probes.map((p) => p.name);
    expect(probes).toEqual(expect.arrayContaining(['health', 'ready', 'live']));
    const slos = api.slos.map((s) => s.name);
    expect(slos).toEqual(
      expect.arrayContaining([
        'error-rate',
        'p95-latency',
        'throughput',
        'error-logs',
        'health-availability',
      ]),
    );
    expect(api.slos.find((s) => s.name === 'error-rate')).toMatchObject({
      objective: { lt: 0.01 },
      critical: true,
    });
    expect(api.slos.find((s) => s.name === 'p95-latency')).toMatchObject({
      objective: { lt: 0.5 },
      baseline: { from: 'pre-deploy' },
    });
    expect(api.slos.find((s) => s.name === 'throughput')?.baseline?.maxDecrease).toEqual({
      kind: 'relative',
      ratio: 0.1,
    });
    expect(api.slos.find((s) => s.name === 'error-logs')).toMatchObject({
      source: 'loki',
      onNoData: 'pass',
    });
    expect(api.root.watch.loadProfile).toBe('smoke');
    expect(api.root.loadtests?.profiles.smoke?.script).toBe(path.resolve('loadtests/smoke.js'));
    expect(api.root.target.baseUrl).toBe('http://127.0.0.1:8080');
    expect(config.root.sources.prometheus?.url).toBe('http://127.0.0.1:9090');
    expect(config.root.storage.path).toBe(path.resolve('data/vigil.db'));
  });

  it('takes every URL from the environment', async () => {
    const config = await loadConfig('vigil.yaml', {
      VIGIL_TARGET_URL: 'https://prep.example.com',
      VIGIL_WORKER_TARGET_URL: 'https://prep-worker.example.com',
      VIGIL_PROMETHEUS_URL: 'https://prom.example.com',
      VIGIL_LOKI_URL: 'https://loki.example.com',
      VIGIL_ALERTMANAGER_URL: 'https://am.example.com',
      VIGIL_LISTEN: '0.0.0.0:9469',
      VIGIL_DATA_DIR: '/var/lib/vigil',
      VIGIL_K6_PATH: '/usr/local/bin/k6',
    });
    expect(serviceNamed(config, 'prep-api')?.root.target.baseUrl).toBe('https://prep.example.com');
    expect(serviceNamed(config, 'prep-worker')?.root.target.baseUrl).toBe('https://prep-worker.example.com');
    expect(config.root.sources.prometheus?.url).toBe('https://prom.example.com');
    expect(config.root.sources.loki?.url).toBe('https://loki.example.com');
    expect(config.root.alertmanager?.url).toBe('https://am.example.com');
    expect(config.root.server.listen).toBe('0.0.0.0:9469');
    expect(config.root.storage.path).toBe('/var/lib/vigil/vigil.db');
    expect(config.root.loadtests?.k6).toBe('/usr/local/bin/k6');
  });

  it('storage.url selects PostgreSQL; empty means SQLite; anything else is refused where it stands', async () => {
    const url = 'postgres://vigil:secret@db.internal:5432/vigil';
    expect((await loadConfig('vigil.yaml', { VIGIL_DATABASE_URL: url })).root.storage.url).toBe(url);
    expect((await loadConfig('vigil.yaml', { VIGIL_DATABASE_URL: '  ' })).root.storage.url).toBeUndefined();
    const problems = await problemsOf('vigil.yaml', { VIGIL_DATABASE_URL: 'mysql://db.internal/vigil' });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^vigil\.yaml:storage\.url: must be a PostgreSQL URL/);
  });

  it('an empty rollback url switches that target off, with a warning', async () => {
    const config = await loadConfig('vigil.yaml', {});
    expect(config.root.actions.rollback[0]?.url).toBe('');
    expect(configWarnings(config, 'vigil.yaml').map(formatProblem)).toEqual([
      'vigil.yaml:actions.rollback[0].url: empty: this rollback target is off',
      'vigil.yaml:server.apiToken: empty: /api/v1 answers only clients on loopback',
    ]);
  });

  it('a rollback url needs a secret of 16 or more characters', async () => {
    const url = { VIGIL_ROLLBACK_WEBHOOK_URL: 'https://deploy.example.com/rollback' };
    expect(await problemsOf('vigil.yaml', url)).toEqual([
      'vigil.yaml:actions.rollback[0].secret: required (16 or more characters) when url is set',
    ]);
    expect(
      await problemsOf('vigil.yaml', { ...url, VIGIL_ROLLBACK_WEBHOOK_SECRET: 'fifteen-chars!!' }),
    ).toEqual(['vigil.yaml:actions.rollback[0].secret: too short (15 characters; 16 or more required)']);
    const config = await loadConfig('vigil.yaml', {
      ...url,
      VIGIL_ROLLBACK_WEBHOOK_SECRET: 'sixteen-chars!!!',
    });
    expect(config.root.actions.rollback[0]).toMatchObject({ ...{ url: url.VIGIL_ROLLBACK_WEBHOOK_URL } });
  });
});

describe('OpenSLO seam', () => {
  it('an SLO file of openslo/v1 documents goes to the OpenSLO converter', async () => {
    const dir = tempCopy('test/fixtures/config/valid');
    writeFileSync(
      path.join(dir, 'slo/openslo.yaml'),
      'apiVersion: openslo/v1\nkind: SLO\nmetadata: { name: checkout }\nspec: {}\n---\napiVersion: openslo/v1\nkind: SLI\nmetadata: { name: x }\nspec: {}\n',
    );
    const problems = await problemsOf(path.join(dir, 'vigil.yaml'), env);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.every((p) => p.startsWith(`${path.join(dir, 'slo/openslo.yaml')}:[`))).toBe(true);
  });
});
