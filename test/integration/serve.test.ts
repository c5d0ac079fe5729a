import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openStore } from '../../src/store/open.js';
import { captureOutput, spawnVigil, waitForExit } from '../helpers/cli.js';

/*
 * `vigil serve` as a real process (the compiled dist/src/main.js): routes, token rules, SIGHUP reload and
 * SIGTERM shutdown, and the one-line startup failures. Everything listens on 127.0.0.1; waits poll with a
 * deadline.
 */

const TOKEN = 'serve-test-token-0123456789abcdef';

/** Polls `read` until it returns a defined value, failing with `what` after `timeoutMs`. */
async function until<T>(what: string, read: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await read();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (${String(lastError)})` : ''}`,
  );
}

/** A loopback service for the probes: counts hits per path. */
async function startTarget(): Promise<{ server: Server; url: string; hits: Map<string, number> }> {
  const hits = new Map<string, number>();
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] as string;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"status":"ok"}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits };
}

function rootYaml(options: { listen: string; targetUrl: string }): string {
  return [
    'service: serve-test',
    'target:',
    `  baseUrl: ${options.targetUrl}`,
    'server:',
    `  listen: ${options.listen}`,
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the config's own interpolation syntax
    '  apiToken: ${VIGIL_API_TOKEN:-}',
    '  shutdownTimeout: 5s',
    'storage:',
    '  path: ./data/vigil.db',
    'probes:',
    '  - probes/*.yaml',
    'slos:',
    '  - slo/*.yaml',
    'watch:',
    '  phases: [smoke, bake]',
    '  evaluationInterval: 5s',
    '',
  ].join('\n');
}

function probeYaml(name: string): string {
  return [
    `- name: ${name}`,
    '  kind: smoke',
    '  interval: 1s',
    '  timeout: 2s',
    `  request: { method: GET, path: /${name} }`,
    '  expect:',
    '    - status: 200',
    '',
  ].join('\n');
}

function sloYaml(probe: string): string {
  return [
    `- name: ${probe}-availability`,
    '  source: probes',
    `  sli: { probe: ${probe}, measure: successRatio }`,
    '  objective: { gte: 0.99 }',
    '',
  ].join('\n');
}

function writeConfig(dir: string, options: { listen: string; targetUrl: string; probe?: string }): string {
  const probe = options.probe ?? 'alpha';
  mkdirSync(join(dir, 'probes'), { recursive: true });
  mkdirSync(join(dir, 'slo'), { recursive: true });
  writeFileSync(join(dir, 'probes', 'main.yaml'), probeYaml(probe));
  writeFileSync(join(dir, 'slo', 'main.yaml'), sloYaml(probe));
  const file = join(dir, 'vigil.yaml');
  writeFileSync(file, rootYaml(options));
  return file;
}

/** Reads the bound port from the daemon's JSON log line `vigil is serving`. */
function servingPort(stdout: string): number | undefined {
  for (const line of stdout.split('\n')) {
    if (!line.includes('vigil is serving')) continue;
    const parsed = JSON.parse(line) as { port?: number };
    if (typeof parsed.port === 'number') return parsed.port;
  }
  return undefined;
}

