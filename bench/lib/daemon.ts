import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { stopChild } from './proc.js';

const WORKER = fileURLToPath(new URL('../workers/daemon.js', import.meta.url));

type Reply = { kind: string; message?: string } & Record<string, unknown>;

/** A daemon (createDaemon) in a child process, driven over IPC. */
export interface DaemonChild {
  readonly port: number;
  readonly pid: number;
  readonly url: string;
  /** Sends a command and resolves with the reply of `kind`. */
  ask<T>(command: object, kind: string): Promise<T>;
  stop(): Promise<void>;
}

/**
 * Forks bench/workers/daemon.js (or another worker speaking the same IPC: `worker`) on `configFile` and
 * resolves once it listens (bounded by `timeoutMs`).
 *
 * @example const daemon = await startDaemonChild(file); await daemon.ask({ cmd: 'measure', ms: 1000 }, 'measured');
 */
export async function startDaemonChild(
  configFile: string,
  options: { timeoutMs?: number; execArgv?: string[]; worker?: string } = {},
): Promise<DaemonChild> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const child: ChildProcess = fork(options.worker ?? WORKER, [configFile], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: options.execArgv ?? [],
  });
  const next = (kind: string, ms: number): Promise<Reply> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`the bench daemon sent no ${kind} within ${ms} ms`)),
        ms,
      );
      const onMessage = (message: Reply): void => {
        if (message.kind !== kind && message.kind !== 'error') return;
        cleanup();
        if (message.kind === 'error') reject(new Error(message.message));
        else resolve(message);
      };
      const onExit = (code: number | null): void => {
        cleanup();
        reject(new Error(`the bench daemon exited (${code}) before ${kind}`));
      };
      const cleanup = (): void => {
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('exit', onExit);
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  const ready = await next('ready', timeoutMs).catch(async (error: unknown) => {
    await stopChild(child);
    throw error;
  });
  const port = ready.port as number;
  return {
    port,
    pid: child.pid as number,
    url: `http://127.0.0.1:${port}`,
    ask: async <T>(command: object, kind: string): Promise<T> => {
      const reply = next(kind, 300_000);
      child.send(command);
      return (await reply) as T;
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = once(child, 'exit');
      child.send({ cmd: 'stop' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
