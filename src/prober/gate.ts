import { VigilError } from '../errors.js';

/** The global probe caps a gate holds for every scheduler that shares it. */
export interface RunGateOptions {
  /** Runs in flight at once, all schedulers together. Default 32. */
  concurrency?: number;
  /** Runs in flight at once against one host:port, all schedulers together. Default 4. */
  perHostConcurrency?: number;
}

/**
 * Starts one run that was granted a slot. It receives the slot's release, to call once when the run
 * has settled; until then the slot counts against both caps.
 */
export type StartRun = (release: () => void) => void;

/** One scheduler's line at a gate: its runs wait here in FIFO order and take turns with other lines. */
export interface GateLane {
  /**
   * Queues a run against `host` (host:port). `start` is called, synchronously inside the gate, when the
   * run gets a slot: at once when a slot is free and nothing of this lane waits ahead of it, else when
   * a slot frees up and it is this lane's turn. `start` must not throw.
   */
  enter(host: string, start: StartRun): void;
  /** Drops every run of this lane still waiting (they never start); runs in flight keep their slots. */
  clear(): void;
  /** Runs of this lane waiting for a slot. */
  readonly waiting: number;
}

/** Global run caps shared by several schedulers (one per service), fair between them. */
export interface RunGate {
  /** Opens a line for one scheduler. A line that waits for nothing costs the gate nothing. */
  openLane(): GateLane;
  /** Runs holding a slot, all lanes together. */
  readonly inFlight: number;
  /** Runs waiting for a slot, all lanes together. */
  readonly waiting: number;
}

interface Entry {
  host: string;
  start: StartRun;
}

interface Lane extends GateLane {
  entries: Entry[];
  /** When this lane last got a slot, as a count of grants (0: never). */
  servedAt: number;
}

/**
 * Creates the gate several probe schedulers share, holding the global caps: runs in flight in all, and
 * per host:port (two services probing one host share its cap). When slots are short they go round-robin
 * to the lanes with runs waiting, the lane served longest ago first, so a service with 1,000 queued runs
 * cannot starve one with a single run: that run starts at the next freed slot (with other busy lanes
 * waiting too, within one freed slot per such lane). Inside a lane the order stays FIFO, skipping runs
 * whose host is at its cap.
 *
 * @example
 *   const gate = createRunGate({ concurrency: 32, perHostConcurrency: 4 });
 *   const schedulers = services.map((s) => createScheduler({ ...s, gate }));
 */
export function createRunGate(options: RunGateOptions = {}): RunGate {
  const concurrency = checkedCap('concurrency', options.concurrency ?? 32);
  const perHost = checkedCap('perHostConcurrency', options.perHostConcurrency ?? 4);
  const hostRunning = new Map<string, number>();
  // Lanes with runs waiting, the one served longest ago first: the order they get their next turn.
  const turns: Lane[] = [];
  let grants = 0;
  let inFlight = 0;
  let waiting = 0;
  let pumping = false;

  const hostFree = (host: string): boolean => (hostRunning.get(host) ?? 0) < perHost;

  function take(lane: Lane): Entry | undefined {
    const index = lane.entries.findIndex((e) => hostFree(e.host));
    if (index < 0) return undefined;
    const [entry] = lane.entries.splice(index, 1);
    waiting--;
    return entry;
  }

  function begin(entry: Entry): void {
    inFlight++;
    hostRunning.set(entry.host, (hostRunning.get(entry.host) ?? 0) + 1);
    let released = false;
    entry.start(() => {
      if (released) return;
      released = true;
      inFlight--;
      const left = (hostRunning.get(entry.host) ?? 1) - 1;
      if (left > 0) hostRunning.set(entry.host, left);
      else hostRunning.delete(entry.host);
      pump();
    });
  }

  function pump(): void {
    // A start that enters or releases synchronously lands here again; the loop below sees its effect.
    if (pumping) return;
    pumping = true;
    try {
      grant: while (inFlight < concurrency) {
        for (let i = 0; i < turns.length; i++) {
          const lane = turns[i] as Lane;
          const entry = take(lane);
          if (!entry) continue; // every waiting run of this lane is on a host at its cap
          turns.splice(i, 1);
          lane.servedAt = ++grants;
          if (lane.entries.length > 0) turns.push(lane);
          begin(entry);
          continue grant;
        }
        break;
      }
    } finally {
      pumping = false;
    }
  }

  return {
    openLane() {
      const lane: Lane = {
        entries: [],
        servedAt: 0,
        get waiting() {
          return lane.entries.length;
        },
        enter(host, start) {
          lane.entries.push({ host, start });
          waiting++;
          if (lane.entries.length === 1) {
            // A lane that starts waiting again keeps the turn it earned by being served long ago: behind
            // lanes served before it, ahead of the lane that was just served.
            const behind = turns.findIndex((other) => other.servedAt > lane.servedAt);
            turns.splice(behind < 0 ? turns.length : behind, 0, lane);
          }
          pump();
        },
        clear() {
          if (lane.entries.length === 0) return;
          waiting -= lane.entries.length;
          lane.entries = [];
          turns.splice(turns.indexOf(lane), 1);
        },
      };
      return lane;
    },
    get inFlight() {
      return inFlight;
    },
    get waiting() {
      return waiting;
    },
  };
}

function checkedCap(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1)
    throw new VigilError('PROBE_GATE_INVALID', `${name} must be a whole number of at least 1, got ${value}`);
  return value;
}
