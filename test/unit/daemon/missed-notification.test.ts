import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../../src/store/open.js';
import type { Store } from '../../../src/store/port.js';
import { writeDaemonConfig } from '../../helpers/daemon.js';
import { type RunningPostgres, skipWithoutPostgres, startPostgres } from '../../helpers/postgres.js';
import { startClockedDaemon } from '../../helpers/probe-clock.js';
import { createHarness } from '../watch/harness.js';

/*
 * A notification sent while the leader's LISTEN connection was down is never replayed. A follower's watch
 * created in that window must still reach the leader: it reads the running watches again every 10 s.
 * The lost notification is a follower whose store publishes nothing.
 */

const cleanups: (() => Promise<void> | void)[] = [];
let server: RunningPostgres;

beforeAll(async () => {
  if (!skipWithoutPostgres) server = await startPostgres();
});
afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await server?.destroy();
});

/** The store with its change feed cut: every publish is lost. */
function deaf(store: Store): Store {
  return new Proxy(store, {
    get(target, property) {
      if (property === 'publish') return async () => {};
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

describe.skipIf(skipWithoutPostgres)('a notification the leader never heard', () => {
  it("a follower's watch whose notification was lost is taken up by the leader's next sweep", async () => {
    const url = await server.createDatabase();
    const files = writeDaemonConfig({
      targetUrl: 'http://127.0.0.1:9',
      storageUrl: url,
      probes: '- name: health\n  kind: smoke\n  interval: 1m\n  request: { path: /health }\n',
    });
    cleanups.push(() => files.cleanup());
    const leader = await startClockedDaemon(files.configFile);
    cleanups.push(leader.stop);
    expect(leader.daemon.leadership().leader).toBe(true);

    const shared = await openStore({ url, instance: 'follower' });
    cleanups.push(() => shared.close());
    const follower = await createHarness({ store: deaf(shared), manager: { leading: false } });
    cleanups.push(() => follower.manager.stop());
    const created = await follower.manager.create({ service: 'prep-api', version: '2.0.0' });
    if (!created.ok) throw new Error(JSON.stringify(created.problems));
    const id = created.watch.id;
    const awaiting = async (): Promise<boolean> =>
      ((await shared.watches.get(id))?.state as { awaitingLeader?: boolean } | undefined)?.awaitingLeader ===
      true;

    // Nothing told the leader: the watch waits.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await awaiting()).toBe(true);

    await leader.clock.advance(10_000);
    for (let i = 0; i < 200 && (await awaiting()); i++) await new Promise((r) => setTimeout(r, 25));
    expect(await awaiting()).toBe(false);
    expect((await shared.watches.get(id))?.status).toBe('running');
  }, 60_000);
});
