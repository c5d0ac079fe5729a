import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { z } from 'zod';
import type { Clock } from '../../clock.js';
import type { ObservedSignature, PatternStore } from '../../patterns/store.js';
import { parseBody, parseParams, sendError } from '../problems.js';
import { auditedDecisionBody, requester, watchIdParams } from './watches.js';

/*
 * Log signature routes (DESIGN §3, issue 19): what a watch's patterns checks saw, and operators' feedback
 * on a signature for the service's later watches ("not a risk" joins its baseline; "always fail" fails
 * any watch that logs it). Every decision is a row of the store's feedback audit.
 */

const signatureParams = z.object({
  signature: z
    .string()
    .regex(/^p[0-9a-f]{12}$/, 'a signature id is "p" and 12 hex digits, as GET …/patterns lists them'),
});

/** What the pattern routes need. */
export interface PatternRouteDeps {
  /** The watches (WatchManager): only the service of one is read. */
  watches: { get(id: string): Promise<{ service: string } | undefined> };
  store: PatternStore;
  clock: Clock;
}

type Listed = Omit<ObservedSignature, 'check' | 'firstSeen' | 'lastSeen' | 'updatedAt'> & {
  firstSeen: string;
  lastSeen: string;
  updatedAt: string;
};

function listed(o: ObservedSignature): Listed {
  const { check: _check, firstSeen: _first, lastSeen: _last, updatedAt: _updated, ...rest } = o;
  return {
    ...rest,
    firstSeen: new Date(o.firstSeen).toISOString(),
    lastSeen: new Date(o.lastSeen).toISOString(),
    updatedAt: new Date(o.updatedAt).toISOString(),
  };
}

/**
 * `GET /watches/{id}/patterns` and `POST /patterns/{signature}/ignore|always-fail`, for the
 * authenticated `/api/v1` scope of buildApp.
 *
 * @example
 *   await buildApp({ ...deps, routes: [watchRoutes(manager), patternRoutes({ watches: manager, store, clock })] })
 *   // GET /api/v1/watches/w_1/patterns → { watch, checks: [{ name, new, changed, known, alwaysFail }], feedback }
 */
export function patternRoutes(deps: PatternRouteDeps): FastifyPluginAsync {
  return async (app) => {
    app.get('/watches/:id/patterns', async (request, reply) => {
      const { id } = parseParams(watchIdParams, request);
      const watch = await deps.watches.get(id);
      if (watch === undefined) return sendError(reply, 404, `no watch ${id}`);
      const byCheck = new Map<string, ObservedSignature[]>();
      for (const o of await deps.store.observations(id))
        byCheck.set(o.check, [...(byCheck.get(o.check) ?? []), o]);
      const of = (list: ObservedSignature[], status: ObservedSignature['status']) =>
        list.filter((o) => o.status === status).map(listed);
      return {
        watch: id,
        service: watch.service,
        checks: [...byCheck].map(([name, list]) => ({
          name,
          new: of(list, 'new'),
          changed: of(list, 'changed'),
          known: of(list, 'known'),
          alwaysFail: of(list, 'always-fail'),
        })),
        feedback: (await deps.store.feedback(watch.service)).map((f) => ({
          ...f,
          at: new Date(f.at).toISOString(),
        })),
      };
    });

    for (const [route, verdict] of [
      ['ignore', 'ignore'],
      ['always-fail', 'always-fail'],
    ] as const) {
      app.post(`/patterns/:signature/${route}`, async (request, reply: FastifyReply) => {
        const { signature } = parseParams(signatureParams, request);
        const { reason, who } = parseBody(auditedDecisionBody, request);
        const found = await deps.store.findSignature(signature);
        if (found === undefined) return sendError(reply, 404, `no watch has seen signature ${signature}`);
        const at = deps.clock.now();
        await deps.store.addFeedback({
          ...found,
          signature,
          verdict,
          reason,
          who: requester(request, who),
          at,
        });
        return {
          signature,
          verdict,
          ...found,
          history: (await deps.store.feedbackHistory(signature)).map((f) => ({
            verdict: f.verdict,
            reason: f.reason,
            who: f.who,
            at: new Date(f.at).toISOString(),
          })),
        };
      });
    }
  };
}
