import type { BaselineConfig } from '../config/schema.js';
import { formatDuration } from '../config/units.js';
import type { BaselineLookup, SnapshotReader } from './types.js';

/*
 * Where a baseline comes from (DESIGN §5). `pre-deploy` and `offset` are the same query over another
 * window (ending at the deploy, or shifted back by the offset); `previous-watch` and `pinned` are values
 * stored by earlier watches at the same elapsed time since their deploy.
 */

export type BaselinePlan =
  | { kind: 'window'; end: number; label: string }
  | { kind: 'stored'; label: string; lookup: () => Promise<BaselineLookup> }
  | { kind: 'unavailable'; label: string; reason: string };

export interface BaselineContext {
  at: number;
  deployedAt: number;
  service: string;
  slo: string;
  watchId?: string;
  snapshots?: SnapshotReader;
}

/**
 * Decides where the baseline of one check comes from at this evaluation.
 *
 * @example planBaseline({ from: 'offset', offset: 604_800_000, … }, ctx) // { kind: 'window', end: at − 7d, label: 'offset 7d' }
 */
export function planBaseline(baseline: BaselineConfig, ctx: BaselineContext): BaselinePlan {
  switch (baseline.from) {
    case 'pre-deploy':
      return { kind: 'window', end: ctx.deployedAt, label: 'pre-deploy' };
    case 'offset': {
      const offset = baseline.offset ?? 0;
      return { kind: 'window', end: ctx.at - offset, label: `offset ${formatDuration(offset)}` };
    }
    case 'previous-watch': {
      const label =
        baseline.count === 1
          ? 'previous watch'
          : `${baseline.aggregate} of ${baseline.count} previous watches`;
      const snapshots = ctx.snapshots;
      if (snapshots === undefined) {
        return {
          kind: 'unavailable',
          label,
          reason: 'previous-watch baselines need the snapshot store of the daemon',
        };
      }
      const query = {
        service: ctx.service,
        slo: ctx.slo,
        elapsedMs: ctx.at - ctx.deployedAt,
        count: baseline.count,
        aggregate: baseline.aggregate,
        ...(ctx.watchId === undefined ? {} : { excludeWatchId: ctx.watchId }),
      };
      return { kind: 'stored', label, lookup: () => snapshots.previousWatches(query) };
    }
    case 'pinned': {
      const label =
        baseline.watch !== undefined
          ? `pinned watch ${baseline.watch}`
          : `pinned version ${baseline.version}`;
      const snapshots = ctx.snapshots;
      if (snapshots === undefined) {
        return {
          kind: 'unavailable',
          label,
          reason: 'pinned baselines need the snapshot store of the daemon',
        };
      }
      const query = {
        service: ctx.service,
        slo: ctx.slo,
        elapsedMs: ctx.at - ctx.deployedAt,
        ...(baseline.watch === undefined ? {} : { watchId: baseline.watch }),
        ...(baseline.version === undefined ? {} : { version: baseline.version }),
      };
      return { kind: 'stored', label, lookup: () => snapshots.pinned(query) };
    }
  }
}
