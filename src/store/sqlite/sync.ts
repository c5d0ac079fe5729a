/**
 * A repository of the port as better-sqlite3 runs it: the same methods, returning their values
 * synchronously. The store (index.ts) makes them asynchronous and decides their transaction.
 */
export type Sync<R> = {
  [K in keyof R]: R[K] extends (...args: infer A) => Promise<infer T> ? (...args: A) => T : never;
};
