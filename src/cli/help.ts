import { WATCH_STATUSES } from '../watch/types.js';

/*
 * What `vigil <command> --help` prints: each command's own usage, flags with their defaults, and exit
 * codes (DESIGN §2). Kept beside each other so they read alike; the dispatcher prints them.
 */

const SERVER_FLAG = `  --server URL          daemon address; default: $VIGIL_SERVER, else server.listen of the config
                        file, else http://127.0.0.1:9469. The token comes from $VIGIL_API_TOKEN
                        (else server.apiToken of the config file)`;
const ENV_FILE = `  --env-file FILE       variables to read first (default: .env beside the config file, when present);
                        never overrides a variable already set`;
const CONFIG_DAEMON = `  -c, --config FILE     config file to read server.listen from (default ./vigil.yaml, when present)
${ENV_FILE}`;
const CONFIG = `  -c, --config FILE     config file (default ./vigil.yaml)
${ENV_FILE}`;
const SERVICE = `  --service S           the service (required when the config watches several; default: its only one)`;

/**
 * The help text of every command, by the words that name it (the keys of COMMANDS).
 *
 * @example process.stderr.write(COMMAND_HELP.wait)
 */
export const COMMAND_HELP = {
  serve: `usage: vigil serve [-c FILE]

Runs the daemon: probes, SLO evaluation, watches, the HTTP API and /metrics. Stops cleanly on SIGTERM or
SIGINT (a second signal exits at once); SIGHUP reloads the config, keeping the old one when the new one
is invalid.

${CONFIG}

Environment: LOG_LEVEL (debug|info|warn|error, default info), LOG_FORMAT (json|pretty, default json).

exit: 0 after a clean shutdown; 1 startup error (bad config, port taken) with a one-line reason;
      2 usage error
`,
  validate: `usage: vigil validate [-c FILE] [--online [--service S]] [--json]

Loads and checks the config, its probe and SLO files, load profiles (scripts must parse as ES2017 for
k6 before v0.52) and the syntax of every PromQL/LogQL query; every service of a fleet, with a summary
per service.

${CONFIG}
  --online              also run every check's queries once against the configured sources and say, per
                        check, returns data / no series now / error
  --service S           the service whose queries --online runs (required when the config watches
                        several; default: its only one)
  --json                print {"valid","problems","checks"} on stdout

exit: 0 valid; 1 invalid (or an online error), printing every problem as <file>:<path>: <message>;
      2 usage error (or --online on a fleet without a known --service)
`,
  probe: `usage: vigil probe [-c FILE] [--service S] [--probe NAME]... [--json]

Runs the named probes (default: all) of one service once, now, and prints a table of results on stderr.

${CONFIG}
${SERVICE}
  --probe NAME          a probe to run; repeat for several (default: every probe)
  --json                print {"results":[...]} on stdout

exit: 0 all passed; 1 any failed; 2 config error, unknown probe or service, nothing to run, or usage
      error
`,
  'watch start': `usage: vigil watch start --service S --version V [--previous-version P] [--duration D]
                         [--server URL] [-c FILE] [--json]

Asks the running daemon to start watching a deploy; prints the watch id on stdout.

  --service S           the service deployed (required)
  --version V           the version deployed (required)
  --previous-version P  the version it replaces (default: the last one that passed or was promoted)
  --duration D          how long to watch, e.g. 2h (default: watch.duration of the daemon's config)
  --json                print the watch object on stdout instead of the id
${SERVER_FLAG}
${CONFIG_DAEMON}

exit: 0 started; 1 refused (the daemon's reason is printed); 2 usage error; 4 cannot reach the daemon
`,
  'watch list': `usage: vigil watch list [--service S] [--status S] [--server URL] [-c FILE] [--json]

The daemon's watches, newest first, as a table on stderr.

  --service S           only this service's watches
  --status S            only watches in this status: running|held|passed|failed|inconclusive|aborted
  --json                print {"watches":[...]} on stdout
${SERVER_FLAG}
${CONFIG_DAEMON}

exit: 0 listed; 1 refused; 4 cannot reach the daemon; 64 usage error
`,
  'watch show': `usage: vigil watch show ID [--server URL] [-c FILE] [--json]

One watch: its checks with their values, phases and timeline; a held watch says how to decide it.

  --json                print the watch object on stdout
${SERVER_FLAG}
${CONFIG_DAEMON}

exit: 0 shown; 1 refused (e.g. no such watch); 4 cannot reach the daemon; 64 usage error
`,
  'watch promote': `usage: vigil watch promote ID --reason TEXT [--who NAME] [--server URL] [-c FILE] [--json]

Passes a running or held watch now (the answer to a held watch that is fine).

  --reason TEXT         why, for the timeline (required)
  --who NAME            who decided (default: $USER)
  --json                print the watch object on stdout
${SERVER_FLAG}
${CONFIG_DAEMON}

exit: 0 done; 1 refused (e.g. the watch already ended); 4 cannot reach the daemon; 64 usage error
`,
  'watch rollback': `usage: vigil watch rollback ID --reason TEXT [--who NAME] [--server URL] [-c FILE] [--json]

Ends a running or held watch as failed and fires its rollback, once per watch.

  --reason TEXT         why, for the timeline and the rollback webhook (required)
  --who NAME            who decided (default: $USER)
  --json                print the watch object on stdout
${SERVER_FLAG}
${CONFIG_DAEMON}

exit: 0 done; 1 refused (e.g. already rolled back: the first rollback is named); 4 cannot reach the
      daemon; 64 usage error
`,
  'watch abort': `usage: vigil watch abort ID --reason TEXT [--who NAME] [--server URL] [-c FILE] [--json]

Stops a running watch without a verdict (no rollback).

  --reason TEXT         why, for the timeline (required)
  --who NAME            who decided (default: $USER)
  --json                print the watch object on stdout
${SERVER_FLAG}
${CONFIG_DAEMON}

exit: 0 done; 1 refused; 4 cannot reach the daemon; 64 usage error
`,
  wait: `usage: vigil wait ID [--until smoke|load|complete] [--timeout D] [--server URL] [-c FILE] [--json]

Follows a watch until it finished the --until phase or ended (a failure ends it at once). On a terminal
a status line is rewritten in place; otherwise a line is printed on every change and at least every 30 s
(elapsed, phase, checks failing and inconclusive, with their values and units). Ctrl-C stops following;
the watch keeps running in the daemon.

  --until PHASE         smoke, load or complete (default complete)
  --timeout D           give up after D, e.g. 30m (default: no limit)
  --json                print the verdict object on stdout at the end
${SERVER_FLAG}
${CONFIG_DAEMON}

exit: 0 pass or warn (smoke/load: the phase finished and nothing failed); 1 fail; 2 inconclusive or
      aborted; 3 timeout; 4 cannot reach the daemon; 5 held for an operator's decision
      (vigil watch promote|rollback ID); 64 usage error; 130 interrupted (Ctrl-C)
`,
  evaluate: `usage: vigil evaluate [-c FILE] [--service S] [--since TIME] [--at TIME] [--slo NAME]... [--json]

Evaluates one service's SLO checks once at --at for a deploy at --since, by a watch's rules: for CI gates
and for replaying history to tune thresholds. TIME is RFC 3339 with a zone, or Unix seconds.

${CONFIG}
${SERVICE}
  --since TIME          the deploy (default: --at minus watch.window)
  --at TIME             when to evaluate (default: now)
  --slo NAME            an SLO check to evaluate; repeat for several (default: all)
  --json                print {"evaluatedAt","deployedAt","checks":[...]} on stdout

exit: 0 all pass or warn; 1 any fail; 2 none fail but some inconclusive; 3 nothing could be evaluated
      (usage error, invalid config, unknown --slo or --service)
`,
  'logs diff': `usage: vigil logs diff [-c FILE] [--service S] [--since TIME] [--at TIME] [--check NAME]...
                     [--json]

Classifies the log signatures of one service's patterns checks for a deploy at --since, as a watch would
at --at: known (in the baseline before the deploy), new, changed (significantly more frequent), with
counts, first seen and example lines. Operators' feedback in the daemon's store applies. TIME is RFC 3339
with a zone, or Unix seconds.

${CONFIG}
${SERVICE}
  --since TIME          the deploy (default: --at minus watch.window)
  --at TIME             when to judge (default: now)
  --check NAME          a patterns check; repeat for several (default: all)
  --json                print {"evaluatedAt","deployedAt","window","checks":[...]} on stdout, each check
                        with its signatures (new, changed, known, alwaysFail)

exit: 0 nothing new; 1 a check would fail; 2 inconclusive; 3 bad arguments (or --service) or config
`,
  demo: `usage: vigil demo [--without-prometheus] [--json]

Runs the whole story on loopback with no external service: a demo service, a webhook sink and the
daemon; a good deploy passes, a bad one fails with its reasons and the signed rollback webhook arrives.
Uses Prometheus when it is on PATH and k6 for a load phase when k6 is on PATH. About a minute.

  --without-prometheus  judge SLOs from Vigil's own probe results even when prometheus is on PATH
  --json                print the outcome (both watch objects) on stdout

exit: 0 the demo behaved as described; 1 it did not (the problems are listed); 2 usage error
`,
  schema: `usage: vigil schema

Prints the JSON Schema of the config file (probe and SLO files under $defs) on stdout.

exit: 0; 2 usage error
`,
} as const;

