/*
 * `npm run bench [filter…]`: builds, then runs each figure of issue 9 in order (a filter keeps the figures
 * whose title contains it, e.g. `node dist/bench/run.js 10k slo`) and prints one table with the machine,
 * the date and the load average. Loopback only; CPU from process.cpuUsage() or /proc, medians of rounds.
 * Needs /usr/bin/prometheus + promtool for the SLO figure and prometheus-blackbox-exporter for the peer.
 */
import os from 'node:os';
import * as fleet from './fleet.js';
import * as latency from './latency.js';
import { type Figure, failedFigure } from './lib/figure.js';
import * as metricsRender from './metrics-render.js';
import * as patterns from './patterns.js';
import * as probeCpu from './probe-cpu.js';
import * as schedule from './schedule.js';
import * as sloCycle from './slo-cycle.js';
import * as startup from './startup.js';
import * as verdictApi from './verdict-api.js';

interface BenchModule {
  /** Shown when the module throws before producing its rows. */
  readonly title: string;
  readonly target: string;
  run(): Promise<Figure[]>;
}

const MODULES: readonly BenchModule[] = [
  {
    title: 'CPU per fresh-connection HTTP probe',
    target: '≤ 0.6 × blackbox_exporter, same run',
    run: probeCpu.run,
  },
  {
    title: '10k probes @30s',
    target: 'lag p99 < 20 ms, CPU ≤ 30 %, RSS < 250 MB, live heap after 3 reloads < +5 MB',
    run: schedule.run,
  },
  { title: 'Latency accuracy', target: 'p99 error ≤ 1.5 × the floor, same run', run: latency.run },
  {
    title: '/metrics with 10k probes',
    target: '≤ 1,500 B and ≤ 40 ms per 1,000 probes, no RSS growth',
    run: metricsRender.run,
  },
  { title: 'Verdict API', target: '≥ 0.5 × a bare fastify route, same run', run: verdictApi.run },
  { title: '100 SLOs', target: 'cycle < 2 s, ≤ 2 queries per check', run: sloCycle.run },
  { title: 'Start to /ready', target: '< 1500 ms', run: startup.run },
  {
    title: '100 services × 10 probes, 8 SLOs',
    target: 'lag p99 < 20 ms, CPU ≤ 30 %, RSS < 250 MB, cycle < 2 s, ≤ 2 queries per check',
    run: fleet.run,
  },
  { title: 'Log signatures', target: '100k lines < 1 s, < 100 MB', run: patterns.run },
];

function table(rows: readonly Figure[]): string {
  const headers = ['figure', 'value', 'target', 'met', 'peer', 'note'];
  const cells = rows.map((r) => [
    r.figure,
    r.value,
    r.target,
    r.met === null ? '—' : r.met ? 'yes' : 'NO',
    r.peer ?? '—',
    r.note ?? '',
  ]);
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] as string).length)));
  const line = (c: readonly string[]): string =>
    `| ${c.map((cell, i) => (i === c.length - 1 ? cell : cell.padEnd(widths[i] as number))).join(' | ')} |`;
  return [line(headers), line(widths.map((w) => '-'.repeat(Math.min(w, 40)))), ...cells.map(line)].join('\n');
}

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const rows: Figure[] = [];
  const loadBefore = os.loadavg()[0] as number;
  const benchStarted = performance.now();
  for (const module of MODULES) {
    if (only.length > 0 && !only.some((o) => module.title.toLowerCase().includes(o.toLowerCase()))) continue;
    const started = performance.now();
    process.stderr.write(`bench: ${module.title} …\n`);
    try {
      rows.push(...(await module.run()));
    } catch (error) {
      rows.push(failedFigure(module.title, module.target, error));
    }
    process.stderr.write(
      `bench: ${module.title} done in ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
    );
  }
  const cpus = os.cpus();
  process.stdout.write(`${table(rows)}\n\n`);
  process.stdout.write(
    `machine: ${cpus[0]?.model ?? 'unknown CPU'}, ${cpus.length} cores, ` +
      `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, node ${process.version}, ${os.platform()} ${os.release()}\n` +
      `date: ${new Date().toISOString()}; whole bench ${((performance.now() - benchStarted) / 1000).toFixed(0)} s; ` +
      `load average (1 min) ${loadBefore.toFixed(2)} at start, ${(os.loadavg()[0] as number).toFixed(2)} at end\n`,
  );
  // A missed target is a finding, printed with its explanation; only a figure that could not be measured fails.
  process.exitCode = rows.some((r) => r.value === 'error') ? 1 : 0;
}

await main();
