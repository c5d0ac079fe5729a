/**
 * Runs async sections one at a time, in call order. Built on promise chaining alone (no timer), so a
 * test on a virtual clock sees a section start as soon as the one before it settled.
 *
 * @example await mutex.run(async () => { db.exec('BEGIN IMMEDIATE'); … })
 */
export class Mutex {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(section: () => T | Promise<T>): Promise<T> {
    const result = this.#tail.then(section);
    this.#tail = result.catch(() => undefined);
    return result;
  }
}
