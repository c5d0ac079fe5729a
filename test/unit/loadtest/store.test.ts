import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSummaryText } from '../../../src/loadtest/summary.js';
import { openDatabase } from '../../../src/store/db.js';
import { createLoadRunStore } from '../../../src/store/loadtests.js';

const parsed = parseSummaryText(
  readFileSync(join(import.meta.dirname, '../../fixtures/k6/handle-summary-pass.json'), 'utf8'),
);
if (!parsed.ok) throw new Error(parsed.error);
const summary = parsed.summary;

function seed() {
  const db = openDatabase(':memory:');
  const addWatch = (id: string, status: string) =>
    db
      .prepare(
        `INSERT INTO watches (id, service, version, status, verdict, phase, started_at, updated_at, duration_ms, phases_json)
         VALUES (?, 'prep-api', '1.0', ?, 'pending', 'bake', 0, 0, 1, '[]')`,
      )
      .run(id, status);
  addWatch('w_passed', 'passed');
  addWatch('w_failed', 'failed');
  const store = createLoadRunStore(db, 'prep-api');
  const add = (
    id: string,
    startedAt: number,
    watchId: string | null,
    result: 'pass' | 'fail',
    fingerprint = 'fp1',
  ) => {
    store.insert({ id, watchId, profile: 'smoke', trigger: watchId ? 'watch' : 'schedule', startedAt });
    store.finish(id, {
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

describe('loadtest_runs repository', () => {
  it("compares within a service: another service's run of a profile of the same name is never the baseline", () => {
    const { db, store, add } = seed();
    const worker = createLoadRunStore(db, 'prep-worker');
    worker.insert({ id: 'lr_worker', watchId: null, profile: 'smoke', trigger: 'schedule', startedAt: 50 });
    worker.finish('lr_worker', {
      endedAt: 51,
      exitCode: 0,
      result: 'pass',
      explanation: 'x',
      summary,
      comparison: null,
      fingerprint: 'fp1',
    });
    expect(store.findPrevious('smoke', { fingerprint: 'fp1' })).toBeUndefined();
    add('lr_api', 10, null, 'pass');
    expect(store.findPrevious('smoke', { fingerprint: 'fp1' })?.id).toBe('lr_api');
    expect(worker.findPrevious('smoke', { fingerprint: 'fp1' })?.id).toBe('lr_worker');
    expect(worker.list().map((r) => r.id)).toEqual(['lr_worker']);
  });

  it("prefers the last passed watch's run over a newer scheduled one", () => {
    const { store, add } = seed();
    add('lr_watch', 10, 'w_passed', 'pass');
    add('lr_sched', 20, null, 'pass');
    expect(store.findPrevious('smoke', { fingerprint: 'fp1' })?.id).toBe('lr_watch');
  });

  it('falls back to the latest passed run, never one of a failed watch, a failed run or another definition', () => {
    const { store, add } = seed();
    add('lr_old', 10, null, 'pass');
    add('lr_failed_watch', 20, 'w_failed', 'pass');
    add('lr_failed_run', 30, null, 'fail');
    add('lr_other_script', 40, null, 'pass', 'fp2');
    expect(store.findPrevious('smoke', { fingerprint: 'fp1' })?.id).toBe('lr_old');
    expect(store.findPrevious('smoke', { fingerprint: 'fp1', excludeId: 'lr_old' })).toBeUndefined();
  });

  it('round-trips the summary and closes runs a stopped daemon left open', () => {
    const { store, add } = seed();
    add('lr_done', 10, null, 'pass');
    store.insert({ id: 'lr_open', watchId: null, profile: 'smoke', trigger: 'manual', startedAt: 50 });
    expect(store.get('lr_done')?.summary).toEqual(summary);
    expect(store.closeInterrupted(99)).toBe(1);
    expect(store.get('lr_open')).toMatchObject({ endedAt: 99, result: 'inconclusive' });
    expect(store.list({ profile: 'smoke' }).map((r) => r.id)).toEqual(['lr_open', 'lr_done']);
  });
});
