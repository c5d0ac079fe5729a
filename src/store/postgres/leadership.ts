import pg from 'pg';
import type { Leadership, LeadershipStatus } from '../port.js';
import { closeClient, destroyClient } from './sql.js';

/*
 * Leadership among replicas (DESIGN §13): one session-level advisory lock, held on a dedicated connection
 * of its own — never a pooled one, and never through a pooler in transaction mode, where the lock would
 * belong to whichever session the pooler picked. PostgreSQL releases the lock when that session ends:
 * at once when the leader's process dies on a live host (the kernel closes its socket), or when the
 * server's TCP keepalives give up on a vanished host (set below to ~11 s).
 *
 * While not leading, an instance campaigns (pg_try_advisory_lock) every campaignIntervalMs. While leading,
 * it checks its connection every checkIntervalMs with a `SELECT 1` bounded by checkTimeoutMs, and watches
 * the connection's 'error' and 'end' events: on any failure it calls every onLost listener synchronously,
 * then drops the connection, so it stops leading before the server can hand the lock to anyone else
 * (a 2 s check with a 4 s bound notices a dead network within ~6 s; the server frees the lock after ~11 s
 * of silence). The bound is generous on purpose: a slow answer from a busy server is no reason to step
 * down, since the session — and the lock — are still there.
 *
 * The leader's name is its lock connection's application_name, read by followers from pg_locks and
 * pg_stat_activity: it is right for exactly as long as the lock is held.
 */

/** The advisory lock key ('vigilLEA'): one leader per database. */
const LEADER_KEY = 0x766967696c4c4541n;
const LEADER_KEY_TEXT = LEADER_KEY.toString();
/** pg_locks shows a bigint advisory key as classid (high 32 bits) and objid (low 32 bits). */
const LEADER_CLASSID = Number(LEADER_KEY >> 32n);
const LEADER_OBJID = Number(LEADER_KEY & 0xffffffffn);

/** Server-side keepalives on the lock's session: a vanished leader host frees the lock within ~11 s. */
const SERVER_KEEPALIVES = '-c tcp_keepalives_idle=5 -c tcp_keepalives_interval=2 -c tcp_keepalives_count=3';

export interface PostgresLeadershipTiming {
  /** How often a follower tries to take the lock; default 2 s. */
  campaignIntervalMs?: number;
  /** How often the leader checks its lock connection; default 2 s. */
  checkIntervalMs?: number;
  /** Bound on that check (and on each query of the lock connection); default 4 s. */
  checkTimeoutMs?: number;
  /** Bound on connecting the lock connection; default 5 s. */
  connectTimeoutMs?: number;
}

/**
 * The PostgreSQL leadership of one instance. `config` is the store's connection config (its URL).
 *
 * @example
 *   const leadership = store.leadership({ instance: 'vigil-0' });
 *   leadership.onAcquired(() => void manager.lead());
 *   leadership.onLost((reason) => manager.standDown());
 *   await leadership.start();
 */
export class PostgresLeadership implements Leadership {
  readonly #config: pg.ClientConfig;
  readonly #instance: string;
  readonly #campaignMs: number;
  readonly #checkMs: number;
  readonly #checkTimeoutMs: number;
  readonly #acquired: (() => void)[] = [];
  readonly #lost: ((reason: string) => void)[] = [];
  #client: pg.Client | undefined;
  #leader = false;
  #leaderInstance = '';
  #reason: string | null = 'not started';
  #started = false;
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;
  #tick: Promise<void> | undefined;
  #justLost = false;

