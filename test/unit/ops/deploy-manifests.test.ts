import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { RUNBOOK_ANCHORS } from '../../../src/actions/alertmanager.js';
import { loadConfig } from '../../../src/config/load.js';
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

/** Every document of the Kubernetes manifests (deploy/kubernetes/*.yaml). */
const docs = ['vigil.yaml', 'vigil-files.yaml'].flatMap((file) =>
  parseAllDocuments(readFileSync(join(DEPLOY, 'kubernetes', file), 'utf8')).map((d) => d.toJS() as Doc),
);
const byKind = (kind: string, name?: string): Doc => {
  const doc = docs.find(
    (d) => d.kind === kind && (name === undefined || get(d, 'metadata', 'name') === name),
  );
  if (!doc) throw new Error(`no ${kind} ${name ?? ''} in the manifests`);
  return doc;
};
const podSpec = (): Doc => get(byKind('Deployment'), 'spec', 'template', 'spec') as Doc;
const containerNamed = (name: string): Doc => {
  const found = (get(podSpec(), 'containers') as Doc[]).find((c) => c.name === name);
  if (!found) throw new Error(`no container ${name}`);
  return found;
};
const container = (): Doc => containerNamed('vigil');
const envConfigMap = (): Doc => byKind('ConfigMap', 'vigil-env');

describe('deploy/kubernetes/vigil.yaml', () => {
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
    const listen = get(envConfigMap(), 'data', 'VIGIL_LISTEN') as string;
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
    expect(get(container(), 'args')).toEqual(['serve', '--config', '/etc/vigil/vigil.yaml']);
    const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
    const uid = /useradd\s+--uid\s+(\d+)/.exec(dockerfile)?.[1];
    expect(get(byKind('Deployment'), 'spec', 'template', 'spec', 'securityContext', 'runAsUser')).toBe(
      Number(uid),
    );
    expect(get(container(), 'securityContext', 'readOnlyRootFilesystem')).toBe(true);
    const mounts = (get(container(), 'volumeMounts') as Array<{ mountPath: string }>).map((m) => m.mountPath);
    expect(mounts).toEqual(expect.arrayContaining([get(envConfigMap(), 'data', 'VIGIL_DATA_DIR'), '/tmp']));
    expect(get(container(), 'resources', 'limits', 'memory')).toBeDefined();
  });

  test('every ConfigMap and Secret key is a variable Vigil reads (.env.example)', () => {
    const keys = [
      ...Object.keys(get(envConfigMap(), 'data') as Doc),
      ...Object.keys(get(byKind('Secret'), 'stringData') as Doc),
    ];
    expect(keys.filter((k) => !inEnvExample(k))).toEqual([]);
  });
});

