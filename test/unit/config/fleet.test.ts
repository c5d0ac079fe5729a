import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { serviceNamed, serviceNames, servicesOf } from '../../../src/config/fleet.js';
import { buildJsonSchema } from '../../../src/config/json-schema.js';
import { configWarnings, loadConfig } from '../../../src/config/load.js';
import type { ServiceConfig, VigilConfig } from '../../../src/config/schema.js';
import { ConfigError, formatProblem } from '../../../src/errors.js';

/*
 * Issue 16, the config part: a root `services:` map, each entry inheriting the root's defaults
 * (DESIGN §4, fleets). The fixture test/fixtures/config/fleet has prep-api inheriting everything and
 * prep-worker overriding one key or list of each section, and an SLO file both services share.
 */

const FLEET = 'test/fixtures/config/fleet/vigil.yaml';
const FLEET_DIR = path.resolve('test/fixtures/config/fleet');

const temporary: string[] = [];
afterAll(() => {
  for (const dir of temporary) rmSync(dir, { recursive: true, force: true });
});

/** Writes a config tree (root file plus definition files) into a new temp folder; returns the root file. */
function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'vigil-fleet-'));
  temporary.push(dir);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  return path.join(dir, 'vigil.yaml');
}

/** Every problem of a load, as printed, with the temp folder taken off so the cases read as files. */
async function problemsOf(file: string, env: Record<string, string> = {}): Promise<string[]> {
  try {
    await loadConfig(file, env);
    return [];
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const dir = `${path.dirname(file)}/`;
    return error.problems.map((problem) => formatProblem(problem).replaceAll(dir, ''));
  }
}

function service(config: VigilConfig, name: string): ServiceConfig {
  const found = serviceNamed(config, name);
  if (found === undefined) throw new Error(`no service ${name} in ${serviceNames(config).join(', ')}`);
  return found;
}

const PROBES = `- name: health
  kind: smoke
  request: { path: /health }
  expect: [ { status: 200 } ]
`;
const SHARED_SLOS = `- name: error-rate
  source: prometheus
  query: (sum(rate(http_requests_total{job="{{service}}",code=~"5.."}[{{window}}])) or vector(0)) / sum(rate(http_requests_total{job="{{service}}"}[{{window}}]))
  objective: { lt: 0.01 }
- name: health-availability
  source: probes
  sli: { probe: health, measure: successRatio }
  objective: { gte: 0.99 }
`;
const ROOT = `storage: { path: ./data/vigil.db }
sources: { prometheus: { url: http://127.0.0.1:9090 } }
`;
/** Two services sharing one probe file and one SLO file; `extra` is appended to the root file. */
function fleetTree(rootText: string, files: Record<string, string> = {}): string {
  return tree({
    'vigil.yaml': rootText,
    'probes/health.yaml': PROBES,
    'slo/http.yaml': SHARED_SLOS,
    ...files,
  });
}
const TWO_SERVICES = `services:
  prep-api:
    target: { baseUrl: http://127.0.0.1:8080 }
    probes: [probes/health.yaml]
    slos: [slo/http.yaml]
  prep-worker:
    target: { baseUrl: http://127.0.0.1:8081 }
    probes: [probes/health.yaml]
    slos: [slo/http.yaml]
`;

