import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { captureOutput, spawnVigil, VIGIL_BIN, waitForExit } from './cli.js';

/*
 * A REAL `vigil serve` child process (the compiled dist built by test/global-setup.ts) on a temporary
 * config folder and store, for crash, restart, signal and secret-leak tests. The daemon listens on
 * 127.0.0.1:0; its port is read from its own "vigil is serving" log line, so every start (and every
 * restart on the same store) gets a fresh port and nothing races for a fixed one.
 *
 *   const files = writeDaemonConfig({ root: [...], probes: '...', slos: '...' });
 *   const daemon = await startDaemon(files);
 *   await daemon.api('POST', '/api/v1/watches', { service: 'prep-api', version: '2' });
 *   daemon.kill('SIGKILL'); await daemon.exited(5_000);
 *   const again = await startDaemon(files);      // same store
 *   files.cleanup();
 */

/** Token every test daemon uses unless a test sets its own. */
export const TEST_API_TOKEN = 'fault-suite-token-6c1f0e2a9b';

export interface DaemonFiles {
  dir: string;
  configFile: string;
  dbPath: string;
  /** Removes the folder (the store with it). */
  cleanup(): void;
}

export interface DaemonConfigOptions {
  /** Lines of the root file after service/target/server/storage/probes/slos (watch:, actions:, sources: …). */
  root?: string[];
  /** Target base URL of the service under watch. */
  targetUrl: string;
  /** Content of probes/p.yaml; none when absent. */
  probes?: string;
  /** Content of slo/s.yaml; none when absent. */
  slos?: string;
  /** server.apiToken (default TEST_API_TOKEN); `${VAR}` references are fine. */
  apiToken?: string;
  /** Extra keys inside `server: {…}`, e.g. 'shutdownTimeout: 3s'. */
  server?: string;
  /** `storage.url`: a PostgreSQL URL the replicas share (the SQLite path is then unused). */
  storageUrl?: string;
}

/**
 * Writes vigil.yaml (+ probes/ and slo/) into a new temp folder with the store beside it.
 *
 * @example const files = writeDaemonConfig({ targetUrl: svc.url, probes: PROBES, root: ['watch: {...}'] });
 */
export function writeDaemonConfig(options: DaemonConfigOptions): DaemonFiles {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-fault-'));
  const dbPath = join(dir, 'data', 'vigil.db');
  const lines = [
    'service: prep-api',
    `target: { baseUrl: "${options.targetUrl}" }`,
    // Tests poll the API every 50 ms: lift the per-client budget so polling is never refused.
    `server: { listen: "127.0.0.1:0", apiToken: "${options.apiToken ?? TEST_API_TOKEN}", rateLimit: { max: 100000 }${options.server ? `, ${options.server}` : ''} }`,
    `storage: { path: "${dbPath}"${options.storageUrl ? `, url: "${options.storageUrl}"` : ''} }`,
  ];
  if (options.probes !== undefined) {
    mkdirSync(join(dir, 'probes'));
    writeFileSync(join(dir, 'probes', 'p.yaml'), options.probes);
    lines.push('probes: [probes/*.yaml]');
  }
  if (options.slos !== undefined) {
    mkdirSync(join(dir, 'slo'));
    writeFileSync(join(dir, 'slo', 's.yaml'), options.slos);
    lines.push('slos: [slo/*.yaml]');
  }
  lines.push(...(options.root ?? []));
  const configFile = join(dir, 'vigil.yaml');
  writeFileSync(configFile, `${lines.join('\n')}\n`);
  return { dir, configFile, dbPath, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** One parsed JSON log line of the daemon. */
export type LogLine = Record<string, unknown> & { msg?: string; level?: string };

export interface ApiAnswer {
  status: number;
  body: unknown;
  text: string;
  headers: Headers;
}

export interface RunningDaemon {
  readonly child: ChildProcess;
  readonly url: string;
  readonly port: number;
  /** Everything written so far. */
  stdout(): string;
  stderr(): string;
  /** stdout parsed as JSON log lines (non-JSON lines skipped). */
  logs(): LogLine[];
  /** Calls the API with the token (unless `token: null`), 5 s deadline. */
  api(method: string, path: string, body?: unknown, options?: { token?: string | null }): Promise<ApiAnswer>;
  /** Resolves once a log line matches, rejecting after `timeoutMs`. */
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs: number): Promise<LogLine>;
  kill(signal: NodeJS.Signals): void;
  /** Exit code or signal name, rejecting after `timeoutMs`. */
  exited(timeoutMs: number): Promise<number | string>;
  /** SIGKILLs the child if it still runs (afterEach safety net). */
  dispose(): Promise<void>;
}

export interface StartDaemonOptions {
  env?: NodeJS.ProcessEnv;
  readyTimeoutMs?: number;
  token?: string;
  /** A command that execs the daemon, e.g. ['prlimit', '--fsize=200000'] (resource limits for one test). */
  wrapper?: string[];
}

function parseLogs(text: string): LogLine[] {
  const lines: LogLine[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      lines.push(JSON.parse(line) as LogLine);
    } catch {
      // a partial line still being written
    }
  }
  return lines;
}

