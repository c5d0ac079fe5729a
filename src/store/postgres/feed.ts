import pg from 'pg';
import type { StoreChange } from '../port.js';
import { closeClient } from './sql.js';

/*
 * The replicas' change feed: after a commit a replica NOTIFYs `vigil_changes` with what changed; every
 * other replica LISTENs on one dedicated connection (a pooled one would lose the LISTEN when returned)
 * and tells its subscribers. A replica skips its own notifications by the origin token in the payload.
 * While the connection is down, notifications are lost (PostgreSQL keeps none for absent listeners): the
 * feed reconnects with a bounded backoff, and readers must not rely on it for correctness, only for speed.
 */

export const CHANGE_CHANNEL = 'vigil_changes';
const KINDS: ReadonlySet<string> = new Set<StoreChange['kind']>(['watch', 'outbox', 'alerts']);
const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 5_000;

interface Payload {
  kind: StoreChange['kind'];
  id: string;
  origin: string;
}

/** The NOTIFY payload of a change: what changed and which store published it. */
export function changePayload(change: StoreChange, origin: string): string {
  const payload: Payload = { kind: change.kind, id: change.id, origin };
  return JSON.stringify(payload);
}

function parsePayload(text: string | undefined): Payload | undefined {
  try {
    const value = JSON.parse(text ?? '') as Partial<Payload>;
    if (typeof value.kind !== 'string' || !KINDS.has(value.kind)) return undefined;
    if (typeof value.id !== 'string' || typeof value.origin !== 'string') return undefined;
    return value as Payload;
  } catch {
    return undefined;
  }
}

/**
 * The LISTEN side: connects on the first subscriber, reconnects while any remain, closes with the store.
 *
 * @example const feed = new ChangeFeed(config, origin); const stop = feed.subscribe((c) => wake(c.id));
 */
export class ChangeFeed {
  readonly #config: pg.ClientConfig;
  readonly #origin: string;
  readonly #listeners = new Set<(change: StoreChange) => void>();
  #client: pg.Client | undefined;
  #retry: NodeJS.Timeout | undefined;
  #backoffMs = BACKOFF_MIN_MS;
  #closed = false;

  constructor(config: pg.ClientConfig, origin: string) {
    this.#config = config;
    this.#origin = origin;
  }

  /** True while the LISTEN connection is up (diagnostics and tests). */
  get listening(): boolean {
    return this.#client !== undefined;
  }

  subscribe(listener: (change: StoreChange) => void): () => void {
    this.#listeners.add(listener);
    if (this.#client === undefined && this.#retry === undefined) void this.#connect();
    return () => {
      this.#listeners.delete(listener);
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retry);
    this.#retry = undefined;
    const client = this.#client;
    this.#client = undefined;
    if (client) await closeClient(client);
  }

  async #connect(): Promise<void> {
    if (this.#closed || this.#listeners.size === 0) return;
    const client = new pg.Client(this.#config);
    let gone = false;
    const lost = (): void => {
      if (gone) return;
      gone = true;
      if (this.#client === client) this.#client = undefined;
      void closeClient(client);
      this.#scheduleReconnect();
    };
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', (message) => {
      if (message.channel !== CHANGE_CHANNEL) return;
      const payload = parsePayload(message.payload);
      if (payload === undefined || payload.origin === this.#origin) return;
      const change: StoreChange = { kind: payload.kind, id: payload.id };
      for (const listener of [...this.#listeners]) {
        try {
          listener(change);
        } catch {
          // A subscriber's failure is its own; the others still hear of the change.
        }
      }
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANGE_CHANNEL}`);
    } catch {
      lost();
      return;
    }
    if (gone) return;
    if (this.#closed) {
      await closeClient(client);
      return;
    }
    this.#client = client;
    this.#backoffMs = BACKOFF_MIN_MS;
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.#retry !== undefined) return;
    const delay = this.#backoffMs;
    this.#backoffMs = Math.min(this.#backoffMs * 2, BACKOFF_MAX_MS);
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      void this.#connect();
    }, delay);
    this.#retry.unref();
  }
}
