import { readdir, readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Options, parse } from 'acorn';
import { errorMessage } from '../errors.js';

/*
 * The syntax every supported k6 can parse. k6 before v0.52 compiles scripts with an old Babel that
 * accepts ES2017 plus ES modules and nothing newer: object spread, optional catch binding, `?.`, `??`,
 * numeric separators and class fields each stop it at init with exit 107 (recorded in
 * shared/fixtures/k6/syntax-support.md). acorn held to the same level reports the same line and column
 * as k6's Babel does for every recorded construct, so a script that passes here parses on every k6.
 */

/** Parser options matching what k6 before v0.52 accepts. */
export const K6_PARSE_OPTIONS = {
  ecmaVersion: 2017,
  sourceType: 'module',
  locations: true,
  // k6's Babel rejects `#!`; acorn would allow it only from ES2023 anyway.
  allowHashBang: false,
} as const satisfies Options;

/** What every problem line says, after its position (vigil validate, CI). */
export const SYNTAX_PROBLEM = 'syntax k6 <0.52 cannot parse';

/** One place a k6 script (or a file it imports) cannot be loaded by every supported k6. */
export interface SyntaxProblem {
  /** Absolute path of the file with the problem. */
  file: string;
  /** 1-based line. */
  line: number;
  /** 1-based column (k6's own message counts columns from 0). */
  column: number;
  /** What is wrong, e.g. `optional chaining "?." (ES2020)` or `cannot read ./lib/x.js: ENOENT`. */
  message: string;
}

/** Where an ES2017 parse stopped, in a single source text. */
export interface SourceSyntaxError {
  line: number;
  column: number;
  /** The construct newer than ES2017 found there, or the parser's own message for plain syntax errors. */
  message: string;
}

interface AstNode {
  type: string;
  start: number;
  end: number;
  [key: string]: unknown;
}

interface AcornSyntaxError extends SyntaxError {
  pos: number;
  loc: { line: number; column: number };
}

function isAcornError(error: unknown): error is AcornSyntaxError {
  return error instanceof SyntaxError && typeof (error as Partial<AcornSyntaxError>).pos === 'number';
}

function isNode(value: unknown): value is AstNode {
  return (
    typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string'
  );
}

/** Every node of a tree, parents before children. */
function* walk(node: AstNode): Generator<AstNode> {
  yield node;
  for (const [key, value] of Object.entries(node)) {
    if (key === 'loc') continue;
    if (Array.isArray(value)) {
      for (const item of value) if (isNode(item)) yield* walk(item);
    } else if (isNode(value)) {
      yield* walk(value);
    }
  }
}

/** The name of the post-ES2017 construct a node is, when it is one. */
function newerConstruct(node: AstNode): string | undefined {
  switch (node.type) {
    case 'ChainExpression':
      return 'optional chaining "?." (ES2020)';
    case 'LogicalExpression':
      return node.operator === '??' ? 'nullish coalescing "??" (ES2020)' : undefined;
    case 'AssignmentExpression':
      return ['&&=', '||=', '??='].includes(node.operator as string)
        ? `logical assignment "${node.operator as string}" (ES2021)`
        : undefined;
    case 'Literal': {
      if (typeof node.bigint === 'string') return 'BigInt literal (ES2020)';
      const regex = node.regex as { pattern: string; flags: string } | undefined;
      if (regex) {
        const flag = /[sdv]/.exec(regex.flags)?.[0];
        if (flag) return `regular expression flag "${flag}" (ES2018+)`;
        return /\(\?<|\\[pPk]/.test(regex.pattern)
          ? 'regular expression group name, lookbehind or property escape (ES2018)'
          : undefined;
      }
      if (typeof node.value === 'number' && typeof node.raw === 'string' && node.raw.includes('_'))
        return 'numeric separator "_" (ES2021)';
      return undefined;
    }
    case 'ObjectExpression':
      return (node.properties as AstNode[]).some((p) => p.type === 'SpreadElement')
        ? 'object spread "{ ...x }" (ES2018)'
        : undefined;
    case 'ObjectPattern':
      return (node.properties as AstNode[]).some((p) => p.type === 'RestElement')
        ? 'object rest "{ ...x }" (ES2018)'
        : undefined;
    case 'CatchClause':
      return node.param === null ? 'optional catch binding "catch {" (ES2019)' : undefined;
    case 'PropertyDefinition':
      return 'class field (ES2022)';
    case 'PrivateIdentifier':
      return 'private class member "#" (ES2022)';
    case 'StaticBlock':
      return 'class static block (ES2022)';
    case 'ImportExpression':
      return 'dynamic import() (ES2020)';
    case 'MetaProperty':
      return (node.meta as AstNode).name === 'import' ? 'import.meta (ES2020)' : undefined;
    case 'ForOfStatement':
      return node.await === true ? 'for await (ES2018)' : undefined;
    case 'FunctionDeclaration':
    case 'FunctionExpression':
      return node.async === true && node.generator === true ? 'async generator (ES2018)' : undefined;
    case 'ExportAllDeclaration':
      return node.exported ? 'export * as name (ES2020)' : undefined;
    default:
      return undefined;
  }
}

/** Names the newer construct at `pos`: the innermost one around it, else the nearest one. */
function constructAt(program: AstNode, pos: number): string | undefined {
  let best: { node: AstNode; name: string; score: number } | undefined;
  for (const node of walk(program)) {
    const name = newerConstruct(node);
    if (!name) continue;
    const contains = node.start <= pos && pos <= node.end;
    // Containing nodes rank by span (innermost first), all ahead of merely nearby ones.
    const score = contains ? node.end - node.start : 1e12 + Math.abs(node.start - pos);
    if (!best || score < best.score) best = { node, name, score };
  }
  return best?.name;
}

function parseLatest(source: string): AstNode | undefined {
  try {
    return parse(source, { ecmaVersion: 'latest', sourceType: 'module' }) as unknown as AstNode;
  } catch {
    return undefined;
  }
}

/** The result of checking one source text: its tree (when any parser could read it) and its error. */
interface SourceCheck {
  program: AstNode | undefined;
  error: SourceSyntaxError | null;
}

function checkSourceText(source: string): SourceCheck {
  try {
    return { program: parse(source, K6_PARSE_OPTIONS) as unknown as AstNode, error: null };
  } catch (error) {
    if (!isAcornError(error)) throw error;
    const latest = parseLatest(source);
    const message = latest
      ? (constructAt(latest, error.pos) ?? 'syntax newer than ES2017')
      : `syntax error, no k6 can parse it: ${error.message.replace(/\s*\(\d+:\d+\)$/, '')}`;
    return {
      program: latest,
      error: { line: error.loc.line, column: error.loc.column + 1, message },
    };
  }
}

/**
 * Parses one source text as k6 before v0.52 would; null when it can, else where and why not.
 *
 * @example checkK6Source('const a = b?.c;') // { line: 1, column: 12, message: 'optional chaining "?." (ES2020)' }
 */
export function checkK6Source(source: string): SourceSyntaxError | null {
  return checkSourceText(source).error;
}

/** Module specifiers k6 resolves to local files: relative, absolute and `file://` (not `k6/…`, not https). */
function localImport(specifier: string, importer: string): string | undefined {
  if (specifier.startsWith('file://')) return fileURLToPath(specifier);
  if (specifier.startsWith('./') || specifier.startsWith('../')) return resolve(dirname(importer), specifier);
  if (isAbsolute(specifier)) return specifier;
  return undefined;
}

/** Static imports and re-exports of a module, with the position of their specifier. */
function importsOf(program: AstNode): { specifier: string; start: number }[] {
  const found: { specifier: string; start: number }[] = [];
  for (const statement of (program.body as AstNode[] | undefined) ?? []) {
    if (!['ImportDeclaration', 'ExportNamedDeclaration', 'ExportAllDeclaration'].includes(statement.type))
      continue;
    const source = statement.source;
    if (isNode(source) && typeof source.value === 'string')
      found.push({ specifier: source.value, start: source.start });
  }
  return found;
}

function lineColumn(source: string, offset: number): { line: number; column: number } {
  const before = source.slice(0, offset).split('\n');
  return { line: before.length, column: (before.at(-1)?.length ?? 0) + 1 };
}

/** `ENOENT`, `EACCES`…: the path is already in the problem. */
function readError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : errorMessage(error);
}

