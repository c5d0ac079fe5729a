import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, Pool, request } from 'undici';
import { systemClock } from '../src/clock.js';
import { probeSchema } from '../src/config/schema.js';
import { freePort } from '../src/net.js';
import { runProbe } from '../src/prober/engine.js';
import { prepareProbe } from '../src/prober/prepare.js';
import { createMetrics } from '../src/telemetry/metrics.js';
import { type Figure, fixed, median } from './lib/figure.js';
import { procCpuMicros, sleep, startTarget, stopChild, waitForHttp } from './lib/proc.js';

export const BLACKBOX_BIN = '/usr/bin/prometheus-blackbox-exporter';
/** Probes per second both sides are driven at. */
const RATE = 200;
const ROUNDS = 5;
const PER_ROUND = 600;
const WARMUP = 300;

// The same checks as the Vigil probe, in blackbox_exporter's terms: status, body holds status ok, no
// dependency reports a failure; timings are recorded by both on every probe.
const BLACKBOX_CONFIG = `modules:
  http_2xx:
    prober: http
    timeout: 5s
    http:
      valid_status_codes: [200]
      preferred_ip_protocol: ip4
      fail_if_body_not_matches_regexp: ['"status":"ok"']
      fail_if_body_matches_regexp: ['"[a-z]+":"(error|down|fail)"']
`;

/** Runs `probe` `count` times at `rate` per second (one at a time, each started on its slot). */
async function paced(count: number, rate: number, probe: () => Promise<void>): Promise<void> {
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const wait = start + (i * 1000) / rate - performance.now();
    if (wait > 1) await sleep(wait);
    await probe();
  }
}

/** Per-round CPU µs of Vigil's probe and, interleaved round by round, of a bare undici request. */
async function vigilRounds(
  targetUrl: string,
): Promise<{ vigil: number[]; floor: number[]; systemShare: number }> {
  const metrics = createMetrics({ version: 'bench', defaultMetrics: false });
  const config = probeSchema.parse({
    name: 'health',
    kind: 'smoke',
    request: { path: '/health' },
    expect: [
      { status: 200 },
      { jsonPath: '$.status', equals: 'ok' },
      { jsonPath: "$.dependencies[?(@ != 'ok')]", exists: false },
      { latencyMs: { lt: 500 } },
    ],
  });
  const probe = prepareProbe(config, { baseUrl: targetUrl });
  const deps = { now: () => systemClock.now(), metrics };
  const once = async (): Promise<void> => {
    const result = await runProbe(probe, deps);
    if (!result.success) throw new Error(`vigil probe failed: ${result.failure?.message}`);
  };
  // The floor: a fresh-connection GET on a new undici Agent with the body read, nothing else.
  const bare = async (): Promise<void> => {
    const agent = new Agent({ connections: 1, pipelining: 0 });
    const response = await request(`${targetUrl}/health`, { dispatcher: agent });
    await response.body.text();
    agent.destroy().catch(() => {});
  };
  await paced(WARMUP, RATE, once);
  await paced(WARMUP, RATE, bare);
  const vigil: number[] = [];
  const floor: number[] = [];
  let system = 0;
  let total = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const before = process.cpuUsage();
    await paced(PER_ROUND, RATE, once);
    const used = process.cpuUsage(before);
    vigil.push((used.user + used.system) / PER_ROUND);
    system += used.system;
    total += used.user + used.system;
    const floorBefore = process.cpuUsage();
    await paced(PER_ROUND, RATE, bare);
    const floorUsed = process.cpuUsage(floorBefore);
    floor.push((floorUsed.user + floorUsed.system) / PER_ROUND);
  }
  return { vigil, floor, systemShare: system / total };
}

