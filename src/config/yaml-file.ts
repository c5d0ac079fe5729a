import { readFile } from 'node:fs/promises';
import { parseAllDocuments } from 'yaml';
import type { ProblemList } from './problems.js';

/*
 * Reading one YAML file into plain values. YAML 1.2 core schema (so `on`/`yes` stay strings and dates stay
 * strings), duplicate keys are errors, and the alias count is capped by the library (no alias bombs).
 */

const LOCATION = / at line (\d+), column (\d+):[\s\S]*$/;

/**
 * Reads `absolutePath` and returns its YAML documents as plain values, or undefined after recording why not
 * (unreadable file, syntax errors with line:column, or no content at all) under `display`.
 *
 * @example const docs = await readYamlDocuments('/etc/vigil/vigil.yaml', 'vigil.yaml', problems);
 */
export async function readYamlDocuments(
  absolutePath: string,
  display: string,
  problems: ProblemList,
): Promise<unknown[] | undefined> {
  let text: string;
  try {
    text = await readFile(absolutePath, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a folder, not a file' : code;
    // A relative name resolves against the working directory: say where it looked, for CI logs.
    const where = code === 'ENOENT' && display !== absolutePath ? ` (${absolutePath})` : '';
    problems.add(display, [], `cannot read: ${reason ?? (error as Error).message}${where}`);
    return undefined;
  }
  const documents = parseAllDocuments(text, { prettyErrors: true, uniqueKeys: true });
  const list = Array.isArray(documents) ? documents : [documents];
  let failed = false;
  for (const document of list) {
    for (const error of document.errors) {
      failed = true;
      const match = LOCATION.exec(error.message);
      const where = match ? ` at ${match[1]}:${match[2]}` : '';
      problems.add(display, [], `invalid YAML${where}: ${error.message.replace(LOCATION, '')}`);
    }
  }
  if (failed) return undefined;
  const values: unknown[] = [];
  for (const document of list) {
    if (document.contents === null) continue;
    try {
      values.push(document.toJS());
    } catch (error) {
      // Unresolved aliases and alias bombs only surface when the document is turned into values.
      problems.add(display, [], `invalid YAML: ${(error as Error).message}`);
      return undefined;
    }
  }
  if (values.length === 0) {
    problems.add(display, [], 'file is empty');
    return undefined;
  }
  return values;
}
