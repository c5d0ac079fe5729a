import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { ProblemList } from '../../../src/config/problems.js';
import { parseListInSlices, readYamlDocuments } from '../../../src/config/yaml-file.js';

/*
 * A root list longer than one slice (4 KB) is parsed a few items at a time: these pin that the slices give
 * exactly the whole-text values, and that anything the slices cannot read alone goes to the whole-text
 * parse (so errors keep the line:column of the whole file).
 */

const dir = mkdtempSync(path.join(tmpdir(), 'vigil-yaml-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function whole(text: string): unknown {
  const [document] = parseAllDocuments(text, { uniqueKeys: true });
  return document?.toJS();
}

/** `count` probe items whose text is `item(i)`, joined into one file. */
function list(count: number, item: (i: number) => string): string {
  return Array.from({ length: count }, (_, i) => item(i)).join('');
}

const probe = (i: number) =>
  `- name: health-${i}\n  kind: smoke\n  request: { path: "/health?i=${i}" }\n  expect:\n    - status: 200\n`;
const shipped = readFileSync('probes/prep.yaml', 'utf8');

// [behaviour, text] — the slices must give the whole-text values
const sliced: [string, string][] = [
  ['plain probe items', list(400, probe)],
  ['the shipped probe file repeated past many slices', shipped.repeat(12)],
  ['the shipped SLO file repeated', readFileSync('slo/prep.yaml', 'utf8').repeat(12)],
  ['CRLF line ends', list(400, probe).replaceAll('\n', '\r\n')],
  ['comments at column 0 between items', `# head\n\n${list(400, (i) => `# item ${i}\n${probe(i)}`)}`],
  [
    'block scalars whose lines would start items if they were not indented',
    list(300, (i) => `- name: s${i}\n  script: |\n    - not an item\n    -\n  folded: >-\n    - x\n`),
  ],
  [
    'a lone dash and a scalar item',
    list(600, (i) => (i % 2 === 0 ? `-\n  name: n${i}\n` : `- plain ${i}\n`)),
  ],
  ['an anchor and its alias inside one item', list(300, (i) => `- a: &x${i} { k: ${i} }\n  b: *x${i}\n`)],
];

// [behaviour, text] — the slices cannot read it alone: the whole-text parse decides
const whole_: [string, string][] = [
  ['shorter than a slice', list(3, probe)],
  ['a mapping root with a list under a key at column 0', `probes:\n${list(400, probe)}`],
  ['an alias to an anchor in an earlier slice', `- &shared { k: 1 }\n${list(400, probe)}- *shared\n`],
  [
    'a quoted string with a line that starts like an item',
    `${list(200, probe)}- "a\n- b"\n${list(200, probe)}`,
  ],
  ['a flow list across lines', `${list(200, probe)}- [a,\n- b]\n${list(200, probe)}`],
  ['several documents', `${list(200, probe)}---\n${list(200, probe)}`],
  ['a syntax error deep in the file', `${list(300, probe)}- name: x\n  name: y\n${list(100, probe)}`],
];

describe('parseListInSlices', () => {
  it.each(sliced)('%s: the same values as the whole text', (_, text) => {
    expect(text.length).toBeGreaterThan(4096);
    const items = parseListInSlices(text);
    expect(items).toBeDefined();
    expect(items).toStrictEqual(whole(text));
  });

  it.each(whole_)('%s: left to the whole-text parse', (_, text) => {
    expect(parseListInSlices(text)).toBeUndefined();
  });
});

describe('readYamlDocuments', () => {
  async function read(name: string, text: string): Promise<[unknown[] | undefined, string[]]> {
    const file = path.join(dir, name);
    writeFileSync(file, text);
    const problems = new ProblemList();
    const documents = await readYamlDocuments(file, name, problems);
    return [documents, problems.problems.map((p) => `${p.file}:${p.path}: ${p.message}`)];
  }

  it('a long list comes back as one document of all its items', async () => {
    const [documents, problems] = await read('long.yaml', list(1000, probe));
    expect(problems).toEqual([]);
    expect(documents).toHaveLength(1);
    expect(documents?.[0]).toHaveLength(1000);
  });

  it('an error after thousands of lines keeps its line:column in the whole file', async () => {
    const [documents, problems] = await read(
      'dup.yaml',
      `${list(300, probe)}- name: x\n  name: y\n${list(100, probe)}`,
    );
    expect(documents).toBeUndefined();
    expect(problems).toEqual(['dup.yaml:: invalid YAML at 1502:3: Map keys must be unique']);
  });

  it('an alias to an anchor in another slice resolves as in the whole file', async () => {
    const [documents] = await read('alias.yaml', `- &shared { k: 1 }\n${list(400, probe)}- *shared\n`);
    const items = documents?.[0] as unknown[];
    expect(items).toHaveLength(402);
    expect(items[401]).toEqual({ k: 1 });
  });
});
