import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { RUNBOOK_ANCHORS } from '../../../src/actions/alertmanager.js';
import { REPO_ROOT } from '../../helpers/cli.js';

/*
 * The deploy/ artifacts are config for other tools, so nothing else runs them here: these tests pin what
 * would break them silently — a probe on the wrong path or port, a mounted file that does not exist, a
 * variable Vigil never reads, a scrape job name the alert rules do not query.
 */

type Doc = Record<string, unknown>;
const DEPLOY = join(REPO_ROOT, 'deploy');
const envExample = readFileSync(join(REPO_ROOT, '.env.example'), 'utf8');
const inEnvExample = (name: string): boolean => new RegExp(`^${name}=`, 'm').test(envExample);

function get(node: unknown, ...path: (string | number)[]): unknown {
  let current = node;
  for (const key of path) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<string | number, unknown>)[key];
  }
  return current;
}

describe('deploy/kubernetes/vigil.yaml', () => {
  const docs = parseAllDocuments(readFileSync(join(DEPLOY, 'kubernetes/vigil.yaml'), 'utf8')).map(
    (d) => d.toJS() as Doc,
  );
  const byKind = (kind: string): Doc => {
    const doc = docs.find((d) => d.kind === kind);
    if (!doc) throw new Error(`no ${kind} in the manifests`);
    return doc;
  };
  const container = (): Doc => get(byKind('Deployment'), 'spec', 'template', 'spec', 'containers', 0) as Doc;

  test('holds the Deployment, Service, PodDisruptionBudget, ServiceMonitor, ConfigMap and Secret', () => {
    expect(docs.map((d) => d.kind)).toEqual(
      expect.arrayContaining([
        'Deployment',
        'Service',
        'PodDisruptionBudget',
        'ServiceMonitor',
        'ConfigMap',
        'Secret',
      ]),
    );
  });

  test('probes /live and /ready on the port the daemon listens on', () => {
    const listen = get(byKind('ConfigMap'), 'data', 'VIGIL_LISTEN') as string;
    const port = Number(listen.split(':').at(-1));
    const ports = get(container(), 'ports') as Array<{ name: string; containerPort: number }>;
    const http = ports.find((p) => p.name === 'http');
    expect(http?.containerPort).toBe(port);
    expect(listen.startsWith('0.0.0.0:')).toBe(true); // loopback would be unreachable from the kubelet
    expect(get(container(), 'livenessProbe', 'httpGet', 'path')).toBe('/live');
    expect(get(container(), 'readinessProbe', 'httpGet', 'path')).toBe('/ready');
    expect(get(byKind('ServiceMonitor'), 'spec', 'endpoints', 0, 'path')).toBe('/metrics');
  });

  test('runs the image command as the image user, read-only, with writable /data and /tmp', () => {
    expect(get(container(), 'args')).toEqual(['serve', '--config', '/app/vigil.yaml']);
    const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
    const uid = /useradd\s+--uid\s+(\d+)/.exec(dockerfile)?.[1];
    expect(get(byKind('Deployment'), 'spec', 'template', 'spec', 'securityContext', 'runAsUser')).toBe(
      Number(uid),
    );
    expect(get(container(), 'securityContext', 'readOnlyRootFilesystem')).toBe(true);
    const mounts = (get(container(), 'volumeMounts') as Array<{ mountPath: string }>).map((m) => m.mountPath);
    expect(mounts).toEqual(
      expect.arrayContaining([get(byKind('ConfigMap'), 'data', 'VIGIL_DATA_DIR'), '/tmp']),
    );
    expect(get(container(), 'resources', 'limits', 'memory')).toBeDefined();
  });

  test('every ConfigMap and Secret key is a variable Vigil reads (.env.example)', () => {
    const keys = [
      ...Object.keys(get(byKind('ConfigMap'), 'data') as Doc),
      ...Object.keys(get(byKind('Secret'), 'stringData') as Doc),
    ];
    expect(keys.filter((k) => !inEnvExample(k))).toEqual([]);
  });
});

