import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unusedPort } from './webhook-receiver.js';

export const ALERTMANAGER_BIN = '/usr/bin/prometheus-alertmanager';

/**
 * Whether integration tests needing Alertmanager should run: yes when the binary is there; when it is
 * missing they skip, unless VIGIL_REQUIRE_INTEGRATION=1 — then they run and fail loudly.
 */
export function alertmanagerMode(env: NodeJS.ProcessEnv = process.env): 'run' | 'skip' | 'fail' {
  if (existsSync(ALERTMANAGER_BIN)) return 'run';
  return env.VIGIL_REQUIRE_INTEGRATION === '1' ? 'fail' : 'skip';
}

export interface RunningAlertmanager {
  url: string;
  /** Everything the process wrote, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Starts a real Alertmanager on a free loopback port with a temp storage dir, clustering off, routing
 * every alert to `webhookUrl` with group_wait/group_interval 1s and send_resolved.
 *
 * @example const am = await startAlertmanager({ webhookUrl: `${receiver.url}/alertmanager/webhook` });
 */
export async function startAlertmanager(options: { webhookUrl: string }): Promise<RunningAlertmanager> {
  if (!existsSync(ALERTMANAGER_BIN))
    throw new Error(`${ALERTMANAGER_BIN} not found (apt install prometheus-alertmanager)`);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-am-'));
  const config = join(dir, 'alertmanager.yml');
  writeFileSync(
    config,
    [
      'global:',
      '  resolve_timeout: 5m',
      'route:',
      '  receiver: vigil-webhook',
      "  group_by: ['alertname', 'service']",
      '  group_wait: 1s',
      '  group_interval: 1s',
      '  repeat_interval: 1h',
      'receivers:',
      '  - name: vigil-webhook',
      '    webhook_configs:',
      `      - url: ${options.webhookUrl}`,
      '        send_resolved: true',
      '',
    ].join('\n'),
  );
  const port = await unusedPort();
  const url = `http://127.0.0.1:${port}`;
  let output = '';
  const child: ChildProcess = spawn(
    ALERTMANAGER_BIN,
    [
      `--config.file=${config}`,
      `--storage.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      `--web.external-url=${url}`,
      '--cluster.listen-address=',
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) break;
    const ready = await fetch(`${url}/-/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) return { url, output: () => output, stop };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await stop();
  throw new Error(`Alertmanager did not become ready on ${url}:\n${output}`);
}
