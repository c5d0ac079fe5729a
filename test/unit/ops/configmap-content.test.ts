import { readFileSync } from 'node:fs';
import { globSync } from 'tinyglobby';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

/*
 * deploy/kubernetes/vigil-files.yaml is rendered from the config folder by render-config.sh. A snapshot
 * goes stale the moment anyone edits vigil.yaml, probes/, slo/ or loadtests/ — and then a cluster runs
 * another config than the repository. The test holds it to the files, byte for byte.
 */

const CONFIG_FILES = ['vigil.yaml', 'probes/*.yaml', 'slo/*.yaml', 'loadtests/*.js', 'loadtests/lib/*.js'];

describe('the vigil-files ConfigMap', () => {
  const configMap = parse(readFileSync('deploy/kubernetes/vigil-files.yaml', 'utf8')) as {
    data: Record<string, string>;
  };
  const files = globSync(CONFIG_FILES).sort();

  it('holds every config file of the repository, as it is (re-run deploy/kubernetes/render-config.sh)', () => {
    const expected = Object.fromEntries(
      files.map((file) => [file.replaceAll('/', '.'), readFileSync(file, 'utf8')]),
    );
    expect(Object.keys(configMap.data).sort()).toEqual(Object.keys(expected).sort());
    for (const [key, content] of Object.entries(expected)) expect(configMap.data[key], key).toBe(content);
  });
});
