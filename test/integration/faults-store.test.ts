import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PrepService, startPrepService } from '../../src/demo/prep-service.js';
import { captureOutput, spawnVigil, VIGIL_BIN, waitForExit } from '../helpers/cli.js';
import {
  type DaemonFiles,
  eventually,
  type RunningDaemon,
  startDaemon,
  writeDaemonConfig,
} from '../helpers/daemon.js';
import { requiredTool } from './faults-helpers.js';

/*
 * The store refusing writes, in a real daemon. These tests run as root, where chmod stops nothing, so:
 *  - a FULL DISK is a file-size resource limit on the daemon (`prlimit --fsize`, RLIMIT_FSIZE): once
 *    the WAL reaches it, every write gets EFBIG and SQLite reports a disk I/O error — exactly what a full
 *    disk looks like from inside the process, without a tmpfs mount (which needs privileges we lack);
 *  - a READ-ONLY FILE is the immutable attribute (`chattr +i`), which binds root too.
 * Expected: a clear error, /health `down` (503) naming the store, store-backed API calls 503, the process
 * alive (no crash, so no crash loop) — and at start, a store that cannot be written is one clear line
 * and exit 1, not a daemon that runs with every write failing.
 */

function works(command: string, args: string[]): boolean {
  try {
    execFileSync(command, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const probeDir = mkdtempSync(join(tmpdir(), 'vigil-chattr-'));
const probeFile = join(probeDir, 'f');
writeFileSync(probeFile, '');
const chattrWorks = works('chattr', ['+i', probeFile]) && works('chattr', ['-i', probeFile]);
rmSync(probeDir, { recursive: true, force: true });
const prlimitWorks = existsSync('/usr/bin/prlimit') && works('prlimit', ['--fsize=100000', 'true']);
// Skipped without the tools on a developer machine; failed, not skipped, under VIGIL_REQUIRE_INTEGRATION=1.
const prlimit = requiredTool('prlimit --fsize (util-linux)', prlimitWorks);
const chattr = requiredTool('chattr +i (e2fsprogs, on an ext2/3/4 temp folder)', chattrWorks);

const PROBES =
  '- name: health\n  kind: smoke\n  interval: 1s\n  timeout: 2s\n  request: { method: GET, path: /health }\n';
const SLOS =
  '- name: availability\n  source: probes\n  sli: { probe: health, measure: successRatio }\n  objective: { gte: 0.5 }\n';

let service: PrepService;
const cleanups: (() => void)[] = [];
const daemons: RunningDaemon[] = [];

beforeAll(async () => {
  service = await startPrepService();
});

afterAll(async () => {
  await Promise.all(daemons.map((d) => d.dispose()));
  for (const cleanup of cleanups.reverse()) cleanup();
  await service?.close();
});

function config(): DaemonFiles {
  const files = writeDaemonConfig({
    targetUrl: service.url,
    probes: PROBES,
    slos: SLOS,
    root: ['watch: { duration: 1h, phases: [bake], evaluationInterval: 1s, window: 1m, minWindow: 1s }'],
  });
  cleanups.push(files.cleanup);
  return files;
}

describe('a store that refuses writes', () => {
  it.skipIf(prlimit.skip)(
    'full disk: /health goes down naming the store, writes answer 503, the daemon keeps running',
    async () => {
      prlimit.assert();
      const files = config();
      // A fresh store (three migrations) plus its first WAL frames take ~200 kB; the limit lets it start, then fills within seconds.
      const daemon = await startDaemon(files, { wrapper: ['prlimit', '--fsize=300000'] });
      daemons.push(daemon);
      const created = await daemon.api('POST', '/api/v1/watches', { service: 'prep-api', version: 'full' });
      expect(created.status).toBe(201);

      const health = await eventually(
        30_000,
        async () => {
          const answer = await daemon.api('GET', '/health');
          return answer.status === 503 ? answer : undefined;
        },
        '/health to report the store down',
      );
      const report = health.body as { status: string; checks: { store: { status: string; error?: string } } };
      expect(report.status).toBe('down');
      expect(report.checks.store.status).toBe('down');
      expect(report.checks.store.error).toMatch(
        /cannot be written: (disk I\/O error|database or disk is full)/,
      );

      const refused = await daemon.api('POST', '/api/v1/watches', { service: 'prep-api', version: 'full-2' });
      expect(refused.status).toBe(503);
      expect(refused.body).toMatchObject({ error: 'store unavailable' });
      expect(JSON.stringify(refused.body)).not.toMatch(/\n\s+at /);

      // Still alive a few seconds later: probes and watch loops log the failure and carry on.
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      expect(daemon.child.exitCode).toBeNull();
      expect((await daemon.api('GET', '/live')).status).toBe(200);
      const reads = await daemon.api('GET', '/api/v1/watches');
      expect(reads.status).toBe(200);
      const errors = daemon.logs().filter((l) => l.level === 'error');
      expect(errors.length).toBeGreaterThan(0);
      expect(JSON.stringify(errors)).toMatch(/disk I\/O error|database or disk is full/);
    },
    45_000,
  );

  it.skipIf(prlimit.skip)(
    'full disk at start: one clear line and exit 1, so a supervisor restarts nothing half-open',
    async () => {
      prlimit.assert();
      const files = config();
      // 8 kB: the store file can be created but the schema cannot be written.
      const child = spawn(
        'prlimit',
        ['--fsize=8192', process.execPath, VIGIL_BIN, 'serve', '-c', files.configFile],
        {
          cwd: files.dir,
          env: { PATH: process.env.PATH },
          stdio: 'pipe',
        },
      );
      const output = captureOutput(child);
      expect(await waitForExit(child, 15_000)).toBe(1);
      const lines = output.stderr().trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^vigil serve: .*vigil\.db.*(disk I\/O error|database or disk is full)/);
    },
    30_000,
  );

  it.skipIf(chattr.skip)(
    'read-only store file at start: one clear line and exit 1, no daemon writing into the void',
    async () => {
      chattr.assert();
      const files = config();
      // Create the store, stop cleanly, then make its file immutable (binds root, unlike chmod).
      const first = await startDaemon(files);
      first.kill('SIGTERM');
      expect(await first.exited(15_000)).toBe(0);
      execFileSync('chattr', ['+i', files.dbPath]);
      cleanups.push(() => works('chattr', ['-i', files.dbPath]));

      const child = spawnVigil(['serve', '-c', files.configFile], {}, files.dir);
      const output = captureOutput(child);
      expect(await waitForExit(child, 15_000)).toBe(1);
      const lines = output.stderr().trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        /^vigil serve: the store .*vigil\.db cannot be written: attempt to write a readonly database$/,
      );
      expect(output.stdout()).not.toMatch(/vigil is serving/);
    },
    30_000,
  );
});
