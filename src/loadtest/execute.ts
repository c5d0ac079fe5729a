import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import type { LoadProfileConfig } from '../config/schema.js';
import { errorMessage } from '../errors.js';
import { findExecutable } from '../executable.js';
import { freePort } from '../net.js';
import type { Logger } from '../telemetry/logger.js';
import type { K6Ending } from './exit-codes.js';
import { buildInvocation, deadlineFor, profileFingerprint, summaryPaths } from './invocation.js';
import { checkK6, type K6ProcessResult, runK6Process } from './k6-process.js';
import { pollK6Progress, showProgress } from './progress.js';
import type { LoadRunnerDeps, RunOptions } from './runner.js';
import { type LoadSummary, parseSummaryText } from './summary.js';

/*
 * One k6 run from script to summary: read the script (for the fingerprint), find k6, spawn it in a
 * fresh temp dir with progress polling on its REST port, read the summary, remove the temp dir.
 * Judging and recording are the runner's.
 */

/** What executing a run gathered, for judging. */
export interface RunOutcome {
  ending: K6Ending;
  process?: K6ProcessResult | undefined;
  fingerprint?: string;
  summary?: LoadSummary | null;
  summaryError?: string | null;
  /** What `k6 version` said before the run, when it answered. */
  k6Version?: string | null;
}

/**
 * Executes a profile once (the caller holds the queue's turn). Never rejects for k6's sake: every
 * way k6 can end is in the returned `ending`.
 *
 * @example const outcome = await executeProfile(deps, log, { profileName: 'smoke', profile, runId, options: {} });
 */
export async function executeProfile(
  deps: LoadRunnerDeps,
  log: Logger,
  {
    profileName,
    profile,
    runId,
    options,
  }: { profileName: string; profile: LoadProfileConfig; runId: string; options: RunOptions },
): Promise<RunOutcome> {
  const scriptPath = isAbsolute(profile.script) ? profile.script : resolve(deps.cwd, profile.script);
  let scriptText: string;
  try {
    scriptText = await readFile(scriptPath, 'utf8');
  } catch (error) {
    return {
      ending: { kind: 'spawn-failed', error: `cannot read ${profile.script}: ${errorMessage(error)}` },
    };
  }
  const fingerprint = profileFingerprint(profile, scriptText);
  const k6 = await findExecutable(deps.k6Path, deps.searchPath, deps.cwd);
  if (!k6) return { ending: { kind: 'not-found' }, fingerprint };
  // The load check names the k6 that judged: the same script means different things on v0.49 and v2.
  const health = await checkK6(k6, {
    env: deps.baseEnv ?? {},
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const k6Version = health.status === 'ok' ? (health.version ?? null) : null;
  if (health.warning) log.warn({ profile: profileName, runId, path: k6 }, health.warning);

  const workDir = await mkdtemp(join(deps.tmpDir ?? tmpdir(), 'vigil-k6-'));
  try {
    let k6Result: K6ProcessResult | undefined;
    // k6 exits 106 when its REST port was taken between our probe and its bind: one retry.
    for (let attempt = 0; attempt < 2; attempt++) {
      const apiPort = await freePort();
      const invocation = buildInvocation({
        profile,
        scriptPath,
        targetBaseUrl: deps.targetBaseUrl,
        workDir,
        apiPort,
        baseEnv: deps.baseEnv ?? {},
      });
      if (invocation.ignoredEnv.length > 0)
        log.warn({ profile: profileName, keys: invocation.ignoredEnv }, 'profile env cannot override these');
      const startedAt = deps.clock.now();
      const polling = new AbortController();
      let poller: Promise<unknown> = Promise.resolve();
      k6Result = await runK6Process({
        path: k6,
        args: invocation.args,
        cwd: workDir,
        env: invocation.env,
        clock: deps.clock,
        deadlineMs: deadlineFor(profile),
        gracePeriodMs: deps.gracePeriodMs,
        ...(options.signal ? { signal: options.signal } : {}),
        onSpawn: (pid) => {
          log.info({ profile: profileName, runId, pid }, 'k6 started');
          poller = pollK6Progress({
            apiBaseUrl: `http://127.0.0.1:${apiPort}`,
            profile: profileName,
            clock: deps.clock,
            startedAtMs: startedAt,
            intervalMs: deps.progressIntervalMs ?? 5_000,
            signal: polling.signal,
            onProgress: (progress) => {
              showProgress(deps.metrics, profileName, progress);
              options.onProgress?.(progress);
            },
          });
        },
      });
      polling.abort();
      await poller;
      showProgress(deps.metrics, profileName, null);
      if (!(k6Result.ending.kind === 'exited' && k6Result.ending.code === 106)) break;
      log.warn({ profile: profileName, runId }, 'k6 could not bind its REST API port; retrying once');
    }
    const summary = await readSummary(workDir);
    return { ending: k6Result?.ending as K6Ending, process: k6Result, fingerprint, k6Version, ...summary };
  } finally {
    await rm(workDir, { recursive: true, force: true }).catch(() => {});
  }
}

/**
 * Reads the run's summary: the handleSummary file our scripts write (richer: run duration, metric
 * types) first, then `--summary-export`, which k6 writes for any script.
 */
async function readSummary(
  workDir: string,
): Promise<{ summary: LoadSummary | null; summaryError: string | null }> {
  const { handleSummaryPath, exportPath } = summaryPaths(workDir);
  const errors: string[] = [];
  for (const path of [handleSummaryPath, exportPath]) {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch {
      continue;
    }
    const parsed = parseSummaryText(text);
    if (parsed.ok) return { summary: parsed.summary, summaryError: null };
    errors.push(parsed.error);
  }
  return { summary: null, summaryError: errors.length > 0 ? errors.join('; ') : 'k6 wrote no summary' };
}