async function blackboxRounds(targetUrl: string): Promise<number[]> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-bench-bbe-'));
  let child: ChildProcess | undefined;
  const port = await freePort();
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 1 });
  try {
    await writeFile(join(dir, 'blackbox.yml'), BLACKBOX_CONFIG);
    child = spawn(
      BLACKBOX_BIN,
      [
        `--config.file=${join(dir, 'blackbox.yml')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    if (!(await waitForHttp(`http://127.0.0.1:${port}/`, 10_000)))
      throw new Error('blackbox_exporter did not start');
    const path = `/probe?module=http_2xx&target=${encodeURIComponent(`${targetUrl}/health`)}`;
    const once = async (): Promise<void> => {
      const response = await pool.request({ path, method: 'GET' });
      const text = await response.body.text();
      if (!/^probe_success 1$/m.test(text)) throw new Error('blackbox_exporter probe failed');
    };
    await paced(WARMUP, RATE, once);
    const pid = child.pid as number;
    const rounds: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const before = procCpuMicros(pid);
      await paced(PER_ROUND, RATE, once);
      rounds.push((procCpuMicros(pid) - before) / PER_ROUND);
    }
    return rounds;
  } finally {
    await pool.close();
    if (child) await stopChild(child);
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * CPU µs per fresh-connection HTTP probe (status, two JSONPath assertions, a latency assertion, phase
 * timings, §8 metrics), median of rounds at a fixed rate, beside blackbox_exporter's CPU per probe at the
 * same rate against the same target (its process only, /proc utime+stime).
 *
 * @example const [row] = await run();
 */
export async function run(): Promise<Figure[]> {
  const target = await startTarget();
  try {
    const { vigil, floor, systemShare } = await vigilRounds(target.url);
    const vigilMedian = median(vigil);
    const floorMedian = median(floor);
    const figures: Figure[] = [
      {
        figure: 'CPU per fresh-connection HTTP probe',
        value: `${fixed(vigilMedian)} µs`,
        target: '≤ 200 µs',
        met: vigilMedian <= 200,
        note:
          `median of ${ROUNDS}×${PER_ROUND} probes at ${RATE}/s (rounds ${vigil.map((v) => fixed(v)).join('/')} µs, ` +
          `${fixed(systemShare * 100)} % in the kernel); process.cpuUsage` +
          (floorMedian > 200
            ? `. Limit: the bare HTTP client alone costs ${fixed(floorMedian)} µs here (next row), above the target before any ` +
              'Vigil work; the rest is assertions, timings, metrics and the run context'
            : ''),
      },
      {
        figure: '  floor: bare undici fresh-connection GET',
        value: `${fixed(floorMedian)} µs`,
        target: '(context)',
        met: null,
        note: `same rate, rounds interleaved with the above (${floor.map((v) => fixed(v)).join('/')} µs); Vigil adds ${fixed(vigilMedian - floorMedian)} µs`,
      },
    ];
    if (!existsSync(BLACKBOX_BIN)) {
      figures[0] = { ...(figures[0] as Figure), peer: 'not installed' };
      figures.push({
        figure: 'blackbox_exporter CPU ÷ Vigil CPU per probe',
        value: 'not installed',
        target: 'headline',
        peer: 'not installed',
        met: null,
        note: 'apt-get install prometheus-blackbox-exporter to measure the peer',
      });
      return figures;
    }
    const peer = await blackboxRounds(target.url);
    const peerMedian = median(peer);
    figures[0] = { ...(figures[0] as Figure), peer: `${fixed(peerMedian)} µs (blackbox_exporter)` };
    figures.push({
      figure: 'blackbox_exporter CPU ÷ Vigil CPU per probe',
      value: `${fixed(peerMedian / vigilMedian, 2)}×`,
      target: 'headline',
      peer: `${fixed(peerMedian)} µs`,
      met: null,
      note: `blackbox_exporter ${peer.map((v) => fixed(v)).join('/')} µs per probe incl. serving /probe (its process only, /proc utime+stime)`,
    });
    return figures;
  } finally {
    await target.stop();
  }
}