describe('deploy/kubernetes: the config files come from the vigil-files ConfigMap and reload on change', () => {
  interface Volume {
    name: string;
    configMap?: { name: string; items?: Array<{ key: string; path: string }> };
    secret?: { secretName: string };
    persistentVolumeClaim?: { claimName: string };
    emptyDir?: Doc;
  }
  interface Mount {
    name: string;
    mountPath: string;
    subPath?: string;
  }
  const volumes = (): Volume[] => get(podSpec(), 'volumes') as Volume[];
  const mountsOf = (c: Doc): Mount[] => (get(c, 'volumeMounts') as Mount[]) ?? [];
  const configVolume = (): Volume => {
    const volume = volumes().find((v) => v.name === 'config');
    if (!volume?.configMap) throw new Error('no config volume from a ConfigMap');
    return volume;
  };
  const files = (): Record<string, string> =>
    get(byKind('ConfigMap', 'vigil-files'), 'data') as Record<string, string>;

  test('every manifest parses, names its kind and metadata.name, and names are unique per kind', () => {
    expect(docs.length).toBeGreaterThan(6);
    const seen = new Set<string>();
    for (const doc of docs) {
      expect(typeof doc.apiVersion, JSON.stringify(doc).slice(0, 80)).toBe('string');
      expect(typeof doc.kind).toBe('string');
      const id = `${doc.kind}/${get(doc, 'metadata', 'name') as string}`;
      expect(get(doc, 'metadata', 'name'), id).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      expect(seen.has(id), `${id} twice`).toBe(false);
      seen.add(id);
    }
  });

  test('everything the pod refers to exists: ConfigMaps, Secret, claim, volumes of every mount', () => {
    for (const volume of volumes()) {
      if (volume.configMap) byKind('ConfigMap', volume.configMap.name);
      if (volume.secret) byKind('Secret', volume.secret.secretName);
      if (volume.persistentVolumeClaim)
        byKind('PersistentVolumeClaim', volume.persistentVolumeClaim.claimName);
    }
    const containers = get(podSpec(), 'containers') as Doc[];
    for (const c of containers) {
      for (const from of (get(c, 'envFrom') as Doc[] | undefined) ?? []) {
        const cm = get(from, 'configMapRef', 'name') as string | undefined;
        const secret = get(from, 'secretRef', 'name') as string | undefined;
        if (cm) byKind('ConfigMap', cm);
        if (secret) byKind('Secret', secret);
      }
      for (const mount of mountsOf(c))
        expect(
          volumes().map((v) => v.name),
          `${c.name as string}: ${mount.name}`,
        ).toContain(mount.name);
    }
    // The Service, PDB and ServiceMonitor select the pods the Deployment makes.
    const podLabels = get(byKind('Deployment'), 'spec', 'template', 'metadata', 'labels') as Doc;
    for (const selector of [
      get(byKind('Service'), 'spec', 'selector'),
      get(byKind('PodDisruptionBudget'), 'spec', 'selector', 'matchLabels'),
      get(byKind('Deployment'), 'spec', 'selector', 'matchLabels'),
    ])
      expect(podLabels).toMatchObject(selector as Doc);
  });

  test('the config volume maps every ConfigMap key to its path, and nothing else', () => {
    const { configMap } = configVolume();
    expect(configMap?.name).toBe('vigil-files');
    const items = configMap?.items ?? [];
    expect(items.map((i) => i.key).sort()).toEqual(Object.keys(files()).sort());
    for (const { key, path } of items) {
      expect(key, path).toBe(path.replaceAll('/', '.'));
      expect(posix.normalize(path), path).toBe(path);
      expect(path.startsWith('..') || path.startsWith('/'), path).toBe(false);
    }
    expect(new Set(items.map((i) => i.path)).size).toBe(items.length);
    const paths = items.map((i) => i.path);
    expect(paths).toContain('vigil.yaml');
    for (const folder of ['probes/', 'slo/', 'loadtests/'])
      expect(
        paths.some((p) => p.startsWith(folder)),
        folder,
      ).toBe(true);
  });

  test('the daemon reads its config from the mount (not the image), and the reloader watches the same mount', () => {
    const configMount = mountsOf(container()).find((m) => m.name === 'config');
    expect(configMount?.subPath).toBeUndefined(); // a subPath mount is never updated
    const configFile = (get(container(), 'args') as string[]).at(-1) as string;
    expect(dirname(configFile)).toBe(configMount?.mountPath);
    const reloader = containerNamed('vigil-reloader');
    const reloaderMount = mountsOf(reloader).find((m) => m.name === 'config');
    expect(reloaderMount?.mountPath).toBe(configMount?.mountPath);
    expect(reloaderMount?.subPath).toBeUndefined();
    const script = (get(reloader, 'command') as string[]).join(' ');
    expect(script).toContain(`${configMount?.mountPath}/..data`);
    // It signals the daemon's own process: shared PID namespace, same user, and a pattern that matches
    // the command line the image's ENTRYPOINT and the Deployment's args give node.
    expect(get(podSpec(), 'shareProcessNamespace')).toBe(true);
    expect(get(reloader, 'securityContext', 'runAsUser')).toBeUndefined();
    const pattern = /pkill -HUP -f '([^']+)'/.exec(script)?.[1];
    expect(pattern).toBeDefined();
    const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
    const entrypoint = JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)?.[1] ?? '[]') as string[];
    const nodeArgs = entrypoint.slice(entrypoint.indexOf('node'));
    const cmdline = [...nodeArgs, ...(get(container(), 'args') as string[])].join(' ');
    expect(cmdline).toMatch(new RegExp(pattern as string));
    expect(`/usr/bin/tini -- ${cmdline}`).not.toMatch(new RegExp(pattern as string)); // node, not tini
    const tiniSubreaper = (get(container(), 'env') as Array<{ name: string; value: string }>).find(
      (e) => e.name === 'TINI_SUBREAPER',
    );
    expect(tiniSubreaper?.value).toBe('1');
  });

  test('the ConfigMap, laid out as the kubelet does (..data and symlinks), loads with the config loader', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-configmap-'));
    try {
      const version = '..2026_11_29_23_00_00.000000001';
      const items = configVolume().configMap?.items ?? [];
      for (const { key, path } of items) {
        mkdirSync(dirname(join(dir, version, path)), { recursive: true });
        writeFileSync(join(dir, version, path), files()[key] as string);
      }
      symlinkSync(version, join(dir, '..data'));
      for (const top of new Set(items.map((i) => i.path.split('/')[0] as string)))
        symlinkSync(join('..data', top), join(dir, top));
      const config = await loadConfig(join(dir, 'vigil.yaml'), {});
      expect(config.probes.length).toBeGreaterThan(0);
      expect(config.slos.length).toBeGreaterThan(0);
      for (const profile of Object.values(config.root.loadtests?.profiles ?? {}))
        expect(existsSync(profile.script), profile.script).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('render-config.sh is how the ConfigMap is made, and says how to lay it out', () => {
    const script = readFileSync(join(DEPLOY, 'kubernetes/render-config.sh'), 'utf8');
    expect(script).toContain('kubectl create configmap vigil-files --dry-run=client');
    expect(readFileSync(join(DEPLOY, 'kubernetes/vigil-files.yaml'), 'utf8')).toMatch(
      /^# Generated by deploy\/kubernetes\/render-config\.sh/,
    );
  });
});

