import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createPatternStore } from '../../../src/patterns/store.js';
import { openStore } from '../../../src/store/open.js';
import { runInProcess } from '../../helpers/cli.js';
import {
  keyErrorLine,
  type LokiStandIn,
  recordedEntries,
  spreadLines,
  startLokiStandIn,
} from '../../helpers/loki-logs.js';

/*
 * `vigil logs diff` (DESIGN §2) against the Loki stand-in: the classification a watch would make for a
 * deploy at --since, its exit codes, and the daemon store's feedback applied.
 */

const MIN = 60_000;
const DEPLOYED = Date.parse('2026-11-27T12:00:00Z');
const AT = DEPLOYED + 10 * MIN;
const KNOWN = recordedEntries().filter((e) => e.labels.app === 'prep-api' && e.labels.level === 'error');
const BEFORE = spreadLines(DEPLOYED - 60 * MIN, DEPLOYED, 6, KNOWN);
const AFTER_KNOWN = spreadLines(DEPLOYED, AT, 6, KNOWN);
const AFTER_NEW = [...AFTER_KNOWN, ...spreadLines(DEPLOYED, AT, 2, [keyErrorLine('currency')])];

const SLOS = `- name: new-error-signatures
  source: loki
  patterns:
    query: '{app="prep-api"} | json | level=~"error|fatal"'
    minCount: 5
  baseline: { from: pre-deploy }
`;

let dir: string | undefined;
let loki: LokiStandIn | undefined;
afterEach(async () => {
  await loki?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
  loki = undefined;
  dir = undefined;
});

async function setUp(url: string): Promise<string> {
  dir = await mkdtemp(join(tmpdir(), 'vigil-logs-'));
  await mkdir(join(dir, 'slo'));
  const config = join(dir, 'vigil.yaml');
  await writeFile(
    config,
    `service: prep-api\ntarget: { baseUrl: http://127.0.0.1:9 }\nstorage: { path: ${join(dir, 'vigil.db')} }\n` +
      `sources: { loki: { url: ${url}, timeout: 2s } }\nslos: [slo/*.yaml]\nwatch: { window: 5m }\n`,
  );
  await writeFile(join(dir, 'slo', 'logs.yaml'), SLOS);
  return config;
}

const diff = (config: string, ...extra: string[]) =>
  runInProcess([
    'logs',
    'diff',
    '-c',
    config,
    '--since',
    new Date(DEPLOYED).toISOString(),
    '--at',
    String(AT / 1000),
    ...extra,
  ]);

describe('vigil logs diff', () => {
  it('a new signature: exit 1, with the template, count and examples in both outputs', async () => {
    loki = await startLokiStandIn([...BEFORE, ...AFTER_NEW]);
    const run = await diff(await setUp(loki.url), '--json');
    expect(run.code).toBe(1);
    const doc = JSON.parse(run.stdout);
    expect(doc).toMatchObject({
      deployedAt: '2026-11-27T12:00:00.000Z',
      evaluatedAt: '2026-11-27T12:10:00.000Z',
    });
    const [check] = doc.checks;
    expect(check).toMatchObject({ name: 'new-error-signatures', result: 'fail', value: 1 });
    expect(check.signatures.new).toMatchObject([{ template: 'KeyError: <STR>', count: 10, level: 'error' }]);
    expect(check.signatures.known.map((s: { template: string }) => s.template).sort()).toEqual([
      'booking conflict',
      'payment failed',
      'upstream timeout',
    ]);
    expect(run.stderr).toContain('FAIL  new-error-signatures');
    expect(run.stderr).toMatch(
      / {2}NEW\n {4}p[0-9a-f]{12} {2}×10 {2}\[error\] KeyError: <STR> {2}first 2026-11-27T12:05:00\.000Z\n/,
    );
    expect(run.stderr).toContain(`e.g. {"level":"error","msg":"KeyError: 'currency'"`);
  });

  it('only known errors: exit 0', async () => {
    loki = await startLokiStandIn([...BEFORE, ...AFTER_KNOWN]);
    const run = await diff(await setUp(loki.url));
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('PASS  new-error-signatures  no new signature past minCount 5');
  });

  it('a signature marked "not a risk" in the daemon store is known here too', async () => {
    loki = await startLokiStandIn([...BEFORE, ...AFTER_NEW]);
    const config = await setUp(loki.url);
    const first = JSON.parse((await diff(config, '--json')).stdout);
    const id = first.checks[0].signatures.new[0].id as string;
    const store = await openStore({ path: join(dir as string, 'vigil.db') });
    await createPatternStore(store).addFeedback({
      service: 'prep-api',
      signature: id,
      verdict: 'ignore',
      level: 'error',
      logger: '',
      template: 'KeyError: <STR>',
      reason: 'backfill',
      who: 'alice',
      at: DEPLOYED,
    });
    await store.close();
    expect((await diff(config)).code).toBe(0);
  });

  it('a store this build cannot open is said, and the diff goes on without its feedback', async () => {
    loki = await startLokiStandIn([...BEFORE, ...AFTER_KNOWN]);
    const config = await setUp(loki.url);
    await writeFile(join(dir as string, 'vigil.db'), 'not a database');
    const run = await diff(config);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('note: no operator feedback applied (');
  });

  it('Loki down: exit 2', async () => {
    loki = await startLokiStandIn([]);
    const url = loki.url;
    await loki.close();
    loki = undefined;
    const run = await diff(await setUp(url));
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('INCONCLUSIVE  new-error-signatures  baseline: loki unavailable');
  });

  it.each([
    ['an unknown check', ['--check', 'nope'], 'no patterns check named nope (known: new-error-signatures)'],
    ['a bad time', ['--at', 'yesterday'], '--at "yesterday" is not RFC 3339'],
  ])('%s: exit 3', async (_name, extra, message) => {
    loki = await startLokiStandIn([]);
    const run = await diff(await setUp(loki.url), ...extra);
    expect(run.code).toBe(3);
    expect(run.stderr).toContain(message);
  });
});
