import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, isAbsolute, join, resolve } from 'node:path';

/**
 * Finds an executable the way a shell would: a command with a path separator is used as given
 * (relative to `cwd`); a bare name is searched in `searchPath` (a PATH string). Undefined when nothing
 * executable is there. Used for k6 (`VIGIL_K6_PATH`), its /health check, and the demo's Prometheus.
 *
 * @example await findExecutable('k6', process.env.PATH ?? '', process.cwd()) // '/usr/local/bin/k6' | undefined
 */
export async function findExecutable(
  command: string,
  searchPath: string,
  cwd: string,
): Promise<string | undefined> {
  const candidates = command.includes('/')
    ? [isAbsolute(command) ? command : resolve(cwd, command)]
    : searchPath
        .split(delimiter)
        .filter((dir) => dir !== '')
        .map((dir) => join(dir, command));
  for (const candidate of candidates) {
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here or not executable: try the next folder
    }
  }
  return undefined;
}
