/**
 * Body templates for webhook targets (`actions.rollback[].bodyTemplate`): a JSON document whose string
 * values may hold `{{path}}` placeholders over the standard payload (`watch.id`, `verdict.reasons`, …).
 * The template is parsed as JSON once, then values are substituted into the parsed tree and the result
 * serialised again — so a substituted value can never break out of its string (no JSON injection).
 * A string that is exactly one placeholder takes the value with its type (boolean, number, object);
 * a placeholder inside other text is replaced by the value as text (objects as compact JSON).
 */

/** Roots a placeholder may start with, and the fixed fields under each (`null` = any sub-path). */
const ROOTS: Record<string, readonly string[] | null> = {
  event: [],
  deliveryId: [],
  dryRun: [],
  triggeredAt: [],
  watch: ['id', 'service', 'version', 'previousVersion', 'startedAt'],
  verdict: null,
  manual: ['who', 'reason'],
  payload: [],
};

const PLACEHOLDER = /\{\{\s*([^{}\s]+)\s*\}\}/g;
const WHOLE = /^\{\{\s*([^{}\s]+)\s*\}\}$/;

/** A template ready to render; `render` returns the raw JSON body text. */
export interface BodyTemplate {
  render(payload: Readonly<Record<string, unknown>>): string;
  /** Whether the rendered body tells the receiver about dry runs ({{dryRun}} or {{payload}}). */
  usesDryRun: boolean;
}

export type CompileResult = { ok: true; template: BodyTemplate } | { ok: false; problems: string[] };

/**
 * Parses and checks a body template: it must be valid JSON and every placeholder must name a known field.
 *
 * @example
 *   const t = compileBodyTemplate('{"ref":"main","inputs":{"version":"{{watch.previousVersion}}"}}');
 *   if (t.ok) t.template.render(payload); // '{"ref":"main","inputs":{"version":"1.4.1"}}'
 */
export function compileBodyTemplate(text: string): CompileResult {
  let tree: unknown;
  try {
    tree = JSON.parse(text);
  } catch (error) {
    return { ok: false, problems: [`bodyTemplate is not valid JSON: ${(error as Error).message}`] };
  }
  const problems: string[] = [];
  let usesDryRun = false;
  walkStrings(tree, (value) => {
    for (const match of value.matchAll(PLACEHOLDER)) {
      const path = match[1] as string;
      const problem = checkPath(path);
      if (problem) problems.push(problem);
      if (path === 'dryRun' || path === 'payload') usesDryRun = true;
    }
    return value;
  });
  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    template: {
      usesDryRun,
      render: (payload) => JSON.stringify(walkStrings(tree, (value) => substitute(value, payload))),
    },
  };
}

function checkPath(path: string): string | undefined {
  const [root, field] = path.split('.');
  const fields = ROOTS[root as string];
  if (fields === undefined) {
    return `unknown placeholder {{${path}}}: use one of ${Object.keys(ROOTS).join(', ')} (e.g. {{watch.id}})`;
  }
  if (fields === null) return undefined;
  if (fields.length === 0 && field !== undefined) return `{{${root}}} has no fields ({{${path}}})`;
  if (fields.length > 0 && (field === undefined || !fields.includes(field) || path.split('.').length > 2)) {
    return `unknown placeholder {{${path}}}: ${root} has ${fields.map((f) => `${root}.${f}`).join(', ')}`;
  }
  return undefined;
}

function substitute(value: string, payload: Readonly<Record<string, unknown>>): unknown {
  const whole = WHOLE.exec(value);
  if (whole) return lookup(payload, whole[1] as string) ?? null;
  return value.replace(PLACEHOLDER, (_, path: string) => asText(lookup(payload, path)));
}

function lookup(payload: Readonly<Record<string, unknown>>, path: string): unknown {
  if (path === 'payload') return payload;
  let current: unknown = payload;
  for (const part of path.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

function asText(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** Rebuilds a JSON tree with every string value (not key) passed through `map`. */
function walkStrings(node: unknown, map: (value: string) => unknown): unknown {
  if (typeof node === 'string') return map(node);
  if (Array.isArray(node)) return node.map((item) => walkStrings(item, map));
  if (node !== null && typeof node === 'object') {
    return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, walkStrings(value, map)]));
  }
  return node;
}
