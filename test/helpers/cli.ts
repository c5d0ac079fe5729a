import { type ChildProcess, spawn } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { runCli } from '../../src/cli/index.js';

/** Absolute path of the compiled CLI entry (built by test/global-setup.ts). */
export const VIGIL_BIN = fileURLToPath(new URL('../../dist/src/main.js', import.meta.url));
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a vigil command in-process with captured streams.
 *
 * @example const { code, stdout } = await runInProcess(['validate', '-c', file]);
 */
export async function runInProcess(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  signal?: AbortSignal,
): Promise<CliRun> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (c: Buffer) => out.push(c));
  stderr.on('data', (c: Buffer) => err.push(c));
  const code = await runCli(args, { stdout, stderr, env, signal: signal ?? new AbortController().signal });
  return { code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}

/** Spawns the real compiled `vigil` process (for signal, exit-code and restart tests). */
export function spawnVigil(args: string[], env: NodeJS.ProcessEnv, cwd = REPO_ROOT): ChildProcess {
  return spawn(process.execPath, [VIGIL_BIN, ...args], {
    cwd,
    env: { PATH: process.env.PATH, ...env },
    stdio: 'pipe',
  });
}

/** Resolves with the exit code (or signal name) of a child, rejecting after `timeoutMs`. */
export function waitForExit(child: ChildProcess, timeoutMs: number): Promise<number | string> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    const timer = setTimeout(
      () => reject(new Error(`process did not exit within ${timeoutMs} ms`)),
      timeoutMs,
    );
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve(code ?? signal ?? -1);
    });
  });
}

/** Collects a child's output as text, for assertions and failure messages. */
export function captureOutput(child: ChildProcess): { stdout: () => string; stderr: () => string } {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => {
    stdout += c.toString('utf8');
  });
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString('utf8');
  });
  return { stdout: () => stdout, stderr: () => stderr };
}
