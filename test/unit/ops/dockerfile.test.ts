import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, test } from 'vitest';
import { K6_MIN_VERSION, k6VersionWarning } from '../../../src/loadtest/k6-version.js';
import { REPO_ROOT, VIGIL_BIN } from '../../helpers/cli.js';

/*
 * Docker cannot build on these machines, so the image is checked by what can be checked: every file it
 * copies from the build context exists (and .dockerignore does not hide it), and its entrypoint command
 * works in a plain checkout.
 */

const DOCKERFILE = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');

/** Instructions with their continuation lines joined. */
function instructions(): string[] {
  return DOCKERFILE.replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

/** Sources of `COPY`/`ADD` from the build context (not `--from=` another stage or image). */
function contextSources(): string[] {
  const sources: string[] = [];
  for (const line of instructions()) {
    const match = /^(COPY|ADD)\s+(.*)$/i.exec(line);
    if (!match) continue;
    const words = (match[2] as string).split(/\s+/);
    if (words.some((w) => w.startsWith('--from='))) continue;
    const args = words.filter((w) => !w.startsWith('--'));
    sources.push(...args.slice(0, -1));
  }
  return sources;
}

function dockerignore(): string[] {
  return readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

/** Exec-form JSON array of an instruction such as ENTRYPOINT or CMD. */
function execForm(keyword: string): string[] {
  const line = instructions().find((l) => l.startsWith(`${keyword} `));
  if (!line) throw new Error(`no ${keyword} in the Dockerfile`);
  return JSON.parse(line.slice(keyword.length + 1)) as string[];
}

describe('Dockerfile', () => {
  test('every path it copies from the build context exists', () => {
    const sources = contextSources();
    expect(sources).toEqual(
      expect.arrayContaining(['package.json', 'package-lock.json', 'src', 'vigil.yaml']),
    );
    const missing = sources.filter((source) => !existsSync(join(REPO_ROOT, source)));
    expect(missing).toEqual([]);
  });

  test('.dockerignore hides none of the copied paths', () => {
    const ignored = new Set(dockerignore());
    expect(
      contextSources().filter((source) => ignored.has(source) || ignored.has(source.split('/')[0] ?? '')),
    ).toEqual([]);
    // And it keeps what must never reach an image: local env files, stores, the git history.
    for (const entry of ['.env', 'node_modules', '.git', '*.db']) expect(ignored).toContain(entry);
  });

  test('the build stage copies everything tsconfig.build.json compiles', () => {
    const build = JSON.parse(readFileSync(join(REPO_ROOT, 'tsconfig.build.json'), 'utf8')) as {
      extends?: string;
      include: string[];
    };
    const copied = new Set(contextSources());
    for (const path of [...build.include, build.extends?.replace(/^\.\//, '') ?? 'tsconfig.json'])
      expect(copied, path).toContain(path);
  });

  test('the runtime ships the config and its definition folders', () => {
    const copied = new Set(contextSources());
    for (const path of ['vigil.yaml', 'vigil.schema.json', 'probes', 'slo', 'loadtests'])
      expect(copied, path).toContain(path);
  });

  test('runs as a non-root user under an init process, with a /live healthcheck and a data volume', () => {
    const lines = instructions();
    expect(lines.filter((l) => l.startsWith('FROM ')).length).toBeGreaterThanOrEqual(2);
    expect(lines.some((l) => /^FROM node:24[\w.-]*slim/.test(l))).toBe(true);
    expect(lines.some((l) => /^FROM grafana\/k6/.test(l))).toBe(true);
    const user = lines.filter((l) => l.startsWith('USER ')).at(-1);
    expect(user).toBeDefined();
    expect(user).not.toMatch(/USER (root|0)$/);
    expect(execForm('ENTRYPOINT').slice(0, 2)).toEqual(['/usr/bin/tini', '--']);
    expect(lines.find((l) => l.startsWith('HEALTHCHECK'))).toContain('/live');
    expect(lines.some((l) => l.startsWith('VOLUME') && l.includes('/data'))).toBe(true);
  });

  test('ships a k6 pinned to an exact, supported release, the one the README names', () => {
    const from = instructions().find((l) => /^FROM grafana\/k6/.test(l)) ?? '';
    const tag = /^FROM grafana\/k6:(\S+)/.exec(from)?.[1] ?? '';
    // An exact x.y.z: `latest` or a bare major would change the k6 under the profiles without a commit.
    expect(tag).toMatch(/^\d+\.\d+\.\d+$/);
    expect(k6VersionWarning(`v${tag}`)).toBeNull();
    // The official image keeps its static binary at /usr/bin/k6; VIGIL_K6_PATH points at the copy.
    expect(instructions()).toContain('COPY --from=k6 /usr/bin/k6 /usr/local/bin/k6');
    const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
    expect(readme).toContain(`the image\nships k6 v${tag}, pinned in the \`Dockerfile\``);
    expect(readme).toContain(`Supported k6 versions: ${K6_MIN_VERSION} and newer`);
  });

  test('the entrypoint runs the package bin, and the image env names are §9 variables', () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
      bin: { vigil: string };
    };
    const entrypoint = execForm('ENTRYPOINT');
    expect(entrypoint.at(-1)).toBe(`/app/${pkg.bin.vigil}`);
    const envExample = readFileSync(join(REPO_ROOT, '.env.example'), 'utf8');
    const envLine = instructions().find((l) => l.startsWith('ENV ')) ?? '';
    for (const [, name] of envLine.matchAll(/\b((?:VIGIL|LOG)_[A-Z0-9_]+)=/g))
      expect(envExample, name).toMatch(new RegExp(`^${name}=`, 'm'));
  });

  test('the image command works in a plain checkout: `validate --config vigil.yaml` exits 0', async () => {
    const cmd = execForm('CMD');
    expect(cmd[0]).toBe('serve');
    const configFlag = cmd.indexOf('--config');
    expect(configFlag).toBeGreaterThan(0);
    // Same binary, same flag spelling, the shipped config, with none of the environment set: the defaults
    // of every ${VAR:-default} must make it valid.
    const { stderr } = await promisify(execFile)(
      process.execPath,
      [VIGIL_BIN, 'validate', '--config', 'vigil.yaml'],
      { cwd: REPO_ROOT, env: { PATH: process.env.PATH }, timeout: 20_000 },
    );
    expect(stderr).toMatch(/vigil\.yaml: valid/);
  });
});
