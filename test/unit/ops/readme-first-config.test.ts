import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../../../src/config/load.js';
import { captureOutput, REPO_ROOT, runInProcess, spawnVigil, VIGIL_BIN } from '../../helpers/cli.js';

/*
 * The README's "Your first config in 10 minutes" and "Wiring it into CI" are what a newcomer copies:
 * every file snippet must load, the toy service must pass its probes, a watch of it must pass smoke,
 * and the CI scripts must run as written (the image's CLI replaced by the local build).
 */

const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');

/** The text of a `## ` section, up to the next `## ` heading. */
function section(heading: string): string {
  const start = readme.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`README.md has no "## ${heading}" section`);
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end < 0 ? undefined : end);
}

/** Fenced blocks introduced by `<!-- <kind>: <name> -->` on the line before, by name. */
function marked(text: string, kind: string): Map<string, string> {
  const out = new Map<string, string>();
  const pattern = new RegExp(`<!-- ${kind}: (\\S+) -->\\n\`\`\`\\w*\\n([\\s\\S]*?)\\n\`\`\`\\n`, 'g');
  for (const m of text.matchAll(pattern)) out.set(m[1] as string, `${m[2] as string}\n`);
  return out;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const files = marked(section('Your first config in 10 minutes'), 'file');
const ci = marked(section('Wiring it into CI'), 'ci');

describe('README "Your first config in 10 minutes"', () => {
  let dir = '';
  let toy: ChildProcess | undefined;
  let daemon: ChildProcess | undefined;
  let daemonOutput: ReturnType<typeof captureOutput> | undefined;
  const env: Record<string, string> = {};

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-first-config-'));
    for (const [path, content] of files) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), content);
    }
    const toyPort = await freePort();
    env.VIGIL_TARGET_URL = `http://127.0.0.1:${toyPort}`;
    env.VIGIL_LISTEN = `127.0.0.1:${await freePort()}`;
    env.VIGIL_SERVER = `http://${env.VIGIL_LISTEN}`;
    toy = spawn(process.execPath, [join(dir, 'toy.mjs')], {
      env: { PATH: process.env.PATH, PORT: String(toyPort) },
      stdio: 'ignore',
    });
    await until('the toy service', async () =>
      (await fetch(`${env.VIGIL_TARGET_URL}/health`)).ok ? true : undefined,
    );
  });

  afterAll(async () => {
    daemon?.kill('SIGTERM');
    toy?.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    rmSync(dir, { recursive: true, force: true });
  });

  test('shows the toy service, the root file, two probes and two SLOs', () => {
    expect([...files.keys()]).toEqual([
      'toy.mjs',
      'toy/vigil.yaml',
      'toy/probes/toy.yaml',
      'toy/slo/toy.yaml',
    ]);
  });

  test('every snippet loads with the config loader: two probes, two SLOs, a short watch', async () => {
    const config = await loadConfig(join(dir, 'toy/vigil.yaml'), env);
    expect(config.root.service).toBe('toy');
    expect(config.probes.map((p) => p.name)).toEqual(['health', 'items']);
    expect(config.slos.map((s) => s.name)).toEqual(['health-availability', 'items-latency']);
    expect(config.root.watch.phases).toEqual(['smoke', 'bake']);
    const validate = await runInProcess(['validate', '-c', join(dir, 'toy/vigil.yaml')], env);
    expect(validate.code, validate.stderr).toBe(0);
  });

  test('vigil probe passes both probes against the toy service', async () => {
    const run = await runInProcess(['probe', '-c', join(dir, 'toy/vigil.yaml'), '--json'], env);
    expect(run.code, run.stderr).toBe(0);
    const results = (JSON.parse(run.stdout) as { results: Array<{ probe: string; success: boolean }> })
      .results;
    expect(results.map((r) => [r.probe, r.success])).toEqual([
      ['health', true],
      ['items', true],
    ]);
  });

  test('a watch of the toy service passes smoke, and the CI scripts run as written against it', async () => {
    daemon = spawnVigil(['serve', '-c', join(dir, 'toy/vigil.yaml')], env, dir);
    daemonOutput = captureOutput(daemon);
    await until('the daemon', async () => ((await fetch(`${env.VIGIL_SERVER}/ready`)).ok ? true : undefined));

    const start = await runInProcess(['watch', 'start', '--service', 'toy', '--version', '1.0.1'], env);
    expect(start.code, start.stderr + daemonOutput.stderr()).toBe(0);
    const id = start.stdout.trim();
    expect(id).toMatch(/^w_/);
    const wait = await runInProcess(['wait', id, '--until', 'smoke', '--timeout', '60s', '--json'], env);
    expect(wait.code, wait.stderr).toBe(0);
    expect(JSON.parse(wait.stdout)).toMatchObject({
      id,
      service: 'toy',
      version: '1.0.1',
      status: 'running',
    });

    // GitHub Actions: both steps' scripts, with `docker run … image` standing for the image's CLI.
    const workflow = parseYaml(ci.get('github') ?? '') as {
      env: Record<string, string>;
      steps: Array<{ name: string; run?: string }>;
    };
    expect(Object.keys(workflow.env)).toEqual(['VIGIL_SERVER', 'VIGIL_API_TOKEN']);
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    writeFileSync(
      join(bin, 'docker'),
      `#!/bin/sh\n# docker run --rm -e … IMAGE ARGS…: drop up to the image, run the local build.\nwhile [ "$#" -gt 0 ] && [ "$1" != "ghcr.io/prep/vigil:0.1.0" ]; do shift; done\nshift\nexec "${process.execPath}" "${VIGIL_BIN}" "$@"\n`,
    );
    chmodSync(join(bin, 'docker'), 0o755);
    const githubEnv = join(dir, 'github.env');
    const summary = join(dir, 'summary.md');
    writeFileSync(githubEnv, '');
    const shell = promisify(execFile);
    // The snippets watch prep-api; this daemon watches the toy service.
    const forToy = (script: string): string => script.replaceAll('--service prep-api', '--service toy');
    const runStep = (script: string, extra: Record<string, string>) =>
      shell('bash', ['-e', '-c', forToy(script)], {
        cwd: dir,
        env: {
          PATH: `${bin}:${process.env.PATH}`,
          VIGIL_SERVER: env.VIGIL_SERVER,
          VIGIL_API_TOKEN: '',
          GITHUB_SHA: 'abc1234',
          GITHUB_ENV: githubEnv,
          GITHUB_STEP_SUMMARY: summary,
          ...extra,
        },
        timeout: 90_000,
      });
    const [startStep, gateStep] = workflow.steps.filter((s) => s.run !== undefined);
    expect(startStep?.run).toContain('vigil watch start');
    expect(gateStep?.run).toContain('--until smoke');
    await runStep(startStep?.run ?? '', {});
    const watchId = /^WATCH_ID=(w_\S+)$/m.exec(readFileSync(githubEnv, 'utf8'))?.[1];
    expect(watchId).toBeDefined();
    const gate = await runStep(gateStep?.run ?? '', { WATCH_ID: watchId ?? '' });
    expect(gate.stdout).toContain('smoke passed');
    expect(JSON.parse(readFileSync(join(dir, 'verdict.json'), 'utf8'))).toMatchObject({
      id: watchId,
      version: 'abc1234',
    });
    expect(readFileSync(summary, 'utf8')).toContain(`### Vigil watch ${watchId}`);
    // Exit 4 (no daemon) fails the step and says why.
    await expect(
      runStep(gateStep?.run ?? '', { WATCH_ID: watchId ?? '', VIGIL_SERVER: 'http://127.0.0.1:9' }),
    ).rejects.toMatchObject({ code: 4 });

    // GitLab CI: the job's script lines in one shell, as the runner runs them.
    const job = (
      parseYaml(ci.get('gitlab') ?? '') as Record<
        string,
        { script: string[]; variables: Record<string, string> }
      >
    )['vigil-watch'];
    const script = forToy((job?.script ?? []).join('\n'))
      .replaceAll('/app/dist/src/main.js', VIGIL_BIN)
      .replaceAll('node ', `"${process.execPath}" `);
    const gitlab = await shell('bash', ['-e', '-o', 'pipefail', '-c', script], {
      cwd: dir,
      env: { PATH: process.env.PATH, VIGIL_SERVER: env.VIGIL_SERVER, VIGIL_VERSION: 'def5678' },
      timeout: 90_000,
    });
    expect(gitlab.stdout).toContain('smoke passed');
    expect(JSON.parse(readFileSync(join(dir, 'verdict.json'), 'utf8'))).toMatchObject({
      service: 'toy',
      version: 'def5678',
    });
  }, 120_000);

  test('both CI snippets handle every exit code of vigil wait (0 to 5)', () => {
    for (const name of ['github', 'gitlab']) {
      const text = ci.get(name) ?? '';
      for (const code of [0, 1, 2, 3, 4, 5])
        expect(text, `${name} handles ${code}`).toMatch(new RegExp(`\\b${code}\\)`));
      expect(text).toContain('--json');
    }
  });
});