describe('a fleet: each service inherits the root and overrides what its entry sets', () => {
  it('lists the services in file order, each with its own target, probes and SLO checks', async () => {
    const config = await loadConfig(FLEET, {});
    expect(serviceNames(config)).toEqual(['prep-api', 'prep-worker']);
    const api = service(config, 'prep-api');
    const worker = service(config, 'prep-worker');
    expect(api.root.target).toEqual({ baseUrl: 'http://127.0.0.1:8080', headers: {} });
    expect(worker.root.target).toEqual({ baseUrl: 'http://127.0.0.1:8081', headers: { 'x-pool': 'jobs' } });
    expect(api.probes.map((p) => p.name)).toEqual(['health']);
    expect(worker.probes.map((p) => p.name)).toEqual(['health', 'queue']);
    expect(api.slos.map((s) => s.name)).toEqual(['error-rate', 'health-availability']);
    expect(worker.slos.map((s) => s.name)).toEqual([
      'error-rate',
      'health-availability',
      'job-failure-ratio',
    ]);
    // The top level holds every service's definitions together (names repeat across services).
    expect(config.probes.map((p) => p.name)).toEqual(['health', 'health', 'queue']);
    expect(config.slos).toHaveLength(5);
    // The shared file's {{service}} stays a template, filled per service at evaluation.
    expect(worker.slos[0]?.query).toContain('job="{{service}}"');
    expect(worker.root.service).toBe('prep-worker');
    expect(servicesOf(config)).toBe(config.services);
  });

  it('watch: the entry’s keys over the root’s, defaults only where neither sets one', async () => {
    const config = await loadConfig(FLEET, {});
    expect(service(config, 'prep-api').root.watch).toEqual(config.root.watch);
    expect(service(config, 'prep-worker').root.watch).toEqual({
      ...config.root.watch,
      duration: 6 * 3_600_000, // the entry's
      minWindow: 120_000, // the entry's; the root leaves it unset
    });
    expect(service(config, 'prep-worker').root.watch).toMatchObject({
      failureLimit: 4, // the root's, not the default 3
      loadProfile: 'smoke',
      evaluationInterval: 60_000, // neither sets it: the default
    });
  });

  it('actions: an entry’s rollback list replaces the root’s; the rest is inherited key by key', async () => {
    const config = await loadConfig(FLEET, {});
    expect(service(config, 'prep-api').root.actions).toEqual(config.root.actions);
    const actions = service(config, 'prep-worker').root.actions;
    expect(actions.rollback.map((target) => target.url)).toEqual([
      'https://deploy.example.com/worker-rollback',
    ]);
    expect(actions.notify).toEqual(config.root.actions.notify);
    expect(actions.dryRun).toBe(true);
    expect(actions.maxAge).toBe(1_800_000);
  });

  it('loadtests: profiles merge by name (the entry’s wins), the schedule is the entry’s, k6 and the cap the root’s', async () => {
    const config = await loadConfig(FLEET, {});
    const script = path.join(FLEET_DIR, 'loadtests/smoke.js');
    const api = service(config, 'prep-api').root.loadtests;
    const worker = service(config, 'prep-worker').root.loadtests;
    expect(api?.profiles.smoke).toMatchObject({ vus: 2, duration: 30_000, script });
    expect(worker?.profiles.smoke).toMatchObject({ vus: 1, duration: 10_000, script });
    expect(worker?.profiles.load).toEqual(api?.profiles.load);
    expect(api?.schedule).toEqual([]);
    expect(worker?.schedule).toEqual([{ profile: 'load', cron: '0 3 * * *' }]);
    expect(worker?.k6).toBe(path.join(FLEET_DIR, 'bin/k6'));
    expect([config.root.loadtests?.maxConcurrentRuns, worker?.maxConcurrentRuns]).toEqual([1, 1]);
  });

  it('sources: an entry overrides a source key by key, and may add a source the root leaves out', async () => {
    const config = await loadConfig(FLEET, {});
    expect(service(config, 'prep-api').root.sources).toEqual(config.root.sources);
    expect(service(config, 'prep-worker').root.sources).toEqual({
      prometheus: {
        url: 'http://127.0.0.1:9091', // the entry's
        tenant: 'prep', // the root's
        timeout: 20_000, // the root's
        headers: {},
        scrapeInterval: 15_000,
      },
      loki: { url: 'http://127.0.0.1:3100', timeout: 10_000, headers: {}, scrapeInterval: 15_000 },
    });
  });

  it('server, storage and alertmanager are the daemon’s, the same for every service', async () => {
    const config = await loadConfig(FLEET, {});
    for (const name of ['prep-api', 'prep-worker']) {
      const { root } = service(config, name);
      expect([root.server, root.storage, root.alertmanager]).toEqual([
        config.root.server,
        config.root.storage,
        config.root.alertmanager,
      ]);
    }
    expect(config.root.storage.path).toBe(path.join(FLEET_DIR, 'data/vigil.db'));
  });

  it('a single-service file is a fleet of one that means what it meant', async () => {
    const config = await loadConfig('test/fixtures/config/valid/vigil.yaml', {
      VIGIL_API_TOKEN: '12345678901234567890',
    });
    expect(config.services).toHaveLength(1);
    expect(config.services?.[0]).toEqual({
      file: config.file,
      root: config.root,
      probes: config.probes,
      slos: config.slos,
    });
    expect(config.root.services).toBeUndefined();
    expect(config.root.loadtests?.maxConcurrentRuns).toBe(2);
  });

  it('the JSON Schema describes an entry’s watch without defaults (they are the root’s) and documents the cap', () => {
    const schema = buildJsonSchema() as {
      properties: Record<string, { properties?: Record<string, unknown>; additionalProperties?: unknown }>;
    };
    const entry = schema.properties.services?.additionalProperties as {
      properties: { watch: { properties: Record<string, { default?: unknown }> } };
      required: string[];
    };
    expect(entry.required).toEqual(['target']);
    expect(Object.keys(entry.properties.watch.properties)).toContain('duration');
    expect(
      Object.entries(entry.properties.watch.properties).filter(([, field]) => 'default' in field),
    ).toEqual([]);
    expect(schema.properties.loadtests?.properties?.maxConcurrentRuns).toMatchObject({ default: 2 });
  });
});

