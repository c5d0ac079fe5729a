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
import { bareGet } from './lib/floors.js';
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

/** A probe driven by the bench, and how its CPU is read (this process, or the peer's by /proc). */
interface Contender {
  once: () => Promise<void>;
  cpuMicros: () => number;
}

/** Vigil's probe as the daemon runs it: prepared once, then runProbe with the §8 metrics. */
function vigilContender(targetUrl: string): Contender {
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
  return {
    once: async () => {
      const result = await runProbe(probe, deps);
      if (!result.success) throw new Error(`vigil probe failed: ${result.failure?.message}`);
    },
    cpuMicros: ownCpuMicros,
  };
}

function ownCpuMicros(): number {
  const used = process.cpuUsage();
  return used.user + used.system;
}

/** The floor of the client Vigil replaced: a fresh-connection GET on a new undici Agent, body read. */
function undiciContender(targetUrl: string): Contender {
  return {
    once: async () => {
      const agent = new Agent({ connections: 1, pipelining: 0 });
      const response = await request(`${targetUrl}/health`, { dispatcher: agent });
      await response.body.text();
      agent.destroy().catch(() => {});
    },
    cpuMicros: ownCpuMicros,
  };
}

/** The floor of the client Vigil uses: node:http on a socket of its own (no agent), body read. */
function nodeHttpContender(targetUrl: string): Contender {
  const url = new URL(`${targetUrl}/health`);
  return { once: () => bareGet(url), cpuMicros: ownCpuMicros };
}

/** blackbox_exporter probing the same target through its /probe endpoint (its process's CPU only). */
async function startBlackbox(targetUrl: string): Promise<Contender & { stop(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-bench-bbe-'));
  const port = await freePort();
  await writeFile(join(dir, 'blackbox.yml'), BLACKBOX_CONFIG);
  const child: ChildProcess = spawn(
    BLACKBOX_BIN,
    [
      `--config.file=${join(dir, 'blackbox.yml')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 1 });
  const stop = async (): Promise<void> => {
    await pool.close();
    await stopChild(child);
    await rm(dir, { recursive: true, force: true });
  };
  if (!(await waitForHttp(`http://127.0.0.1:${port}/`, 10_000))) {
    await stop();
    throw new Error('blackbox_exporter did not start');
  }
  const path = `/probe?module=http_2xx&target=${encodeURIComponent(`${targetUrl}/health`)}`;
  return {
    once: async () => {
      const response = await pool.request({ path, method: 'GET' });
      const text = await response.body.text();
      if (!/^probe_success 1$/m.test(text)) throw new Error('blackbox_exporter probe failed');
    },
    cpuMicros: () => procCpuMicros(child.pid as number),
    stop,
  };
}

/**
 * CPU µs per probe of each contender, round by round: every round runs each contender once, in an order
 * that rotates, so all of them see the same machine (a shared VM's load moves by minutes).
 */
async function interleavedRounds(contenders: readonly Contender[]): Promise<number[][]> {
  for (const c of contenders) await paced(WARMUP, RATE, c.once);
  const rounds: number[][] = contenders.map(() => []);
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < contenders.length; k++) {
      const i = (round + k) % contenders.length;
      const c = contenders[i] as Contender;
      const before = c.cpuMicros();
      await paced(PER_ROUND, RATE, c.once);
      (rounds[i] as number[]).push((c.cpuMicros() - before) / PER_ROUND);
    }
  }
  return rounds;
}

const list = (values: readonly number[]): string => values.map((v) => fixed(v)).join('/');

/**
 * CPU µs per fresh-connection HTTP probe (status, two JSONPath assertions, a latency assertion, phase
 * timings, §8 metrics), median of rounds at a fixed rate, beside blackbox_exporter's CPU per probe at the
 * same rate against the same target (its process only, /proc utime+stime), rounds interleaved. Vigil is
 * charged everything its process does while probing (the bench's pacing timer and GC included); the peer
 * is charged serving its /probe request, which Vigil's in-process call does not pay.
 *
 * @example const rows = await run();
 */
export async function run(): Promise<Figure[]> {
  const target = await startTarget();
  const peer = existsSync(BLACKBOX_BIN) ? await startBlackbox(target.url) : undefined;
  try {
    const contenders = [
      vigilContender(target.url),
      nodeHttpContender(target.url),
      undiciContender(target.url),
      ...(peer ? [peer] : []),
    ];
    const [vigil, nodeFloor, undiciFloor, peerRounds] = (await interleavedRounds(contenders)) as [
      number[],
      number[],
      number[],
      number[] | undefined,
    ];
    const vigilMedian = median(vigil);
    const nodeMedian = median(nodeFloor);
    const peerMedian = peerRounds ? median(peerRounds) : Number.NaN;
    const figures: Figure[] = [
      {
        figure: 'CPU per fresh-connection HTTP probe',
        value: `${fixed(vigilMedian)} µs`,
        target: '≤ 0.6 × blackbox_exporter',
        met: peerRounds ? vigilMedian <= 0.6 * peerMedian : null,
        peer: peerRounds ? `${fixed(peerMedian)} µs (blackbox_exporter)` : 'not installed',
        note:
          `median of ${ROUNDS}×${PER_ROUND} probes at ${RATE}/s, rounds interleaved with the rows below ` +
          `(${list(vigil)} µs); process.cpuUsage, pacing timer and GC included`,
      },
      {
        figure: '  floor: bare node:http fresh-connection GET',
        value: `${fixed(nodeMedian)} µs`,
        target: '(context)',
        met: null,
        note: `the client Vigil uses, nothing else (${list(nodeFloor)} µs); Vigil adds ${fixed(vigilMedian - nodeMedian)} µs: assertions, timings, metrics, run context`,
      },
      {
        figure: '  floor: bare undici fresh-connection GET',
        value: `${fixed(median(undiciFloor))} µs`,
        target: '(context)',
        met: null,
        note: `a new undici Agent per GET, the client Vigil used before (${list(undiciFloor)} µs)`,
      },
      peerRounds
        ? {
            figure: 'blackbox_exporter CPU ÷ Vigil CPU per probe',
            value: `${fixed(peerMedian / vigilMedian, 2)}×`,
            target: '≥ 1.67× (headline)',
            peer: `${fixed(peerMedian)} µs`,
            met: peerMedian / vigilMedian >= 1 / 0.6,
            note: `blackbox_exporter ${list(peerRounds)} µs per probe incl. serving /probe (its process only, /proc utime+stime)`,
          }
        : {
            figure: 'blackbox_exporter CPU ÷ Vigil CPU per probe',
            value: 'not installed',
            target: 'headline',
            peer: 'not installed',
            met: null,
            note: 'apt-get install prometheus-blackbox-exporter to measure the peer',
          },
    ];
    return figures;
  } finally {
    await peer?.stop();
    await target.stop();
  }
}
