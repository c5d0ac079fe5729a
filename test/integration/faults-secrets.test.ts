import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PrepService, startPrepService } from '../../src/demo/prep-service.js';
import { captureOutput, spawnVigil, waitForExit } from '../helpers/cli.js';
import {
  type DaemonFiles,
  eventually,
  type RunningDaemon,
  startDaemon,
  writeDaemonConfig,
} from '../helpers/daemon.js';
import { startWebhookReceiver, unusedPort, type WebhookReceiver } from '../helpers/webhook-receiver.js';

/*
 * A real daemon run with known secret values in every place a secret can live (API token, webhook
 * secret, Prometheus basic auth, a password in Loki's URL, an Alertmanager bearer token, a probe's
 * bearer token), all from the environment. It is driven through failures that get logged — a
 * Prometheus that answers 500 echoing the credentials it got, a Loki that is down, an Alertmanager
 * that refuses alerts, a webhook receiver that fails once, a failing probe, bad API calls — then every
 * byte of its logs, /health, /metrics and API answers (errors included) is searched for each secret,
 * raw and base64-encoded as it travels in Authorization headers.
 */

const SECRETS = {
  VIGIL_API_TOKEN: 'sekret-api-token-7f3a9c1e5b',
  VIGIL_ROLLBACK_WEBHOOK_SECRET: 'sekret-webhook-4d2b8e6a0c9f',
  PROM_PASSWORD: 'sekret-prom-pass-1a2b3c4d',
  LOKI_URL_PASSWORD: 'sekretlokiurlpass9z8y7x',
  AM_BEARER: 'sekret-am-bearer-5e6f7a8b',
  PROBE_BEARER: 'sekret-probe-bearer-0p9o8i',
  HOOK_TOKEN: 'sekret-hook-token-3c4d5e6f',
};

/** Each secret as it may appear: raw, and inside a base64 basic-auth credential. */
function needles(): { name: string; text: string }[] {
  const out: { name: string; text: string }[] = [];
  for (const [name, value] of Object.entries(SECRETS)) {
    out.push({ name, text: value });
  }
  out.push({
    name: 'PROM basic auth',
    text: Buffer.from(`vigil:${SECRETS.PROM_PASSWORD}`).toString('base64'),
  });
  out.push({
    name: 'LOKI basic auth',
    text: Buffer.from(`vigil:${SECRETS.LOKI_URL_PASSWORD}`).toString('base64'),
  });
  return out;
}

function expectNoSecret(where: string, text: string): void {
  const leaks: string[] = [];
  for (const needle of needles()) {
    const at = text.indexOf(needle.text);
    if (at >= 0) leaks.push(`${needle.name}: …${text.slice(Math.max(0, at - 300), at + 60)}…`);
  }
  if (leaks.length > 0) throw new Error(`secrets leaked in ${where}:\n${leaks.join('\n')}`);
}

