import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLoadRunStore } from '../../../src/loadtest/runs.js';
import { parseSummaryText } from '../../../src/loadtest/summary.js';
import { openStore } from '../../../src/store/open.js';
import type { Store, StoredWatchStatus } from '../../../src/store/port.js';
import { makeWatch } from '../../store/contract.js';

const parsed = parseSummaryText(
  readFileSync(join(import.meta.dirname, '../../fixtures/k6/handle-summary-pass.json'), 'utf8'),
);
if (!parsed.ok) throw new Error(parsed.error);
const summary = parsed.summary;

const opened: Store[] = [];
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
});

async function seed() {
  const db = await openStore({ path: ':memory:' });
  opened.push(db);
  const addWatch = (id: string, status: StoredWatchStatus) => db.watches.insert(makeWatch({ id, status }));
  await addWatch('w_passed', 'passed');
  await addWatch('w_failed', 'failed');
  const store = createLoadRunStore(db, 'prep-api');
  const add = async (
    id: string,
    startedAt: number,
    watchId: string | null,
    result: 'pass' | 'fail',
    fingerprint = 'fp1',
  ) => {
    await store.insert({ id, watchId, profile: 'smoke', trigger: watchId ? 'watch' : 'schedule', startedAt });
    await store.finish(id, {
      endedAt: startedAt + 1,
      exitCode: 0,
      result,
      explanation: 'x',
      summary,
      comparison: null,
      fingerprint,
    });
  };
  return { db, store, add };
}

describe('the load runs of a service', () => {
  it("compares within a service: another service's run of a profile of the same name is never the baseline", async () => {
    const { db, store, add } = await seed();
    const worker = createLoadRunStore(db, 'prep-worker');
    await worker.insert({
      id: 'lr_worker',
      watchId: null,
      profile: 'smoke',
      trigger: 'schedule',
      startedAt: 50,
    });
    await worker.finish('lr_worker', {
      endedAt: 51,
      exitCode: 0,
      result: 'pass',
      explanation: 'x',
      summary,
      comparison: null,
      fingerprint: 'fp1',
    });
    expect(await store.findPrevious('smoke', { fingerprint: 'fp1' })).toBeUndefined();
    await add('lr_api', 10, null, 'pass');
    expect((await store.findPrevious('smoke', { fingerprint: 'fp1' }))?.id).toBe('lr_api');
    expect((await worker.findPrevious('smoke', { fingerprint: 'fp1' }))?.id).toBe('lr_worker');
    expect((await worker.list()).map((r) => r.id)).toEqual(['lr_worker']);
  });

  it("prefers the last passed watch's run over a newer scheduled one", async () => {
    const { store, add } = await seed();
    await add('lr_watch', 10, 'w_passed', 'pass');
    await add('lr_sched', 20, null, 'pass');
    expect((await store.findPrevious('smoke', { fingerprint: 'fp1' }))?.id).toBe('lr_watch');
  });

  it('falls back to the latest passed run, never one of a failed watch, a failed run or another definition', async () => {
    const { store, add } = await seed();
    await add('lr_old', 10, null, 'pass');
    await add('lr_failed_watch', 20, 'w_failed', 'pass');
    await add('lr_failed_run', 30, null, 'fail');
    await add('lr_other_script', 40, null, 'pass', 'fp2');
    expect((await store.findPrevious('smoke', { fingerprint: 'fp1' }))?.id).toBe('lr_old');
    expect(await store.findPrevious('smoke', { fingerprint: 'fp1', excludeId: 'lr_old' })).toBeUndefined();
  });

  it('round-trips the summary and closes runs a stopped daemon left open', async () => {
    const { store, add } = await seed();
    await add('lr_done', 10, null, 'pass');
    await store.insert({ id: 'lr_open', watchId: null, profile: 'smoke', trigger: 'manual', startedAt: 50 });
    expect((await store.get('lr_done'))?.summary).toEqual(summary);
    expect(await store.closeInterrupted(99)).toBe(1);
    expect(await store.get('lr_open')).toMatchObject({
      endedAt: 99,
      result: 'inconclusive',
      explanation: 'the daemon stopped while this k6 run was in progress',
    });
    expect((await store.list({ profile: 'smoke' })).map((r) => r.id)).toEqual(['lr_open', 'lr_done']);
  });

  it('reads a run whose document an older build wrote, or that is damaged, as having no summary', async () => {
    const { db, store } = await seed();
    await db.loadRuns.insert({
      id: 'lr_odd',
      service: 'prep-api',
      watchId: null,
      profile: 'smoke',
      trigger: 'manual',
      startedAt: 5,
    });
    await db.loadRuns.finish('lr_odd', {
      endedAt: 6,
      exitCode: 0,
      result: 'pass',
      explanation: 'x',
      document: { summary: 'not an object', fingerprint: 42 },
    });
    expect(await store.get('lr_odd')).toMatchObject({ summary: null, comparison: null, fingerprint: null });
    expect(await store.findPrevious('smoke', { fingerprint: 'fp1' })).toBeUndefined();
  });
});
