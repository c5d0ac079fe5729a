#!/usr/bin/env node
// A stand-in for the k6 binary (k6 cannot be installed here). It answers `version`, and `run` replays
// what a real k6 v0.49.0 did (test/fixtures/k6, copied from shared/fixtures/k6): summary files,
// stderr lines, REST API answers on --address, exit codes. The scenario comes from FAKE_K6_SCENARIO,
// else from the script's file name (`…/thresholds-failed.js`). FAKE_K6_RECORD=<file> writes the
// arguments, environment and cwd it was started with, for tests to inspect. FAKE_K6_VERSION replaces
// the first line `version` prints.
//
// Like k6 before v0.52, it first parses the script and every file it imports (relative imports) as
// ES2017 + modules, and stops with exit 107 and k6's SyntaxError line when one cannot be parsed: a fake
// that never parsed scripts once hid shipped profiles that no real k6 v0.49 could load.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parse } from 'acorn';

const fixtures =
  process.env.FAKE_K6_FIXTURES ?? join(dirname(fileURLToPath(import.meta.url)), '../fixtures/k6');
const fixture = (name) => readFileSync(join(fixtures, name), 'utf8');
const compact = (name) => JSON.stringify(JSON.parse(fixture(name)));
const runMs = Number(process.env.FAKE_K6_RUN_MS ?? 150);
// Nothing here may outlive a broken test run.
const SAFETY_MS = 60_000;

const [command, ...rest] = process.argv.slice(2);
if (command === 'version') {
  process.stdout.write(`${process.env.FAKE_K6_VERSION ?? 'k6 v0.49.0 (go1.19.8, linux/amd64)'}\n`);
  process.exit(0);
}
if (command !== 'run') {
  process.stderr.write(`unknown command "${command}"\n`);
  process.exit(255);
}

const flags = { env: {} };
const positional = [];
for (let i = 0; i < rest.length; i++) {
  const arg = rest[i];
  if (arg === '-e' || arg === '--env') {
    const [key, ...value] = rest[++i].split('=');
    flags.env[key] = value.join('=');
  } else if (
    [
      '--summary-export',
      '--address',
      '--vus',
      '--duration',
      '--iterations',
      '--summary-trend-stats',
    ].includes(arg)
  ) {
    flags[arg.slice(2)] = rest[++i];
  } else if (arg.startsWith('-')) {
    flags[arg.replace(/^-+/, '')] = true;
  } else {
    positional.push(arg);
  }
}
const script = positional.at(-1) ?? '';
const scenario = process.env.FAKE_K6_SCENARIO ?? basename(script).replace(/\.js$/, '');

function writeSummaries(kind) {
  // Only some runs were recorded in both shapes (checks-failed has its handleSummary data only).
  if (flags['summary-export'] && existsSync(join(fixtures, `summary-export-${kind}.json`)))
    writeFileSync(flags['summary-export'], compact(`summary-export-${kind}.json`));
  if (flags.env.VIGIL_SUMMARY_PATH && process.env.FAKE_K6_NO_HANDLE_SUMMARY !== '1')
    writeFileSync(flags.env.VIGIL_SUMMARY_PATH, compact(`handle-summary-${kind}.json`));
}