export type ReadText = (path: string) => Promise<string>;

const readText: ReadText = (path) => readFile(path, 'utf8');

/**
 * Checks k6 scripts and every local file they import (relative imports followed, each file once),
 * as k6 before v0.52 would parse them. Returns every problem found, in the order met.
 *
 * @example
 *   const problems = await checkK6Scripts(['/srv/vigil/loadtests/smoke.js']);
 *   for (const p of problems) console.error(formatSyntaxProblem(p));
 */
export async function checkK6Scripts(entries: readonly string[], read = readText): Promise<SyntaxProblem[]> {
  const problems: SyntaxProblem[] = [];
  const seen = new Set<string>();
  const queue = entries.map((file) => ({
    file: resolve(file),
    importedFrom: undefined as SyntaxProblem | undefined,
  }));
  while (queue.length > 0) {
    const { file, importedFrom } = queue.shift() as (typeof queue)[number];
    if (seen.has(file)) continue;
    seen.add(file);
    let source: string;
    try {
      source = await read(file);
    } catch (error) {
      problems.push(
        importedFrom
          ? { ...importedFrom, message: `cannot read ${importedFrom.message}: ${readError(error)}` }
          : { file, line: 1, column: 1, message: `cannot read the script: ${readError(error)}` },
      );
      continue;
    }
    const { program, error } = checkSourceText(source);
    if (error)
      problems.push({
        file,
        line: error.line,
        column: error.column,
        message: `${SYNTAX_PROBLEM}: ${error.message}`,
      });
    if (!program) continue;
    for (const { specifier, start } of importsOf(program)) {
      const target = localImport(specifier, file);
      // What a missing import becomes: a problem at the import, naming the specifier as written.
      if (target)
        queue.push({
          file: target,
          importedFrom: { file, ...lineColumn(source, start), message: specifier },
        });
    }
  }
  return problems;
}

/** Every `.js`/`.mjs` file under a folder, sorted, skipping node_modules. */
export async function listScripts(dir: string): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules') files.push(...(await listScripts(path)));
    } else if (/\.m?js$/.test(entry.name)) {
      files.push(path);
    }
  }
  return files.sort();
}

/**
 * One problem as `<file>:<line>:<col>: <message>`; `displayPath` shortens the absolute path.
 *
 * @example formatSyntaxProblem(problem, (f) => relative(process.cwd(), f)) // 'loadtests/lib/summary.js:24:40: syntax k6 <0.52 cannot parse: optional chaining "?." (ES2020)'
 */
export function formatSyntaxProblem(
  problem: SyntaxProblem,
  displayPath: (file: string) => string = (f) => f,
): string {
  return `${displayPath(problem.file)}:${problem.line}:${problem.column}: ${problem.message}`;
}
