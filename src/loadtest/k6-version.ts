/*
 * Which k6 versions Vigil supports. The oldest is v0.49.0: every recording the runner is tested
 * against (exit codes, both summary shapes, the REST API) comes from it, and the shipped scripts are
 * held to ES2017 so that it, and every k6 before v0.52, can parse them. The image ships a current
 * release (Dockerfile); k6 v1 and v2 keep the flags, exit codes and legacy summary shape Vigil reads.
 */

/** The oldest k6 Vigil supports. */
export const K6_MIN_VERSION = 'v0.49.0';

/** A k6 version as numbers, e.g. `{ major: 0, minor: 49, patch: 0 }`. */
export interface K6Version {
  major: number;
  minor: number;
  patch: number;
}

/**
 * Reads the version out of `k6 version` output or a bare `v0.49.0`.
 *
 * @example parseK6Version('k6 v0.49.0 (go1.19.8, linux/amd64)') // { major: 0, minor: 49, patch: 0 }
 */
export function parseK6Version(text: string): K6Version | null {
  const match = /\bv?(\d+)\.(\d+)\.(\d+)/.exec(text);
  if (!match) return null;
  return { major: Number(match[1]), minor: Number(match[2]), patch: Number(match[3]) };
}

function compare(a: K6Version, b: K6Version): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch;
}

/**
 * Why a k6 version is a problem, or null when it is supported. A version that cannot be read is not
 * judged (custom builds print other things).
 *
 * @example k6VersionWarning('v0.45.1') // 'k6 v0.45.1 is older than v0.49.0, the oldest k6 Vigil supports: …'
 */
export function k6VersionWarning(version: string): string | null {
  const found = parseK6Version(version);
  const minimum = parseK6Version(K6_MIN_VERSION) as K6Version;
  if (!found || compare(found, minimum) >= 0) return null;
  return (
    `k6 ${version} is older than ${K6_MIN_VERSION}, the oldest k6 Vigil supports: ` +
    'load profiles may fail or be misjudged; install a current k6 (see the Dockerfile)'
  );
}
