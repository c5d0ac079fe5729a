import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../../src/store/open.js';
import { writeDaemonConfig } from '../../helpers/daemon.js';
import { startClockedDaemon } from '../../helpers/probe-clock.js';

/*
 * A daemon that holds the lead but fails to take it up (a store write refused half-way) must not sit on
 * the lock idle: it stands down and tries again while it still holds it. On SQLite the lock is always
 * its own, so the retry alone decides whether anything runs.
 */

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const leaderValue = async (metrics: { registry: { metrics(): Promise<string> } }): Promise<number> => {
  const line = (await metrics.registry.metrics()).split('\n').find((l) => l.startsWith('vigil_leader{'));
  return Number(line?.split(' ').at(-1));
};

describe('taking the lead', () => {
  it('a lead that fails half-way is tried again while the lock is held, and runs once the store takes writes', async () => {
    const files = writeDaemonConfig({ targetUrl: 'http://127.0.0.1:9' });
    cleanups.push(() => files.cleanup());
    // A k6 run left open by a daemon that died: taking the lead closes it, and this trigger refuses that.
    const seeded = await openStore({ path: files.dbPath });
    await seeded.loadRuns.insert({
      id: 'r1',
      service: 'prep-api',
      watchId: null,
      profile: 'smoke',
      trigger: 'manual',
      startedAt: Date.now() - 60_000,
    });
    await seeded.close();
    const raw = new Database(files.dbPath);
    raw.exec(
      `CREATE TRIGGER refuse BEFORE UPDATE ON loadtest_runs BEGIN SELECT RAISE(ABORT, 'disk says no'); END`,
    );
    raw.close();

    const { daemon, clock, stop } = await startClockedDaemon(files.configFile);
    cleanups.push(stop);
    expect(daemon.leadership().leader).toBe(true); // the lock (SQLite: always ours)…
    expect(await leaderValue(daemon.metrics)).toBe(0); // …but nothing runs

    // Still refused: the next attempt fails too, and nothing runs.
    await clock.advance(5_000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await leaderValue(daemon.metrics)).toBe(0);

    const fixed = new Database(files.dbPath);
    fixed.exec('DROP TRIGGER refuse');
    fixed.close();
    await clock.advance(5_000);
    for (let i = 0; i < 40 && (await leaderValue(daemon.metrics)) !== 1; i++) {
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(await leaderValue(daemon.metrics)).toBe(1);
    // The lead that finally went through closed the interrupted run.
    const after = await openStore({ path: files.dbPath });
    cleanups.push(() => after.close());
    expect((await after.loadRuns.get('r1'))?.result).toBe('inconclusive');
  });
});
