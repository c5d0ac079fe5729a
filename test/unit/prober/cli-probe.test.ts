import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probe } from '../../../src/cli/probe.js';
import type { ProbeResult } from '../../../src/prober/types.js';
import { type Running, startHttp } from './servers.js';

let service: Running;
let dir: string;

function capture() {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (c) => {
    text += c;
  });
  return { stream, text: () => text };
}

async function vigilProbe(...argv: string[]) {
  const stdout = capture();
  const stderr = capture();
  const code = await probe({
    argv: ['-c', join(dir, 'vigil.yaml'), ...argv],
    stdout: stdout.stream,
    stderr: stderr.stream,
    env: { TARGET: service.url },
    signal: new AbortController().signal,
  });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

beforeAll(async () => {
  service = await startHttp((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url === '/health') res.end('{"status":"ok","checks":{"db":{"status":"ok"}}}');
    else {
      res.statusCode = 503;
      res.end('{"status":"down"}');
    }
  });
  dir = mkdtempSync(join(tmpdir(), 'vigil-cli-probe-'));
  mkdirSync(join(dir, 'probes'));
  writeFileSync(
    join(dir, 'vigil.yaml'),
    [
      'service: prep-api',
      'target:',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a ${VAR} reference for the config loader
      '  baseUrl: ${TARGET}',
      'storage:',
      '  path: ./data/vigil.db',
      'probes:',
      '  - probes/*.yaml',
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(dir, 'probes', 'p.yaml'),
    [
      '- name: health',
      '  kind: smoke',
      '  request: { path: /health }',
      '  expect: [ { status: 200 }, { jsonPath: "$.checks.*.status", equals: ok } ]',
      '- name: ready',
      '  kind: smoke',
      '  request: { path: /ready }',
      '  expect: [ { status: 200 } ]',
      '',
    ].join('\n'),
  );
});

afterAll(async () => {
  await service.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('vigil probe', () => {
  it('exits 0 when the chosen probes pass, with the §2 JSON on stdout and a table on stderr', async () => {
    const { code, stdout, stderr } = await vigilProbe('--probe', 'health', '--json');
    expect(code).toBe(0);
    const { results } = JSON.parse(stdout) as { results: ProbeResult[] };
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({
      probe: 'health',
      kind: 'smoke',
      success: true,
      failure: null,
      steps: [],
      status: 200,
    });
    expect(Object.keys(results[0]?.phases ?? {})).toEqual([
      'dnsMs',
      'connectMs',
      'tlsMs',
      'ttfbMs',
      'transferMs',
    ]);
    expect(results[0]?.assertions).toHaveLength(2);
    expect(stderr).toMatch(/^PROBE\s+KIND\s+RESULT/);
    expect(stderr).toContain('1/1 probes passed');
  });

  it('exits 1 when any probe fails, naming the reason in the table', async () => {
    const { code, stdout, stderr } = await vigilProbe();
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toContain('assertion: status (503) equals 200');
    expect(stderr).toContain('1/2 probes passed');
  });

  it('exits 2 on an unknown probe name', async () => {
    const { code, stderr } = await vigilProbe('--probe', 'nope');
    expect(code).toBe(2);
    expect(stderr).toContain('no probe named nope (configured: health, ready)');
  });

  it('exits 2 on a config error, printing each problem', async () => {
    const stderr = capture();
    const code = await probe({
      argv: ['-c', join(dir, 'missing.yaml')],
      stdout: new PassThrough(),
      stderr: stderr.stream,
      env: {},
      signal: new AbortController().signal,
    });
    expect(code).toBe(2);
    expect(stderr.text()).toContain('missing.yaml');
  });

  it('exits 2 on a bad flag', async () => {
    expect((await vigilProbe('--frobnicate')).code).toBe(2);
  });
});
