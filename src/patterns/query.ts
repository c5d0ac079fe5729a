import { parser as logqlParser } from '@grafana/lezer-logql';
import { lintQuery, renderQuery } from '../config/query.js';

/*
 * The query of a `patterns` check is a LogQL *log* query (the lines to study), where every other Loki
 * query of an SLO is a metric query. Syntax and template variables are checked by the shared linter;
 * this only turns its "needs a metric query" around.
 */

const PLACEHOLDER_VARS = {
  windowMs: 300_000,
  service: 'vigil_service',
  version: 'vigil_version',
  previousVersion: 'vigil_previous_version',
};

/** Whether a rendered LogQL query is a log query (a selector with its pipeline), not a metric one. */
export function isLogQuery(query: string): boolean {
  return logqlParser.parse(query).topNode.firstChild?.firstChild?.name === 'LogExpr';
}

/**
 * The problems of a `patterns.query` template: unknown variables, LogQL syntax (positions in the
 * template), and a metric query where a log query belongs.
 *
 * @example lintLogQuery('{app="prep-api"} | json | level=~"error|fatal"') // []
 * @example lintLogQuery('sum(count_over_time({app="x"}[5m]))') // ['a patterns query is a log query …']
 */
export function lintLogQuery(template: string): string[] {
  const problems = lintQuery('loki', template);
  const metricNeeded = problems.findIndex((p) => p.startsWith('a Loki SLI needs a metric query'));
  if (metricNeeded >= 0) {
    problems.splice(metricNeeded, 1);
    return problems;
  }
  if (problems.length > 0) return problems;
  let rendered: string;
  try {
    rendered = renderQuery(template, PLACEHOLDER_VARS, 'loki');
  } catch {
    return problems;
  }
  return isLogQuery(rendered)
    ? []
    : [
        'a patterns query is a log query selecting the lines to study, such as {app="prep-api"} | json | level=~"error|fatal"',
      ];
}

/**
 * The stream selector of a rendered log query (`{app="prep-api"}` of `{app="prep-api"} | json | …`), to
 * ask whether Loki holds any line of the streams at all; undefined when the query has none.
 *
 * @example streamSelector('{app="prep-api"} | json | level="error"') // '{app="prep-api"}'
 */
export function streamSelector(query: string): string | undefined {
  let selector: string | undefined;
  logqlParser.parse(query).iterate({
    enter(node) {
      if (selector !== undefined) return false;
      if (node.name === 'Selector') {
        selector = query.slice(node.from, node.to);
        return false;
      }
      return undefined;
    },
  });
  return selector;
}
