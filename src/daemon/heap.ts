import v8 from 'node:v8';

/**
 * How far V8 lets the old generation grow past what its last full collection kept, in percent.
 *
 * V8 sets the next full-collection limit at up to 4× the live heap on a machine with gigabytes of
 * memory, and the daemon's live heap is mostly long-lived (config, prepared probes, latest results),
 * while each probe run promotes a few KB that die at the probe's next run. With the default, the
 * 10,000-probe daemon's old space grew from ~40 MB to 120–155 MB before the first full collection
 * after start (peak RSS 213–289 MB over runs, depending on when it fell); at 50 % the limit tracks
 * the live heap (~60 MB → ~90 MB) and the peak was 213–228 MB over five runs. A full collection runs every
 * ~15 s at 10,000 probes (a few ms of pause, incremental marking otherwise), which the CPU figure
 * absorbs (docs/performance.md, "Issue 17, third pass").
 */
export const DAEMON_HEAP_GROWING_PERCENT = 50;

/**
 * Tunes this process's V8 heap for a long-running daemon: the old generation grows by at most
 * DAEMON_HEAP_GROWING_PERCENT over the live heap. V8 reads the flag each time it sets a limit, so it
 * applies from the next collection on (no restart, same for every way Vigil is launched). `vigil
 * serve` calls it before it loads anything; one-shot commands keep V8's defaults.
 *
 * @example tuneDaemonHeap(); // then load the config and build the daemon
 */
export function tuneDaemonHeap(): void {
  v8.setFlagsFromString(`--heap-growing-percent=${DAEMON_HEAP_GROWING_PERCENT}`);
}