describe('deploy/kubernetes/vigil-ha.yaml: two replicas on PostgreSQL', () => {
  const ha = parseAllDocuments(readFileSync(join(DEPLOY, 'kubernetes', 'vigil-ha.yaml'), 'utf8')).map(
    (d) => d.toJS() as Doc,
  );
  const kind = (k: string, name?: string): Doc => {
    const doc = ha.find((d) => d.kind === k && (name === undefined || get(d, 'metadata', 'name') === name));
    if (!doc) throw new Error(`no ${k} ${name ?? ''} in vigil-ha.yaml`);
    return doc;
  };
  const vigil = (): Doc => {
    const containers = get(kind('Deployment'), 'spec', 'template', 'spec', 'containers') as Doc[];
    return containers.find((c) => c.name === 'vigil') as Doc;
  };

  test('runs two replicas that a drain never takes both of, spread over nodes', () => {
    expect(get(kind('Deployment'), 'spec', 'replicas')).toBe(2);
    expect(get(kind('PodDisruptionBudget'), 'spec', 'minAvailable')).toBe(1);
    expect(get(kind('Deployment'), 'spec', 'strategy', 'type')).toBe('RollingUpdate');
    expect(get(kind('Deployment'), 'spec', 'template', 'spec', 'affinity', 'podAntiAffinity')).toBeDefined();
    // No SQLite volume: a ReadWriteOnce claim cannot be shared by two pods.
    expect(ha.some((d) => d.kind === 'PersistentVolumeClaim')).toBe(false);
  });

  test('gives each replica the database URL from its Secret and its pod name as the instance', () => {
    const secret = kind('Secret', 'vigil-postgres');
    expect(get(secret, 'stringData', 'VIGIL_DATABASE_URL')).toMatch(/^postgres:\/\//);
    const envFrom = (get(vigil(), 'envFrom') as Doc[]).map((e) => get(e, 'secretRef', 'name'));
    expect(envFrom).toContain('vigil-postgres');
    const env = get(vigil(), 'env') as Doc[];
    const instance = env.find((e) => e.name === 'VIGIL_INSTANCE');
    expect(get(instance, 'valueFrom', 'fieldRef', 'fieldPath')).toBe('metadata.name');
    for (const name of ['VIGIL_DATABASE_URL', 'VIGIL_INSTANCE']) expect(inEnvExample(name)).toBe(true);
  });

  test('the shipped vigil.yaml reads the database URL from VIGIL_DATABASE_URL', async () => {
    const config = await loadConfig(join(REPO_ROOT, 'vigil.yaml'), {
      VIGIL_DATABASE_URL: 'postgres://vigil:secret@db.internal:5432/vigil',
    });
    expect(config.root.storage.url).toBe('postgres://vigil:secret@db.internal:5432/vigil');
    const sqlite = await loadConfig(join(REPO_ROOT, 'vigil.yaml'), {});
    expect(sqlite.root.storage.url).toBeUndefined();
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

  test('the vigil services set only variables Vigil reads', () => {
    for (const service of ['vigil', 'vigil-replica']) {
      const names = Object.keys(compose.services[service]?.environment ?? {});
      expect(names.length).toBeGreaterThan(0);
      expect(names.filter((n) => !inEnvExample(n))).toEqual([]);
    }
  });

  test('the postgres profile adds PostgreSQL and a second replica on the same database URL', () => {
    const services = compose.services as Record<
      string,
      { profiles?: string[]; environment?: Record<string, string> }
    >;
    expect(services.postgres?.profiles).toEqual(['postgres']);
    expect(services['vigil-replica']?.profiles).toEqual(['postgres']);
    expect(services.vigil?.environment?.VIGIL_DATABASE_URL).toContain('VIGIL_DATABASE_URL');
    expect(services['vigil-replica']?.environment?.VIGIL_DATABASE_URL).toContain('VIGIL_DATABASE_URL');
    expect(services.vigil?.environment?.VIGIL_INSTANCE).not.toBe(
      services['vigil-replica']?.environment?.VIGIL_INSTANCE,
    );
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
