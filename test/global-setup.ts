import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Tests that run the real `vigil` process need the compiled CLI: build it once (incrementally) before
 * the suite so `npm test` works on a fresh clone without a separate build step. Type errors are
 * reported by `npm run typecheck`; here tsc still emits, so a type error does not hide every test.
 */
export default function setup(): void {
  const root = fileURLToPath(new URL('..', import.meta.url));
  try {
    execFileSync(
      process.execPath,
      [
        'node_modules/typescript/bin/tsc',
        '-p',
        'tsconfig.build.json',
        '--incremental',
        '--tsBuildInfoFile',
        'dist/.tsbuildinfo',
      ],
      { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] },
    );
  } catch {
    process.stderr.write(
      'global-setup: tsc reported errors (see `npm run typecheck`); using what it emitted\n',
    );
  }
}