/** What `vigil watch`, `vigil watch --help` and every `vigil watch …` usage error print. */
export const WATCH_USAGE = `usage: vigil watch <subcommand> [options]

  start --service S --version V [--previous-version P] [--duration D] [--json]
                          ask the daemon to start watching a deploy; prints its id
  list [--service S] [--status S] [--json]
                          the watches, newest first (status: ${WATCH_STATUSES.join('|')})
  show ID [--json]        one watch with its phases, checks and timeline
  promote ID --reason TEXT [--who NAME] [--json]
                          pass a running or held watch now
  rollback ID --reason TEXT [--who NAME] [--json]
                          end a watch as failed and fire its rollback (once per watch)
  abort ID --reason TEXT [--who NAME] [--json]
                          stop a running watch without a verdict

  --server URL            daemon address (default $VIGIL_SERVER, else server.listen of the config,
                          else http://127.0.0.1:9469); the token comes from $VIGIL_API_TOKEN
  -c, --config FILE       config to read server.listen from (default ./vigil.yaml, when present)
  --who NAME              who decided, for the timeline (default: $USER)

exit: 0 done; 1 refused (the daemon's reason is printed); 4 cannot reach the daemon; 64 usage error
      (watch start: 2 for a usage error)
\`vigil watch <subcommand> --help\` shows one subcommand's flags and exit codes.
`;
