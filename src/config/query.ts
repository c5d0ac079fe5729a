import { parser as logqlParser } from '@grafana/lezer-logql';
import type { SyntaxNode } from '@lezer/common';
import type { LRParser } from '@lezer/lr';
import { parser as promqlParser } from '@prometheus-io/lezer-promql';
import { VigilError } from '../errors.js';
import { formatDuration } from './units.js';

/*
 * SLI query templates (DESIGN §4): `{{window}}`, `{{service}}`, `{{version}}`, `{{previousVersion}}`.
 * A `{{name}}` with any other identifier is a load error, never an empty string. In LogQL, `{{.field}}` and
 * `{{ __line__ }}` belong to Loki's own line_format/label_format templates and are left alone.
 */

export const QUERY_VARIABLES = ['window', 'service', 'version', 'previousVersion'] as const;
export type QueryVariable = (typeof QUERY_VARIABLES)[number];
export type QueryLanguage = 'prometheus' | 'loki';

/** Values for a query template. `windowMs` renders as a duration (`300000` → `5m`). */
export interface QueryVars {
  windowMs: number;
  service: string;
  version?: string;
  previousVersion?: string;
}

const TEMPLATE = /\{\{(.*?)\}\}/g;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const LOKI_BUILTINS: ReadonlySet<string> = new Set(['__line__', '__timestamp__']);
const KNOWN: ReadonlySet<string> = new Set(QUERY_VARIABLES);

type Reference =
  | { kind: 'known'; name: QueryVariable }
  | { kind: 'foreign' }
  | { kind: 'unknown'; text: string };

function classify(inner: string, language: QueryLanguage): Reference {
  const name = inner.trim();
  if (KNOWN.has(name)) return { kind: 'known', name: name as QueryVariable };
  if (language === 'loki' && (!IDENTIFIER.test(name) || LOKI_BUILTINS.has(name))) return { kind: 'foreign' };
  return { kind: 'unknown', text: `{{${inner}}}` };
}

/**
 * Values go inside double-quoted PromQL/LogQL strings (`job="{{service}}"`); escaping backslash and double
 * quote keeps a value from ending the string. Only those two: both lexers reject an escaped single quote
 * inside a double-quoted string.
 */
