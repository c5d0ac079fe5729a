import { readFile } from 'node:fs/promises';
import { type Document, parseAllDocuments } from 'yaml';
import type { ProblemList } from './problems.js';

/*
 * Reading one YAML file into plain values. YAML 1.2 core schema (so `on`/`yes` stay strings and dates stay
 * strings), duplicate keys are errors, and the alias count is capped by the library (no alias bombs).
 *
 * A file whose root is a list at column 0 (every probe and SLO file) is read a few items at a time: the
 * library builds a token tree and a Document with source ranges for the whole text before any value, about
 * 100 bytes of heap per byte of YAML (190 MB for a 10,000-probe file of 1.9 MB, that V8 then keeps
 * reserved). Parsed in ~4 KB slices cut before a `- ` at column 0, each slice's tree is garbage before the
 * next is built. The slices give the same values as the whole text when each parses without error; any
 * error (and an alias to an anchor in another slice is one) sends the file to the whole-text parse, so
 * every message and its line:column are the library's for the whole file.
 */

const LOCATION = / at line (\d+), column (\d+):[\s\S]*$/;
const OPTIONS = { prettyErrors: true, uniqueKeys: true } as const;
/**
 * Slice size: 4 KB (about 20 probes) keeps each slice's tree inside the young generation, so it dies in a
 * scavenge; from 16 KB the trees survive into old space and the peak comes back (measured: +1 MB vs +50 MB).
 */
const SLICE_CHARS = 4096;
/** Only blank and comment lines, then `- ` at column 0: the root is a block sequence. */
const LIST_ROOT = /^(?:[ \t]*(?:#[^\n]*)?\r?\n)*-(?: |\r?\n|$)/;
/** Where an item of that root list starts: `- ` or a lone `-` at column 0. */
const LIST_ITEM = /^-(?: |\r?$)/gm;
/** Document markers and directives make a stream of several documents: read whole. */
const DOCUMENT_SYNTAX = /^(?:---|\.\.\.|%)/m;

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
  const list = parseListInSlices(text);
  return list === undefined ? parseWhole(text, display, problems) : [list];
}

/**
 * The items of a root list, parsed slice by slice; undefined when the text is not one root list longer
 * than a slice, or when any slice has an error (the whole-text parse then says what and where).
 *
 * @example parseListInSlices('- a\n- b\n') // undefined: shorter than one slice, parsed whole
 */
export function parseListInSlices(text: string): unknown[] | undefined {
  if (text.length <= SLICE_CHARS || !LIST_ROOT.test(text) || DOCUMENT_SYNTAX.test(text)) return undefined;
  const items: unknown[] = [];
  let start = 0;
  const sliceItems = (end: number): boolean => {
    const documents = parseAllDocuments(text.slice(start, end), OPTIONS);
    start = end;
    const document = documents.length === 1 ? (documents[0] as Document) : undefined;
    if (document === undefined || document.errors.length > 0) return false;
    let value: unknown;
    try {
      value = document.toJS();
    } catch {
      return false;
    }
    if (!Array.isArray(value)) return false;
    for (const item of value) items.push(item);
    return true;
  };
  const itemStart = new RegExp(LIST_ITEM);
  for (let match = itemStart.exec(text); match !== null; match = itemStart.exec(text)) {
    if (match.index - start >= SLICE_CHARS && !sliceItems(match.index)) return undefined;
    // A lone `-` matches no character: step past it, or exec finds it again.
    if (match[0].length === 0) itemStart.lastIndex++;
  }
  return sliceItems(text.length) ? items : undefined;
}

/** Parses the whole text at once, recording every syntax error with its line:column. */
function parseWhole(text: string, display: string, problems: ProblemList): unknown[] | undefined {
  const documents = parseAllDocuments(text, OPTIONS);
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