describe('the fleet’s rules on the root file', () => {
  it.each([
    [
      'both service: and services:',
      `service: prep-api\n${ROOT}${TWO_SERVICES}`,
      [
        'vigil.yaml:service: a file watches one service (service:) or a fleet (services:), not both: move this one into services:',
      ],
    ],
    [
      'neither service: nor services:',
      `${ROOT}target: { baseUrl: http://127.0.0.1:8080 }\n`,
      ['vigil.yaml:service: is required (or services:, one entry per service of a fleet)'],
    ],
    ['a single service with no target', `service: prep-api\n${ROOT}`, ['vigil.yaml:target: is required']],
    [
      'an empty services map',
      `${ROOT}services: {}\n`,
      [
        'vigil.yaml:services: names no service: give each service an entry with its target (or write service: and target: for one)',
      ],
    ],
    [
      'a root target, probes and slos beside services:',
      `${ROOT}target: { baseUrl: http://127.0.0.1:8080 }\nprobes: [probes/health.yaml]\nslos: [slo/http.yaml]\n${TWO_SERVICES}`,
      ['target', 'probes', 'slos'].map(
        (key) =>
          `vigil.yaml:${key}: a fleet's services each have their own: put them in each service's entry (services.<name>.${key})`,
      ),
    ],
    [
      'a root load schedule in a fleet',
      `${ROOT}loadtests:\n  profiles: { smoke: { script: smoke.js } }\n  schedule: [ { profile: smoke, cron: "0 2 * * *" } ]\n${TWO_SERVICES}`,
      [
        'vigil.yaml:loadtests.schedule: which service would it load? In a fleet each service schedules its own: move it to services.<name>.loadtests.schedule',
      ],
    ],
  ])('%s is a problem', async (_case, rootText, expected) => {
    expect(await problemsOf(fleetTree(rootText, { 'smoke.js': 'export default function () {}\n' }))).toEqual(
      expected,
    );
  });
});