/** A server that answers every request with `status` and a body echoing the headers it received. */
async function startEchoServer(
  status: number,
): Promise<{ url: string; hits: () => number; close: () => Promise<void> }> {
  let hits = 0;
  const server: Server = createServer((req, res) => {
    hits++;
    req.resume();
    req.on('end', () => {
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(`refused; you sent authorization=${req.headers.authorization ?? ''}`);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hits: () => hits,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

let service: PrepService;
let receiver: WebhookReceiver;
let prometheus: Awaited<ReturnType<typeof startEchoServer>>;
let alertmanager: Awaited<ReturnType<typeof startEchoServer>>;
let hook: Awaited<ReturnType<typeof startEchoServer>>;
let files: DaemonFiles;
let daemon: RunningDaemon | undefined;

beforeAll(async () => {
  service = await startPrepService();
  receiver = await startWebhookReceiver();
  receiver.script({ status: 500, body: 'try again' });
  prometheus = await startEchoServer(500);
  alertmanager = await startEchoServer(400);
  hook = await startEchoServer(502);
  const lokiPort = await unusedPort();
  files = writeDaemonConfig({
    targetUrl: service.url,
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a config-file reference, not a JS template
    apiToken: '${VIGIL_API_TOKEN}',
    probes: `
- name: health
  kind: smoke
  interval: 1s
  timeout: 2s
  request: { method: GET, path: /no-such-route, auth: { bearer: "\${PROBE_BEARER}" } }
  expect: [ { status: 200 } ]
`,
    slos: `
- name: availability
  source: probes
  sli: { probe: health, measure: successRatio }
  objective: { gte: 0.99 }
  critical: true
- name: error-rate
  source: prometheus
  query: sum(rate(http_requests_total{code=~"5.."}[{{window}}]))
  objective: { lt: 0.01 }
- name: error-logs
  source: loki
  query: sum(count_over_time({app="prep-api"} |= "error" [{{window}}]))
  objective: { lt: 10 }
`,
    root: [
      'sources:',
      `  prometheus: { url: "${prometheus.url}", basicAuth: { username: vigil, password: "\${PROM_PASSWORD}" }, timeout: 2s }`,
      `  loki: { url: "http://vigil:\${LOKI_URL_PASSWORD}@127.0.0.1:${lokiPort}", timeout: 2s }`,
      `alertmanager: { url: "${alertmanager.url}", bearerToken: "\${AM_BEARER}", resendInterval: 1s }`,
      'watch: { duration: 1h, phases: [bake], evaluationInterval: 1s, window: 1m, minWindow: 1s }',
      'actions:',
      '  rollback:',
      `    - { url: "${receiver.url}/rollback", secret: "\${VIGIL_ROLLBACK_WEBHOOK_SECRET}", timeout: 2s }`,
      // A second target that authenticates with a header and fails forever, echoing what it got.
      `    - { name: gh, url: "${hook.url}/dispatch", secret: "\${VIGIL_ROLLBACK_WEBHOOK_SECRET}", headers: { Authorization: "token \${HOOK_TOKEN}" } }`,
    ],
  });
  daemon = await startDaemon(files, {
    env: { ...SECRETS, LOG_LEVEL: 'debug' },
    token: SECRETS.VIGIL_API_TOKEN,
  });
}, 30_000);

afterAll(async () => {
  await daemon?.dispose();
  await receiver?.close();
  await prometheus?.close();
  await alertmanager?.close();
  await hook?.close();
  await service?.close();
  files?.cleanup();
});

describe('secrets never leave the daemon', () => {
  it('stay out of logs, /health, /metrics and every API answer while things fail', async () => {
    const live = daemon as RunningDaemon;
    const created = await live.api('POST', '/api/v1/watches', { service: 'prep-api', version: 'leaky' });
    expect(created.status).toBe(201);
    const id = (created.body as { id: string }).id;
    // The watch fails, its rollback is refused once and then delivered; the alert is refused by "Alertmanager".
    await receiver.waitFor(2, 20_000);
    await eventually(10_000, () =>
      alertmanager.hits() > 0 && prometheus.hits() > 0 && hook.hits() > 0 ? true : undefined,
    );

    const answers: [string, { status: number; text: string }][] = [];
    const call = async (
      label: string,
      method: string,
      path: string,
      body?: unknown,
      token?: string | null,
    ) => {
      const answer = await live.api(method, path, body, token === undefined ? {} : { token });
      answers.push([`${label} (${answer.status})`, answer]);
      return answer;
    };
    await call('health', 'GET', '/health');
    await call('metrics', 'GET', '/metrics');
    await call('watch', 'GET', `/api/v1/watches/${id}`);
    await call('verdict', 'GET', `/api/v1/watches/${id}/verdict`);
    await call('list', 'GET', '/api/v1/watches');
    await call('probes', 'GET', '/api/v1/probes');
    await call('slos', 'GET', '/api/v1/slos');
    await call('no token', 'GET', '/api/v1/watches', undefined, null);
    await call(
      'wrong token',
      'GET',
      '/api/v1/watches',
      undefined,
      `${SECRETS.VIGIL_API_TOKEN.slice(0, -1)}X`,
    );
    await call('bad body', 'POST', '/api/v1/watches', {
      service: SECRETS.VIGIL_API_TOKEN.slice(0, 5),
      extra: 1,
    });
    await call('bad override', 'POST', `/api/v1/watches/${id}/rollback`, { reason: 42 });
    await call('not found', 'GET', '/api/v1/nope');
    await call('too big', 'POST', '/api/v1/watches', { reason: 'x'.repeat(70_000) });

    expect(answers.find(([label]) => label.startsWith('no token'))?.[1].status).toBe(401);
    expect(answers.find(([label]) => label.startsWith('health'))?.[1].text).toContain('prometheus');
    // The failing target's answer reached the timeline — scrubbed.
    expect(answers.find(([label]) => label.startsWith('watch'))?.[1].text).toContain('HTTP 502');
    for (const [label, answer] of answers) expectNoSecret(label, answer.text);
    // The failures were logged (so the search below looked at real error paths), without secrets.
    const log = live.stdout() + live.stderr();
    expect(log).toMatch(/webhook attempt failed/);
    expect(log).toMatch(/prometheus|source/i);
    expectNoSecret('the daemon log', log);
  }, 40_000);

  it('stay out of `vigil validate` and `vigil serve` problem reports', async () => {
    // A webhook secret too short to be accepted: the problem must name the field, not print the value.
    const short = 'sekretSHRT';
    const bad = writeDaemonConfig({
      targetUrl: service.url,
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a config-file reference, not a JS template
      apiToken: '${VIGIL_API_TOKEN}',
      root: ['actions:', '  rollback:', `    - { url: "${receiver.url}/x", secret: "\${SHORT_SECRET}" }`],
    });
    try {
      for (const command of ['validate', 'serve']) {
        const child = spawnVigil(
          [command, '-c', bad.configFile],
          { ...SECRETS, SHORT_SECRET: short },
          bad.dir,
        );
        const output = captureOutput(child);
        expect(await waitForExit(child, 15_000)).toBe(1);
        const text = output.stdout() + output.stderr();
        expect(text).toMatch(/secret/);
        expect(text.includes(short), `${command} printed the secret: ${text}`).toBe(false);
        expectNoSecret(`vigil ${command}`, text);
      }
    } finally {
      bad.cleanup();
    }
  }, 40_000);
});