function escapeValue(value: string): string {
  return value.replace(/[\\"]/g, (c) => `\\${c}`);
}

/** RE2 metacharacters (Prometheus and Loki matchers are RE2, fully anchored). */
const REGEX_META = /[\\.+*?()|[\]{}^$]/g;

function escapeRegex(value: string): string {
  return value.replace(REGEX_META, (c) => `\\${c}`);
}

/** How a value at some offset of a template is read: plain text, inside a string, or inside a regex string. */
type ValueContext = 'plain' | 'string' | 'regex' | 'raw-regex';

/**
 * The context of each offset where a template opens a `{{`: a small lexer over the template that tracks
 * quoted strings (`"…"`, `'…'`, and raw `` `…` ``) and whether the operator before the string is a regex
 * match (`=~`, `!~`, or LogQL's `|~`). Lexing the template, not parsing it, keeps this working for
 * templates that only parse once rendered.
 */
function valueContexts(template: string): Map<number, ValueContext> {
  const contexts = new Map<number, ValueContext>();
  let quote: string | undefined;
  let regex = false;
  for (let i = 0; i < template.length; i++) {
    const c = template[i] as string;
    if (quote === undefined) {
      if (c === '"' || c === "'" || c === '`') {
        quote = c;
        regex = /[=!|]~\s*$/.test(template.slice(Math.max(0, i - 16), i));
      } else if (template.startsWith('{{', i)) contexts.set(i, 'plain');
      continue;
    }
    if (c === '\\' && quote !== '`') {
      i++;
      continue;
    }
    if (c === quote) {
      quote = undefined;
      continue;
    }
    if (template.startsWith('{{', i)) {
      contexts.set(i, regex ? (quote === '`' ? 'raw-regex' : 'regex') : 'string');
    }
  }
  return contexts;
}

/**
 * Substitutes the known variables into a query template. Throws a VigilError (`QUERY_TEMPLATE`) when the
 * template uses `{{version}}`/`{{previousVersion}}` and no value is given (e.g. outside a watch) — the
 * caller reports the check as inconclusive rather than querying with an empty label.
 *
 * Inside a regex matcher (`=~"…"`, `!~"…"`, `|~"…"`) a value is regex-escaped first, so version `1.4.2`
 * matches only itself (`1\\.4\\.2` in the query's string), never `1x4y2`, and `1.4.2|.*` cannot widen it.
 *
 * @example
 *   renderQuery('rate(x{job="{{service}}"}[{{window}}])', { windowMs: 300_000, service: 'prep-api' })
 *   // 'rate(x{job="prep-api"}[5m])'
 * @example
 *   renderQuery('x{version=~"{{version}}"}', { windowMs: 60_000, service: 's', version: '1.4.2' })
 *   // 'x{version=~"1\\\\.4\\\\.2"}'
 */
export function renderQuery(
  template: string,
  vars: QueryVars,
  language: QueryLanguage = 'prometheus',
): string {
  const contexts = template.includes('~') ? valueContexts(template) : undefined;
  return template.replace(TEMPLATE, (whole, inner: string, offset: number) => {
    const ref = classify(inner, language);
    if (ref.kind === 'foreign') return whole;
    if (ref.kind === 'unknown')
      throw new VigilError('QUERY_TEMPLATE', `unknown template variable ${ref.text}`);
    if (ref.name === 'window') return formatDuration(vars.windowMs);
    const value = vars[ref.name];
    if (value === undefined || value === '') {
      throw new VigilError(
        'QUERY_TEMPLATE',
        `the query uses {{${ref.name}}} but no ${ref.name} is known here`,
      );
    }
    const context = contexts?.get(offset) ?? 'plain';
    if (context === 'raw-regex') return escapeRegex(value);
    return escapeValue(context === 'regex' ? escapeRegex(value) : value);
  });
}

/** Placeholders that parse wherever a variable may stand: a range (`[5m]`), a string, or a name. */
const PLACEHOLDERS: Record<QueryVariable, string> = {
  window: '5m',
  service: 'vigil_service',
  version: 'vigil_version',
  previousVersion: 'vigil_previous_version',
};

/** Where a piece of the rendered query came from: literal text maps 1:1, a placeholder maps to its `{{`. */
interface Segment {
  renderedAt: number;
  templateAt: number;
  literal: boolean;
}

function lineColumn(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - (before.lastIndexOf('\n') + 1) + 1;
  return `${line}:${column}`;
}

const PARSERS: Record<QueryLanguage, { parser: LRParser; name: string }> = {
  prometheus: { parser: promqlParser, name: 'PromQL' },
  loki: { parser: logqlParser, name: 'LogQL' },
};

/** A template with its variables replaced by placeholders, and a map back to template positions. */
interface Placeholdered {
  rendered: string;
  unknown: string[];
  toTemplate: (offset: number) => number;
}

function withPlaceholders(language: QueryLanguage, template: string, unknownAs: string): Placeholdered {
  const segments: Segment[] = [];
  const unknown: string[] = [];
  let rendered = '';
  let last = 0;
  for (const match of template.matchAll(TEMPLATE)) {
    const ref = classify(match[1] ?? '', language);
    if (ref.kind === 'foreign') continue;
    segments.push({ renderedAt: rendered.length, templateAt: last, literal: true });
    rendered += template.slice(last, match.index);
    segments.push({ renderedAt: rendered.length, templateAt: match.index, literal: false });
    if (ref.kind === 'unknown') unknown.push(ref.text);
    rendered += ref.kind === 'unknown' ? unknownAs : PLACEHOLDERS[ref.name];
    last = match.index + match[0].length;
  }
  segments.push({ renderedAt: rendered.length, templateAt: last, literal: true });
  rendered += template.slice(last);
  const toTemplate = (offset: number): number => {
    const segment = segments.findLast((s) => s.renderedAt <= offset) ?? {
      renderedAt: 0,
      templateAt: 0,
      literal: true,
    };
    return segment.literal ? segment.templateAt + (offset - segment.renderedAt) : segment.templateAt;
  };
  return { rendered, unknown, toTemplate };
}

/** The first syntax error of a placeholdered query, located in the template; undefined when it parses. */
function syntaxError(language: QueryLanguage, template: string, query: Placeholdered): string | undefined {
  const { parser, name } = PARSERS[language];
  const { rendered, toTemplate } = query;
  const end = rendered.trimEnd().length;
  let message: string | undefined;
  parser.parse(rendered).iterate({
    enter: (node) => {
      if (message !== undefined) return false;
      if (!node.type.isError) return true;
      // An error past the last token means something is missing: point just after the last character.
      const where = lineColumn(template, toTemplate(Math.min(node.from, end)));
      const text =
        rendered.slice(node.from, node.to) || (/^(?:[\w.:]+|\S)/.exec(rendered.slice(node.from))?.[0] ?? '');
      message =
        node.from >= end
          ? `${name} syntax error at ${where}: unexpected end of query`
          : `${name} syntax error at ${where}: unexpected "${text}"`;
      return false;
    },
  });
  return message;
}

/**
 * Checks a query template: unknown template variables, then syntax (PromQL via lezer-promql, LogQL via
 * lezer-logql, after replacing variables with placeholders: `{{window}}` becomes `5m` so a range selector
 * stays valid), and that a LogQL SLI is a metric query. Returns one message per problem; positions are
 * line:column in the template as written.
 *
 * @example lintQuery('prometheus', 'sum(rate(x[{{window}}])') // ['PromQL syntax error at 1:24: unexpected end of query']
 */
export function lintQuery(language: QueryLanguage, template: string): string[] {
  const asName = withPlaceholders(language, template, 'vigil_unknown');
  const problems = asName.unknown.map(
    (text) => `unknown template variable ${text} (known: ${QUERY_VARIABLES.join(', ')})`,
  );
  if (asName.rendered.trim() === '') return [...problems, 'query is empty'];
  const error = syntaxError(language, template, asName);
  // An unknown variable may stand where a duration belongs: it is already reported, so no second error for it.
  const retry = error !== undefined && asName.unknown.length > 0;
  const syntax = retry ? syntaxError(language, template, withPlaceholders(language, template, '5m')) : error;
  if (syntax !== undefined) problems.push(syntax);
  else if (
    language === 'loki' &&
    PARSERS.loki.parser.parse(asName.rendered).topNode.firstChild?.firstChild?.name === 'LogExpr'
  ) {
    problems.push(
      'a Loki SLI needs a metric query such as sum(count_over_time({app="x"} |= "error" [{{window}}]))',
    );
  }
  return problems;
}

/** An expression with its wrapping parentheses removed: `((a))` → `a`. */
function unwrap(node: SyntaxNode | null): SyntaxNode | null {
  let current = node;
  while (current?.name === 'ParenExpr') current = current.firstChild;
  return current;
}

/** Whether `expr` is `… or vector(N)` (with or without `on()`): a numerator that cannot vanish. */
function hasVectorFallback(expr: SyntaxNode): boolean {
  if (expr.name !== 'BinaryExpr' || expr.getChild('Or') === null) return false;
  const right = unwrap(expr.lastChild);
  return right?.name === 'FunctionCall' && right.getChild('FunctionIdentifier')?.getChild('Vector') !== null;
}

/** Every label matcher under `node`, as written without spaces: `code=~"5.."`. */
function labelMatchers(node: SyntaxNode, text: string): Set<string> {
  const out = new Set<string>();
  const cursor = node.cursor();
  const end = node.to;
  do {
    if (cursor.from >= end) break;
    if (cursor.name === 'UnquotedLabelMatcher' || cursor.name === 'QuotedLabelMatcher') {
      const label = cursor.node.getChild('LabelName') ?? cursor.node.getChild('QuotedLabelName');
      const op = cursor.node.getChild('MatchOp');
      const value = cursor.node.getChild('StringLiteral');
      if (label && op && value) {
        out.add(
          `${text.slice(label.from, label.to)}${text.slice(op.from, op.to)}${text.slice(value.from, value.to)}`,
        );
      }
    }
  } while (cursor.next());
  return out;
}

/** Matchers that select everything a series set already holds: they filter nothing away. */
const MATCH_ALL = /^[^=!]+=~["'`]\.\*["'`]$/;

/**
 * For a PromQL ratio whose numerator can vanish, the matchers that make it a subset of the denominator.
 *
 * A top-level `a / b` where `a`'s selectors carry a filtering matcher `b`'s do not (`code=~"5.."`) is
 * empty, not 0, while no series matches it — a deploy with no 5xx at all reads as *no data* for as long
 * as it stays perfect. `(a or vector(0)) / b` reads 0 then, while no traffic (an empty or zero `b`)
 * stays no data. Undefined when the query is no such ratio, already guarded, or does not parse.
 *
 * @example
 *   vanishingNumerator('sum(rate(x{code=~"5.."}[5m])) / sum(rate(x[5m]))') // ['code=~"5.."']
 *   vanishingNumerator('(sum(rate(x{code=~"5.."}[5m])) or vector(0)) / sum(rate(x[5m]))') // undefined
 */
export function vanishingNumerator(template: string): string[] | undefined {
  const { rendered } = withPlaceholders('prometheus', template, 'vigil_unknown');
  const tree = promqlParser.parse(rendered);
  let broken = false;
  tree.iterate({
    enter: (node) => {
      if (node.type.isError) broken = true;
      return !broken;
    },
  });
  if (broken) return undefined;
  const top = unwrap(tree.topNode.firstChild);
  if (top?.name !== 'BinaryExpr' || top.getChild('Div') === null) return undefined;
  const left = unwrap(top.firstChild);
  const right = unwrap(top.lastChild);
  if (left === null || right === null || hasVectorFallback(left)) return undefined;
  const denominator = labelMatchers(right, rendered);
  const subset = [...labelMatchers(left, rendered)].filter((m) => !denominator.has(m) && !MATCH_ALL.test(m));
  return subset.length > 0 ? subset : undefined;
}

/**
 * The metric names a PromQL template selects (`http_requests_total{…}`), for telling "this metric does not
 * exist" (a typo) from "no series match right now". Empty when the query does not parse.
 *
 * @example metricNames('sum(rate(http_requests_total{code=~"5.."}[{{window}}])) / sum(rate(up[5m]))') // ['http_requests_total', 'up']
 */
export function metricNames(template: string): string[] {
  const { rendered } = withPlaceholders('prometheus', template, 'vigil_unknown');
  const tree = promqlParser.parse(rendered);
  const names = new Set<string>();
  let broken = false;
  tree.iterate({
    enter: (node) => {
      if (node.type.isError) broken = true;
      if (node.name === 'VectorSelector') {
        const identifier = node.node.getChild('Identifier');
        if (identifier !== null) names.add(rendered.slice(identifier.from, identifier.to));
      }
      return !broken;
    },
  });
  return broken ? [] : [...names];
}
