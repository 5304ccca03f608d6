/**
 * Benchmark: how long jitc takes to start, and how long each local target takes from start to
 * ready. Run with `npm run bench` (or `npm run bench:start`); prints figures, asserts nothing.
 *
 *   CLI start   the median wall time of BENCH_CLI_REPEAT (default 10) starts of each command, as the
 *               user types it (bin/jitc: the shim's staleness check included) and as the shim execs
 *               it (node dist/cli/main.js). The compiled CLI is brought up to date first, untimed.
 *               Beside the wall time, the CPU time the start used (its processes' user + system
 *               time, from /proc): on a machine shared with other work the wall time grows with the
 *               load, the CPU time hardly, and on an idle machine the two are close.
 *   cold start  each local target started through the project's own bring-up (what `jitc run` does)
 *               until it answers, then stopped by its pid; the median of BENCH_TARGET_REPEAT (default
 *               1) starts. BENCH_TARGETS=vault,ldap limits which. Installing the targets is not timed.
 *
 * The machine's load average is printed with the figures: on a shared machine they are upper bounds.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
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

/** CPU time of this process's waited-for children so far (cutime + cstime), in ms; undefined off Linux. */
function childrenCpuMs(): number | undefined {
  if (!existsSync('/proc/self/stat')) return undefined;
  // The command name (field 2) may hold spaces: count fields from after its closing parenthesis.
  const fields = readFileSync('/proc/self/stat', 'utf8').replace(/^.*\) /s, '').split(' ');
  const ticksPerSecond = 100; // USER_HZ, 100 on every Linux architecture Node runs on
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / ticksPerSecond;
}

interface Start {
  wallMs: number;
  cpuMs?: number;
}

function timed(command: string, args: string[]): Start {
  const cpu0 = childrenCpuMs();
  const t0 = performance.now();
  const r = spawnSync(command, args, { cwd: PROJECT_ROOT, encoding: 'utf8' });
  const wallMs = performance.now() - t0;
  const cpu1 = childrenCpuMs();
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return cpu0 === undefined || cpu1 === undefined ? { wallMs } : { wallMs, cpuMs: cpu1 - cpu0 };
}

const secs = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
function cell(starts: Start[]): string {
  const cpu = starts.flatMap((s) => (s.cpuMs === undefined ? [] : [s.cpuMs]));
  return `${secs(median(starts.map((s) => s.wallMs)))}${cpu.length > 0 ? ` (cpu ${secs(median(cpu))})` : ''}`;
}

function cliStart(): void {
  const shim = join(PROJECT_ROOT, 'bin', 'jitc');
  const main = join(PROJECT_ROOT, 'dist', 'cli', 'main.js');
  timed(shim, ['--help']);
  console.log(`CLI start: median of ${CLI_REPEAT} starts (load average before: ${load()})`);
  console.log(`  ${'command'.padEnd(20)} ${'bin/jitc'.padEnd(22)} node dist/cli/main.js`);
  for (const args of COMMANDS) {
    const viaShim: Start[] = [];
    const direct: Start[] = [];
    // Interleaved, so a burst of load on the machine falls on both alike.
    for (let i = 0; i < CLI_REPEAT; i++) {
      viaShim.push(timed(shim, args));
      direct.push(timed(process.execPath, [main, ...args]));
    }
    console.log(`  ${`jitc ${args.join(' ')}`.padEnd(20)} ${cell(viaShim).padEnd(22)} ${cell(direct)}`);
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
      console.log(`  ${`${server} (${name})`.padEnd(26)} ${secs(ms).padStart(8)}   (load average before: ${before})`);
    } catch (error) {
      console.log(`  ${`${server} (${name})`.padEnd(26)} not measured: ${(error as Error).message}`);
    }
  }
}

console.log(`Machine: ${availableParallelism()} cores (${cpus()[0]?.model.trim() ?? 'unknown CPU'}), Node ${process.version}`);
cliStart();
await coldStarts();
