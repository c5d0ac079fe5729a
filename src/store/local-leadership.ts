import type { Leadership, LeadershipStatus } from './port.js';

/**
 * The leadership of a store only this process uses (SQLite): it leads from start() until stop(), and
 * never loses it to anyone. A listener added after start() is called at once.
 *
 * @example
 *   const leadership = new LocalLeadership('vigil-0');
 *   leadership.onAcquired(() => manager.lead());
 *   await leadership.start();
 */
export class LocalLeadership implements Leadership {
  readonly #instance: string;
  readonly #acquired: (() => void)[] = [];
  #started = false;
  #stopped = false;

  constructor(instance: string) {
    this.#instance = instance;
  }

  status(): LeadershipStatus {
    return {
      leader: !this.#stopped,
      instance: this.#instance,
      leaderInstance: this.#stopped ? '' : this.#instance,
      reason: this.#stopped ? 'stopped' : null,
    };
  }

  onAcquired(listener: () => void): void {
    this.#acquired.push(listener);
    if (this.#started && !this.#stopped) listener();
  }

  /** Nothing to lose: no other process shares the store. */
  onLost(_listener: (reason: string) => void): void {}

  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    for (const listener of this.#acquired) listener();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
  }
}
