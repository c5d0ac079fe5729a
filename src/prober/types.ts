import type { ProbeConfig } from '../config/schema.js';

/** Why a probe failed (DESIGN §2). */
export type FailureClass = 'dns' | 'connect' | 'tls' | 'timeout' | 'http' | 'assertion' | 'extract';

/** Classes a retry may cure: the network or the server's transport, never what the service answered. */
export const NETWORK_FAILURE_CLASSES: ReadonlySet<FailureClass> = new Set([
  'dns',
  'connect',
  'tls',
  'timeout',
  'http',
]);

/** Why a probe failed, with a message that names the actual value beside the expected one. */
export interface ProbeFailure {
  class: FailureClass;
  message: string;
}

/** An attempt that failed with a network-class failure and was retried within the same run. */
export interface RetriedAttempt {
  failure: ProbeFailure;
  durationMs: number;
}

/** Timings of one HTTP exchange, in milliseconds; 0 for a phase that did not happen (e.g. tls on http). */
export interface PhaseTimings {
  dnsMs: number;
  connectMs: number;
  tlsMs: number;
  ttfbMs: number;
  transferMs: number;
}

export interface AssertionOutcome {
  description: string;
  passed: boolean;
  actual: unknown;
}

/** TLS facts of an https exchange. */
export interface TlsInfo {
  protocol: string;
  /** Leaf certificate expiry, ms since epoch. */
  leafExpiresAt: number;
  /** Earliest expiry in the presented chain, ms since epoch. */
  chainExpiresAt: number;
  issuer: string;
  subjectAltNames: string[];
}

/** One probe run, as `vigil probe --json` prints it (DESIGN §2). Steps of a journey use the same shape. */
export interface ProbeResult {
  probe: string;
  kind: ProbeConfig['kind'];
  success: boolean;
  /** ISO 8601. */
  startedAt: string;
  durationMs: number;
  phases: PhaseTimings;
  failure: ProbeFailure | null;
  assertions: AssertionOutcome[];
  steps: ProbeResult[];
  status?: number;
  tls?: TlsInfo;
  /** Attempts made when in-run retries are on (1 when none). */
  attempts?: number;
  /** The failed attempts before the reported one, oldest first (absent when none were retried). */
  retried?: RetriedAttempt[];
  /** A teardown step not run, and why (the variables it needs were never extracted). */
  skipped?: string;
  /** Set when the response body passed maxBodyBytes and only its start was read. */
  bodyTruncated?: boolean;
  /** Set when the daemon itself was late or its event loop busy, so a slow result may be ours. */
  late?: { scheduleLagMs: number; eventLoopDelayMs: number };
}
