import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from 'undici';
import type { VerdictObject } from '../../../src/actions/types.js';
import type { ActionsConfig } from '../../../src/actions/webhook.js';
import { actionsSchema } from '../../../src/config/schema.js';

export const SECRET = 'test-secret-0123456789';

/** A failed verdict as the watch engine would pass it (DESIGN §6). */
export function failedVerdict(id = 'w_01JDTEST'): VerdictObject {
  return {
    id,
    service: 'prep-api',
    version: '1.4.2',
    previousVersion: '1.4.1',
    status: 'failed',
    phase: 'bake',
    verdict: 'fail',
    startedAt: '2026-11-27T10:00:00.000Z',
    updatedAt: '2026-11-27T10:15:00.000Z',
    reasons: ['error-rate 0.034 ≥ objective 0.01 for 3 consecutive evaluations'],
    checks: [
      {
        name: 'error-rate',
        kind: 'slo',
        result: 'fail',
        value: 0.034,
        objective: { lt: 0.01 },
        baseline: null,
        samples: 5,
        query: 'sum(rate(http_requests_total{code=~"5.."}[5m]))',
        explanation: '0.034 is not < 0.01',
        consecutiveFailures: 3,
        evaluatedAt: '2026-11-27T10:15:00.000Z',
      },
    ],
  };
}

/** Parses an `actions` section the way config loading does. */
export function actionsConfig(input: unknown): ActionsConfig {
  return actionsSchema.parse(input);
}

/** A temp folder for a store file, removed by the returned cleanup. */
export function tempStorePath(): { path: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-actions-'));
  return { path: join(dir, 'vigil.db'), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A dispatcher without keep-alive, so closed receivers never leave pooled sockets behind. */
export function testDispatcher(): Agent {
  return new Agent({ pipelining: 0, keepAliveTimeout: 1 });
}
