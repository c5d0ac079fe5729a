import { execFile, spawn } from 'node:child_process';
import type { Clock } from '../clock.js';
import { errorMessage } from '../errors.js';
import type { K6Ending } from './exit-codes.js';
import { k6VersionWarning } from './k6-version.js';

/**
 * The shell around the k6 binary: finding it, asking its version, and running it under a deadline
 * with a cooperative stop (SIGINT lets k6 finish teardown and write its summary, exit 105) that
 * turns into SIGKILL after a grace period — k6 itself hard-stops on a second signal, but a wedged
 * process may not answer signals at all.
 */

/** k6's state for `/health`: the shape of a DESIGN §3 health check plus the version. */
export interface K6Health {
  status: 'ok' | 'down' | 'disabled';
  version?: string;
  path?: string;
  latencyMs?: number;
  error?: string;
  /** Set when the version found is older than the supported minimum (k6 still answers: status ok). */
  warning?: string;
}

/**
 * Runs `k6 version` (5 s deadline) and reports whether k6 is usable, which version it is, and a
 * warning when that version is older than the supported minimum.
 *
 * @example await checkK6('/usr/local/bin/k6') // { status: 'ok', version: 'v0.49.0', latencyMs: 12 }
 */
export function checkK6(
  path: string,
  options: { timeoutMs?: number; signal?: AbortSignal; env?: Record<string, string> } = {},
): Promise<K6Health> {
  const started = performance.now();
  return new Promise((done) => {
    execFile(
      path,
      ['version'],
      {
        timeout: options.timeoutMs ?? 5_000,
        signal: options.signal,
        env: { ...options.env, K6_NO_USAGE_REPORT: 'true' },
      },
      (error, stdout) => {
        const latencyMs = Math.round((performance.now() - started) * 10) / 10;
        if (error) {
          const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
          done({
            status: 'down',
            path,
            latencyMs,
            error: missing ? 'k6 not found (set VIGIL_K6_PATH)' : `k6 version failed: ${errorMessage(error)}`,
          });
          return;
        }
        // `k6 v0.49.0 (go1.19.8, linux/amd64)`; newer builds print more lines after the first.
        const version = /\bv\d+\.\d+\.\d+\S*/.exec(stdout)?.[0] ?? stdout.trim().split('\n')[0] ?? 'unknown';
        const warning = k6VersionWarning(version);
        done({ status: 'ok', path, latencyMs, version, ...(warning ? { warning } : {}) });
      },
    );
  });
}

/** Keeps the last `capBytes` of a stream: k6 can log a line per failed iteration for hours. */
export class TailBuffer {
  #chunks: Buffer[] = [];
  #bytes = 0;
  #dropped = 0;

  constructor(readonly capBytes: number) {}

  push(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#bytes += chunk.length;
    while (this.#bytes > this.capBytes && this.#chunks.length > 0) {
      const first = this.#chunks[0] as Buffer;
      const excess = this.#bytes - this.capBytes;
      if (first.length <= excess) {
        this.#chunks.shift();
        this.#bytes -= first.length;
        this.#dropped += first.length;
      } else {
        this.#chunks[0] = first.subarray(excess);
        this.#bytes -= excess;
        this.#dropped += excess;
      }
    }
  }

  /** The kept text; prefixed with a marker when the beginning was dropped. */
  text(): string {
    const body = Buffer.concat(this.#chunks).toString('utf8');
    return this.#dropped > 0 ? `[… ${this.#dropped} bytes dropped]\n${body}` : body;
  }
}

export interface SpawnK6Options {
  path: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  clock: Clock;
  /** Stop (SIGINT, then SIGKILL) once this much clock time has passed. */
  deadlineMs: number;
  /** Time between SIGINT and SIGKILL. */
  gracePeriodMs: number;
  /** Aborting stops k6 the same way as the deadline. */
  signal?: AbortSignal;
  stderrCapBytes?: number;
  stdoutCapBytes?: number;
  /** Called once the process has been spawned (progress polling starts then). */
  onSpawn?: (pid: number) => void;
}

export interface K6ProcessResult {
  ending: K6Ending;
  /** The raw exit code when the process exited on its own terms (also set after a stop, e.g. 105). */
  exitCode: number | null;
  signal: string | null;
  stderr: string;
  stdout: string;
}

/**
 * Spawns k6 and resolves when it has ended, however it ended; never rejects. A stop requested by the
 * deadline or the signal is reported as such even when k6 then exits with its own code (105).
 *
 * @example
 *   const r = await runK6Process({ path, args: ['run', 'smoke.js'], cwd, env, clock, deadlineMs: 150_000,
 *     gracePeriodMs: 10_000, signal });
 */
export function runK6Process(options: SpawnK6Options): Promise<K6ProcessResult> {
  const stderr = new TailBuffer(options.stderrCapBytes ?? 64 * 1024);
  const stdout = new TailBuffer(options.stdoutCapBytes ?? 16 * 1024);
  return new Promise((done) => {
    if (options.signal?.aborted) {
      done({
        ending: { kind: 'cancelled', reason: errorMessage(options.signal.reason) },
        exitCode: null,
        signal: null,
        stderr: '',
        stdout: '',
      });
      return;
    }
    const child = spawn(options.path, options.args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const timers = new AbortController();
    let stop: K6Ending | undefined;
    let finished = false;

    const requestStop = (why: K6Ending): void => {
      if (stop || finished) return;
      stop = why;
      child.kill('SIGINT');
      options.clock.sleep(options.gracePeriodMs, timers.signal).then(
        () => {
          if (!finished) child.kill('SIGKILL');
        },
        () => {},
      );
    };
    const onAbort = (): void =>
      requestStop({ kind: 'cancelled', reason: errorMessage(options.signal?.reason) });

    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.once('spawn', () => {
      options.signal?.addEventListener('abort', onAbort, { once: true });
      options.clock.sleep(options.deadlineMs, timers.signal).then(
        () => requestStop({ kind: 'deadline', deadlineMs: options.deadlineMs }),
        () => {},
      );
      if (child.pid !== undefined) options.onSpawn?.(child.pid);
    });
    let spawnError: NodeJS.ErrnoException | undefined;
    child.once('error', (error: NodeJS.ErrnoException) => {
      spawnError ??= error;
    });
    // 'close' fires after 'exit' and after stdio drained, also after a spawn error.
    child.once('close', (code, signal) => {
      finished = true;
      timers.abort();
      options.signal?.removeEventListener('abort', onAbort);
      let ending: K6Ending;
      if (spawnError && child.pid === undefined) {
        ending =
          spawnError.code === 'ENOENT'
            ? { kind: 'not-found' }
            : { kind: 'spawn-failed', error: spawnError.message };
      } else if (stop) {
        ending = stop;
      } else if (signal) {
        ending = { kind: 'signaled', signal };
      } else {
        ending = { kind: 'exited', code: code ?? -1 };
      }
      done({ ending, exitCode: code, signal, stderr: stderr.text(), stdout: stdout.text() });
    });
  });
}