describe('problems in a fleet name the service, and are said once', () => {
  it('reports every service’s problems at once, each at its entry’s path', async () => {
    const file = fleetTree(
      `${ROOT}actions: { rollback: [ { url: https://deploy.example.com/rb, secret: 0123456789abcdef } ] }
services:
  prep-api:
    target: { baseUrl: http://127.0.0.1:8080 }
    probes: [probes/api/*.yaml]
    slos: [slo/http.yaml]
    actions: { rollback: [ { url: https://deploy.example.com/api, secret: short } ] }
  prep-worker:
    target: { baseUrl: http://127.0.0.1:8081 }
    probes: [probes/worker.yaml]
    slos: [slo/http.yaml]
    watch: { duration: soon, phases: [smoke, bake] }
`,
      { 'probes/worker.yaml': PROBES.replace('health', 'queue') },
    );
    expect(await problemsOf(file)).toEqual([
      'vigil.yaml:services.prep-worker.watch.duration: invalid duration "soon": use a positive number with a unit ms, s, m, h, d or w (e.g. 30s, 5m, 24h)',
      'vigil.yaml:services.prep-api.probes[0]: "probes/api/*.yaml" matches no file',
      'slo/http.yaml:health-availability.sli.probe: unknown probe "health" in service prep-api (probes: none defined)',
      'vigil.yaml:services.prep-api.actions.rollback[0].secret: too short (5 characters; 16 or more required)',
      'slo/http.yaml:health-availability.sli.probe: unknown probe "health" in service prep-worker (probes: queue)',
    ]);
  });

  it('an unknown key of an entry is named at the entry, with the key it probably meant', async () => {
    const file = fleetTree(`${ROOT}${TWO_SERVICES}    watch: { durration: 6h }\n`);
    expect(await problemsOf(file)).toEqual([
      'vigil.yaml:services.prep-worker.watch.durration: unknown key; did you mean `duration`?',
    ]);
  });

  it('a problem in what the services inherit is said once, at the root', async () => {
    const file = fleetTree(
      `${ROOT}watch: { loadProfile: soak }
actions: { rollback: [ { url: https://deploy.example.com/rb, secret: short } ] }
${TWO_SERVICES}`,
    );
    expect(await problemsOf(file)).toEqual([
      'vigil.yaml:watch.loadProfile: unknown load profile "soak" (loadtests.profiles: none defined)',
      'vigil.yaml:actions.rollback[0].secret: too short (5 characters; 16 or more required)',
    ]);
  });

  it('an invalid root section is said once, at the root, whatever the services set over it', async () => {
    const file = fleetTree(`${ROOT}watch: { duration: soon }\n${TWO_SERVICES}    watch: { duration: 6h }\n`);
    expect(await problemsOf(file)).toEqual([
      'vigil.yaml:watch.duration: invalid duration "soon": use a positive number with a unit ms, s, m, h, d or w (e.g. 30s, 5m, 24h)',
    ]);
  });

  it('a problem inside a definition file two services share is said once, by its file', async () => {
    const file = fleetTree(`${ROOT}${TWO_SERVICES}`, {
      'slo/http.yaml': SHARED_SLOS.replace('objective: { lt: 0.01 }', 'objective: {}'),
    });
    expect(await problemsOf(file)).toEqual([
      'slo/http.yaml:error-rate.objective: an objective needs at least one of lt, lte, gt, gte',
    ]);
  });

  it('probe names are unique within a service, and may repeat across services', async () => {
    const repeated = fleetTree(`${ROOT}${TWO_SERVICES}`);
    expect(await problemsOf(repeated)).toEqual([]);
    const twice = fleetTree(
      `${ROOT}${TWO_SERVICES.replace('probes: [probes/health.yaml]\n    slos: [slo/http.yaml]\n  prep-worker', 'probes: [probes/health.yaml, probes/again.yaml]\n    slos: [slo/http.yaml]\n  prep-worker')}`,
      { 'probes/again.yaml': PROBES },
    );
    expect(await problemsOf(twice)).toEqual([
      'probes/again.yaml:health.name: duplicate probe name "health" (first defined at probes/health.yaml:health.name)',
    ]);
  });

  it('a source an entry adds must be whole: its missing url is the entry’s problem', async () => {
    const file = fleetTree(`${ROOT}${TWO_SERVICES}    sources: { loki: { timeout: 5s } }\n`);
    expect(await problemsOf(file)).toEqual([
      'vigil.yaml:services.prep-worker.sources.loki.url: expected a string or "", got undefined',
    ]);
  });

  it('warns about an entry’s own switched-off rollback target at the entry, an inherited one once', async () => {
    const file = fleetTree(
      `${ROOT}server: { apiToken: "\${TOKEN}" }\nactions: { rollback: [ { url: "" } ] }\n${TWO_SERVICES}    actions: { rollback: [] }\n`,
    );
    const config = await loadConfig(file, { TOKEN: 'x' });
    expect(configWarnings(config, 'vigil.yaml').map(formatProblem)).toEqual([
      'vigil.yaml:actions.rollback[0].url: empty: this rollback target is off',
      'vigil.yaml:services.prep-worker.actions.rollback: no rollback target: a failing watch will only alert',
    ]);
  });
});

describe('the shipped vigil.yaml: the Prep platform as two services', () => {
  it('validates with prep-api as before and prep-worker with its own target, probes and SLO checks', async () => {
    const config = await loadConfig('vigil.yaml', { VIGIL_WORKER_TARGET_URL: 'http://worker.prep:8081' });
    expect(serviceNames(config)).toEqual(['prep-api', 'prep-worker']);
    const api = service(config, 'prep-api');
    const worker = service(config, 'prep-worker');
    expect(api.root.target.baseUrl).toBe('http://127.0.0.1:8080');
    expect(api.root.watch).toMatchObject({ loadProfile: 'smoke', duration: 86_400_000 });
    expect(api.root.loadtests?.schedule).toEqual([{ profile: 'soak', cron: '0 2 * * *' }]);
    expect(worker.root.target.baseUrl).toBe('http://worker.prep:8081');
    expect(worker.root.watch).toMatchObject({ phases: ['smoke', 'bake'], duration: 6 * 3_600_000 });
    expect(worker.probes.map((p) => p.name)).toEqual(['health', 'ready']);
    expect(worker.slos.map((s) => s.name)).toEqual([
      'job-failure-ratio',
      'job-latency-p95',
      'queue-backlog',
      'health-availability',
    ]);
    for (const check of worker.slos.filter((s) => s.source === 'prometheus'))
      expect(check.query).toMatch(/job="\{\{service\}\}".*\[\{\{window\}\}\]/s);
    expect(config.root.loadtests?.maxConcurrentRuns).toBe(2);
    // No warning beyond the ones a local run has always had: the worker's ratio keeps its zero.
    expect(configWarnings(config, 'vigil.yaml').map(formatProblem)).toEqual([
      'vigil.yaml:actions.rollback[0].url: empty: this rollback target is off',
      'vigil.yaml:server.apiToken: empty: /api/v1 answers only clients on loopback',
    ]);
  });
});