function metricValue(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/** Sum of vigil_probe_runs_total over every label set of one probe. */
function probeRuns(text: string, probe: string): number {
  return text
    .split('\n')
    .filter((l) => l.startsWith('vigil_probe_runs_total{') && l.includes(`probe="${probe}"`))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-serve-'));
  dirs.push(dir);
  return dir;
}

const children: ChildProcess[] = [];
function spawnServe(file: string, env: NodeJS.ProcessEnv = {}): ChildProcess {
  const child = spawnVigil(['serve', '-c', file], { LOG_LEVEL: 'info', ...env });
  children.push(child);
  return child;
}

afterAll(() => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('vigil serve, a running daemon', () => {
  let target: Awaited<ReturnType<typeof startTarget>>;
  let dir: string;
  let file: string;
  let child: ChildProcess;
  let output: ReturnType<typeof captureOutput>;
  let base: string;

  beforeAll(async () => {
    target = await startTarget();
    dir = tempDir();
    file = writeConfig(dir, { listen: '127.0.0.1:0', targetUrl: target.url });
    child = spawnServe(file, { VIGIL_API_TOKEN: TOKEN });
    output = captureOutput(child);
    const port = await until(
      `"vigil is serving" (stderr: ${output.stderr()})`,
      async () => {
        if (child.exitCode !== null) throw new Error(`exited ${child.exitCode}: ${output.stderr()}`);
        return servingPort(output.stdout());
      },
      20_000,
    );
    base = `http://127.0.0.1:${port}`;
  }, 30_000);

  afterAll(async () => {
    await new Promise((resolve) => target.server.close(resolve));
  });

  test('/live, /ready, /health and /metrics answer', async () => {
    const live = await fetch(`${base}/live`);
    expect(live.status).toBe(200);
    expect(await live.json()).toEqual({ status: 'ok' });

    const ready = await fetch(`${base}/ready`);
    expect(ready.status).toBe(200);

    const health = await fetch(`${base}/health`);
    expect(health.status).toBe(200);
    const body = (await health.json()) as { status: string; checks: Record<string, { status: string }> };
    expect(['ok', 'degraded']).toContain(body.status);
    expect(body.checks.store?.status).toBe('ok');
    // No Prometheus, Loki or Alertmanager in this config: reported as disabled, not down.
    expect(body.checks.prometheus?.status).toBe('disabled');
    expect(body.checks.alertmanager?.status).toBe('disabled');

    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await metrics.text();
    expect(text).toMatch(/^vigil_build_info\{version="[^"]+"\} 1$/m);
    expect(metricValue(text, 'vigil_config_last_reload_successful')).toBe(1);
    expect(text).toContain('process_cpu_user_seconds_total');
  });

  test('the probes of the config run against the target', async () => {
    await until('a run of probe alpha', async () =>
      (target.hits.get('/alpha') ?? 0) > 0 ? true : undefined,
    );
    const text = await until('vigil_probe_runs_total for alpha', async () => {
      const t = await (await fetch(`${base}/metrics`)).text();
      return probeRuns(t, 'alpha') > 0 ? t : undefined;
    });
    expect(text).toMatch(/^vigil_probe_success\{service="serve-test",probe="alpha",kind="smoke"\} 1$/m);
  });

  test.each([
    { behaviour: 'no Authorization header gets 401', headers: {} as Record<string, string>, status: 401 },
    { behaviour: 'a wrong token gets 401', headers: { authorization: `Bearer ${TOKEN}x` }, status: 401 },
    {
      behaviour: 'a token of another scheme gets 401',
      headers: { authorization: `Basic ${TOKEN}` },
      status: 401,
    },
    {
      behaviour: 'the configured token gets 200',
      headers: { authorization: `Bearer ${TOKEN}` },
      status: 200,
    },
  ])('/api/v1 with a token configured: $behaviour', async ({ headers, status }) => {
    const res = await fetch(`${base}/api/v1/watches`, { headers });
    expect(res.status).toBe(status);
    const body = (await res.json()) as Record<string, unknown>;
    if (status === 200) expect(body).toEqual({ watches: [] });
    else {
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="vigil"');
      expect(JSON.stringify(body)).not.toContain(TOKEN);
    }
  });

  test('public routes need no token even when one is configured', async () => {
    for (const path of ['/live', '/ready', '/health', '/metrics']) {
      expect((await fetch(`${base}${path}`)).status, path).toBe(200);
    }
  });

  test('SIGHUP with a broken file keeps the old config; a fixed file reloads', async () => {
    const metricsText = async (): Promise<string> => (await fetch(`${base}/metrics`)).text();

    writeFileSync(join(dir, 'probes', 'main.yaml'), `${probeYaml('beta')}  unknownKey: true\n`);
    child.kill('SIGHUP');
    await until('vigil_config_last_reload_successful 0', async () =>
      metricValue(await metricsText(), 'vigil_config_last_reload_successful') === 0 ? true : undefined,
    );
    expect(output.stdout()).toContain('configuration reload rejected');
    expect(output.stdout()).toContain('unknownKey');
    // The old probe keeps running and the daemon keeps answering.
    const runsBefore = probeRuns(await metricsText(), 'alpha');
    await until('alpha to keep running after the rejected reload', async () =>
      probeRuns(await metricsText(), 'alpha') > runsBefore ? true : undefined,
    );
    expect(probeRuns(await metricsText(), 'beta')).toBe(0);
    expect((await fetch(`${base}/live`)).status).toBe(200);
    expect((await fetch(`${base}/ready`)).status).toBe(200);

    await until('alpha-availability to be evaluated', async () =>
      (await metricsText()).includes('vigil_slo_result{service="serve-test",slo="alpha-availability"')
        ? true
        : undefined,
    );
    writeFileSync(join(dir, 'probes', 'main.yaml'), probeYaml('beta'));
    writeFileSync(join(dir, 'slo', 'main.yaml'), sloYaml('beta'));
    // Two in a row (the kernel may merge them into one): the restarts queue up, one prober at a time.
    child.kill('SIGHUP');
    child.kill('SIGHUP');
    await until('vigil_config_last_reload_successful back to 1', async () =>
      metricValue(await metricsText(), 'vigil_config_last_reload_successful') === 1 ? true : undefined,
    );
    await until('the new probe beta to run', async () =>
      (target.hits.get('/beta') ?? 0) > 0 && probeRuns(await metricsText(), 'beta') > 0 ? true : undefined,
    );
    // The removed SLO leaves nothing behind: no state in the API, no series in /metrics.
    const text = await metricsText();
    expect(text).not.toContain('slo="alpha-availability"');
    const slos = (await (
      await fetch(`${base}/api/v1/slos`, { headers: { authorization: `Bearer ${TOKEN}` } })
    ).json()) as unknown;
    expect(JSON.stringify(slos)).not.toContain('alpha-availability');
    // And alpha is no longer probed once the old prober has stopped.
    const alphaHits = target.hits.get('/alpha') ?? 0;
    const betaHits = target.hits.get('/beta') ?? 0;
    await until('beta to run twice more', async () =>
      (target.hits.get('/beta') ?? 0) >= betaHits + 2 ? true : undefined,
    );
    expect(target.hits.get('/alpha') ?? 0).toBe(alphaHits);
  });

  test('SIGTERM exits 0 within 10 s', async () => {
    const started = Date.now();
    child.kill('SIGTERM');
    const code = await waitForExit(child, 10_000);
    expect(code, output.stderr()).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(output.stdout()).toContain('stopped cleanly');
    await expect(fetch(`${base}/live`)).rejects.toThrow();
  });
});

describe('vigil serve startup errors exit 1 with a one-line reason', () => {
  test('a taken port', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as AddressInfo).port;
    try {
      const dir = tempDir();
      const file = writeConfig(dir, { listen: `127.0.0.1:${port}`, targetUrl: 'http://127.0.0.1:9' });
      const child = spawnServe(file);
      const output = captureOutput(child);
      expect(await waitForExit(child, 15_000)).toBe(1);
      const lines = output.stderr().trimEnd().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toBe(`vigil serve: cannot listen on 127.0.0.1:${port}: the port is already in use`);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  test('an invalid config: a one-line reason, then each problem as <file>:<path>: <message>', async () => {
    const dir = tempDir();
    const file = writeConfig(dir, { listen: '127.0.0.1:0', targetUrl: 'http://127.0.0.1:9' });
    writeFileSync(
      join(dir, 'probes', 'main.yaml'),
      probeYaml('alpha').replace('interval: 1s', 'interval: soon'),
    );
    const child = spawnServe(file);
    const output = captureOutput(child);
    expect(await waitForExit(child, 15_000)).toBe(1);
    const [reason, ...problems] = output.stderr().trimEnd().split('\n');
    expect(reason).toBe('vigil serve: invalid configuration (1 problem)');
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/probes\/main\.yaml:alpha\.interval: .+/);
    expect(output.stdout()).not.toContain('vigil is serving');
  });

  test('a missing config file', async () => {
    const dir = tempDir();
    const child = spawnServe(join(dir, 'absent.yaml'));
    const output = captureOutput(child);
    expect(await waitForExit(child, 15_000)).toBe(1);
    const [reason, ...problems] = output.stderr().trimEnd().split('\n');
    expect(reason).toBe('vigil serve: invalid configuration (1 problem)');
    expect(problems.join('\n')).toContain('absent.yaml');
  });

  test.each([
    {
      behaviour: 'an unknown LOG_LEVEL',
      listen: '127.0.0.1:0',
      env: { LOG_LEVEL: 'verbose' },
      reason: 'vigil serve: LOG_LEVEL must be one of debug, info, warn, error, not "verbose"',
    },
    {
      behaviour: 'an address this machine does not have',
      listen: '192.0.2.199:0',
      env: {},
      reason: 'vigil serve: cannot listen on 192.0.2.199:0: the address is not available on this machine',
    },
  ])('$behaviour', async ({ listen, env, reason }) => {
    const dir = tempDir();
    const file = writeConfig(dir, { listen, targetUrl: 'http://127.0.0.1:9' });
    const child = spawnServe(file, env);
    const output = captureOutput(child);
    expect(await waitForExit(child, 15_000)).toBe(1);
    expect(output.stderr().trimEnd().split('\n')).toEqual([reason]);
  });

  test('a store written by a newer Vigil', async () => {
    const dir = tempDir();
    const file = writeConfig(dir, { listen: '127.0.0.1:0', targetUrl: 'http://127.0.0.1:9' });
    const store = join(dir, 'data', 'vigil.db');
    await (await openStore({ path: store })).close();
    const raw = new Database(store);
    // The schema version this build migrates to, as it wrote it.
    const understood = raw.pragma('user_version', { simple: true }) as number;
    expect(understood).toBeGreaterThan(0);
    raw.pragma(`user_version = ${understood + 1}`);
    raw.close();
    const child = spawnServe(file);
    const output = captureOutput(child);
    expect(await waitForExit(child, 15_000)).toBe(1);
    const lines = output.stderr().trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`schema version ${understood + 1}`);
    expect(lines[0]).toContain(`(${understood})`);
  });
});
