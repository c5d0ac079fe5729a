import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { REPO_ROOT } from '../../helpers/cli.js';

/*
 * The README and docs/ link to each other's sections: a renamed heading or a moved file would leave a
 * newcomer on a dead link. GitHub's anchors: lower case, punctuation dropped, spaces to hyphens.
 */

const DOCS = ['README.md', 'docs/configuration.md', 'docs/performance.md'];

function anchors(markdown: string): Set<string> {
  const out = new Set<string>();
  let fence = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fence = !fence;
    const heading = fence ? null : /^#{1,6} (.+)$/.exec(line);
    if (heading)
      out.add(
        (heading[1] as string)
          .trim()
          .toLowerCase()
          .replace(/[^\w\s-]/g, '')
          .replace(/\s/g, '-'),
      );
  }
  return out;
}

describe('README.md and docs/ links', () => {
  test.each(DOCS)('every relative link and anchor of %s resolves', (file) => {
    const text = readFileSync(join(REPO_ROOT, file), 'utf8');
    const broken: string[] = [];
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target as string)) continue;
      const [path, anchor] = (target as string).split('#') as [string, string | undefined];
      const resolved = path === '' ? join(REPO_ROOT, file) : join(REPO_ROOT, dirname(file), path);
      if (!existsSync(resolved)) broken.push(`${target}: no file`);
      else if (anchor && resolved.endsWith('.md') && !anchors(readFileSync(resolved, 'utf8')).has(anchor))
        broken.push(`${target}: no heading`);
    }
    expect(broken).toEqual([]);
  });

  test('the README says nothing of a DESIGN file its readers do not have', () => {
    for (const file of DOCS)
      expect(readFileSync(join(REPO_ROOT, file), 'utf8'), file).not.toMatch(/DESIGN|§\d/);
  });
});
