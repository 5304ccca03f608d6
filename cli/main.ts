/**
 * The jitc command line. Every command validates its input up front; bad input of any kind is
 * one line on stderr naming what is wrong and where, and exit code 2.
 *
 * Each command's module is imported when that command runs, not before: they reach the adapters'
 * client libraries, the report writers and vitest, and loading all of them cost most of a second
 * at every start, `jitc --help` included.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { TARGET_MODES } from '../adapters/contract.ts';
import { DEFAULT_CONCURRENCY, DEFAULT_LAST, DEFAULT_OUT, DEFAULT_POLICY, MAX_CONCURRENCY } from './defaults.ts';
import type { DiscoverFlags } from './discover.ts';
import type { RunFlags } from './run.ts';
import { signKeyOption } from './sign-key.ts';
import type { VerifyFlags } from './verify.ts';
import { InputError, errorText } from '../scenarios/input.ts';

function positiveInt(flag: string, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    const range = max === Number.MAX_SAFE_INTEGER ? 'of at least 1' : `from 1 to ${max}`;
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1 || n > max) throw new InvalidArgumentError(`${flag} needs a whole number ${range}, got "${value}"`);
    return n;
  };
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), ...value.split(',').filter(Boolean)];

function program(setExit: (code: number) => void): Command {
  const cli = new Command('jitc')
    .description('Proves that just-in-time privilege really vanishes: granted, used, ended, not reusable, nothing left behind.')
    .exitOverride()
    .showHelpAfterError(false)
    .configureOutput({ writeErr: () => undefined });

  const targetOption = new Option('--target <mode>', 'how to reach the targets').choices(TARGET_MODES as unknown as string[]);

  cli
    .command('run')
    .description('run suites of scenarios against their targets and write the reports')
    .option('--suite <name...>', 'suites to run: a suite is the scenarios of its point of use; a broker\'s name selects the scenarios it grants (repeatable or comma-separated; default: all)', collect)
    .option('--scenario <id...>', 'only these scenario ids, built-in or from --scenario-file', collect)
    .option('--scenario-file <file...>', "run these scenario files (same format as scenarios/builtin); on their own, without --suite or --scenario, only they run, in the suites of their points of use", collect)
    .addOption(targetOption)
    .option('--config <file>', 'config file (YAML): target settings, defaults')
    .option('--out <dir>', `output directory (default: ${DEFAULT_OUT})`)
    .option('--concurrency <n>', `scenarios run at once per suite (default ${DEFAULT_CONCURRENCY}, at most ${MAX_CONCURRENCY})`, positiveInt('--concurrency', MAX_CONCURRENCY))
    .option('--waivers <file>', 'waiver file (default for local targets: waivers/local.yaml)')
    .option('--no-waivers', 'apply no waivers')
    .option('--html', 'also build the HTML report (html/index.html)')
    .option('--fail-on <rule...>', 'gate: only failures matching a rule fail the run, e.g. control=OWASP-NHI-03,severity>=high (repeatable: any rule)')
    .option('--shard <i/n>', "run shard i of n (vitest's sharding); combine the outputs with jitc merge")
    .option('--metrics <file>', 'also write OpenMetrics text for a Prometheus textfile collector')
    .option('--every <duration>', 'continuous mode: run again every DURATION (e.g. 1h) until Ctrl-C; break-glass scenarios stay out unless --break-glass')
    .option('--break-glass', 'also run break-glass scenarios where they are left out by default: in continuous mode (--every) and against container or external targets (a one-shot local run includes them; --scenario naming one always runs it)')
    .option('--history <file>', 'record the run in this history file (default: .jitc/history.sqlite, or history.sqlite in the cache directory of an installed jitc)')
    .addOption(signKeyOption())
    .action(async (opts: RunFlags & { every?: string }) => setExit(opts.every ? await (await import('./every.ts')).runEvery(opts.every, opts) : await (await import('./run.ts')).runCommand(opts)));

  cli
    .command('discover')
    .description("read the targets' existing roles (never changing them): write a scenario per role and the static findings")
    .addOption(new Option('--target <mode>', 'how to reach the targets').choices(['local', 'external']))
    .option('--config <file>', 'config file (YAML): target settings, and policy: { maxWindowSeconds, maxWaitSeconds }')
    .option('--suite <name...>', 'only these adapters (repeatable or comma-separated; default: every adapter that can discover)', collect)
    .requiredOption('--out <dir>', 'directory for the scenario files, opt-in/, findings.json and findings.md (new, empty, or written by jitc discover before)')
    .addHelpText(
      'after',
      `
The config's policy: section sets the bounds roles are judged by:
  maxWindowSeconds  longest approval window a role may let a grant live (default ${DEFAULT_POLICY.maxWindowSeconds})
  maxWaitSeconds    longest a generated scenario waits for an expiry; longer ones go to opt-in/ (default ${DEFAULT_POLICY.maxWaitSeconds})
Run what it wrote with: jitc run --scenario-file DIR/*.yaml (opt-in/ on purpose, file by file).
Exit codes: 0 no static finding fails, 1 one fails, 2 bad input.`,
    )
    .action(async (opts: DiscoverFlags) => setExit(await (await import('./discover.ts')).discoverCommand(opts)));

  cli
    .command('merge')
    .description('combine the output directories of sharded runs into one report')
    .argument('<dir...>', 'output directories of `jitc run --shard`')
    .option('--out <dir>', `merged output directory (default: ${DEFAULT_OUT})`)
    .option('--fail-on <rule...>', 'gate policy, as for run')
    .option('--waivers <file>', 'waivers to apply to results not waived where they ran')
    .option('--metrics <file>', 'also write OpenMetrics text')
    .option('--html', 'also build the HTML report')
    .option('--history <file>', 'record the merged run in this history file (default: .jitc/history.sqlite, or history.sqlite in the cache directory of an installed jitc)')
    .addOption(signKeyOption())
    .action(async (dirs: string[], opts) => setExit(await (await import('./merge.ts')).mergeCommand(dirs, opts)));

  cli
    .command('history')
    .description('trends over recorded runs: verdicts and latency per scenario, flaky scenarios, repeated elevations')
    .option('--history <file>', 'history file (default: .jitc/history.sqlite, or history.sqlite in the cache directory of an installed jitc)')
    .option('--config <file>', 'config file whose history: names the history file')
    .option('--last <n>', `only the last N runs (default ${DEFAULT_LAST})`, positiveInt('--last'))
    .option('--json', 'print as JSON')
    .action(async (opts) => setExit(await (await import('./history.ts')).historyCommand(opts)));

  cli
    .command('verify')
    .description('check that a run directory is as it was sealed: event chain, file digests, signature')
    .argument('<dir>', 'output directory of jitc run or jitc merge')
    .option('--key <file>', 'PEM public key: require and check the signature (manifest.sig)')
    .action(async (dir: string, opts: VerifyFlags) => setExit((await import('./verify.ts')).verifyCommand(dir, opts)));

  cli
    .command('list')
    .description('list the scenarios: what each proves, its grant source and point of use, its checks and controls')
    .option('--suite <name...>', 'only these suites', collect)
    .option('--checks', 'list the checks instead: meaning, controls, remediation, the scenarios that produce each (Markdown, or JSON with --json)')
    .option('--broker-schema', "print the JSON Schema of a broker hook's answers (README, 'Testing your own broker')")
    .option('--json', 'print as JSON')
    .action(async (opts) => setExit(await (await import('./list.ts')).listCommand(opts)));

  const targets = cli.command('targets').description('install, start or stop the embedded local targets');
  targets
    .command('install')
    .description('install the local targets (idempotent) into .targets/, or the per-user cache of an installed jitc')
    .action(async () => setExit(await (await import('./targets.ts')).targetsCommand('install', {})));
  targets
    .command('up')
    .description('start the local targets and leave them running')
    .option('--suite <name...>', 'only these suites', collect)
    .action(async (opts) => setExit(await (await import('./targets.ts')).targetsCommand('up', opts)));
  targets
    .command('down')
    .description('stop the local targets started by `targets up`')
    .action(async () => setExit(await (await import('./targets.ts')).targetsCommand('down', {})));

  cli
    .command('report')
    .description('build the HTML report (html/index.html) from a run directory, offline')
    .option('--out <dir>', `run output directory (default: ${DEFAULT_OUT})`)
    .option('--key <file>', 'public key the sealed run must be signed with (checked before rebuilding)')
    .addOption(signKeyOption())
    .action(async (opts) => setExit(await (await import('./report.ts')).reportCommand(opts)));

  cli
    .command('cleanup')
    .description('remove what a killed run left: servers it started, objects it created on the targets')
    .option('--run <id>', 'only this run id (default: every jitc run)')
    .addOption(new Option('--target <mode>', 'also sweep these targets').choices(['external']))
    .option('--config <file>', 'config file for external targets')
    .option('--suite <name...>', 'only these adapters', collect)
    .action(async (opts) => setExit(await (await import('./cleanup.ts')).cleanupCommand(opts)));
  return cli;
}

async function main(argv: string[]): Promise<number> {
  let code = 0;
  const cli = program((c) => (code = c));
  try {
    if (argv.length === 0) {
      process.stdout.write(cli.helpInformation());
      return 2;
    }
    await cli.parseAsync(argv, { from: 'user' });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return 0;
      // Commander puts its "Did you mean" on a line of its own; the contract is one line per refusal.
      const message = error.message.replace(/^error: /, '').replace(/\s*\n\s*\((Did you mean [^)]*)\)/, (_, hint: string) => ` (${hint.replace(/^D/, 'd')})`);
      process.stderr.write(`jitc: ${message.trim()}\n`);
      return 2;
    }
    const prefix = error instanceof InputError ? '' : 'error: ';
    process.stderr.write(`jitc: ${prefix}${errorText(error)}\n`);
    return 2;
  }
}

// Exit explicitly: client libraries keep sockets and timers alive that must not hold the CLI open.
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  () => process.exit(2),
);
