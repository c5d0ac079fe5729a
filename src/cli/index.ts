import { COMMAND_HELP } from './help.js';
import type { CliContext, Command } from './types.js';

/** Loads a command module lazily so `vigil validate` does not pay for the daemon's imports. */
type CommandLoader = () => Promise<Command>;

/**
 * Every command of DESIGN §2, by the words that name it. Lazy imports keep one-shot commands fast.
 */
export const COMMANDS = {
  serve: async () => (await import('./serve.js')).serve,
  validate: async () => (await import('./validate.js')).validate,
  probe: async () => (await import('./probe.js')).probe,
  'watch start': async () => (await import('./watch.js')).watchStart,
  'watch list': async () => (await import('./watch.js')).watchList,
  'watch show': async () => (await import('./watch.js')).watchShow,
  'watch promote': async () => (await import('./watch.js')).watchPromote,
  'watch rollback': async () => (await import('./watch.js')).watchRollback,
  'watch abort': async () => (await import('./watch.js')).watchAbort,
  wait: async () => (await import('./wait.js')).wait,
  evaluate: async () => (await import('./evaluate.js')).evaluate,
  'logs diff': async () => (await import('./logs.js')).logsDiff,
  demo: async () => (await import('./demo.js')).demo,
  schema: async () => (await import('./schema.js')).schema,
} satisfies Record<string, CommandLoader>;

/** Every command's own `--help` text; the type makes a command without one a compile error. */
const HELP: Record<keyof typeof COMMANDS, string> = COMMAND_HELP;

export const USAGE = `Usage: vigil <command> [options]

Commands:
  serve                         run the daemon
  validate [--online] [--json]  check the config, probes, SLOs, load profiles and every query
  probe [--service S] [--probe NAME]... [--json]
                                run probes once, now
  watch start --service S --version V [--previous-version P] [--duration D] [--json]
                                ask the daemon to start watching a deploy
  watch list [--service S] [--status S] [--json]
                                the watches, newest first
  watch show ID [--json]        one watch with its checks, phases and timeline
  watch promote|rollback|abort ID --reason TEXT [--who NAME]
                                an operator's decision on a watch (the answer to a held one)
  wait ID [--until smoke|load|complete] [--timeout D] [--json]
                                follow a watch until its verdict (exit 5: held for a decision)
  evaluate [--service S] [--since TIME] [--at TIME] [--slo NAME]... [--json]
                                evaluate SLO checks once (CI gates, replaying history)
  logs diff [--service S] [--since TIME] [--at TIME] [--check NAME]... [--json]
                                classify the log signatures of the patterns checks for a deploy
  demo                          run the whole story on loopback with no external service
  schema                        print the JSON Schema of the config file

Common options:
  -c, --config FILE             config file (default ./vigil.yaml)
  --env-file FILE               variables to read first (default: .env beside the config; never overrides)
  --server URL                  daemon address for watch/wait (default $VIGIL_SERVER or http://127.0.0.1:9469)
  --service S                   probe, evaluate, logs diff, validate --online: the service of a fleet
                                (required when the config has several; defaults to the only one)
  -h, --help                    this text; \`vigil <command> --help\` for a command's flags and exit codes
`;

/** `vigil watch` with no subcommand, an unknown one, or `--help`: the watch family's own usage. */
async function watchFamilyUsage(
  second: string | undefined,
  ctx: Omit<CliContext, 'argv'>,
): Promise<number | undefined> {
  const help = second === '-h' || second === '--help' || second === 'help';
  if (second !== undefined && !help && `watch ${second}` in COMMANDS) return undefined;
  const { WATCH_EXIT, WATCH_USAGE } = await import('./watch.js');
  if (help) {
    ctx.stderr.write(WATCH_USAGE);
    return 0;
  }
  const problem =
    second === undefined || second.startsWith('-')
      ? 'a subcommand is required'
      : `unknown command "watch ${second}"`;
  ctx.stderr.write(`vigil: ${problem}\n\n${WATCH_USAGE}`);
  return WATCH_EXIT.usage;
}

/**
 * Finds the command named by the first argument(s) and runs it; unknown commands print usage and return 2
 * (64 within `vigil watch`, whose subcommands use 64 for usage errors). `--help` (or `-h`) after a
 * command prints that command's own help (flags, defaults, exit codes) and returns 0, as does
 * `vigil help <command>`; `vigil watch --help` prints the watch family's usage.
 *
 * @example await runCli(['validate', '-c', 'vigil.yaml'], ctx) // 0 when valid
 */
export async function runCli(args: string[], ctx: Omit<CliContext, 'argv'>): Promise<number> {
  const [first, second] = args;
  if (first === 'help' && second !== undefined) return runCli([...args.slice(1), '--help'], ctx);
  if (first === undefined || first === '-h' || first === '--help' || first === 'help') {
    ctx.stderr.write(USAGE);
    return first === undefined ? 2 : 0;
  }
  if (first === '--version' || first === 'version') {
    const { VERSION } = await import('../version.js');
    ctx.stdout.write(`${VERSION}\n`);
    return 0;
  }
  if (first === 'watch') {
    const code = await watchFamilyUsage(second, ctx);
    if (code !== undefined) return code;
  }
  const twoWords = `${first} ${second ?? ''}`;
  let key: keyof typeof COMMANDS | undefined;
  let rest: string[];
  if (twoWords in COMMANDS) {
    key = twoWords as keyof typeof COMMANDS;
    rest = args.slice(2);
  } else if (first in COMMANDS && first !== 'watch') {
    key = first as keyof typeof COMMANDS;
    rest = args.slice(1);
  } else {
    ctx.stderr.write(`vigil: unknown command "${first}"\n\n${USAGE}`);
    return 2;
  }
  if (rest.includes('-h') || rest.includes('--help')) {
    ctx.stderr.write(HELP[key]);
    return 0;
  }
  const command = await COMMANDS[key]();
  return command({ ...ctx, argv: rest });
}
