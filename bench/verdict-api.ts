import { type ChildProcess, execFile, fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { writeBenchConfig } from './lib/config.js';
import { startDaemonChild } from './lib/daemon.js';
import { type Figure, fixed, median } from './lib/figure.js';
import { procCpuMicros, stopChild } from './lib/proc.js';

const run_ = promisify(execFile);
const DURATION_S = 10;
const CONNECTIONS = 20;
const RUNS = 3;

interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p99: number; p50: number };
  non2xx: number;
  errors: number;
  duration: number;
}

const BARE_WORKER = fileURLToPath(new URL('./workers/bare-fastify.js', import.meta.url));

/** The peer: a bare fastify route serving `body` from memory, in its own process. */
async function startBareFastify(body: string): Promise<{ url: string; child: ChildProcess }> {
  const child = fork(BARE_WORKER, [body], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const [message] = (await Promise.race([
    once(child, 'message'),
    once(child, 'exit').then(() => {
      throw new Error('the bare fastify peer exited before listening');
    }),
  ])) as [{ kind: string; port?: number; message?: string }];
  if (message.kind !== 'ready') throw new Error(`the bare fastify peer failed: ${message.message}`);
  return { url: `http://127.0.0.1:${message.port}/verdict`, child };
}

interface Round {
  rps: number;
  p99: number;
  bad: number;
}

async function autocannon(url: string): Promise<Round> {
  const { stdout } = await run_(
    process.execPath,
    [autocannonBin(), '-j', '-c', String(CONNECTIONS), '-d', String(DURATION_S), url],
    { maxBuffer: 16 * 2 ** 20, timeout: (DURATION_S + 30) * 1000 },
  );
  const result = JSON.parse(stdout) as AutocannonResult;
  return { rps: result.requests.average, p99: result.latency.p99, bad: result.non2xx + result.errors };
}

function autocannonBin(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('autocannon/package.json')), 'autocannon.js');
}

/**
 * `GET /api/v1/watches/:id/verdict` under autocannon (its own process, 20 connections, 10 s, 3 runs)
 * against a real daemon in a child process, one watch created through the API first, beside the same
 * JSON from a bare fastify route in rounds that alternate. Requests/s and p99 are autocannon's; the
 * daemon's CPU over the run comes from /proc (single-threaded: one core).
 *
 * @example const rows = await run();
 */
export async function run(): Promise<Figure[]> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-bench-verdict-'));
  try {
    // One probe, so the bake has a check to judge (a watch with an empty bake is refused).
    const file = writeBenchConfig({ dir, targetUrl: 'http://127.0.0.1:9', probes: 1, intervalS: 30 });
    const daemon = await startDaemonChild(file);
    try {
      const created = await fetch(`${daemon.url}/api/v1/watches`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ service: 'bench-api', version: '1.0.1', previousVersion: '1.0.0' }),
      });
      if (created.status !== 201) throw new Error(`creating the watch answered ${created.status}`);
      const { id } = (await created.json()) as { id: string };
      const url = `${daemon.url}/api/v1/watches/${id}/verdict`;
      const check = await fetch(url);
      if (check.status !== 200) throw new Error(`the verdict answered ${check.status}`);
      const peer = await startBareFastify(await check.text());
      try {
        const rps: number[] = [];
        const p99: number[] = [];
        const cpu: number[] = [];
        const peerRps: number[] = [];
        const peerP99: number[] = [];
        let bad = 0;
        // Rounds alternate Vigil and the peer, so both meet the same load on the machine.
        for (let i = 0; i < RUNS; i++) {
          const before = procCpuMicros(daemon.pid);
          const started = performance.now();
          const vigil = await autocannon(url);
          const wallMs = performance.now() - started;
          cpu.push(((procCpuMicros(daemon.pid) - before) / (wallMs * 1000)) * 100);
          rps.push(vigil.rps);
          p99.push(vigil.p99);
          bad += vigil.bad;
          const bare = await autocannon(peer.url);
          peerRps.push(bare.rps);
          peerP99.push(bare.p99);
        }
        const r = median(rps);
        const p = median(p99);
        const floor = median(peerRps);
        const ratio = r / floor;
        const note = `autocannon -c ${CONNECTIONS} -d ${DURATION_S}, median of ${RUNS} alternating rounds; daemon CPU ${cpu.map((c) => fixed(c)).join('/')} % of a core; ${bad} non-2xx/errors; the peer serves the same verdict JSON from memory on a bare fastify route (no auth, rate limit, store, request log)`;
        return [
          {
            figure: 'Verdict API: requests/s',
            value: `${fixed(r)} /s (${fixed(ratio, 2)}× the peer)`,
            target: '≥ 0.5 × a bare fastify route, same run',
            met: ratio >= 0.5 && bad === 0,
            peer: `bare fastify ${fixed(floor)} /s`,
            note,
          },
          {
            figure: 'Verdict API: p99 latency',
            value: `${fixed(p, 1)} ms`,
            target: '< 20 ms',
            met: p < 20,
            peer: `bare fastify ${fixed(median(peerP99), 1)} ms`,
          },
        ];
      } finally {
        await stopChild(peer.child);
      }
    } finally {
      await daemon.stop();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
