import { readFileSync } from 'node:fs';

/** Vigil's version, read once from package.json (works from src/ under vitest and from dist/src/). */
function readVersion(): string {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'vigil' && pkg.version) return pkg.version;
    } catch {
      // not at this level; try the next one
    }
  }
  return '0.0.0';
}

export const VERSION = readVersion();