  constructor(config: pg.ClientConfig, instance: string, timing: PostgresLeadershipTiming = {}) {
    this.#instance = instance;
    this.#campaignMs = timing.campaignIntervalMs ?? 2_000;
    this.#checkMs = timing.checkIntervalMs ?? 2_000;
    this.#checkTimeoutMs = timing.checkTimeoutMs ?? 4_000;
    this.#config = {
      ...config,
      application_name: instance,
      keepAlive: true,
      keepAliveInitialDelayMillis: 1_000,
      connectionTimeoutMillis: timing.connectTimeoutMs ?? 5_000,
      query_timeout: this.#checkTimeoutMs,
      options: [config.options, SERVER_KEEPALIVES].filter(Boolean).join(' '),
    };
  }

  status(): LeadershipStatus {
    return {
      leader: this.#leader,
      instance: this.#instance,
      leaderInstance: this.#leader ? this.#instance : this.#leaderInstance,
      reason: this.#leader ? null : this.#reason,
    };
  }

  onAcquired(listener: () => void): void {
    this.#acquired.push(listener);
    if (this.#leader) listener();
  }

  onLost(listener: (reason: string) => void): void {
    this.#lost.push(listener);
  }

  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    this.#reason = 'waiting for the leadership lock';
    await this.#run();
  }

  /** Releases the lock (if held) and stops campaigning; onLost is not called (the caller is leaving). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#tick;
    const client = this.#client;
    this.#client = undefined;
    this.#leader = false;
    this.#leaderInstance = '';
    this.#reason = 'stopped';
    if (client) {
      await client.query('SELECT pg_advisory_unlock($1::bigint)', [LEADER_KEY_TEXT]).catch(() => undefined);
      await closeClient(client);
    }
  }

  async #run(): Promise<void> {
    if (this.#stopped) return;
    this.#tick = this.#leader ? this.#check() : this.#campaign();
    await this.#tick;
    this.#tick = undefined;
    if (this.#stopped) return;
    // After losing the lock, stand back one round: a healthy follower (campaigning every interval) takes
    // over rather than the instance whose connection just failed winning it back.
    this.#schedule(this.#leader ? this.#checkMs : this.#justLost ? 2 * this.#campaignMs : this.#campaignMs);
  }

  #schedule(delayMs: number): void {
    this.#justLost = false;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#run(), delayMs);
    this.#timer.unref();
  }

  async #campaign(): Promise<void> {
    try {
      const client = this.#client ?? (await this.#connect());
      const { rows } = await client.query<{ locked: boolean }>(
        'SELECT pg_try_advisory_lock($1::bigint) AS locked',
        [LEADER_KEY_TEXT],
      );
      if (this.#stopped || this.#client !== client) return;
      if (rows[0]?.locked) {
        this.#leader = true;
        this.#reason = null;
        for (const listener of [...this.#acquired]) {
          try {
            listener();
          } catch {
            // A listener's failure is its own: this instance leads all the same.
          }
        }
        return;
      }
      this.#leaderInstance = await this.#holder(client);
      this.#reason = this.#leaderInstance
        ? `${this.#leaderInstance} leads`
        : 'another instance holds the leadership lock';
    } catch (error) {
      this.#drop();
      this.#leaderInstance = '';
      this.#reason = `the database is unreachable: ${(error as Error).message}`;
    }
  }

  async #check(): Promise<void> {
    const client = this.#client;
    if (client === undefined) {
      this.#lose('the leadership connection is gone');
      return;
    }
    try {
      await client.query('SELECT 1');
    } catch (error) {
      this.#lose(`the leadership connection failed: ${(error as Error).message}`);
    }
  }

  async #connect(): Promise<pg.Client> {
    const client = new pg.Client(this.#config);
    const failed = (reason: string) => (): void => {
      if (this.#client !== client) return;
      if (this.#leader) this.#lose(reason);
      else this.#drop();
    };
    client.on('error', (error) => failed(`the leadership connection failed: ${error.message}`)());
    client.on('end', failed('the leadership connection closed'));
    try {
      await client.connect();
    } catch (error) {
      destroyClient(client);
      throw error;
    }
    this.#client = client;
    return client;
  }

  /** The application_name of the session holding the lock in this database ('' when none or hidden). */
  async #holder(client: pg.Client): Promise<string> {
    const { rows } = await client.query<{ name: string | null }>(
      `SELECT a.application_name AS name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
       WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1::oid AND l.objid = $2::oid
         AND l.objsubid = 1 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      [LEADER_CLASSID, LEADER_OBJID],
    );
    return rows[0]?.name ?? '';
  }

  /** Stops leading: every onLost listener first, synchronously, then the connection goes. */
  #lose(reason: string): void {
    if (!this.#leader) return;
    this.#leader = false;
    this.#justLost = true;
    this.#leaderInstance = '';
    this.#reason = reason;
    for (const listener of [...this.#lost]) {
      try {
        listener(reason);
      } catch {
        // One listener's failure must not keep the others from stopping their work.
      }
    }
    this.#drop();
    // Lost between ticks (the connection's events): the next campaign waits its round too.
    if (this.#tick === undefined && !this.#stopped) this.#schedule(2 * this.#campaignMs);
  }

  #drop(): void {
    const client = this.#client;
    this.#client = undefined;
    if (client) destroyClient(client);
  }
}
