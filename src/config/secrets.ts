import type { PathSegment, ProblemList } from './problems.js';
import type { RootConfig } from './schema.js';

/*
 * Secrets come only from the environment (DESIGN §4): the root file is committed, so a token, password or
 * signing secret written in it — as a literal or as the default of `${VAR:-…}` — is a warning naming the
 * file and the place. Interpolation tells which scalars came wholly from variables (`fromEnv`); the value
 * itself is never shown.
 */

function samePath(a: readonly PathSegment[], b: readonly PathSegment[]): boolean {
  return a.length === b.length && a.every((segment, index) => segment === b[index]);
}

/** Header names that carry credentials, whatever the service calls its key. */
const CREDENTIAL_HEADER = /^(authorization|proxy-authorization|cookie|x-api-key|api-key|x-auth-token)$/i;

function credentialHeaders(
  at: PathSegment[],
  headers: Readonly<Record<string, string>> | undefined,
): SecretPlace[] {
  return Object.entries(headers ?? {})
    .filter(([name]) => CREDENTIAL_HEADER.test(name))
    .map(([name, value]) => ({ path: [...at, 'headers', name], value }));
}

/** Every place of the root config that holds a secret, with its value. */
interface SecretPlace {
  path: PathSegment[];
  value: string | undefined;
  /** The variable DESIGN §9 names for it, when there is one. */
  variable?: string;
}

/** The sections of a root (the file's, or a fleet service's merged one) that can hold secrets. */
type SecretSections = Pick<RootConfig, 'server' | 'sources' | 'alertmanager' | 'actions' | 'target'>;

function secretPlaces(root: SecretSections): SecretPlace[] {
  const places: SecretPlace[] = [
    { path: ['server', 'apiToken'], value: root.server.apiToken, variable: 'VIGIL_API_TOKEN' },
  ];
  const dependencies = [['sources', 'prometheus'], ['sources', 'loki'], ['alertmanager']] as const;
  for (const at of dependencies) {
    const config = at.length === 2 ? root.sources[at[1]] : root.alertmanager;
    places.push({ path: [...at, 'bearerToken'], value: config?.bearerToken });
    places.push({ path: [...at, 'basicAuth', 'password'], value: config?.basicAuth?.password });
    places.push(...credentialHeaders([...at], config?.headers));
  }
  places.push(...credentialHeaders(['target'], root.target?.headers));
  for (const kind of ['rollback', 'notify'] as const) {
    for (const [index, target] of root.actions[kind].entries())
      places.push(
        {
          path: ['actions', kind, index, 'secret'],
          value: target.secret,
          ...(kind === 'rollback' && index === 0 ? { variable: 'VIGIL_ROLLBACK_WEBHOOK_SECRET' } : {}),
        },
        ...credentialHeaders(['actions', kind, index], target.headers),
      );
  }
  return places;
}

/**
 * Warns about every secret of the root config whose value (non-empty) is text of the file rather than an
 * environment variable's. For a fleet's service, `at` maps each place to where the file writes it (its
 * entry, or the root it inherits from), so a literal in the root is said once.
 *
 * @example
 *   literalSecretWarnings(root, interpolated.fromEnv, 'vigil.yaml', warnings)
 *   // vigil.yaml:server.apiToken: a secret written in the file: …
 */
export function literalSecretWarnings(
  root: SecretSections,
  fromEnv: readonly PathSegment[][],
  file: string,
  warnings: ProblemList,
  at: (path: readonly PathSegment[]) => PathSegment[] = (path) => [...path],
): void {
  for (const place of secretPlaces(root)) {
    const { value, variable } = place;
    if (value === undefined || value === '') continue;
    const path = at(place.path);
    // DESIGN §9's variable names the root's target; a fleet entry's own secret has a name of its choosing.
    const named = path.length === place.path.length ? variable : undefined;
    if (fromEnv.some((envPath) => samePath(envPath, path))) continue;
    warnings.add(
      file,
      path,
      `a secret written in the file (a literal, or the default of \${VAR:-…}) is committed with it: write ` +
        `\${${named ?? 'A_VARIABLE'}} and set the variable in the environment or the .env file`,
    );
  }
}
