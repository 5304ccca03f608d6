/**
 * Benchmark: how long jitc takes to start, and how long each local target takes from start to
 * ready. Run with `npm run bench` (or `npm run bench:start`); prints figures, asserts nothing.
 *
 *   CLI start   the median wall time of BENCH_CLI_REPEAT (default 10) starts of each command, as the
 *               user types it (bin/jitc: the shim's staleness check included) and as the shim execs
 *               it (node dist/cli/main.js). The compiled CLI is brought up to date first, untimed.
 *   cold start  each local target started through the project's own bring-up (what `jitc run` does)
 *               until it answers, then stopped by its pid; the median of BENCH_TARGET_REPEAT (default
 *               1) starts. BENCH_TARGETS=vault,ldap limits which. Installing the targets is not timed.
 *
 * The machine's load average is printed with the figures: on a shared machine they are upper bounds.
 */
import { spawnSync } from 'node:child_process';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import type { Adapter } from '../../adapters/contract.ts';
import { bringUp, ensureInstalled } from '../../adapters/bring-up.ts';
import { getAdapter } from '../../adapters/registry.ts';
import { PROJECT_ROOT } from '../../scenarios/input.ts';

const CLI_REPEAT = Number(process.env.BENCH_CLI_REPEAT ?? 10);
const TARGET_REPEAT = Number(process.env.BENCH_TARGET_REPEAT ?? 1);
/** The local targets, by adapter, in the words the README uses. */
const TARGETS: [adapter: string, server: string][] = [
  ['vault', 'OpenBao'],
  ['ldap', 'OpenLDAP slapd'],
  ['aws', 'moto'],
  ['postgres', 'PostgreSQL'],
  ['ssh', 'OpenSSH sshd'],
  ['idp', 'Keycloak'],
];
const COMMANDS = [['list'], ['list', '--checks'], ['--help'], ['run', '--help']];

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const load = (): string => loadavg().map((l) => l.toFixed(1)).join(' ');

function timed(command: string, args: string[]): number {
  const t0 = performance.now();
  const r = spawnSync(command, args, { cwd: PROJECT_ROOT, encoding: 'utf8' });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

function cliStart(): void {
  const shim = join(PROJECT_ROOT, 'bin', 'jitc');
  const main = join(PROJECT_ROOT, 'dist', 'cli', 'main.js');
  timed(shim, ['--help']);
  console.log(`CLI start: median of ${CLI_REPEAT} starts (load average before: ${load()})`);
  console.log(`  ${'command'.padEnd(20)} ${'bin/jitc'.padStart(9)} ${'node dist'.padStart(10)}`);
  for (const args of COMMANDS) {
    const viaShim: number[] = [];
    const direct: number[] = [];
    // Interleaved, so a burst of load on the machine falls on both alike.
    for (let i = 0; i < CLI_REPEAT; i++) {
      viaShim.push(timed(shim, args));
      direct.push(timed(process.execPath, [main, ...args]));
    }
    console.log(`  ${`jitc ${args.join(' ')}`.padEnd(20)} ${`${(median(viaShim) / 1000).toFixed(2)} s`.padStart(9)} ${`${(median(direct) / 1000).toFixed(2)} s`.padStart(10)}`);
  }
}

async function coldStart(adapter: Adapter): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < TARGET_REPEAT; i++) {
    const lines: string[] = [];
    const t0 = performance.now();
    const [target] = await bringUp([adapter], { runId: `benchstart${i}`, projectRoot: PROJECT_ROOT, mode: 'local', config: {}, log: (line) => lines.push(line) });
    times.push(performance.now() - t0);
    await target!.stop();
    // A target `jitc targets up` left running is reused, not started: that is no cold start.
    if (lines.some((l) => l.includes('left up by'))) throw new Error(`${adapter.name}: a target left up by \`jitc targets up\` answered; stop it (jitc targets down) to measure a cold start`);
  }
  return median(times);
}

async function coldStarts(): Promise<void> {
  const only = process.env.BENCH_TARGETS?.split(',').filter(Boolean);
  const chosen = TARGETS.filter(([name]) => !only || only.includes(name));
  const adapters = await Promise.all(chosen.map(([name]) => getAdapter(name)));
  await ensureInstalled(adapters, PROJECT_ROOT, (line) => console.log(`  ${line}`));
  console.log(`Cold start per local target: start to ready through the project's bring-up, one at a time, median of ${TARGET_REPEAT}`);
  for (const [i, [name, server]] of chosen.entries()) {
    const before = load();
    try {
      const ms = await coldStart(adapters[i]!);
      console.log(`  ${`${server} (${name})`.padEnd(26)} ${`${(ms / 1000).toFixed(2)} s`.padStart(8)}   (load average before: ${before})`);
    } catch (error) {
      console.log(`  ${`${server} (${name})`.padEnd(26)} not measured: ${(error as Error).message}`);
    }
  }
}

console.log(`Machine: ${availableParallelism()} cores (${cpus()[0]?.model.trim() ?? 'unknown CPU'}), Node ${process.version}`);
cliStart();
await coldStarts();