describe('deploy/docker-compose.yml', () => {
  const compose = parseYaml(readFileSync(join(DEPLOY, 'docker-compose.yml'), 'utf8')) as {
    services: Record<string, { build?: string; environment?: Record<string, string>; volumes?: string[] }>;
  };

  test('every file it mounts from the repository exists, and the vigil build context holds a Dockerfile', () => {
    const missing: string[] = [];
    for (const [name, service] of Object.entries(compose.services)) {
      for (const volume of service.volumes ?? []) {
        const source = volume.split(':')[0] as string;
        if (source.startsWith('.') && !existsSync(resolve(DEPLOY, source)))
          missing.push(`${name}: ${source}`);
      }
    }
    expect(missing).toEqual([]);
    expect(existsSync(join(resolve(DEPLOY, compose.services.vigil?.build ?? '?'), 'Dockerfile'))).toBe(true);
  });

  test('the vigil service sets only variables Vigil reads', () => {
    const names = Object.keys(compose.services.vigil?.environment ?? {});
    expect(names.length).toBeGreaterThan(0);
    expect(names.filter((n) => !inEnvExample(n))).toEqual([]);
  });

  test('Grafana gets the dashboard where its provisioning looks, and Prometheus gets the rules it loads', () => {
    const provider = parseYaml(
      readFileSync(join(DEPLOY, 'grafana/provisioning/dashboards/dashboards.yaml'), 'utf8'),
    );
    const dashboardsPath = get(provider, 'providers', 0, 'options', 'path') as string;
    const grafanaTargets = (compose.services.grafana?.volumes ?? []).map((v) => v.split(':')[1] as string);
    expect(
      grafanaTargets.some((t) => dirname(t) === dashboardsPath && t.endsWith('vigil-dashboard.json')),
    ).toBe(true);

    const prometheus = parseYaml(readFileSync(join(DEPLOY, 'prometheus/prometheus.yml'), 'utf8')) as {
      rule_files: string[];
      scrape_configs: Array<{ job_name: string }>;
    };
    const promTargets = (compose.services.prometheus?.volumes ?? []).map((v) => v.split(':')[1] as string);
    for (const file of prometheus.rule_files) expect(promTargets).toContain(file);
    // VigilDaemonDown queries up{job="vigil"}: the scrape job must carry that name.
    const rules = readFileSync(join(DEPLOY, 'prometheus/vigil-rules.yaml'), 'utf8');
    const job = /up\{job="([^"]+)"\}/.exec(rules)?.[1];
    expect(prometheus.scrape_configs.map((s) => s.job_name)).toContain(job);
  });

  test('the dashboard datasource variable is provisioned', () => {
    const datasources = parseYaml(
      readFileSync(join(DEPLOY, 'grafana/provisioning/datasources/datasources.yaml'), 'utf8'),
    ) as { datasources: Array<{ type: string }> };
    expect(datasources.datasources.some((d) => d.type === 'prometheus')).toBe(true);
  });
});

describe('deploy/RUNBOOK.md', () => {
  test('has a section for every alert the rules fire, at the anchor their runbook_url points to', () => {
    const runbook = readFileSync(join(DEPLOY, 'RUNBOOK.md'), 'utf8');
    const anchors = new Set(
      [...runbook.matchAll(/^#+\s+(.+)$/gm)].map((m) =>
        (m[1] as string)
          .trim()
          .toLowerCase()
          .replace(/[^\w\s-]/g, '')
          .replace(/\s+/g, '-'),
      ),
    );
    const rules = ['vigil-rules.yaml', 'vigil-blind-rules.yaml']
      .map((file) => readFileSync(join(DEPLOY, 'prometheus', file), 'utf8'))
      .join('\n');
    const linked = [...rules.matchAll(/runbook_url:\s*\S+#(\S+)/g)].map((m) => m[1] as string);
    expect(linked.length).toBeGreaterThan(0);
    expect(linked.filter((a) => !anchors.has(a))).toEqual([]);
    // The alerts the daemon sends itself link there too (alertmanager.runbookBaseUrl + anchor).
    expect(Object.values(RUNBOOK_ANCHORS).filter((a) => !anchors.has(a))).toEqual([]);
  });
});