function serveRestApi() {
  if (!flags.address) return Promise.resolve(undefined);
  const [host, port] = flags.address.split(':');
  const server = createServer((req, res) => {
    if (req.url === '/v1/status') {
      res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8' });
      res.end(compact('rest-status.json'));
    } else if (req.url === '/v1/metrics') {
      // The real k6 labels this JSON body text/plain.
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(compact('rest-metrics.json'));
    } else {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) => server.listen(Number(port), host, () => resolve(server)));
}

/** The REST API server while a long scenario runs (closed on exit). */
let restApi;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const exit = (code, server) => {
  server?.close();
  process.exit(code);
};

const scenarios = {
  async pass() {
    const server = await serveRestApi();
    await sleep(runMs);
    writeSummaries('pass');
    exit(0, server);
  },
  async 'thresholds-failed'() {
    const server = await serveRestApi();
    await sleep(runMs);
    writeSummaries('fail');
    process.stderr.write(fixture('stderr/thresholds-failed.txt'));
    exit(99, server);
  },
  // Exit 0 with thresholds that the summary says were crossed (should never be trusted as a pass).
  async 'lying-pass'() {
    writeSummaries('fail');
    exit(0);
  },
  // checks-fail-exit0.js: 10 of 50 checks failed, no threshold on checks, so k6 exits 0.
  async 'checks-failed'() {
    writeSummaries('checks-failed');
    exit(0);
  },
  async 'no-summary'() {
    exit(0);
  },
  async 'script-error'() {
    process.stderr.write(fixture('stderr/script-error.txt'));
    exit(107);
  },
  async 'invalid-config'() {
    // Synthetic: 104 was not exercised with the real k6.
    process.stderr.write('time="2026-11-27T07:12:00Z" level=error msg="invalid duration \\"abc\\""\n');
    exit(104);
  },
  async 'script-abort'() {
    writeSummaries('fail');
    process.stderr.write(fixture('stderr/script-abort.txt'));
    exit(108);
  },
  async 'port-busy'() {
    process.stderr.write(
      'time="2026-11-27T07:12:00Z" level=error msg="listen tcp: address already in use"\n',
    );
    exit(106);
  },
  // Runs until SIGINT (see onInterrupt), then stops gracefully like k6: summary written, exit 105.
  async 'external-abort'() {
    restApi = await serveRestApi();
    await sleep(SAFETY_MS);
    exit(3, restApi);
  },
  // Ignores SIGINT (a wedged teardown); only SIGKILL ends it.
  async hang() {
    restApi = await serveRestApi();
    await sleep(SAFETY_MS);
    exit(3, restApi);
  },
  // Killed from outside (e.g. the OOM killer) in the middle of the run.
  async killed() {
    await sleep(runMs);
    process.kill(process.pid, 'SIGKILL');
  },
};

// SIGINT handlers are installed before the invocation is recorded: tests send SIGINT once the
// record exists, and a Node process without a handler would die of the signal instead.
const onInterrupt = {
  'external-abort': () => {
    writeSummaries('pass');
    process.stderr.write(fixture('stderr/external-abort.txt'));
    exit(105, restApi);
  },
  hang: () => process.stderr.write(fixture('stderr/hang.txt')),
};
if (onInterrupt[scenario]) process.on('SIGINT', onInterrupt[scenario]);

if (process.env.FAKE_K6_RECORD) {
  writeFileSync(
    process.env.FAKE_K6_RECORD,
    JSON.stringify({ argv: process.argv.slice(2), flags, script, cwd: process.cwd(), env: process.env }),
  );
}

/**
 * The first file of the script's import tree that k6 v0.49 cannot parse, with acorn's message: at
 * ecmaVersion 2017 acorn stops at the same line and column as k6's Babel (`Unexpected token (2:17)`).
 */
function unparsable(entry) {
  const seen = new Set();
  const queue = [resolve(entry)];
  while (queue.length > 0) {
    const file = queue.shift();
    if (seen.has(file)) continue;
    seen.add(file);
    let program;
    try {
      program = parse(readFileSync(file, 'utf8'), { ecmaVersion: 2017, sourceType: 'module' });
    } catch (error) {
      if (error instanceof SyntaxError) return { file, message: error.message };
      // k6 reports a missing module at init as well (exit 107).
      return { file, message: `no such file or directory: ${file}`, kind: 'GoError' };
    }
    for (const node of program.body) {
      const specifier = node.source?.value;
      if (typeof specifier === 'string' && /^\.\.?\//.test(specifier))
        queue.push(resolve(dirname(file), specifier));
    }
  }
  return undefined;
}

const broken = script ? unparsable(script) : undefined;
if (broken) {
  // k6 logs one logfmt line; the message embeds the code frame and the Babel stack as \n escapes.
  const what = broken.kind ?? 'SyntaxError';
  process.stderr.write(
    `time="2026-11-29T22:12:56Z" level=error msg="${what}: ${pathToFileURL(broken.file).href}: ${broken.message}\\n\\tat <internal/k6/compiler/lib/babel.min.js>:7:10099(24)\\n" hint="script exception"\n`,
  );
  process.exit(107);
}

const play = scenarios[scenario];
if (!play) {
  process.stderr.write(`fake k6: unknown scenario "${scenario}"\n`);
  process.exit(255);
}
await play();