async function pollUntil<T>(what: string, timeoutMs: number, read: () => T | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * Spawns `vigil serve -c <configFile>` and resolves once it logged its port and `/ready` answers 200.
 * Rejects (with the child's output) when it exits first or is not ready within `readyTimeoutMs`.
 *
 * @example const daemon = await startDaemon(files, { env: { VIGIL_API_TOKEN: 's3cret' } });
 */
export async function startDaemon(
  files: DaemonFiles,
  options: StartDaemonOptions = {},
): Promise<RunningDaemon> {
  const env = { LOG_LEVEL: 'info', ...options.env };
  const args = ['serve', '-c', files.configFile];
  const child = options.wrapper
    ? spawn(
        options.wrapper[0] as string,
        [...options.wrapper.slice(1), process.execPath, VIGIL_BIN, ...args],
        {
          cwd: files.dir,
          env: { PATH: process.env.PATH, ...env },
          stdio: 'pipe',
        },
      )
    : spawnVigil(args, env, files.dir);
  const output = captureOutput(child);
  const exit = waitForExit(child, 24 * 3_600_000).catch(() => -1);
  let gone = false;
  void exit.then(() => {
    gone = true;
  });
  const token = options.token ?? TEST_API_TOKEN;
  const describe = (): string =>
    `\n--- stdout ---\n${output.stdout().slice(-3000)}\n--- stderr ---\n${output.stderr()}`;

  let port: number;
  try {
    port = await pollUntil('the "vigil is serving" log line', options.readyTimeoutMs ?? 15_000, () => {
      if (gone) throw new Error(`vigil serve exited (${child.exitCode ?? child.signalCode}) before serving`);
      const line = parseLogs(output.stdout()).find((l) => l.msg === 'vigil is serving');
      return typeof line?.port === 'number' ? line.port : undefined;
    });
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`${(error as Error).message}${describe()}`);
  }
  const url = `http://127.0.0.1:${port}`;

  const daemon: RunningDaemon = {
    child,
    url,
    port,
    stdout: output.stdout,
    stderr: output.stderr,
    logs: () => parseLogs(output.stdout()),
    async api(method, path, body, callOptions = {}) {
      const bearer = callOptions.token === undefined ? token : callOptions.token;
      const headers: Record<string, string> = {};
      if (bearer !== null) headers.authorization = `Bearer ${bearer}`;
      if (body !== undefined) headers['content-type'] = 'application/json';
      const response = await fetch(`${url}${path}`, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(5_000),
      });
      const text = await response.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // metrics text, or an empty body
      }
      return { status: response.status, body: parsed, text, headers: response.headers };
    },
    waitForLog(predicate, timeoutMs) {
      return pollUntil('a matching log line', timeoutMs, () => parseLogs(output.stdout()).find(predicate));
    },
    kill(signal) {
      child.kill(signal);
    },
    async exited(timeoutMs) {
      const timer = new Promise<never>((_, reject) =>
        setTimeout(
          () => reject(new Error(`vigil serve did not exit within ${timeoutMs} ms${describe()}`)),
          timeoutMs,
        ).unref(),
      );
      return Promise.race([exit, timer]);
    },
    async dispose() {
      if (!gone) {
        child.kill('SIGKILL');
        await exit;
      }
    },
  };

  const readyDeadline = Date.now() + (options.readyTimeoutMs ?? 15_000);
  for (;;) {
    const ready = await fetch(`${url}/ready`, { signal: AbortSignal.timeout(1_000) }).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ready) break;
    if (gone || Date.now() > readyDeadline) {
      await daemon.dispose();
      throw new Error(`vigil serve on ${url} never became ready${describe()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return daemon;
}

/**
 * Polls `read` every 50 ms until it returns a value other than undefined (real time, bounded).
 *
 * @example const watch = await eventually(5_000, async () => ((await get()).status === 'failed' ? w : undefined));
 */
export async function eventually<T>(
  timeoutMs: number,
  read: () => Promise<T | undefined> | T | undefined,
  what = 'a condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await read();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${String(lastError)})` : ''}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
